"""What lxt answers to an inbound SMS or WhatsApp message: the one dispatcher every path takes — Twilio's webhooks,
`lxt sandbox reply` and ``POST /v1/sandbox/replies``.

The message is stored first (`responses.inbound.receive`); then, in the same transaction, the steps of `STEPS`
are asked in order, and the first that answers decides:

1. keywords — STOP, START, HELP and the brand's own, or Twilio's ``OptOutType`` (`responses.consent`);
2. the customer's open conversation on the sender written to: an answer (`responses.conversations`);
3. the brand's auto-reply, for a customer outside any conversation.

None answers: the message is ``ignored`` (empty TwiML). What the message meant, the reply and the conversation
and invitation it went to are recorded on its row (`responses.inbound.record`), so a retried webhook (the same
MessageSid) is answered with the same text and nothing is done twice.

A step that fails with a bug does not lose the message: its work is rolled back to a savepoint, the message
stays stored with the outcome ``error`` (logged), and nothing is texted back. Lost connections and deadlocks are
raised: the caller's transaction is retried, or the provider retries the webhook.

Steps after the conversation see only the customer's words (`on_text`): the shape of a tracking study's code
handler, which goes between the conversation and the auto-reply.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Final, Protocol
from uuid import UUID

import asyncpg
import msgspec

from notifications.conversations import SANDBOX_SENDER
from notifications.queue import enqueue_invitations
from notifications.sandbox import PROVIDER as SANDBOX
from notifications.sandbox import OutboxEntry, latest_to
from plumbing.ids import new_id
from responses import consent, conversations, inbound
from responses.inbound import Inbound, phone_of
from responses.messaging import from_row
from responses.received import Outcome, Received, Reply, Sender
from responses.texts import own_text, sms
from triggers.schedule import InvitationJob

log = logging.getLogger("lxt.replies")

Step = Callable[[asyncpg.Connection, Received], Awaitable[Reply | None]]
"""A reply step: a `Reply` if the message is its to answer, else None (the next step is asked)."""


class Texted(Protocol):
    """What a step that sees only the customer's words answers with."""

    @property
    def text(self) -> str: ...

    @property
    def jobs(self) -> Sequence[InvitationJob]: ...


class OnText(Protocol):
    async def __call__(
        self,
        conn: asyncpg.Connection,
        *,
        brand_id: UUID,
        customer_id: UUID,
        inbound_id: UUID,
        text: str,
        now: datetime,
        base_url: str,
    ) -> Texted | None: ...


def on_text(outcome: Outcome, handler: OnText) -> Step:
    """A step from a handler that sees only the customer's words, recorded as `outcome` when it answers. A
    message from a phone that is no customer of the brand's is not its to answer: lxt texts back only its
    customers (nobody else can make it send messages, and pay for them)."""

    async def step(conn: asyncpg.Connection, received: Received) -> Reply | None:
        if received.customer is None:
            return None
        message = received.message
        texted = await handler(
            conn,
            brand_id=message.brand_id,
            customer_id=received.customer.customer_id,
            inbound_id=message.inbound_id,
            text=message.body,
            now=received.now,
            base_url=received.base_url,
        )
        if texted is None:
            return None
        return Reply(outcome=outcome, text=texted.text, jobs=list(texted.jobs))

    return step


class AutoReply(msgspec.Struct, frozen=True):
    text: str
    jobs: list[InvitationJob] = []


_AUTO_REPLY = """
SELECT m.auto_reply, c.locale
FROM brand_messaging m JOIN customers c ON c.brand_id = m.brand_id AND c.customer_id = $2
WHERE m.brand_id = $1 AND m.auto_reply IS NOT NULL
"""


async def auto_reply(
    conn: asyncpg.Connection,
    *,
    brand_id: UUID,
    customer_id: UUID,
    inbound_id: UUID,
    text: str,
    now: datetime,
    base_url: str,
) -> AutoReply | None:
    """The brand's auto-reply in the customer's locale, if it set one."""
    row = await conn.fetchrow(_AUTO_REPLY, brand_id, customer_id)
    if row is None:
        return None
    return AutoReply(sms(own_text(row["auto_reply"], row["locale"]), row["locale"]).text)


STEPS: Final[tuple[Step, ...]] = (
    consent.answer_keyword,
    conversations.answer,
    on_text("auto_reply", auto_reply),
)

_CONTEXT = """
SELECT b.name, m.help_text, m.auto_reply, m.keywords, m.updated_at, c.customer_id, c.locale, c.consents
FROM brands b
LEFT JOIN brand_messaging m ON m.brand_id = b.brand_id
LEFT JOIN customers c ON c.brand_id = b.brand_id AND c.customer_id = $2
WHERE b.brand_id = $1
"""

# Raised, not recorded as the message's error: the transaction cannot go on, and a retry may well succeed.
_NOT_OURS = (asyncpg.TransactionRollbackError, asyncpg.InterfaceError, OSError)


async def reply_to(
    conn: asyncpg.Connection,
    message: Inbound,
    *,
    now: datetime,
    base_url: str,
    opt_out_type: str | None = None,
    messaging_service_sid: str | None = None,
    steps: Sequence[Step] = STEPS,
) -> Reply:
    """Answer a stored inbound message inside the caller's transaction (see the module's docstring); a message
    stored before (`Inbound.duplicate`) gets the reply it got then. Queue the reply's `jobs` after commit."""
    if message.duplicate:
        return Reply(
            outcome=message.outcome or "ignored",  # type: ignore[arg-type]
            text=message.reply,
            conversation_id=message.conversation_id,
            invitation_id=message.invitation_id,
        )
    received = await _received(conn, message, now, base_url, opt_out_type, messaging_service_sid)
    try:
        async with conn.transaction():  # a savepoint: a failing step leaves the stored message alone
            reply = await _first(conn, received, steps)
    except _NOT_OURS:
        raise
    except Exception:
        log.exception("inbound message %s of brand %s could not be answered", message.inbound_id, message.brand_id)
        reply = Reply(outcome="error")
    await inbound.record(
        conn,
        message,
        outcome=reply.outcome,
        reply=reply.text,
        conversation_id=reply.conversation_id,
        invitation_id=reply.invitation_id,
        customer_id=reply.customer_id,
    )
    return reply


async def queue_jobs(redis: Any, reply: Reply, queue_name: str) -> None:
    """Queue the send jobs of a committed reply. A queue that does not take them loses nothing: they are
    scheduled invitations in PostgreSQL, and the sweeper queues them within a minute."""
    if not reply.jobs:
        return
    try:
        await enqueue_invitations(redis, reply.jobs, queue_name)
    except Exception as exc:
        log.warning("could not queue %d invitations of a reply (%s); the sweeper will", len(reply.jobs), exc)


async def _first(conn: asyncpg.Connection, received: Received, steps: Sequence[Step]) -> Reply:
    for step in steps:
        reply = await step(conn, received)
        if reply is not None:
            return reply
    return Reply(outcome="ignored")


async def _received(
    conn: asyncpg.Connection,
    message: Inbound,
    now: datetime,
    base_url: str,
    opt_out_type: str | None,
    messaging_service_sid: str | None,
) -> Received:
    row = await conn.fetchrow(_CONTEXT, message.brand_id, message.customer_id)
    settings = from_row(row if row["updated_at"] is not None else None)
    customer = (
        Sender(customer_id=row["customer_id"], locale=row["locale"], consents=row["consents"])
        if row["customer_id"] is not None
        else None
    )
    return Received(
        message=message,
        customer=customer,
        brand_name=row["name"],
        settings=settings,
        addressed_to=[phone_of(message.to_address), *([messaging_service_sid] if messaging_service_sid else [])],
        opt_out_type=opt_out_type or None,
        now=now,
        base_url=base_url,
    )


class SandboxReply(msgspec.Struct, kw_only=True):
    to: OutboxEntry
    """The sandbox message answered (the newest to the phone)."""
    message: Inbound
    reply: Reply


async def sandbox_reply(
    conn: asyncpg.Connection, phone: str, text: str, *, brand_id: UUID | None, now: datetime, base_url: str
) -> SandboxReply | None:
    """Answer the newest sandbox message to `phone` (of `brand_id`, or of any brand) with `text`, as the customer
    would by SMS: stored like an inbound message (provider ``sandbox``) and answered by the same steps as a real
    one, inside the caller's transaction. None when no sandbox message went to the phone."""
    latest = await latest_to(conn, phone, brand_id=brand_id)
    if latest is None:
        return None
    to_address = latest.sender or SANDBOX_SENDER
    payload: dict[str, Any] = {"From": phone, "To": to_address, "Body": text}
    stored = await inbound.receive(
        conn,
        provider=SANDBOX,
        channel="whatsapp" if latest.channel == "whatsapp" else "sms",
        provider_message_id=f"sandbox-{new_id()}",
        from_phone=phone,
        to_address=to_address,
        body=text,
        payload=payload,
        now=now,
        brand_id=latest.brand_id,
    )
    assert stored is not None  # the brand is given
    return SandboxReply(to=latest, message=stored, reply=await reply_to(conn, stored, now=now, base_url=base_url))
