"""Delivery with real `lxt worker` processes: a worker killed (SIGKILL) just before and just after the provider
accepted a message, a sender's rate shared by two workers, and fairness between brands."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from notifications import jobs
from server.settings import Settings
from tests.conftest import BrandFixture
from tests.fakes.twilio import FakeTwilio
from tests.helpers import event, report, survey_setup
from tests.server.processes import eventually, lxt

FROM = "+447911123456"  # a UK long code: 10 messages/s unless the brand says otherwise


@pytest.fixture
def settings(settings: Settings, fake_twilio: FakeTwilio) -> Settings:
    """The tests' settings with Twilio configured against the fake."""
    return settings.replace(
        twilio_account_sid=fake_twilio.account_sid,
        twilio_auth_token=fake_twilio.auth_token,
        twilio_api_base=fake_twilio.url,
        twilio_from_number=FROM,
    )


def worker_env(settings: Settings) -> dict[str, str]:
    return {
        f"LXT_{name.upper()}": str(value)
        for name, value in (
            ("database_url", settings.database_url),
            ("redis_url", settings.redis_url),
            ("data_dir", settings.data_dir),
            ("public_base_url", settings.public_base_url),
            ("twilio_account_sid", settings.twilio_account_sid),
            ("twilio_auth_token", settings.twilio_auth_token),
            ("twilio_api_base", settings.twilio_api_base),
            ("twilio_from_number", settings.twilio_from_number),
            ("log_level", "INFO"),
        )
    }


@contextmanager
def workers(settings: Settings, tmp_path: Path, count: int = 1) -> Iterator[list[Any]]:
    with ExitStack() as stack:
        yield [
            stack.enter_context(
                lxt("worker", worker_env(settings), tmp_path / f"worker-{n}-{time.monotonic_ns()}.log")
            )
            for n in range(count)
        ]


async def alive_workers(conn: asyncpg.Connection, count: int) -> bool:
    return await conn.fetchval("SELECT count(*) FROM worker_heartbeats") >= count


async def invitation(conn: asyncpg.Connection) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT status, status_reason, channel FROM invitations")
    return dict(row) if row else None


async def abandoned(conn: asyncpg.Connection) -> None:
    """Make the dead worker's claim old enough for the sweeper to take it for lost."""
    await conn.execute(
        "UPDATE invitations SET updated_at = now() - interval '10 minutes' WHERE status = 'sending'"
    )


async def killed_mid_send(
    settings: Settings, tmp_path: Path, probe: Callable[[], Awaitable[bool]], what: str
) -> None:
    """A worker that dies (SIGKILL) the moment `probe` holds, and its claim old enough to count as lost."""
    with workers(settings, tmp_path) as [worker]:
        await eventually(probe, what)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()


async def settled_by_a_new_worker(conn: asyncpg.Connection, settings: Settings, tmp_path: Path) -> dict:
    """The invitation, once a new worker (which sweeps as it starts) has sent or settled it."""
    await abandoned(conn)
    with workers(settings, tmp_path):

        async def sent() -> dict | None:
            found = await invitation(conn)
            return found if found and found["status"] == "sent" else None

        return await eventually(sent, "a new worker to settle the invitation")


async def test_a_worker_killed_after_twilio_accepted_never_sends_twice(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    settings: Settings,
    fake_twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    await survey_setup(client, brand)
    fake_twilio.hold_after_accepting(60)  # Twilio has the message; the worker waits for the answer
    result = await report(client, brand, event("e1"))

    async def accepted() -> bool:
        return len(fake_twilio.messages) == 1

    await killed_mid_send(settings, tmp_path, accepted, "Twilio to accept the message")
    fake_twilio.hold_after_accepting(0)
    assert await conn.fetchval("SELECT status FROM messages") == "pending"
    assert (await invitation(conn))["status"] == "sending"  # type: ignore[index]

    assert (await settled_by_a_new_worker(conn, settings, tmp_path))["channel"] == "sms"
    [sent] = fake_twilio.messages
    row = await conn.fetchrow("SELECT status, provider_message_id FROM messages")
    assert tuple(row) == ("accepted", sent["sid"])
    assert result["invitation_id"] == str(await conn.fetchval("SELECT invitation_id FROM messages"))


async def test_a_worker_killed_before_twilio_accepted_is_sent_exactly_once_after_all(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    settings: Settings,
    fake_twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    await survey_setup(client, brand)
    # The create hangs before Twilio takes it, and is then dropped: Twilio never has it.
    fake_twilio.fail_next_with_connection_drop(after_accepting=False)
    fake_twilio.delay(60)
    await report(client, brand, event("e1"))

    async def in_flight() -> bool:
        return any(r.method == "POST" for r in fake_twilio.requests)

    await killed_mid_send(settings, tmp_path, in_flight, "the worker's call to Twilio")
    fake_twilio.delay(0)
    assert await conn.fetchval("SELECT status FROM messages") == "pending"

    await settled_by_a_new_worker(conn, settings, tmp_path)
    assert len(fake_twilio.messages) == 1
    statuses = [r["status"] for r in await conn.fetch("SELECT status FROM messages ORDER BY created_at")]
    assert statuses == ["not_sent", "accepted"]


async def test_two_workers_share_one_sender_rate(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    settings: Settings,
    fake_twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    rate = 4.0
    response = await client.put(
        "/v1/senders/sms", json={"from": FROM, "rate_per_second": rate}, headers=brand.headers("manage")
    )
    assert response.status_code in (200, 201), response.text
    await survey_setup(client, brand)
    with workers(settings, tmp_path, count=2):
        await eventually(lambda: alive_workers(conn, 2), "two workers")
        count = 12
        for n in range(count):
            await report(client, brand, event(f"e{n}", customer=f"c-{n}"))

        async def all_sent() -> bool:
            return len(fake_twilio.messages) == count

        await eventually(all_sent, "every invitation to be sent", within=60)
    handled_by = await conn.fetch("SELECT DISTINCT status FROM invitations")
    assert [r["status"] for r in handled_by] == ["sent"]
    times = sorted(m["received_at"] for m in fake_twilio.messages)
    # Evenly spaced at the sender's rate, whichever worker sent: never more than the rate in any second.
    for i, start in enumerate(times):
        assert sum(1 for t in times[i:] if t < start + 1.0) <= rate + 1  # +1: the window's edge
    assert times[-1] - times[0] >= (count - 1) / rate * 0.9


async def test_one_brands_burst_does_not_hold_up_another_brands_invitation(
    client: AsyncTestClient,
    brand: BrandFixture,
    other_brand: BrandFixture,
    conn: asyncpg.Connection,
    settings: Settings,
    fake_twilio: FakeTwilio,
    ctx: dict[str, Any],
    tmp_path: Path,
) -> None:
    burst, other_from = 10_000, "+447911123457"
    for who, sender in ((brand, FROM), (other_brand, other_from)):
        response = await client.put(
            "/v1/senders/sms", json={"from": sender, "rate_per_second": 100}, headers=who.headers("manage")
        )
        assert response.status_code in (200, 201), response.text
        await survey_setup(client, who)
    # Each brand's first invitation serves as the pattern of the many made below, and is not sent itself.
    await report(client, brand, event("a-0", customer="a-0"))
    await report(client, other_brand, event("b-0", customer="b-0"))
    await conn.execute("UPDATE invitations SET status = 'cancelled'")
    await ctx["redis"].flushdb()
    fake_twilio.delay(0.05)  # each send takes a moment, so that slots are held
    with workers(settings, tmp_path):
        await eventually(lambda: alive_workers(conn, 1), "the worker")
        # Brand A's 10,000 invitations and, a second later, brand B's one, all due now and none queued (as after
        # a lost queue, or a bulk import): the sweeper brings them back in the order they were due.
        await conn.execute(
            """
            WITH template AS (SELECT * FROM invitations WHERE brand_id = $1),
                 made AS (
                    INSERT INTO customers (brand_id, customer_id, external_id, phone, consents)
                    SELECT $1, gen_random_uuid(), 'a-' || n, '+4477009' || lpad(n::text, 5, '0'), '{"sms": true}'
                    FROM generate_series(1, $2) n
                    RETURNING customer_id
                 )
            INSERT INTO invitations (brand_id, invitation_id, event_id, customer_id, trigger_id, questionnaire_key,
                                     questionnaire_version, status, occurred_at, planned_at, send_by, expires_at,
                                     channels)
            SELECT t.brand_id, gen_random_uuid(), gen_random_uuid(), coalesce(m.customer_id, t.customer_id),
                   t.trigger_id, t.questionnaire_key, t.questionnaire_version, 'scheduled', t.occurred_at,
                   now() - $3::interval, t.send_by, t.expires_at, t.channels
            FROM template t LEFT JOIN made m ON $2 > 0
            """,
            brand.brand.brand_id,
            burst,
            timedelta(seconds=2),
        )
        await conn.execute(
            """
            INSERT INTO invitations (brand_id, invitation_id, event_id, customer_id, trigger_id, questionnaire_key,
                                     questionnaire_version, status, occurred_at, planned_at, send_by, expires_at,
                                     channels)
            SELECT brand_id, gen_random_uuid(), gen_random_uuid(), customer_id, trigger_id, questionnaire_key,
                   questionnaire_version, 'scheduled', occurred_at, now() - interval '1 second', send_by,
                   expires_at, channels
            FROM invitations WHERE brand_id = $1
            """,
            other_brand.brand.brand_id,
        )
        due = time.monotonic()
        await jobs.sweep(ctx)

        async def other_sent() -> float | None:
            for message in fake_twilio.messages:
                if message["params"]["From"] == other_from:
                    return message["received_at"]
            return None

        arrived = await eventually(other_sent, "brand B's invitation", within=30)
        assert arrived - due <= 2.0, f"brand B waited {arrived - due:.2f} s behind brand A's burst"
        assert fake_twilio.max_in_flight_by_sender().get(FROM, 0) <= 25  # half of the worker's 50 slots
        assert len([m for m in fake_twilio.messages if m["params"]["From"] == FROM]) > 0
