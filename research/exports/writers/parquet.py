"""Parquet with real types (`arrow`), written one row group at a time as the rows arrive.

Every `batch_rows` rows (16k) are parsed into an Arrow table, and the tables gathered until there are
`row_group_rows` (64k), written as one row group. Parsing and writing run in a worker thread while the next batch
is read, so PostgreSQL, the parser and the writer overlap.

The file is written straight to the response, not to a temporary file: Parquet is written front to back (row
groups, then the footer that indexes them), and the writer only needs the position it has reached, which the
sink counts. Memory holds two batches of text and a row group's rows as Arrow arrays (typed, far smaller than
their text), whatever the export's size.
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

BATCH_ROWS = 16_384
"""Rows per batch of text parsed at once."""
ROW_GROUP_ROWS = 65_536
"""Rows per row group (at least): parsed batches are gathered, typed, until there are this many."""


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

    def __init__(self, batch_rows: int = BATCH_ROWS, row_group_rows: int = ROW_GROUP_ROWS) -> None:
        self.batch_rows = batch_rows
        self.row_group_rows = row_group_rows

    async def chunks(
        self, conn: asyncpg.Connection, dataset: Dataset, progress: Progress, *, pii: bool
    ) -> AsyncIterator[bytes]:
        columns = await shape(conn, dataset, pii=pii)
        reader = Reader(columns)
        sink = Sink()
        writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"), reader.schema)

        gathered: list[pa.Table] = []

        def write(text: bytes | None) -> int:
            """Parse a batch (None: there are no more) and, once enough rows are gathered, write them as a row
            group; the batch's rows."""
            table = reader.table(text) if text is not None else None
            if table is not None:
                gathered.append(table)
            if gathered and (table is None or sum(t.num_rows for t in gathered) >= self.row_group_rows):
                writer.write_table(pa.concat_tables(gathered))
                gathered.clear()
            return table.num_rows if table is not None else 0

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
            await asyncio.to_thread(write, None)
            await asyncio.to_thread(writer.close)
            yield sink.take()
        finally:
            if writing is not None and not writing.done():
                await asyncio.wait([writing])  # a thread cannot be stopped: let it finish with the writer
