"""Surveys answered by reply: the customer's open conversation with a brand sender, each reply read as an answer
to its current question, and what goes back (the next question, a re-prompt, the thank-you).

A conversation is opened by the send job (`notifications.conversations`) when the intro and first question go
out; a reply finds it by the customer's phone and the brand sender it was written to (`OPEN`, read with the rest
of the message's context). Its row is locked for the whole reply (``FOR UPDATE``), so two replies racing (two
messages sent in quick succession, each its own webhook) are answered one after the other, the second seeing
what the first stored; so is its invitation's, so that an answer given on the web page or in the app meanwhile
comes before the reply or after it, never in between.

A reply answers the question the conversation asked last (`Conversation.question_id`). It is read with the
questionnaire's SMS parser (`questionnaires.parse.parse_sms`) for that question in the conversation's locale, and
given through `responses.answers.give` (the answering path every channel shares). One that cannot be read is
answered with its re-prompt (`Invalid.reprompt`), at most `MAX_REPROMPTS` times for one question; after that an
optional question is skipped and the next one asked, and a required one ends the conversation with a short
closing text. When the survey has moved past that question elsewhere (answered on the web page or in the app),
the reply is not read at all: the question due now goes back, as a re-prompt that counts none. A reply after the
invitation's time is over closes the conversation with "this survey has closed" (or the brand's auto-reply). The
survey's end sends the thank-you and closes it (``completed``), here or elsewhere: a reply to a survey completed
on another channel is thanked too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final
from uuid import UUID

import asyncpg

from questionnaires.flow import End
from questionnaires.model import AnswerValue
from questionnaires.parse import Answer, Invalid, expectation, parse_sms
from questionnaires.render import render_sms, render_sms_thank_you
from responses import answers
from responses.answers import Answering, AnswersInvalid, Given, InvitationCompleted, InvitationExpired
from responses.received import Conversation, Outcome, Received, Reply
from responses.texts import own_text, sms, texts

MAX_REPROMPTS: Final = 2
"""Re-prompts of one question; the next unreadable reply skips it (optional) or ends the conversation."""
SWEEP_BATCH: Final = 1000


OPEN: Final = """
SELECT brand_id, conversation_id, invitation_id, customer_id, locale, question_id, reprompts
FROM conversations
WHERE brand_id = $1 AND channel = $3 AND recipient = $4 AND sender = ANY($5::text[]) AND closed_at IS NULL
ORDER BY opened_at DESC
LIMIT 1
FOR UPDATE
"""
"""The customer's open conversation on one of the brand's senders, locked: read with the rest of a message's
context (`responses.replies`), with the brand as $1, the channel $3, the phone $4 and the senders $5."""
_ASKED = """
UPDATE conversations SET question_id = $3, reprompts = $4, last_activity_at = $5
WHERE brand_id = $1 AND conversation_id = $2
"""
_CLOSE = """
UPDATE conversations SET closed_at = $4, close_reason = $3, last_activity_at = $4
WHERE brand_id = $1 AND conversation_id = $2 AND closed_at IS NULL
"""
_CLOSE_WITH = """
UPDATE conversations SET closed_at = $4, close_reason = $5, last_activity_at = $4
WHERE brand_id = $1 AND channel = $2 AND recipient = $3 AND closed_at IS NULL
RETURNING conversation_id
"""
# The sweep (across brands: the system's own job). A conversation ends with its invitation: completed (maybe on
# another channel), expired, or never sent after all; or when it was idle for as long as the invitation lived.
_SWEEP = """
WITH due AS (
    SELECT c.brand_id, c.conversation_id,
           CASE WHEN i.response_state = 'completed' THEN 'completed'
                WHEN i.status IS NULL OR i.status NOT IN ('sending', 'sent') THEN 'invitation_closed'
                ELSE 'expired' END AS reason
    FROM conversations c
    LEFT JOIN invitations i ON i.brand_id = c.brand_id AND i.invitation_id = c.invitation_id
    WHERE c.closed_at IS NULL
      AND (i.invitation_id IS NULL OR i.status NOT IN ('sending', 'sent') OR i.expires_at <= $1
           OR i.response_state IN ('completed', 'expired')
           OR c.last_activity_at <= $1 - (i.expires_at - i.occurred_at))
    ORDER BY c.opened_at
    LIMIT $2
    FOR UPDATE OF c SKIP LOCKED
)
UPDATE conversations c SET closed_at = $1, close_reason = due.reason
FROM due WHERE c.brand_id = due.brand_id AND c.conversation_id = due.conversation_id
"""


async def close(conn: asyncpg.Connection, conversation: Conversation, reason: str, now: datetime) -> None:
    await conn.execute(_CLOSE, conversation.brand_id, conversation.conversation_id, reason, now)


async def close_with(
    conn: asyncpg.Connection, brand_id: UUID, channel: str, phone: str, reason: str, now: datetime
) -> list[UUID]:
    """Close every open conversation of the brand with `phone` on `channel` (whatever the sender): the customer
    opted out. Returns their ids."""
    return [r["conversation_id"] for r in await conn.fetch(_CLOSE_WITH, brand_id, channel, phone, now, reason)]


async def close_stale(conn: asyncpg.Connection, now: datetime, limit: int = SWEEP_BATCH) -> int:
    """Close up to `limit` open conversations whose invitation is over (see `_SWEEP`); how many were."""
    status = await conn.execute(_SWEEP, now, limit)
    return int(status.split()[-1])


async def answer(conn: asyncpg.Connection, received: Received) -> Reply | None:
    """The reply step of a message in an open conversation; None when the customer has none on this sender."""
    message, conversation = received.message, received.conversation
    if conversation is None:
        return None
    now = received.now
    # Locked too: what is read here is what the answer is given to, whatever the web page or app do meanwhile.
    answering = await answers.load(conn, conversation.brand_id, conversation.invitation_id, lock=True)
    if answering is None:  # never to be answered here (invitations carry no foreign keys)
        await close(conn, conversation, "invitation_closed", now)
        return None
    if answering.response_state == "completed":  # on the web page or in the app, while this conversation was open
        return await _over(conn, conversation, answering, now)
    if isinstance(answering.closed(now), InvitationExpired):
        return await _expired(conn, conversation, answering, received)
    step = answering.step
    if isinstance(step, End):
        # Everything asked was answered in the app, which completes only on its own word: here, as on the survey
        # page, that is the end.
        await answers.complete(conn, answering, channel=received.answer_channel, now=now)
        return await _over(conn, conversation, answering, now)
    question = step.question
    if question.id != conversation.question_id:
        # The survey moved on elsewhere since this conversation asked (the question was answered on the web
        # page or in the app, or a changed answer branched): the reply answers a question that is not the one
        # due now, and is not read as an answer to one the customer has not seen here. The one due goes back.
        await answers.mark_opened(conn, answering, now, received.answer_channel)
        return await _next(conn, conversation, answering, "reprompt", now)
    parsed = parse_sms(question, message.body, conversation.locale)
    if isinstance(parsed, Answer):
        given = await _give(conn, conversation, answering, received, question.id, parsed.value)
        if not isinstance(given, AnswersInvalid):
            return given
        parsed = Invalid(reason="wrong_type", reprompt=expectation(question, conversation.locale))
    # The customer replied, if not readably: the invitation was opened all the same.
    await answers.mark_opened(conn, answering, now, received.answer_channel)
    reprompts = conversation.reprompts
    if reprompts < MAX_REPROMPTS:
        await conn.execute(
            _ASKED, conversation.brand_id, conversation.conversation_id, question.id, reprompts + 1, now
        )
        return _reply(conversation, "reprompt", sms(parsed.reprompt, conversation.locale).text)
    if question.required:
        await close(conn, conversation, "gave_up", now)
        return _reply(conversation, "closed", sms(texts(conversation.locale).gave_up, conversation.locale).text)
    skipped = await _give(conn, conversation, answering, received, question.id, None, skip=True)
    assert not isinstance(skipped, AnswersInvalid)  # an optional question takes a skip whatever came before
    return skipped


async def _give(
    conn: asyncpg.Connection,
    conversation: Conversation,
    answering: Answering,
    received: Received,
    question_id: str,
    value: AnswerValue,
    *,
    skip: bool = False,
) -> Reply | AnswersInvalid | None:
    """Store the answer to the current question and say what comes next (None: the conversation is over
    elsewhere); `AnswersInvalid` when the questionnaire refuses the value after all (nothing stored)."""
    try:
        given = await answers.give(
            conn,
            answering,
            [Given(question_id, value, received.message.body)],
            channel=received.answer_channel,
            now=received.now,
            inbound_id=received.message.inbound_id,
        )
    except AnswersInvalid as refused:
        return refused
    except InvitationExpired:
        return await _expired(conn, conversation, answering, received)
    except InvitationCompleted:  # on another channel, a moment ago
        return await _over(conn, conversation, answering, received.now)
    return await _next(conn, conversation, given.answering, "skipped" if skip else "answer", received.now)


async def _next(
    conn: asyncpg.Connection, conversation: Conversation, answering: Answering, outcome: Outcome, now: datetime
) -> Reply:
    """Ask the next question, or thank the customer and close the conversation at the survey's end."""
    step, definition, locale = answering.step, answering.definition, conversation.locale
    if isinstance(step, End):
        await close(conn, conversation, "completed", now)
        return _reply(conversation, outcome, render_sms_thank_you(definition, locale).text)
    await conn.execute(_ASKED, conversation.brand_id, conversation.conversation_id, step.question.id, 0, now)
    return _reply(conversation, outcome, render_sms(definition, step.question.id, locale).text)


async def _over(
    conn: asyncpg.Connection, conversation: Conversation, answering: Answering, now: datetime
) -> Reply:
    """The survey is over though this conversation did not end it (completed on another channel): close it as
    completed, and thank the customer, whose reply came too late to be an answer."""
    await close(conn, conversation, "completed", now)
    return _reply(conversation, "closed", render_sms_thank_you(answering.definition, conversation.locale).text)


async def _expired(
    conn: asyncpg.Connection, conversation: Conversation, answering: Answering, received: Received
) -> Reply:
    await answers.expire(conn, answering)
    await close(conn, conversation, "expired", received.now)
    auto_reply = received.settings.auto_reply
    locale = conversation.locale
    text = own_text(auto_reply, locale) if auto_reply is not None else texts(locale).survey_closed
    return _reply(conversation, "closed", sms(text, locale).text)


def _reply(conversation: Conversation, outcome: Outcome, text: str) -> Reply:
    return Reply(
        outcome=outcome,
        text=text,
        conversation_id=conversation.conversation_id,
        invitation_id=conversation.invitation_id,
        customer_id=conversation.customer_id,
    )
