"""The events and invitations datasets on the story of `datasets_story`: every decision with its reason, every
invitation with its delivery outcome and latency chain as `GET /v1/invitations/{id}` computes it; pseudonyms
stable across exports and unrelated across brands."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from research.exports.dataset import ExportFilter, ExportRequest
from research.exports.datasets import DATASETS, UnknownDataset, build
from research.pseudonyms import brand_key
from tests.conftest import BrandFixture
from tests.research.datasets_story import Story, story
from tests.research.test_datasets_responses import rows_of


@pytest.fixture
async def told(client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture, ctx: dict) -> Story:
    return await story(client, conn, brand, ctx)


def request(told: Story, *, pii: bool = False, **where: Any) -> ExportRequest:
    return ExportRequest(brand_id=told.brand.brand.brand_id, where=ExportFilter(**where), pii=pii)


async def test_events_are_every_contact_with_its_decision(conn: asyncpg.Connection, told: Story) -> None:
    rows = await rows_of(conn, await build(conn, "events", request(told)))
    stored = await conn.fetch(
        "SELECT event_id::text, occurred_at, received_at, outcome, reason, invitation_id::text, planned_at "
        "FROM events WHERE brand_id = $1 ORDER BY occurred_at",
        told.brand.brand.brand_id,
    )
    assert [r["event_id"] for r in rows] == [s["event_id"] for s in stored]  # in the order they happened
    for row, event in zip(rows, map(dict, stored), strict=True):
        assert {k: row[k] for k in event} == event
    anna, unsurveyed, ben = rows
    assert (anna["touchpoint"], anna["source"], anna["trigger"], anna["invitation_id"]) == (
        "store_visit",
        "brand",
        "after_visit",
        told.anna,
    )
    assert (anna["questionnaire"], anna["questionnaire_version"], anna["attributes"]) == (
        "every_type",
        1,
        {"store": "berlin-1"},
    )
    assert (unsurveyed["event_id"], unsurveyed["touchpoint"]) == (told.unsurveyed_event, "delivery")
    assert (unsurveyed["outcome"], unsurveyed["reason"], unsurveyed["trigger"]) == (
        "not_surveyed",
        "no_trigger",
        None,
    )
    assert unsurveyed["customer"] == anna["customer"] != ben["customer"]
    assert "idempotency_key" not in rows[0]

    personal = await rows_of(conn, await build(conn, "events", request(told, pii=True)))
    assert [(r["idempotency_key"], r["external_id"]) for r in personal] == [
        ("visit-anna", "anna"),
        ("delivery-anna", "anna"),
        ("visit-ben", "ben"),
    ]


async def test_events_filter_by_time_touchpoint_trigger_and_questionnaire(
    conn: asyncpg.Connection, told: Story
) -> None:
    async def events(**where: Any) -> list[str]:
        return [r["event_id"] for r in await rows_of(conn, await build(conn, "events", request(told, **where)))]

    every = await events()
    assert await events(start=told.start) == every
    assert await events(end=told.between) == every[:2]  # Anna's two contacts came before Ben's
    assert await events(start=told.between) == every[2:]
    assert await events(touchpoint="delivery") == [told.unsurveyed_event]
    assert await events(trigger="after_visit") == [every[0], every[2]]
    assert await events(questionnaire="every_type", version=1) == [every[0], every[2]]
    assert await events(questionnaire="another") == []


async def test_invitations_carry_the_delivery_outcome_and_the_latency_chain(
    client: AsyncTestClient, conn: asyncpg.Connection, told: Story
) -> None:
    rows = await rows_of(conn, await build(conn, "invitations", request(told)))
    assert [r["invitation_id"] for r in rows] == [told.anna, told.ben]
    for row in rows:
        detail = await client.get(f"/v1/invitations/{row['invitation_id']}", headers=told.brand.headers("export"))
        found = detail.json()
        assert (row["status"], row["channel"], row["attempts"], row["trigger"]) == (
            found["status"],
            found["channel"],
            found["attempts"],
            found["trigger"],
        )
        assert (row["response_state"], row["end_reason"]) == (found["response_state"], found["end_reason"])
        (attempt,) = found["messages"]
        assert (row["message_status"], row["delivery_status"], row["message_error_code"]) == (
            attempt["status"],
            attempt["delivery_status"],
            attempt["error_code"],
        )
        for step, milestone in found["latency"].items():
            at = milestone["at"] and datetime.fromisoformat(milestone["at"])
            name = "occurred" if step == "occurred" else step
            assert row[f"{name}_at"] == at, step
            if step != "occurred":
                assert row[f"{step}_seconds"] == pytest.approx(milestone["seconds"], abs=1e-6), step
    anna, ben = rows
    assert anna["touchpoint"] == "store_visit" and anna["questionnaire"] == "every_type"
    assert anna["completed_seconds"] > anna["first_answer_seconds"] > anna["accepted_seconds"] > 0
    assert (ben["end_reason"], ben["response_channel"]) == ("ended_early", "app")


async def test_pseudonyms_are_stable_across_exports_and_unrelated_across_brands(
    client: AsyncTestClient, conn: asyncpg.Connection, told: Story, other_brand: BrandFixture, ctx: dict
) -> None:
    other = await story(client, conn, other_brand, ctx)  # the same people, by the same external ids
    first = await rows_of(conn, await build(conn, "invitations", request(told)))
    again = await rows_of(conn, await build(conn, "invitations", request(told)))
    elsewhere = await rows_of(conn, await build(conn, "invitations", request(other)))
    assert [r["customer"] for r in first] == [r["customer"] for r in again]
    key = await brand_key(conn, told.brand.brand.brand_id)
    assert [r["customer"] for r in first] == [key.pseudonym(told.anna_id), key.pseudonym(told.ben_id)]
    assert not {r["customer"] for r in first} & {r["customer"] for r in elsewhere}
    assert not {r["invitation_id"] for r in first} & {r["invitation_id"] for r in elsewhere}  # brands apart


async def test_every_dataset_lists_its_columns_and_an_unknown_one_is_named(
    conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    for name in (n for n in DATASETS if n != "responses-wide"):  # which needs a version: see the story's tests
        dataset = await build(conn, name, ExportRequest(brand_id=brand.brand.brand_id))
        assert dataset.name == name and await rows_of(conn, dataset) == []
        assert all(column.meaning for column in dataset.columns)
    with pytest.raises(UnknownDataset):
        await build(conn, "answers", ExportRequest(brand_id=brand.brand.brand_id))
