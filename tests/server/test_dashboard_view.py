"""The dashboard's range controls and words (`server.dashboard_view`, `server.dashboard_timeline`), without a
server: whole days in the chosen zone, both ends included, and a message per field that was not understood."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from research.stats.model import Estimate
from server.dashboard_timeline import answer_text
from server.dashboard_view import Cell, estimate, read_controls

NOW = datetime(2026, 3, 29, 23, 30, tzinfo=UTC)
"""Already Monday 30 March in Berlin."""


def test_by_default_the_last_28_days_to_today_in_the_zone() -> None:
    controls = read_controls({"tz": "Europe/Berlin"}, [], NOW)
    assert (controls.from_, controls.to, controls.bucket, controls.errors) == (
        "2026-03-03",
        "2026-03-30",
        "day",
        {},
    )
    berlin = ZoneInfo("Europe/Berlin")
    assert controls.start == datetime(2026, 3, 3, tzinfo=berlin)
    assert controls.end == datetime(2026, 3, 31, tzinfo=berlin)  # the last day included, to its end
    # In UTC: from midnight in winter time to midnight in summer time (the clocks went forward on 29 March).
    assert controls.start.astimezone(UTC) == datetime(2026, 3, 2, 23, tzinfo=UTC)
    assert controls.end.astimezone(UTC) == datetime(2026, 3, 30, 22, tzinfo=UTC)


def test_a_range_of_whole_days() -> None:
    params = {"from": "2026-03-02", "to": "2026-03-29", "bucket": "week", "touchpoint": "store_visit"}
    controls = read_controls(params, ["store_visit"], NOW)
    assert (controls.start, controls.end) == (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 30, tzinfo=UTC))
    assert (controls.bucket, controls.touchpoint, controls.tz) == ("week", "store_visit", "UTC")


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"from": "2 March"}, "from", "Enter a date as YYYY-MM-DD."),
        ({"from": "2026-03-10", "to": "2026-03-09"}, "to", "The last day comes before the first."),
        ({"bucket": "month"}, "bucket", "Choose days or weeks."),
        ({"touchpoint": "elsewhere"}, "touchpoint", "No touchpoint of that key."),
        ({"tz": "Mars/Olympus"}, "tz", "Unknown time zone"),
        ({"tz": "localtime"}, "tz", "Unknown time zone"),
    ],
)
def test_a_value_not_understood_is_said_next_to_its_field(params: dict, field: str, message: str) -> None:
    controls = read_controls(params, ["store_visit"], NOW)
    assert list(controls.errors) == [field]
    assert controls.errors[field].startswith(message)
    assert controls.start is None and controls.end is None


@pytest.mark.parametrize(
    ("params", "field"),
    [({"to": "9999-12-31"}, "to"), ({"to": "0001-01-05"}, "to"), ({"to": "0001-01-05", "tz": "Asia/Tokyo"}, "to")],
)
def test_days_at_the_ends_of_the_calendar_are_said_next_to_their_field(params: dict, field: str) -> None:
    controls = read_controls(params, [], NOW)
    assert list(controls.errors) == [field]
    assert controls.start is None and controls.end is None


def test_a_first_day_given_needs_no_default_before_it() -> None:
    controls = read_controls({"from": "0001-01-01", "to": "0001-01-02"}, [], NOW)
    assert controls.errors == {}
    assert (controls.start, controls.end) == (datetime(1, 1, 1, tzinfo=UTC), datetime(1, 1, 3, tzinfo=UTC))


def test_an_estimate_shows_its_interval_or_says_it_has_none() -> None:
    assert estimate(Estimate(value=25.004, n=32, low=-5.0, high=55.0), 0) == Cell("25", "-5 to 55")
    assert estimate(Estimate(value=86.49, n=37, low=72.0, high=94.1), 1, "%") == Cell("86.5%", "72.0 to 94.1")
    assert estimate(Estimate(value=40.0, n=5, low=None, high=None, no_interval="n < 10"), 0) == Cell("40", None)
    assert estimate(Estimate(value=None, n=0, low=None, high=None), 0) == Cell("—")


@pytest.mark.parametrize(
    ("value", "text"),
    [(9, "9"), (4.0, "4"), (2.5, "2.5"), (True, "Yes"), (False, "No"), (None, "skipped"), (["a", "b"], "a, b"),
     ([], "none chosen"), ("Quick", "Quick")],
)  # fmt: skip
def test_answers_in_words(value: object, text: str) -> None:
    assert answer_text(value) == text  # type: ignore[arg-type]
