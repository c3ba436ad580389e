"""arq job functions. Each takes ids, re-reads state from PostgreSQL and is safe to run more than once.

The worker's ``ctx`` carries ``pool`` (asyncpg), ``http`` (httpx.AsyncClient), ``settings`` and ``worker_id``.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from typing import Any

HEARTBEAT_SQL = """
INSERT INTO worker_heartbeats (worker_id, hostname, pid, started_at, seen_at, jobs_done)
VALUES ($1, $2, $3, $4, now(), $5)
ON CONFLICT (worker_id) DO UPDATE SET seen_at = now(), jobs_done = EXCLUDED.jobs_done
"""

PRUNE_HEARTBEATS_SQL = "DELETE FROM worker_heartbeats WHERE seen_at < now() - interval '1 day'"


async def heartbeat(ctx: dict[str, Any]) -> None:
    """Record that this worker is alive (cron, every minute); `/ready` counts live workers."""
    async with ctx["pool"].acquire() as conn:
        await conn.execute(
            HEARTBEAT_SQL,
            ctx["worker_id"],
            socket.gethostname(),
            os.getpid(),
            ctx["started_at"],
            ctx.get("jobs_complete", 0),
        )
        await conn.execute(PRUNE_HEARTBEATS_SQL)


def worker_identity() -> tuple[str, datetime]:
    started = datetime.now(UTC)
    return f"{socket.gethostname()}:{os.getpid()}:{int(started.timestamp())}", started
