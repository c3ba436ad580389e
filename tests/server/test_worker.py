import asyncpg
from litestar.testing import AsyncTestClient


async def test_worker_records_heartbeats_that_ready_reports(
    run_worker, conn: asyncpg.Connection, client: AsyncTestClient
) -> None:
    assert (await client.get("/ready")).json()["workers_alive"] == 0
    await run_worker()
    row = await conn.fetchrow("SELECT * FROM worker_heartbeats")
    assert row is not None and row["pid"] > 0
    assert (await client.get("/ready")).json()["workers_alive"] == 1
