"""The arq worker: which jobs and cron jobs run, and the resources they share through ``ctx``."""

from __future__ import annotations

from typing import Any

import httpx
from arq import cron, func
from arq.worker import Worker

from notifications import jobs
from notifications.channels import channels_for
from notifications.queue import SEND_INVITATION
from server import db
from server.app import redis_settings
from server.settings import Settings


def create_worker(settings: Settings, **overrides: Any) -> Worker:
    """An arq Worker for `settings`; tests pass ``burst=True, poll_delay=0``."""

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["pool"] = await db.create_pool(
            settings.database_url, min_size=1, max_size=max(2, settings.db_pool_max // 2)
        )
        ctx["http"] = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
        ctx["worker_id"], ctx["started_at"] = jobs.worker_identity()
        ctx["channels"] = channels_for()
        await jobs.heartbeat(ctx)

    async def shutdown(ctx: dict[str, Any]) -> None:
        if "http" in ctx:
            await ctx["http"].aclose()
        if "pool" in ctx:
            await ctx["pool"].close()

    options: dict[str, Any] = {
        "functions": [func(jobs.send_invitation, name=SEND_INVITATION)],
        "cron_jobs": [
            cron(jobs.heartbeat, second=0, run_at_startup=False, unique=False),
            # Every minute, and at start: a worker coming up after an outage restores the lost schedule first.
            cron(jobs.sweep, second=30, run_at_startup=True),
        ],
        "redis_settings": redis_settings(settings.redis_url),
        "queue_name": settings.queue_name,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": {"settings": settings},
        "max_jobs": 50,
        "job_timeout": 60,
        "keep_result": 60,
        "handle_signals": True,
    }
    options.update(overrides)
    return Worker(**options)
