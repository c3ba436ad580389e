"""A tracking study set up through the public API, and its participants: the tests of studies start here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
from litestar.testing import AsyncTestClient

from responses.studies.participation import StudyReply, handle_code
from tests.conftest import BrandFixture
from tests.helpers import PHONE, publish_example

BASE_URL = "http://lxt.test"


def study_body(**overrides: Any) -> dict[str, Any]:
    """Bolt's ride-hailing diary: Bolt (own) and Cabco, seen on TV or in a store; surveys at any hour."""
    return {
        "name": "Ride diary",
        "brands": {"B": {"name": "Bolt", "own": True}, "C": {"name": "Cabco"}},
        "touchpoints": {
            "T": {"name": "TV ad", "touchpoint_key": "tv_ad", "category": "paid"},
            "S": {"name": "Store", "touchpoint_key": "store_visit"},
        },
        "pre_questionnaire": "store_visit_nps",
        "post_questionnaire": "delivery_csat",
        "diary_days": 7,
        "send_window": {"start": "00:00", "end": "24:00"},
        **overrides,
    }


async def put_study(
    client: AsyncTestClient, brand: BrandFixture, key: str = "rides", **overrides: Any
) -> httpx.Response:
    return await client.put(f"/v1/studies/{key}", json=study_body(**overrides), headers=brand.headers("manage"))


async def study_setup(client: AsyncTestClient, brand: BrandFixture, key: str = "rides", **overrides: Any) -> dict:
    """The questionnaires published and the study created."""
    await publish_example(client, brand, "store_visit_nps")
    await publish_example(client, brand, "delivery_csat")
    response = await put_study(client, brand, key, **overrides)
    assert response.status_code == 201, response.text
    return response.json()


async def enrol(
    client: AsyncTestClient,
    brand: BrandFixture,
    key: str = "rides",
    external_id: str = "p-1",
    **fields: Any,
) -> httpx.Response:
    body = {"external_id": external_id, "phone": PHONE, "consent": True, **fields}
    return await client.post(f"/v1/studies/{key}/participants", json=body, headers=brand.headers("manage"))


async def enrolled(client: AsyncTestClient, brand: BrandFixture, external_id: str = "p-1", **fields: Any) -> UUID:
    """Enrol a participant of study ``rides``; their customer id."""
    response = await enrol(client, brand, external_id=external_id, **fields)
    assert response.status_code == 201, response.text
    return await customer_id(client, brand, external_id)


async def customer_id(client: AsyncTestClient, brand: BrandFixture, external_id: str) -> UUID:
    found = await client.get(f"/v1/customers/{external_id}", headers=brand.headers("manage"))
    return UUID(found.json()["customer_id"])


async def text(
    conn: asyncpg.Connection,
    brand: BrandFixture,
    customer: UUID,
    body: str,
    *,
    now: datetime | None = None,
    inbound_id: UUID | None = None,
) -> StudyReply | None:
    """A participant's text as the inbound SMS path hands it to the study, in a transaction of its own."""
    async with conn.transaction():
        return await handle_code(
            conn,
            brand_id=brand.brand.brand_id,
            customer_id=customer,
            inbound_id=inbound_id or uuid4(),
            text=body,
            now=now or datetime.now(UTC),
            base_url=BASE_URL,
        )


async def move_diary(conn: asyncpg.Connection, external_id: str, *, starts: datetime, ends: datetime) -> None:
    """Put a participant's diary at another time (as if they had enrolled then)."""
    await conn.execute(
        """
        UPDATE study_participants p SET diary_starts_at = $2, enrolled_at = $2, consented_at = $2, diary_ends_at = $3
        FROM customers c WHERE c.customer_id = p.customer_id AND c.external_id = $1
        """,
        external_id,
        starts,
        ends,
    )
