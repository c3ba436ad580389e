"""Fixtures of the server tests: transactions to race (see tests/server/races.py), an empty database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from server import db
from server.app import queue_client
from server.ingest import Ingestor
from server.settings import Settings
from tests.conftest import _with_database, database_name


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


@pytest_asyncio.fixture(loop_scope="session")
async def empty_database(admin_db: asyncpg.Connection, server_urls: tuple[str, str]) -> AsyncIterator[str]:
    """A database with no schema at all, for migration tests."""
    name = database_name("empty")
    await admin_db.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await admin_db.execute(f"CREATE DATABASE {name}")
    yield _with_database(server_urls[0], name)
    await admin_db.execute(f"DROP DATABASE {name} WITH (FORCE)")
