"""A tracking study's statistics: shares of experience, positivity by touchpoint, the change in consideration
and its association with the touchpoints participants reported, and compliance."""

from __future__ import annotations

from datetime import datetime
from typing import Final
from uuid import UUID

import asyncpg

from research.stats.model import StudyStats

CONSIDERATION: Final = "consideration"
"""The question id of the consideration question in the pre- and post-survey, unless the query names another."""


async def study_stats(
    conn: asyncpg.Connection, brand_id: UUID, key: str, *, now: datetime, consideration: str = CONSIDERATION
) -> StudyStats | None:
    """The statistics of the brand's study `key`; None if there is no such study."""
    raise NotImplementedError
