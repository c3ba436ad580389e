"""The asyncpg pool: JSON codecs and connection settings shared by the API and the worker; transactions retried
after a conflict with a concurrent one."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import asyncpg
import msgspec

log = logging.getLogger("lxt.db")
T = TypeVar("T")

_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.Decoder().decode


async def _init_connection(conn: asyncpg.Connection) -> None:
    # msgspec for json/jsonb both ways: faster than the stdlib and encodes Structs, datetimes and UUIDs. jsonb
    # uses the binary format: a version byte, then the JSON text.
    await conn.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=_jsonb_encode, decoder=_jsonb_decode, format="binary"
    )
    await conn.set_type_codec(
        "json", schema="pg_catalog", encoder=_json_encode_text, decoder=_json_decode, format="text"
    )


def _jsonb_encode(value: object) -> bytes:
    return b"\x01" + _json_encode(value)


def _jsonb_decode(data: bytes) -> object:
    return _json_decode(data[1:])


def _json_encode_text(value: object) -> str:
    return _json_encode(value).decode()


async def create_pool(
    dsn: str, *, min_size: int = 2, max_size: int = 20, reset_session: bool = True
) -> asyncpg.Pool:
    """A pool with lxt's codecs. With ``reset_session=False`` a released connection skips asyncpg's reset query
    (unlock advisory locks, close cursors, UNLISTEN, RESET ALL: one round trip per release), for code that never
    leaves session state behind — the worker takes only transaction-scoped locks and never LISTENs or SETs. An
    open transaction is rolled back either way."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=None if reset_session else _keep_session,
        # Every query's plan is per-connection anyway; 1000 covers all of lxt's statements.
        statement_cache_size=1000,
        server_settings={"application_name": "lxt", "timezone": "UTC"},
    )
    assert pool is not None
    return pool


async def _keep_session(conn: asyncpg.Connection) -> None:
    return None


async def connect(dsn: str) -> asyncpg.Connection:
    """A single connection with the same codecs (CLI commands, migrations)."""
    conn = await asyncpg.connect(dsn, server_settings={"application_name": "lxt-cli", "timezone": "UTC"})
    await _init_connection(conn)
    return conn


async def ping(conn: asyncpg.Connection) -> None:
    """A round trip to the server (readiness checks)."""
    await conn.fetchval("SELECT 1")


RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError, asyncpg.UniqueViolationError)
"""Conflicts a transaction may meet when it runs concurrently with another doing the same: a deadlock, a
serialization failure, or a unique violation because the other created a row (a customer, an idempotency key)
first. Run again, the transaction finds the other's rows."""


async def with_retries(
    conn: asyncpg.Connection, work: Callable[[asyncpg.Connection, int], Awaitable[T]], attempts: int = 4
) -> T:
    """Run ``work(conn, attempt)`` in a transaction of its own, again after a `RETRYABLE` conflict (at most
    `attempts` times in all); the caller never holds a transaction of its own around this."""
    for attempt in range(attempts):
        try:
            async with conn.transaction():
                return await work(conn, attempt)
        except RETRYABLE:
            if attempt == attempts - 1:
                raise
            log.info("transaction conflicted with a concurrent one; retrying (attempt %d)", attempt + 2)
    raise AssertionError("unreachable")


class DatabaseUnavailable(Exception):
    """No connection could be had from the pool: the database is down, refuses connections or is unknown."""


@contextlib.asynccontextmanager
async def acquire(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection. Whatever fails while getting one (the server down, refusing new connections, not
    accepting them yet …) is `DatabaseUnavailable`, which the API answers with 503; errors of the work done on
    the connection pass through unchanged."""
    try:
        conn = await pool.acquire()
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc
    try:
        yield conn
    finally:
        await pool.release(conn)
