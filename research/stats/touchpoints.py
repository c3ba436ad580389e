"""Figures by touchpoint, trigger or questionnaire version: per bucket and over the range, and overall."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from research.stats.model import Stats, StatsQuery


async def stats(conn: asyncpg.Connection, brand_id: UUID, query: StatsQuery) -> Stats:
    """The brand's figures for `query` (grouped by ``query.by``)."""
    raise NotImplementedError
