"""Constant memory: an export holds a bounded batch of rows, never the whole export.

50,000 rows of about 430 bytes (over 20 MB of CSV) are exported with small batches and written to a file as
they come; the stream must come in many chunks, and the memory held at its peak (Python's allocations as
tracemalloc sees them; Arrow's own allocator for Parquet) must stay far below the size of the export, and no
higher than for a fifth of the rows (give or take the read-ahead). No timing is asserted.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import asyncpg
import pyarrow as pa
import pyarrow.parquet as pq

from research.exports import stream
from research.exports.writers import CsvWriter, JsonLinesWriter, ParquetWriter, Writer
from tests.research.samples import exported, many

ROWS = 50_000
MB = 1 << 20


class Measured:
    chunks = 0
    size = 0
    peak = 0
    """Python's allocations at their peak (tracemalloc)."""
    arrow_peak = 0
    """Arrow's allocations at their peak."""


async def measured(conn: asyncpg.Connection, writer: Writer, path: Path, rows: int = ROWS) -> Measured:
    """Export `rows` rows to `path` and measure."""
    await exported(conn, many(10), writer)  # modules a writer imports on first use are not what is measured
    m = Measured()
    tracemalloc.start()
    try:
        with path.open("wb") as file:
            async with stream.snapshot(conn):
                async for chunk in stream.export(conn, many(rows, width=400), writer, pii=False, chunk_bytes=1):
                    m.chunks += 1
                    m.size += len(chunk)
                    m.arrow_peak = max(m.arrow_peak, pa.total_allocated_bytes())
                    file.write(chunk)
        _, m.peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return m


async def flat(conn: asyncpg.Connection, writer: Writer, tmp_path: Path, large: Measured) -> None:
    """The peak of `large` (`ROWS` rows) is no higher than that of a fifth of the rows, give or take 3 MB: how
    full the read-ahead of COPY output happens to be when the peak is reached (it holds up to 8 chunks of a few
    hundred KB). Memory that grew with the rows would be 15 MB more."""
    small = await measured(conn, writer, tmp_path / "fifth", rows=ROWS // 5)
    assert small.size < large.size / 4
    assert large.peak < small.peak + 3 * MB, (
        f"{small.peak / MB:.1f} MB for a fifth, {large.peak / MB:.1f} MB for all"
    )
    assert large.arrow_peak < small.arrow_peak + 3 * MB


async def test_csv_streams_in_bounded_memory(conn: asyncpg.Connection, tmp_path: Path) -> None:
    m = await measured(conn, CsvWriter(), tmp_path / "many.csv")
    assert m.size > 20 * MB and m.chunks > 50
    assert m.peak < 5 * MB, f"peak {m.peak / MB:.1f} MB for {m.size / MB:.1f} MB of CSV"
    await flat(conn, CsvWriter(), tmp_path, m)
    with (tmp_path / "many.csv").open("rb") as file:
        file.seek(-100, 2)
        assert file.read().endswith(b'\n,""",app,2026-01-01T13:53:20+00:00\r\n')  # row 50,000 came through whole


async def test_json_lines_stream_in_bounded_memory(conn: asyncpg.Connection, tmp_path: Path) -> None:
    m = await measured(conn, JsonLinesWriter(), tmp_path / "many.jsonl")
    assert m.size > 20 * MB and m.chunks > 50
    assert m.peak < 5 * MB, f"peak {m.peak / MB:.1f} MB for {m.size / MB:.1f} MB of JSON Lines"
    await flat(conn, JsonLinesWriter(), tmp_path, m)


async def test_parquet_is_written_a_row_group_at_a_time(conn: asyncpg.Connection, tmp_path: Path) -> None:
    m = await measured(conn, ParquetWriter(batch_rows=1_000, row_group_rows=2_000), tmp_path / "many.parquet")
    file = pq.ParquetFile(tmp_path / "many.parquet")
    assert file.metadata.num_rows == ROWS
    # A batch is cut at the first row end after 1,000 rows (PostgreSQL sends a few hundred rows per chunk), and
    # batches are gathered into row groups of 2,000 rows or a little more.
    sizes = [file.metadata.row_group(i).num_rows for i in range(file.metadata.num_row_groups)]
    assert len(sizes) >= 15 and max(sizes) < 4_000 and m.chunks >= 15
    # Two batches of text (one being parsed, the next being read) and the read-ahead of COPY output.
    assert m.arrow_peak < 5 * MB, f"Arrow held {m.arrow_peak / MB:.1f} MB at its peak"
    assert m.peak < 10 * MB, f"peak {m.peak / MB:.1f} MB for {m.size / MB:.1f} MB of Parquet"
    await flat(conn, ParquetWriter(batch_rows=1_000, row_group_rows=2_000), tmp_path, m)
