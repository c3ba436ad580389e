"""Races between transactions, forced deterministically: one transaction holds its locks while another starts.

These fail if the customer lock, the unique keys or the retry were taken away.
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import msgspec
import pytest
from arq import create_pool as create_arq_pool
from litestar.testing import AsyncTestClient

from server import db
from server.app import redis_settings
from server.ingest import Ingestor
from server.settings import Settings
from tests.conftest import BrandFixture
from tests.helpers import event, survey_setup
from triggers import schedule
from triggers.events import EventIn, check_events
from triggers.schedule import Pending


def pending(brand: BrandFixture, body: dict) -> Pending:
    (valid,) = check_events([msgspec.convert(body, EventIn)], datetime.now(UTC), batch=False)
    return Pending(brand.brand.brand_id, valid)


@pytest.fixture
async def ingestor(settings: Settings) -> AsyncIterator[Ingestor]:
    pool = await db.create_pool(settings.database_url, min_size=1, max_size=2)
    redis = await create_arq_pool(redis_settings(settings.redis_url), default_queue_name=settings.queue_name)
    yield Ingestor(pool, redis, settings.queue_name)
    await redis.aclose()
    await pool.close()


@pytest.fixture
async def holder(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A second connection whose transaction the test keeps open."""
    connection = await db.connect(database_url)
    yield connection
    await connection.close()


async def still_waiting(task: asyncio.Task) -> bool:
    await asyncio.sleep(0.3)
    return not task.done()


@pytest.mark.parametrize("customer_exists", [True, False])
async def test_a_second_event_for_one_customer_waits_and_is_capped(
    client: AsyncTestClient,
    brand: BrandFixture,
    ingestor: Ingestor,
    holder: asyncpg.Connection,
    conn: asyncpg.Connection,
    customer_exists: bool,
) -> None:
    await survey_setup(client, brand, frequency={"brand_gap": "P1D", "trigger_gap": "P7D"})
    if customer_exists:
        await client.put("/v1/customers/c-1", json={"locale": "en"}, headers=brand.headers("manage"))
    first = holder.transaction()
    await first.start()
    (result,) = (await schedule.ingest(holder, [pending(brand, event("visit-1"))]))[0]
    assert result.decision == "scheduled"
    # The first transaction is open: it holds the customer's row lock (or its new unique key).
    second = asyncio.create_task(ingestor.submit([pending(brand, event("visit-2"))]))
    assert await still_waiting(second), "the second event did not wait for the first one's transaction"
    await first.commit()
    (capped,) = await second
    assert (capped.decision, capped.reason) == ("not_surveyed", "frequency_capped")
    assert await conn.fetchval("SELECT count(*) FROM invitations") == 1
    assert await conn.fetchval("SELECT count(*) FROM customers") == 1


async def test_a_duplicate_racing_its_original_waits_and_gets_the_original(
    client: AsyncTestClient,
    brand: BrandFixture,
    ingestor: Ingestor,
    holder: asyncpg.Connection,
    conn: asyncpg.Connection,
) -> None:
    await survey_setup(client, brand)
    first = holder.transaction()
    await first.start()
    (original,) = (await schedule.ingest(holder, [pending(brand, event("same"))]))[0]
    duplicate = asyncio.create_task(ingestor.submit([pending(brand, event("same"))]))
    assert await still_waiting(duplicate)
    await first.commit()
    (replayed,) = await duplicate
    assert replayed.status == "duplicate"
    assert replayed.event_id == original.event_id
    assert replayed.invitation_id == original.invitation_id
    assert await conn.fetchval("SELECT count(*) FROM events") == 1
    assert await conn.fetchval("SELECT count(*) FROM invitations") == 1


async def test_a_rolled_back_original_leaves_the_duplicate_to_be_stored(
    client: AsyncTestClient,
    brand: BrandFixture,
    ingestor: Ingestor,
    holder: asyncpg.Connection,
    conn: asyncpg.Connection,
) -> None:
    await survey_setup(client, brand)
    first = holder.transaction()
    await first.start()
    await schedule.ingest(holder, [pending(brand, event("same"))])
    retry = asyncio.create_task(ingestor.submit([pending(brand, event("same"))]))
    assert await still_waiting(retry)
    await first.rollback()
    (stored,) = await retry
    assert stored.status == "created"
    assert await conn.fetchval("SELECT count(*) FROM events") == 1
