"""The sandbox a newcomer can answer: read what lxt would have sent (API and `lxt sandbox outbox`), and reply as
the customer would (`lxt sandbox reply`), through the path of a real inbound SMS."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from notifications import jobs
from server.cli import main
from server.settings import Settings
from tests.conftest import BrandFixture
from tests.helpers import PHONE, event, report, survey_setup

OTHER_PHONE = "+4915199999999"


async def sent(client: AsyncTestClient, brand: BrandFixture, ctx, key: str, customer: str, phone: str) -> str:
    """An invitation sent through the sandbox (the channels' default until a provider is configured)."""
    body = event(key, customer=customer) | {
        "customer": {"external_id": customer, "phone": phone, "consents": {"sms": True}}
    }
    result = await report(client, brand, body)
    assert await jobs.send_invitation(ctx, str(brand.brand.brand_id), result["invitation_id"]) == (
        "sent via sms (sandbox)"
    )
    return str(result["invitation_id"])


async def lxt(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_the_api_lists_the_brands_sandbox_messages_newest_first(
    client: AsyncTestClient, brand: BrandFixture, other_brand: BrandFixture, ctx
) -> None:
    await survey_setup(client, brand)
    await survey_setup(client, other_brand)
    first = await sent(client, brand, ctx, "e1", "c-1", PHONE)
    second = await sent(client, brand, ctx, "e2", "c-2", OTHER_PHONE)
    await sent(client, other_brand, ctx, "e1", "c-1", PHONE)

    response = await client.get("/v1/sandbox/messages", headers=brand.headers("manage"))
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(m["invitation_id"], m["recipient"], m["channel"]) for m in items] == [
        (second, OTHER_PHONE, "sms"),
        (first, PHONE, "sms"),
    ]
    assert items[0]["body"].startswith("Thanks for visiting us today!") and items[0]["segments"] >= 1

    by_phone = await client.get("/v1/sandbox/messages?phone=%2B49 151 1234 5678", headers=brand.headers("export"))
    assert [m["invitation_id"] for m in by_phone.json()["items"]] == [first]
    by_invitation = await client.get(f"/v1/sandbox/messages?invitation={second}", headers=brand.headers())
    assert [m["invitation_id"] for m in by_invitation.json()["items"]] == [second]

    page = (await client.get("/v1/sandbox/messages?limit=1", headers=brand.headers())).json()
    assert [m["invitation_id"] for m in page["items"]] == [second]
    rest = await client.get(f"/v1/sandbox/messages?limit=1&cursor={page['next_cursor']}", headers=brand.headers())
    assert [m["invitation_id"] for m in rest.json()["items"]] == [first]
    assert rest.json()["next_cursor"] is None


@pytest.mark.parametrize(("query", "pointer"), [("phone=12", "query:phone"), ("invitation=x", "query:invitation")])
async def test_bad_sandbox_filters_are_named(
    client: AsyncTestClient, brand: BrandFixture, query: str, pointer: str
) -> None:
    response = await client.get(f"/v1/sandbox/messages?{query}", headers=brand.headers())
    assert response.status_code == 422
    assert [e["pointer"] for e in response.json()["errors"]] == [pointer]


async def test_the_outbox_prints_what_each_brand_sent(
    env: Settings,
    client: AsyncTestClient,
    brand: BrandFixture,
    other_brand: BrandFixture,
    ctx,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await lxt("sandbox", "outbox") == 0
    assert "the sandbox outbox is empty" in capsys.readouterr().err
    await survey_setup(client, brand)
    await survey_setup(client, other_brand)
    await sent(client, brand, ctx, "e1", "c-1", PHONE)
    await sent(client, other_brand, ctx, "e1", "c-1", OTHER_PHONE)

    assert await lxt("sandbox", "outbox") == 0
    out = capsys.readouterr().out
    assert f"acme  to {PHONE} (sms)" in out and f"globex  to {OTHER_PHONE} (sms)" in out
    assert "    Thanks for visiting us today!" in out
    assert await lxt("sandbox", "outbox", "--brand", "globex", "--phone", PHONE) == 0
    assert "acme" not in capsys.readouterr().out


async def test_a_sandbox_reply_is_stored_like_an_inbound_sms(
    env: Settings,
    client: AsyncTestClient,
    brand: BrandFixture,
    other_brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await survey_setup(client, brand)
    await survey_setup(client, other_brand)
    await sent(client, other_brand, ctx, "e1", "g-1", PHONE)
    await sent(client, brand, ctx, "e1", "a-1", PHONE)  # the newest message to PHONE

    assert await lxt("sandbox", "reply", "+49 151 12345678", "9") == 0
    assert "to acme stored" in capsys.readouterr().out
    assert await lxt("sandbox", "reply", PHONE, "10", "--brand", "globex") == 0
    rows = await conn.fetch(
        """
        SELECT b.slug, i.channel, i.provider, i.from_phone, i.body, c.external_id
        FROM inbound_messages i JOIN brands b USING (brand_id)
        LEFT JOIN customers c ON c.brand_id = i.brand_id AND c.customer_id = i.customer_id
        ORDER BY i.received_at
        """
    )
    assert [tuple(r) for r in rows] == [
        ("acme", "sms", "sandbox", PHONE, "9", "a-1"),
        ("globex", "sms", "sandbox", PHONE, "10", "g-1"),
    ]


async def test_a_reply_to_a_phone_nothing_was_sent_to_says_so(
    env: Settings, brand: BrandFixture, conn: asyncpg.Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await lxt("sandbox", "reply", PHONE, "9") == 1
    assert "no sandbox message was sent to" in capsys.readouterr().err
    assert await lxt("sandbox", "reply", "12345", "9") == 1
    assert "not an international phone number" in capsys.readouterr().err
    assert await lxt("sandbox", "reply", PHONE, "9", "--brand", "nope") == 1
    assert "no brand 'nope'" in capsys.readouterr().err
    assert await conn.fetchval("SELECT count(*) FROM inbound_messages") == 0


async def test_a_link_in_the_sandbox_opens_the_survey(client: AsyncTestClient, brand: BrandFixture, ctx) -> None:
    """The sandbox keeps a link-style message as the customer would read it, so a developer can open the survey."""
    await survey_setup(client, brand, style="link")
    await sent(client, brand, ctx, "e1", "c-1", PHONE)
    body = (await client.get("/v1/sandbox/messages", headers=brand.headers("manage"))).json()["items"][0]["body"]
    link = body.split()[-1]
    assert link.startswith("http://lxt.test/s/") and "{token}" not in link
    page = await client.get(link.removeprefix("http://lxt.test"))
    assert page.status_code == 200 and "How likely are you to recommend our store" in page.text
