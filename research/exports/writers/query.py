"""What every writer does with a dataset's query: learn the SQL type behind each column, wrap the query in a SELECT
that renders each column for the format, and stream it out of PostgreSQL with ``COPY … TO STDOUT``.

The wrapping SELECT reads the dataset's query as a subquery (``FROM (…) AS d``) and keeps its order. The SQL types
are asked of PostgreSQL (the statement is prepared, not run), so that a writer renders a ``codes`` column held as
``text[]`` and one held as ``jsonb`` each the right way, and a dataset whose columns don't match what it says it
returns fails before the first byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import msgspec

from research.exports.dataset import Column, Dataset

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
"""A column name as the contract allows it: then it is safe to write as a quoted identifier."""

QUEUED_CHUNKS = 8
"""Chunks of ``COPY`` output read ahead of the consumer: PostgreSQL keeps producing while the consumer works on the
last ones, and stops (asyncpg stops reading the socket) when this many wait."""


class DatasetMismatch(Exception):
    """A dataset's query does not return the columns it describes: a bug in the dataset, found before any row."""


class Shaped(msgspec.Struct, frozen=True):
    """A column of the dataset with the SQL type its query returns for it (``text``, ``jsonb``, ``text[]`` …)."""

    column: Column
    sql_type: str
    kind: str
    """``scalar`` or ``array`` (asyncpg's type kinds; also ``composite``, ``domain``, ``range``)."""

    @property
    def ref(self) -> str:
        """The column as the wrapping SELECT refers to it."""
        return f'd."{self.column.name}"'

    @property
    def is_array(self) -> bool:
        return self.kind == "array"


async def shape(conn: asyncpg.Connection, dataset: Dataset, *, pii: bool) -> list[Shaped]:
    """The dataset's columns with their SQL types; contact data (`Column.pii`) only when `pii` is allowed, whatever
    the dataset put in its query."""
    statement = await conn.prepare(dataset.sql)
    returned = [(a.name, a.type) for a in statement.get_attributes()]
    described = [c.name for c in dataset.columns]
    if [name for name, _ in returned] != described:
        raise DatasetMismatch(
            f"dataset {dataset.name!r} describes columns {described} but its query returns "
            f"{[name for name, _ in returned]}"
        )
    for name in described:
        if not NAME.match(name):
            raise DatasetMismatch(
                f"dataset {dataset.name!r}: column name {name!r} is not lowercase letters, digits, _"
            )
    return [
        Shaped(column, sql_type.name, sql_type.kind)
        for column, (_, sql_type) in zip(dataset.columns, returned, strict=True)
        if pii or not column.pii
    ]


def select(dataset: Dataset, columns: list[Shaped], cell: Callable[[Shaped], str]) -> str:
    """The dataset's query wrapped in a SELECT of each column rendered by `cell`, named as in the dataset."""
    cells = ", ".join(f'{cell(c)} AS "{c.column.name}"' for c in columns)
    return f"SELECT {cells} FROM ({dataset.sql}) AS d"


def utc(shaped: Shaped) -> str:
    """A timestamp column as ``timestamptz``: a ``timestamp`` without zone is taken to be UTC."""
    if shaped.sql_type == "timestamp":
        return f"({shaped.ref} AT TIME ZONE 'UTC')"
    return shaped.ref


def seconds(shaped: Shaped) -> str:
    """An interval column as its length in seconds, exactly (``numeric``, no trailing zeros)."""
    return f"trim_scale(extract(epoch FROM {shaped.ref}))"


_END = b""


async def copy_out(
    conn: asyncpg.Connection, sql: str, args: tuple[object, ...], **options: Any
) -> AsyncIterator[bytes]:
    """``COPY (sql) TO STDOUT`` with `options`, as the chunks PostgreSQL sends, never more than `QUEUED_CHUNKS`
    of them held. Closing the iterator early cancels the ``COPY`` on the server."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    room = asyncio.Semaphore(QUEUED_CHUNKS)

    async def sink(chunk: bytes) -> None:
        await room.acquire()
        queue.put_nowait(chunk)

    async def produce() -> None:
        try:
            await conn.copy_from_query(sql, *args, output=sink, **options)
        finally:
            queue.put_nowait(_END)  # the queue itself is unbounded: the end always fits

    producer = asyncio.create_task(produce())
    try:
        while chunk := await queue.get():
            room.release()
            yield chunk
        await producer  # raises what the COPY raised
    finally:
        if not producer.done():
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer
