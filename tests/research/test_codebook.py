"""Codebooks: every column of every dataset described, every option code of every choice question with its label
in every locale, free text and contact data flagged, in JSON and in a CSV one can build SPSS/Stata labels from."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from research.exports.codebook import Codebook, codebook, to_csv, to_json
from research.exports.dataset import Column, Dataset, ExportFilter, ExportRequest, Option
from research.exports.datasets import DATASETS, build
from tests.conftest import BrandFixture
from tests.research.datasets_story import Story, story
from tests.responses.factories import definition

GENERATED = datetime(2026, 11, 24, 10, 15, tzinfo=UTC)
EVERY_TYPE = definition("every_type")


@pytest.fixture
async def told(client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture, ctx: dict) -> Story:
    return await story(client, conn, brand, ctx)


def where(name: str) -> ExportFilter:
    return ExportFilter(questionnaire="every_type", version=1) if name == "responses-wide" else ExportFilter()


async def books(conn: asyncpg.Connection, told: Story, *, pii: bool) -> dict[str, Codebook]:
    found = {}
    for name in DATASETS:
        request = ExportRequest(brand_id=told.brand.brand.brand_id, where=where(name), pii=pii)
        dataset = await build(conn, name, request)
        found[name] = codebook(
            dataset, brand="acme", generated_at=GENERATED, filters=request.where, pseudonymised=not pii, rows=3
        )
    return found


def csv_rows(book: Codebook) -> list[dict[str, str]]:
    text = to_csv(book).decode()
    assert text.endswith("\r\n")
    return list(csv.DictReader(io.StringIO(text)))


async def test_every_column_is_in_the_json_and_the_csv(conn: asyncpg.Connection, told: Story) -> None:
    for pii in (False, True):
        for name, book in (await books(conn, told, pii=pii)).items():
            dataset = await build(
                conn, name, ExportRequest(brand_id=told.brand.brand.brand_id, where=where(name), pii=pii)
            )
            document = msgspec.json.decode(to_json(book))
            assert (document["dataset"], document["brand"], document["pseudonymised"], document["rows"]) == (
                name,
                "acme",
                not pii,
                3,
            )
            assert datetime.fromisoformat(document["generated_at"]) == GENERATED
            assert [c["name"] for c in document["columns"]] == [c.name for c in dataset.columns]
            assert all(c["meaning"] for c in document["columns"])
            rows = csv_rows(book)
            described = [r["variable"] for r in rows if r["meaning"]]
            assert described[: len(dataset.columns)] == [c.name for c in dataset.columns]
            pii_columns = {r["variable"] for r in rows if r["pii"] == "1"}
            assert bool(pii_columns) == pii
            assert pii_columns <= {"external_id", "phone", "push_tokens", "customer_attributes", "idempotency_key"}


async def test_every_option_code_has_its_label_in_every_locale(conn: asyncpg.Connection, told: Story) -> None:
    found = await books(conn, told, pii=False)
    choices = [q for q in EVERY_TYPE.questions if hasattr(q, "options")]
    for name in ("responses-long", "responses-wide"):
        book = found[name]
        assert book.locales == ["en", "de"]
        rows = csv_rows(book)
        for question in choices:
            mine = [r for r in rows if r["question_id"] == question.id and r["code"]]
            assert [r["code"] for r in mine] == [o.code for o in question.options], (name, question.id)
            for row, option in zip(mine, question.options, strict=True):
                assert isinstance(option.label, dict)
                assert (row["label_en"], row["label_de"]) == (option.label["en"], option.label["de"])
        (nps,) = [r for r in rows if r["question_id"] == "nps"]
        assert (nps["type"], nps["scale_min"], nps["scale_max"]) == ("integer", "0", "10")
        assert (nps["text_de"], nps["scale_max_label_en"]) == (
            "Wie wahrscheinlich ist es, dass Sie uns weiterempfehlen?",
            "Extremely likely",
        )
        (comment,) = [r for r in rows if r["question_id"] == "comment"]
        assert (comment["free_text"], comment["type"]) == ("1", "text")

    long = csv_rows(found["responses-long"])
    # The long form's questions are values of `value`, named by questionnaire, version and question.
    assert {(r["variable"], r["questionnaire"], r["version"]) for r in long if r["question_id"]} == {
        ("value", "every_type", "1")
    }
    value = next(r for r in long if r["variable"] == "value" and not r["question_id"])
    assert value["free_text"] == "1"
    wide = csv_rows(found["responses-wide"])
    # A multi-choice question's 0/1 columns each name their option.
    assert [(r["variable"], r["code"], r["label_de"]) for r in wide if r["question_id"] == "extras"] == [
        ("extras_tracking", "tracking", "Live-Verfolgung"),
        ("extras_locker", "locker", "Packstation"),
        ("extras_chat", "chat", "Support-Chat"),
    ]
    # lxt's own codes are listed too (the decision's reasons, the states).
    events = csv_rows(found["events"])
    assert {"no_trigger", "sampled_out", "competitor_encounter"} <= {
        r["code"] for r in events if r["variable"] == "reason"
    }


def test_text_that_a_spreadsheet_would_run_is_neutralised() -> None:
    dataset = Dataset(
        name="responses-wide",
        description="",
        sql="SELECT 1",
        columns=[
            Column(
                name="q",
                type="code",
                meaning="=HYPERLINK()",
                question_id="q",
                text={"en": "+1 or -1?"},
                options=[Option(code="a", labels={"en": "@home"})],
                scale_min=-5,
            )
        ],
    )
    book = codebook(dataset, brand="acme", generated_at=GENERATED, filters=ExportFilter(), pseudonymised=True)
    own, option = csv_rows(book)
    assert (own["meaning"], own["text_en"], own["scale_min"], option["label_en"]) == (
        "'=HYPERLINK()",
        "'+1 or -1?",
        "-5",
        "'@home",
    )
