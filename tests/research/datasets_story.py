"""The story the export dataset tests read: two customers of a brand, in German and English, each surveyed with the
`every_type` questionnaire after a contact, through the public API, the send job (sandbox) and the answering path
every channel shares; one more contact nobody is surveyed for; and the same people at another brand.

- Anna (``de``): answers every question; changes her answer to ``channel`` (web → app, a replaced answer), skips the
  optional ``effort``, picks two ``extras``, writes a comment in her own words. Completed.
- Ben (``en``): answers ``channel: web`` and ``extras: [locker]``, then changes ``channel`` to ``none`` — which ends
  the survey, so ``extras`` is branched away (replaced, reason ``branch``) and the rest is never asked.
- A ``delivery`` contact of Anna's has no trigger: decided ``not_surveyed`` / ``no_trigger``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
from litestar.testing import AsyncTestClient

from notifications import jobs
from responses import answers
from responses.answers import Given
from tests.conftest import BrandFixture
from tests.helpers import put_touchpoint, put_trigger, report

EVERY_TYPE = Path(__file__).resolve().parents[1] / "responses" / "every_type.yaml"


@dataclass
class Story:
    brand: BrandFixture
    anna: str
    """Anna's invitation id."""
    ben: str
    anna_id: UUID
    """Anna's customer id."""
    ben_id: UUID
    unsurveyed_event: str
    start: datetime
    """Before anything happened."""
    between: datetime
    """After Anna's contact, before Ben's."""


ANNA = {"external_id": "anna", "phone": "+4915112345678", "locale": "de", "consents": {"sms": True},
        "attributes": {"tier": "gold"}, "push_tokens": ["tok-anna"]}  # fmt: skip
BEN = {"external_id": "ben", "phone": "+4915187654321", "locale": "en-GB", "consents": {"sms": True}}


async def setup(client: AsyncTestClient, brand: BrandFixture) -> None:
    """The brand's questionnaire, touchpoints (store visits are surveyed, deliveries not) and trigger."""
    response = await client.post(
        "/v1/questionnaires",
        content=EVERY_TYPE.read_bytes(),
        headers={**brand.headers("manage"), "content-type": "application/yaml"},
    )
    assert response.status_code in (200, 201), response.text
    await put_touchpoint(client, brand, "store_visit")
    await put_touchpoint(client, brand, "delivery")
    await put_trigger(client, brand, questionnaire="every_type")


async def surveyed(
    client: AsyncTestClient, brand: BrandFixture, ctx: dict[str, Any], key: str, customer: dict, occurred: datetime
) -> str:
    """A store visit, and the invitation it scheduled sent through the sandbox: the invitation's id."""
    body = {
        "idempotency_key": key,
        "touchpoint": "store_visit",
        "customer": customer,
        "occurred_at": occurred.isoformat(),
        "attributes": {"store": "berlin-1"},
    }
    result = await report(client, brand, body)
    invitation = str(result["invitation_id"])
    assert (await jobs.send_invitation(ctx, str(brand.brand.brand_id), invitation)).startswith("sent")
    return invitation


async def answer(
    conn: asyncpg.Connection, brand: BrandFixture, invitation: str, via: str, values: dict[str, object]
) -> None:
    """Answers as the page or the app gives them (one submission), in a transaction as the routes do."""
    async with conn.transaction():
        found = await answers.load(conn, brand.brand.brand_id, UUID(invitation))
        assert found is not None
        given = [Given(question, value, str(value)) for question, value in values.items()]
        await answers.give(conn, found, given, channel=via, now=datetime.now(UTC))  # type: ignore[arg-type]


async def story(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture, ctx: dict[str, Any]
) -> Story:
    now = datetime.now(UTC)
    await setup(client, brand)
    anna = await surveyed(client, brand, ctx, "visit-anna", ANNA, now - timedelta(minutes=50))
    ben = await surveyed(client, brand, ctx, "visit-ben", BEN, now - timedelta(minutes=20))
    unsurveyed = await report(
        client,
        brand,
        {"idempotency_key": "delivery-anna", "touchpoint": "delivery", "customer": {"external_id": "anna"},
         "occurred_at": (now - timedelta(minutes=40)).isoformat()},
    )  # fmt: skip

    await answer(conn, brand, anna, "web", {"nps": 9, "stars": 4, "mood": 5, "effort": None, "channel": "web"})
    await answer(conn, brand, anna, "web", {"channel": "app"})
    await answer(
        conn,
        brand,
        anna,
        "web",
        {"extras": ["chat", "tracking"], "again": True, "parcels": 3, "comment": "=Der Fahrer war nett"},
    )
    await answer(conn, brand, ben, "app", {"nps": 3, "stars": 2, "mood": 1, "effort": 5, "channel": "web"})
    await answer(conn, brand, ben, "app", {"extras": ["locker"]})
    await answer(conn, brand, ben, "app", {"channel": "none"})

    ids = dict(
        await conn.fetch(
            "SELECT external_id, customer_id FROM customers WHERE brand_id = $1", brand.brand.brand_id
        )
    )
    return Story(
        brand=brand,
        anna=anna,
        ben=ben,
        anna_id=ids["anna"],
        ben_id=ids["ben"],
        unsurveyed_event=str(unsurveyed["event_id"]),
        start=now - timedelta(hours=1),
        between=now - timedelta(minutes=30),
    )
