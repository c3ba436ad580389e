"""A statistics query from request parameters: defaults, validation, the cap on buckets.

Pure. Without ``from`` and ``to`` the range is the 28 days up to now; with only one of them, the other is 28 days
away from it (refused where that leaves the calendar). No range starts before `EARLIEST`. The buckets are calendar days or ISO weeks (Monday first) in ``tz``, at most `MAX_BUCKETS` of them:
a year of days, or eight years of weeks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final, get_args
from zoneinfo import ZoneInfo

from customers.zones import ZONE_RULE, load_zone
from plumbing.errors import FieldError
from research.stats.model import BucketSize, Dimension, StatsQuery, StatsQueryInvalid

DEFAULT_RANGE: Final = timedelta(days=28)
MAX_BUCKETS: Final = 400
EARLIEST: Final = datetime(1900, 1, 1, tzinfo=UTC)
"""No range starts before this: nothing lxt counts is older, and PostgreSQL's buckets of year 1 (weeks start in
1 BC, which Python's dates cannot hold) and its time zone rules for it are no ground for figures."""
BUCKET_SIZES: Final[tuple[str, ...]] = get_args(BucketSize)


def stats_query(
    by: Dimension,
    *,
    start: datetime | None,
    end: datetime | None,
    bucket: str,
    tz: str,
    now: datetime,
    touchpoint: str | None = None,
    trigger: str | None = None,
    questionnaire: str | None = None,
) -> StatsQuery:
    """The query, or `StatsQueryInvalid` naming each bad parameter (``query:bucket``, ``query:tz``,
    ``query:to`` …). `start` and `end` must be aware."""
    errors: list[FieldError] = []
    if bucket not in BUCKET_SIZES:
        errors.append(FieldError("query:bucket", f"must be one of {', '.join(BUCKET_SIZES)}"))
    zone = load_zone(tz)
    if zone is None:
        errors.append(FieldError("query:tz", f"is not a time zone lxt knows: {ZONE_RULE}"))
    try:
        if end is None:
            end = now if start is None else start + DEFAULT_RANGE
    except OverflowError:
        raise StatsQueryInvalid([*errors, _out_of_range("from", "to")]) from None
    try:
        if start is None:
            start = end - DEFAULT_RANGE
    except OverflowError:
        raise StatsQueryInvalid([*errors, _out_of_range("to", "from")]) from None
    if start < EARLIEST:
        errors.append(FieldError("query:from", f"must not be before {EARLIEST:%Y-%m-%d}"))
    elif end <= start:
        errors.append(FieldError("query:to", "must be after `from`"))
    if not errors:
        assert zone is not None
        try:
            count = bucket_count(start, end, bucket, zone)  # type: ignore[arg-type]
        except OverflowError:
            raise StatsQueryInvalid([FieldError("query:from", "is out of range")]) from None
        if count > MAX_BUCKETS:
            errors.append(_too_many(count, bucket))
    if errors:
        raise StatsQueryInvalid(errors)
    return StatsQuery(
        by=by,
        start=start,
        end=end,
        bucket=bucket,  # type: ignore[arg-type]
        tz=tz,
        touchpoint=touchpoint,
        trigger=trigger,
        questionnaire=questionnaire,
    )


def bucket_count(start: datetime, end: datetime, bucket: BucketSize, zone: ZoneInfo) -> int:
    """How many calendar days or ISO weeks of `zone` the range [start, end) touches."""
    first = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    if bucket == "day":
        return (last - first).days + 1
    monday = first - timedelta(days=first.weekday())
    return (last - monday).days // 7 + 1


def _out_of_range(given: str, missing: str) -> FieldError:
    """Without `missing`, the range is 28 days from `given`, which would leave the calendar (years 1 to 9999)."""
    return FieldError(
        f"query:{given}", f"is too close to the end of the calendar for a 28-day range: give `{missing}` too"
    )


def _too_many(count: int, bucket: str) -> FieldError:
    if bucket == "day":
        return FieldError(
            "query:bucket", f"the range spans {count} days, more than {MAX_BUCKETS}: use weeks or a shorter range"
        )
    return FieldError("query:from", f"the range spans {count} weeks, more than {MAX_BUCKETS}: shorten it")
