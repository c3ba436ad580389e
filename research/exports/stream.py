"""Running an export: a dataset written in a format from one snapshot of the database, as a stream of bytes.

The HTTP route and ``lxt export`` share this: both open a `snapshot` on a connection of their own, `check`
what can be refused before the first byte, `audit` the export, and iterate `export`. Memory stays flat whatever
the size: the writers stream ``COPY`` output and hold at most a batch of rows (SPSS excepted, see
`writers.sav`), and this module passes their chunks on as they come, joined to at least `CHUNK_BYTES`.

One snapshot: the rows are read in a ``REPEATABLE READ READ ONLY`` transaction, so an export that takes minutes is
still one consistent picture (no answer counted twice, none half-written), and it takes no locks that writers
would wait for.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from research import audit
from research.exports.dataset import Dataset, ExportRequest
from research.exports.writers import FormatUnavailable, Progress, TooManyRows, Writer, no_progress

CHUNK_BYTES = 256 << 10
"""Chunks smaller than this are joined before they are passed on (fewer, larger writes to a socket or file)."""

COUNT_UNDER = 500_000
"""`total` counts the rows exactly when the planner expects fewer than this; above, counting costs too much."""

_SESSION = (
    "SET LOCAL timezone = 'UTC'; SET LOCAL datestyle = 'ISO, YMD'; SET LOCAL intervalstyle = 'postgres'; "
    "SET LOCAL extra_float_digits = 1"
)
"""How the writers expect PostgreSQL to write values: times in UTC with ISO dates (the CSV writer relies on it),
floats with every digit needed to read them back exactly."""


@contextlib.asynccontextmanager
async def snapshot(conn: asyncpg.Connection, *, work_mem_mb: int | None = None) -> AsyncIterator[None]:
    """A read-only transaction on one snapshot, with the session settings the writers rely on, and `work_mem_mb`
    for its sorts (``work_mem``) when given: an export of a million answers sorts them by contact in memory with
    128 MB per process, and spills them to disk with PostgreSQL's default 4 MB (about 15% slower)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        await conn.execute(_SESSION)
        if work_mem_mb is not None:
            await conn.execute(f"SET LOCAL work_mem = '{int(work_mem_mb)}MB'")
        yield


async def count(conn: asyncpg.Connection, dataset: Dataset) -> int:
    return int(await conn.fetchval(f"SELECT count(*) FROM ({dataset.sql}) AS d", *dataset.args))


async def estimate(conn: asyncpg.Connection, dataset: Dataset) -> int:
    """The planner's estimate of the rows (no rows are read)."""
    plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {dataset.sql}", *dataset.args)
    if isinstance(plan, str | bytes):
        plan = msgspec.json.decode(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


async def total(conn: asyncpg.Connection, dataset: Dataset) -> int | None:
    """How many rows the export will have, when that is cheap to know (for a progress bar); else None."""
    if await estimate(conn, dataset) >= COUNT_UNDER:
        return None
    return await count(conn, dataset)


async def check(conn: asyncpg.Connection, dataset: Dataset, writer: Writer) -> None:
    """Refuse, before any byte is written, what the writer cannot write: a format this installation lacks
    (`FormatUnavailable`), or more rows than it holds (`TooManyRows`)."""
    reason = writer.unavailable()
    if reason:
        raise FormatUnavailable(reason)
    if writer.max_rows is not None:
        rows = await count(conn, dataset)
        if rows > writer.max_rows:
            raise TooManyRows(rows, writer.max_rows, writer.format)


async def audit_export(
    conn: asyncpg.Connection, request: ExportRequest, *, actor: str, dataset: str, format: str
) -> audit.AuditEntry:
    """The audit log's record of an export: who, which dataset, format and filters, and whether with contact
    data. Written before the first byte, so that no export goes unrecorded, even one that breaks off."""
    details: dict[str, Any] = {
        "format": format,
        "filters": {
            name: value for name, value in msgspec.to_builtins(request.where).items() if value is not None
        },
        "pii": request.pii,
    }
    return await audit.record(
        conn, request.brand_id, actor=actor, action="export", subject=dataset, details=details
    )


def filename(brand: str, dataset: str, writer: Writer, at: datetime) -> str:
    """``acme-responses-long-20261124T090000Z.parquet``: the brand, the dataset and when, in UTC."""
    return f"{brand}-{dataset}-{at:%Y%m%dT%H%M%SZ}.{writer.extension}"


async def export(
    conn: asyncpg.Connection,
    dataset: Dataset,
    writer: Writer,
    *,
    pii: bool,
    progress: Progress = no_progress,
    chunk_bytes: int = CHUNK_BYTES,
) -> AsyncIterator[bytes]:
    """The file's bytes, in chunks of at least `chunk_bytes` (the last may be smaller), read in the caller's
    `snapshot` on `conn`; `progress` hears of the rows as they are written."""
    held: list[bytes] = []
    size = 0
    async for chunk in writer.chunks(conn, dataset, progress, pii=pii):
        held.append(chunk)
        size += len(chunk)
        if size >= chunk_bytes:
            yield b"".join(held)
            held, size = [], 0
    if held:
        yield b"".join(held)
