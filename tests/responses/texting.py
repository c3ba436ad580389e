"""Surveys by text message, end to end: a brand with its own SMS and WhatsApp sender, invitations sent through the
fake Twilio by the real send job, and the customer's replies POSTed to the webhooks signed exactly as Twilio
signs them (`tests.fakes.twilio.FakeTwilio.inbound`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import asyncpg
from litestar.testing import AsyncTestClient

from notifications import jobs
from responses.inbound import Incoming
from server.settings import Settings
from tests.conftest import BrandFixture
from tests.fakes.twilio import FakeTwilio
from tests.helpers import PHONE, put_touchpoint, put_trigger, report

FROM = "+15017122661"
"""The brand's own SMS and WhatsApp sender."""
BASE_URL = "http://lxt.test"
HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[1] / "questionnaires" / "examples"
TEMPLATE = {"content_sid": "HX" + "0" * 32, "variables": {"1": "{question}"}}
"""A WhatsApp template that opens a conversation and nothing else: only for triggers that wait when busy."""
LINKED_TEMPLATE = {"content_sid": "HX" + "1" * 32, "variables": {"1": "{question}", "2": "{link}"}}
"""A WhatsApp template that carries the survey's link too: answered by reply or on the web page."""


def with_twilio(settings: Settings, fake: FakeTwilio) -> Settings:
    return settings.replace(
        twilio_account_sid=fake.account_sid,
        twilio_auth_token=fake.auth_token,
        twilio_api_base=fake.url,
        twilio_from_number=FROM,
        twilio_whatsapp_from=FROM,
    )


async def publish(client: AsyncTestClient, brand: BrandFixture, name: str) -> None:
    path = HERE / f"{name}.yaml"
    if not path.exists():
        path = EXAMPLES / f"{name}.yaml"
    response = await client.post(
        "/v1/questionnaires",
        content=path.read_bytes(),
        headers={**brand.headers("manage"), "content-type": "application/yaml"},
    )
    assert response.status_code in (200, 201), response.text


async def text_survey(
    client: AsyncTestClient, brand: BrandFixture, questionnaire: str = "every_type", **trigger: Any
) -> dict:
    """The brand's own senders (fast enough to send twice in a row), `questionnaire` published, and a trigger on
    store visits that sends it at once, at any hour, with no frequency limits."""
    for channel in ("sms", "whatsapp"):
        response = await client.put(
            f"/v1/senders/{channel}", json={"from": FROM, "rate_per_second": 1000}, headers=brand.headers("manage")
        )
        assert response.status_code in (200, 201), response.text
    await publish(client, brand, questionnaire)
    await put_touchpoint(client, brand)
    return await put_trigger(client, brand, questionnaire=questionnaire, **trigger)


def visit(key: str, customer: str = "c-1", *, phone: str = PHONE, locale: str = "en", **consents: bool) -> dict:
    """A store visit by a customer with consent to SMS (unless `consents` say otherwise)."""
    return {
        "idempotency_key": key,
        "touchpoint": "store_visit",
        "customer": {
            "external_id": customer,
            "phone": phone,
            "locale": locale,
            "consents": consents or {"sms": True},
        },
    }


async def invite(ctx: dict[str, Any], client: AsyncTestClient, brand: BrandFixture, body: dict) -> tuple[str, str]:
    """Report the event and run its send job at once: (invitation id, what the job said)."""
    result = await report(client, brand, body)
    assert result["decision"] == "scheduled", result
    said = await jobs.send_invitation(ctx, str(brand.brand.brand_id), result["invitation_id"])
    return result["invitation_id"], said


def whatsapp_link(fake: FakeTwilio, index: int = -1) -> str:
    """The link token of a WhatsApp message sent with `LINKED_TEMPLATE` (the newest by default)."""
    url = json.loads(fake.messages[index]["params"]["ContentVariables"])["2"]
    assert url.startswith(f"{BASE_URL}/s/"), url
    return url.rsplit("/", 1)[1]


def replied(twiml: str) -> str | None:
    """The text a TwiML answer sends back (None for an empty answer)."""
    texts = [m.text or "" for m in ElementTree.fromstring(twiml).iter("Message")]  # noqa: S314 (lxt's own TwiML)
    assert len(texts) <= 1, twiml
    return texts[0] if texts else None


class Phone:
    """The customer's phone: texts the brand's sender through Twilio's webhook and reads what comes back."""

    def __init__(self, client: AsyncTestClient, fake: FakeTwilio, number: str = PHONE) -> None:
        self.client, self.fake, self.number = client, fake, number

    async def text(
        self, body: str, *, sid: str | None = None, channel: str = "sms", to: str = FROM, **extra: str
    ) -> str | None:
        """Send `body`; the reply lxt texted back, if any."""
        request = self.fake.inbound(
            f"{BASE_URL}/webhooks/twilio/{channel}",
            from_=self.number,
            to=to,
            body=body,
            message_sid=sid,
            channel=channel,
            **extra,  # type: ignore[arg-type]
        )
        response = await self.client.post(request.url, data=request.params, headers=request.headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/xml")
        return replied(response.text)


async def inbound_rows(conn: asyncpg.Connection) -> list[tuple]:
    """(body, outcome, reply) of every inbound message, in the order received."""
    rows = await conn.fetch("SELECT body, outcome, reply FROM inbound_messages ORDER BY received_at, inbound_id")
    return [tuple(r) for r in rows]


async def conversation_rows(conn: asyncpg.Connection) -> list[tuple]:
    """(invitation, question asked last, re-prompts, close reason) of every conversation, oldest first."""
    rows = await conn.fetch(
        "SELECT invitation_id::text, question_id, reprompts, close_reason FROM conversations ORDER BY opened_at"
    )
    return [tuple(r) for r in rows]


async def current_answers(conn: asyncpg.Connection, invitation_id: str) -> dict[str, object]:
    rows = await conn.fetch(
        "SELECT question_id, value FROM answers WHERE invitation_id = $1 AND replaced_at IS NULL", invitation_id
    )
    return {r["question_id"]: r["value"] for r in rows}


def incoming(brand: BrandFixture, body: str) -> Incoming:
    """A text from `PHONE` to the brand, as the webhook hands it on (its provider id made of its words)."""
    return Incoming(
        provider="twilio",
        channel="sms",
        provider_message_id=f"SM{body}",
        from_phone=PHONE,
        to_address="+15005550006",
        body=body,
        payload={},
        brand_id=brand.brand.brand_id,
    )
