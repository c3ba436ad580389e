"""The timeline's SQL on its own: both forms are valid statements, and the language it shows a question in is the
one the customer was asked in (`questionnaires.locales.pick_locale`)."""

from __future__ import annotations

from uuid import uuid4

import asyncpg
import msgspec
import pytest

from questionnaires.locales import pick_locale, resolve
from questionnaires.model import Definition
from research.timeline_sql import COLUMNS, CUSTOMER_LOCALE, OFFERED_LOCALES, items_sql


@pytest.mark.parametrize(("customers", "ids"), [("= $5", 1), ("BETWEEN $5 AND $6", 2)])
@pytest.mark.parametrize("personal", [True, False])
async def test_both_forms_are_statements_of_the_documented_columns(
    conn: asyncpg.Connection, customers: str, ids: int, personal: bool
) -> None:
    """One customer (the API) and a range of customers (the export, which names its range's ends otherwise)."""
    statement = await conn.prepare(items_sql(customers=customers, personal=personal))
    assert tuple(a.name for a in statement.get_attributes()) == COLUMNS
    types = [p.name for p in statement.get_parameters()]
    assert types == ["uuid", "timestamptz", "timestamptz", "text[]", *["uuid"] * ids]
    assert await statement.fetch(uuid4(), None, None, None, *sorted(uuid4() for _ in range(ids))) == []


def survey(default: str, *, declared: list[str] | None, translated: list[str]) -> Definition:
    def text(words: str) -> dict[str, str] | str:
        return {locale: f"{words} ({locale})" for locale in translated} if len(translated) > 1 else words

    body = {
        "key": "visit",
        "title": text("Your visit"),
        "default_locale": default,
        "questions": [{"id": "nps", "type": "nps", "text": text("Recommend us?")}],
    }
    if declared is not None:
        body["locales"] = declared
    return msgspec.convert(body, Definition)


SURVEYS = [
    survey("en", declared=None, translated=["en"]),
    survey("en", declared=["en", "de"], translated=["en", "de"]),
    survey("en", declared=None, translated=["en", "de", "fr"]),
    survey("de", declared=["de", "de-CH", "de-AT", "en"], translated=["de", "de-CH", "de-AT", "en"]),
    survey("en", declared=["en", "de-CH", "de-AT", "zh-Hant"], translated=["en", "de-CH", "de-AT", "zh-Hant"]),
    survey("fr", declared=None, translated=["fr", "pt-BR", "pt-PT", "es-419"]),
]
CUSTOMER_LOCALES = [None, "en", "de", "de-CH", "de-DE", "de-AT", "fr", "fr-CA", "pt", "pt-PT", "es", "zh-Hant-TW",
                    "zh", "it"]  # fmt: skip


@pytest.mark.parametrize("definition", SURVEYS, ids=lambda d: ",".join(d.locales or ["-"]))
async def test_a_question_is_shown_in_the_language_the_customer_was_asked_in(
    conn: asyncpg.Connection, definition: Definition
) -> None:
    question = definition.questions[0]
    chosen = await conn.fetch(
        f"""
        SELECT cu.locale AS wanted, r.locale, q.text #>> '{{}}' AS plain, q.text
        FROM (SELECT $1::text::jsonb AS definition) v
        CROSS JOIN unnest($2::text[]) AS cu (locale)
        CROSS JOIN LATERAL ({OFFERED_LOCALES}) o
        CROSS JOIN LATERAL (SELECT {CUSTOMER_LOCALE} AS locale) r
        CROSS JOIN LATERAL (SELECT v.definition -> 'questions' -> 0 -> 'text' AS text) q
        """,
        msgspec.json.encode(definition).decode(),
        CUSTOMER_LOCALES,
    )
    for row in chosen:
        expected = pick_locale(definition, row["wanted"])
        assert row["locale"] == expected, row["wanted"]
        shown = row["plain"] if isinstance(row["text"], str) else row["text"][row["locale"]]
        assert shown == resolve(question.text, expected, definition.default_locale)
