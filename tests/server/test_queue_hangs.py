"""A queue that hangs rather than dies: Valkey paused with SIGSTOP accepts connections (the kernel does) and
never answers. Neither the API nor the worker may wait for it forever.

Each test pauses a Valkey of its own, never the suite's shared one.
"""

import asyncio
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest

from server.embedded import EmbeddedValkey
from server.settings import Settings
from server.worker import create_worker
from tests.conftest import BrandFixture
from tests.helpers import event, report, survey_setup
from tests.server.processes import eventually, free_port, lxt, readiness

ANSWER_WITHIN = 10
"""Seconds an event report may take while the queue hangs: the enqueue gives up after 2 s, and a loaded machine
is slow, but a hung request never answers."""


@pytest.fixture
def valkey(tmp_path: Path) -> Iterator[EmbeddedValkey]:
    server = EmbeddedValkey(tmp_path / "own-valkey")
    server.start()
    try:
        yield server
    finally:
        os.kill(server.pid, signal.SIGCONT)
        server.stop()


@contextmanager
def paused(valkey: EmbeddedValkey) -> Iterator[None]:
    os.kill(valkey.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(valkey.pid, signal.SIGCONT)


async def sent(conn: asyncpg.Connection, invitation_ids: list[str]) -> bool:
    return await conn.fetchval(
        "SELECT count(*) FROM invitations WHERE invitation_id = any($1::uuid[]) AND status = 'sent'",
        invitation_ids,
    ) == len(invitation_ids)


def lxt_env(settings: Settings, valkey: EmbeddedValkey, tmp_path: Path) -> dict[str, str]:
    return {
        "LXT_DATABASE_URL": settings.database_url,
        "LXT_REDIS_URL": valkey.url,
        "LXT_DATA_DIR": str(tmp_path / "data"),
        "LXT_PORT": str(free_port()),
    }


async def test_events_are_acknowledged_while_the_queue_hangs(
    settings: Settings, brand: BrandFixture, conn: asyncpg.Connection, valkey: EmbeddedValkey, tmp_path: Path
) -> None:
    env = lxt_env(settings, valkey, tmp_path)
    output = tmp_path / "api.log"
    with lxt("serve", env, output):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{env['LXT_PORT']}", timeout=30) as http:
            await eventually(lambda: readiness(http), "the API to answer")
            await survey_setup(http, brand)
            with paused(valkey):
                # More requests than the ingestor commits at a time: stuck enqueues would hold every slot.
                async with asyncio.timeout(ANSWER_WITHIN):
                    answers = await asyncio.gather(
                        *(report(http, brand, event(f"while-hung-{n}", customer=f"c-{n}")) for n in range(3))
                    )
    assert [a["decision"] for a in answers] == ["scheduled"] * 3
    assert "(the sweeper will): no answer from the queue within 2 s" in output.read_text(errors="replace")
    # Committed; once the queue answers again, a worker's start-up sweep queues and sends what the API could not.
    worker = create_worker(settings.replace(redis_url=valkey.url), burst=True, poll_delay=0, handle_signals=False)
    try:
        await worker.main()
    finally:
        await worker.close()
    assert await sent(conn, [a["invitation_id"] for a in answers])


async def test_the_worker_reconnects_when_the_queue_hangs(
    settings: Settings, brand: BrandFixture, conn: asyncpg.Connection, valkey: EmbeddedValkey, tmp_path: Path
) -> None:
    """The worker notices a queue that stopped answering, as it notices one that went away: it reconnects once
    the queue answers again, and its start-up sweep sends what was reported meanwhile."""
    env = lxt_env(settings, valkey, tmp_path)
    output = tmp_path / "output.log"
    with lxt("up", env, output):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{env['LXT_PORT']}", timeout=30) as http:

            async def ready() -> dict | None:
                body = await readiness(http)
                return body if body and body["workers_alive"] >= 1 else None

            await eventually(ready, "the API and the worker to start")
            await survey_setup(http, brand)
            before = await report(http, brand, event("before"))
            await eventually(lambda: sent(conn, [before["invitation_id"]]), "the worker to send")
            with paused(valkey):
                async with asyncio.timeout(ANSWER_WITHIN):
                    during = await report(http, brand, event("while-hung", customer="c-hung"))

                async def reconnecting() -> bool:
                    return "the queue is unreachable" in output.read_text(errors="replace")

                await eventually(reconnecting, "the worker to notice that the queue hangs")
            await eventually(lambda: sent(conn, [during["invitation_id"]]), "the reconnected worker to send")
