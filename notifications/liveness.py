"""Which workers are alive: each worker process keeps a heartbeat row in ``worker_heartbeats``; `/ready` counts them.

A worker beats every `HEARTBEAT_EVERY` from a task of its own — not from an arq job, which any worker may pick up
and which waits behind the queue — and beats on while it waits for a lost queue to come back (`/ready` reports the
queue separately). It counts as alive while its last beat is younger than `ALIVE_WITHIN`, so a killed worker drops
out of the count that long after its last beat at the latest. A worker that stops gracefully deletes its row at
once, and a worker starting on a host deletes the rows its dead predecessors there left behind, so a worker
restarted after a crash is never counted twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Final

import asyncpg
import msgspec

log = logging.getLogger("lxt.liveness")

HEARTBEAT_EVERY: Final = timedelta(seconds=5)
ALIVE_WITHIN: Final = timedelta(seconds=15)
"""Three beats: a worker stalled for a moment (a slow database) is not reported dead."""
FORGET_AFTER: Final = timedelta(days=1)
"""Rows of workers that died without deleting theirs, on hosts where no worker started since, are kept this long."""

_BEAT = """
INSERT INTO worker_heartbeats (worker_id, hostname, pid, started_at, seen_at)
VALUES ($1, $2, $3, $4, now())
ON CONFLICT (worker_id) DO UPDATE SET seen_at = now()
"""
_ALIVE = "SELECT count(*) FROM worker_heartbeats WHERE seen_at > now() - $1::interval"
_SAME_HOST = "SELECT worker_id, pid FROM worker_heartbeats WHERE hostname = $1 AND worker_id <> $2"
_FORGET = "DELETE FROM worker_heartbeats WHERE worker_id = any($1::text[]) OR seen_at < now() - $2::interval"
_RETIRE = "DELETE FROM worker_heartbeats WHERE worker_id = $1"


class Worker(msgspec.Struct, frozen=True):
    """One worker process, as its heartbeat row names it."""

    worker_id: str
    hostname: str
    pid: int
    started_at: datetime

    @classmethod
    def this_process(cls) -> Worker:
        started, hostname, pid = datetime.now(UTC), socket.gethostname(), os.getpid()
        return cls(f"{hostname}:{pid}:{int(started.timestamp())}", hostname, pid, started)


async def register(pool: asyncpg.Pool, me: Worker) -> None:
    """Record `me` as alive, and forget the workers that died on this host (and every row older than a day)."""
    async with pool.acquire() as conn, conn.transaction():
        dead = [
            row["worker_id"]
            for row in await conn.fetch(_SAME_HOST, me.hostname, me.worker_id)
            # My own pid in another row: a predecessor in an earlier life of this container, say.
            if row["pid"] == me.pid or not _running(row["pid"])
        ]
        await conn.execute(_FORGET, dead, FORGET_AFTER)
        await beat(conn, me)


async def beat(conn: asyncpg.Connection, me: Worker) -> None:
    await conn.execute(_BEAT, me.worker_id, me.hostname, me.pid, me.started_at)


async def keep_beating(pool: asyncpg.Pool, me: Worker) -> None:
    """Beat every `HEARTBEAT_EVERY` until cancelled; a failed beat (database unreachable) is logged and retried."""
    failing = False
    while True:
        await asyncio.sleep(HEARTBEAT_EVERY.total_seconds())
        try:
            async with pool.acquire() as conn:
                await beat(conn, me)
        except Exception as exc:  # the database is unreachable, or slow: the loop must go on whatever happened
            if not failing:
                log.warning("heartbeat failed (%s); retrying every %s s", exc, HEARTBEAT_EVERY.total_seconds())
            failing = True
        else:
            if failing:
                log.info("heartbeats resumed")
            failing = False


async def retire(pool: asyncpg.Pool, me: Worker) -> None:
    """`me` stops: it no longer counts as alive, at once."""
    async with pool.acquire() as conn:
        await conn.execute(_RETIRE, me.worker_id)


async def count_alive(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval(_ALIVE, ALIVE_WITHIN))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        return True
    return True
