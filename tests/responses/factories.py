"""Invitations as the send job leaves them, written with SQL: sent, with a link token, or as the first message of
an SMS conversation. Answer-side tests start from here instead of running a send for every case."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import asyncpg

from notifications.channels import link_token_hash
from questionnaires.load import load_definition
from questionnaires.model import Definition
from server.questionnaire_versions import publish
from tests.conftest import BrandFixture

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[1] / "questionnaires" / "examples"


def definition(name: str = "every_type") -> Definition:
    """A questionnaire of this folder (``every_type``) or of the examples (``store_visit_nps`` …)."""
    path = HERE / f"{name}.yaml"
    if not path.exists():
        path = EXAMPLES / f"{name}.yaml"
    return load_definition(path.read_bytes(), "yaml")


@dataclass
class Sent:
    invitation_id: UUID
    customer_id: UUID
    token: str
    """The link token (``/s/{token}``); a conversation's message has one too, unused."""
    message_id: UUID
    key: str
    version: int


async def sent_invitation(
    conn: asyncpg.Connection,
    brand: BrandFixture,
    questionnaire: str | Definition = "every_type",
    *,
    external_id: str = "cust-1",
    phone: str | None = "+4915112345678",
    locale: str | None = "en",
    channel: str = "sms",
    style: str = "link",
    sender: str = "+15005550006",
    occurred_at: datetime | None = None,
    expires_in: timedelta = timedelta(days=2),
    body: str = "How likely are you to recommend us?",
) -> Sent:
    """A sent invitation of `brand` to a customer (created or reused by `external_id`) with one accepted message."""
    brand_id = brand.brand.brand_id
    spec = definition(questionnaire) if isinstance(questionnaire, str) else questionnaire
    version, _ = await publish(conn, brand_id, spec)
    now = datetime.now(UTC)
    occurred = occurred_at or now - timedelta(minutes=5)
    customer_id = await conn.fetchval(
        """
        INSERT INTO customers (brand_id, customer_id, external_id, phone, locale, consents)
        VALUES ($1, $2, $3, $4, $5, '{"sms": true, "whatsapp": true, "push": true}')
        ON CONFLICT (brand_id, external_id) DO UPDATE SET phone = excluded.phone
        RETURNING customer_id
        """,
        brand_id,
        uuid4(),
        external_id,
        phone,
        locale,
    )
    invitation_id, message_id = uuid4(), uuid4()
    await conn.execute(
        """
        INSERT INTO invitations (brand_id, invitation_id, event_id, customer_id, trigger_id, questionnaire_key,
                                 questionnaire_version, status, occurred_at, planned_at, send_by, expires_at,
                                 channels, channel, attempts)
        VALUES ($1, $2, $3, $4, $5, $6, $7, 'sent', $8, $8, $8::timestamptz + interval '1 hour', $9, ARRAY[$10], $10, 1)
        """,
        brand_id,
        invitation_id,
        uuid4(),
        customer_id,
        uuid4(),
        spec.key,
        version.version,
        occurred,
        now + expires_in,
        channel,
    )
    token = secrets.token_urlsafe(32)
    await conn.execute(
        """
        INSERT INTO messages (brand_id, message_id, invitation_id, attempt, channel, provider, style, recipient,
                              sender, status, body, segments, link_token_hash, provider_message_id, accepted_at)
        VALUES ($1, $2, $3, 1, $4, 'twilio', $5, $6, $7, 'accepted', $8, 1, $9, $10, now())
        """,
        brand_id,
        message_id,
        invitation_id,
        channel,
        style,
        phone,
        sender,
        body,
        link_token_hash(token),
        "SM" + secrets.token_hex(16),
    )
    return Sent(invitation_id, customer_id, token, message_id, spec.key, version.version)
