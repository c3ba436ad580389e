"""The arq worker: which jobs and cron jobs run, and the resources they share through ``ctx`` (its
``on_startup``/``on_shutdown``, as the app's lifespan is in `server/app.py`).

The process that runs it and rides out queue outages (`lxt worker`) is `server/worker_process.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import httpx
from arq import cron, func
from arq.worker import Worker

from notifications import jobs, liveness
from notifications.channels import channels_for
from notifications.queue import SEND_INVITATION
from server import db
from server.app import queue_client
from server.settings import Settings

log = logging.getLogger("lxt.worker")

QUEUE_TIMEOUT = 5.0
"""Seconds a command to the queue may take before the worker takes the queue for lost and reconnects (its
commands are all short; a stalled Valkey would otherwise hold it forever)."""


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
    """Stop the heartbeat, remove this worker's row, and close what `open_resources` opened."""
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
        "redis_pool": queue_client(settings.redis_url, settings.queue_name, timeout=QUEUE_TIMEOUT),
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
