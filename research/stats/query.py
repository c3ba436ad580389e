"""A statistics query from request parameters: defaults, validation, the cap on buckets.

Pure. Without ``from`` and ``to`` the range is the 28 days up to now; with only one of them, the other is 28 days
away from it. The buckets are calendar days or ISO weeks in ``tz``; at most `MAX_BUCKETS` of them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from research.stats.model import BucketSize, Dimension, StatsQuery

DEFAULT_RANGE: Final = timedelta(days=28)
MAX_BUCKETS: Final = 400


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
    ``query:to`` …)."""
    raise NotImplementedError


def bucket_count(start: datetime, end: datetime, bucket: BucketSize, tz: str) -> int:
    """How many calendar days or weeks of `tz` the range [start, end) touches."""
    raise NotImplementedError
