"""The timelines dataset on the story of `datasets_story`: every customer's timeline as the timeline API reads it,
customer after customer, named by pseudonym; the customer's texts and the brand's event keys only with pii."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import import_module
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from research.exports.dataset import ExportFilter, ExportRequest
from research.exports.datasets import build
from research.pseudonyms import brand_key
from research.timeline import TimelineQuery, customer_timeline
from tests.conftest import BrandFixture
from tests.research.datasets_story import Story, story
from tests.research.test_datasets_responses import rows_of

# The module (research.exports.datasets names its function `timelines`).
timelines_dataset = import_module("research.exports.datasets.timelines")


@pytest.fixture
async def told(client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture, ctx: dict) -> Story:
    return await story(client, conn, brand, ctx)


async def export(conn: asyncpg.Connection, told: Story, *, pii: bool = False, **where: Any) -> list[dict]:
    request = ExportRequest(brand_id=told.brand.brand.brand_id, where=ExportFilter(**where), pii=pii)
    return await rows_of(conn, await build(conn, "timelines", request))


@pytest.mark.parametrize("chunk", [timelines_dataset.CHUNK, 1])
async def test_every_customers_timeline_in_turn_as_the_api_reads_it(
    conn: asyncpg.Connection, told: Story, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Customer after customer, whether they are read in one chunk or each in their own. A text from a phone no
    customer has is nobody's timeline."""
    monkeypatch.setattr(timelines_dataset, "CHUNK", chunk)
    await conn.execute(
        "INSERT INTO inbound_messages (brand_id, channel, provider, provider_message_id, from_phone, to_address, body) "
        "VALUES ($1, 'sms', 'twilio', 'SM-stranger', '+4915100000001', '+15550100', 'who is this?')",
        told.brand.brand.brand_id,
    )
    rows = await export(conn, told)
    key = await brand_key(conn, told.brand.brand.brand_id)
    expected = []
    for external_id, customer_id in sorted((("anna", told.anna_id), ("ben", told.ben_id)), key=lambda c: c[1]):
        page = await customer_timeline(
            conn, told.brand.brand.brand_id, external_id, TimelineQuery(limit=1000), personal=False
        )
        assert page is not None and page.next_cursor is None
        expected += [
            (key.pseudonym(customer_id), item.at, item.__struct_config__.tag, item.item_id) for item in page.items
        ]
    assert [(r["customer"], r["at"], r["kind"], r["item_id"]) for r in rows] == expected

    kinds = {r["kind"] for r in rows}
    assert {
        "event",
        "decision",
        "invitation",
        "invitation_status",
        "message",
        "opened",
        "answer",
        "completed",
    } <= kinds
    answers = [r for r in rows if r["kind"] == "answer"]
    assert len(answers) == 5 + 1 + 4 + 5 + 1 + 1  # every answer given, the replaced ones too (marked not current)
    assert sum(not a["detail"]["current"] for a in answers) == 2 + 1  # Anna's channel; Ben's channel and extras
    assert all(a["detail"]["raw"] is None for a in answers)  # what was sent, beyond the value, needs pii
    events = [r for r in rows if r["kind"] == "event"]
    assert events and all("idempotency_key" not in e["detail"] for e in events)
    assert {r["invitation_id"] for r in answers} == {told.anna, told.ben}


async def test_contact_data_and_the_customers_own_texts_need_pii(conn: asyncpg.Connection, told: Story) -> None:
    rows = await export(conn, told, pii=True)
    assert {(r["external_id"], r["phone"]) for r in rows} == {
        ("anna", "+4915112345678"),
        ("ben", "+4915187654321"),
    }
    answers = [r for r in rows if r["kind"] == "answer"]
    assert all(a["detail"]["raw"] is not None for a in answers)
    assert {e["detail"]["idempotency_key"] for e in rows if e["kind"] == "event"} == {
        "visit-anna",
        "delivery-anna",
        "visit-ben",
    }


async def test_filters_narrow_the_items(conn: asyncpg.Connection, told: Story) -> None:
    every = await export(conn, told)
    later = await export(conn, told, start=told.between)
    assert later == [r for r in every if r["at"] >= told.between]
    assert later and len(later) < len(every)
    delivery = await export(conn, told, touchpoint="delivery")
    assert {(r["kind"], r["event_id"]) for r in delivery} == {
        ("event", told.unsurveyed_event),
        ("decision", told.unsurveyed_event),
    }
    surveys = await export(conn, told, questionnaire="every_type", version=1)
    assert {r["invitation_id"] for r in surveys} == {told.anna, told.ben}
    assert {r["kind"] for r in surveys} >= {"invitation", "answer", "completed"}
    assert await export(conn, told, trigger="nope") == []


@pytest.mark.parametrize("where", [{}, {"touchpoint": "visit"}, {"start": datetime(2026, 1, 1, tzinfo=UTC)}])
async def test_rows_stream_chunk_by_chunk_with_nothing_sorted_above(
    conn: asyncpg.Connection, told: Story, where: dict[str, Any]
) -> None:
    """The rows are in order because the chunks are and each chunk's rows are: a sort above the chunks' loop would
    hold every row back (and, being unstable, could mix a chunk's rows)."""
    request = ExportRequest(brand_id=told.brand.brand.brand_id, where=ExportFilter(**where))
    dataset = await build(conn, "timelines", request)
    plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {dataset.sql}", *dataset.args)
    top = (msgspec.json.decode(plan) if isinstance(plan, str | bytes) else plan)[0]["Plan"]
    while top["Node Type"] in ("Subquery Scan", "Result"):
        (top,) = top["Plans"]
    assert top["Node Type"] == "Nested Loop", top["Node Type"]
    # Over the chunks (numbered by a window over the customers), in order.
    outer = next(p for p in top["Plans"] if p["Parent Relationship"] == "Outer")
    assert "WindowAgg" in node_types(outer) and "Sort" not in node_types(outer), node_types(outer)


def node_types(plan: dict[str, Any]) -> list[str]:
    return [plan["Node Type"], *(t for child in plan.get("Plans", []) for t in node_types(child))]
