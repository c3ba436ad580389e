"""Reading back what happened: invitations with their history and latency, and events with their decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote
from uuid import uuid4

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from notifications import jobs
from server.settings import Settings
from tests.conftest import BrandFixture
from tests.helpers import event, report, survey_setup
from tests.twilio import AUTH_TOKEN, claimed_invitation, send_receipt, twilio_attempt


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(twilio_auth_token=AUTH_TOKEN)


async def test_an_invitation_reads_back_with_its_transitions_attempts_receipts_and_latency(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await survey_setup(client, brand)
    invitation = await claimed_invitation(client, brand, conn)
    message = await twilio_attempt(conn, brand, invitation)
    for status in ("sent", "delivered"):
        await send_receipt(client, brand.brand.brand_id, message, status)

    response = await client.get(f"/v1/invitations/{invitation}", headers=brand.headers("export"))
    assert response.status_code == 200, response.text
    found = response.json()
    assert (found["status"], found["channel"], found["customer"], found["trigger"], found["event"]) == (
        "sent",
        "sms",
        "c-1",
        "after_visit",
        "e1",
    )
    assert [(t["from_status"], t["to_status"]) for t in found["transitions"]] == [
        ("scheduled", "sending"),
        ("sending", "sent"),
    ]
    (attempt,) = found["messages"]
    assert (attempt["provider"], attempt["status"], attempt["delivery_status"]) == (
        "twilio",
        "accepted",
        "delivered",
    )
    assert sorted(r["status"] for r in attempt["receipts"]) == ["delivered", "sent"]
    latency = found["latency"]
    steps = ["occurred", "decided", "planned", "claimed", "accepted", "delivered"]
    times = [datetime.fromisoformat(latency[step]["at"]) for step in steps]
    assert latency["occurred"]["seconds"] == 0
    assert all(latency[step]["seconds"] >= 0 for step in steps)
    assert times[3:] == sorted(times[3:])  # claimed, then accepted, then delivered
    assert latency["delivered"]["seconds"] == (times[5] - times[0]).total_seconds()


async def test_a_sandbox_send_reads_back_as_accepted_and_not_yet_delivered(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx
) -> None:
    await survey_setup(client, brand)
    result = await report(client, brand, event("e1"))
    await jobs.send_invitation(ctx, str(brand.brand.brand_id), result["invitation_id"])
    found = (await client.get(f"/v1/invitations/{result['invitation_id']}", headers=brand.headers())).json()
    (attempt,) = found["messages"]
    assert (attempt["provider"], attempt["receipts"]) == ("sandbox", [])
    assert found["latency"]["accepted"]["at"] is not None
    assert found["latency"]["delivered"] == {"at": None, "seconds": None}


@pytest.mark.parametrize("wrong", ["not-a-uuid", "0195f3a2-7c4e-7d1a-9b3c-5e8f0a1b2c3d", "%F0%9F%98%80"])
async def test_an_unknown_invitation_is_a_404_problem(
    client: AsyncTestClient, brand: BrandFixture, wrong: str
) -> None:
    response = await client.get(f"/v1/invitations/{wrong}", headers=brand.headers("manage"))
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_invitations_are_listed_newest_first_in_stable_pages(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await survey_setup(client, brand)
    for i in range(5):
        await report(client, brand, event(f"e{i}", customer=f"c-{i}"))
    seen, cursor = [], None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(f"/v1/invitations{query}", headers=brand.headers("export"))).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        # An invitation planned meanwhile does not shift the pages already handed out, nor does a retry or a
        # deferral moving an invitation's planned time.
        await report(client, brand, event(f"late-{len(seen)}", customer=f"late-{len(seen)}"))
        await conn.execute(
            "UPDATE invitations SET planned_at = now() + (hashtext(invitation_id::text) % 3600) * interval '1 second'"
        )
    assert len(seen) >= 5 and len({i["invitation_id"] for i in seen}) == len(seen)
    keys = [(i["created_at"], i["invitation_id"]) for i in seen]
    assert keys == sorted(keys, reverse=True)
    assert {i["event"] for i in seen} >= {f"e{i}" for i in range(5)}


async def test_invitations_are_filtered_by_customer_trigger_status_and_time(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx
) -> None:
    await survey_setup(client, brand)
    first = await report(client, brand, event("e1", customer="c-1"))
    await report(client, brand, event("e2", customer="c-2"))
    await jobs.send_invitation(ctx, str(brand.brand.brand_id), first["invitation_id"])

    async def listed(query: str) -> list[str]:
        response = await client.get(f"/v1/invitations?{query}", headers=brand.headers("manage"))
        assert response.status_code == 200, response.text
        return [i["event"] for i in response.json()["items"]]

    assert await listed("customer=c-1") == ["e1"]
    assert await listed("customer=nobody") == []
    assert sorted(await listed("trigger=after_visit")) == ["e1", "e2"]
    assert await listed("trigger=other") == []
    assert await listed("status=scheduled") == ["e2"]
    hour = timedelta(hours=1)
    now = datetime.now(UTC)
    assert sorted(await listed(f"from={quote((now - hour).isoformat())}")) == ["e1", "e2"]
    assert await listed(f"to={(now - hour).strftime('%Y-%m-%dT%H:%M:%SZ')}") == []


@pytest.mark.parametrize(
    ("query", "pointer"),
    [
        ("status=lost", "query:status"),
        ("from=yesterday", "query:from"),
        ("from=2026-01-01T00:00:00", "query:from"),  # no offset
        ("from=2026-01-01T00:00:00+01:00", "query:from"),  # the + read as a space
        ("from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "query:to"),
        ("cursor=bm90IGEgY3Vyc29y", "query:cursor"),
        ("limit=0", "query:limit"),
        ("limit=201", "query:limit"),
    ],
)
async def test_bad_filters_are_named(
    client: AsyncTestClient, brand: BrandFixture, query: str, pointer: str
) -> None:
    response = await client.get(f"/v1/invitations?{query}", headers=brand.headers("export"))
    assert response.status_code == 422, response.text
    assert [e["pointer"] for e in response.json()["errors"]] == [pointer]


async def test_read_back_needs_the_manage_or_export_scope(client: AsyncTestClient, brand: BrandFixture) -> None:
    for path in ("/v1/invitations", f"/v1/invitations/{uuid4()}", "/v1/events/e1", "/v1/sandbox/messages"):
        assert (await client.get(path, headers=brand.headers("ingest"))).status_code == 403, path


async def test_an_event_reads_back_with_its_decision_and_each_triggers_evaluation(
    client: AsyncTestClient, brand: BrandFixture
) -> None:
    await survey_setup(client, brand)
    await client.put(
        "/v1/triggers/vips_only",
        json={"key": "vips_only", "name": "VIPs", "touchpoint": "store_visit", "questionnaire": "store_visit_nps",
              "conditions": {"field": "customer.tier", "eq": "vip"}, "priority": 5},
        headers=brand.headers("manage"),
    )  # fmt: skip
    result = await report(client, brand, event("pos-1/7", attributes={"store": "berlin"}))
    response = await client.get(f"/v1/events/{quote('pos-1/7', safe='')}", headers=brand.headers("export"))
    assert response.status_code == 200, response.text
    found = response.json()
    assert (found["idempotency_key"], found["touchpoint"], found["customer"], found["attributes"]) == (
        "pos-1/7",
        "store_visit",
        "c-1",
        {"store": "berlin"},
    )
    assert found["decision"] == {
        "outcome": "scheduled",
        "reason": None,
        "trigger": "after_visit",
        "invitation_id": result["invitation_id"],
        "planned_at": found["decision"]["planned_at"],
    }
    evaluations = [(e["trigger_key"], e["outcome"], e["reason"]) for e in found["evaluations"]]
    assert evaluations == [("vips_only", "skipped", "conditions_not_met"), ("after_visit", "scheduled", None)]


async def test_an_event_not_surveyed_says_why(client: AsyncTestClient, brand: BrandFixture) -> None:
    await report(client, brand, event("unknown-touchpoint"))
    found = (await client.get("/v1/events/unknown-touchpoint", headers=brand.headers())).json()
    assert found["decision"]["outcome"] == "not_surveyed"
    assert found["decision"]["reason"] == "unknown_touchpoint"
    assert found["touchpoint_known"] is False
    missing = await client.get("/v1/events/never-reported", headers=brand.headers())
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
