"""Event ingestion: every event committed and decided once, duplicates answered from the original."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from server.app import create_app
from server.settings import Settings
from tests.conftest import BrandFixture
from tests.helpers import event, put_touchpoint, put_trigger, queued_jobs, report, survey_setup
from triggers.sampling import sampled_in


async def test_a_matching_event_schedules_an_invitation(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, settings: Settings
) -> None:
    trigger = await survey_setup(client, brand, delay="PT5M")
    occurred = datetime.now(UTC) - timedelta(minutes=1)
    response = await client.post(
        "/v1/events", json=event("visit-1", occurred_at=occurred.isoformat()), headers=brand.headers("ingest")
    )
    assert response.status_code == 202
    result = response.json()
    assert (result["status"], result["decision"], result["reason"]) == ("created", "scheduled", None)
    planned = datetime.fromisoformat(result["planned_at"])
    assert abs(planned - (occurred + timedelta(minutes=5))) < timedelta(seconds=1)

    invitation = await conn.fetchrow("SELECT * FROM invitations")
    assert str(invitation["invitation_id"]) == result["invitation_id"]
    assert invitation["status"] == "scheduled"
    assert str(invitation["trigger_id"]) == trigger["id"]
    assert (invitation["questionnaire_key"], invitation["questionnaire_version"]) == ("store_visit_nps", 1)
    assert invitation["channels"] == ["sms"]
    decision = await conn.fetchrow("SELECT * FROM events")
    assert (decision["outcome"], decision["invitation_id"]) == ("scheduled", invitation["invitation_id"])
    assert decision["evaluations"][0]["trigger_key"] == "after_visit"
    # The send job was queued after commit, deferred to the planned time.
    assert await queued_jobs(settings) == 1


async def test_every_event_is_stored_with_one_decision_and_a_reason(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await survey_setup(client, brand, conditions={"field": "event.basket", "gte": 20})
    await put_touchpoint(client, brand, "delivery")
    cases = {
        "unknown": (event("e1", touchpoint="ad_seen"), "unknown_touchpoint"),
        "no trigger": (event("e2", touchpoint="delivery"), "no_trigger"),
        "conditions": (event("e3", attributes={"basket": 5}), "conditions_not_met"),
        "unreachable": (
            event("e4", customer="c-no-phone", attributes={"basket": 50}) | {"customer": {"external_id": "c-x"}},
            "no_reachable_channel",
        ),
        "stale": (
            event("e5", customer="c-5", attributes={"basket": 50}, occurred_at="2020-01-01T10:00:00Z"),
            "stale",
        ),
    }
    for name, (body, reason) in cases.items():
        result = await report(client, brand, body)
        assert (result["decision"], result["reason"]) == ("not_surveyed", reason), name
    assert await conn.fetchval("SELECT count(*) FROM events") == len(cases)
    assert await conn.fetchval("SELECT count(*) FROM events WHERE reason IS NOT NULL") == len(cases)
    assert await conn.fetchval("SELECT count(*) FROM invitations") == 0
    flagged = await conn.fetchval("SELECT touchpoint_known FROM events WHERE idempotency_key = 'e1'")
    assert flagged is False


async def test_opted_out_customers_are_not_surveyed(client: AsyncTestClient, brand: BrandFixture) -> None:
    await survey_setup(client, brand)
    await client.put("/v1/customers/c-1", json={"opted_out": True}, headers=brand.headers("manage"))
    result = await report(client, brand, event("e1"))
    assert (result["decision"], result["reason"]) == ("not_surveyed", "opted_out")


async def test_an_archived_questionnaire_stops_scheduling(client: AsyncTestClient, brand: BrandFixture) -> None:
    await survey_setup(client, brand)
    await client.post("/v1/questionnaires/store_visit_nps/archive", headers=brand.headers("manage"))
    result = await report(client, brand, event("e1"))
    assert result["reason"] == "questionnaire_unavailable"


async def test_sampling_is_deterministic_for_a_replayed_event(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    # The draw depends only on (trigger, event): each decision is what the trigger id and the idempotency key
    # give, and the same events decided a second time are sampled exactly as the first time. A random draw
    # would disagree somewhere among 40 events at rate 0.5 (each agrees with probability 1/2).
    trigger = await survey_setup(client, brand, sample_rate=0.5)
    bodies = [event(f"s-{i}", customer=f"c-{i}") for i in range(40)]
    first = [await report(client, brand, body) for body in bodies]
    assert {r["decision"] for r in first} == {"scheduled", "not_surveyed"}
    assert {r["reason"] for r in first if r["decision"] == "not_surveyed"} == {"sampled_out"}
    drawn = [sampled_in(0.5, trigger["id"], body["idempotency_key"]) for body in bodies]
    assert [r["decision"] == "scheduled" for r in first] == drawn

    # Replay: the brand's idempotency keys are forgotten, as after their retention (while remembered, a repeated
    # key is only answered from the stored decision), and the same events reported again are decided anew.
    await conn.execute("DELETE FROM idempotency_keys WHERE brand_id = $1", brand.brand.brand_id)
    replayed = [await report(client, brand, body) for body in bodies]
    assert {r["status"] for r in replayed} == {"created"}
    assert {r["event_id"] for r in replayed}.isdisjoint(r["event_id"] for r in first)
    assert [r["decision"] for r in replayed] == [r["decision"] for r in first]


async def test_unknown_touchpoints_can_be_auto_created(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    response = await client.patch(
        "/v1/brand", json={"auto_create_touchpoints": True}, headers=brand.headers("manage")
    )
    assert response.status_code == 200
    result = await report(client, brand, event("e1", touchpoint="kiosk"))
    assert result["touchpoint_known"] is True
    assert result["reason"] == "no_trigger"
    row = await conn.fetchrow("SELECT name, auto_created FROM touchpoints WHERE key = 'kiosk'")
    assert tuple(row) == ("kiosk", True)


async def test_a_repeated_idempotency_key_creates_nothing_new(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, settings: Settings
) -> None:
    await survey_setup(client, brand)
    first = await client.post("/v1/events", json=event("dup"), headers=brand.headers("ingest"))
    again = await client.post("/v1/events", json=event("dup"), headers=brand.headers("ingest"))
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == {**first.json(), "status": "duplicate"}
    assert await conn.fetchval("SELECT count(*) FROM events") == 1
    assert await conn.fetchval("SELECT count(*) FROM invitations") == 1
    assert await queued_jobs(settings) == 1
    different = await client.post(
        "/v1/events", json=event("dup", attributes={"other": True}), headers=brand.headers("ingest")
    )
    assert different.status_code == 409
    assert different.json()["errors"][0]["pointer"] == "/idempotency_key"


async def test_concurrent_duplicates_store_one_event(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await survey_setup(client, brand)
    responses = await asyncio.gather(
        *(client.post("/v1/events", json=event("same"), headers=brand.headers("ingest")) for _ in range(25))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 24 + [202]
    assert len({r.json()["event_id"] for r in responses}) == 1
    assert await conn.fetchval("SELECT count(*) FROM events") == 1
    assert await conn.fetchval("SELECT count(*) FROM events WHERE outcome = 'scheduled'") == 1
    assert await conn.fetchval("SELECT count(*) FROM invitations") == 1


@pytest.fixture
async def two_servers(client: AsyncTestClient, settings: Settings) -> AsyncIterator[tuple[AsyncTestClient, ...]]:
    """Two API instances with their own pools and group committers, as two processes would be."""
    async with AsyncTestClient(create_app(settings), base_url="http://lxt.test") as other:
        yield client, other


async def test_concurrent_duplicates_across_transactions(
    two_servers: tuple[AsyncTestClient, ...], brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    """Two API instances get one key many times: one event, one decision. (The test client may serialise the
    requests; test_scheduling_races.py forces the overlapping transactions.)"""
    await survey_setup(two_servers[0], brand)
    responses = await asyncio.gather(
        *(c.post("/v1/events", json=event("race"), headers=brand.headers("ingest")) for c in two_servers * 10)
    )
    assert sorted(r.status_code for r in responses).count(202) == 1
    assert await conn.fetchval("SELECT count(*) FROM events") == 1
    assert await conn.fetchval("SELECT count(*) FROM invitations") == 1


async def test_frequency_caps_hold_under_concurrent_events_for_one_customer(
    two_servers: tuple[AsyncTestClient, ...], brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await survey_setup(two_servers[0], brand, frequency={"brand_gap": "P1D", "trigger_gap": "P7D"})
    responses = await asyncio.gather(
        *(c.post("/v1/events", json=event(f"visit-{i}"), headers=brand.headers("ingest"))
          for i, c in enumerate(two_servers * 10))
    )  # fmt: skip
    results = [r.json() for r in responses]
    assert [r["decision"] for r in results].count("scheduled") == 1
    assert {r["reason"] for r in results if r["decision"] == "not_surveyed"} == {"frequency_capped"}
    assert await conn.fetchval("SELECT count(*) FROM invitations") == 1
    assert await conn.fetchval("SELECT count(*) FROM events") == 20


async def test_daily_cap_counts_the_customers_local_day(client: AsyncTestClient, brand: BrandFixture) -> None:
    await survey_setup(client, brand, frequency={"brand_gap": "PT0S", "trigger_gap": "PT0S", "daily_cap": 2})
    results = [await report(client, brand, event(f"v{i}")) for i in range(3)]
    assert [r["decision"] for r in results] == ["scheduled", "scheduled", "not_surveyed"]
    assert results[2]["reason"] == "frequency_capped"


async def test_a_batch_is_stored_whole(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, settings: Settings
) -> None:
    await survey_setup(client, brand)
    batch = {"events": [event(f"b-{i}", customer=f"c-{i}") for i in range(1000)]}
    response = await client.post("/v1/events/batch", json=batch, headers=brand.headers("ingest"))
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 1000
    assert {r["status"] for r in results} == {"created"}
    assert [r["idempotency_key"] for r in results] == [f"b-{i}" for i in range(1000)]
    assert await conn.fetchval("SELECT count(*) FROM invitations") == 1000
    assert await queued_jobs(settings) == 1000
    again = await client.post("/v1/events/batch", json=batch, headers=brand.headers("ingest"))
    assert {r["status"] for r in again.json()["results"]} == {"duplicate"}
    assert await conn.fetchval("SELECT count(*) FROM events") == 1000


async def test_a_bad_event_rejects_the_batch_and_names_it(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await survey_setup(client, brand)
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    events = [event(f"b-{i}", customer=f"c-{i}") for i in range(5)]
    events[1]["customer"]["phone"] = "+1 555"
    events[3]["occurred_at"] = future
    events[4]["customer"]["time_zone"] = "Nowhere/Town"
    response = await client.post("/v1/events/batch", json={"events": events}, headers=brand.headers("ingest"))
    assert response.status_code == 422
    pointers = [e["pointer"] for e in response.json()["errors"]]
    assert pointers == ["/events/1/customer/phone", "/events/3/occurred_at", "/events/4/customer/time_zone"]
    assert await conn.fetchval("SELECT count(*) FROM events") == 0
    assert await conn.fetchval("SELECT count(*) FROM customers") == 0

    clash = [event("k", customer="a"), event("k", customer="b")]
    response = await client.post("/v1/events/batch", json={"events": clash}, headers=brand.headers("ingest"))
    assert response.status_code == 409
    assert response.json()["errors"][0]["pointer"] == "/events/1/idempotency_key"
    too_many = {"events": [event(f"x{i}") for i in range(1001)]}
    response = await client.post("/v1/events/batch", json=too_many, headers=brand.headers("ingest"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/events"
    assert await conn.fetchval("SELECT count(*) FROM events") == 0


async def test_single_event_validation(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    cases = [
        ({"touchpoint": "store_visit", "customer": {"external_id": "c"}}, "/idempotency_key"),
        (event("e", occurred_at="2026-01-01T10:00:00"), "/occurred_at"),
        (event("e", occurred_at=(datetime.now(UTC) + timedelta(minutes=30)).isoformat()), "/occurred_at"),
        (event("e", touchpoint="Store Visit"), "/touchpoint"),
        (event("e") | {"customer": {"external_id": ""}}, "/customer/external_id"),
        (event("e") | {"customer": {"external_id": "c", "phone": "not a phone"}}, "/customer/phone"),
        (event("e", colour="red"), "/colour"),
    ]
    for body, pointer in cases:
        response = await client.post("/v1/events", json=body, headers=brand.headers("ingest"))
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"][0]["pointer"] == pointer, response.json()
    assert await conn.fetchval("SELECT count(*) FROM events") == 0


async def test_events_need_the_ingest_scope(client: AsyncTestClient, brand: BrandFixture) -> None:
    for scope in ("manage", "export"):
        response = await client.post("/v1/events", json=event("e"), headers=brand.headers(scope))
        assert response.status_code == 403


async def test_consents_sent_with_events_are_recorded(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await survey_setup(client, brand)
    await report(client, brand, event("e1"))
    withdrawn = event("e2") | {"customer": {"external_id": "c-1", "consents": {"sms": False}}}
    result = await report(client, brand, withdrawn)
    assert (result["decision"], result["reason"]) == ("not_surveyed", "no_reachable_channel")
    rows = await conn.fetch("SELECT channel, granted, source FROM consent_changes ORDER BY change_id")
    assert [tuple(r) for r in rows] == [("sms", True, "event"), ("sms", False, "event")]


async def test_priority_picks_one_trigger(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await survey_setup(client, brand)
    await put_trigger(
        client, brand, key="vip", name="VIP", priority=10, conditions={"field": "customer.tier", "eq": "gold"}
    )
    gold = event("g") | {"customer": {"external_id": "vip-1", "phone": "+4915112345679", "consents": {"sms": True},
                                      "attributes": {"tier": "gold"}}}  # fmt: skip
    plain = event("p", customer="plain-1")
    results = [await report(client, brand, body) for body in (gold, plain)]
    triggers = await conn.fetch("SELECT evaluations FROM events ORDER BY idempotency_key")
    by_key = {r["idempotency_key"]: r for r in results}
    assert by_key["g"]["decision"] == by_key["p"]["decision"] == "scheduled"
    evaluations = {tuple(e["trigger_key"] for e in row["evaluations"]) for row in triggers}
    assert evaluations == {("vip",), ("vip", "after_visit")}


async def test_validate_checks_without_storing(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    ok = await client.post("/v1/events/validate", json=event("v1"), headers=brand.headers("ingest"))
    assert ok.status_code == 200
    assert ok.json()["valid"] is True
    bad = await client.post(
        "/v1/events/validate", json=event("v2") | {"customer": {"external_id": "c", "time_zone": "Mars"}},
        headers=brand.headers("ingest"),
    )  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "/customer/time_zone"
    assert await conn.fetchval("SELECT count(*) FROM events") == 0
    assert await conn.fetchval("SELECT count(*) FROM customers") == 0


async def test_events_can_opt_out_but_never_back_in(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await survey_setup(client, brand)
    stop = event("e1") | {"customer": {"external_id": "c-1", "opted_out": True}}
    assert (await report(client, brand, stop))["reason"] == "opted_out"
    # A CRM that sends opted_out: false with every event must not undo the STOP.
    again = event("e2") | {"customer": {"external_id": "c-1", "phone": "+4915112345678", "opted_out": False}}
    assert (await report(client, brand, again))["reason"] == "opted_out"
    assert await conn.fetchval("SELECT opted_out_at IS NOT NULL FROM customers") is True
    # Opting back in is a deliberate act with the manage scope.
    back = {"opted_out": False}
    assert (await client.put("/v1/customers/c-1", json=back, headers=brand.headers("ingest"))).status_code == 403
    assert (await client.put("/v1/customers/c-1", json=back, headers=brand.headers("manage"))).status_code == 200
    changes = await conn.fetch("SELECT channel, granted, source FROM consent_changes ORDER BY change_id")
    assert [tuple(c) for c in changes] == [("all", False, "event"), ("all", True, "api")]


async def test_brand_contact_rules_span_all_triggers(client: AsyncTestClient, brand: BrandFixture) -> None:
    await survey_setup(client, brand)  # after_visit on store_visit, no gaps of its own
    await put_touchpoint(client, brand, "delivery")
    await put_trigger(client, brand, key="after_delivery", name="After delivery", touchpoint="delivery")
    bad = await client.patch("/v1/brand", json={"survey_gap": "PT0S"}, headers=brand.headers("manage"))
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "/survey_gap"
    response = await client.patch("/v1/brand", json={"survey_gap": "P7D"}, headers=brand.headers("manage"))
    assert response.json()["survey_gap"] == "P7D"
    visit = await report(client, brand, event("v1"))
    delivery = await report(client, brand, event("d1", touchpoint="delivery"))
    assert visit["decision"] == "scheduled"
    assert (delivery["decision"], delivery["reason"]) == ("not_surveyed", "frequency_capped")
    cleared = await client.patch("/v1/brand", json={"survey_gap": None}, headers=brand.headers("manage"))
    assert cleared.json()["survey_gap"] is None
    assert (await report(client, brand, event("d2", touchpoint="delivery")))["decision"] == "scheduled"
