"""Invitations sent at once through a fake Twilio, against the no-op job ceiling of the same worker set-up.

One brand, a trigger with ``delay: PT0S``, a send window of 00:00–24:00 and no frequency limits, and its own SMS
sender at 5000 messages/s (so neither the rate limit nor the pacing of the queue holds anything back). Every
event is a new customer with a phone number of its own, which is how a message at the fake is matched to its
event. The fake Twilio (`tests.fakes.twilio`, a real HTTP server on a thread of this process) stamps each
message when its request has been read, on this process's monotonic clock.

Three phases, each with `workers` ``lxt worker`` processes (or no-op workers) and one API process:

- ``noop``: the ceiling. `bench.noop_worker` processes — lxt's arq options, a job that does nothing — drain a
  queue of jobs that all become due at once, once every process is polling. Jobs per second per process.
- ``sustained``: single events POSTed to the API at `rate` per second (open loop: on schedule, whatever the
  answers take) for a warm-up second and `seconds`; each event's latency runs from the moment its POST was
  written to the moment the fake read its message. The warm-up's events are sent but not counted.
- ``backlog``: `backlog` events stored (batches) while no worker runs, their jobs held back; then the workers
  start, and once they are all up the jobs become due at once, as the no-op jobs did. Sends per second per
  process, measured from 10 % to 90 % of the messages at the fake (so start and tail do not count), is the
  figure set against the no-op ceiling.
"""

from __future__ import annotations

import asyncio
import json
import math
import pickle
import secrets
import sys
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import asyncpg
import httpx
import msgspec
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import deserialize_result, serialize_job
from redis.asyncio import Redis

from bench import load
from bench.harness import Env, api, child_environment, processes
from bench.noop_worker import NOOP
from server.worker import MAX_JOBS
from tests.fakes.base import ReceivedRequest, Reply
from tests.fakes.twilio import FakeTwilio

EXAMPLE: Final = "questionnaires/examples/store_visit_nps.yaml"
FROM: Final = "+447911123456"
SENDER_RATE: Final = 5000.0
"""The brand's SMS sender rate: far above what the workers send, so no send waits for budget."""
NOOP_QUEUE: Final = "lxt:bench:noop"
QUEUE: Final = "lxt:queue"
HOLD_FOR_MS: Final = 3_600_000
"""Held-back jobs are due this far in the future until released."""
CONNECTIONS: Final = 32
WARMUP: Final = 1.0
SETTLE: Final = 2.0
"""Seconds to let workers finish starting (their start-up sweep) after their heartbeats show."""


class Latency(msgspec.Struct):
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


class Sustained(msgspec.Struct):
    rate: float
    """Events per second offered."""
    seconds: float
    events: int
    """Events in the measured part (after the warm-up)."""
    errors: int
    """POSTs answered other than 202."""
    received: int
    """Their messages the fake received."""
    latency: Latency
    sends_per_second: float
    """Messages of measured events over the span from the first POST to the last message."""
    sends_per_second_per_worker: float


class Drain(msgspec.Struct):
    jobs: int
    tries: int
    """Job runs arq made for them: a send job of a brand at its share of a worker's slots is deferred (a try)
    and runs again."""
    seconds: float
    """From 10 % to 90 % of the jobs done."""
    per_second: float
    per_second_per_worker: float
    total_seconds: float
    """From the moment the jobs became due to the last done."""


class SendResults(msgspec.Struct):
    workers: int
    max_jobs: int
    sender_rate: float
    noop: Drain
    sustained: Sustained
    backlog: Drain
    ratio: float
    """Backlog sends per second per worker process ÷ no-op jobs per second per worker process."""


class CountingTwilio(FakeTwilio):
    """The fake Twilio, also keeping (To, received_at) of each accepted message in `received`: reading
    `messages` copies every message, too slow to poll while it keeps receiving."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.received: list[tuple[str, float]] = []

    def _accept(self, form: dict[str, str], request: ReceivedRequest) -> Reply:
        reply = super()._accept(form, request)
        self.received.append((form["To"], request.received_at))  # list.append: atomic under the GIL
        return reply


def _phone(run: str, phase: int, i: int) -> str:
    # German mobile numbers, a block of them per phase (015x prefixes in use: 1, 2, 7, 9).
    return f"+4915{phase}{(zlib.crc32(run.encode()) + i) % 10**8:08d}"


def _event(run: str, phase: int, i: int) -> dict:
    return {
        "idempotency_key": f"{run}-{phase}-{i}",
        "touchpoint": "store_visit",
        "customer": {
            "external_id": f"{run}-{phase}-c{i}",
            "phone": _phone(run, phase, i),
            "consents": {"sms": True},
        },
        "attributes": {"store": "berlin-mitte"},
    }


def _setup(base: str, manage_key: str) -> None:
    headers = {"Authorization": f"Bearer {manage_key}"}
    with open(EXAMPLE, "rb") as f:
        httpx.post(
            f"{base}/v1/questionnaires", content=f.read(), headers={**headers, "content-type": "application/yaml"}
        ).raise_for_status()
    httpx.put(
        f"{base}/v1/touchpoints/store_visit", json={"name": "Store visit"}, headers=headers
    ).raise_for_status()
    trigger = {
        "key": "after_visit", "name": "After visit", "touchpoint": "store_visit", "questionnaire": "store_visit_nps",
        "delay": "PT0S", "send_window": {"start": "00:00", "end": "24:00"},
        "frequency": {"brand_gap": "PT0S", "trigger_gap": "PT0S"},
    }  # fmt: skip
    httpx.put(f"{base}/v1/triggers/after_visit", json=trigger, headers=headers).raise_for_status()
    httpx.put(
        f"{base}/v1/senders/sms", json={"from": FROM, "rate_per_second": SENDER_RATE}, headers=headers
    ).raise_for_status()


# -- the queue: jobs held back, then all due at once ------------------------------------------------------------


async def _hold(redis: Redis, queue: str) -> list[bytes]:
    """Move every job of `queue` far into the future; return their ids."""
    ids: list[bytes] = await redis.zrange(queue, 0, -1)
    far = int(time.time() * 1000) + HOLD_FOR_MS
    for chunk in _chunks(ids, 5000):
        await redis.zadd(queue, dict.fromkeys(chunk, far), xx=True)
    return ids


async def _release(redis: Redis, queue: str, ids: list[bytes]) -> float:
    """Make the jobs `ids` due now; return the monotonic time they became due."""
    now_ms = int(time.time() * 1000)
    async with redis.pipeline(transaction=True) as pipe:
        for chunk in _chunks(ids, 5000):
            pipe.zadd(queue, dict.fromkeys(chunk, now_ms), xx=True)
        await pipe.execute()
    return time.monotonic()


async def _tries(redis: Redis, ids: list[bytes]) -> int:
    """How many times arq ran the jobs `ids`, from their kept results."""
    tries = 0
    for chunk in _chunks(ids, 5000):
        for raw in await redis.mget([result_key_prefix + job_id.decode() for job_id in chunk]):
            if raw is not None:
                tries += deserialize_result(raw, deserializer=pickle.loads).job_try
    return tries


def _chunks(items: list[bytes], size: int) -> Iterator[list[bytes]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _drain(done_at: list[float], due_at: float, workers: int, tries: int) -> Drain:
    """The rate between 10 % and 90 % of `done_at` (monotonic completion times, any order)."""
    done_at = sorted(done_at)
    n = len(done_at)
    first, last = done_at[n // 10], done_at[(9 * n) // 10 - 1]
    seconds = max(last - first, 1e-9)
    per_second = ((9 * n) // 10 - 1 - n // 10) / seconds
    return Drain(
        jobs=n,
        tries=tries,
        seconds=round(seconds, 3),
        per_second=round(per_second, 1),
        per_second_per_worker=round(per_second / workers, 1),
        total_seconds=round(done_at[-1] - due_at, 3),
    )


# -- phases ----------------------------------------------------------------------------------------------------


async def _noop(env: Env, workers: int, jobs: int) -> Drain:
    redis = Redis.from_url(env.settings.redis_url)
    try:
        await redis.delete(NOOP_QUEUE, f"{NOOP_QUEUE}:ready")
        now_ms = int(time.time() * 1000)
        far = now_ms + HOLD_FOR_MS
        for start in range(0, jobs, 5000):
            async with redis.pipeline(transaction=False) as pipe:
                for i in range(start, min(jobs, start + 5000)):
                    job_id = f"noop:{i}"
                    payload = serialize_job(NOOP, (), {}, None, now_ms, serializer=pickle.dumps)
                    pipe.psetex(job_key_prefix + job_id, HOLD_FOR_MS * 2, payload)
                    pipe.zadd(NOOP_QUEUE, {job_id: far})
                await pipe.execute()
        child_env = child_environment(env, LXT_BENCH_NOOP_QUEUE=NOOP_QUEUE)
        command = [sys.executable, "-m", "bench.noop_worker"]
        with processes([command] * workers, child_env, "no-op worker", may_end=True) as procs:
            await _until(lambda: _ready(redis, workers), 30, "the no-op workers to start")
            await asyncio.sleep(0.5)
            ids = await redis.zrange(NOOP_QUEUE, 0, -1)
            due_at = await _release(redis, NOOP_QUEUE, ids)
            # Each job leaves the queue when it is done: sample how many are left.
            samples: list[tuple[float, int]] = []
            left = jobs
            while left:
                left = int(await redis.zcard(NOOP_QUEUE))
                samples.append((time.monotonic(), left))
                await asyncio.sleep(0.002)
            for proc in procs:
                await asyncio.to_thread(proc.wait, 30)
        done_at: list[float] = []
        previous = jobs
        for at, left in samples:
            done_at += [at] * (previous - left)
            previous = left
        return _drain(done_at, due_at, workers, await _tries(redis, ids))
    finally:
        await redis.aclose()


async def _ready(redis: Redis, workers: int) -> bool:
    return int(await redis.get(f"{NOOP_QUEUE}:ready") or 0) >= workers


async def _until(check: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _workers_alive(database_url: str, workers: int) -> bool:
    conn = await asyncpg.connect(database_url)
    try:
        alive = await conn.fetchval(
            "SELECT count(*) FROM worker_heartbeats WHERE seen_at > now() - interval '15 seconds'"
        )
    finally:
        await conn.close()
    return int(alive) >= workers


async def _post_at_rate(port: int, requests: list[tuple[str, bytes]], rate: float) -> tuple[dict[str, float], int]:
    """POST `requests` (phone, request) on schedule, `rate` a second, over keep-alive connections; return when
    each was written, by phone, and how many were answered other than 202."""
    idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(CONNECTIONS):
        idle.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    sent: dict[str, float] = {}
    errors = 0

    async def post(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], phone: str, request: bytes) -> None:
        nonlocal errors
        reader, writer = conn
        sent[phone] = time.monotonic()
        writer.write(request)
        if await load.read_response(reader) != 202:
            errors += 1
        idle.put_nowait(conn)

    tasks: set[asyncio.Task] = set()
    start = time.monotonic()
    for i, (phone, request) in enumerate(requests):
        wait = start + i / rate - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        task = asyncio.create_task(post(await idle.get(), phone, request))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    while not idle.empty():
        idle.get_nowait()[1].close()
    return sent, errors


async def _sustained(
    fake: CountingTwilio, port: int, key: str, run: str, rate: float, seconds: float, workers: int
) -> Sustained:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    count = math.ceil(rate * (WARMUP + seconds))
    warmup = math.ceil(rate * WARMUP)
    requests = [
        (_phone(run, 2, i), load.build_request("POST", "/v1/events", "127.0.0.1", headers, json.dumps(_event(run, 2, i)).encode()))
        for i in range(count)
    ]  # fmt: skip
    sent, errors = await _post_at_rate(port, requests, rate)
    measured = {phone: sent[phone] for phone, _ in requests[warmup:]}
    received = await _collect(fake, set(sent), quiet=30)
    latencies = sorted(received[p] - t for p, t in measured.items() if p in received)
    first_post = min(measured.values())
    last_message = max((received[p] for p in measured if p in received), default=first_post)
    span = max(last_message - first_post, 1e-9)
    return Sustained(
        rate=rate,
        seconds=seconds,
        events=len(measured),
        errors=errors,
        received=len(latencies),
        latency=Latency(
            p50_ms=load.percentile(latencies, 0.50),
            p95_ms=load.percentile(latencies, 0.95),
            p99_ms=load.percentile(latencies, 0.99),
            max_ms=load.percentile(latencies, 1.0),
        ),
        sends_per_second=round(len(latencies) / span, 1),
        sends_per_second_per_worker=round(len(latencies) / span / workers, 1),
    )


async def _collect(fake: CountingTwilio, phones: set[str], quiet: float) -> dict[str, float]:
    """When the fake received each of `phones` (giving up after `quiet` seconds without a new message)."""
    found: dict[str, float] = {}
    seen = 0
    quiet_since = time.monotonic()
    while len(found) < len(phones) and time.monotonic() - quiet_since < quiet:
        await asyncio.sleep(0.05)
        arrived = fake.received[seen:]
        seen += len(arrived)
        if arrived:
            quiet_since = time.monotonic()
        found.update((to, at) for to, at in arrived if to in phones and to not in found)
    return found


async def _store_backlog(port: int, key: str, run: str, count: int) -> set[str]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as client:
        for start in range(0, count, 1000):
            events = [_event(run, 7, i) for i in range(start, min(count, start + 1000))]
            response = await client.post("/v1/events/batch", json={"events": events})
            if response.status_code != 200:
                raise RuntimeError(f"storing the backlog: {response.status_code} {response.text}")
    return {_phone(run, 7, i) for i in range(count)}


async def _backlog(
    env: Env, fake: CountingTwilio, port: int, run: str, count: int, workers: int, worker_env: dict[str, str],
    profile: Path | None,
) -> Drain:  # fmt: skip
    redis = Redis.from_url(env.settings.redis_url)
    try:
        phones = await _store_backlog(port, env.keys["ingest"], run, count)
        # Nothing runs them yet; hold them back all the same, so that they become due at one moment.
        await _until(lambda: _queued(redis, count), 30, "the backlog's jobs")
        ids = await _hold(redis, QUEUE)
        with _lxt_workers(workers, worker_env, profile):
            await _until(lambda: _workers_alive(env.settings.database_url, workers), 60, "the workers to start")
            await asyncio.sleep(SETTLE)
            due_at = await _release(redis, QUEUE, ids)
            received = await _collect(fake, phones, quiet=30)
        if len(received) < count:
            raise RuntimeError(f"backlog: only {len(received)} of {count} messages arrived")
        return _drain(list(received.values()), due_at, workers, await _tries(redis, ids))
    finally:
        await redis.aclose()


async def _queued(redis: Redis, count: int) -> bool:
    return int(await redis.zcard(QUEUE)) >= count


def _lxt_workers(workers: int, worker_env: dict[str, str], profile: Path | None = None) -> Any:
    """`workers` ``lxt worker`` processes; with `profile` (a directory), each under cProfile, its CPU profile
    written there as ``worker-<n>.pstats``."""
    if profile is None:
        commands = [[sys.executable, "-m", "server.cli", "worker"]] * workers
    else:
        profile.mkdir(parents=True, exist_ok=True)
        commands = [
            [sys.executable, "-m", "bench.profiled_worker", str(profile / f"worker-{n}.pstats")]
            for n in range(workers)
        ]
    return processes(commands, worker_env, "lxt worker")


async def _measure(
    env: Env, fake: CountingTwilio, port: int, worker_env: dict[str, str], *, rate: float, seconds: float,
    workers: int, backlog: int, noop_jobs: int, profile: Path | None,
) -> SendResults:  # fmt: skip
    run = datetime.now(UTC).strftime("%H%M%S") + secrets.token_hex(2)
    noop = await _noop(env, workers, noop_jobs)
    with _lxt_workers(workers, worker_env):
        await _until(lambda: _workers_alive(env.settings.database_url, workers), 60, "the workers to start")
        await asyncio.sleep(SETTLE)
        sustained = await _sustained(fake, port, env.keys["ingest"], run, rate, seconds, workers)
    sends = await _backlog(env, fake, port, run, backlog, workers, worker_env, profile)
    return SendResults(
        workers=workers,
        max_jobs=MAX_JOBS,
        sender_rate=SENDER_RATE,
        noop=noop,
        sustained=sustained,
        backlog=sends,
        ratio=round(sends.per_second_per_worker / noop.per_second_per_worker, 3),
    )


def measure(
    env: Env,
    *,
    rate: float,
    seconds: float,
    workers: int,
    backlog: int,
    noop_jobs: int,
    profile: Path | None = None,
) -> SendResults:
    """The three phases; with `profile` (a directory), the backlog's workers run under cProfile (CPU time) and
    leave their profiles there — their rate is then not comparable."""
    with CountingTwilio() as fake:
        lxt_env = {
            "LXT_TWILIO_ACCOUNT_SID": fake.account_sid,
            "LXT_TWILIO_AUTH_TOKEN": fake.auth_token,
            "LXT_TWILIO_API_BASE": fake.url,
        }
        with api(env, extra_env=lxt_env) as port:
            _setup(f"http://127.0.0.1:{port}", env.keys["manage"])
            worker_env = child_environment(env, LXT_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}", **lxt_env)
            return asyncio.run(
                _measure(
                    env, fake, port, worker_env, rate=rate, seconds=seconds, workers=workers, backlog=backlog,
                    noop_jobs=noop_jobs, profile=profile,
                )
            )  # fmt: skip
