"""Group commit for event ingestion: many concurrent requests share one transaction and one WAL flush.

A request hands its validated events to `Ingestor.submit` and waits. While up to `max_inflight` groups are being
committed, new requests queue up; when a group finishes, the next one takes everything that queued meanwhile
(up to `max_group` events, never splitting a request). At low load a request is committed alone and at once —
there is no timer — and under load the groups grow, so the fsync per commit is shared instead of paid per
request. A response is sent only after its group committed, and the invitations' send jobs are enqueued after
that commit (paced per brand at its sender's rate, see `notifications.queue`), for at most `ENQUEUE_WITHIN`
seconds: if the queue is unreachable or does not answer, the events stay committed, the requests are answered
all the same, and the sweeper enqueues the jobs later.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from datetime import UTC, datetime

import asyncpg
from arq.connections import ArqRedis

from notifications.queue import Pacing, enqueue_invitations
from server import db
from triggers import schedule
from triggers.events import EventResult
from triggers.schedule import InvitationJob, Pending

log = logging.getLogger("lxt.ingest")

ENQUEUE_WITHIN = 2.0
"""Seconds a group's requests wait for their jobs to be queued: a queue that hangs must not hold up ingestion."""


class Ingestor:
    def __init__(
        self,
        pool: asyncpg.Pool,
        redis: ArqRedis,
        queue_name: str,
        *,
        pacing: Pacing | None = None,
        max_group: int = 1000,
        max_inflight: int = 2,
    ) -> None:
        self.pool = pool
        self.redis = redis
        self.queue_name = queue_name
        self.pacing = pacing
        self.max_group = max_group
        self.max_inflight = max_inflight
        self._waiting: deque[tuple[list[Pending], asyncio.Future[list[EventResult]]]] = deque()
        self._inflight: set[asyncio.Task[None]] = set()

    async def submit(self, pending: list[Pending]) -> list[EventResult]:
        """Ingest `pending` (one request's events); return their results once committed."""
        future: asyncio.Future[list[EventResult]] = asyncio.get_running_loop().create_future()
        self._waiting.append((pending, future))
        self._start_groups()
        # shield: a client that disconnects must not cancel a commit that other requests share.
        return await asyncio.shield(future)

    async def conflicts(self, pending: list[Pending]) -> list[int]:
        """Indexes of events whose idempotency key is already stored for a different event."""
        async with db.acquire(self.pool) as conn:
            return await schedule.stored_conflicts(conn, pending)

    async def drain(self) -> None:
        """Wait for every queued and running group (shutdown)."""
        while self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)

    def _start_groups(self) -> None:
        while self._waiting and len(self._inflight) < self.max_inflight:
            group = [self._waiting.popleft()]
            size = len(group[0][0])
            while self._waiting and size + len(self._waiting[0][0]) <= self.max_group:
                size += len(self._waiting[0][0])
                group.append(self._waiting.popleft())
            task = asyncio.create_task(self._commit_group(group))
            self._inflight.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._start_groups()

    async def _commit_group(self, group: list[tuple[list[Pending], asyncio.Future[list[EventResult]]]]) -> None:
        items = [p for pending, _ in group for p in pending]
        try:
            results, jobs = await self._commit(items)
        except Exception as exc:
            if len(group) == 1:
                _fail(group[0][1], exc)
                return
            # Something in this group broke the shared transaction: commit each request on its own, so that
            # only the request at fault fails.
            log.warning("group of %d requests failed (%s); retrying them one by one", len(group), exc)
            await asyncio.gather(*(self._commit_group([request]) for request in group))
            return
        await self.enqueue(jobs)
        offset = 0
        for pending, future in group:
            if not future.done():
                future.set_result(results[offset : offset + len(pending)])
            offset += len(pending)

    async def _commit(self, items: list[Pending]) -> tuple[list[EventResult], list[InvitationJob]]:
        async def ingest(conn: asyncpg.Connection, attempt: int) -> tuple[list[EventResult], list[InvitationJob]]:
            # Repeated keys are rare: the first attempt skips looking them up (one round trip less), and a
            # repeated key then fails the write with a unique violation, so the retry looks them up.
            return await schedule.ingest(conn, items, datetime.now(UTC), look_up_keys=attempt > 0)

        async with db.acquire(self.pool) as conn:
            return await db.with_retries(conn, ingest)

    async def enqueue(self, jobs: list[InvitationJob]) -> None:
        """Queue committed invitations' send jobs, paced, within `ENQUEUE_WITHIN` seconds; what does not reach the
        queue is logged and left to the sweeper (also for other routes that schedule invitations)."""
        if not jobs:
            return
        # The invitations are committed: whatever does not reach the queue now, the sweeper enqueues later.
        try:
            async with asyncio.timeout(ENQUEUE_WITHIN):
                await enqueue_invitations(self.redis, jobs, self.queue_name, self.pacing)
        except TimeoutError:
            log.error(
                "could not enqueue %d invitation jobs (the sweeper will): no answer from the queue within %.0f s",
                len(jobs),
                ENQUEUE_WITHIN,
            )
        except Exception as exc:
            log.error("could not enqueue %d invitation jobs (the sweeper will): %s", len(jobs), exc)


def _fail(future: asyncio.Future[list[EventResult]], exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)
