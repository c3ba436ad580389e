"""What lxt answers to an inbound SMS or WhatsApp message: the one dispatcher every path takes — Twilio's webhooks,
`lxt sandbox reply` and ``POST /v1/sandbox/replies``.

The message is stored first (`responses.inbound.receive`); then, in the same transaction, the steps of `STEPS`
are asked in order, and the first that answers decides:

1. keywords — STOP, START, HELP and the brand's own, or Twilio's ``OptOutType`` (`responses.consent`);
2. a tracking study's valid code, from a participant whose diary is open, even during a survey conversation;
3. the customer's open conversation on the sender written to: an answer (`responses.conversations`);
4. any other text of a study's participant: a code to explain, or a diary not open (`responses.studies.participation`);
5. the brand's auto-reply, for a customer outside any conversation.

None answers: the message is ``ignored`` (empty TwiML). What the message meant, the reply and the conversation
and invitation it went to are recorded on its row (`responses.inbound.record`), so a retried webhook (the same
MessageSid) is answered with the same text and nothing is done twice.

A step that fails with a bug does not lose the message: the transaction is rolled back and the message stored
again on its own with the outcome ``error`` (logged), and nothing is texted back. A deadlock runs the transaction
again; a lost connection is raised (the provider retries the webhook). The happy path pays for none of this: no
savepoint, one transaction.

Steps after the conversation see only the customer's words (`on_text`), and only a customer's: a study's code
handler and the auto-reply. A new step of that kind is one line in `STEPS`. None of them answers a customer who
opted out of the channel the message came on (STOP): after a STOP lxt texts nothing back on that channel but what
the keywords require (the confirmation, HELP, START).
"""

from __future__ import annotations

import functools
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
from responses.inbound import Channel, Inbound, Incoming, phone_of
from responses.messaging import from_row
from responses.received import Conversation, Outcome, Received, Reply, Sender
from responses.studies import participation as studies
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
        channel: Channel,
        now: datetime,
        base_url: str,
    ) -> Texted | None: ...


def on_text(outcome: Outcome, handler: OnText) -> Step:
    """A step from a handler that sees only the customer's words, recorded as `outcome` when it answers. A
    message from a phone that is no customer of the brand's is not its to answer: lxt texts back only its
    customers (nobody else can make it send messages, and pay for them). Nor is one from a customer who opted
    out of its channel: their STOP stands until their START, whatever they text meanwhile."""

    async def step(conn: asyncpg.Connection, received: Received) -> Reply | None:
        customer = received.customer
        if customer is None or customer.opted_out_of(received.channel):
            return None
        message = received.message
        texted = await handler(
            conn,
            brand_id=message.brand_id,
            customer_id=customer.customer_id,
            inbound_id=message.inbound_id,
            text=message.body,
            channel=received.channel,
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
    channel: Channel,
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
    # A participant's valid code is one even while a survey question waits for its answer.
    on_text("code", functools.partial(studies.handle_code, codes_only=True)),
    conversations.answer,
    on_text("code", studies.handle_code),
    on_text("auto_reply", auto_reply),
)

# Everything the steps look at, in one round trip: the brand's name and settings, the customer, and their open
# conversation on the sender written to (locked: see `responses.conversations`).
_CONTEXT = f"""
WITH conversation AS ({conversations.OPEN})
SELECT b.name, m.help_text, m.auto_reply, m.keywords, m.updated_at, c.customer_id, c.locale, c.consents,
       c.unsubscribed,
       v.conversation_id, v.invitation_id AS conversation_invitation_id, v.customer_id AS conversation_customer_id,
       v.locale AS conversation_locale, v.question_id, v.reprompts
FROM brands b
LEFT JOIN brand_messaging m ON m.brand_id = b.brand_id
LEFT JOIN customers c ON c.brand_id = b.brand_id AND c.customer_id = $2
LEFT JOIN conversation v ON true
WHERE b.brand_id = $1
"""

TRANSACTION_ATTEMPTS: Final = 3
"""Runs of a message's transaction after conflicts with a concurrent one (a deadlock)."""
# Raised, not recorded as the message's error: the connection is gone, and a retry may well succeed.
_NOT_OURS = (asyncpg.InterfaceError, OSError)


class Answered(msgspec.Struct, kw_only=True):
    message: Inbound
    """The message as stored."""
    reply: Reply


async def answer(
    conn: asyncpg.Connection,
    incoming: Incoming,
    *,
    now: datetime,
    base_url: str,
    steps: Sequence[Step] = STEPS,
) -> Answered | None:
    """Store an inbound message and answer it, in one transaction of its own (the caller holds none); None when
    it belongs to no brand (nothing stored). Queue the reply's `jobs` once this returned: they are committed.

    A message stored before (`Inbound.duplicate`: the provider retried) gets the reply it got then, and nothing
    is done again. If a step fails, the transaction is rolled back and the message stored again on its own, with
    the outcome ``error``: what the customer sent is kept, and nothing is texted back.
    """
    for attempt in range(TRANSACTION_ATTEMPTS):
        try:
            async with conn.transaction():
                stored = await inbound.receive(conn, incoming, now)
                if stored is None:
                    return None
                return Answered(
                    message=stored, reply=await _reply_to(conn, stored, incoming, now, base_url, steps)
                )
        except asyncpg.TransactionRollbackError:
            if attempt == TRANSACTION_ATTEMPTS - 1:
                raise
            log.info("answering an inbound message conflicted with a concurrent transaction; retrying")
        except _NOT_OURS:
            raise
        except Exception:
            log.exception("an inbound %s message of %s could not be answered", incoming.channel, incoming.provider)
            break
    async with conn.transaction():
        stored = await inbound.receive(conn, incoming, now)
        if stored is None:
            return None
        if not stored.duplicate:
            await inbound.record(conn, stored, outcome="error", reply=None)
        return Answered(message=stored, reply=_replayed(stored) if stored.duplicate else Reply(outcome="error"))


async def _reply_to(
    conn: asyncpg.Connection,
    message: Inbound,
    incoming: Incoming,
    now: datetime,
    base_url: str,
    steps: Sequence[Step],
) -> Reply:
    if message.duplicate:
        return _replayed(message)
    received = await _received(conn, message, incoming, now, base_url)
    reply = await _first(conn, received, steps)
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


def _replayed(message: Inbound) -> Reply:
    """The reply a message got when it was first answered (its jobs were queued then)."""
    return Reply(
        outcome=message.outcome or "ignored",  # type: ignore[arg-type]
        text=message.reply,
        conversation_id=message.conversation_id,
        invitation_id=message.invitation_id,
    )


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
    conn: asyncpg.Connection, message: Inbound, incoming: Incoming, now: datetime, base_url: str
) -> Received:
    service = incoming.messaging_service_sid
    senders = [phone_of(message.to_address), *([service] if service else [])]
    row = await conn.fetchrow(
        _CONTEXT, message.brand_id, message.customer_id, message.channel, message.from_phone, senders
    )
    customer = (
        Sender(
            customer_id=row["customer_id"],
            locale=row["locale"],
            consents=row["consents"],
            unsubscribed=list(row["unsubscribed"]),
        )
        if row["customer_id"] is not None
        else None
    )
    conversation = (
        Conversation(
            brand_id=message.brand_id,
            conversation_id=row["conversation_id"],
            invitation_id=row["conversation_invitation_id"],
            customer_id=row["conversation_customer_id"],
            locale=row["conversation_locale"],
            question_id=row["question_id"],
            reprompts=row["reprompts"],
        )
        if row["conversation_id"] is not None
        else None
    )
    return Received(
        message=message,
        customer=customer,
        brand_name=row["name"],
        settings=from_row(row if row["updated_at"] is not None else None),
        conversation=conversation,
        opt_out_type=incoming.opt_out_type or None,
        now=now,
        base_url=base_url,
    )


class SandboxReply(msgspec.Struct, kw_only=True):
    to: OutboxEntry
    """The sandbox message answered (the newest to the phone)."""
    answered: Answered


async def sandbox_reply(
    conn: asyncpg.Connection, phone: str, text: str, *, brand_id: UUID | None, now: datetime, base_url: str
) -> SandboxReply | None:
    """Answer the newest sandbox message to `phone` (of `brand_id`, or of any brand) with `text`, as the customer
    would by SMS: stored like an inbound message (provider ``sandbox``) and answered by the same steps as a real
    one (`answer`). None when no sandbox message went to the phone."""
    latest = await latest_to(conn, phone, brand_id=brand_id)
    if latest is None:
        return None
    to_address = latest.sender or SANDBOX_SENDER
    incoming = Incoming(
        provider=SANDBOX,
        channel="whatsapp" if latest.channel == "whatsapp" else "sms",
        provider_message_id=f"sandbox-{new_id()}",
        from_phone=phone,
        to_address=to_address,
        body=text,
        payload={"From": phone, "To": to_address, "Body": text},
        brand_id=latest.brand_id,
    )
    answered = await answer(conn, incoming, now=now, base_url=base_url)
    assert answered is not None  # the brand is given
    return SandboxReply(to=latest, answered=answered)
