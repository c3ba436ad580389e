"""A key of one brand can never see or change another brand's data.

Every authenticated route under /v1 must have an attack here: `test_every_route_is_covered` fails when a new
endpoint is added without one. Brand "globex" (the attacker) uses a key with every scope against the objects
of brand "acme" (the victim); each attack checks the victim's data is neither revealed nor changed.
"""

from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import BrandFixture

Attack = Callable[[AsyncTestClient, BrandFixture, BrandFixture, asyncpg.Connection], Awaitable[None]]
ATTACKS: dict[tuple[str, str], Attack] = {}


def attack(method: str, path: str) -> Callable[[Attack], Attack]:
    def register(func: Attack) -> Attack:
        ATTACKS[(method, path)] = func
        return func

    return register


async def victim_prefixes(conn: asyncpg.Connection, victim: BrandFixture) -> set[str]:
    rows = await conn.fetch("SELECT prefix FROM api_keys WHERE brand_id = $1", victim.brand.brand_id)
    return {r["prefix"] for r in rows}


@attack("GET", "/v1/brand")
async def read_brand(client, victim, attacker, conn) -> None:
    body = (await client.get("/v1/brand", headers=attacker.headers())).json()
    assert body["brand_id"] == str(attacker.brand.brand_id)


@attack("PATCH", "/v1/brand")
async def rename_brand(client, victim, attacker, conn) -> None:
    await client.patch("/v1/brand", json={"name": "Pwned"}, headers=attacker.headers())
    assert await conn.fetchval("SELECT name FROM brands WHERE brand_id = $1", victim.brand.brand_id) == "Acme"


@attack("GET", "/v1/keys")
async def list_keys(client, victim, attacker, conn) -> None:
    listed = {k["prefix"] for k in (await client.get("/v1/keys", headers=attacker.headers())).json()}
    assert listed and not listed & await victim_prefixes(conn, victim)


@attack("POST", "/v1/keys")
async def create_key(client, victim, attacker, conn) -> None:
    before = await victim_prefixes(conn, victim)
    created = (await client.post("/v1/keys", json={"scopes": ["manage"]}, headers=attacker.headers())).json()
    assert await victim_prefixes(conn, victim) == before
    me = await client.get("/v1/brand", headers={"Authorization": f"Bearer {created['key']}"})
    assert me.json()["slug"] == "globex"


@attack("DELETE", "/v1/keys/{prefix:str}")
async def revoke_key(client, victim, attacker, conn) -> None:
    for prefix in await victim_prefixes(conn, victim):
        response = await client.delete(f"/v1/keys/{prefix}", headers=attacker.headers())
        assert response.status_code == 404
    assert (await client.get("/v1/brand", headers=victim.headers())).status_code == 200


def authenticated_routes(app: Litestar) -> set[tuple[str, str]]:
    routes = set()
    for route in app.routes:
        if not route.path.startswith("/v1/") or route.path.startswith("/v1/admin"):
            continue
        for method in route.methods - {"OPTIONS", "HEAD"}:  # type: ignore[attr-defined]
            routes.add((method, route.path))
    return routes


def test_every_route_is_covered(app: Litestar) -> None:
    missing = authenticated_routes(app) - set(ATTACKS)
    assert not missing, f"add a tenant-isolation attack for {sorted(missing)}"


@pytest.mark.parametrize(("method", "path"), sorted(ATTACKS))
async def test_other_brands_data_is_out_of_reach(
    method: str,
    path: str,
    client: AsyncTestClient,
    brand: BrandFixture,
    other_brand: BrandFixture,
    conn: asyncpg.Connection,
) -> None:
    await ATTACKS[(method, path)](client, brand, other_brand, conn)
