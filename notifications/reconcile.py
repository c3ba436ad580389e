"""Settling sends whose worker died: the other half of closing the crash window (see `notifications.send`).

An invitation still ``sending`` well after its claim (longer than any job may run) lost its worker. Its current
attempt tells what may have happened:

- no attempt recorded: the provider was never called → sent again (the job's re-check ends it as stale or
  expired if its time is over);
- an attempt left ``pending`` or ``unknown``: the provider is asked (Twilio: its Messages list, filtered by
  recipient and date, matched by body) → it has the message: the invitation is ``sent``; it certainly has none:
  sent again; it cannot tell (unreachable, or a provider that cannot be asked, like FCM): asked again at the
  next sweep, and once the invitation is past its freshness limit it ends ``failed`` ``interrupted``.

A status callback that arrives first settles the attempt on its own (`notifications.receipts`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

import asyncpg
import msgspec

from notifications import queries
from notifications.providers import Providers
from notifications.send import MAX_SEND_ATTEMPTS
from triggers.queries import move_invitation, reschedule_invitation

log = logging.getLogger("lxt.reconcile")

STUCK_AFTER: Final = timedelta(minutes=2)
"""An invitation still ``sending`` this long after its claim lost its worker (jobs time out after 60 s)."""
BATCH: Final = 500

Enqueue = Callable[[UUID, str, datetime], Awaitable[None]]


class Reconciled(msgspec.Struct, kw_only=True):
    sent: int = 0
    retried: int = 0
    interrupted: int = 0
    undecided: int = 0


async def reconcile(pool: asyncpg.Pool, providers: Providers, now: datetime, enqueue: Enqueue) -> Reconciled:
    """Settle every invitation left ``sending`` since before ``now - STUCK_AFTER`` (one batch).

    Sweeps may overlap (each worker sweeps as it starts): every change here holds only while the invitation is
    still the claim the batch read (its ``attempts``), and an attempt another sweep or a status callback settled
    first is left alone.
    """
    result = Reconciled()
    async with pool.acquire() as conn:
        stuck = await queries.stuck_invitations(conn, now - STUCK_AFTER, BATCH)
    for item in stuck:
        if item.message_id is None or item.message_status not in ("pending", "unknown"):
            # No attempt of this claim reached the provider: send it again.
            if await _send_again(pool, item, now, "interrupted_before_send", enqueue):
                result.retried += 1
            continue
        assert item.provider is not None and item.recipient is not None and item.attempted_at is not None
        found = await providers.find(
            item.provider,
            recipient=item.recipient,
            stored_body=item.body or "",
            token_hash=item.link_token_hash,
            attempted_at=item.attempted_at,
            sender=item.sender,
        )
        async with pool.acquire() as conn, conn.transaction():
            if found.kind == "found":
                if await queries.settle_attempt(
                    conn,
                    item.brand_id,
                    item.message_id,
                    "accepted",
                    now,
                    provider_message_id=found.provider_message_id,
                    delivery_status=found.status,
                ):
                    await move_invitation(
                        conn,
                        item.brand_id,
                        item.invitation_id,
                        "sent",
                        None,
                        now,
                        item.channel,
                        attempts=item.attempts,
                    )
                    result.sent += 1
                continue
            if found.kind == "unknown" and now <= item.send_by:
                await queries.settle_attempt(conn, item.brand_id, item.message_id, "unknown", now)
                result.undecided += 1  # asked again at the next sweep
                continue
            settled = "not_sent" if found.kind == "none" else "unknown"
            if not await queries.settle_attempt(conn, item.brand_id, item.message_id, settled, now):
                continue  # settled meanwhile (another sweep, a status callback)
            if found.kind == "unknown":
                if await move_invitation(
                    conn, item.brand_id, item.invitation_id, "failed", "interrupted", now, attempts=item.attempts
                ):
                    result.interrupted += 1
                continue
        if await _send_again(pool, item, now, "interrupted_not_sent", enqueue):
            result.retried += 1
    if stuck:
        log.warning(
            "reconciled %d interrupted sends: %d sent, %d sent again, %d interrupted, %d undecided",
            len(stuck),
            result.sent,
            result.retried,
            result.interrupted,
            result.undecided,
        )
    return result


async def _send_again(
    pool: asyncpg.Pool, item: queries.Stuck, now: datetime, reason: str, enqueue: Enqueue
) -> bool:
    """Back to ``scheduled`` for now (the job's re-check ends it as stale or expired if its time is over), or
    ``failed`` ``interrupted`` when it has had its attempts; True if this sweep moved it."""
    async with pool.acquire() as conn:
        if item.attempts >= MAX_SEND_ATTEMPTS:
            return await move_invitation(
                conn, item.brand_id, item.invitation_id, "failed", "interrupted", now, attempts=item.attempts
            )
        moved = await reschedule_invitation(
            conn,
            item.brand_id,
            item.invitation_id,
            now,
            reason,
            now,
            counts_as_attempt=True,
            attempts=item.attempts,
        )
    if moved:
        await enqueue(item.brand_id, item.invitation_id, now)
    return moved
