"""Fixtures of the server tests that race transactions (see tests/server/races.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from server import db
from server.app import queue_client
from server.ingest import Ingestor
from server.settings import Settings


@pytest.fixture
async def ingestor(settings: Settings) -> AsyncIterator[Ingestor]:
    pool = await db.create_pool(settings.database_url, min_size=1, max_size=4)
    redis = queue_client(settings.redis_url, settings.queue_name)
    yield Ingestor(pool, redis, settings.queue_name)
    await redis.aclose()
    await pool.close()


@pytest.fixture
async def holder(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A second connection whose transaction the test keeps open."""
    connection = await db.connect(database_url)
    yield connection
    await connection.close()
