"""Send windows in local time, across the 2026 DST changes of Europe/Berlin and America/New_York.

Berlin: 2026-03-29 02:00 CET → 03:00 CEST (01:00Z); 2026-10-25 03:00 CEST → 02:00 CET (01:00Z).
New York: 2026-03-08 02:00 EST → 03:00 EDT (07:00Z); 2026-11-01 02:00 EDT → 01:00 EST (06:00Z).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triggers.model import SendWindow
from triggers.window import customer_zone, is_open, local_instant, next_open, openings, place_in_window

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")
DEFAULT = SendWindow()  # every day 08:00–21:00, defer


def z(text: str) -> datetime:
    """A UTC instant from ``2026-03-29 01:00``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def window(**changes: Any) -> SendWindow:
    return SendWindow(**changes)


@pytest.mark.parametrize(
    ("zone", "day", "clock", "expected"),
    [
        # Ordinary times.
        (BERLIN, date(2026, 3, 29), "01:59", "2026-03-29 00:59"),
        (BERLIN, date(2026, 3, 29), "03:00", "2026-03-29 01:00"),
        (BERLIN, date(2026, 7, 1), "08:00", "2026-07-01 06:00"),
        # Spring forward: times in the gap are the instant of the jump.
        (BERLIN, date(2026, 3, 29), "02:00", "2026-03-29 01:00"),
        (BERLIN, date(2026, 3, 29), "02:30", "2026-03-29 01:00"),
        (BERLIN, date(2026, 3, 29), "02:59", "2026-03-29 01:00"),
        (NEW_YORK, date(2026, 3, 8), "02:30", "2026-03-08 07:00"),
        # Fall back: repeated times are their first occurrence (still summer time).
        (BERLIN, date(2026, 10, 25), "02:30", "2026-10-25 00:30"),
        (BERLIN, date(2026, 10, 25), "03:00", "2026-10-25 02:00"),
        (NEW_YORK, date(2026, 11, 1), "01:30", "2026-11-01 05:30"),
        (NEW_YORK, date(2026, 11, 1), "02:00", "2026-11-01 07:00"),
        # 24:00 is the next day's midnight.
        (BERLIN, date(2026, 3, 28), "24:00", "2026-03-28 23:00"),
    ],
)
def test_local_instant(zone: ZoneInfo, day: date, clock: str, expected: str) -> None:
    hours, minutes = map(int, clock.split(":"))
    assert local_instant(day, hours * 60 + minutes, zone) == z(expected)


@pytest.mark.parametrize(
    ("zone", "instant", "expected"),
    [
        # Saturday 22:00 local, the night before the change: the next opening is Sunday 08:00 in the new offset.
        (BERLIN, "2026-03-28 21:00", "2026-03-29 06:00"),  # 08:00 CEST
        (BERLIN, "2026-10-24 20:00", "2026-10-25 07:00"),  # 08:00 CET
        (NEW_YORK, "2026-03-08 03:00", "2026-03-08 12:00"),  # 08:00 EDT
        (NEW_YORK, "2026-11-01 02:00", "2026-11-01 13:00"),  # 08:00 EST
        # Early on the change day itself, inside the hour that is skipped or repeated.
        (BERLIN, "2026-03-29 00:30", "2026-03-29 06:00"),
        (BERLIN, "2026-10-25 01:30", "2026-10-25 07:00"),
        (NEW_YORK, "2026-11-01 06:30", "2026-11-01 13:00"),
    ],
)
def test_defer_to_the_next_opening_across_dst(zone: ZoneInfo, instant: str, expected: str) -> None:
    assert not is_open(z(instant), DEFAULT, zone)
    assert place_in_window(z(instant), DEFAULT, zone) == z(expected)


@pytest.mark.parametrize(
    ("zone", "last_open", "first_closed", "next_opening"),
    [
        # 21:00 local on the change day is 19:00Z in Berlin's spring, 20:00Z in its autumn.
        (BERLIN, "2026-03-29 18:59", "2026-03-29 19:00", "2026-03-30 06:00"),
        (BERLIN, "2026-10-25 19:59", "2026-10-25 20:00", "2026-10-26 07:00"),
        (NEW_YORK, "2026-03-09 00:59", "2026-03-09 01:00", "2026-03-09 12:00"),
        (NEW_YORK, "2026-11-02 01:59", "2026-11-02 02:00", "2026-11-02 13:00"),
    ],
)
def test_window_closes_at_local_end_on_dst_days(
    zone: ZoneInfo, last_open: str, first_closed: str, next_opening: str
) -> None:
    assert is_open(z(last_open), DEFAULT, zone)
    assert not is_open(z(first_closed), DEFAULT, zone)
    assert next_open(z(first_closed), DEFAULT, zone) == z(next_opening)


def test_window_opening_in_the_spring_gap_opens_at_the_jump() -> None:
    w = window(start="02:30", end="06:00")
    assert next_open(z("2026-03-29 00:30"), w, BERLIN) == z("2026-03-29 01:00")  # 03:00 CEST
    assert is_open(z("2026-03-29 01:00"), w, BERLIN)
    assert not is_open(z("2026-03-29 00:59"), w, BERLIN)


def test_window_closing_in_the_spring_gap_closes_at_the_jump() -> None:
    w = window(start="00:00", end="02:30")
    assert is_open(z("2026-03-29 00:59"), w, BERLIN)  # 01:59 CET
    assert not is_open(z("2026-03-29 01:00"), w, BERLIN)  # 03:00 CEST
    assert next_open(z("2026-03-29 01:00"), w, BERLIN) == z("2026-03-29 22:00")  # Monday 00:00 CEST


def test_window_entirely_inside_the_spring_gap_is_empty_that_day() -> None:
    w = window(start="02:00", end="02:30")
    assert [o for o, _ in openings(w, BERLIN, z("2026-03-29 00:00"))][:3] == [
        z("2026-03-28 01:00"),  # Saturday 02:00 CET
        z("2026-03-30 00:00"),  # Monday 02:00 CEST; Sunday has none
        z("2026-03-31 00:00"),
    ]
    assert place_in_window(z("2026-03-29 00:30"), w, BERLIN) == z("2026-03-30 00:00")


def test_window_opening_at_a_repeated_time_opens_at_its_first_occurrence() -> None:
    w = window(start="02:30", end="05:00")
    assert next_open(z("2026-10-25 00:00"), w, BERLIN) == z("2026-10-25 00:30")  # 02:30 CEST
    assert is_open(z("2026-10-25 01:40"), w, BERLIN)  # the second 02:40 (CET) is inside
    assert not is_open(z("2026-10-25 04:00"), w, BERLIN)  # 05:00 CET
    ny = window(start="01:30", end="03:00")
    assert next_open(z("2026-11-01 05:00"), ny, NEW_YORK) == z("2026-11-01 05:30")  # 01:30 EDT
    assert is_open(z("2026-11-01 06:45"), ny, NEW_YORK)  # 01:45 EST, the second time round
    assert not is_open(z("2026-11-01 08:00"), ny, NEW_YORK)  # 03:00 EST


def test_window_closing_at_a_repeated_time_closes_at_its_first_occurrence() -> None:
    w = window(start="20:00", end="02:30")  # crosses midnight
    assert is_open(z("2026-10-25 00:29"), w, BERLIN)  # Sunday 02:29 CEST
    assert not is_open(z("2026-10-25 00:30"), w, BERLIN)  # 02:30 CEST
    assert not is_open(z("2026-10-25 01:15"), w, BERLIN)  # 02:15 CET: the repeated hour stays closed
    assert next_open(z("2026-10-25 01:15"), w, BERLIN) == z("2026-10-25 19:00")  # 20:00 CET


def test_days_of_the_week_are_local_days() -> None:
    office = window(days=["mon", "tue", "wed", "thu", "fri"], start="09:00", end="17:00")
    friday_evening = z("2026-05-08 15:30")  # Friday 17:30 CEST
    assert next_open(friday_evening, office, BERLIN) == z("2026-05-11 07:00")  # Monday 09:00 CEST
    assert next_open(z("2026-05-09 08:00"), office, BERLIN) == z("2026-05-11 07:00")  # Saturday
    assert next_open(z("2026-05-11 06:00"), office, BERLIN) == z("2026-05-11 07:00")  # Monday 08:00
    # Monday 01:00 in Berlin is still Sunday in New York: the customer's zone decides the day.
    sunday_night = window(days=["sun"], start="00:00", end="24:00")
    assert is_open(z("2026-05-11 00:30"), sunday_night, NEW_YORK)
    assert not is_open(z("2026-05-11 00:30"), sunday_night, BERLIN)


def test_window_crossing_midnight_belongs_to_the_day_it_opens() -> None:
    friday_night = window(days=["fri"], start="22:00", end="06:00")
    assert is_open(z("2026-05-08 23:00"), friday_night, UTC_ZONE)  # Friday
    assert is_open(z("2026-05-09 05:59"), friday_night, UTC_ZONE)  # Saturday morning, same window
    assert not is_open(z("2026-05-09 06:00"), friday_night, UTC_ZONE)
    assert next_open(z("2026-05-09 06:00"), friday_night, UTC_ZONE) == z("2026-05-15 22:00")
    assert next_open(z("2026-05-07 23:00"), friday_night, UTC_ZONE) == z("2026-05-08 22:00")  # Thursday


def test_window_crossing_midnight_into_the_spring_change() -> None:
    w = window(days=["sat"], start="22:00", end="06:00")
    assert is_open(z("2026-03-29 03:59"), w, BERLIN)  # Sunday 05:59 CEST
    assert not is_open(z("2026-03-29 04:00"), w, BERLIN)  # 06:00 CEST: the night was an hour shorter


def test_drop_refuses_outside_and_keeps_inside() -> None:
    w = window(start="09:00", end="17:00", outside="drop")
    assert place_in_window(z("2026-05-08 05:00"), w, BERLIN) is None  # 07:00 CEST
    assert place_in_window(z("2026-05-08 10:00"), w, BERLIN) == z("2026-05-08 10:00")


def test_instant_inside_the_window_is_kept_as_is() -> None:
    inside = datetime(2026, 5, 8, 14, 0, 0, 123456, tzinfo=BERLIN)
    planned = place_in_window(inside, DEFAULT, BERLIN)
    assert planned == inside
    assert planned is not None and planned.tzinfo is UTC


@pytest.mark.parametrize(
    ("customer_tz", "default", "expected"),
    [
        ("America/New_York", "Europe/Berlin", "America/New_York"),
        (None, "Europe/Berlin", "Europe/Berlin"),
        ("", "Europe/Berlin", "Europe/Berlin"),
        ("Not/AZone", "Europe/Berlin", "Europe/Berlin"),
        (None, "Not/AZone", "UTC"),
    ],
)
def test_customer_zone_falls_back_to_the_trigger_default(
    customer_tz: str | None, default: str, expected: str
) -> None:
    assert customer_zone(customer_tz, default).key == expected


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_open(datetime(2026, 5, 8, 10), DEFAULT, BERLIN)


ZONES = [BERLIN, NEW_YORK, UTC_ZONE, ZoneInfo("Australia/Lord_Howe")]  # Lord Howe shifts by 30 minutes
DST_DAYS = [datetime(2026, m, d, tzinfo=UTC) for m, d in [(3, 8), (3, 29), (4, 5), (10, 4), (10, 25), (11, 1)]]
instants = st.one_of(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31)).map(
        lambda d: d.replace(microsecond=0, tzinfo=UTC)
    ),
    st.builds(
        lambda day, seconds: day + timedelta(seconds=seconds),
        st.sampled_from(DST_DAYS),
        st.integers(min_value=-86_400, max_value=2 * 86_400),
    ),
)
clocks = st.integers(min_value=0, max_value=47).map(lambda h: f"{h // 2:02d}:{30 * (h % 2):02d}")
windows = st.builds(
    SendWindow,
    days=st.lists(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), min_size=1, unique=True),
    start=clocks,
    end=st.one_of(clocks, st.just("24:00")),
    outside=st.just("defer"),
).filter(lambda w: w.start != w.end)


@settings(max_examples=120, deadline=None)
@given(instant=instants, w=windows, zone=st.sampled_from(ZONES))
def test_next_open_is_the_earliest_open_instant(instant: datetime, w: SendWindow, zone: ZoneInfo) -> None:
    found = next_open(instant, w, zone)
    assert found is not None
    assert found >= instant
    assert is_open(found, w, zone)
    if found > instant:
        span = found - instant
        for k in range(4):
            assert not is_open(instant + span * k / 4, w, zone)
        assert not is_open(found - timedelta(seconds=1), w, zone)


@settings(max_examples=60, deadline=None)
@given(instant=instants, zone=st.sampled_from(ZONES))
def test_window_of_the_whole_day_is_always_open(instant: datetime, zone: ZoneInfo) -> None:
    assert is_open(instant, window(start="00:00", end="24:00"), zone)
