"""An export written to a file on the operator's side (``lxt export``), its codebook next to it.

The same pieces as the HTTP route, in the same order: the dataset is built and checked, the export recorded in
the audit log, then the rows are streamed from one snapshot into ``FILE.part``, renamed to ``FILE`` once whole (a
broken export leaves no file that looks complete), and the codebook written beside it as ``FILE.codebook.json``
and ``FILE.codebook.csv``, with the number of rows written.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import msgspec

from research.exports import codebook, datasets, stream
from research.exports.dataset import ExportRequest
from research.exports.writers import Progress, writer


class Written(msgspec.Struct, frozen=True, kw_only=True):
    path: Path
    rows: int
    bytes: int
    codebooks: tuple[Path, Path]


def codebook_paths(out: Path) -> tuple[Path, Path]:
    return out.with_name(out.name + ".codebook.json"), out.with_name(out.name + ".codebook.csv")


async def write(
    conn: asyncpg.Connection,
    name: str,
    request: ExportRequest,
    format: str,
    out: Path,
    *,
    brand: str,
    actor: str,
    progress: Progress,
    started: Callable[[int | None], None] = lambda total: None,
    work_mem_mb: int | None = None,
) -> Written:
    """Export dataset `name` in `format` to `out`. `started` hears the number of rows to come (when cheap to
    know) before the first is written; `progress` hears of rows as they are written. Raises what
    `datasets.build` and `stream.check` raise before anything is written."""
    dataset = await datasets.build(conn, name, request)
    chosen = writer(format)
    await stream.check(conn, dataset, chosen)
    await stream.audit_export(conn, request, actor=actor, dataset=name, format=format)
    rows = size = 0

    def counted(written: int) -> None:
        nonlocal rows
        rows += written
        progress(written)

    part = out.with_name(out.name + ".part")
    try:
        with part.open("wb") as file:
            async with stream.snapshot(conn, work_mem_mb=work_mem_mb):
                started(await stream.total(conn, dataset))
                async for chunk in stream.export(conn, dataset, chosen, pii=request.pii, progress=counted):
                    file.write(chunk)
                    size += len(chunk)
        part.replace(out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
    book = codebook.codebook(
        dataset,
        brand=brand,
        generated_at=datetime.now(UTC),
        filters=request.where,
        pseudonymised=not request.pii,
        rows=rows,
    )
    as_json, as_csv = codebook_paths(out)
    as_json.write_bytes(codebook.to_json(book))
    as_csv.write_bytes(codebook.to_csv(book))
    return Written(path=out, rows=rows, bytes=size, codebooks=(as_json, as_csv))
