"""Inputs lxt refuses rather than reinterprets: host-dependent time zones, phone extensions, numbers for
durations. Each refusal is a 422 naming the field and saying what to send instead."""

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import BrandFixture
from tests.helpers import event, publish_example, put_touchpoint


def errors(response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return {e["pointer"]: e["message"] for e in response.json()["errors"]}


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "Factory", "europe/berlin"])
async def test_a_customer_time_zone_must_be_an_iana_name(
    client: AsyncTestClient, brand: BrandFixture, zone: str
) -> None:
    response = await client.put("/v1/customers/c-1", json={"time_zone": zone}, headers=brand.headers("manage"))
    assert "IANA time zone name" in errors(response)["/time_zone"]
    ok = await client.put(
        "/v1/customers/c-1", json={"time_zone": "Europe/Berlin"}, headers=brand.headers("manage")
    )
    assert ok.json()["time_zone"] == "Europe/Berlin"


async def test_a_trigger_default_time_zone_must_be_an_iana_name(
    client: AsyncTestClient, brand: BrandFixture
) -> None:
    await publish_example(client, brand)
    await put_touchpoint(client, brand)
    body = {"key": "t", "name": "T", "touchpoint": "store_visit", "questionnaire": "store_visit_nps",
            "default_time_zone": "localtime"}  # fmt: skip
    response = await client.put("/v1/triggers/t", json=body, headers=brand.headers("manage"))
    assert "IANA time zone name" in errors(response)["/default_time_zone"]


async def test_a_phone_number_with_an_extension_is_refused(client: AsyncTestClient, brand: BrandFixture) -> None:
    body = event("e1")
    body["customer"]["phone"] = "+49 (0) 151 1234 5678 ext 9"
    response = await client.post("/v1/events", json=body, headers=brand.headers("ingest"))
    assert "extension" in errors(response)["/customer/phone"]
    body["customer"]["phone"] = "+49 (0) 151 1234 5678"
    accepted = await client.post("/v1/events", json=body, headers=brand.headers("ingest"))
    assert accepted.status_code == 202
    customer = await client.get("/v1/customers/c-1", headers=brand.headers("manage"))
    assert customer.json()["phone"] == "+4915112345678"


@pytest.mark.parametrize(("delay", "says"), [(300, "Expected `duration`, got `int`"), ("PT1.5S", "whole seconds")])
async def test_a_trigger_duration_is_a_whole_iso_8601_duration(
    client: AsyncTestClient, brand: BrandFixture, delay: object, says: str
) -> None:
    await publish_example(client, brand)
    await put_touchpoint(client, brand)
    body = {
        "key": "t",
        "name": "T",
        "touchpoint": "store_visit",
        "questionnaire": "store_visit_nps",
        "delay": delay,
    }
    response = await client.put("/v1/triggers/t", json=body, headers=brand.headers("manage"))
    assert says in errors(response)["/delay"]
    assert (await client.get("/v1/triggers/t", headers=brand.headers("manage"))).status_code == 404
