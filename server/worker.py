"""The arq worker: which jobs and cron jobs run, and the resources they share through ``ctx`` (its
``on_startup``/``on_shutdown``, as the app's lifespan is in `server/app.py`).

The process that runs it and rides out queue outages (`lxt worker`) is `server/worker_process.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path
from typing import Any

import httpx
from arq import cron, func
from arq.cron import CronJob
from arq.worker import Worker

from notifications import jobs, liveness, senders
from notifications.fcm import Fcm
from notifications.providers import Providers
from notifications.queue import SEND_INVITATION, Pacing
from notifications.ratelimit import BrandSlots
from notifications.twilio import Twilio
from research import jobs as research_jobs
from responses import jobs as response_jobs
from server import db
from server.app import queue_client
from server.settings import Settings

log = logging.getLogger("lxt.worker")

MAX_JOBS = 50
"""Jobs one worker process runs at once; one brand gets at most half of them (`notifications.ratelimit`)."""
POLL_DELAY = 0.1
PROVIDER_TIMEOUT = 10.0
"""Seconds a provider call may take (Twilio answers in well under a second)."""

QUEUE_TIMEOUT = 5.0
"""Seconds a command to the queue may take before the worker takes the queue for lost and reconnects (its
commands are all short; a stalled Valkey would otherwise hold it forever)."""


async def open_resources(ctx: dict[str, Any]) -> None:
    """What the jobs share (``pool``, ``http``, ``channels``), and this worker's heartbeat."""
    settings: Settings = ctx["settings"]
    ctx["pool"] = await db.create_pool(
        settings.database_url, min_size=1, max_size=max(2, settings.db_pool_max // 2), reset_session=False
    )
    ctx["http"] = http = httpx.AsyncClient(
        timeout=httpx.Timeout(PROVIDER_TIMEOUT, connect=5.0),
        limits=httpx.Limits(max_connections=MAX_JOBS * 2, max_keepalive_connections=MAX_JOBS),
    )
    ctx["providers"] = providers(settings, http)
    ctx["pacing"] = Pacing(ctx["pool"], ctx["providers"].defaults)
    ctx["slots"] = BrandSlots(MAX_JOBS)
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


def providers(settings: Settings, http: httpx.AsyncClient) -> Providers:
    """The providers `settings` configure; channels without theirs go to the sandbox."""
    twilio = (
        Twilio(
            http,
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token,
            api_key=settings.twilio_api_key,
            api_secret=settings.twilio_api_secret,
            api_base=settings.twilio_api_base,
            timeout=PROVIDER_TIMEOUT,
        )
        if settings.twilio_configured
        else None
    )
    fcm = None
    if settings.fcm_project_id and settings.fcm_credentials_file:
        credentials = json.loads(Path(settings.fcm_credentials_file).read_text())
        fcm = Fcm(
            http, project_id=settings.fcm_project_id, credentials=credentials, api_base=settings.fcm_api_base
        )
    return Providers(
        base_url=settings.base_url,
        twilio=twilio,
        fcm=fcm,
        http=http,
        defaults=senders.SenderDefaults.from_settings(settings),
        signing_key=settings.signing_key,
        webhook_allow_private=settings.webhook_allow_private,
    )


def schedule() -> list[CronJob]:
    """The worker's recurring jobs."""
    return [
        # Every minute, and at start: a worker coming up after an outage restores the lost schedule first.
        cron(jobs.sweep, second=30, run_at_startup=True),
        # Study diaries that ended: their post-surveys go out within a minute.
        cron(response_jobs.end_diaries, second=0, run_at_startup=True),
        # Invitations whose time is over, and the conversations that end with them.
        cron(response_jobs.close_expired, second=45, run_at_startup=False),
        # Hourly: raw events, messages and answers older than each brand's retention period, anonymised.
        cron(
            research_jobs.apply_retention,
            minute=17,
            second=15,
            run_at_startup=False,
            timeout=research_jobs.RETENTION_TIMEOUT,
        ),
    ]


def create_worker(settings: Settings, **overrides: Any) -> Worker:
    """An arq Worker for `settings`; tests pass ``burst=True, poll_delay=0``."""
    options: dict[str, Any] = {
        # Deferrals for a brand at its share of the slots count as tries: allow plenty.
        "functions": [func(jobs.send_invitation, name=SEND_INVITATION, max_tries=10_000)],
        "cron_jobs": schedule(),
        "redis_pool": queue_client(settings.redis_url, settings.queue_name, timeout=QUEUE_TIMEOUT),
        "queue_name": settings.queue_name,
        "on_startup": open_resources,
        "on_shutdown": close_resources,
        "ctx": {"settings": settings},
        "max_jobs": MAX_JOBS,
        # arq polls the queue this often when idle (its default, 0.5 s, is the floor of event-to-phone latency).
        "poll_delay": POLL_DELAY,
        "job_timeout": 60,
        "keep_result": 60,
        "handle_signals": True,
    }
    options.update(overrides)
    return Worker(**options)
