import asyncio
import hashlib

import asyncpg
from litestar.testing import AsyncTestClient

from server import tenants
from tests.conftest import BrandFixture


async def test_a_created_key_is_shown_once_and_stored_only_as_a_hash(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    response = await client.post(
        "/v1/keys", json={"scopes": ["ingest"], "name": "POS"}, headers=brand.headers("manage")
    )
    assert response.status_code == 201
    created = response.json()
    key = created["key"]
    assert key.startswith(f"lxt_{created['prefix']}_")
    row = await conn.fetchrow("SELECT * FROM api_keys WHERE prefix = $1", created["prefix"])
    assert row["key_hash"] == hashlib.sha256(key.encode()).digest()
    secret = key.split("_", 2)[2]  # the secret itself may contain "_"
    stored = " ".join(str(v) for v in row.values())
    assert secret not in stored and key not in stored
    listed = (await client.get("/v1/keys", headers=brand.headers("manage"))).json()
    assert created["prefix"] in [k["prefix"] for k in listed]
    assert all("key" not in k and "key_hash" not in k for k in listed)


async def test_the_new_key_authenticates_and_records_its_use(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    created = (await client.post("/v1/keys", json={"scopes": ["export"]}, headers=brand.headers("manage"))).json()
    response = await client.get("/v1/brand", headers={"Authorization": f"Bearer {created['key']}"})
    assert response.status_code == 200
    assert response.json()["slug"] == "acme"
    used = await conn.fetchval("SELECT last_used_at FROM api_keys WHERE prefix = $1", created["prefix"])
    assert used is not None


async def test_missing_or_unknown_keys_are_401_with_a_challenge(
    client: AsyncTestClient, brand: BrandFixture
) -> None:
    for headers in (
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer lxt_0000000000_not-a-real-key-at-all-000000"},
        {"Authorization": "Bearer something-else"},
    ):
        response = await client.get("/v1/brand", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_scopes_are_enforced_with_403(client: AsyncTestClient, brand: BrandFixture) -> None:
    for scope in ("ingest", "export"):
        response = await client.post("/v1/keys", json={"scopes": ["ingest"]}, headers=brand.headers(scope))
        assert response.status_code == 403
        assert "manage" in response.json()["detail"]
        assert (await client.get("/v1/keys", headers=brand.headers(scope))).status_code == 403
    assert (await client.get("/v1/brand", headers=brand.headers("ingest"))).status_code == 200


async def test_a_revoked_key_is_refused_at_once(client: AsyncTestClient, brand: BrandFixture) -> None:
    created = (await client.post("/v1/keys", json={"scopes": ["ingest"]}, headers=brand.headers("manage"))).json()
    victim = {"Authorization": f"Bearer {created['key']}"}
    assert (await client.get("/v1/brand", headers=victim)).status_code == 200  # now cached
    response = await client.delete(f"/v1/keys/{created['prefix']}", headers=brand.headers("manage"))
    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    assert (await client.get("/v1/brand", headers=victim)).status_code == 401


async def test_revocation_elsewhere_reaches_a_running_server(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    """Another process (the CLI, another API replica) revokes: NOTIFY drops the key from this process's cache."""
    created = (await client.post("/v1/keys", json={"scopes": ["ingest"]}, headers=brand.headers("manage"))).json()
    victim = {"Authorization": f"Bearer {created['key']}"}
    assert (await client.get("/v1/brand", headers=victim)).status_code == 200
    assert await tenants.revoke_key(conn, created["prefix"]) is not None
    for _ in range(50):
        if (await client.get("/v1/brand", headers=victim)).status_code == 401:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the revoked key was still accepted after 1 s")


async def test_key_creation_validates_scopes(client: AsyncTestClient, brand: BrandFixture) -> None:
    response = await client.post("/v1/keys", json={"scopes": ["ingest", "root"]}, headers=brand.headers("manage"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/scopes/1"
    response = await client.post("/v1/keys", json={"scopes": []}, headers=brand.headers("manage"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/scopes"


async def test_revoking_an_unknown_prefix_is_404(client: AsyncTestClient, brand: BrandFixture) -> None:
    response = await client.delete("/v1/keys/ffffffffff", headers=brand.headers("manage"))
    assert response.status_code == 404


async def test_operator_creates_a_brand_with_a_first_key(client: AsyncTestClient) -> None:
    body = {"slug": "initech", "name": "Initech"}
    assert (await client.post("/v1/admin/brands", json=body)).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert (await client.post("/v1/admin/brands", json=body, headers=wrong)).status_code == 401
    operator = {"Authorization": "Bearer operator-secret"}
    response = await client.post("/v1/admin/brands", json=body, headers=operator)
    assert response.status_code == 201
    key = response.json()["key"]["key"]
    brand = await client.get("/v1/brand", headers={"Authorization": f"Bearer {key}"})
    assert brand.json()["slug"] == "initech"
    again = await client.post("/v1/admin/brands", json=body, headers=operator)
    assert again.status_code == 409
    bad = await client.post("/v1/admin/brands", json={"slug": "Not A Slug", "name": "x"}, headers=operator)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "/slug"
