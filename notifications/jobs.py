"""arq job functions. Each takes ids, re-reads state from PostgreSQL and is safe to run more than once.

The worker's ``ctx`` carries ``pool`` (asyncpg), ``redis`` (the arq pool), ``http`` (httpx.AsyncClient),
``settings``, ``providers`` (`notifications.providers.Providers`) and ``slots`` (`BrandSlots`).
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from uuid import UUID

from arq import Retry

from notifications import queries
from notifications.queue import enqueue_invitations
from notifications.ratelimit import BrandSlots
from notifications.reconcile import reconcile
from notifications.send import Enqueue, load, send_claimed
from triggers import idempotency
from triggers.queries import prune_idempotency_keys
from triggers.schedule import InvitationJob

log = logging.getLogger("lxt.jobs")

SWEEP_AHEAD: Final = timedelta(minutes=2)
"""The sweeper also enqueues invitations due this soon, so a lost job never makes one late."""
SWEEP_LIMIT: Final = 10_000
SWEEP_BATCHES: Final = 30
"""Batches of `SWEEP_LIMIT` due invitations one sweep enqueues at most (300,000 a minute)."""
PRUNE_BATCHES: Final = 30
"""Batches of `SWEEP_LIMIT` expired idempotency keys one sweep deletes at most (300,000 a minute)."""
RECONCILE_WITHIN: Final = timedelta(seconds=30)
"""How long one sweep spends asking providers about interrupted sends (jobs time out after 60 s)."""
BUSY_DEFER: Final = timedelta(milliseconds=100)
"""How long a job of a brand at its share of the worker's slots waits before it asks again (up to twice that)."""


async def send_invitation(ctx: dict[str, Any], brand_id: str, invitation_id: str) -> str:
    """Claim the invitation, re-check it and send it on the first reachable channel; return what happened.

    Safe to run twice: only the run that moves it from ``scheduled`` to ``sending`` goes on. The claim itself
    withdraws (cancels) an invitation whose trigger was deactivated or questionnaire archived meanwhile. Once
    claimed, the invitation always ends explained — sent, failed (with a code), expired or suppressed — or goes
    back to ``scheduled`` (a retry, or deferred for rate budget or the customer's window); if this worker dies
    in between, the sweeper reconciles it (`notifications.reconcile`).

    A brand already holding half of this worker's job slots waits its turn (the job is re-queued shortly, no
    slot is held meanwhile), so one brand's burst never keeps another brand's due invitations waiting.
    """
    brand = UUID(brand_id)
    slots: BrandSlots = ctx["slots"]
    if not slots.try_enter(brand):
        raise Retry(defer=BUSY_DEFER.total_seconds() * random.uniform(1.0, 2.0))  # noqa: S311 (jitter)
    try:
        now = datetime.now(UTC)
        async with ctx["pool"].acquire() as conn:
            claimed = await queries.claim(conn, brand, invitation_id, now)
            if claimed is None:
                return "not claimed (already handled, or not due)"
            if claimed.withdrawn:
                return f"cancelled ({claimed.withdrawn})"
            loaded = await load(conn, ctx["providers"], claimed, now)
        if isinstance(loaded, str):
            return loaded
        return await send_claimed(ctx, claimed, loaded, now, _enqueuer(ctx))
    finally:
        slots.leave(brand)


def _enqueuer(ctx: dict[str, Any]) -> Enqueue:
    async def enqueue(brand_id: UUID, invitation_id: str, planned_at: datetime) -> None:
        # If the queue is down the sweeper enqueues it later: the invitation is scheduled in PostgreSQL.
        try:
            await enqueue_invitations(
                ctx["redis"], [InvitationJob(brand_id, invitation_id, planned_at)], ctx["settings"].queue_name
            )  # unpaced: the rate limit at send time holds a retried or deferred send
        except Exception as exc:
            log.warning("could not queue invitation %s again (%s); the sweeper will", invitation_id, exc)

    return enqueue


async def sweep(ctx: dict[str, Any]) -> int:
    """Re-enqueue every due invitation whose job is gone (queue flushed or restarted, enqueue failed), settle
    invitations left in ``sending`` by a worker that died (`notifications.reconcile`), and forget idempotency
    keys older than their retention.

    PostgreSQL is the truth: this scans scheduled invitations due within `SWEEP_AHEAD` and enqueues their jobs.
    Enqueueing is idempotent per invitation (the job id), so a job that still exists is left alone and nothing
    is ever queued twice. Returns how many jobs it re-created.
    """
    now = datetime.now(UTC)
    added = found = 0
    last = None
    # Batch by batch, each queued before the next is read: after a lost queue, the first jobs are back at once.
    for _ in range(SWEEP_BATCHES):
        async with ctx["pool"].acquire() as conn:
            due = await queries.due_invitations(conn, now + SWEEP_AHEAD, SWEEP_LIMIT, last)
        if due:
            found += len(due)
            added += await enqueue_invitations(ctx["redis"], due, ctx["settings"].queue_name, ctx.get("pacing"))
            last = due[-1]
        if len(due) < SWEEP_LIMIT:
            break
    async with ctx["pool"].acquire() as conn:
        # In batches (each its own short transaction), until the old keys are gone or this sweep has done its
        # share: PRUNE_BATCHES x SWEEP_LIMIT a minute outpaces any sustained event rate one database takes.
        for _ in range(PRUNE_BATCHES):
            if await prune_idempotency_keys(conn, now - idempotency.RETENTION, SWEEP_LIMIT) < SWEEP_LIMIT:
                break
    if added:
        log.warning("sweeper re-enqueued %d of %d due invitations", added, found)
    # Last, and within a budget: asking providers about lost sends may be slow (a provider that does not
    # answer), and must not keep the due invitations above from the queue.
    try:
        async with asyncio.timeout(RECONCILE_WITHIN.total_seconds()):
            await reconcile(ctx["pool"], ctx["providers"], now, _enqueuer(ctx))
    except TimeoutError:
        log.warning("reconciling interrupted sends took over %s; the next sweep goes on", RECONCILE_WITHIN)
    return added
