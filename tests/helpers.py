"""Factories that go through the public API, so tests read like a brand's integration."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from server.settings import Settings
from tests.conftest import BrandFixture

EXAMPLES = Path(__file__).resolve().parents[1] / "questionnaires" / "examples"
PHONE = "+4915112345678"


async def publish_example(client: AsyncTestClient, brand: BrandFixture, name: str = "store_visit_nps") -> dict:
    response = await client.post(
        "/v1/questionnaires",
        content=(EXAMPLES / f"{name}.yaml").read_bytes(),
        headers={**brand.headers("manage"), "content-type": "application/yaml"},
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


async def put_touchpoint(client: AsyncTestClient, brand: BrandFixture, key: str = "store_visit") -> dict:
    response = await client.put(
        f"/v1/touchpoints/{key}", json={"name": key.replace("_", " ").title()}, headers=brand.headers("manage")
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


async def put_trigger(client: AsyncTestClient, brand: BrandFixture, **overrides: Any) -> dict:
    """A trigger on store_visit -> store_visit_nps that sends at once, at any hour, with no frequency limits."""
    body = {
        "key": "after_visit",
        "name": "NPS after a store visit",
        "touchpoint": "store_visit",
        "questionnaire": "store_visit_nps",
        "delay": "PT0S",
        "send_window": {"start": "00:00", "end": "24:00"},
        "frequency": {"brand_gap": "PT0S", "trigger_gap": "PT0S"},
        **overrides,
    }
    response = await client.put(f"/v1/triggers/{body['key']}", json=body, headers=brand.headers("manage"))
    assert response.status_code in (200, 201), response.text
    return response.json()


async def survey_setup(client: AsyncTestClient, brand: BrandFixture, **trigger: Any) -> dict:
    await publish_example(client, brand)
    await put_touchpoint(client, brand)
    return await put_trigger(client, brand, **trigger)


def event(key: str, customer: str = "c-1", **fields: Any) -> dict:
    """A store visit by a customer reachable by SMS with consent."""
    body: dict[str, Any] = {
        "idempotency_key": key,
        "touchpoint": "store_visit",
        "customer": {"external_id": customer, "phone": PHONE, "consents": {"sms": True}},
    }
    body.update(fields)
    return body


async def report(client: AsyncTestClient, brand: BrandFixture, body: dict) -> dict:
    response = await client.post("/v1/events", json=body, headers=brand.headers("ingest"))
    assert response.status_code in (200, 202), response.text
    return response.json()


async def queued_jobs(settings: Settings) -> int:
    """How many jobs wait in the arq queue."""
    redis = Redis.from_url(settings.redis_url)
    try:
        return int(await redis.zcard(settings.queue_name))
    finally:
        await redis.aclose()


async def queued_job_ids(settings: Settings) -> set[str]:
    """The ids of the jobs waiting in the arq queue."""
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        return set(await redis.zrange(settings.queue_name, 0, -1))
    finally:
        await redis.aclose()


@contextlib.asynccontextmanager
async def refusing_connections(admin_db: asyncpg.Connection, conn: asyncpg.Connection) -> AsyncIterator[None]:
    """While inside, `conn`'s database takes no new connections, and every other session of it was ended (the
    API's pooled connections among them); `conn` itself stays open."""
    database = await conn.fetchval("SELECT current_database()")
    await admin_db.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS false")
    try:
        await admin_db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> $2",
            database,
            conn.get_server_pid(),
        )
        yield
    finally:
        await admin_db.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS true")
