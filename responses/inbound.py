"""Messages customers send to a brand's sender: SMS and WhatsApp replies, and replies typed into the sandbox.

Every inbound message is stored first (`inbound_messages`), before anything else is done with it, once per
provider message id: providers retry webhooks. What it meant (an answer, STOP, HELP …), decided by
`responses.replies` in the same transaction, and the text lxt replied with are recorded on the row (`record`): a
retried webhook is answered from there, with the same reply, and nothing is done twice. A provider's message id
names one message across brands: a retry is the message stored the first time even when the brand look-up below
would now find another brand (another brand wrote to the phone from a shared sender in between).

Which brand a message belongs to is found from where it was sent to:
1. a brand's own sender (`brand_senders`): its configured ``from`` number is the message's To, or its Messaging
   Service is the one the message came through;
2. otherwise To is a sender brands share (the default number, or a Messaging Service several brands configured):
   the brand holding an open conversation with that phone on it (a reply to a survey question is the
   conversation's, even when another brand has texted the phone a link from the same number since);
3. else the brand that last messaged that phone from it.
A message no brand can be found for is not stored: it cannot be attributed without risking another brand's
customer's words landing with the wrong tenant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal
from uuid import UUID

import asyncpg
import msgspec

Channel = Literal["sms", "whatsapp"]

WHATSAPP_PREFIX: Final = "whatsapp:"


class Incoming(msgspec.Struct, frozen=True, kw_only=True):
    """An inbound message as the provider delivered it, before it is stored."""

    provider: str
    channel: Channel
    provider_message_id: str
    from_phone: str
    """As the provider gives it (WhatsApp's ``whatsapp:`` prefix is understood); stored without the prefix."""
    to_address: str
    body: str
    payload: dict[str, Any]
    """The provider's fields as received."""
    messaging_service_sid: str | None = None
    opt_out_type: str | None = None
    """Twilio's ``OptOutType`` (STOP, START, HELP): its Advanced Opt-Out recognized a keyword and answered it."""
    brand_id: UUID | None = None
    """For callers that know the brand already (the sandbox, where the operator names it); otherwise it is found
    from `to_address`."""


class Inbound(msgspec.Struct, frozen=True, kw_only=True):
    """An inbound message as stored."""

    inbound_id: UUID
    brand_id: UUID
    channel: str
    provider: str
    provider_message_id: str
    from_phone: str
    to_address: str
    body: str
    customer_id: UUID | None
    received_at: datetime
    outcome: str | None = None
    """What the message meant (see `responses.replies.Outcome`); None until it was handled."""
    reply: str | None = None
    """The text lxt answered with; None for none."""
    conversation_id: UUID | None = None
    invitation_id: UUID | None = None
    duplicate: bool = False
    """The provider sent this message before (a retried webhook): the stored row, nothing new was written."""


def phone_of(address: str) -> str:
    """The phone number of a provider address: ``whatsapp:+4915…`` → ``+4915…``; a plain number unchanged."""
    return address.removeprefix(WHATSAPP_PREFIX)


# In one round trip. `owners`: the brands that configured To (or the Messaging Service) as their own sender, by
# the indexes on the two addresses (brand_senders_by_from, brand_senders_by_service): every webhook asks.
# One owner: the message is its. No owner (the default number) or several (a Messaging Service brands share): of
# those brands (any, for the default number), the one holding an open conversation with the phone on this sender
# — at most one: conversations_open spans brands — else the one that last messaged the phone from it (of the
# phone's messages, by messages_by_recipient: a phone has few). Across brands: the brand is what this look-up
# finds. $2 is To and $4 the phone without WhatsApp's prefix, $3 the Messaging Service or '' (none): scalars, not
# arrays or NULLs the planner would tailor a plan to, so that the prepared statement settles on its generic plan
# instead of being planned again on every webhook.
_BRAND = """
WITH owners AS MATERIALIZED (
    SELECT DISTINCT brand_id FROM brand_senders
    WHERE channel = $1
      AND (config->>'from' IN ($2, 'whatsapp:' || $2) OR config->>'messaging_service_sid' = $3)
)
SELECT coalesce(
    (SELECT brand_id FROM owners WHERE (SELECT count(*) FROM owners) = 1),
    (SELECT brand_id FROM conversations
     WHERE channel = $1 AND recipient = $4 AND sender IN ($2, $3) AND closed_at IS NULL
       AND (brand_id IN (SELECT brand_id FROM owners) OR NOT EXISTS (SELECT FROM owners))
     ORDER BY opened_at DESC
     LIMIT 1),
    (SELECT brand_id FROM messages
     WHERE recipient IN ($4, 'whatsapp:' || $4)
       AND (brand_id IN (SELECT brand_id FROM owners)
            OR (NOT EXISTS (SELECT FROM owners) AND sender IN ($2, 'whatsapp:' || $2, $3)))
     ORDER BY created_at DESC
     LIMIT 1)
)
"""

# Of the brand's customers with this phone (a household may share one), the one the brand's last message to the
# phone was for, else (none, or that customer has another phone now) the one last updated. The last message is
# the newest of the brand's to either form of the phone's address: one probe each of messages_by_recipient
# (recipient, brand_id, created_at), read newest first, whatever the customer's history. An uncorrelated
# subquery, so that it runs once, before the joins, under any plan; the two forms spelled out rather than an array
# of them, so that the insert keeps its generic plan (see `_BRAND`). Looked up by the insert itself, with the
# customer's row locked until the message is handled: an erasure (which locks the row first) either comes after
# this transaction and finds the message to blank, or before it, and then this look-up finds no customer with the
# phone (the erased one has none) and the message is a stranger's. Unlocked, a message stored while an erasure ran
# would keep the erased customer's id and words.
_CUSTOMER_WITH_PHONE = """
SELECT coalesce(
    (SELECT c.customer_id
     FROM invitations i
     JOIN customers c ON c.brand_id = i.brand_id AND c.customer_id = i.customer_id
     WHERE i.brand_id = $1 AND c.phone = $5 AND i.invitation_id = (
         SELECT invitation_id FROM (
             (SELECT invitation_id, created_at FROM messages
              WHERE recipient = $5 AND brand_id = $1 ORDER BY created_at DESC LIMIT 1)
             UNION ALL
             (SELECT invitation_id, created_at FROM messages
              WHERE recipient = 'whatsapp:' || $5 AND brand_id = $1 ORDER BY created_at DESC LIMIT 1)
         ) last
         ORDER BY created_at DESC
         LIMIT 1)
     FOR UPDATE OF c),
    (SELECT customer_id FROM customers WHERE brand_id = $1 AND phone = $5 ORDER BY updated_at DESC LIMIT 1
     FOR UPDATE)
)
"""

_COLUMNS = (
    "inbound_id, brand_id, channel, provider, provider_message_id, from_phone, to_address, body, customer_id, "
    "received_at, outcome, reply, conversation_id, invitation_id"
)

# The insert is the duplicate check: the unique index on (provider, provider_message_id), across brands, makes
# a message stored before — for whichever brand — a conflict, so the happy path pays no look-up of its own.
_INSERT = f"""
INSERT INTO inbound_messages (brand_id, channel, provider, provider_message_id, from_phone, to_address, body,
                              customer_id, payload, received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, ({_CUSTOMER_WITH_PHONE}), $8, $9)
ON CONFLICT (provider, provider_message_id) DO NOTHING
RETURNING {_COLUMNS}
"""

# Across brands (index inbound_messages_by_provider_id): the message as stored the first time, for the brand it
# was stored for then, whatever brand this delivery of it was about to be stored for.
_STORED = f"""
SELECT {_COLUMNS} FROM inbound_messages WHERE provider = $1 AND provider_message_id = $2
"""

_RECORD = """
UPDATE inbound_messages
SET outcome = $3, reply = $4, conversation_id = $5, invitation_id = $6, customer_id = coalesce($7, customer_id)
WHERE brand_id = $1 AND inbound_id = $2
"""


async def find_brand(
    conn: asyncpg.Connection,
    *,
    channel: Channel,
    from_phone: str,
    to_address: str,
    messaging_service_sid: str | None = None,
) -> UUID | None:
    """The brand an inbound message to `to_address` belongs to (see the module's docstring), or None."""
    return await conn.fetchval(
        _BRAND, channel, phone_of(to_address), messaging_service_sid or "", phone_of(from_phone)
    )


async def receive(conn: asyncpg.Connection, incoming: Incoming, now: datetime) -> Inbound | None:
    """Store an inbound message for the brand it belongs to; None (nothing stored) if no brand can be found.

    It is attributed to the brand's customer with the sender's phone: the one last messaged at it, else the one
    last updated. A message the provider sent before is not stored twice: the stored one is returned with
    ``duplicate=True``, with the brand it was stored for, whatever brand the look-up finds now.
    """
    phone = phone_of(incoming.from_phone)
    brand_id = incoming.brand_id
    if brand_id is None:
        brand_id = await find_brand(
            conn,
            channel=incoming.channel,
            from_phone=phone,
            to_address=incoming.to_address,
            messaging_service_sid=incoming.messaging_service_sid,
        )
        if brand_id is None:
            # No brand would take it now, but one may have when it was first delivered.
            return await _stored(conn, incoming)
    row = await conn.fetchrow(
        _INSERT,
        brand_id,
        incoming.channel,
        incoming.provider,
        incoming.provider_message_id,
        phone,
        incoming.to_address,
        incoming.body,
        incoming.payload,
        now,
    )
    if row is not None:
        return Inbound(**dict(row))
    stored = await _stored(conn, incoming)
    assert stored is not None  # the insert conflicted with it
    return stored


async def _stored(conn: asyncpg.Connection, incoming: Incoming) -> Inbound | None:
    """The message as stored when the provider delivered it before, for whichever brand; None if it did not."""
    row = await conn.fetchrow(_STORED, incoming.provider, incoming.provider_message_id)
    return Inbound(**dict(row), duplicate=True) if row is not None else None


async def record(
    conn: asyncpg.Connection,
    message: Inbound,
    *,
    outcome: str,
    reply: str | None,
    conversation_id: UUID | None = None,
    invitation_id: UUID | None = None,
    customer_id: UUID | None = None,
) -> None:
    """Record what `message` meant and the reply it got; `customer_id` attributes it to the customer whose
    conversation it answered (a phone several customers share: the one who was asked)."""
    await conn.execute(
        _RECORD, message.brand_id, message.inbound_id, outcome, reply, conversation_id, invitation_id, customer_id
    )
