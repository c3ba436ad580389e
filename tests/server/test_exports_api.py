"""``GET /v1/exports/{dataset}`` and its codebook: every dataset in every format read back and compared with the
database, contact data only for `export_pii` keys, refusals naming the field before any byte, the audit log, and
the connection an export holds for as long as it streams."""

from __future__ import annotations

import asyncio
import io
import json
import sys
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from bench.export_data import load
from research import audit
from research.exports.dataset import ExportFilter, ExportRequest
from research.exports.datasets import build
from server.routes.exports import Slots
from tests.browser.conftest import live_server  # noqa: F401 (a fixture: lxt served by uvicorn)
from tests.conftest import BrandFixture
from tests.research.datasets_story import Story, answer, story, surveyed
from tests.research.readback import from_csv, from_json_lines, from_parquet, stored

HYPERLINK = '=HYPERLINK("http://evil.example","click me")'
WIDE = {"questionnaire": "every_type", "version": 1}
"""The wide form holds one questionnaire version."""
DATASETS = {"responses-long": {}, "responses-wide": WIDE, "events": {}, "invitations": {}, "timelines": {}}


@pytest.fixture
async def told(client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture, ctx: dict) -> Story:
    """The datasets' story, and Carl, whose comment a spreadsheet would run as a formula."""
    told = await story(client, conn, brand, ctx)
    carl = await surveyed(client, brand, ctx, "visit-carl", {"external_id": "carl", "phone": "+4915111111111",
                          "consents": {"sms": True}}, told.between)  # fmt: skip
    await answer(conn, brand, carl, "web", {"nps": 0, "stars": 1, "mood": 1, "effort": None, "channel": "web"})
    await answer(conn, brand, carl, "web", {"extras": None, "again": False, "parcels": None, "comment": HYPERLINK})
    return told


async def get_export(
    client: AsyncTestClient, brand: BrandFixture, dataset: str, scope: str = "export", **params: Any
) -> Any:
    return await client.get(f"/v1/exports/{dataset}", params=params, headers=brand.headers(scope))


async def dataset_of(conn: asyncpg.Connection, brand: BrandFixture, name: str, *, pii: bool = False) -> Any:
    where = ExportFilter(**DATASETS[name])
    return await build(conn, name, ExportRequest(brand_id=brand.brand.brand_id, where=where, pii=pii))


@pytest.mark.parametrize("name", list(DATASETS))
async def test_csv_read_back_is_what_the_database_holds(
    client: AsyncTestClient, conn: asyncpg.Connection, told: Story, name: str
) -> None:
    response = await get_export(client, told.brand, name, format="csv", **DATASETS[name])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; header=present; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith(f'attachment; filename="acme-{name}-') and disposition.endswith('.csv"')
    dataset = await dataset_of(conn, told.brand, name)
    rows = from_csv(dataset, response.content)
    assert rows and rows == await stored(conn, dataset, text=True)


async def test_formulas_are_neutralised_and_numbers_kept(
    client: AsyncTestClient, conn: asyncpg.Connection, told: Story
) -> None:
    response = await get_export(client, told.brand, "responses-long", format="csv")
    text = response.content.decode()
    assert ',"\'=HYPERLINK(""http://evil.example"",""click me"")",' in text and ",'=Der Fahrer war nett," in text
    assert ",=" not in text and ',"=' not in text
    values = {(r["question_id"], r["value_number"]) for r in from_csv(await dataset_of(conn, told.brand,
              "responses-long"), response.content)}  # fmt: skip
    assert ("nps", 0.0) in values and ("nps", 9.0) in values


@pytest.mark.parametrize("name", list(DATASETS))
async def test_parquet_read_back_has_real_types_and_the_stored_values(
    client: AsyncTestClient, conn: asyncpg.Connection, told: Story, name: str
) -> None:
    response = await get_export(client, told.brand, name, format="parquet", **DATASETS[name])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    dataset = await dataset_of(conn, told.brand, name)
    assert from_parquet(dataset, response.content) == await stored(conn, dataset)
    schema = pq.read_schema(io.BytesIO(response.content))
    for column in dataset.columns:
        if column.type == "timestamp":
            assert schema.field(column.name).type == pa.timestamp("us", tz="UTC"), column.name
        if column.type == "integer":
            assert schema.field(column.name).type == pa.int64(), column.name
        if column.type == "code":
            assert pa.types.is_dictionary(schema.field(column.name).type), column.name


@pytest.mark.parametrize("name", list(DATASETS))
async def test_json_lines_parse_to_the_stored_values(
    client: AsyncTestClient, conn: asyncpg.Connection, told: Story, name: str
) -> None:
    response = await get_export(client, told.brand, name, format="jsonl", **DATASETS[name])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/jsonl")
    dataset = await dataset_of(conn, told.brand, name)
    assert from_json_lines(dataset, response.content) == await stored(conn, dataset)


async def test_spss_has_labels(client: AsyncTestClient, told: Story, tmp_path: Path) -> None:
    pyreadstat = pytest.importorskip("pyreadstat")
    response = await get_export(client, told.brand, "responses-wide", format="sav", **WIDE)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-spss-sav"
    path = tmp_path / "wide.sav"
    path.write_bytes(response.content)
    frame, meta = pyreadstat.read_sav(str(path))
    assert len(frame) == 3
    assert meta.column_names_to_labels["q_channel"] == "Where did you order?"
    assert meta.variable_value_labels["q_channel"] == {"app": "In the app", "web": "On the website",
                                                       "none": "I did not order"}  # fmt: skip
    assert meta.variable_value_labels["extras_locker"] == {1.0: "Parcel locker"}
    assert meta.variable_measure["nps"] == "scale" and meta.variable_measure["q_channel"] == "nominal"
    assert sorted(frame["nps"]) == [0, 3, 9]


async def test_spss_without_pyreadstat_is_refused_naming_the_format(
    client: AsyncTestClient, told: Story, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyreadstat", None)  # as if the `spss` extra were not installed
    response = await get_export(client, told.brand, "responses-long", format="sav")
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "query:format"
    assert "pyreadstat" in response.json()["errors"][0]["message"]


async def test_contact_data_only_for_export_pii_keys(client: AsyncTestClient, told: Story) -> None:
    for name in DATASETS:
        plain = await get_export(client, told.brand, name, format="csv", **DATASETS[name])
        header = plain.content.split(b"\r\n")[0].decode().split(",")
        assert "phone" not in header and b"+4915112345678" not in plain.content, name
        assert b"anna" not in plain.content and b"tok-anna" not in plain.content, name
    full = await get_export(client, told.brand, "responses-long", "export_pii", format="csv")
    assert full.status_code == 200
    header = full.content.split(b"\r\n")[0].decode().split(",")
    assert {"external_id", "phone", "push_tokens", "customer_attributes"} <= set(header)
    assert b"+4915112345678" in full.content and b"tok-anna" in full.content


@pytest.mark.parametrize("scope", ["ingest", "manage"])
async def test_keys_without_the_export_scope_are_forbidden(
    client: AsyncTestClient, brand: BrandFixture, scope: str
) -> None:
    for path in ("/v1/exports/events", "/v1/exports/events/codebook"):
        assert (await client.get(path, headers=brand.headers(scope))).status_code == 403


@pytest.mark.parametrize(
    ("path", "params", "pointer"),
    [
        ("/v1/exports/answers", {}, "path:dataset"),
        ("/v1/exports/events", {"format": "xlsx"}, "query:format"),
        ("/v1/exports/events", {"from": "yesterday"}, "query:from"),
        ("/v1/exports/events", {"from": "2026-11-24T10:00:00Z", "to": "2026-11-24T09:00:00Z"}, "query:to"),
        ("/v1/exports/events", {"to": "2026-11-24T09:00:00"}, "query:to"),
        ("/v1/exports/events", {"version": "2"}, "query:version"),
        ("/v1/exports/events", {"version": "0", "questionnaire": "every_type"}, "query:version"),
        ("/v1/exports/events", {"touchpoint": "Not A Key"}, "query:touchpoint"),
        ("/v1/exports/responses-wide", {}, "query:questionnaire"),
        ("/v1/exports/answers/codebook", {}, "path:dataset"),
        ("/v1/exports/events/codebook", {"format": "sav"}, "query:format"),
    ],
)
async def test_bad_input_is_refused_naming_the_field(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, path: str, params: dict, pointer: str
) -> None:
    response = await client.get(path, params=params, headers=brand.headers("export"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["pointer"] for e in response.json()["errors"]] == [pointer]
    assert await audit.entries(conn, brand.brand.brand_id, action="export") == []  # refused: nothing exported


async def test_every_export_is_in_the_audit_log(
    client: AsyncTestClient, conn: asyncpg.Connection, told: Story
) -> None:
    await get_export(client, told.brand, "events", format="parquet", touchpoint="store_visit")
    await get_export(client, told.brand, "responses-long", "export_pii", format="csv", **WIDE)
    second, first = await audit.entries(conn, told.brand.brand.brand_id, action="export")
    prefixes = dict(
        await conn.fetch("SELECT name, prefix FROM api_keys WHERE brand_id = $1", told.brand.brand.brand_id)
    )
    assert (first.actor, first.subject) == (f"key:{prefixes['test export']}", "events")
    assert first.details == {"format": "parquet", "filters": {"touchpoint": "store_visit"}, "pii": False}
    assert (second.actor, second.subject) == (f"key:{prefixes['test export_pii']}", "responses-long")
    assert second.details == {"format": "csv", "filters": WIDE, "pii": True}


async def test_the_codebook_describes_the_same_export(
    client: AsyncTestClient, conn: asyncpg.Connection, told: Story
) -> None:
    export = await get_export(client, told.brand, "responses-wide", format="csv", **WIDE)
    link = export.headers["link"]
    assert link.startswith("</v1/exports/responses-wide/codebook?") and link.endswith('>; rel="describedby"')
    described = await client.get(link[1 : link.index(">")], headers=told.brand.headers("export"))
    assert described.status_code == 200 and described.headers["content-type"] == "application/json"
    book = described.json()
    header = export.content.split(b"\r\n")[0].decode().split(",")
    assert [c["name"] for c in book["columns"]] == header
    assert {k: v for k, v in book["filters"].items() if v is not None} == WIDE and book["pseudonymised"] is True
    as_csv = await client.get(
        "/v1/exports/responses-wide/codebook", params={**WIDE, "format": "csv"}, headers=told.brand.headers()
    )
    assert as_csv.headers["content-type"] == "text/csv; header=present; charset=utf-8"
    assert as_csv.content.startswith(b"variable,") and b"\r\nchannel," in as_csv.content
    assert (
        await audit.entries(conn, told.brand.brand.brand_id, action="export") != []
    )  # the export, not the codebook


async def test_an_export_beyond_the_running_ones_waits_its_turn_with_a_503(
    app: Litestar, client: AsyncTestClient, brand: BrandFixture
) -> None:
    slots: Slots = app.state.export_slots
    for _ in range(slots.size):
        await slots.semaphore.acquire()
    try:
        response = await get_export(client, brand, "events")
        assert response.status_code == 503 and response.headers["retry-after"] == "30"
    finally:
        for _ in range(slots.size):
            slots.semaphore.release()
    assert (await get_export(client, brand, "events")).status_code == 200


async def test_a_client_that_goes_away_frees_the_connection_and_the_slot(
    app: Litestar,
    live_server: str,  # noqa: F811 (the fixture imported above)
    conn: asyncpg.Connection,
    brand: BrandFixture,
) -> None:
    """Over a real HTTP connection (the test client would read the whole body first): the client reads the start
    of an export of several megabytes and hangs up."""
    await load(conn, brand.brand.brand_id, 20_000)  # ~8 MB of CSV
    host, port = live_server.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    key = brand.keys["export"]
    writer.write(
        f"GET /v1/exports/responses-long HTTP/1.1\r\nHost: lxt.test\r\nAuthorization: Bearer {key}\r\n\r\n".encode()
    )
    await writer.drain()
    assert (await reader.readline()).startswith(b"HTTP/1.1 200")
    assert len(await reader.read(64 << 10)) > 0
    writer.close()  # gone, some megabytes early
    await writer.wait_closed()

    slots: Slots = app.state.export_slots
    pool: asyncpg.Pool = app.state.pool
    busy = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state <> 'idle' "
        "AND pid <> pg_backend_pid()"
    )
    deadline = asyncio.get_running_loop().time() + 10
    # The slot and the connection come back, and no COPY or transaction is left behind on the server.
    while slots.semaphore.locked() or pool.get_idle_size() < pool.get_size() or await conn.fetchval(busy):
        assert asyncio.get_running_loop().time() < deadline, "the export kept its slot, connection or query"
        await asyncio.sleep(0.02)
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        whole = await http.get("/v1/exports/responses-long?format=jsonl", headers=brand.headers("export"))
    assert whole.status_code == 200 and len(whole.content.splitlines()) == 20_000
    assert json.loads(whole.content.splitlines()[0])["questionnaire"] == "every_type"
