"""The arq worker: which jobs and cron jobs run, the resources they share through ``ctx``, and the process loop
(`run`) that rides out queue outages.

arq's own `Worker.run` ends, with an error, when the connection to Valkey/Redis is lost. `run` keeps the worker's
process and its resources (database pool, HTTP client, heartbeat) and reconnects with backoff instead: each
attempt is a fresh arq `Worker`, so its start-up sweep restores from PostgreSQL whatever the queue lost. Jobs in
flight when the queue went away are left to finish first; each has its state in PostgreSQL (the claim), so a
job arq runs again finds its invitation handled and does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
from typing import Any

import httpx
from arq import cron, func
from arq.worker import Worker
from redis.exceptions import RedisError

from notifications import jobs, liveness
from notifications.channels import channels_for
from notifications.queue import SEND_INVITATION
from server import db
from server.app import redis_settings
from server.backoff import Backoff
from server.settings import Settings

log = logging.getLogger("lxt.worker")

QUEUE_ERRORS = (RedisError, OSError)
"""What a lost or unusable connection to Valkey/Redis raises (refused, reset, timed out, still loading …)."""


async def open_resources(ctx: dict[str, Any]) -> None:
    """What the jobs share (``pool``, ``http``, ``channels``), and this worker's heartbeat."""
    settings: Settings = ctx["settings"]
    ctx["pool"] = await db.create_pool(
        settings.database_url, min_size=1, max_size=max(2, settings.db_pool_max // 2)
    )
    ctx["http"] = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
    ctx["channels"] = channels_for()
    ctx["me"] = me = liveness.Worker.this_process()
    await liveness.register(ctx["pool"], me)
    ctx["heartbeat"] = asyncio.create_task(liveness.keep_beating(ctx["pool"], me))


async def close_resources(ctx: dict[str, Any]) -> None:
    if heartbeat := ctx.pop("heartbeat", None):
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
    if "http" in ctx:
        await ctx.pop("http").aclose()
    if "pool" in ctx:
        pool = ctx.pop("pool")
        try:
            await liveness.retire(pool, ctx["me"])
        except Exception as exc:  # the database is down: the row ages out of the count instead
            log.warning("could not remove this worker's heartbeat: %s", exc)
        await pool.close()


def create_worker(settings: Settings, **overrides: Any) -> Worker:
    """An arq Worker for `settings`; tests pass ``burst=True, poll_delay=0``."""
    options: dict[str, Any] = {
        "functions": [func(jobs.send_invitation, name=SEND_INVITATION)],
        "cron_jobs": [
            # Every minute, and at start: a worker coming up after an outage restores the lost schedule first.
            cron(jobs.sweep, second=30, run_at_startup=True),
        ],
        "redis_settings": redis_settings(settings.redis_url),
        "queue_name": settings.queue_name,
        "on_startup": open_resources,
        "on_shutdown": close_resources,
        "ctx": {"settings": settings},
        "max_jobs": 50,
        "job_timeout": 60,
        "keep_result": 60,
        "handle_signals": True,
    }
    options.update(overrides)
    return Worker(**options)


async def run(settings: Settings, backoff: Backoff | None = None) -> None:
    """The worker process: run arq's worker until SIGINT or SIGTERM, reconnecting whenever the queue is lost."""
    backoff = backoff or Backoff(first=0.5, cap=10.0, stable=60.0)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    worker: Worker | None = None

    def stop(sig: signal.Signals) -> None:
        stopping.set()
        if worker is not None:
            worker.handle_sig(sig)  # arq's shutdown: cancels the jobs in flight and the worker's main task

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop, sig)
    # Connection attempts are this loop's: arq's own retries would only delay the next log line.
    queue = dataclasses.replace(redis_settings(settings.redis_url), conn_retries=0)
    ctx: dict[str, Any] = {"settings": settings}
    try:
        await open_resources(ctx)
        while not stopping.is_set():
            worker = create_worker(
                settings, redis_settings=queue, ctx=ctx, on_startup=None, on_shutdown=None, handle_signals=False
            )
            started = loop.time()
            worker.main_task = main = asyncio.create_task(worker.main())
            await asyncio.wait([main])
            if stopping.is_set() or main.cancelled():
                break
            error = main.exception()
            if error is None or not isinstance(error, QUEUE_ERRORS):
                if error is not None:
                    raise error
                break
            await _retire(worker)
            worker = None
            delay = backoff.delay(loop.time() - started)
            log.warning(
                "the queue is unreachable (%s: %s); reconnecting in %.1f s", type(error).__name__, error, delay
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)
    finally:
        if worker is not None:
            await _retire(worker)
        await close_resources(ctx)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _retire(worker: Worker) -> None:
    """Let the worker's jobs in flight end (within their timeout), then drop its connection to the queue, in
    whatever state the queue is. On a signal, arq has cancelled them already."""
    tasks = list(worker.tasks.values())
    if tasks:
        _, late = await asyncio.wait(tasks, timeout=worker.job_timeout_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if worker.pool is not None:
        with contextlib.suppress(*QUEUE_ERRORS):
            await worker.pool.delete(worker.health_check_key)
        with contextlib.suppress(*QUEUE_ERRORS):
            await worker.pool.aclose()
