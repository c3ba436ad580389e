"""The keyword step: STOP, START and HELP (`responses.keywords`), looked at before anything is read as an answer.

STOP opts the phone out of the channel it came on, for this brand, at once: every customer of the brand with that
phone, and every one given the phone later (``phone_opt_outs``, migrations/0011), has the channel's consent
withdrawn for good (`customers.model.Customer.unsubscribed`: only START or the brand's ``manage`` key grants it
again, never an event), each change recorded with its source (``sms_keyword`` /
``whatsapp_keyword``, or ``twilio_opt_out`` when Twilio's Advanced Opt-Out reported it), their open
conversations on the channel are closed, and their invitations not yet sent that could only go that way are
cancelled (``opted_out``; through `triggers.queries`, so the state machine records it). One that may still go
another way is left to the send job, whose re-check reads the consent again and picks a channel the customer can
still be reached on, or suppresses it.

START takes back the customer's own opt-out of the channel (a STOP, or the carrier's): the consent is again what
it was before it (`customers.queries.resubscribe_phone`). It is no keyword for a customer who has none: a consent
the brand withdrew is the brand's to give back, so START, YES and UNSTOP are then read like any other text (an
answer, or the auto-reply). HELP answers with the brand's help text. When Twilio's Advanced Opt-Out handled the
message (``OptOutType``), it answered the customer itself: lxt records what happened (a START grants nothing the
customer did not opt out of themselves) and texts nothing, so the customer is not answered twice.
"""

from __future__ import annotations

from typing import Final
from uuid import UUID

import asyncpg

from customers.queries import resubscribe_phone, unsubscribe_phone
from responses.conversations import close_with
from responses.keywords import keyword_of, provider_keyword
from responses.received import Received, Reply
from responses.texts import own_text, sms, texts
from triggers.queries import cancel_only_on

ONLY_ON: Final[dict[str, list[str]]] = {"sms": ["sms", "web_link"], "whatsapp": ["whatsapp"]}
"""The invitation channels an opt-out of each messaging channel closes (a web link travels by SMS)."""


async def answer_keyword(conn: asyncpg.Connection, received: Received) -> Reply | None:
    """The reply step of a keyword; None when the message is none (or START from a customer not opted out)."""
    reported = provider_keyword(received.opt_out_type)
    kind = reported or keyword_of(received.message.body, received.settings.keywords)
    if kind is None:
        return None
    channel = received.channel
    customer = received.customer
    if kind == "start" and reported is None and (customer is None or not customer.opted_out_of(channel)):
        # No opt-out of their own to take back (never opted out, or the brand withdrew the consent): START, YES and
        # UNSTOP are read like any other reply (YES may be an answer).
        return None
    message, now, locale = received.message, received.now, received.locale
    source = "twilio_opt_out" if reported else f"{channel}_keyword"
    closed: list[UUID] = []
    if kind == "stop":
        owners = await unsubscribe_phone(conn, message.brand_id, message.from_phone, channel, source, now)
        closed = await close_with(conn, message.brand_id, channel, message.from_phone, "stopped", now)
        if owners:
            await cancel_only_on(conn, message.brand_id, owners, ONLY_ON[channel], "opted_out", now)
        text = texts(locale).stopped.format(brand=received.brand_name)
    elif kind == "start":
        await resubscribe_phone(conn, message.brand_id, message.from_phone, channel, source, now)
        text = texts(locale).started.format(brand=received.brand_name)
    else:
        own = received.settings.help_text
        text = own_text(own, locale) if own is not None else texts(locale).help.format(brand=received.brand_name)
    return Reply(
        outcome=kind,
        text=None if reported else sms(text, locale).text,
        conversation_id=closed[0] if closed else None,
    )
