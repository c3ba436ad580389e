"""Forcing races between transactions: one held open on its own connection while another is seen blocked on its
locks. Fixtures `ingestor` and `holder` come from tests/server/conftest.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import msgspec

from tests.conftest import BrandFixture
from triggers.events import EventIn, check_events
from triggers.schedule import Pending


def pending(brand: BrandFixture, body: dict) -> Pending:
    (valid,) = check_events([msgspec.convert(body, EventIn)], datetime.now(UTC), batch=False)
    return Pending(brand.brand.brand_id, valid)


async def blocked_by(
    observer: asyncpg.Connection, holder: asyncpg.Connection, task: asyncio.Task, *, within: float = 10.0
) -> None:
    """Return once PostgreSQL reports a backend waiting for a lock that `holder`'s session holds; fail if
    `task` finishes first (it did not wait) or nothing waits within `within` seconds."""
    holder_pid = holder.get_server_pid()
    deadline = asyncio.get_running_loop().time() + within
    while True:
        # pg_blocking_pids: the sessions holding the lock a backend waits for (row, tuple or transaction id).
        waiting = await observer.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock' AND $1 = ANY(pg_blocking_pids(pid))",
            holder_pid,
        )
        if waiting:
            return
        assert not task.done(), f"the second transaction did not wait for the first one: {task.result()}"
        assert asyncio.get_running_loop().time() < deadline, "no transaction waited for the first one's locks"
        await asyncio.sleep(0.01)
