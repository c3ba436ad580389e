"""Races between transactions, forced deterministically: one transaction holds its locks while another
is seen blocked on them (PostgreSQL reports it waiting for a lock the first one holds).

These fail if the customer lock, the unique keys or the retry were taken away.
"""

import asyncio

import asyncpg
import pytest
from asyncpg.transaction import Transaction
from litestar.testing import AsyncTestClient

from server.ingest import Ingestor
from tests.conftest import BrandFixture
from tests.helpers import event, survey_setup
from tests.server.races import blocked_by, pending
from triggers import schedule
from triggers.events import EventResult


async def hold_then_race(
    holder: asyncpg.Connection,
    observer: asyncpg.Connection,
    ingestor: Ingestor,
    brand: BrandFixture,
    first: dict,
    second: dict,
) -> tuple[EventResult, Transaction, asyncio.Task[list[EventResult]]]:
    """Ingest `first` in a transaction left open on `holder`, then submit `second` through the ingestor; return
    the first's result, its open transaction, and the second's task once PostgreSQL shows it blocked on the
    first's locks (checked through `observer`)."""
    transaction = holder.transaction()
    await transaction.start()
    (result,) = (await schedule.ingest(holder, [pending(brand, first)]))[0]
    task = asyncio.create_task(ingestor.submit([pending(brand, second)]))
    await blocked_by(observer, holder, task)
    return result, transaction, task


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
    # The first transaction holds the customer's row lock (or its new unique key) while the second starts.
    result, first, second = await hold_then_race(holder, conn, ingestor, brand, event("visit-1"), event("visit-2"))
    assert result.decision == "scheduled"
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
    original, first, duplicate = await hold_then_race(holder, conn, ingestor, brand, event("same"), event("same"))
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
    _, first, retry = await hold_then_race(holder, conn, ingestor, brand, event("same"), event("same"))
    await first.rollback()
    (stored,) = await retry
    assert stored.status == "created"
    assert await conn.fetchval("SELECT count(*) FROM events") == 1
