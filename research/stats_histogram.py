"""How long customers took to answer: contact-to-first-answer times in bins, for the dashboard's histogram.

The statistics give the median and the 90th percentile (`research.stats`); a researcher judging freshness also
wants the shape, e.g. whether most answers come within the hour with a long tail the next day. The bins widen
as time goes on (minutes, then hours, then a day), as such times spread on a logarithmic scale.

The same contacts as the statistics: events that occurred in the range (and at the touchpoint), whose
invitation got a first answer whenever it came.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final
from uuid import UUID

import asyncpg
import msgspec

EDGES: Final = (5, 15, 30, 60, 120, 240, 480, 1440)
"""Bin edges in minutes: under 5, 5 to 15, … 8 to 24 hours, and a day or more."""


class TimeBin(msgspec.Struct, frozen=True, kw_only=True):
    """Answers first given at least `from_minutes` and less than `to_minutes` (null: no end) after the contact."""

    from_minutes: int
    to_minutes: int | None
    count: int

    @property
    def label(self) -> str:
        """The bin in words: "under 5 min", "5–15 min", "30 min–1 h", "1 d or more"."""
        (low, low_unit), end = _duration(self.from_minutes), self.to_minutes
        if end is None:
            return f"{low} {low_unit} or more"
        high, high_unit = _duration(end)
        if self.from_minutes == 0:
            return f"under {high} {high_unit}"
        return f"{low}–{high} {high_unit}" if low_unit == high_unit else f"{low} {low_unit}–{high} {high_unit}"


def _duration(minutes: int) -> tuple[int, str]:
    if minutes < 60:
        return minutes, "min"
    if minutes < 1440:
        return minutes // 60, "h"
    return minutes // 1440, "d"


_BINS = """
SELECT width_bucket(extract(epoch FROM i.first_answer_after) / 60, $5::float8[]) AS bin, count(*) AS count
FROM events e
JOIN invitations i ON i.brand_id = e.brand_id AND i.invitation_id = e.invitation_id
WHERE e.brand_id = $1 AND e.occurred_at >= $2 AND e.occurred_at < $3
  AND ($4::text IS NULL OR e.touchpoint_key = $4)
  AND e.outcome = 'scheduled' AND i.first_answer_at IS NOT NULL
GROUP BY bin
"""


async def first_answer_times(
    conn: asyncpg.Connection, brand_id: UUID, start: datetime, end: datetime, touchpoint: str | None = None
) -> list[TimeBin]:
    """Every bin in order, empty ones included (all empty: nobody answered)."""
    counts = {row["bin"]: row["count"] for row in await conn.fetch(_BINS, brand_id, start, end, touchpoint, EDGES)}
    lows = (0, *EDGES)
    highs: tuple[int | None, ...] = (*EDGES, None)
    return [
        TimeBin(from_minutes=low, to_minutes=high, count=counts.get(index, 0))
        for index, (low, high) in enumerate(zip(lows, highs, strict=True))
    ]
