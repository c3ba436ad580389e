"""Hostile or absurd input gets a 4xx naming what it can, never a 500, and stores nothing."""

import json
import re

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import BrandFixture
from tests.helpers import EXAMPLES, event, publish_example, survey_setup


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (event("nul-attr", attributes={"note": "a\u0000b"}), "/attributes/note"),
        (event("nul-key\u0000"), "/idempotency_key"),
        (event("nul-customer") | {"customer": {"external_id": "c\u0000"}}, "/customer/external_id"),
        (event("ancient", occurred_at="0001-01-01T00:00:00+14:00"), "/occurred_at"),
        (event("far", occurred_at="9999-12-31T23:59:59-14:00"), "/occurred_at"),
        (event("old", occurred_at="1999-12-31T23:00:00Z"), "/occurred_at"),
    ],
)
async def test_bad_events_are_refused(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, body: dict, pointer: str
) -> None:
    await survey_setup(client, brand)
    response = await client.post("/v1/events", json=body, headers=brand.headers("ingest"))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["pointer"] == pointer
    assert await conn.fetchval("SELECT count(*) FROM events") == 0


async def test_deeply_nested_bodies_are_refused(client: AsyncTestClient, brand: BrandFixture) -> None:
    deep = json.dumps(event("deep"))[:-1] + ', "attributes": ' + '{"a":' * 3000 + "{}" + "}" * 3000 + "}"
    response = await client.post(
        "/v1/events",
        content=deep.encode(),
        headers={**brand.headers("ingest"), "content-type": "application/json"},
    )
    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == "application/problem+json"


async def test_nul_outside_events_is_refused_naming_the_field(
    client: AsyncTestClient, brand: BrandFixture
) -> None:
    await publish_example(client, brand)
    manage = brand.headers("manage")
    cases = [
        (client.get("/v1/customers/a%00b", headers=manage), "path:external_id"),
        (client.put("/v1/customers/a%00b", json={}, headers=manage), "path:external_id"),
        (client.get("/v1/touchpoints/a%00b", headers=manage), "path:key"),
        (client.get("/v1/triggers?touchpoint=a%00b", headers=manage), "query:touchpoint"),
        (
            client.get("/v1/questionnaires/store_visit_nps/versions/1/preview?locale=d%00e", headers=manage),
            "query:locale",
        ),
        (client.delete("/v1/keys/ab%00c", headers=manage), "path:prefix"),
        (client.put("/v1/touchpoints/visit", json={"name": "a\u0000"}, headers=manage), "/name"),
        (
            client.put("/v1/customers/c-1", json={"attributes": {"x": ["\u0000"]}}, headers=manage),
            "/attributes/x/0",
        ),
        (
            client.put("/v1/customers/c-1", json={"attributes": {"x\u0000": 1}}, headers=manage),
            "/attributes/x\u0000",
        ),
        (client.patch("/v1/brand", json={"name": "x\u0000"}, headers=manage), "/name"),
        (client.post("/v1/keys", json={"scopes": ["ingest"], "name": "\u0000"}, headers=manage), "/name"),
        # Questionnaires are read by their own decoder (JSON or YAML), which names the field all the same.
        (
            client.post(
                "/v1/questionnaires",
                content=(EXAMPLES / "store_visit_nps.yaml").read_text().replace("Your visit today", '"a\\0b"'),
                headers={**manage, "content-type": "application/yaml"},
            ),
            "/title/en",
        ),
        (
            client.post(
                "/v1/questionnaires",
                content=json.dumps({"key": "k", "title": "T\u0000", "questions": []}),
                headers={**manage, "content-type": "application/json"},
            ),
            "/title",
        ),
    ]
    for request, field in cases:
        response = await request
        assert response.status_code == 422, (response.request.url, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["pointer"] for e in response.json()["errors"]] == [field], response.request.url


async def test_parameters_are_held_to_their_declared_bounds(client: AsyncTestClient, brand: BrandFixture) -> None:
    await publish_example(client, brand)
    preview = "/v1/questionnaires/store_visit_nps/versions/{}/preview?locale={}"
    cases = [
        (preview.format(2**40, "de"), "path:version"),
        (preview.format(0, "de"), "path:version"),
        (preview.format(1, "d" * 1000), "query:locale"),
        ("/v1/questionnaires/store_visit_nps/versions/99999999999", "path:version"),
        ("/v1/touchpoints/Not-A-Key", "path:key"),
        ("/v1/customers/" + "c" * 201, "path:external_id"),
    ]
    for url, field in cases:
        response = await client.get(url, headers=brand.headers("manage"))
        assert response.status_code == 422, (url, response.text)
        problem = response.json()
        assert [e["pointer"] for e in problem["errors"]] == [field], url
        assert not re.search(r"\$\d|query argument|int32", response.text), "no SQL in errors"
    ok = await client.get(preview.format(1, "de-CH"), headers=brand.headers("manage"))
    assert ok.status_code == 200, ok.text


JSON_BODY_ROUTES = [
    ("POST", "/v1/events"),
    ("POST", "/v1/events/validate"),
    ("POST", "/v1/events/batch"),
    ("PATCH", "/v1/brand"),
    ("POST", "/v1/keys"),
    ("PUT", "/v1/touchpoints/visit"),
    ("PUT", "/v1/triggers/after_visit"),
    ("PUT", "/v1/customers/c-1"),
    ("POST", "/v1/questionnaires"),
    ("POST", "/v1/admin/brands"),
    ("PUT", "/v1/senders/sms"),
    ("PUT", "/v1/senders/whatsapp"),
    ("PUT", "/v1/senders/push"),
    ("PUT", "/v1/senders/webhook"),
]


@pytest.mark.parametrize(
    "body",
    [
        # Not UTF-8 inside a string, where msgspec raises UnicodeDecodeError. `key` and `title` are fields of a
        # questionnaire, whose typed decoder reads them before it could stop at an unknown field.
        b'{"key": "\xff"}',
        b'{"title": "caf\xc3"}',  # a truncated UTF-8 sequence
        b'{"key": "x"',  # truncated JSON
        b"[" * 100_000,  # nested deeper than the decoder goes
    ],
)
async def test_undecodable_json_bodies_are_400(client: AsyncTestClient, brand: BrandFixture, body: bytes) -> None:
    for method, path in JSON_BODY_ROUTES:
        if path == "/v1/questionnaires" and body.startswith(b"["):
            continue  # the questionnaire decoder is typed: it refuses a top-level array (422) before any depth
        auth = {"Authorization": "Bearer operator-secret"} if "/admin/" in path else brand.headers()
        response = await client.request(
            method, path, content=body, headers={**auth, "content-type": "application/json"}
        )
        assert response.status_code == 400, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["pointer"] for e in response.json()["errors"]] == [""], (method, path)


async def test_undecodable_yaml_questionnaires_are_400(client: AsyncTestClient, brand: BrandFixture) -> None:
    response = await client.post(
        "/v1/questionnaires",
        content=b"key: caf\xff\n",
        headers={**brand.headers("manage"), "content-type": "application/yaml"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["pointer"] == ""


async def test_a_path_that_is_not_utf_8_once_percent_decoded_is_refused(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    # %ED%A0%80 is a UTF-16 surrogate and %FF no UTF-8 at all: decoded leniently, both became U+FFFD, so that
    # different byte sequences named the same customer.
    for raw in ("%ED%A0%80", "c-%FF"):
        response = await client.put(f"/v1/customers/{raw}", json={}, headers=brand.headers("manage"))
        assert response.status_code == 400, response.text
        assert [e["pointer"] for e in response.json()["errors"]] == ["path:external_id"]
    response = await client.get("/v1/triggers?touchpoint=%FF", headers=brand.headers("manage"))
    assert response.status_code == 400, response.text
    assert [e["pointer"] for e in response.json()["errors"]] == ["query:touchpoint"]
    assert await conn.fetchval("SELECT count(*) FROM customers") == 0
