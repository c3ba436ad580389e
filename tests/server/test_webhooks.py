"""Twilio's webhooks: delivery receipts and inbound messages, signed as Twilio signs them."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from uuid import UUID, uuid4

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from twilio.twiml.messaging_response import MessagingResponse

from notifications import conversations
from notifications.receipts import status_callback_url
from responses.messaging import MessagingIn, check_messaging, put_messaging
from server.app import create_app
from server.routes import webhooks
from server.settings import Settings
from tests.conftest import BrandFixture
from tests.helpers import PHONE
from tests.responses.factories import Sent, sent_invitation
from tests.twilio import (
    AUTH_TOKEN,
    BASE_URL,
    SENDER,
    post_signed,
    send_receipt,
    signature,
    status_params,
    surveyed,
    twilio_attempt,
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(twilio_auth_token=AUTH_TOKEN)


async def receipts(conn: asyncpg.Connection) -> list[tuple]:
    rows = await conn.fetch("SELECT status, error_code, provider_message_id FROM message_receipts ORDER BY status")
    return [tuple(r) for r in rows]


async def delivery(conn: asyncpg.Connection, message_id: UUID) -> tuple:
    row = await conn.fetchrow(
        "SELECT status, delivery_status, delivery_error_code, delivered_at IS NOT NULL AS delivered "
        "FROM messages WHERE message_id = $1",
        message_id,
    )
    return tuple(row)


# -- delivery receipts -------------------------------------------------------------------------------------


def test_the_callback_url_names_brand_and_message() -> None:
    brand, message = uuid4(), uuid4()
    assert status_callback_url("https://lxt.example.com/", brand, message) == (
        f"https://lxt.example.com/webhooks/twilio/status?b={brand}&m={message}"
    )


async def test_a_receipt_is_stored_and_moves_the_delivery_status(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    invitation = await surveyed(client, brand, conn)
    message = await twilio_attempt(conn, brand, invitation)
    response = await send_receipt(client, brand.brand.brand_id, message, "delivered")
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert await receipts(conn) == [("delivered", None, "SM0123456789abcdef0123456789abcdef")]
    assert await delivery(conn, message) == ("accepted", "delivered", None, True)


async def test_a_forged_receipt_is_refused_and_nothing_is_stored(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    invitation = await surveyed(client, brand, conn)
    message = await twilio_attempt(conn, brand, invitation)
    url = status_callback_url(BASE_URL, brand.brand.brand_id, message)
    params = status_params("delivered")
    wrong_key = await post_signed(client, url, params, token="not-the-auth-token")
    # Signed for another host than the public base URL: Twilio never called that.
    other_host = url.replace(BASE_URL, "http://evil.test")
    wrong_url = await client.post(
        url.removeprefix(BASE_URL), data=params, headers={"X-Twilio-Signature": signature(other_host, params)}
    )
    tampered = await client.post(
        url.removeprefix(BASE_URL),
        data=params | {"MessageStatus": "failed"},
        headers={"X-Twilio-Signature": signature(url, params)},
    )
    unsigned = await client.post(url.removeprefix(BASE_URL), data=params)
    for response in (wrong_key, wrong_url, tampered, unsigned):
        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["pointer"] == "header:X-Twilio-Signature"
    assert await receipts(conn) == []
    assert await delivery(conn, message) == ("accepted", None, None, False)


async def test_without_an_auth_token_every_webhook_is_refused(
    settings: Settings, brand: BrandFixture, conn: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    webhooks._warn_unconfigured.cache_clear()  # as in a process that has not refused one yet
    unconfigured = create_app(settings.replace(twilio_auth_token=""))
    async with AsyncTestClient(unconfigured, base_url=BASE_URL) as client:
        with caplog.at_level(logging.WARNING, logger="lxt.webhooks"):
            for path in ("/webhooks/twilio/sms", "/webhooks/twilio/whatsapp"):
                params = {"MessageSid": "SM1", "From": PHONE, "To": SENDER, "Body": "9"}
                response = await post_signed(client, BASE_URL + path, params)
                assert response.status_code == 403
                assert "no Twilio auth token" in response.json()["detail"]
    assert await conn.fetchval("SELECT count(*) FROM inbound_messages") == 0
    said = [r.getMessage() for r in caplog.records if "LXT_TWILIO_AUTH_TOKEN" in r.getMessage()]
    assert len(said) == 1  # once per process, not once per request


async def test_a_replayed_receipt_changes_nothing(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    invitation = await surveyed(client, brand, conn)
    message = await twilio_attempt(conn, brand, invitation)
    for _ in range(3):  # Twilio retries a callback it got no answer to
        response = await send_receipt(client, brand.brand.brand_id, message, "undelivered", ErrorCode="30003")
        assert response.status_code == 204
    assert await receipts(conn) == [("undelivered", "30003", "SM0123456789abcdef0123456789abcdef")]
    assert await delivery(conn, message) == ("accepted", "undelivered", "twilio:30003", False)


async def test_receipts_out_of_order_never_move_the_status_back(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    invitation = await surveyed(client, brand, conn)
    message = await twilio_attempt(conn, brand, invitation, channel="whatsapp", recipient=f"whatsapp:{PHONE}")
    brand_id = brand.brand.brand_id
    await send_receipt(client, brand_id, message, "delivered")
    await send_receipt(client, brand_id, message, "sent")  # late
    await send_receipt(client, brand_id, message, "queued")  # later still
    assert await delivery(conn, message) == ("accepted", "delivered", None, True)
    await send_receipt(client, brand_id, message, "read")  # WhatsApp: read follows delivered
    assert await delivery(conn, message) == ("accepted", "read", None, True)
    assert [r[0] for r in await receipts(conn)] == ["delivered", "queued", "read", "sent"]


async def test_a_receipt_before_the_send_job_recorded_the_answer_settles_the_attempt(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    invitation = await surveyed(client, brand, conn)
    message = await twilio_attempt(conn, brand, invitation, status="pending")
    response = await send_receipt(client, brand.brand.brand_id, message, "sent")
    assert response.status_code == 204
    row = await conn.fetchrow(
        "SELECT status, provider_message_id, accepted_at IS NOT NULL AS accepted, delivery_status FROM messages"
    )
    assert tuple(row) == ("accepted", "SM0123456789abcdef0123456789abcdef", True, "sent")
    assert tuple(await conn.fetchrow("SELECT status, channel FROM invitations")) == ("sent", "sms")
    moves = await conn.fetch("SELECT from_status, to_status FROM invitation_transitions ORDER BY seq")
    assert [tuple(m) for m in moves] == [("scheduled", "sending"), ("sending", "sent")]


async def test_unknown_numbers_and_landlines_mark_the_phone_but_a_block_opts_nobody_out(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    invitation = await surveyed(client, brand, conn)
    blocked = await twilio_attempt(conn, brand, invitation, sid="SM1")
    await send_receipt(client, brand.brand.brand_id, blocked, "undelivered", ErrorCode="30004")
    customer = await conn.fetchrow("SELECT phone_unreachable, opted_out_at, consents FROM customers")
    assert tuple(customer) == (None, None, {"sms": True})
    landline = await twilio_attempt(conn, brand, invitation, sid="SM2")
    await send_receipt(client, brand.brand.brand_id, landline, "undelivered", ErrorCode="30006")
    assert await conn.fetchval("SELECT phone_unreachable FROM customers") == "landline"
    assert await conn.fetchval("SELECT opted_out_at FROM customers") is None


async def test_a_receipt_for_an_unknown_message_is_acknowledged_and_not_stored(
    client: AsyncTestClient, brand: BrandFixture, other_brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    invitation = await surveyed(client, brand, conn)
    message = await twilio_attempt(conn, brand, invitation)
    for brand_id, message_id in ((brand.brand.brand_id, uuid4()), (other_brand.brand.brand_id, message)):
        response = await send_receipt(client, brand_id, message_id, "delivered")
        assert response.status_code == 204  # Twilio must not retry it forever
    assert await receipts(conn) == []
    assert await delivery(conn, message) == ("accepted", None, None, False)


async def test_a_signed_receipt_without_its_fields_names_them(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    url = status_callback_url(BASE_URL, brand.brand.brand_id, uuid4())
    response = await post_signed(client, url, {"MessageSid": "SM1"})
    assert response.status_code == 422
    assert [e["pointer"] for e in response.json()["errors"]] == ["/MessageStatus"]


# -- inbound messages --------------------------------------------------------------------------------------


def inbound(sid: str = "SMin0001", body: str = "9", *, to: str = SENDER, **extra: str) -> dict[str, str]:
    return {
        "AccountSid": "AC0123456789abcdef0123456789abcdef",
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "From": PHONE,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        **extra,
    }


async def stored_inbound(conn: asyncpg.Connection) -> list[tuple]:
    rows = await conn.fetch(
        "SELECT brand_id, channel, provider, provider_message_id, from_phone, to_address, body, customer_id IS NOT NULL "
        "FROM inbound_messages ORDER BY received_at"
    )
    return [tuple(r) for r in rows]


async def add_sender(conn: asyncpg.Connection, brand: BrandFixture, channel: str, **config: str) -> None:
    await conn.execute(
        "INSERT INTO brand_senders (brand_id, channel, config) VALUES ($1, $2, $3)",
        brand.brand.brand_id,
        channel,
        config,
    )


async def test_an_sms_to_a_brands_own_number_is_stored_for_it_once(
    client: AsyncTestClient, brand: BrandFixture, other_brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await add_sender(conn, brand, "sms", **{"from": SENDER})
    await add_sender(conn, other_brand, "sms", **{"from": "+14155550199"})
    await surveyed(client, brand, conn)  # the customer with this phone
    for _ in range(2):  # Twilio retries
        response = await post_signed(client, f"{BASE_URL}/webhooks/twilio/sms", inbound())
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/xml")
        assert response.text == str(MessagingResponse())
    assert await stored_inbound(conn) == [
        (brand.brand.brand_id, "sms", "twilio", "SMin0001", PHONE, SENDER, "9", True)
    ]
    payload = await conn.fetchval("SELECT payload FROM inbound_messages")
    assert payload["NumMedia"] == "0"  # every field as received


async def test_a_retry_after_the_brand_gave_up_its_number_gets_the_same_answer(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await add_sender(conn, brand, "sms", **{"from": SENDER})
    await surveyed(client, brand, conn)
    await put_messaging(
        conn,
        brand.brand.brand_id,
        check_messaging(MessagingIn(auto_reply="We read every message.")),
        datetime.now(UTC),
    )
    first = await post_signed(client, f"{BASE_URL}/webhooks/twilio/sms", inbound())
    assert "<Message>We read every message.</Message>" in first.text
    await conn.execute("DELETE FROM brand_senders")  # no brand's number any more: a new message is no brand's
    again = await post_signed(client, f"{BASE_URL}/webhooks/twilio/sms", inbound())
    assert again.text == first.text
    assert await stored_inbound(conn) == [
        (brand.brand.brand_id, "sms", "twilio", "SMin0001", PHONE, SENDER, "9", True)
    ]


async def test_a_whatsapp_message_through_a_messaging_service_finds_its_brand(
    client: AsyncTestClient, brand: BrandFixture, other_brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await add_sender(conn, other_brand, "whatsapp", messaging_service_sid="MGother")
    await add_sender(conn, brand, "whatsapp", messaging_service_sid="MGacme")
    params = inbound(to=f"whatsapp:{SENDER}", From=f"whatsapp:{PHONE}", MessagingServiceSid="MGacme")
    response = await post_signed(client, f"{BASE_URL}/webhooks/twilio/whatsapp", params)
    assert response.status_code == 200
    assert await stored_inbound(conn) == [
        (brand.brand.brand_id, "whatsapp", "twilio", "SMin0001", PHONE, f"whatsapp:{SENDER}", "9", False)
    ]


async def test_a_reply_to_the_shared_number_belongs_to_the_brand_that_last_wrote_from_it(
    client: AsyncTestClient, brand: BrandFixture, other_brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    older = await surveyed(client, other_brand, conn)
    await twilio_attempt(conn, other_brand, older)
    newer = await surveyed(client, brand, conn)
    await twilio_attempt(conn, brand, newer)
    response = await post_signed(client, f"{BASE_URL}/webhooks/twilio/sms", inbound())
    assert response.status_code == 200
    customer = await conn.fetchval("SELECT customer_id FROM invitations WHERE invitation_id = $1", newer)
    assert await conn.fetchval("SELECT brand_id FROM inbound_messages") == brand.brand.brand_id
    assert await conn.fetchval("SELECT customer_id FROM inbound_messages") == customer


async def test_a_message_for_no_brand_is_answered_and_not_stored(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="lxt.webhooks"):
        response = await post_signed(client, f"{BASE_URL}/webhooks/twilio/sms", inbound(sid="SMnobody"))
    assert response.status_code == 200
    assert response.text == str(MessagingResponse())
    assert await stored_inbound(conn) == []
    assert "SMnobody" in caplog.text and PHONE not in caplog.text and SENDER not in caplog.text


async def test_a_forged_inbound_message_is_refused(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await add_sender(conn, brand, "sms", **{"from": SENDER})
    forged = await post_signed(client, f"{BASE_URL}/webhooks/twilio/sms", inbound(), token="guessed")
    assert forged.status_code == 403
    # A signature for the WhatsApp webhook does not hold for the SMS one.
    url = f"{BASE_URL}/webhooks/twilio/whatsapp"
    moved = await client.post(
        "/webhooks/twilio/sms", data=inbound(), headers={"X-Twilio-Signature": signature(url, inbound())}
    )
    assert moved.status_code == 403
    assert await stored_inbound(conn) == []


async def test_webhooks_read_forms_only(client: AsyncTestClient, brand: BrandFixture) -> None:
    response = await client.post("/webhooks/twilio/sms", json=inbound(), headers={"X-Twilio-Signature": "x"})
    assert response.status_code == 415
    assert response.json()["errors"][0]["pointer"] == "header:content-type"


# -- replies in a conversation ---------------------------------------------------------------------------------

SHARED = "+15005550006"
"""The shared sender `sent_invitation` writes from: a reply to it belongs to the brand that last wrote from it."""


async def conversation(conn: asyncpg.Connection, brand: BrandFixture) -> Sent:
    """A conversation-style invitation of store_visit_nps sent to PHONE, its conversation open on `SHARED`."""
    sent = await sent_invitation(conn, brand, "store_visit_nps", phone=PHONE, style="conversation", sender=SHARED)
    assert await conversations.hold(
        conn,
        brand.brand.brand_id,
        str(sent.invitation_id),
        customer_id=str(sent.customer_id),
        channel="sms",
        sender=SHARED,
        recipient=PHONE,
        locale="en",
        question_id="nps",
        now=datetime.now(UTC),
    )
    return sent


async def test_a_signed_reply_is_answered_with_twiml_and_forged_ones_change_nothing(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    sent = await conversation(conn, brand)
    url = f"{BASE_URL}/webhooks/twilio/sms"
    params = inbound(body="10", to=SHARED)
    forged = await post_signed(client, url, params, token="guessed")
    unsigned = await client.post("/webhooks/twilio/sms", data=params)
    tampered = await client.post(
        "/webhooks/twilio/sms", data=params | {"Body": "0"}, headers={"X-Twilio-Signature": signature(url, params)}
    )
    for response in (forged, unsigned, tampered):
        assert response.status_code == 403
    assert await conn.fetchval("SELECT count(*) FROM inbound_messages") == 0
    assert await conn.fetchval("SELECT count(*) FROM answers") == 0
    assert await conn.fetchval("SELECT opened_at FROM invitations") is None

    signed = await post_signed(client, url, params)
    assert signed.status_code == 200
    assert signed.headers["content-type"].startswith("text/xml")
    assert signed.text == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Great to hear! What did you like most?\n'
        "Reply in your own words, or SKIP to skip</Message></Response>"
    )
    stored = await conn.fetchrow(
        "SELECT outcome, invitation_id, conversation_id IS NOT NULL FROM inbound_messages"
    )
    assert tuple(stored) == ("answer", sent.invitation_id, True)
    assert await conn.fetchval("SELECT value FROM answers WHERE question_id = 'nps'") == 10


async def test_a_reply_text_is_escaped_as_xml(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await sent_invitation(conn, brand, "store_visit_nps", phone=PHONE, sender=SHARED)
    await put_messaging(
        conn, brand.brand.brand_id, check_messaging(MessagingIn(auto_reply="Q&A <here>")), datetime.now(UTC)
    )
    response = await post_signed(client, f"{BASE_URL}/webhooks/twilio/sms", inbound(body="hello", to=SHARED))
    assert "<Message>Q&amp;A &lt;here&gt;</Message>" in response.text
