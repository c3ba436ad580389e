"""What every benchmark needs: embedded servers in a scratch directory, a brand with keys, an API process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import httpx

from server import db, embedded, migrate, tenants
from server.settings import Settings


class Env:
    def __init__(self, settings: Settings, keys: dict[str, str]) -> None:
        self.settings = settings
        self.keys = keys


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _prepare(database_url: str) -> dict[str, str]:
    conn = await db.connect(database_url)
    try:
        await migrate.migrate(conn)
        brand = await tenants.create_brand(conn, "bench", "Bench")
        keys = {}
        for scope in tenants.SCOPES:
            keys[scope], _ = await tenants.create_key(conn, brand.brand_id, [scope], "bench")
        return keys
    finally:
        await conn.close()


@contextlib.contextmanager
def environment() -> Iterator[Env]:
    """Embedded PostgreSQL and Valkey in a temporary data dir (or LXT_DATABASE_URL/LXT_REDIS_URL if set)."""
    with tempfile.TemporaryDirectory(prefix="lxt-bench-") as tmp:
        base = Settings.from_env().replace(data_dir=tmp, log_level="WARNING")
        with embedded.owned_servers(base) as settings:
            keys = asyncio.run(_prepare(settings.database_url))
            yield Env(settings, keys)


def child_environment(env: Env, **extra: str) -> dict[str, str]:
    """The environment of an lxt child process: this run's servers, warnings only, and `extra` settings."""
    return {
        **os.environ,
        "LXT_DATABASE_URL": env.settings.database_url,
        "LXT_REDIS_URL": env.settings.redis_url,
        "LXT_LOG_LEVEL": "WARNING",
        **extra,
    }


@contextlib.contextmanager
def api(
    env: Env, server: str = "granian", workers: int = 1, extra_env: dict[str, str] | None = None
) -> Iterator[int]:
    """Run the API in a child process (so the load generator gets the other core); yield its port."""
    port = free_port()
    child_env = child_environment(env, LXT_PORT=str(port), LXT_API_WORKERS=str(workers), **(extra_env or {}))
    if server == "granian":
        cmd = [sys.executable, "-m", "server.cli", "serve"]
    else:
        cmd = [
            sys.executable, "-m", "uvicorn", "server.asgi:app_from_env", "--factory", "--port", str(port),
            "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
            "--workers", str(workers),
        ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=child_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{server} did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
            time.sleep(0.1)
        yield port
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def processes(
    commands: list[list[str]], child_env: dict[str, str], name: str, *, may_end: bool = False
) -> Iterator[list[subprocess.Popen]]:
    """Run `commands` as child processes (stderr kept in a temporary file, shown if something fails); stop them
    with SIGINT, as an operator would, when done. Unless they `may_end` by themselves, one that ended early
    is an error."""
    with tempfile.TemporaryFile() as log:
        procs = [subprocess.Popen(cmd, env=child_env, stdout=subprocess.DEVNULL, stderr=log) for cmd in commands]
        try:
            yield procs
            for proc in procs:
                if proc.poll() not in ((None, 0) if may_end else (None,)):
                    raise RuntimeError(f"{name} ended early ({proc.returncode})")
        except BaseException:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-4000:])
            raise
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
            for proc in procs:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
