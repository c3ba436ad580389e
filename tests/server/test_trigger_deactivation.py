"""After a trigger's deactivation has answered, nothing of that trigger is sent: not the invitations scheduled
before it, not those of events ingested while it was committing, not those whose send job comes later.

The forced races hold one transaction open at the point that matters and show the other one waiting for it (in
``pg_locks``), so they fail if ingestion and deactivation stopped excluding each other.
"""

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from server import db
from server.ingest import Ingestor
from tests.conftest import BrandFixture
from tests.helpers import event, report, survey_setup
from tests.server.races import blocked_by, pending
from triggers import catalog, schedule
from triggers.catalog import TriggerOut
from triggers.model import TriggerIn


def deactivated(trigger: dict) -> dict:
    return {k: v for k, v in trigger.items() if k not in ("id", "created_at", "updated_at")} | {"active": False}


async def send_every_invitation_now(conn: asyncpg.Connection, ctx: dict[str, Any]) -> list[str]:
    """Make every invitation due and run its send job (as the worker would once its time comes)."""
    from notifications import jobs

    await conn.execute("UPDATE invitations SET planned_at = now() - interval '1 second'")
    rows = await conn.fetch("SELECT brand_id, invitation_id::text FROM invitations")
    return [await jobs.send_invitation(ctx, str(r["brand_id"]), r["invitation_id"]) for r in rows]


async def test_deactivation_cancels_what_is_scheduled_and_later_events_are_not_surveyed(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx: dict[str, Any]
) -> None:
    trigger = await survey_setup(client, brand, delay="PT10M", max_lag="PT1H")
    await report(client, brand, event("before"))
    response = await client.put(
        "/v1/triggers/after_visit", json=deactivated(trigger), headers=brand.headers("manage")
    )
    assert response.status_code == 200
    after = await report(client, brand, event("after", customer="c-2"))
    assert (after["decision"], after["reason"]) == ("not_surveyed", "no_trigger")
    assert tuple(await conn.fetchrow("SELECT status, status_reason FROM invitations")) == (
        "cancelled",
        "trigger_deactivated",
    )
    assert not any(o.startswith("sent") for o in await send_every_invitation_now(conn, ctx))
    assert await conn.fetchval("SELECT count(*) FROM messages") == 0


@pytest.mark.parametrize(
    ("withdraw", "reason"),
    [
        ("UPDATE triggers SET active = false", "trigger_deactivated"),
        ("UPDATE questionnaires SET archived_at = now()", "questionnaire_archived"),
    ],
)
async def test_the_send_job_withdraws_an_invitation_of_an_inactive_trigger_or_archived_questionnaire(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, run_worker, withdraw: str, reason: str
) -> None:
    # The invitation stays scheduled (changed behind the API's back): only the send job's re-check stops it.
    await survey_setup(client, brand)
    await report(client, brand, event("e1"))
    await conn.execute(withdraw)
    await run_worker()
    assert tuple(await conn.fetchrow("SELECT status, status_reason, attempts FROM invitations")) == (
        "cancelled",
        reason,
        0,
    )
    assert await conn.fetchval("SELECT count(*) FROM messages") == 0
    transitions = await conn.fetch("SELECT from_status, to_status, reason FROM invitation_transitions")
    assert [tuple(t) for t in transitions] == [("scheduled", "cancelled", reason)]


async def deactivate(conn: asyncpg.Connection, brand: BrandFixture, stored: dict) -> TriggerOut:
    """What ``PUT /v1/triggers/{key}`` with ``active: false`` does, on a connection of the test's own (the
    in-process test client cannot run a request concurrently with the test)."""
    spec = msgspec.convert(deactivated(stored), TriggerIn)
    async with conn.transaction():
        trigger, _ = await catalog.put_trigger(conn, brand.brand.brand_id, spec, datetime.now(UTC))
    return trigger


async def test_a_deactivation_waits_for_an_ingestion_in_flight_and_cancels_its_invitation(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    holder: asyncpg.Connection,
    database_url: str,
) -> None:
    stored = await survey_setup(client, brand, delay="PT10M", max_lag="PT1H")
    transaction = holder.transaction()
    await transaction.start()
    ((result,), _) = await schedule.ingest(holder, [pending(brand, event("in-flight"))])
    assert result.decision == "scheduled"
    other = await db.connect(database_url)
    try:
        put = asyncio.create_task(deactivate(other, brand, stored))
        await blocked_by(conn, holder, put)
        await transaction.commit()
        assert not (await put).active
    finally:
        await other.close()
    assert tuple(await conn.fetchrow("SELECT status, status_reason FROM invitations")) == (
        "cancelled",
        "trigger_deactivated",
    )


async def test_an_ingestion_waits_for_a_deactivation_committing_and_sees_the_trigger_inactive(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    holder: asyncpg.Connection,
    ingestor: Ingestor,
) -> None:
    stored = await survey_setup(client, brand, delay="PT10M", max_lag="PT1H")
    spec = msgspec.convert(deactivated(stored), TriggerIn)
    transaction = holder.transaction()
    await transaction.start()
    trigger, _ = await catalog.put_trigger(holder, brand.brand.brand_id, spec, datetime.now(UTC))
    assert not trigger.active
    task = asyncio.create_task(ingestor.submit([pending(brand, event("during"))]))
    await blocked_by(conn, holder, task)
    await transaction.commit()
    (result,) = await task
    assert (result.decision, result.reason) == ("not_surveyed", "no_trigger")
    assert await conn.fetchval("SELECT count(*) FROM invitations") == 0


async def test_under_concurrent_ingestion_nothing_of_a_deactivated_trigger_stays_scheduled(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    holder: asyncpg.Connection,
    ingestor: Ingestor,
    ctx: dict[str, Any],
) -> None:
    stored = await survey_setup(client, brand, delay="PT1M", max_lag="PT1H")
    answered, started = asyncio.Event(), asyncio.Event()
    counts = {"before": 0, "after": 0}

    async def stream(number: int) -> None:
        for i in range(10_000):
            late = answered.is_set()
            (result,) = await ingestor.submit(
                [pending(brand, event(f"s{number}-{i}", customer=f"c-{number}-{i}"))]
            )
            if not late:
                counts["before"] += 1
                if counts["before"] >= 200:
                    started.set()
                continue
            assert result.reason == "no_trigger", "an event reported after the deactivation answered was scheduled"
            counts["after"] += 1
            if counts["after"] >= 100:
                return

    streams = [asyncio.create_task(stream(n)) for n in range(20)]
    await started.wait()
    await deactivate(holder, brand, stored)
    answered.set()
    await asyncio.gather(*streams)
    statuses = dict(await conn.fetch("SELECT status, count(*) FROM invitations GROUP BY status"))
    assert set(statuses) == {"cancelled"}, statuses
    assert not any(o.startswith("sent") for o in await send_every_invitation_now(conn, ctx))
    assert await conn.fetchval("SELECT count(*) FROM messages") == 0
