"""Delivery receipts: what the provider reports about a message after accepting it (Twilio status callbacks).

Each message the send job hands to Twilio carries its own callback URL (`status_callback_url`), naming the brand
and the message, so a receipt finds its attempt without a look-up by provider id. Receipts are stored as
received (`message_receipts`, one row per message and status: Twilio retries callbacks), and move the message's
``delivery_status`` forward only: callbacks arrive out of order, and a late ``sent`` must not hide that the
message was ``delivered``.

A receipt can arrive before the send job recorded the provider's answer (or after the worker died between the
call and recording it): the message is then still ``pending``. The receipt proves the provider has the message,
so it settles the attempt (``accepted``) and the invitation (``sending → sent``) itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal
from uuid import UUID

import asyncpg
import msgspec

from customers.queries import mark_phone_unreachable
from triggers.queries import move_invitation

STATUS_CALLBACK_PATH: Final = "/webhooks/twilio/status"


def status_callback_url(base_url: str, brand_id: UUID | str, message_id: UUID | str) -> str:
    """The StatusCallback URL of one message: Twilio posts its delivery receipts there, signed with the URL.

    `base_url` is the public base URL Twilio reaches the API at (``Settings.base_url``); the webhook validates
    the signature against the same base, so both must come from one setting.
    """
    return f"{base_url.rstrip('/')}{STATUS_CALLBACK_PATH}?b={brand_id}&m={message_id}"


RANKS: Final[dict[str, int]] = {
    "scheduled": 0,
    "queued": 0,
    "accepted": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "undelivered": 3,
    "failed": 3,
    "canceled": 3,
    "read": 4,
}
"""Twilio's message statuses in the order a message lives them. A receipt moves ``delivery_status`` only to a
higher rank: a late ``sent`` never overwrites ``delivered``, and of two final statuses the first one stays;
``read`` (WhatsApp) follows ``delivered``. Statuses not listed here are stored as receipts and change nothing."""

PhoneUnreachable = Literal["unknown_number", "landline"]


class DeliveryError(msgspec.Struct, frozen=True):
    meaning: str
    unreachable: PhoneUnreachable | None = None
    """What the code says about the customer's phone (``customers.phone_unreachable``), if anything."""


# Twilio's delivery error codes, from its error dictionary (https://www.twilio.com/docs/api/errors/NNNNN, and
# "Troubleshooting undelivered Twilio SMS messages",
# https://help.twilio.com/articles/223181868-Troubleshooting-Undelivered-Twilio-SMS-Messages). Only 30005 and
# 30006 say something lasting about the number itself. 30004 ("blocked") and 21610 ("unsubscribed") do not opt a
# customer out: a block may be the carrier's spam filter or a device setting, and an opt-out is the customer's
# own word (a STOP reply, the brand's API), recorded in the consent ledger — not inferred from a receipt.
TWILIO_ERRORS: Final[dict[str, DeliveryError]] = {
    "30001": DeliveryError("queue overflow: too many messages queued for the sender"),
    "30002": DeliveryError("account suspended"),
    "30003": DeliveryError("unreachable destination handset (switched off, out of coverage)"),
    "30004": DeliveryError("message blocked (by the recipient, their carrier or a device setting)"),
    "30005": DeliveryError("unknown destination handset: the number does not exist", "unknown_number"),
    "30006": DeliveryError("landline or unreachable carrier: the number cannot take SMS", "landline"),
    "30007": DeliveryError("message filtered by the carrier (spam or content rules)"),
    "30008": DeliveryError("unknown error from the carrier"),
    "30034": DeliveryError("message from an unregistered US A2P 10DLC number"),
    "21610": DeliveryError("the recipient has unsubscribed from the sender (replied STOP)"),
}


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    """A message's provider and delivery columns, as a receipt finds them and as it leaves them."""

    status: str
    provider_message_id: str | None
    accepted_at: datetime | None
    delivery_status: str | None
    delivery_error_code: str | None
    delivered_at: datetime | None


SETTLED_BY_RECEIPT: Final = frozenset({"pending", "unknown"})
"""Attempt statuses a receipt settles as ``accepted``: the send job has not recorded the provider's answer
(``pending``), or could not tell whether the provider got the message (``unknown``). A receipt proves it did."""


def apply_receipt(
    current: Delivery,
    provider: str,
    status: str,
    error_code: str | None,
    provider_message_id: str | None,
    now: datetime,
) -> Delivery:
    """What a receipt makes of a message's delivery columns (pure)."""
    changed = current
    if current.status in SETTLED_BY_RECEIPT:
        changed = msgspec.structs.replace(
            changed,
            status="accepted",
            provider_message_id=current.provider_message_id or provider_message_id,
            accepted_at=current.accepted_at or now,
        )
    if advances(current.delivery_status, status):
        changed = msgspec.structs.replace(
            changed,
            delivery_status=status,
            delivery_error_code=f"{provider}:{error_code}" if error_code else current.delivery_error_code,
            delivered_at=current.delivered_at or (now if status in ("delivered", "read") else None),
        )
    return changed


def advances(current: str | None, new: str) -> bool:
    """Whether a receipt with status `new` moves a message's delivery status on from `current`."""
    if new not in RANKS:
        return False
    return current is None or current not in RANKS or RANKS[new] > RANKS[current]


def phone_unreachable(provider: str, channel: str, error_code: str | None) -> PhoneUnreachable | None:
    """What a receipt's error code says about the phone. SMS only: WhatsApp reports with codes of its own
    (63xxx), and a number WhatsApp cannot reach may still take SMS, or the reverse."""
    if provider != "twilio" or channel != "sms" or error_code is None:
        return None
    known = TWILIO_ERRORS.get(error_code)
    return known.unreachable if known else None


class Recorded(msgspec.Struct, frozen=True, kw_only=True):
    """What a receipt did: ``unknown_message`` (no such message of that brand: nothing stored), ``duplicate`` (a
    provider's retry of a receipt already stored: nothing changed) or ``recorded``."""

    outcome: Literal["recorded", "duplicate", "unknown_message"]
    delivery_status: str | None = None
    settled: bool = False
    """The receipt settled an attempt still waiting for the provider's answer (and its invitation)."""
    phone_unreachable: PhoneUnreachable | None = None


_LOCK_MESSAGE = """
SELECT m.invitation_id::text, m.channel, m.provider, m.recipient, m.status, m.provider_message_id, m.accepted_at,
       m.delivery_status, m.delivery_error_code, m.delivered_at, i.customer_id::text
FROM messages m
LEFT JOIN invitations i ON i.brand_id = m.brand_id AND i.invitation_id = m.invitation_id
WHERE m.brand_id = $1 AND m.message_id = $2
FOR UPDATE OF m
"""

_INSERT_RECEIPT = """
INSERT INTO message_receipts (brand_id, message_id, status, error_code, provider_message_id, received_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING
"""

_UPDATE_MESSAGE = """
UPDATE messages
SET status = $3, provider_message_id = $4, accepted_at = $5, delivery_status = $6, delivery_error_code = $7,
    delivered_at = $8, updated_at = $9
WHERE brand_id = $1 AND message_id = $2
"""


async def record_receipt(
    conn: asyncpg.Connection,
    brand_id: UUID,
    message_id: UUID,
    status: str,
    error_code: str | None,
    provider_message_id: str | None,
    now: datetime,
) -> Recorded:
    """Store a delivery receipt and apply it to its message (see the module's docstring). Idempotent: a receipt
    already stored (same message and status) changes nothing. Run it inside a transaction: the message row is
    locked until commit, so that concurrent receipts of one message apply one after the other."""
    row = await conn.fetchrow(_LOCK_MESSAGE, brand_id, message_id)
    if row is None:
        return Recorded(outcome="unknown_message")
    inserted = await conn.execute(
        _INSERT_RECEIPT, brand_id, message_id, status, error_code, provider_message_id, now
    )
    if inserted == "INSERT 0 0":
        return Recorded(outcome="duplicate", delivery_status=row["delivery_status"])
    current = Delivery(
        status=row["status"],
        provider_message_id=row["provider_message_id"],
        accepted_at=row["accepted_at"],
        delivery_status=row["delivery_status"],
        delivery_error_code=row["delivery_error_code"],
        delivered_at=row["delivered_at"],
    )
    after = apply_receipt(current, row["provider"], status, error_code, provider_message_id, now)
    if after != current:
        await conn.execute(
            _UPDATE_MESSAGE,
            brand_id,
            message_id,
            after.status,
            after.provider_message_id,
            after.accepted_at,
            after.delivery_status,
            after.delivery_error_code,
            after.delivered_at,
            now,
        )
    settled = current.status != after.status
    if settled:
        # Moves only from `sending`: an invitation the sweeper already ended stays as it is.
        await move_invitation(conn, brand_id, row["invitation_id"], "sent", None, now, row["channel"])
    unreachable = phone_unreachable(row["provider"], row["channel"], error_code)
    if unreachable is not None and row["recipient"] and row["customer_id"]:
        # Only while the phone the message went to is still theirs: a brand that gave another number has
        # answered what the provider said about the old one.
        phone = row["recipient"].removeprefix("whatsapp:")
        await mark_phone_unreachable(conn, brand_id, row["customer_id"], phone, unreachable, now)
    return Recorded(
        outcome="recorded", delivery_status=after.delivery_status, settled=settled, phone_unreachable=unreachable
    )
