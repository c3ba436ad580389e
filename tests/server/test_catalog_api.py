import asyncpg
from litestar.testing import AsyncTestClient

from tests.conftest import BrandFixture
from tests.helpers import PHONE, publish_example, put_touchpoint, put_trigger


async def test_touchpoints_are_created_replaced_and_listed(client: AsyncTestClient, brand: BrandFixture) -> None:
    body = {"name": "Store visit", "category": "owned", "description": "A visit to one of our stores"}
    created = await client.put("/v1/touchpoints/store_visit", json=body, headers=brand.headers("manage"))
    assert created.status_code == 201
    replaced = await client.put(
        "/v1/touchpoints/store_visit", json={**body, "category": "earned"}, headers=brand.headers("manage")
    )
    assert replaced.status_code == 200
    assert replaced.json()["category"] == "earned"
    listed = (await client.get("/v1/touchpoints", headers=brand.headers("ingest"))).json()
    assert [t["key"] for t in listed] == ["store_visit"]
    bad = await client.put("/v1/touchpoints/Store Visit", json=body, headers=brand.headers("manage"))
    assert bad.status_code in (400, 404, 422)
    bad = await client.put(
        "/v1/touchpoints/x", json={**body, "category": "owned-ish"}, headers=brand.headers("manage")
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "/category"
    assert (await client.get("/v1/touchpoints/nope", headers=brand.headers())).status_code == 404


async def test_trigger_round_trip_keeps_every_setting(client: AsyncTestClient, brand: BrandFixture) -> None:
    await publish_example(client, brand)
    await put_touchpoint(client, brand)
    trigger = await put_trigger(
        client,
        brand,
        conditions={
            "and": [{"field": "event.basket.total", "gte": 20}, {"field": "customer.has_phone", "eq": True}]
        },
        delay="PT5M",
        send_window={
            "days": ["mon", "tue", "wed", "thu", "fri"],
            "start": "09:00",
            "end": "20:00",
            "outside": "drop",
        },
        sample_rate=0.25,
        frequency={"brand_gap": "P7D", "trigger_gap": "P30D", "daily_cap": 1},
        max_lag="PT2H",
        channels=["push", "sms"],
        expires_after="P1D",
        priority=5,
        default_time_zone="Europe/Berlin",
    )
    read = (await client.get("/v1/triggers/after_visit", headers=brand.headers("manage"))).json()
    assert read == trigger
    assert read["send_window"]["outside"] == "drop"
    assert read["frequency"]["daily_cap"] == 1
    assert read["delay"] == "PT300S"  # msgspec's canonical ISO 8601 form of 5 minutes
    listed = (await client.get("/v1/triggers?touchpoint=store_visit", headers=brand.headers("manage"))).json()
    assert [t["key"] for t in listed] == ["after_visit"]


async def test_trigger_validation_names_each_field(client: AsyncTestClient, brand: BrandFixture) -> None:
    await publish_example(client, brand)
    await put_touchpoint(client, brand)
    body = {
        "key": "bad",
        "name": "Bad",
        "touchpoint": "store_visit",
        "questionnaire": "store_visit_nps",
        "default_time_zone": "Mars/Olympus",
        "max_lag": "P90D",
        "conditions": {"or": [{"field": "order.total", "gte": 5}]},
    }
    response = await client.put("/v1/triggers/bad", json=body, headers=brand.headers("manage"))
    assert response.status_code == 422
    pointers = {e["pointer"] for e in response.json()["errors"]}
    assert {"/default_time_zone", "/max_lag", "/conditions/or/0/field"} <= pointers

    response = await client.put(
        "/v1/triggers/bad",
        json={
            **body,
            "default_time_zone": "UTC",
            "max_lag": "PT1H",
            "conditions": None,
            "send_window": {"start": "9"},
        },
        headers=brand.headers("manage"),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/send_window/start"

    response = await client.put(
        "/v1/triggers/bad",
        json={"key": "bad", "name": "Bad", "touchpoint": "nowhere", "questionnaire": "nothing"},
        headers=brand.headers("manage"),
    )
    assert response.status_code == 422
    assert {e["pointer"] for e in response.json()["errors"]} == {"/touchpoint", "/questionnaire"}

    response = await client.put("/v1/triggers/other", json={**body, "key": "bad"}, headers=brand.headers("manage"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/key"
    assert (await client.get("/v1/triggers", headers=brand.headers("manage"))).json() == []


async def test_triggers_need_the_manage_scope(client: AsyncTestClient, brand: BrandFixture) -> None:
    assert (await client.get("/v1/triggers", headers=brand.headers("ingest"))).status_code == 403
    response = await client.put("/v1/triggers/x", json={}, headers=brand.headers("export"))
    assert response.status_code == 403


async def test_customers_are_validated_and_merged(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    url = "/v1/customers/C-1042"
    created = await client.put(
        url,
        json={
            "phone": "+49 151 1234 5678",
            "locale": "DE-ch",
            "time_zone": "Europe/Zurich",
            "consents": {"sms": True},
        },
        headers=brand.headers("ingest"),
    )
    assert created.status_code == 200, created.text
    customer = created.json()
    assert customer["phone"] == PHONE
    assert customer["locale"] == "de-CH"
    merged = await client.put(url, json={"attributes": {"tier": "gold"}}, headers=brand.headers("manage"))
    assert merged.json()["phone"] == PHONE
    assert merged.json()["attributes"] == {"tier": "gold"}
    cleared = await client.put(url, json={"phone": None, "opted_out": True}, headers=brand.headers("manage"))
    assert cleared.json()["phone"] is None
    assert cleared.json()["opted_out_at"] is not None
    changes = await conn.fetch("SELECT channel, granted, source FROM consent_changes ORDER BY change_id")
    assert [tuple(c) for c in changes] == [("sms", True, "api"), ("all", False, "api")]
    assert (await client.get(url, headers=brand.headers("manage"))).json()["attributes"] == {"tier": "gold"}


async def test_bad_contact_data_is_422_naming_the_field(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    cases = [
        ({"phone": "0151 1234"}, "/phone"),
        ({"phone": "+99 123"}, "/phone"),
        ({"time_zone": "Europe/Atlantis"}, "/time_zone"),
        ({"locale": "deutsch!"}, "/locale"),
        ({"consents": {"fax": True}}, "/consents"),
        ({"push_tokens": ["t"] * 11}, "/push_tokens"),
    ]
    for body, pointer in cases:
        response = await client.put("/v1/customers/C-1", json=body, headers=brand.headers("manage"))
        assert response.status_code == 422, body
        assert response.json()["errors"][0]["pointer"].startswith(pointer), response.json()
    assert await conn.fetchval("SELECT count(*) FROM customers") == 0


async def test_deactivating_a_trigger_cancels_its_unsent_invitations(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    from tests.helpers import event, report, survey_setup

    trigger = await survey_setup(client, brand, delay="PT10M", max_lag="PT1H")
    assert (await report(client, brand, event("e1")))["decision"] == "scheduled"
    body = {k: v for k, v in trigger.items() if k not in ("id", "created_at", "updated_at")} | {"active": False}
    response = await client.put("/v1/triggers/after_visit", json=body, headers=brand.headers("manage"))
    assert response.status_code == 200
    row = await conn.fetchrow("SELECT status, status_reason FROM invitations")
    assert tuple(row) == ("cancelled", "trigger_deactivated")
    transitions = await conn.fetch("SELECT from_status, to_status FROM invitation_transitions")
    assert [tuple(t) for t in transitions] == [("scheduled", "cancelled")]
    assert (await report(client, brand, event("e2", customer="c-2")))["reason"] == "no_trigger"
