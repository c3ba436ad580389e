"""arq job functions of `responses`; the worker's ``ctx`` is described in `notifications.jobs`."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Final

from notifications.queue import enqueue_invitations
from responses import answers, conversations
from responses.studies import participation as studies

log = logging.getLogger("lxt.jobs")

ENDING_BATCH: Final = 500
ENDING_BATCHES: Final = 20
"""Batches of diaries one run reports at most (10,000 a minute); the next run goes on."""
BATCH: Final = 1000
BATCHES: Final = 50
"""Batches of expired invitations, and of conversations to close, one run works through at most (50,000 of each a
minute); the next run goes on."""


async def end_diaries(ctx: dict[str, Any]) -> int:
    """Report the end of every study diary that ended (each schedules its participant's post-survey); how many.

    Safe to run at once in several workers, and more than once: each batch locks its participants, skipping those
    another run holds, and marks them reported in its own transaction. Jobs are queued after that commit; one the
    queue does not take is left to the sweeper, like any scheduled invitation's.
    """
    now = datetime.now(UTC)
    reported = 0
    for _ in range(ENDING_BATCHES):
        async with ctx["pool"].acquire() as conn, conn.transaction():
            count, jobs = await studies.report_ended_diaries(conn, now, ENDING_BATCH)
        reported += count
        if jobs:
            try:
                await enqueue_invitations(ctx["redis"], jobs, ctx["settings"].queue_name, ctx.get("pacing"))
            except Exception as exc:
                log.warning("could not queue %d post-survey invitations (%s); the sweeper will", len(jobs), exc)
        if count < ENDING_BATCH:
            break
    if reported:
        log.info("reported the end of %d study diaries", reported)
    return reported


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
