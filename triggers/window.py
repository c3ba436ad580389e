"""Send windows in the customer's local time, correct across daylight-saving changes.

A window is a set of intervals of real time: on each listed local date it opens at ``start`` and closes at
``end`` (the next date's ``end`` when it crosses midnight). Each wall-clock time becomes an instant by one
rule — *the first instant at which the local clock reads that time or later*:
- an ordinary time is that instant;
- a time that does not exist (skipped when clocks spring forward, e.g. 02:30 in Berlin on 2026-03-29) is the
  instant of the jump — a window opening at 02:30 opens at 03:00 CEST, and one closing at 02:30 closes then;
- a time that happens twice (clocks fall back, e.g. 02:30 in Berlin on 2026-10-25) is its first occurrence,
  so a window opens and closes once per listed day, never twice.
An interval both ends map into the same gap is empty that day. Zones come from the customer, else the trigger's
``default_time_zone``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from customers.zones import load_zone
from triggers.model import WEEKDAYS, SendWindow, parse_clock

_SEARCH_DAYS: Final = 15
"""Local dates scanned for an opening: two weeks, plus the day before for windows crossing midnight."""


def customer_zone(time_zone: str | None, default_time_zone: str) -> ZoneInfo:
    """The zone a customer's local times are read in: theirs if valid, else the trigger's default (else UTC)."""
    return load_zone(time_zone) or load_zone(default_time_zone) or ZoneInfo("UTC")


def local_instant(day: date, minute_of_day: int, zone: ZoneInfo) -> datetime:
    """The first instant (UTC) at which the clock in `zone` reads `day` at `minute_of_day` or later.

    `minute_of_day` may be 1440 (24:00, the next day's midnight).
    """
    wall = datetime.combine(day, time()) + timedelta(minutes=minute_of_day)
    first = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the first occurrence of an ambiguous time
    if _wall(first, zone) == wall:
        return first
    # `wall` is in a gap. Reading it with either offset brackets the jump; search the second it happens.
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    lo, hi = int(min(first, second).timestamp()), int(max(first, second).timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _wall(datetime.fromtimestamp(mid, UTC), zone) >= wall:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def openings(window: SendWindow, zone: ZoneInfo, around: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The window's non-empty intervals ``[open, close)`` in time order, from the local day before `around`."""
    if around.utcoffset() is None:
        raise ValueError("send windows work on aware datetimes; a naive one would be read in the server's zone")
    start, end = parse_clock(window.start), parse_clock(window.end)
    if start is None or end is None:
        raise ValueError(f"send window has invalid times {window.start!r}–{window.end!r}; validate first")
    days = set(window.days)
    first_day = around.astimezone(zone).date() - timedelta(days=1)
    for offset in range(_SEARCH_DAYS + 1):
        day = first_day + timedelta(days=offset)
        if WEEKDAYS[day.weekday()] not in days:
            continue
        opens = local_instant(day, start, zone)
        closes = local_instant(day + timedelta(days=1) if end < start else day, end, zone)
        if opens < closes:
            yield opens, closes


def next_open(instant: datetime, window: SendWindow, zone: ZoneInfo) -> datetime | None:
    """The earliest instant at or after `instant` that lies inside the window (UTC), None if none is near."""
    for opens, closes in openings(window, zone, instant):
        if closes > instant:
            return max(opens, instant.astimezone(UTC))
    return None


def is_open(instant: datetime, window: SendWindow, zone: ZoneInfo) -> bool:
    """Whether the window is open at `instant`."""
    return next_open(instant, window, zone) == instant


def place_in_window(earliest: datetime, window: SendWindow, zone: ZoneInfo) -> datetime | None:
    """When an invitation due at `earliest` may go out (UTC): then if the window is open, else the next opening
    when the window defers, else None (the window drops it)."""
    if window.start == "00:00" and window.end == "24:00" and len(set(window.days)) == 7:
        return earliest.astimezone(UTC)  # always open: nothing to place
    planned = next_open(earliest, window, zone)
    if planned is None or (planned != earliest and window.outside == "drop"):
        return None
    return planned


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)
