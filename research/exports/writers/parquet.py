"""Parquet with real types (`arrow`), written one row group at a time as the rows arrive.

Every `batch_rows` rows are parsed into an Arrow table and written as one row group. Parsing and writing run in
a worker thread while the next batch is read, so PostgreSQL, the parser and the writer overlap.

The file is written straight to the response, not to a temporary file: Parquet is written front to back (row
groups, then the footer that indexes them), and the writer only needs the position it has reached, which the
sink counts. Memory holds two batches of text and one batch as Arrow arrays, whatever the export's size.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pyarrow as pa
import pyarrow.parquet as pq

from research.exports.dataset import Dataset
from research.exports.writers.arrow import Reader, texts
from research.exports.writers.base import Progress, Writer
from research.exports.writers.query import shape

BATCH_ROWS = 65_536
"""Rows per row group, and per batch held in memory."""


class Sink:
    """Where the Parquet writer writes: keeps what it wrote until it is taken, and counts the position."""

    closed = False

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def write(self, data: bytes | memoryview) -> int:
        part = bytes(data)
        self.parts.append(part)
        self.position += len(part)
        return len(part)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        written, self.parts = b"".join(self.parts), []
        return written


class ParquetWriter(Writer):
    format = "parquet"
    media_type = "application/vnd.apache.parquet"
    extension = "parquet"

    def __init__(self, batch_rows: int = BATCH_ROWS) -> None:
        self.batch_rows = batch_rows

    async def chunks(
        self, conn: asyncpg.Connection, dataset: Dataset, progress: Progress, *, pii: bool
    ) -> AsyncIterator[bytes]:
        columns = await shape(conn, dataset, pii=pii)
        reader = Reader(columns)
        sink = Sink()
        writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"), reader.schema)

        def write(text: bytes) -> int:
            table = reader.table(text)
            writer.write_table(table)
            return table.num_rows

        # One batch is parsed and written in a thread while the next is read; the sink is only taken from while
        # no thread writes to it.
        writing: asyncio.Future[int] | None = None
        try:
            async for text in texts(conn, dataset, columns, self.batch_rows):
                if writing is not None:
                    progress(await writing)
                    yield sink.take()
                writing = asyncio.ensure_future(asyncio.to_thread(write, text))
            if writing is not None:
                progress(await writing)
            await asyncio.to_thread(writer.close)
            yield sink.take()
        finally:
            if writing is not None and not writing.done():
                await asyncio.wait([writing])  # a thread cannot be stopped: let it finish with the writer
