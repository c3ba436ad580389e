"""The brand's senders over HTTP: set, read back, removed, kept apart per brand; the webhook's secret."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio
from litestar.testing import AsyncTestClient

from notifications import senders
from notifications.senders import SmsSender, WebhookSender
from server.app import create_app
from server.settings import Settings
from tests.conftest import BrandFixture

MG = "MG" + "0123456789abcdef" * 2
SIGNING_KEY = "server-signing-key"


@pytest_asyncio.fixture(loop_scope="session")
async def signing(settings: Settings) -> AsyncIterator[AsyncTestClient]:
    """A client of an app whose operator set LXT_SIGNING_KEY."""
    app = create_app(settings.replace(signing_key=SIGNING_KEY, webhook_allow_private=True))
    async with AsyncTestClient(app, base_url="http://lxt.test") as test_client:
        yield test_client


async def test_an_sms_sender_is_set_read_back_and_removed(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    manage = brand.headers("manage")
    created = await client.put("/v1/senders/sms", json={"from": "+1 415 555 0100"}, headers=manage)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["channel"], body["config"], body["sender"]) == ("sms", {"from": "+14155550100"}, "+14155550100")
    assert body["rate_per_second"] == 1.0  # a US long code
    replaced = await client.put(
        "/v1/senders/sms", json={"messaging_service_sid": MG, "rate_per_second": 40}, headers=manage
    )
    assert replaced.status_code == 200
    listed = (await client.get("/v1/senders", headers=manage)).json()
    assert [(s["channel"], s["config"], s["rate_per_second"]) for s in listed] == [
        ("sms", {"messaging_service_sid": MG, "rate_per_second": 40.0}, 40.0)
    ]
    # What the send job reads.
    brand_id = brand.brand.brand_id
    assert [row.config for row in await senders.list_senders(conn, brand_id)] == [
        SmsSender(messaging_service_sid=MG, rate_per_second=40)
    ]

    assert (await client.delete("/v1/senders/sms", headers=manage)).status_code == 204
    assert (await client.get("/v1/senders", headers=manage)).json() == []
    assert await senders.list_senders(conn, brand_id) == []
    missing = await client.delete("/v1/senders/sms", headers=manage)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_whatsapp_and_push_senders(client: AsyncTestClient, brand: BrandFixture) -> None:
    manage = brand.headers("manage")
    whatsapp = await client.put("/v1/senders/whatsapp", json={"from": "whatsapp:+14155550100"}, headers=manage)
    assert whatsapp.status_code == 201
    assert (whatsapp.json()["config"], whatsapp.json()["rate_per_second"]) == ({"from": "+14155550100"}, 80.0)
    push = await client.put("/v1/senders/push", json={"rate_per_second": 120.5}, headers=manage)
    assert push.status_code == 201
    # No Firebase project configured: the sandbox, held to the brand's rate all the same.
    assert (push.json()["sender"], push.json()["rate_per_second"]) == ("", 120.5)
    channels = [s["channel"] for s in (await client.get("/v1/senders", headers=manage)).json()]
    assert channels == ["whatsapp", "push"]


async def test_invalid_senders_are_problems_naming_the_field(client: AsyncTestClient, brand: BrandFixture) -> None:
    manage = brand.headers("manage")
    cases = [
        ("/v1/senders/sms", {}, ""),
        ("/v1/senders/sms", {"from": "+14155550100", "messaging_service_sid": MG}, "/messaging_service_sid"),
        ("/v1/senders/sms", {"from": "not a number"}, "/from"),
        ("/v1/senders/sms", {"messaging_service_sid": "MG123"}, "/messaging_service_sid"),
        ("/v1/senders/sms", {"from": "12345", "rate_per_second": 0.05}, "/rate_per_second"),
        ("/v1/senders/sms", {"from": "12345", "rate_per_second": 10_001}, "/rate_per_second"),
        ("/v1/senders/sms", {"from": "12345", "url": "https://x.example"}, "/url"),
        ("/v1/senders/whatsapp", {"from": "12345"}, "/from"),
        ("/v1/senders/push", {"from": "+14155550100"}, "/from"),
        ("/v1/senders/webhook", {}, "/url"),
    ]
    for path, body, pointer in cases:
        response = await client.put(path, json=body, headers=manage)
        assert response.status_code == 422, (path, body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["pointer"] for e in response.json()["errors"]] == [pointer], (path, body, response.json())
    assert (await client.get("/v1/senders", headers=manage)).json() == []


async def test_senders_need_the_manage_scope(client: AsyncTestClient, brand: BrandFixture) -> None:
    ingest = brand.headers("ingest")
    assert (await client.get("/v1/senders", headers=ingest)).status_code == 403
    assert (await client.put("/v1/senders/sms", json={"from": "12345"}, headers=ingest)).status_code == 403
    assert (await client.delete("/v1/senders/sms", headers=ingest)).status_code == 403
    assert (await client.get("/v1/senders")).status_code == 401


async def test_one_brands_senders_are_invisible_to_another(
    signing: AsyncTestClient, brand: BrandFixture, other_brand: BrandFixture
) -> None:
    for path, body in (
        ("/v1/senders/sms", {"from": "12345"}),
        ("/v1/senders/webhook", {"url": "https://a.example"}),
    ):
        assert (await signing.put(path, json=body, headers=brand.headers("manage"))).status_code == 201
    other = other_brand.headers("manage")
    assert (await signing.get("/v1/senders", headers=other)).json() == []
    assert (await signing.delete("/v1/senders/sms", headers=other)).status_code == 404
    assert (await signing.post("/v1/senders/webhook/rotate-secret", headers=other)).status_code == 404
    assert len((await signing.get("/v1/senders", headers=brand.headers("manage"))).json()) == 2


async def test_the_webhook_secret_is_shown_once_and_rotated(
    signing: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    manage, brand_id = brand.headers("manage"), brand.brand.brand_id
    created = await signing.put("/v1/senders/webhook", json={"url": "https://acme.example/lxt"}, headers=manage)
    assert created.status_code == 201, created.text
    assert created.json()["secret"] == senders.webhook_secret(SIGNING_KEY, brand_id, 1).hex()
    assert created.json()["secret_version"] == 1
    moved = await signing.put("/v1/senders/webhook", json={"url": "http://localhost:9000/lxt"}, headers=manage)
    assert moved.status_code == 200
    assert moved.json().get("secret") is None  # the secret stays; it is not shown again
    assert "secret" not in (await signing.get("/v1/senders", headers=manage)).json()[0]

    rotated = await signing.post("/v1/senders/webhook/rotate-secret", headers=manage)
    assert rotated.status_code == 200
    assert rotated.json() == {
        "secret": senders.webhook_secret(SIGNING_KEY, brand_id, 2).hex(),
        "secret_version": 2,
    }
    assert [(row.config, row.secret_version) for row in await senders.list_senders(conn, brand_id)] == [
        (WebhookSender(url="http://localhost:9000/lxt"), 2)
    ]

    # Removed and created again: a new secret, never one handed out before.
    assert (await signing.delete("/v1/senders/webhook", headers=manage)).status_code == 204
    assert await senders.list_senders(conn, brand_id) == []
    assert (await signing.post("/v1/senders/webhook/rotate-secret", headers=manage)).status_code == 404
    again = await signing.put("/v1/senders/webhook", json={"url": "https://acme.example/lxt"}, headers=manage)
    assert again.status_code == 201
    assert (again.json()["secret_version"], again.json()["secret"]) == (
        3,
        senders.webhook_secret(SIGNING_KEY, brand_id, 3).hex(),
    )


async def test_webhook_senders_need_the_servers_signing_key(client: AsyncTestClient, brand: BrandFixture) -> None:
    manage = brand.headers("manage")
    refused = await client.put("/v1/senders/webhook", json={"url": "https://acme.example/lxt"}, headers=manage)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert "LXT_SIGNING_KEY" in refused.json()["detail"]
    assert (await client.post("/v1/senders/webhook/rotate-secret", headers=manage)).status_code == 409
    assert (await client.get("/v1/senders", headers=manage)).json() == []
