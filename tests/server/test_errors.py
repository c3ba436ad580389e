import asyncpg
from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from server.errors import EXCEPTION_HANDLERS
from tests.conftest import BrandFixture
from tests.helpers import refusing_connections

PROBLEM = "application/problem+json"


async def test_validation_problem_names_the_field(client: AsyncTestClient, brand: BrandFixture) -> None:
    response = await client.patch("/v1/brand", json={"name": ""}, headers=brand.headers("manage"))
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 422
    assert problem["title"] == "Invalid request"
    assert problem["instance"] == "/v1/brand"
    assert problem["errors"] == [{"pointer": "/name", "message": "Expected `str` of length >= 1"}]


async def test_unknown_fields_are_named(client: AsyncTestClient, brand: BrandFixture) -> None:
    response = await client.patch(
        "/v1/brand", json={"name": "ok", "colour": "red"}, headers=brand.headers("manage")
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/colour"


async def test_malformed_json_is_400(client: AsyncTestClient, brand: BrandFixture) -> None:
    response = await client.patch(
        "/v1/brand",
        content=b'{"name": "x"',
        headers={**brand.headers("manage"), "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert "not valid JSON" in response.json()["detail"]


async def test_missing_body_is_named(client: AsyncTestClient, brand: BrandFixture) -> None:
    response = await client.patch("/v1/brand", headers=brand.headers("manage"))
    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == PROBLEM


async def test_unknown_route_and_method_are_problems(client: AsyncTestClient, brand: BrandFixture) -> None:
    response = await client.get("/v1/nothing-here", headers=brand.headers())
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    response = await client.put("/health")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM


async def test_oversized_bodies_are_refused(client: AsyncTestClient, brand: BrandFixture) -> None:
    huge = b'{"name": "' + b"x" * 5_000_000 + b'"}'
    response = await client.patch(
        "/v1/brand", content=huge, headers={**brand.headers("manage"), "content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM


async def test_openapi_documents_the_api(client: AsyncTestClient) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert "/v1/keys" in spec["paths"]
    assert spec["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert (await client.get("/schema")).status_code == 200


async def test_a_value_the_database_refuses_is_reported_without_sql() -> None:
    # What asyncpg says about an unvalidated value names SQL parameters and types; the client sees none of it.
    @get("/refused", sync_to_thread=False)
    def refused() -> None:
        raise asyncpg.DataError("invalid input for query argument $3: 1099511627776 (value out of int32 range)")

    app = Litestar([refused], exception_handlers=EXCEPTION_HANDLERS)
    async with AsyncTestClient(app) as client:
        response = await client.get("/refused")
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert "$3" not in response.text and "int32" not in response.text


async def test_bodies_are_held_to_their_documented_types(client: AsyncTestClient, brand: BrandFixture) -> None:
    # The document says boolean and integer; 0 and "5" are neither (Litestar's lenient conversion took them).
    for body, pointer in [
        ({"auto_create_touchpoints": 0}, "/auto_create_touchpoints"),
        ({"daily_survey_cap": "5"}, "/daily_survey_cap"),
        ({"name": "ok", "survey_gap": 86400}, "/survey_gap"),
    ]:
        response = await client.patch("/v1/brand", json=body, headers=brand.headers("manage"))
        assert response.status_code == 422, (body, response.text)
        assert [e["pointer"] for e in response.json()["errors"]] == [pointer]


async def test_a_database_that_refuses_connections_is_a_503_not_a_500(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, admin_db: asyncpg.Connection
) -> None:
    # The API's pooled connections end; new ones are refused ("not currently accepting connections").
    async with refusing_connections(admin_db, conn):
        # Have the pool notice at once that its connections are gone (otherwise the first request may still
        # find one that has not yet read the server's goodbye, and fail on it mid-request).
        await client.app.state.pool.expire_connections()
        for request in (
            client.put("/v1/customers/c-1", json={}, headers=brand.headers("manage")),
            client.get("/v1/touchpoints", headers=brand.headers("ingest")),
        ):
            response = await request
            assert response.status_code == 503, response.text
            assert response.headers["content-type"] == PROBLEM
            assert response.headers["retry-after"] == "5"
    assert (await client.put("/v1/customers/c-1", json={}, headers=brand.headers("manage"))).status_code == 200
