"""The worker side of scheduling: the send job's claim and re-check, and the sweeper after a queue loss."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from notifications import jobs
from notifications.queue import job_id
from server.settings import Settings
from tests.conftest import BrandFixture
from tests.helpers import event, queued_job_ids, queued_jobs, report, survey_setup


async def test_due_invitations_are_sent_once_through_the_sandbox(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, run_worker
) -> None:
    await survey_setup(client, brand)
    german = event("e1") | {"customer": {"external_id": "c-de", "phone": "+4915112345678", "locale": "de",
                                         "consents": {"sms": True}}}  # fmt: skip
    result = await report(client, brand, german)
    assert result["decision"] == "scheduled"
    await run_worker()
    invitation = await conn.fetchrow("SELECT status, channel, attempts FROM invitations")
    assert tuple(invitation) == ("sent", "sms", 1)
    message = await conn.fetchrow("SELECT channel, provider, status, body FROM messages")
    assert (message["channel"], message["provider"], message["status"]) == ("sms", "sandbox", "accepted")
    assert message["body"].startswith("Danke für Ihren Besuch heute!")
    transitions = await conn.fetch("SELECT from_status, to_status FROM invitation_transitions ORDER BY seq")
    assert [tuple(t) for t in transitions] == [("scheduled", "sending"), ("sending", "sent")]
    await run_worker()  # nothing left: the job does not send twice
    assert await conn.fetchval("SELECT count(*) FROM messages") == 1


async def transitions(conn: asyncpg.Connection) -> list[tuple[str | None, str, str | None]]:
    rows = await conn.fetch("SELECT from_status, to_status, reason FROM invitation_transitions ORDER BY seq")
    return [tuple(row) for row in rows]


async def test_a_job_run_twice_sends_once(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx
) -> None:
    await survey_setup(client, brand)
    result = await report(client, brand, event("e1"))
    for _ in range(3):
        await jobs.send_invitation(ctx, str(brand.brand.brand_id), result["invitation_id"])
    invitation = await conn.fetchrow("SELECT status, channel, attempts FROM invitations")
    assert tuple(invitation) == ("sent", "sms", 1)
    assert await transitions(conn) == [("scheduled", "sending", None), ("sending", "sent", None)]
    message = await conn.fetchrow("SELECT invitation_id, provider, status FROM messages")
    assert tuple(message) == (UUID(result["invitation_id"]), "sandbox", "accepted")
    assert await conn.fetchval("SELECT count(*) FROM messages") == 1


async def test_the_send_job_rechecks_before_sending(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx
) -> None:
    await survey_setup(client, brand)
    opted = await report(client, brand, event("e1", customer="c-1"))
    late = await report(client, brand, event("e2", customer="c-2"))
    # Between decision and send: c-1 opts out; c-2's invitation runs past its freshness deadline.
    await client.put("/v1/customers/c-1", json={"opted_out": True}, headers=brand.headers("manage"))
    await conn.execute(
        "UPDATE invitations SET send_by = now() - interval '1 minute' WHERE invitation_id = $1",
        late["invitation_id"],
    )
    brand_id = str(brand.brand.brand_id)
    await jobs.send_invitation(ctx, brand_id, opted["invitation_id"])
    await jobs.send_invitation(ctx, brand_id, late["invitation_id"])
    rows = await conn.fetch("SELECT invitation_id, status, status_reason FROM invitations ORDER BY status_reason")
    assert [tuple(r) for r in rows] == [
        (UUID(opted["invitation_id"]), "suppressed", "opted_out"),
        (UUID(late["invitation_id"]), "suppressed", "stale"),
    ]
    assert sorted(await transitions(conn)) == [
        ("scheduled", "sending", None),
        ("scheduled", "sending", None),
        ("sending", "suppressed", "opted_out"),
        ("sending", "suppressed", "stale"),
    ]
    assert await conn.fetchval("SELECT count(*) FROM messages") == 0


async def test_an_invitation_is_not_sent_before_its_time(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx
) -> None:
    await survey_setup(client, brand, delay="PT10M", max_lag="PT1H")
    result = await report(client, brand, event("e1"))
    await jobs.send_invitation(ctx, str(brand.brand.brand_id), result["invitation_id"])
    assert tuple(await conn.fetchrow("SELECT status, attempts FROM invitations")) == ("scheduled", 0)
    assert await transitions(conn) == []
    assert await conn.fetchval("SELECT count(*) FROM messages") == 0


async def test_the_sweeper_restores_a_lost_queue_exactly_once(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, settings: Settings, ctx, run_worker
) -> None:
    await survey_setup(client, brand)
    later = datetime.now(UTC) + timedelta(hours=1)
    for i in range(30):
        await report(client, brand, event(f"due-{i}", customer=f"c-{i}"))
    # One invitation planned far ahead: the sweeper leaves it to its own job.
    await client.put("/v1/triggers/later", json={
        "key": "later", "name": "Later", "touchpoint": "store_visit", "questionnaire": "store_visit_nps",
        "delay": "PT3H", "max_lag": "PT4H", "send_window": {"start": "00:00", "end": "24:00"}, "priority": 9,
    }, headers=brand.headers("manage"))  # fmt: skip
    future = await report(client, brand, event("future", customer="c-future"))
    assert datetime.fromisoformat(future["planned_at"]) > later
    assert await queued_jobs(settings) == 31

    # The queue loses everything (Valkey flushed / restarted without persistence).
    redis = Redis.from_url(settings.redis_url)
    await redis.flushdb()
    await redis.aclose()
    assert await queued_jobs(settings) == 0

    rows = await conn.fetch(
        "SELECT invitation_id, planned_at FROM invitations WHERE invitation_id <> $1", future["invitation_id"]
    )
    due = {job_id(str(row["invitation_id"]), row["planned_at"]) for row in rows}
    assert len(due) == 30
    await jobs.sweep(ctx)
    assert await queued_job_ids(settings) == due
    await jobs.sweep(ctx)  # idempotent: a second sweep (or a second worker) adds nothing
    assert await queued_job_ids(settings) == due

    await run_worker()
    counts = dict(await conn.fetch("SELECT status, count(*) FROM invitations GROUP BY status"))
    assert counts == {"sent": 30, "scheduled": 1}
    assert await conn.fetchval("SELECT max(attempts) FROM invitations") == 1
    assert await conn.fetchval("SELECT count(*) FROM messages") == 30
    assert await conn.fetchval("SELECT count(DISTINCT invitation_id) = count(*) FROM messages"), (
        "an invitation was sent twice"
    )


async def test_the_sweeper_forgets_idempotency_keys_after_their_retention(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx
) -> None:
    from triggers.idempotency import RETENTION

    await survey_setup(client, brand)
    await report(client, brand, event("old"))
    await report(client, brand, event("recent", customer="c-2"))
    await conn.execute(
        "UPDATE idempotency_keys SET created_at = now() - $1::interval - interval '1 minute' "
        "WHERE idempotency_key = 'old'",
        RETENTION,
    )
    await jobs.sweep(ctx)
    assert [r[0] for r in await conn.fetch("SELECT idempotency_key FROM idempotency_keys")] == ["recent"]
    # The event stays; only its key is forgotten, so reporting it again now is a new event.
    assert await conn.fetchval("SELECT count(*) FROM events") == 2
    assert (await report(client, brand, event("old")))["event_id"] != (
        await conn.fetchval("SELECT event_id::text FROM events WHERE idempotency_key = 'old'")
    )


async def test_the_sweeper_forgets_expired_keys_in_batches_until_none_is_left(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    from triggers.idempotency import RETENTION

    monkeypatch.setattr(jobs, "SWEEP_LIMIT", 2)  # three batches for five keys
    await survey_setup(client, brand)
    for n in range(5):
        await report(client, brand, event(f"old-{n}", customer=f"c-{n}"))
    await conn.execute(
        "UPDATE idempotency_keys SET created_at = now() - $1::interval - interval '1 minute'", RETENTION
    )
    await jobs.sweep(ctx)
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 0
