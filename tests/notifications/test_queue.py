"""The send-job queue: idempotent per invitation and planned time, and paced so that one brand's burst never
sits ahead of another brand's due invitation."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from uuid import UUID

import asyncpg
import pytest
from arq.constants import result_key_prefix
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from notifications import senders
from notifications.queue import PACE_PREFIX, Pace, Pacing, enqueue_invitations, job_id
from notifications.senders import PushSender, SenderDefaults, SmsSender
from server import db
from server.app import queue_client
from server.settings import Settings
from tests.conftest import BrandFixture
from tests.helpers import event, report, survey_setup
from triggers.schedule import InvitationJob

SHORT_CODE = "12345"  # 100 segments per second


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = queue_client(settings.redis_url, settings.queue_name)
    yield client
    await client.aclose()


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(settings.database_url, min_size=1, max_size=2)
    yield pool
    await pool.close()


def jobs_of(brand_id: UUID, count: int, planned_at: datetime) -> list[InvitationJob]:
    return [InvitationJob(brand_id, str(uuid.uuid4()), planned_at) for _ in range(count)]


async def scores(redis: Redis, queue_name: str) -> dict[str, float]:
    return {key.decode(): score for key, score in await redis.zrange(queue_name, 0, -1, withscores=True)}


def soon() -> float:
    """Now in ms, and the 1 ms a planned time is rounded up by (a job never becomes due before its invitation)."""
    return time.time() * 1000 + 1


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def paced_at(pool: asyncpg.Pool, default_sms: str) -> Pacing:
    """Pacing for brands without senders or triggers of their own: by the default SMS sender's rate."""
    return Pacing(pool, SenderDefaults(sms=default_sms))


GERMAN_LONG_CODE = "+4915112345678"  # 10 per second
US_LONG_CODE = "+14155550100"  # 1 per second


async def test_a_job_is_queued_once_per_invitation_and_planned_time(redis: Redis, settings: Settings) -> None:
    brand = uuid.uuid4()
    planned = datetime.now(UTC) + timedelta(minutes=5)
    jobs = jobs_of(brand, 3, planned)
    assert await enqueue_invitations(redis, jobs, settings.queue_name) == 3
    assert await enqueue_invitations(redis, jobs, settings.queue_name) == 0  # the sweeper's second pass
    queued = await scores(redis, settings.queue_name)
    assert set(queued) == {job_id(job.invitation_id, planned) for job in jobs}
    assert set(queued.values()) == {math.ceil(planned.timestamp() * 1000)}


async def test_a_replanned_invitation_gets_a_new_job_while_the_old_result_is_kept(
    redis: Redis, settings: Settings
) -> None:
    first = InvitationJob(uuid.uuid4(), str(uuid.uuid4()), datetime.now(UTC))
    assert await enqueue_invitations(redis, [first], settings.queue_name) == 1
    # The job ran and asked to be tried again later: arq keeps its result for a while, under the old id.
    old = job_id(first.invitation_id, first.planned_at)
    await redis.zrem(settings.queue_name, old)
    await redis.delete(f"arq:job:{old}")
    await redis.set(f"{result_key_prefix}{old}", b"kept", px=60_000)
    assert await enqueue_invitations(redis, [first], settings.queue_name) == 0  # same planned time: not again
    retried = InvitationJob(first.brand_id, first.invitation_id, first.planned_at + timedelta(seconds=30))
    assert await enqueue_invitations(redis, [retried], settings.queue_name) == 1
    assert list(await scores(redis, settings.queue_name)) == [job_id(first.invitation_id, retried.planned_at)]


async def test_a_brands_jobs_are_spread_at_its_senders_rate(redis: Redis, settings: Settings, pool) -> None:
    brand = uuid.uuid4()
    pacing = paced_at(pool, GERMAN_LONG_CODE)
    before = time.time() * 1000
    assert (
        await enqueue_invitations(redis, jobs_of(brand, 20, datetime.now(UTC)), settings.queue_name, pacing) == 20
    )
    queued = sorted((await scores(redis, settings.queue_name)).values())
    assert before <= queued[0] <= soon()
    gaps = [b - a for a, b in pairwise(queued)]
    assert all(99 <= gap <= 101 for gap in gaps), gaps
    # The next group carries on where this one ended, and another brand has a clock of its own.
    await enqueue_invitations(redis, jobs_of(brand, 1, datetime.now(UTC)), settings.queue_name, pacing)
    other = jobs_of(uuid.uuid4(), 1, datetime.now(UTC))
    await enqueue_invitations(redis, other, settings.queue_name, pacing)
    queued_now = await scores(redis, settings.queue_name)
    assert max(queued_now.values()) == pytest.approx(queued[-1] + 100, abs=1)
    assert queued_now[job_id(other[0].invitation_id, other[0].planned_at)] <= soon()
    for key in await redis.keys(f"{PACE_PREFIX}*"):
        assert 0 < await redis.pttl(key) <= 3 * 60_000  # the clocks expire


async def test_an_invitation_planned_later_does_not_hold_back_those_due_now(
    redis: Redis, settings: Settings, pool
) -> None:
    brand = uuid.uuid4()
    pacing = paced_at(pool, US_LONG_CODE)
    tomorrow = jobs_of(brand, 1, datetime.now(UTC) + timedelta(days=1))
    await enqueue_invitations(redis, tomorrow, settings.queue_name, pacing)
    now = jobs_of(brand, 2, datetime.now(UTC))
    await enqueue_invitations(redis, now, settings.queue_name, pacing)
    queued = await scores(redis, settings.queue_name)
    first, second = sorted(queued[job_id(job.invitation_id, job.planned_at)] for job in now)
    assert first <= soon() and second == pytest.approx(first + 1000, abs=1)
    assert queued[job_id(tomorrow[0].invitation_id, tomorrow[0].planned_at)] == pytest.approx(
        ms(tomorrow[0].planned_at), abs=1
    )


async def test_a_burst_longer_than_a_minute_stays_one_run(redis: Redis, settings: Settings, pool) -> None:
    # 1,000 jobs at 10/s take 100 s: jobs planned for the next minutes queue behind them, not alongside.
    brand = uuid.uuid4()
    pacing = paced_at(pool, GERMAN_LONG_CODE)
    start = datetime.now(UTC) + timedelta(hours=1)
    await enqueue_invitations(redis, jobs_of(brand, 1000, start), settings.queue_name, pacing)
    later = jobs_of(brand, 1, start + timedelta(seconds=60))
    await enqueue_invitations(redis, later, settings.queue_name, pacing)
    queued = await scores(redis, settings.queue_name)
    assert queued[job_id(later[0].invitation_id, later[0].planned_at)] == pytest.approx(ms(start) + 100_000, abs=2)


async def test_pacing_follows_the_brands_first_channel_and_its_sender(
    client: AsyncTestClient, brand: BrandFixture, other_brand: BrandFixture, conn: asyncpg.Connection, pool
) -> None:
    pacing = Pacing(pool, SenderDefaults(sms=US_LONG_CODE), ttl=0)
    acme, globex = brand.brand.brand_id, other_brand.brand.brand_id
    # No triggers: SMS, here the global default, a US long code.
    assert await pacing.paces([acme]) == {acme: Pace("sms", 1.0)}
    await senders.put_sender(conn, acme, SmsSender(from_=SHORT_CODE))
    await survey_setup(client, brand, channels=["web_link", "push"])  # a web link goes out by SMS
    assert await pacing.paces([acme, globex]) == {acme: Pace("sms", 100.0), globex: Pace("sms", 1.0)}
    await survey_setup(client, other_brand, channels=["push", "sms"])
    await senders.put_sender(conn, globex, PushSender(rate_per_second=20))
    assert (await pacing.paces([globex]))[globex] == Pace("push", 20.0)
    cached = Pacing(pool, SenderDefaults(), ttl=60)
    assert (await cached.paces([acme]))[acme] == Pace("sms", 100.0)
    await senders.put_sender(conn, acme, SmsSender(from_=SHORT_CODE, rate_per_second=5))
    assert (await cached.paces([acme]))[acme] == Pace("sms", 100.0)  # until the cache entry expires
    assert (await Pacing(pool, SenderDefaults(), ttl=60).paces([acme]))[acme] == Pace("sms", 5.0)


async def test_a_burst_of_one_brand_does_not_delay_another_brands_invitation(
    brand: BrandFixture,
    other_brand: BrandFixture,
    conn: asyncpg.Connection,
    pool,
    redis: Redis,
    settings: Settings,
) -> None:
    acme, globex = brand.brand.brand_id, other_brand.brand.brand_id
    await senders.put_sender(conn, acme, SmsSender(from_=SHORT_CODE))  # 100/s
    pacing = paced_at(pool, GERMAN_LONG_CODE)
    now = datetime.now(UTC)
    assert await enqueue_invitations(redis, jobs_of(acme, 10_000, now), settings.queue_name, pacing) == 10_000
    other = jobs_of(globex, 1, datetime.now(UTC))
    await enqueue_invitations(redis, other, settings.queue_name, pacing)

    queued = await scores(redis, settings.queue_name)
    theirs = queued.pop(job_id(other[0].invitation_id, other[0].planned_at))
    ahead = sum(1 for score in queued.values() if score <= theirs)
    # arq takes due jobs in score order, so the other brand's job runs once the `ahead` jobs before it have
    # started. A worker that sends 100 invitations a second (50 job slots, ~0.5 s per provider call) starts
    # it within 2 s if fewer than 200 are ahead — here only what acme's clock granted while its 10,000 jobs
    # were being queued.
    assert ahead < 200, ahead
    assert theirs <= soon()
    # Acme's burst is spread over the 100 s its short code needs.
    assert max(queued.values()) - min(queued.values()) == pytest.approx(99_990, abs=5)


async def test_without_pacing_a_burst_sits_ahead_of_everyone(redis: Redis, settings: Settings) -> None:
    # What pacing prevents: the same burst queued unpaced is all due before the other brand's job.
    now = datetime.now(UTC)
    await enqueue_invitations(redis, jobs_of(uuid.uuid4(), 10_000, now), settings.queue_name)
    other = jobs_of(uuid.uuid4(), 1, now + timedelta(milliseconds=1))
    await enqueue_invitations(redis, other, settings.queue_name)
    queued = await scores(redis, settings.queue_name)
    theirs = queued.pop(job_id(other[0].invitation_id, other[0].planned_at))
    assert sum(1 for score in queued.values() if score <= theirs) == 10_000


async def test_ingestion_paces_a_brands_jobs(
    client: AsyncTestClient, brand: BrandFixture, settings: Settings, redis: Redis
) -> None:
    await survey_setup(client, brand)
    response = await client.put(
        "/v1/senders/sms", json={"from": US_LONG_CODE}, headers=brand.headers("manage")
    )  # a US long code: 1 a second
    assert response.status_code == 201, response.text
    for i in range(3):
        assert (await report(client, brand, event(f"e{i}", customer=f"c-{i}")))["decision"] == "scheduled"
    queued = sorted((await scores(redis, settings.queue_name)).values())
    assert [round(b - a) for a, b in pairwise(queued)] == [1000, 1000]
