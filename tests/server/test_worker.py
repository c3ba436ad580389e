"""Worker liveness as `/ready` reports it: heartbeats, the liveness window, and rows of workers that are gone."""

import asyncio
import socket
import sys
from datetime import UTC, datetime

import asyncpg
from litestar.testing import AsyncTestClient

from notifications import liveness
from server.settings import Settings
from server.worker import create_worker


async def workers_alive(client: AsyncTestClient) -> int:
    return (await client.get("/ready")).json()["workers_alive"]


async def test_a_worker_counts_while_it_runs_and_not_after_it_stopped(
    settings: Settings, conn: asyncpg.Connection, client: AsyncTestClient
) -> None:
    assert await workers_alive(client) == 0
    worker = create_worker(settings, burst=True, poll_delay=0, handle_signals=False)
    await worker.main()
    row = await conn.fetchrow("SELECT * FROM worker_heartbeats")
    assert row is not None and row["pid"] > 0
    assert await workers_alive(client) == 1
    await worker.close()
    assert await workers_alive(client) == 0, "a worker that stopped cleanly must not count"


async def test_a_worker_whose_heartbeats_stopped_is_not_counted(
    conn: asyncpg.Connection, client: AsyncTestClient
) -> None:
    # Killed without a chance to delete its row: its last beat was 20 s ago, beyond the liveness window.
    await conn.execute(
        "INSERT INTO worker_heartbeats VALUES ('elsewhere:7:1', 'elsewhere', 7, now() - interval '1 hour', "
        "now() - $1::interval)",
        liveness.ALIVE_WITHIN + liveness.HEARTBEAT_EVERY,
    )
    await conn.execute(
        "INSERT INTO worker_heartbeats VALUES ('elsewhere:8:1', 'elsewhere', 8, now() - interval '1 hour', "
        "now() - $1::interval)",
        liveness.HEARTBEAT_EVERY,
    )
    assert await workers_alive(client) == 1


async def test_a_restarted_worker_replaces_its_dead_predecessor_at_once(
    settings: Settings, conn: asyncpg.Connection, client: AsyncTestClient
) -> None:
    # A worker on this host, killed a moment ago: its last beat is fresh, but its process is gone.
    gone = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await gone.wait()
    dead_pid = gone.pid
    host = socket.gethostname()
    await conn.execute(
        "INSERT INTO worker_heartbeats VALUES ($1, $2, $3, $4, now())",
        f"{host}:{dead_pid}:1",
        host,
        dead_pid,
        datetime.now(UTC),
    )
    assert await workers_alive(client) == 1
    worker = create_worker(settings, burst=True, poll_delay=0, handle_signals=False)
    await worker.main()
    try:
        assert await workers_alive(client) == 1
        assert await conn.fetchval("SELECT pid FROM worker_heartbeats") != dead_pid
    finally:
        await worker.close()
