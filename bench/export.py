"""Exports of the responses-long dataset in each format, against a raw ``COPY`` of the same rows, in the same run.

`--answers` answers (default a million, `bench.export_data`) are loaded into the real tables. Each measurement
runs in a child process of its own (``python -m bench.export``) that connects, exports and throws the bytes away,
and reports rows, bytes, seconds, its CPU time and its peak RSS (``ru_maxrss``: the most memory the process ever
held). The parent adds the CPU time the embedded PostgreSQL spent meanwhile. What runs:

- ``copy``: ``COPY (SELECT * FROM answers WHERE brand_id = $1 AND replaced_at IS NULL) TO STDOUT`` — every column
  of the rows the dataset holds, as PostgreSQL writes them: the ceiling;
- ``dataset``: the dataset's own query as PostgreSQL writes it in CSV, none of the writers' rendering (formula
  guard, ISO times, seconds): what the dataset's joins and computed columns cost, apart from the writer's part;
- ``csv``, ``jsonl``, ``parquet``: the production path (`research.exports.stream`), the dataset built as the
  route builds it;
- ``jsonl-cursor``: JSON Lines the other way — a server-side cursor fetching rows into Python and msgspec
  encoding them — to show which is faster (the writer uses ``COPY`` of ``row_to_json``);
- ``sav`` on a sample (`--sav-answers`): SPSS holds its rows in memory.

They run `--rounds` times, interleaved, so that a machine that slows down or speeds up meanwhile affects them
alike; each format's rate is divided by the ceiling's of its round and the median of these ratios reported. Then
the memory: each streaming format exported at a quarter, half and all of the answers (a time filter), and SPSS at
a quarter, half and all of its sample; peak RSS must not grow with the rows (SPSS's does, which is why it has a
limit).
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import asyncpg
import msgspec
import psutil

from bench.export_data import load
from bench.harness import Env, child_environment
from bench.inbound import _cpu_seconds
from research.exports import stream
from research.exports.dataset import ExportFilter, ExportRequest
from research.exports.datasets import build
from research.exports.writers import writer
from server import db, tenants
from server.settings import Settings

DATASET: Final = "responses-long"
STREAMING: Final = ("csv", "jsonl", "parquet")
RAW_COPY: Final = "SELECT * FROM answers WHERE brand_id = $1 AND replaced_at IS NULL"
CURSOR_BATCH: Final = 10_000
WORK_MEM_MB: Final = Settings().export_work_mem_mb
"""The exports' sort memory as lxt's default settings give it (``LXT_EXPORT_WORK_MEM_MB``)."""


class Run(msgspec.Struct, kw_only=True):
    """One export in a child process."""

    kind: str
    rows: int
    bytes: int
    seconds: float
    cpu_seconds: float
    """The exporting process's own CPU time (user + system)."""
    postgres_cpu_seconds: float | None = None
    """The embedded PostgreSQL's, over the same time (None for a server of LXT_DATABASE_URL)."""
    peak_rss_mb: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


class Rate(msgspec.Struct, kw_only=True):
    kind: str
    rows: int
    rows_per_second: float
    """Median over the rounds."""
    ratio: float
    """Median over the rounds of rows/s ÷ the raw COPY's rows/s of the same round."""
    ratios: list[float]
    cpu_seconds: float
    postgres_cpu_seconds: float | None
    megabytes: float


class Memory(msgspec.Struct, kw_only=True):
    kind: str
    rows: list[int]
    peak_rss_mb: list[float]


class ExportResults(msgspec.Struct, kw_only=True):
    answers: int
    rounds: int
    rates: list[Rate]
    sav: Rate | None
    """On `sav_rows` rows; its ratio is to the raw COPY of the same sample."""
    memory: list[Memory]
    machine: str


# -- the child: one export, measured -----------------------------------------------------------------------


async def _export(database_url: str, kind: str, brand_id: UUID, end: datetime | None) -> tuple[int, int]:
    conn = await db.connect(database_url)
    try:
        if kind == "copy":
            return await _raw_copy(conn, brand_id, end)
        request = ExportRequest(brand_id=brand_id, where=ExportFilter(end=end))
        dataset = await build(conn, DATASET, request)
        if kind == "dataset":
            async with stream.snapshot(conn, work_mem_mb=WORK_MEM_MB):
                return await _copied(conn, dataset.sql, dataset.args, format="csv", header=True)
        if kind == "jsonl-cursor":
            return await _cursor_json_lines(conn, dataset)
        rows = size = 0

        def counted(written: int) -> None:
            nonlocal rows
            rows += written

        chosen = writer(kind)
        async with stream.snapshot(conn, work_mem_mb=WORK_MEM_MB):
            async for chunk in stream.export(conn, dataset, chosen, pii=False, progress=counted):
                size += len(chunk)
        return rows, size
    finally:
        await conn.close()


async def _raw_copy(conn: asyncpg.Connection, brand_id: UUID, end: datetime | None) -> tuple[int, int]:
    if end is None:
        return await _copied(conn, RAW_COPY, (brand_id,))
    return await _copied(conn, RAW_COPY + " AND answered_at < $2", (brand_id, end))


async def _copied(
    conn: asyncpg.Connection, query: str, args: tuple[object, ...], **options: Any
) -> tuple[int, int]:
    """``COPY (query) TO STDOUT``, the bytes counted and dropped: (rows, bytes)."""
    size = 0

    async def sink(chunk: bytes) -> None:
        nonlocal size
        size += len(chunk)

    status = await conn.copy_from_query(query, *args, output=sink, **options)
    return int(status.split()[-1]), size


async def _cursor_json_lines(conn: asyncpg.Connection, dataset: Any) -> tuple[int, int]:
    """JSON Lines from a server-side cursor: rows decoded by asyncpg, encoded by msgspec (built once)."""
    encode = msgspec.json.Encoder().encode_into
    buffer = bytearray()
    rows = size = 0
    async with stream.snapshot(conn, work_mem_mb=WORK_MEM_MB):
        cursor = conn.cursor(dataset.sql, *dataset.args, prefetch=CURSOR_BATCH)
        async for record in cursor:
            encode(dict(record), buffer, -1)
            buffer.append(10)
            rows += 1
            if len(buffer) >= stream.CHUNK_BYTES:
                size += len(buffer)
                buffer.clear()
    return rows, size + len(buffer)


def child(arguments: dict[str, Any]) -> None:
    """Run one export as `arguments` say and print its `Run` as JSON."""
    end = datetime.fromisoformat(arguments["end"]) if arguments["end"] else None
    started, cpu = time.perf_counter(), time.process_time()
    rows, size = asyncio.run(
        _export(arguments["database_url"], arguments["kind"], UUID(arguments["brand_id"]), end)
    )
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    run = Run(
        kind=arguments["kind"],
        rows=rows,
        bytes=size,
        seconds=round(seconds, 3),
        cpu_seconds=round(time.process_time() - cpu, 3),
        peak_rss_mb=round(peak, 1),
    )
    sys.stdout.buffer.write(msgspec.json.encode(run))


# -- the parent ----------------------------------------------------------------------------------------------


def _postgres(env: Env) -> psutil.Process | None:
    pid_file = env.settings.data_path / "postgres" / "postmaster.pid"
    return psutil.Process(int(pid_file.read_text().split()[0])) if pid_file.exists() else None


def _run(env: Env, kind: str, brand_id: UUID, end: datetime | None = None) -> Run:
    arguments = {
        "database_url": env.settings.database_url,
        "kind": kind,
        "brand_id": str(brand_id),
        "end": end.isoformat() if end else None,
    }
    postgres = _postgres(env)
    before = _cpu_seconds(postgres)
    done = subprocess.run(
        [sys.executable, "-m", "bench.export", json.dumps(arguments)],
        env=child_environment(env),
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"export {kind} failed: {done.stderr.decode(errors='replace')[-4000:]}")
    run = msgspec.json.decode(done.stdout, type=Run)
    if postgres is not None:
        run.postgres_cpu_seconds = round(_cpu_seconds(postgres) - before, 3)
    print(
        f"  {kind:<13} {run.rows:>9,} rows {run.seconds:>7.2f} s {run.rate:>9,.0f} rows/s "
        f"peak RSS {run.peak_rss_mb:>6.1f} MB",
        file=sys.stderr,
        flush=True,
    )
    return run


async def _prepare(database_url: str, answers: int) -> UUID:
    conn = await db.connect(database_url)
    try:
        brand = await tenants.brand_by_slug(conn, "bench")
        assert brand is not None
        started = time.perf_counter()
        await load(conn, brand.brand_id, answers)
        print(f"loaded {answers:,} answers in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        return brand.brand_id
    finally:
        await conn.close()


async def _ends(database_url: str, brand_id: UUID, counts: list[int]) -> dict[int, datetime | None]:
    """For each count, the time before which that many of the brand's answers were given (None: all)."""
    conn = await db.connect(database_url)
    try:
        total = await conn.fetchval("SELECT count(*) FROM answers WHERE brand_id = $1", brand_id)
        ends: dict[int, datetime | None] = {}
        for count in counts:
            ends[count] = (
                None
                if count >= total
                else await conn.fetchval(
                    "SELECT answered_at FROM answers WHERE brand_id = $1 ORDER BY answered_at OFFSET $2 LIMIT 1",
                    brand_id,
                    count,
                )
            )
        return ends
    finally:
        await conn.close()


def _rate(kind: str, runs: list[Run], ceilings: list[Run]) -> Rate:
    ratios = [round(run.rate / ceiling.rate, 3) for run, ceiling in zip(runs, ceilings, strict=True)]
    postgres = [r.postgres_cpu_seconds for r in runs if r.postgres_cpu_seconds is not None]
    return Rate(
        kind=kind,
        rows=runs[0].rows,
        rows_per_second=round(statistics.median(r.rate for r in runs)),
        ratio=statistics.median(ratios),
        ratios=ratios,
        cpu_seconds=round(statistics.median(r.cpu_seconds for r in runs), 2),
        postgres_cpu_seconds=round(statistics.median(postgres), 2) if postgres else None,
        megabytes=round(runs[0].bytes / 1e6, 1),
    )


def measure(env: Env, *, answers: int, rounds: int, sav_answers: int) -> ExportResults:
    brand_id = asyncio.run(_prepare(env.settings.database_url, answers))
    sizes = [answers // 4, answers // 2, answers]
    sav_answers = min(sav_answers, answers)
    sav_sizes = [sav_answers // 4, sav_answers // 2, sav_answers]
    ends = asyncio.run(_ends(env.settings.database_url, brand_id, sorted({*sizes, *sav_sizes})))
    kinds = ("copy", "dataset", *STREAMING, "jsonl-cursor")
    runs: dict[str, list[Run]] = {kind: [] for kind in kinds}
    for number in range(rounds):
        print(f"round {number + 1} of {rounds}", file=sys.stderr)
        for kind in kinds:
            runs[kind].append(_run(env, kind, brand_id))
    rates = [_rate(kind, runs[kind], runs["copy"]) for kind in kinds]
    sav = None
    if sav_answers:
        print(f"SPSS on {sav_answers:,} answers", file=sys.stderr)
        end = ends[sav_answers]
        sav_runs = [_run(env, "sav", brand_id, end) for _ in range(rounds)]
        sav = _rate("sav", sav_runs, [_run(env, "copy", brand_id, end) for _ in range(rounds)])
    print("memory as rows grow", file=sys.stderr)
    grown = [("copy", sizes), *((kind, sizes) for kind in STREAMING)] + (
        [("sav", sav_sizes)] if sav_answers else []
    )
    memory = []
    for kind, counts in grown:
        measured = [_run(env, kind, brand_id, ends[count]) for count in counts]
        memory.append(
            Memory(kind=kind, rows=[r.rows for r in measured], peak_rss_mb=[r.peak_rss_mb for r in measured])
        )
    return ExportResults(answers=answers, rounds=rounds, rates=rates, sav=sav, memory=memory, machine=_machine())


def _machine() -> str:
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    except OSError:
        pass
    load = ", ".join(f"{n:.1f}" for n in psutil.getloadavg())
    return f"{psutil.cpu_count()} cores ({model}), {psutil.virtual_memory().total / 2**30:.0f} GiB; load {load}"


if __name__ == "__main__":
    child(json.loads(sys.argv[1]))
