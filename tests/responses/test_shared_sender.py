"""Two brands on the shared default number: the customer's phone and the number are one physical pair, whichever
brand writes from it. A retried webhook is the message stored the first time, whatever brand wrote to the phone
since; one brand's open conversation there keeps the other brand's survey out of it (a link, or later); and a
reply goes to the brand whose conversation is open, not to whoever texted the phone last."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from notifications import jobs
from notifications.ratelimit import rate_key
from server.settings import Settings
from tests.conftest import BrandFixture
from tests.fakes.twilio import FakeTwilio
from tests.helpers import put_touchpoint, put_trigger
from tests.responses.texting import Phone, current_answers, invite, publish, visit, with_twilio

SHARED = "+447700900123"
"""The default number every brand without a sender of its own texts from."""
THANKS = "Thank you for your feedback!"
"""store_visit_nps's answer to a passive score: the survey is over."""
LIKED = "Great to hear! What did you like most?\nReply in your own words, or SKIP to skip"
"""store_visit_nps's question after a promoter's score."""


@pytest.fixture
def settings(settings: Settings, fake_twilio: FakeTwilio) -> Settings:
    return with_twilio(settings, fake_twilio).replace(twilio_from_number=SHARED, twilio_whatsapp_from=SHARED)


@pytest.fixture
def phone(client: AsyncTestClient, fake_twilio: FakeTwilio) -> Phone:
    return Phone(client, fake_twilio)


async def shared_survey(client: AsyncTestClient, brand: BrandFixture, **trigger: Any) -> None:
    """store_visit_nps after store visits, sent at once from the shared number (the brand has no sender)."""
    await publish(client, brand, "store_visit_nps")
    await put_touchpoint(client, brand)
    await put_trigger(client, brand, **trigger)


async def invite_later(
    ctx: dict[str, Any], client: AsyncTestClient, brand: BrandFixture, body: dict
) -> tuple[str, str]:
    """`invite`, once the shared number may send again: its rate limit spaces messages evenly (10 segments/s),
    and a send right after the last one would be deferred."""
    await ctx["redis"].delete(rate_key("sms", SHARED))
    return await invite(ctx, client, brand, body)


async def inbound_brands(conn: asyncpg.Connection) -> list[tuple]:
    """(brand, body, outcome) of every inbound message, in the order received."""
    rows = await conn.fetch(
        "SELECT brand_id, body, outcome FROM inbound_messages ORDER BY received_at, inbound_id"
    )
    return [tuple(r) for r in rows]


async def open_conversations(conn: asyncpg.Connection) -> list[tuple]:
    """(brand, invitation, question asked last) of every open conversation."""
    rows = await conn.fetch(
        "SELECT brand_id, invitation_id::text, question_id FROM conversations WHERE closed_at IS NULL"
    )
    return [tuple(r) for r in rows]


async def styles(conn: asyncpg.Connection) -> list[tuple]:
    rows = await conn.fetch(
        "SELECT brand_id, invitation_id::text, style, sender FROM messages ORDER BY created_at"
    )
    return [tuple(r) for r in rows]


async def test_a_retried_message_is_answered_once_though_another_brand_wrote_to_the_phone_since(
    client: AsyncTestClient,
    brand: BrandFixture,
    other_brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx,
    phone: Phone,
) -> None:
    acme, globex = brand.brand.brand_id, other_brand.brand.brand_id
    await shared_survey(client, brand)
    await shared_survey(client, other_brand)
    answered, _ = await invite(ctx, client, brand, visit("e1"))
    first = await phone.text("8", sid="SMretried", to=SHARED)
    assert first == THANKS  # acme's survey is over, its conversation closed
    # Globex surveys the same phone from the same number: now it is the brand that last wrote to the phone.
    surveyed, said = await invite_later(ctx, client, other_brand, visit("e1"))
    assert said == "sent via sms (twilio)"
    assert await open_conversations(conn) == [(globex, surveyed, "nps")]

    # Twilio did not get acme's answer in time and sends the message again.
    again = await phone.text("8", sid="SMretried", to=SHARED)
    assert again == first
    assert await inbound_brands(conn) == [(acme, "8", "answer")]
    assert await current_answers(conn, answered) == {"nps": 8}
    assert await current_answers(conn, surveyed) == {}
    assert await open_conversations(conn) == [(globex, surveyed, "nps")]


async def test_one_brands_open_conversation_sends_another_brands_survey_as_a_link(
    client: AsyncTestClient,
    brand: BrandFixture,
    other_brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx,
    fake_twilio: FakeTwilio,
    phone: Phone,
) -> None:
    acme, globex = brand.brand.brand_id, other_brand.brand.brand_id
    await shared_survey(client, brand)
    await shared_survey(client, other_brand)  # when_busy: link, the default
    held, _ = await invite(ctx, client, brand, visit("e1"))
    linked, said = await invite_later(ctx, client, other_brand, visit("e1"))
    assert said == "sent via sms (twilio)"
    assert await styles(conn) == [(acme, held, "conversation", SHARED), (globex, linked, "link", SHARED)]
    assert "lxt.test/s/" in fake_twilio.messages[1]["params"]["Body"]
    assert await open_conversations(conn) == [(acme, held, "nps")]
    # Globex texted the phone last, but the reply answers the conversation it is in: acme's.
    assert await phone.text("9", to=SHARED) == LIKED
    assert await inbound_brands(conn) == [(acme, "9", "answer")]
    assert await current_answers(conn, held) == {"nps": 9}
    assert await current_answers(conn, linked) == {}


async def test_another_brands_survey_that_waits_goes_once_the_conversation_on_the_shared_number_is_over(
    client: AsyncTestClient,
    brand: BrandFixture,
    other_brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx,
    fake_twilio: FakeTwilio,
    phone: Phone,
) -> None:
    await shared_survey(client, brand)
    await shared_survey(client, other_brand, when_busy="wait")
    await invite(ctx, client, brand, visit("e1"))
    waiting, said = await invite_later(ctx, client, other_brand, visit("e1"))
    assert said.startswith("deferred to ") and said.endswith("(conversation_busy)")
    assert len(fake_twilio.messages) == 1
    assert await phone.text("8", to=SHARED) == THANKS  # acme's survey is over
    await conn.execute("UPDATE invitations SET planned_at = now() WHERE invitation_id = $1", waiting)
    said = await jobs.send_invitation(ctx, str(other_brand.brand.brand_id), waiting)
    assert said == "sent via sms (twilio)"
    assert await open_conversations(conn) == [(other_brand.brand.brand_id, waiting, "nps")]
    assert await phone.text("10", to=SHARED) == LIKED
    assert await current_answers(conn, waiting) == {"nps": 10}


async def test_a_reply_goes_to_the_brand_in_conversation_not_to_the_one_that_texted_a_link_since(
    client: AsyncTestClient,
    brand: BrandFixture,
    other_brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx,
    phone: Phone,
) -> None:
    acme, globex = brand.brand.brand_id, other_brand.brand.brand_id
    await shared_survey(client, brand)
    await shared_survey(client, other_brand, style="link")
    held, _ = await invite(ctx, client, brand, visit("e1"))
    linked, _ = await invite_later(ctx, client, other_brand, visit("e1"))
    assert await styles(conn) == [(acme, held, "conversation", SHARED), (globex, linked, "link", SHARED)]
    assert await phone.text("9", to=SHARED) == LIKED
    assert await phone.text("The staff", to=SHARED) == THANKS
    assert await inbound_brands(conn) == [(acme, "9", "answer"), (acme, "The staff", "answer")]
    assert await current_answers(conn, held) == {"nps": 9, "liked": "The staff"}
    # Acme's survey is over: what the phone sends now is for the brand that texted it last.
    assert await phone.text("hello?", to=SHARED) is None
    assert (await inbound_brands(conn))[-1] == (globex, "hello?", "ignored")


async def test_a_messaging_service_two_brands_configured_is_shared_the_same_way(
    client: AsyncTestClient,
    brand: BrandFixture,
    other_brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx,
    fake_twilio: FakeTwilio,
    phone: Phone,
) -> None:
    service = "MG" + "7" * 32
    for each, style in ((brand, "conversation"), (other_brand, "link")):
        response = await client.put(
            "/v1/senders/sms",
            json={"messaging_service_sid": service, "rate_per_second": 1000},
            headers=each.headers("manage"),
        )
        assert response.status_code == 201, response.text
        await shared_survey(client, each, style=style)
    held, _ = await invite(ctx, client, brand, visit("e1"))
    linked, _ = await invite(ctx, client, other_brand, visit("e1"))
    assert [m["params"]["MessagingServiceSid"] for m in fake_twilio.messages] == [service, service]
    # Twilio picked a number of the service's pool; the reply comes through the service.
    reply = await phone.text("9", to=fake_twilio.service_number, messaging_service_sid=service)
    assert reply == LIKED
    assert await inbound_brands(conn) == [(brand.brand.brand_id, "9", "answer")]
    assert await current_answers(conn, held) == {"nps": 9}
    assert await current_answers(conn, linked) == {}
