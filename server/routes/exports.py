"""Exports: a dataset streamed as CSV, JSON Lines, Parquet or SPSS, and its codebook as JSON or CSV.

A streamed response outlives its handler, and with it the request's pooled connection (`server.deps` releases it
when the handler returns). So the handler does everything that can be refused — the filters, the dataset, the
format, the audit record — on the request's connection, and the body takes a connection of its own from the pool
when the first chunk is wanted, reads every row in one read-only snapshot on it (`stream.snapshot`), and gives it
back when the last chunk is sent or the client goes away (the body's ``finally``). An export may take minutes, so
at most `Slots.size` of them run at once in an API process, leaving the rest of the pool to ingestion: one more
is answered 503 with ``Retry-After`` before it starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal
from urllib.parse import urlencode

import asyncpg
from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.openapi.spec import OpenAPIFormat, OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Schema
from litestar.params import PathParameter, QueryParameter
from litestar.response import Stream

from research.exports import codebook as codebooks
from research.exports import datasets, stream
from research.exports.dataset import Dataset, ExportFilter, ExportRequest
from research.exports.formats import Format
from research.exports.writers import WRITERS, FormatUnavailable, TooManyRows, Writer, writer
from server import db
from server.auth import requires
from server.deps import Conn
from server.errors import ApiError, ProblemOperation, invalid, problems
from server.routes.params import FromTime, KeyQuery, ToTime, parse_time
from server.tenants import Principal

Req = Request[Principal, Principal, State]

CodebookFormat = Literal["json", "csv"]

CODEBOOK_TYPES = {"json": "application/json", "csv": "text/csv; header=present"}
"""(Litestar adds ``charset=utf-8`` to a text type.)"""

DatasetName = Annotated[
    str,
    PathParameter(
        min_length=1,
        max_length=64,
        description=f"The dataset: {', '.join(f'`{name}`' for name in datasets.DATASETS)}.",
    ),
]


class Slots:
    """How many exports may stream at once in this process: each holds a pooled connection while it streams."""

    def __init__(self, pool_size: int) -> None:
        self.size = max(1, pool_size // 4)
        self.semaphore = asyncio.Semaphore(self.size)

    def check(self) -> None:
        """Refuse an export now, before its response starts, if every slot is taken (a 503 to retry)."""
        if self.semaphore.locked():
            raise ApiError(
                503,
                f"{self.size} exports are streaming already, the most this server runs at once; retry later",
                headers={"Retry-After": "30"},
            )


def file_operation(media_types: dict[str, str]) -> type[ProblemOperation]:
    """The OpenAPI operation of a route whose 200 is a file in one of several formats (its `media_types`)."""

    @dataclass
    class FileOperation(ProblemOperation):
        def __post_init__(self) -> None:
            super().__post_init__()
            binary = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
            assert self.responses is not None
            self.responses["200"] = OpenAPIResponse(
                description="The file, in the format asked for: "
                + ", ".join(f"`{name}` as `{media}`" for name, media in media_types.items())
                + ".",
                content={media: OpenAPIMediaType(schema=binary) for media in media_types.values()},
            )

    return FileOperation


VersionQuery = Annotated[
    int | None, QueryParameter(ge=1, le=2**31 - 1, description="A version of `questionnaire` (which it needs).")
]


def export_filter(
    start: str | None,
    end: str | None,
    touchpoint: str | None,
    trigger: str | None,
    questionnaire: str | None,
    version: int | None,
) -> ExportFilter:
    """The filters both routes take, as the dataset reads them. (Not a Litestar dependency: one that fails while
    the request's connection is being provided leaves that connection's cleanup hanging.)"""
    since, until = parse_time(start, "from"), parse_time(end, "to")
    if since and until and until <= since:
        raise invalid("query:to", "must be after `from`")
    return ExportFilter(
        start=since,
        end=until,
        touchpoint=touchpoint,
        trigger=trigger,
        questionnaire=questionnaire,
        version=version,
    )


async def _dataset(conn: asyncpg.Connection, name: str, request: ExportRequest) -> Dataset:
    try:
        return await datasets.build(conn, name, request)
    except datasets.UnknownDataset as exc:
        raise invalid("path:dataset", str(exc)) from None


def _export_request(request: Req, where: ExportFilter) -> ExportRequest:
    return ExportRequest(brand_id=request.auth.brand_id, where=where, pii="export_pii" in request.auth.scopes)


def _disposition(name: str) -> str:
    return f'attachment; filename="{name}"'


_FILTERS_TEXT = (
    "Filters combine: `from` (inclusive) and `to` (exclusive) on the dataset's own time (an answer's, an event's "
    "occurrence, an invitation's contact), `touchpoint`, `trigger`, `questionnaire` and its `version`. "
)


@get(
    "/exports/{dataset:str}",
    tags=["exports"],
    opt=requires("export"),
    summary="Export a dataset",
    description="The dataset's rows as a file, streamed: `format=csv` (UTF-8, RFC 4180, a header row; cells a "
    "spreadsheet would run as formulas get a leading `'`), `jsonl` (one JSON object per line), `parquet` (real "
    "types: timestamps in UTC, integers, dictionary-encoded codes, lists of codes) or `sav` (SPSS, with variable "
    "and value labels; it holds its rows in memory, so it is refused above a number of rows). Customers are "
    "named by a stable pseudonym; contact data (phone, push tokens, attributes) only for a key with the "
    "`export_pii` scope. "
    + _FILTERS_TEXT
    + "Each export is recorded in the brand's audit log. The `Link` header points to the codebook of the same "
    "export (`rel=describedby`). Refusals (422 naming the field) come before the first byte; an export that "
    "breaks off midway ends the response early.",
    responses=problems(401, 403, 422, 503),
    operation_class=file_operation({name: w.media_type for name, w in WRITERS.items()}),
)
async def export(
    request: Req,
    conn: Conn,
    dataset: DatasetName,
    format: Annotated[Format, QueryParameter(description="The file's format.")] = "csv",
    start: FromTime = None,
    end: ToTime = None,
    touchpoint: KeyQuery = None,
    trigger: KeyQuery = None,
    questionnaire: KeyQuery = None,
    version: VersionQuery = None,
) -> Stream:
    where = export_filter(start, end, touchpoint, trigger, questionnaire, version)
    slots: Slots = request.app.state.export_slots
    slots.check()
    wanted = _export_request(request, where)
    built = await _dataset(conn, dataset, wanted)
    chosen = writer(format)
    try:
        await stream.check(conn, built, chosen)
    except (FormatUnavailable, TooManyRows) as exc:
        raise invalid("query:format", str(exc)) from None
    await stream.audit_export(conn, wanted, actor=f"key:{request.auth.prefix}", dataset=dataset, format=format)
    name = stream.filename(request.auth.brand_slug, dataset, chosen, datetime.now(UTC))
    codebook_link = f"{request.url.path}/codebook?{urlencode({**dict(request.query_params), 'format': 'json'})}"
    return Stream(
        _body(
            request.app.state.pool,
            slots,
            built,
            chosen,
            pii=wanted.pii,
            work_mem_mb=request.app.state.settings.export_work_mem_mb,
        ),
        media_type=chosen.media_type,
        headers={"Content-Disposition": _disposition(name), "Link": f'<{codebook_link}>; rel="describedby"'},
    )


async def _body(
    pool: asyncpg.Pool, slots: Slots, dataset: Dataset, chosen: Writer, *, pii: bool, work_mem_mb: int
) -> AsyncIterator[bytes]:
    """The export's bytes, on a connection of its own for as long as it streams (see the module's docstring)."""
    async with slots.semaphore, db.acquire(pool) as conn, stream.snapshot(conn, work_mem_mb=work_mem_mb):
        async for chunk in stream.export(conn, dataset, chosen, pii=pii):
            yield chunk


@get(
    "/exports/{dataset:str}/codebook",
    tags=["exports"],
    opt=requires("export"),
    summary="The codebook of an export",
    description="What each column of the export with the same filters means and holds: type, meaning, question "
    "text per locale, option codes with their labels, scale ends, which columns are contact data (`pii`) or the "
    "customer's own words (`free_text`). `format=json` is the whole document; `format=csv` one row per column "
    "and per option code, to build SPSS or Stata labels by hand. " + _FILTERS_TEXT,
    responses=problems(401, 403, 422, 503),
    operation_class=file_operation(CODEBOOK_TYPES),
)
async def read_codebook(
    request: Req,
    conn: Conn,
    dataset: DatasetName,
    format: Annotated[CodebookFormat, QueryParameter(description="The codebook's format.")] = "json",
    start: FromTime = None,
    end: ToTime = None,
    touchpoint: KeyQuery = None,
    trigger: KeyQuery = None,
    questionnaire: KeyQuery = None,
    version: VersionQuery = None,
) -> Response[bytes]:
    where = export_filter(start, end, touchpoint, trigger, questionnaire, version)
    wanted = _export_request(request, where)
    built = await _dataset(conn, dataset, wanted)
    now = datetime.now(UTC)
    book = codebooks.codebook(
        built, brand=request.auth.brand_slug, generated_at=now, filters=where, pseudonymised=not wanted.pii
    )
    body = codebooks.to_json(book) if format == "json" else codebooks.to_csv(book)
    name = f"{request.auth.brand_slug}-{dataset}-{now:%Y%m%dT%H%M%SZ}.codebook.{format}"
    return Response(body, media_type=CODEBOOK_TYPES[format], headers={"Content-Disposition": _disposition(name)})


ROUTES = [export, read_codebook]
