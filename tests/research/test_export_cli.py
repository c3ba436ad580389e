"""``lxt export``: the file and its codebook written on the operator's side, read back and compared with the
database, the export in the audit log, and mistakes reported without a file left behind."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from research import audit
from research.exports.dataset import ExportFilter, ExportRequest
from research.exports.datasets import build
from server.cli import main
from server.settings import Settings
from tests.conftest import BrandFixture
from tests.research.datasets_story import Story, story
from tests.research.readback import from_csv, from_parquet, stored


@pytest.fixture
async def told(client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture, ctx: dict) -> Story:
    return await story(client, conn, brand, ctx)


async def lxt(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_a_parquet_export_and_its_codebook(
    env: Settings, conn: asyncpg.Connection, told: Story, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "answers.parquet"
    assert await lxt("export", "responses-long", "--brand", "acme", "--format", "parquet", "--out", str(out)) == 0
    request = ExportRequest(brand_id=told.brand.brand.brand_id)
    dataset = await build(conn, "responses-long", request)
    rows = from_parquet(dataset, out.read_bytes())
    assert rows and rows == await stored(conn, dataset)
    assert f"wrote {len(rows)} rows" in capsys.readouterr().err
    book = json.loads((tmp_path / "answers.parquet.codebook.json").read_bytes())
    assert book["rows"] == len(rows) and [c["name"] for c in book["columns"]] == [c.name for c in dataset.columns]
    assert (tmp_path / "answers.parquet.codebook.csv").read_bytes().startswith(b"variable,")
    assert sorted(os.listdir(tmp_path)) == [
        "answers.parquet",
        "answers.parquet.codebook.csv",
        "answers.parquet.codebook.json",
    ]
    (entry,) = await audit.entries(conn, told.brand.brand.brand_id, action="export")
    assert (entry.actor, entry.subject) == ("cli", "responses-long")
    assert entry.details == {"format": "parquet", "filters": {}, "pii": False}


async def test_filters_and_contact_data(
    env: Settings, conn: asyncpg.Connection, told: Story, tmp_path: Path
) -> None:
    out = tmp_path / "later.csv"
    argv = ["export", "events", "--brand", "acme", "--format", "csv", "--out", str(out)]
    assert await lxt(*argv, "--from", told.between.isoformat(), "--touchpoint", "store_visit", "--pii") == 0
    where = ExportFilter(start=told.between, touchpoint="store_visit")
    dataset = await build(conn, "events", ExportRequest(brand_id=told.brand.brand.brand_id, where=where, pii=True))
    rows = from_csv(dataset, out.read_bytes(), pii=True)
    assert len(rows) == 1 and rows == await stored(conn, dataset, pii=True, text=True)
    assert rows[0]["phone"] == "+4915187654321"  # Ben's visit, the one store visit after `between`
    (entry,) = await audit.entries(conn, told.brand.brand.brand_id, action="export")
    assert entry.details["pii"] is True and entry.details["filters"]["touchpoint"] == "store_visit"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--brand", "nope", "--format", "csv"], "no brand 'nope'"),
        (["--brand", "acme", "--format", "csv", "--version", "1"], "--version: "),
        (
            ["--brand", "acme", "--format", "csv", "--questionnaire", "every_type", "--version", "7"],
            "no version 7",
        ),
    ],
)
async def test_mistakes_are_reported_and_leave_no_file(
    env: Settings,
    told: Story,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    dataset = "responses-wide" if "7" in argv else "responses-long"
    assert await lxt("export", dataset, *argv, "--out", str(tmp_path / "x.csv")) == 1
    assert message in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_times_need_an_offset(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(
            ["export", "events", "--brand", "acme", "--format", "csv", "--out", "x", "--from", "2026-11-01T00:00"]
        )
    assert "needs a UTC offset" in capsys.readouterr().err
