"""Sender rate limits shared by every worker process, and the per-brand share of a worker's job slots."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from notifications.ratelimit import (
    LONG_CODE,
    SHORT_CODE,
    TOLL_FREE,
    US_LONG_CODE,
    WHATSAPP,
    BrandSlots,
    RateDefaults,
    default_rate,
    rate_key,
    take,
)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.mark.parametrize(
    ("channel", "sender", "rate"),
    [
        ("sms", "+14155550100", US_LONG_CODE),
        ("sms", "+16135550100", US_LONG_CODE),  # Canada shares +1
        ("sms", "+18005550100", TOLL_FREE),
        ("sms", "+18335550100", TOLL_FREE),
        ("sms", "+18885550100", TOLL_FREE),
        ("sms", "+18095550100", US_LONG_CODE),  # 809 is not toll-free
        ("sms", "12345", SHORT_CODE),
        ("sms", "123456", SHORT_CODE),
        ("sms", "+4915112345678", LONG_CODE),
        ("sms", "MG" + "a" * 32, 7.0),
        ("whatsapp", "+14155550100", WHATSAPP),
        ("whatsapp", "MG" + "a" * 32, WHATSAPP),
        ("push", "my-project", 300.0),
        ("webhook", "https://acme.example/lxt", 25.0),
        ("sms", "", math.inf),
        ("push", "", math.inf),
    ],
)
def test_default_rates_follow_the_kind_of_sender(channel: str, sender: str, rate: float) -> None:
    defaults = RateDefaults(messaging_service=7.0, push=300.0, webhook=25.0)
    assert default_rate(channel, sender, defaults) == rate


def test_the_default_rates_that_are_settings_have_their_documented_defaults() -> None:
    assert default_rate("sms", "MG" + "0" * 32) == 10.0
    assert default_rate("push", "p") == 500.0
    assert default_rate("webhook", "https://x.example") == 50.0


async def test_a_grant_consumes_and_a_refusal_says_how_long_to_wait(redis: Redis) -> None:
    key = rate_key("sms", "+14155550100")
    assert await take(redis, key, 10.0) == 0.0
    wait = await take(redis, key, 10.0)
    assert 0.09 <= wait <= 0.1
    # A refusal consumes nothing: asking again at once gets the same answer, not a longer one.
    assert await take(redis, key, 10.0) <= wait
    await asyncio.sleep(wait)
    assert await take(redis, key, 10.0) == 0.0
    assert 0 < await redis.pttl(key) <= 100  # the key lives only as long as it matters


async def test_a_multi_segment_message_costs_one_unit_per_segment(redis: Redis) -> None:
    key = rate_key("sms", "12345")
    assert await take(redis, key, 10.0, cost=3) == 0.0  # an idle sender sends a long message at once
    wait = await take(redis, key, 10.0)
    assert 0.29 <= wait <= 0.3  # the three segments' time, before the next one
    # A message longer than the burst waits until the sender is idle, then goes whole.
    other = rate_key("sms", "54321")
    assert await take(redis, other, 10.0) == 0.0
    wait = await take(redis, other, 10.0, cost=3)
    assert 0.09 <= wait <= 0.1
    await asyncio.sleep(wait)
    assert await take(redis, other, 10.0, cost=3) == 0.0
    assert 0.29 <= await take(redis, other, 10.0) <= 0.3


async def test_a_burst_allows_that_many_at_once_then_the_steady_rate(redis: Redis) -> None:
    key = rate_key("push", "p")
    grants = [await take(redis, key, 2.0, burst=3) for _ in range(4)]
    assert grants[:3] == [0.0, 0.0, 0.0]
    assert 0.45 <= grants[3] <= 0.5


async def test_an_unlimited_sender_is_never_held_back(redis: Redis) -> None:
    assert [await take(redis, "lxt:rate:sms:", math.inf) for _ in range(100)] == [0.0] * 100
    assert await redis.keys("*") == []


async def test_bad_arguments_are_refused(redis: Redis) -> None:
    for kwargs in (
        {"rate_per_second": 0.0},
        {"rate_per_second": 1.0, "cost": 0},
        {"rate_per_second": 1, "burst": 0},
    ):
        with pytest.raises(ValueError, match=r"positive|at least 1"):
            await take(redis, "k", **kwargs)  # type: ignore[arg-type]


# Each process takes from the same limiter as fast as it is let, for DURATION seconds, and prints each time it
# asked (wall clock) and whether it was let through: "G <time>" or "R <time>".
_TAKER = """
import asyncio, sys, time
from redis.asyncio import Redis
from notifications.ratelimit import take

async def main(url, key, rate, start, until):
    redis = Redis.from_url(url)
    await redis.ping()  # connected, and everything imported, before the start both wait for
    await asyncio.sleep(max(0.0, start - time.time()))
    while (now := time.time()) < until:
        wait = await take(redis, key, rate)
        print("G" if wait == 0.0 else "R", now)
        if wait > 0.0:
            await asyncio.sleep(min(wait, until - now))
    await redis.aclose()

asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])))
"""


async def test_processes_sharing_a_sender_stay_within_its_rate_together(redis_url: str) -> None:
    rate, duration = 50.0, 2.0
    key = rate_key("sms", f"+1415555{uuid.uuid4().int % 10_000:04d}")
    # Both start together once their interpreters are up and connected (5 s: even on a busy machine).
    until = time.time() + 5.0 + duration
    start = until - duration

    def run() -> list[subprocess.Popen[str]]:
        command = [sys.executable, "-c", _TAKER, redis_url, key, str(rate), str(start), str(until)]
        return [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(2)]

    takers = run()
    outputs = [await asyncio.to_thread(taker.communicate, timeout=30) for taker in takers]
    assert all(taker.returncode == 0 for taker in takers)
    asked = [[(line[0], float(line[2:])) for line in out.splitlines()] for out, _ in outputs]
    # Both asked all along, at the same time: the limiter was shared while they did. (It promises the sender's
    # rate, not an even split: a process the machine holds up for a moment loses its turns to the other.)
    together = min(times[-1][1] for times in asked) - max(times[0][1] for times in asked)
    assert together >= duration * 0.75, f"the processes asked together for {together:.2f} s only"
    grants = sorted(t for times in asked for kind, t in times if kind == "G")
    # At most one grant per 1/rate across both (a grant on the boundary, and the time between a grant and the
    # client noting it, account for the one extra).
    assert len(grants) <= rate * (grants[-1] - grants[0]) + 2
    assert len(grants) >= rate * (grants[-1] - grants[0]) * 0.7  # and the limiter does let the rate through
    # No second holds more than its share, wherever it starts.
    for first in grants:
        assert sum(1 for g in grants if first <= g < first + 1.0) <= rate + 2


def test_a_brand_holds_at_most_half_of_the_job_slots() -> None:
    slots = BrandSlots(max_jobs=50)
    busy, other = uuid.uuid4(), uuid.uuid4()
    assert [slots.try_enter(busy) for _ in range(26)] == [True] * 25 + [False]
    assert slots.held(busy) == 25
    assert slots.try_enter(other)  # the other half is free for everyone else
    slots.leave(busy)
    assert slots.try_enter(busy)
    assert not slots.try_enter(busy)
    for _ in range(25):
        slots.leave(busy)
    assert slots.held(busy) == 0


def test_a_worker_with_one_slot_still_runs_jobs() -> None:
    slots = BrandSlots(max_jobs=1)
    brand = uuid.uuid4()
    assert slots.try_enter(brand)
    assert not slots.try_enter(brand)
    slots.leave(brand)
    assert slots.try_enter(brand)
