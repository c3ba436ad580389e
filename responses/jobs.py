"""arq job functions of `responses`; the worker's ``ctx`` is described in `notifications.jobs`."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Final

from responses import answers, conversations

log = logging.getLogger("lxt.jobs")

BATCH: Final = 1000
BATCHES: Final = 50
"""Batches one run works through at most (50,000 invitations and as many conversations a minute); the next run
goes on."""


async def close_expired(ctx: dict[str, Any]) -> int:
    """Mark sent invitations whose time is over ``expired`` (`responses.answers.expire_due`), then close the
    conversations that ended with their invitation — expired, completed, never sent after all, or idle for as
    long as the invitation lived (`responses.conversations.close_stale`); return how many conversations closed.

    Safe to run at once in several workers, and more than once: each batch is its own short transaction over rows
    it locks, skipping those another run holds.
    """
    now = datetime.now(UTC)
    expired = closed = 0
    for _ in range(BATCHES):
        async with ctx["pool"].acquire() as conn:
            done = await answers.expire_due(conn, now, BATCH)
        expired += done
        if done < BATCH:
            break
    for _ in range(BATCHES):
        async with ctx["pool"].acquire() as conn:
            done = await conversations.close_stale(conn, now, BATCH)
        closed += done
        if done < BATCH:
            break
    if expired or closed:
        log.info("%d invitations expired, %d conversations closed", expired, closed)
    return closed
