"""The responses datasets, long and wide, run on the story of `datasets_story` and compared with what the answering
path stored: current answers only, skipped and branched-away questions empty (never 0), every type as typed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from research.exports.dataset import Dataset, ExportFilter, ExportRequest
from research.exports.datasets import ExportFilterInvalid, build
from research.exports.datasets.questions import variable_name
from research.pseudonyms import brand_key
from tests.conftest import BrandFixture
from tests.research.datasets_story import Story, story

PYTHON_TYPES: dict[str, Any] = {
    "text": str,
    "code": str,
    "codes": list,
    "integer": int,
    "number": float,
    "boolean": bool,
    "timestamp": datetime,
    "json": (dict, list),
}


async def rows_of(conn: asyncpg.Connection, dataset: Dataset) -> list[dict[str, Any]]:
    """The dataset's rows, after checking that the query's columns are its `Column`s, each value typed as its
    column says."""
    statement = await conn.prepare(dataset.sql)
    assert [a.name for a in statement.get_attributes()] == [c.name for c in dataset.columns]
    rows = [dict(r) for r in await statement.fetch(*dataset.args)]
    for row in rows:
        for column in dataset.columns:
            value = row[column.name]
            assert value is None or isinstance(value, PYTHON_TYPES[column.type]), (column.name, value)
    return rows


@pytest.fixture
async def told(client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture, ctx: dict) -> Story:
    return await story(client, conn, brand, ctx)


def request(told: Story, **where: Any) -> ExportRequest:
    return ExportRequest(brand_id=told.brand.brand.brand_id, where=ExportFilter(**where))


async def test_the_long_form_is_every_current_answer_as_stored(conn: asyncpg.Connection, told: Story) -> None:
    dataset = await build(conn, "responses-long", request(told))
    rows = await rows_of(conn, dataset)
    stored = await conn.fetch(
        "SELECT answer_id::text, invitation_id::text, question_id, value FROM answers "
        "WHERE brand_id = $1 AND replaced_at IS NULL",
        told.brand.brand.brand_id,
    )
    assert sorted((r["answer_id"], r["invitation_id"], r["question_id"]) for r in rows) == sorted(
        (s["answer_id"], s["invitation_id"], s["question_id"]) for s in stored
    )
    assert len(rows) == 9 + 5  # Anna all nine; Ben up to `channel` (branching ended it there): extras is gone

    by = {(r["invitation_id"], r["question_id"]): r for r in rows}
    assert by[told.anna, "channel"]["value"] == "app"  # her first answer, web, was replaced
    assert (told.ben, "extras") not in by  # branched away when channel became `none`
    skipped = by[told.anna, "effort"]
    assert (skipped["value"], skipped["value_number"], skipped["skipped"]) == (None, None, True)
    nps = by[told.anna, "nps"]
    assert (nps["value"], nps["value_number"], nps["question_type"], nps["position"]) == ("9", 9.0, "nps", 1)
    assert by[told.anna, "extras"]["value"] == '["chat", "tracking"]'
    assert (by[told.anna, "again"]["value"], by[told.anna, "again"]["value_number"]) == ("true", 1.0)
    comment = by[told.anna, "comment"]
    assert (comment["value"], comment["free_text"], comment["value_number"]) == (
        "=Der Fahrer war nett",
        True,
        None,
    )
    assert not any(r["free_text"] for r in rows if r["question_id"] != "comment")

    assert {r["locale"] for r in rows if r["invitation_id"] == told.anna} == {"de"}
    assert {r["locale"] for r in rows if r["invitation_id"] == told.ben} == {"en"}  # en-GB reads the English
    assert {(r["touchpoint"], r["trigger"], r["questionnaire"], r["questionnaire_version"]) for r in rows} == {
        ("store_visit", "after_visit", "every_type", 1)
    }
    assert {r["channel"] for r in rows if r["invitation_id"] == told.ben} == {"app"}
    events = dict(
        await conn.fetch(
            "SELECT invitation_id::text, event_id::text FROM invitations WHERE brand_id = $1",
            told.brand.brand.brand_id,
        )
    )
    assert all(r["event_id"] == events[r["invitation_id"]] for r in rows)

    # In contact order (Anna's first), each invitation's answers in the questionnaire's order.
    assert [r["invitation_id"] for r in rows] == [told.anna] * 9 + [told.ben] * 5
    assert [r["position"] for r in rows] == [*range(1, 10), *range(1, 6)]


async def test_the_wide_form_is_one_typed_column_per_question_and_empty_where_not_answered(
    conn: asyncpg.Connection, told: Story
) -> None:
    dataset = await build(conn, "responses-wide", request(told, questionnaire="every_type", version=1))
    rows = await rows_of(conn, dataset)
    questions = [c.name for c in dataset.columns if c.question_id]
    # `channel` is a column of the invitation already: the question's column gets a prefix.
    assert questions == [
        "nps", "stars", "mood", "effort", "q_channel", "extras_tracking", "extras_locker", "extras_chat", "again",
        "parcels", "comment",
    ]  # fmt: skip
    anna, ben = rows
    assert (anna["invitation_id"], ben["invitation_id"]) == (told.anna, told.ben)
    assert {name: anna[name] for name in questions} == {
        "nps": 9, "stars": 4, "mood": 5, "effort": None, "q_channel": "app", "extras_tracking": 1,
        "extras_locker": 0, "extras_chat": 1, "again": True, "parcels": 3, "comment": "=Der Fahrer war nett",
    }  # fmt: skip
    # Ben's extras were branched away and the rest never asked: empty, not 0.
    assert {name: ben[name] for name in questions} == {
        "nps": 3, "stars": 2, "mood": 1, "effort": 5, "q_channel": "none", "extras_tracking": None,
        "extras_locker": None, "extras_chat": None, "again": None, "parcels": None, "comment": None,
    }  # fmt: skip
    assert (anna["response_state"], anna["end_reason"], anna["locale"]) == ("completed", "completed", "de")
    assert (ben["response_state"], ben["end_reason"], ben["locale"]) == ("completed", "ended_early", "en")
    assert (anna["channel"], ben["channel"]) == ("web", "app")


@pytest.mark.parametrize(
    ("where", "pointer"),
    [
        ({}, "query:questionnaire"),
        ({"questionnaire": "every_type"}, "query:version"),
        ({"questionnaire": "every_type", "version": 2}, "query:version"),
        ({"questionnaire": "nothing_like_it", "version": 1}, "query:version"),
    ],
)
async def test_the_wide_form_names_the_filter_it_needs(
    conn: asyncpg.Connection, brand: BrandFixture, where: dict, pointer: str
) -> None:
    with pytest.raises(ExportFilterInvalid) as raised:
        await build(
            conn, "responses-wide", ExportRequest(brand_id=brand.brand.brand_id, where=ExportFilter(**where))
        )
    assert [e.pointer for e in raised.value.errors] == [pointer]


async def test_questions_are_described_in_every_locale(conn: asyncpg.Connection, told: Story) -> None:
    wide = await build(conn, "responses-wide", request(told, questionnaire="every_type", version=1))
    by = {c.name: c for c in wide.columns}
    assert by["nps"].text == {
        "en": "How likely are you to recommend us to a friend?",
        "de": "Wie wahrscheinlich ist es, dass Sie uns weiterempfehlen?",
    }
    assert (by["nps"].type, by["nps"].scale_min, by["nps"].scale_max) == ("integer", 0, 10)
    assert by["nps"].scale_labels["max"] == {"en": "Extremely likely", "de": "Äußerst wahrscheinlich"}
    assert [(o.code, o.labels["de"]) for o in by["q_channel"].options] == [
        ("app", "In der App"),
        ("web", "Auf der Website"),
        ("none", "Ich habe nicht bestellt"),
    ]
    assert by["extras_locker"].option is not None and by["extras_locker"].option.labels == {
        "en": "Parcel locker",
        "de": "Packstation",
    }
    assert by["comment"].free_text and by["comment"].type == "text"
    assert [o.labels for o in by["again"].options] == [{"en": "Yes", "de": "Ja"}, {"en": "No", "de": "Nein"}]
    long = await build(conn, "responses-long", request(told))
    (version,) = long.questionnaires
    assert (version.key, version.version, version.locales) == ("every_type", 1, ["en", "de"])
    described = {q.question_id: q for q in version.questions}
    assert (described["extras"].type, [o.code for o in described["extras"].options]) == (
        "codes",
        ["tracking", "locker", "chat"],
    )
    assert described["channel"].name == "channel"


async def test_customers_are_pseudonymised_and_contact_data_needs_pii(
    conn: asyncpg.Connection, told: Story
) -> None:
    key = await brand_key(conn, told.brand.brand.brand_id)
    for name, where in (("responses-long", {}), ("responses-wide", {"questionnaire": "every_type", "version": 1})):
        plain = await build(conn, name, request(told, **where))
        assert not any(c.pii for c in plain.columns)
        assert not {"external_id", "phone", "push_tokens", "customer_attributes"} & {c.name for c in plain.columns}
        rows = await rows_of(conn, plain)
        expected = {told.anna: key.pseudonym(told.anna_id), told.ben: key.pseudonym(told.ben_id)}
        assert {(r["invitation_id"], r["customer"]) for r in rows} == set(expected.items())

        personal = await build(
            conn, name, ExportRequest(brand_id=told.brand.brand.brand_id, where=ExportFilter(**where), pii=True)
        )
        rows = await rows_of(conn, personal)
        anna = next(r for r in rows if r["invitation_id"] == told.anna)
        assert (anna["external_id"], anna["phone"], anna["push_tokens"], anna["customer_attributes"]) == (
            "anna",
            "+4915112345678",
            ["tok-anna"],
            {"tier": "gold"},
        )
        assert {c.name for c in personal.columns if c.pii} == {
            "external_id",
            "phone",
            "push_tokens",
            "customer_attributes",
        }


async def test_filters_narrow_the_responses(conn: asyncpg.Connection, told: Story) -> None:
    async def invitations(name: str, **where: Any) -> set[str]:
        if name == "responses-wide":
            where = {"questionnaire": "every_type", "version": 1} | where
        return {r["invitation_id"] for r in await rows_of(conn, await build(conn, name, request(told, **where)))}

    for name in ("responses-long", "responses-wide"):
        assert await invitations(name, start=told.start) == {told.anna, told.ben}
        assert await invitations(name, touchpoint="store_visit", trigger="after_visit") == {told.anna, told.ben}
        assert await invitations(name, touchpoint="delivery") == set()
        assert await invitations(name, trigger="nope") == set()
    # Long form: the answers' time; wide: the contact's (Anna's before `between`, Ben's after).
    assert await invitations("responses-wide", end=told.between) == {told.anna}
    assert await invitations("responses-wide", start=told.between) == {told.ben}
    assert await invitations("responses-long", questionnaire="every_type", version=1) == {told.anna, told.ben}
    assert await invitations("responses-long", questionnaire="every_type", version=2) == set()
    assert await invitations("responses-long", end=told.start) == set()


def test_column_names_are_valid_in_stata_and_never_repeat() -> None:
    taken = {"channel"}
    names = [
        variable_name(wanted, taken)
        for wanted in ("channel", "channel", "Channel-2", "9lives", "a" * 40, "a" * 40)
    ]
    assert names == ["q_channel", "channel_2", "q_channel_2", "q_9lives", "a" * 32, "q_" + "a" * 30]
    assert all(len(n) <= 32 and n[0].isalpha() and n.replace("_", "").isalnum() for n in taken)
    assert len(taken) == 7
