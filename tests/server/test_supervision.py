"""Recovery, tried as an operator would: `lxt up` as a real process, its parts killed with SIGKILL.

`lxt up` must restart what dies (the embedded Valkey and PostgreSQL on the same address and data dir, the worker,
the API) and keep the rest running; the worker must ride out the queue's outage; `/ready` must count only live
workers; and an event acknowledged while the queue was down must still be sent.
"""

import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest
import yaml
from litestar.testing import AsyncTestClient

from server.app import create_app
from server.backoff import Backoff
from server.embedded import EmbeddedValkey
from server.settings import Settings
from server.worker import create_worker
from tests.conftest import BrandFixture
from tests.helpers import event, queued_jobs, report, survey_setup
from tests.server.processes import eventually, free_port, gone, lxt, readiness

ROOT = Path(__file__).resolve().parents[2]


def child(up: psutil.Process, command: str) -> psutil.Process | None:
    """The running child of `lxt up` that runs ``lxt COMMAND``."""
    for proc in up.children():
        try:
            if proc.status() != psutil.STATUS_ZOMBIE and proc.cmdline()[-1:] == [command]:
                return proc
        except psutil.NoSuchProcess:  # a child that just died
            continue
    return None


async def sent(conn: asyncpg.Connection, invitation_ids: list[str]) -> bool:
    return await conn.fetchval(
        "SELECT count(*) FROM invitations i JOIN messages m USING (brand_id, invitation_id) "
        "WHERE i.invitation_id = any($1::uuid[]) AND i.status = 'sent'",
        invitation_ids,
    ) == len(invitation_ids)


async def test_lxt_up_restarts_what_dies_and_loses_no_event(
    settings: Settings, brand: BrandFixture, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    port, data = free_port(), tmp_path / "data"
    env = {
        "LXT_DATABASE_URL": settings.database_url,
        "LXT_REDIS_URL": "",  # the embedded Valkey, supervised by lxt up
        "LXT_DATA_DIR": str(data),
        "LXT_PORT": str(port),
    }
    output = tmp_path / "output.log"
    with lxt("up", env, output) as proc:
        up = psutil.Process(proc.pid)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:

            async def ready() -> dict | None:
                body = await readiness(http)
                return body if body and body["status"] == "ok" and body["workers_alive"] >= 1 else None

            await eventually(ready, "lxt up to be ready, with its worker")
            await survey_setup(http, brand)
            api, worker = child(up, "serve"), child(up, "worker")
            assert api and worker
            published = json.loads((data / "runtime.json").read_text())
            valkey_pid = int((data / "valkey" / "valkey.pid").read_text())

            # Valkey dies. Events are still acknowledged, the worker waits for the queue, lxt up restarts it.
            os.kill(valkey_pid, signal.SIGKILL)
            during = await report(http, brand, event("during-outage", customer="c-during"))
            assert during["decision"] == "scheduled"

            async def valkey_back() -> int | None:
                pid_file = data / "valkey" / "valkey.pid"
                pid = int(pid_file.read_text()) if pid_file.exists() else 0
                return pid if pid not in (0, valkey_pid) and not gone(pid) else None

            await eventually(valkey_back, "lxt up to restart Valkey")
            await eventually(ready, "/ready to recover")
            after = await report(http, brand, event("after-outage", customer="c-after"))
            await eventually(
                lambda: sent(conn, [during["invitation_id"], after["invitation_id"]]),
                "the invitations of the events reported during and after the outage to be sent",
            )
            assert child(up, "serve") == api and child(up, "worker") == worker, "API and worker kept running"
            assert json.loads((data / "runtime.json").read_text()) == published, "the published URLs stay valid"

            # The worker dies: lxt up starts another, which /ready counts instead of the dead one.
            os.kill(worker.pid, signal.SIGKILL)

            async def new_worker() -> int | None:
                successor = child(up, "worker")
                if successor is None or successor.pid == worker.pid:
                    return None
                pids = await conn.fetch("SELECT pid FROM worker_heartbeats")
                return successor.pid if successor.pid in {r["pid"] for r in pids} else None

            successor = await eventually(new_worker, "lxt up to restart the worker")
            assert [r["pid"] for r in await conn.fetch("SELECT pid FROM worker_heartbeats")] == [successor]
            assert (await readiness(http) or {}).get("workers_alive") == 1
            assert child(up, "serve") == api
            again = await report(http, brand, event("after-worker-restart", customer="c-again"))
            await eventually(lambda: sent(conn, [again["invitation_id"]]), "the restarted worker to send")

            # The API dies: lxt up starts another on the same port.
            api_processes = [api, *api.children(recursive=True)]
            os.kill(api.pid, signal.SIGKILL)
            await eventually(lambda: _true(child(up, "serve") not in (None, api)), "lxt up to restart the API")
            await eventually(ready, "the restarted API to answer")
            assert all(gone(p.pid) for p in api_processes), "the dead API's worker processes were stopped with it"

        survivors = [child(up, "serve"), child(up, "worker")]
        new_valkey = int((data / "valkey" / "valkey.pid").read_text())
    # Leaving the block sent SIGINT, as Ctrl-C does: everything stops, cleanly.
    text = output.read_text(errors="replace")
    assert proc.returncode == 0, text
    assert all(p is not None and gone(p.pid) for p in survivors)
    assert gone(new_valkey)
    assert f"worker (pid {worker.pid}) was killed by SIGKILL; restarting it in" in text
    assert "embedded Valkey" in text and "restarted" in text


async def test_lxt_up_restarts_its_embedded_postgresql(tmp_path: Path) -> None:
    # Outside pytest's temporary directory: run as root, the embedded PostgreSQL runs as a user of its own, and
    # every pytest session that starts meanwhile makes that directory private again.
    data = Path(tempfile.mkdtemp(prefix="lxt-supervision-"))
    port, output = free_port(), tmp_path / "output.log"
    env = {"LXT_DATABASE_URL": "", "LXT_REDIS_URL": "", "LXT_DATA_DIR": str(data), "LXT_PORT": str(port)}
    try:
        with lxt("up", env, output) as proc:
            up = psutil.Process(proc.pid)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:

                async def ready() -> dict | None:
                    body = await readiness(http)
                    return body if body and body["status"] == "ok" and body["workers_alive"] == 1 else None

                await eventually(ready, "lxt up to be ready, with its worker")
                api, worker = child(up, "serve"), child(up, "worker")
                published = json.loads((data / "runtime.json").read_text())
                postmaster = data / "postgres" / "postmaster.pid"
                killed = int(postmaster.read_text().split()[0])
                os.kill(killed, signal.SIGKILL)

                async def restarted() -> bool:
                    pid = int(postmaster.read_text().split()[0]) if postmaster.exists() else killed
                    return pid != killed and not gone(pid)

                await eventually(restarted, "lxt up to restart PostgreSQL")
                await eventually(ready, "the API and the worker to use the restarted database")
                assert child(up, "serve") == api and child(up, "worker") == worker
                assert json.loads((data / "runtime.json").read_text()) == published
        assert proc.returncode == 0, output.read_text(errors="replace")
    finally:
        shutil.rmtree(data, ignore_errors=True)


async def test_events_are_acknowledged_while_the_queue_is_down_and_sent_after_it_is_back(
    settings: Settings, brand: BrandFixture, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """The API's queue killed under it: the event is committed and acknowledged, and the worker that comes up
    once the queue is back sends it (its start-up sweep queues what the API could not)."""
    valkey = EmbeddedValkey(tmp_path)
    valkey.start()
    local = settings.replace(redis_url=valkey.url)
    try:
        async with AsyncTestClient(create_app(local), base_url="http://lxt.test") as client:
            await survey_setup(client, brand)
            killed = valkey.pid
            os.kill(killed, signal.SIGKILL)
            await eventually(lambda: _true(gone(killed)), "Valkey to die")
            during = await report(client, brand, event("during-outage"))
            assert during["decision"] == "scheduled"
            valkey.start()
            assert await queued_jobs(local) == 0, "the job could not have been queued"
            worker = create_worker(local, burst=True, poll_delay=0, handle_signals=False)
            try:
                await worker.main()
            finally:
                await worker.close()
        assert await sent(conn, [during["invitation_id"]])
    finally:
        valkey.stop()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's parent-death signal is Linux's")
async def test_the_children_of_lxt_up_stop_when_it_is_killed(settings: Settings, tmp_path: Path) -> None:
    """`lxt up` killed with SIGKILL cannot stop its children, which run in sessions of their own: the kernel asks
    them to stop instead, and they do (the API with its granian worker processes, and the worker)."""
    port = free_port()
    env = {  # no embedded servers: only the API and the worker are lxt up's children
        "LXT_DATABASE_URL": settings.database_url,
        "LXT_REDIS_URL": settings.redis_url,
        "LXT_DATA_DIR": str(tmp_path / "data"),
        "LXT_PORT": str(port),
    }
    with lxt("up", env, tmp_path / "output.log") as proc:
        up = psutil.Process(proc.pid)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:

            async def ready() -> dict | None:
                body = await readiness(http)
                return body if body and body["status"] == "ok" and body["workers_alive"] >= 1 else None

            await eventually(ready, "lxt up to be ready, with its worker")
        api, worker = child(up, "serve"), child(up, "worker")
        assert api and worker
        started = [api, *api.children(recursive=True), worker, *worker.children(recursive=True)]
        try:
            os.kill(proc.pid, signal.SIGKILL)
            await eventually(
                lambda: _true(all(gone(p.pid) for p in started)), "lxt up's children to stop", within=15
            )
        finally:
            for orphan in started:  # if they did not stop, they must not outlive the test
                with contextlib.suppress(psutil.NoSuchProcess):
                    orphan.kill()


async def _true(value: bool) -> bool:
    return value


def test_production_services_restart_when_they_die() -> None:
    """Without `lxt up`, docker compose is the supervisor: every long-running service has a restart policy."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in ("postgres", "valkey", "api", "worker"):
        assert services[name]["restart"] in ("always", "unless-stopped"), name


def test_restarts_back_off_exponentially_up_to_a_cap_and_start_over_after_a_stable_run() -> None:
    backoff = Backoff(first=0.5, cap=4.0, stable=60.0)
    assert [backoff.delay(lasted=1.0) for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.delay(lasted=60.0) == 0.5  # it ran a minute: a new failure, not the same one again
    assert backoff.delay(lasted=0.0) == 1.0
