"""Twilio's side of its webhooks, for tests: requests signed as Twilio signs them, and the send attempts a
Twilio message leaves behind (written with SQL, as the send job writes them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import asyncpg
import httpx
from litestar.testing import AsyncTestClient
from twilio.request_validator import RequestValidator

from notifications import queries
from notifications.receipts import status_callback_url
from tests.conftest import BrandFixture
from tests.helpers import PHONE, event, report, survey_setup
from triggers.queries import move_invitation

AUTH_TOKEN = "twilio-auth-token-for-tests"
BASE_URL = "http://lxt.test"
"""`Settings.public_base_url` of the tests' app: the URL Twilio is told to call, and signs."""
SENDER = "+14155550100"


def signature(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


async def post_signed(
    client: AsyncTestClient, url: str, params: dict[str, str], *, token: str = AUTH_TOKEN, **headers: str
) -> httpx.Response:
    """POST `params` form-encoded to `url` (absolute, as Twilio calls it), signed with `token`."""
    signed = {"X-Twilio-Signature": signature(url, params, token)} | headers
    return await client.post(
        url.removeprefix(BASE_URL),
        content=urlencode(params),
        headers={"content-type": "application/x-www-form-urlencoded; charset=utf-8", **signed},
    )


def status_params(status: str, sid: str = "SM0123456789abcdef0123456789abcdef", **extra: str) -> dict[str, str]:
    """A status callback's form as Twilio sends it (with fields lxt does not read)."""
    return {
        "AccountSid": "AC0123456789abcdef0123456789abcdef",
        "ApiVersion": "2010-04-01",
        "From": SENDER,
        "MessageSid": sid,
        "MessageStatus": status,
        "SmsSid": sid,
        "SmsStatus": status,
        "To": PHONE,
        **extra,
    }


async def send_receipt(
    client: AsyncTestClient, brand_id: UUID, message_id: UUID, status: str, **extra: str
) -> httpx.Response:
    url = status_callback_url(BASE_URL, brand_id, message_id)
    return await post_signed(client, url, status_params(status, **extra))


async def claimed_invitation(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, key: str = "e1", **fields: Any
) -> str:
    """An invitation a worker has claimed (``sending``), as before the provider is called."""
    result = await report(client, brand, event(key, **fields))
    assert await queries.claim(conn, brand.brand.brand_id, result["invitation_id"], datetime.now(UTC))
    return str(result["invitation_id"])


async def twilio_attempt(
    conn: asyncpg.Connection,
    brand: BrandFixture,
    invitation_id: str,
    *,
    status: str = "accepted",
    channel: str = "sms",
    recipient: str = PHONE,
    sid: str | None = "SM0123456789abcdef0123456789abcdef",
) -> UUID:
    """A send attempt through Twilio: ``pending`` as recorded before the call, or ``accepted`` with its
    invitation moved to ``sent`` (if it was still sending), as the send job leaves them."""
    now = datetime.now(UTC)
    message_id: UUID = await conn.fetchval(
        """
        INSERT INTO messages (brand_id, invitation_id, channel, provider, provider_message_id, status, body,
                              segments, attempt, recipient, sender, accepted_at)
        VALUES ($1, $2, $3, 'twilio', $4, $5, 'How likely are you to recommend us?', 1, 1, $6, $7, $8)
        RETURNING message_id
        """,
        brand.brand.brand_id,
        invitation_id,
        channel,
        sid if status != "pending" else None,
        status,
        recipient,
        SENDER,
        now if status == "accepted" else None,
    )
    if status == "accepted":
        await move_invitation(conn, brand.brand.brand_id, invitation_id, "sent", None, now, channel)
    return message_id


async def surveyed(client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection) -> str:
    """A brand with a survey set up and one invitation claimed for sending."""
    await survey_setup(client, brand)
    return await claimed_invitation(client, brand, conn)
