"""Answering an invitation: from whatever channel the customer answers on (web page, app, SMS reply) to stored
answers and the invitation's response state.

One path for every channel. The caller parses what the customer sent into normalized values (the questionnaire's
own parsers: `parse_form` for the page, `parse_structured` for the app, `parse_sms` in a conversation) and calls
`give`, inside its transaction. `give`:

1. locks the invitation row (``FOR UPDATE``): two answers racing for one invitation are applied one after the
   other, each seeing the other's result;
2. refuses answers to a completed invitation (`InvitationCompleted`) or one whose time is over
   (`InvitationExpired`);
3. settles the given answers over the stored ones (`questionnaires.flow.settle`): strict checks, branching, and
   which stored answers a changed earlier answer makes moot;
4. writes only what changed: an answer equal to the current one is a retry and writes nothing (so a repeated
   submission is idempotent); a different one replaces it, keeping the old row (``replaced_at``, reason
   ``changed``); a moot one is replaced with reason ``branch``;
5. moves the response state: ``opened`` → ``partial`` → ``completed`` (the web page and SMS complete when the
   flow ends; the app completes explicitly, `complete`).

Tokens. A link token is 256 random bits; only its SHA-256 is stored (`messages.link_token_hash`, unique), so the
look-up is by hash and a stored hash can't be used as a token. The hash found is compared with
`hmac.compare_digest` all the same. A token of the wrong shape is refused before any query, and an unknown one
is indistinguishable from a malformed one (the caller answers both with the same 404).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Final, Literal
from uuid import UUID

import asyncpg
import msgspec

from notifications.channels import link_token_hash
from notifications.queries import pinned_definition
from plumbing.errors import DefinitionInvalid, FieldError
from questionnaires.flow import End, Step, next_step, settle
from questionnaires.locales import pick_locale
from questionnaires.model import AnswerValue, Definition

AnswerChannel = Literal["web", "app", "sms", "whatsapp", "sandbox"]
ResponseState = Literal["opened", "partial", "completed", "expired"]

TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{43}")
"""The shape of a link token (`secrets.token_urlsafe(32)`)."""

_json = msgspec.json.Encoder()


class AnswersInvalid(DefinitionInvalid):
    """Answers that the questionnaire refuses; each error names the question (``/answers/<id>``)."""

    title = "Invalid answers"


class InvitationClosed(Exception):
    """The invitation takes no more answers."""

    reason: str = "closed"

    def __init__(self, invitation_id: UUID) -> None:
        self.invitation_id = invitation_id
        super().__init__(f"invitation {invitation_id} is {self.reason}")


class InvitationCompleted(InvitationClosed):
    reason = "completed"


class InvitationExpired(InvitationClosed):
    reason = "expired"


class Answering(msgspec.Struct, kw_only=True):
    """An invitation as the customer answering it sees it: the pinned questionnaire and the answers so far."""

    brand_id: UUID
    invitation_id: UUID
    customer_id: UUID
    questionnaire_key: str
    questionnaire_version: int
    definition: Definition
    locale: str
    """The questionnaire's locale closest to the customer's."""
    occurred_at: datetime
    expires_at: datetime
    response_state: ResponseState | None
    opened_at: datetime | None
    completed_at: datetime | None
    end_reason: str | None
    answers: dict[str, AnswerValue]
    """The current answers by question id (None: skipped)."""

    @property
    def step(self) -> Step | End:
        """The next question, or the end."""
        return next_step(self.definition, self.answers)

    def closed(self, now: datetime) -> InvitationClosed | None:
        """Why this invitation takes no answers at `now`, or None while it does."""
        if self.response_state == "completed":
            return InvitationCompleted(self.invitation_id)
        if self.response_state == "expired" or now >= self.expires_at:
            return InvitationExpired(self.invitation_id)
        return None


class Given(msgspec.Struct, frozen=True):
    """One answer as given: the value (parsed by the channel) and what the customer actually sent."""

    question_id: str
    value: AnswerValue
    raw: str


class Outcome(msgspec.Struct, kw_only=True):
    answering: Answering
    """The invitation after the answers: state and current answers updated."""
    changed: list[str]
    """Questions whose answer was stored now (new or changed); empty for a pure retry."""
    completed_now: bool


_SELECT = """
SELECT i.brand_id, i.invitation_id, i.customer_id, i.questionnaire_key, i.questionnaire_version, i.occurred_at,
       i.expires_at, i.response_state, i.opened_at, i.completed_at, i.end_reason, c.locale
FROM invitations i
LEFT JOIN customers c ON c.brand_id = i.brand_id AND c.customer_id = i.customer_id
"""
_BY_ID = _SELECT + "WHERE i.brand_id = $1 AND i.invitation_id = $2"
_BY_ID_LOCKED = _BY_ID + " FOR UPDATE OF i"
# Across brands: the token is what finds the brand (unique index messages_by_link_token).
_OF_LINK = """
SELECT m.brand_id, m.invitation_id, m.link_token_hash FROM messages m WHERE m.link_token_hash = $1
"""
_CURRENT = """
SELECT question_id, value::text FROM answers
WHERE brand_id = $1 AND invitation_id = $2 AND replaced_at IS NULL
"""
_REPLACE = """
UPDATE answers SET replaced_at = $4, replaced_reason = $5
WHERE brand_id = $1 AND invitation_id = $2 AND question_id = ANY($3::text[]) AND replaced_at IS NULL
"""
_INSERT = """
INSERT INTO answers (brand_id, invitation_id, customer_id, questionnaire_key, questionnaire_version, question_id,
                     value, raw, channel, inbound_id, answered_at)
SELECT $1, $2, $3, $4, $5, a.question_id, a.value::jsonb, a.raw, $6, $7, $8
FROM unnest($9::text[], $10::text[], $11::text[]) AS a (question_id, value, raw)
"""
_OPENED = """
UPDATE invitations
SET opened_at = coalesce(opened_at, $3), response_state = coalesce(response_state, 'opened'),
    response_channel = coalesce(response_channel, $4)
WHERE brand_id = $1 AND invitation_id = $2 AND (opened_at IS NULL OR response_state IS NULL)
"""
_PROGRESSED = """
UPDATE invitations
SET opened_at = coalesce(opened_at, $3), first_answer_at = coalesce(first_answer_at, $3), last_answer_at = $3,
    response_state = $4, completed_at = $5, end_reason = $6, response_channel = coalesce(response_channel, $7)
WHERE brand_id = $1 AND invitation_id = $2
"""
_EXPIRED = """
UPDATE invitations SET response_state = 'expired'
WHERE brand_id = $1 AND invitation_id = $2 AND response_state IS DISTINCT FROM 'completed'
  AND response_state IS DISTINCT FROM 'expired'
"""
# The sweeper's pass, across brands (index invitations_unfinished).
_EXPIRE_DUE = """
WITH due AS (
    SELECT brand_id, invitation_id FROM invitations
    WHERE status = 'sent' AND (response_state IS NULL OR response_state IN ('opened', 'partial'))
      AND expires_at <= $1
    ORDER BY expires_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE invitations i SET response_state = 'expired'
FROM due WHERE i.brand_id = due.brand_id AND i.invitation_id = due.invitation_id
"""


_REFUSED = """
INSERT INTO refused_answers (brand_id, invitation_id, customer_id, channel, raw, reason, errors, received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8)
"""
MAX_REFUSED_RAW: Final = 16_384
"""Characters of a refused submission kept: more is no answer anyone typed."""


def well_formed(token: str) -> bool:
    """Whether `token` has the shape of a link token (checked before any query)."""
    return TOKEN.fullmatch(token) is not None


async def find_by_token(conn: asyncpg.Connection, token: str, *, lock: bool = False) -> Answering | None:
    """The invitation a link token belongs to, or None for any token that isn't one (malformed or unknown)."""
    if not well_formed(token):
        return None
    digest = link_token_hash(token)
    row = await conn.fetchrow(_OF_LINK, digest)
    if row is None or not hmac.compare_digest(bytes(row["link_token_hash"]), digest):
        return None
    return await load(conn, row["brand_id"], row["invitation_id"], lock=lock)


async def load(
    conn: asyncpg.Connection, brand_id: UUID, invitation_id: UUID, *, lock: bool = False
) -> Answering | None:
    """The invitation with its current answers; with `lock`, its row stays locked until the transaction ends."""
    row = await conn.fetchrow(_BY_ID_LOCKED if lock else _BY_ID, brand_id, invitation_id)
    if row is None:
        return None
    definition = await pinned_definition(conn, brand_id, row["questionnaire_key"], row["questionnaire_version"])
    answers = {
        r["question_id"]: msgspec.json.decode(r["value"])
        for r in await conn.fetch(_CURRENT, brand_id, invitation_id)
    }
    return Answering(
        brand_id=row["brand_id"],
        invitation_id=row["invitation_id"],
        customer_id=row["customer_id"],
        questionnaire_key=row["questionnaire_key"],
        questionnaire_version=row["questionnaire_version"],
        definition=definition,
        locale=pick_locale(definition, row["locale"]),
        occurred_at=row["occurred_at"],
        expires_at=row["expires_at"],
        response_state=row["response_state"],
        opened_at=row["opened_at"],
        completed_at=row["completed_at"],
        end_reason=row["end_reason"],
        answers=answers,
    )


async def mark_opened(
    conn: asyncpg.Connection, answering: Answering, now: datetime, channel: AnswerChannel
) -> None:
    """Record the first view (page, app fetch) of an invitation still open; later views change nothing."""
    if answering.opened_at is not None or answering.closed(now) is not None:
        return
    await conn.execute(_OPENED, answering.brand_id, answering.invitation_id, now, channel)
    answering.opened_at = now
    answering.response_state = answering.response_state or "opened"


async def expire(conn: asyncpg.Connection, answering: Answering) -> None:
    """Record that the invitation's time ran out before it was completed."""
    if answering.response_state not in ("completed", "expired"):
        await conn.execute(_EXPIRED, answering.brand_id, answering.invitation_id)
        answering.response_state = "expired"


async def expire_due(conn: asyncpg.Connection, now: datetime, limit: int = 1000) -> int:
    """Mark up to `limit` sent, unfinished invitations past their time as ``expired``; how many were."""
    status = await conn.execute(_EXPIRE_DUE, now, limit)
    return int(status.split()[-1])


async def record_refused(
    conn: asyncpg.Connection,
    answering: Answering,
    *,
    channel: Literal["web", "app"],
    raw: str,
    refusal: AnswersInvalid | InvitationClosed,
    now: datetime,
) -> None:
    """Keep a submission that was not taken (invalid, or after completion or expiry), after the transaction that
    refused it rolled back: nothing a customer sent is lost."""
    reason = "invalid" if isinstance(refusal, AnswersInvalid) else refusal.reason
    errors = refusal.errors if isinstance(refusal, AnswersInvalid) else []
    await conn.execute(
        _REFUSED,
        answering.brand_id,
        answering.invitation_id,
        answering.customer_id,
        channel,
        raw[:MAX_REFUSED_RAW],
        reason,
        _json.encode(errors).decode(),
        now,
    )


async def _locked_open(conn: asyncpg.Connection, answering: Answering, now: datetime) -> Answering:
    """The invitation re-read under its row lock, refused if it takes no more answers."""
    locked = await load(conn, answering.brand_id, answering.invitation_id, lock=True)
    assert locked is not None  # invitations are never deleted while their messages exist
    closed = locked.closed(now)
    if closed is not None:
        raise closed  # rolls the caller's transaction back: an expiry is recorded by `expire` or the sweep
    return locked


async def give(
    conn: asyncpg.Connection,
    answering: Answering,
    given: list[Given],
    *,
    channel: AnswerChannel,
    now: datetime,
    inbound_id: UUID | None = None,
    complete_when_done: bool = True,
    at: str = "/answers",
) -> Outcome:
    """Store `given` answers for the invitation (see the module's docstring). Call inside a transaction.

    Raises `AnswersInvalid` (nothing stored) or `InvitationClosed`; `at` prefixes the error pointers. After
    `InvitationExpired` the caller records the expiry with `expire`, once its transaction rolled back (the
    sweeper's `expire_due` would within a minute anyway).
    """
    inv = await _locked_open(conn, answering, now)
    values: dict[str, AnswerValue] = {}
    raw: dict[str, str] = {}
    for item in given:
        values[item.question_id] = item.value
        raw[item.question_id] = item.raw
    settled = settle(inv.definition, inv.answers, values, inv.locale, at)
    if settled.errors:
        raise AnswersInvalid(settled.errors)
    changed = [
        qid for qid in values if qid not in inv.answers or not _same(inv.answers[qid], settled.answers[qid])
    ]
    if changed or settled.dropped:
        await _store(conn, inv, settled.answers, changed, settled.dropped, raw, channel, inbound_id, now)
    inv.answers = settled.answers
    completed_now = False
    if changed or settled.dropped:
        step = inv.step
        done = isinstance(step, End) and complete_when_done
        await _progress(conn, inv, now, channel, step if done else None)
        completed_now = done
    return Outcome(answering=inv, changed=changed, completed_now=completed_now)


async def complete(
    conn: asyncpg.Connection, answering: Answering, *, channel: AnswerChannel, now: datetime
) -> bool:
    """Complete the invitation once every question the flow asks is answered (the app's explicit end).

    Idempotent: completing a completed invitation returns False and changes nothing. Raises `AnswersInvalid`
    naming the next unanswered question, or `InvitationExpired`.
    """
    try:
        inv = await _locked_open(conn, answering, now)
    except InvitationCompleted:
        return False
    step = inv.step
    if isinstance(step, Step):
        raise AnswersInvalid([FieldError(f"/answers/{step.question.id}", "not answered yet")])
    await _progress(conn, inv, now, channel, step)
    answering.response_state, answering.completed_at = "completed", now
    return True


def _same(a: AnswerValue, b: AnswerValue) -> bool:
    # As stored: True is not 1, and the parsers normalize (sorted codes, int where integer).
    return _json.encode(a) == _json.encode(b)


async def _store(
    conn: asyncpg.Connection,
    inv: Answering,
    answers: Mapping[str, AnswerValue],
    changed: list[str],
    dropped: list[str],
    raw: Mapping[str, str],
    channel: AnswerChannel,
    inbound_id: UUID | None,
    now: datetime,
) -> None:
    brand, invitation = inv.brand_id, inv.invitation_id
    if dropped:
        await conn.execute(_REPLACE, brand, invitation, dropped, now, "branch")
    replaced = [qid for qid in changed if qid in inv.answers]
    if replaced:
        await conn.execute(_REPLACE, brand, invitation, replaced, now, "changed")
    await conn.execute(
        _INSERT,
        brand,
        invitation,
        inv.customer_id,
        inv.questionnaire_key,
        inv.questionnaire_version,
        channel,
        inbound_id,
        now,
        changed,
        [_json.encode(answers[qid]).decode() for qid in changed],
        [raw[qid] for qid in changed],
    )


async def _progress(
    conn: asyncpg.Connection, inv: Answering, now: datetime, channel: AnswerChannel, end: End | None
) -> None:
    state: ResponseState = "completed" if end is not None else "partial"
    await conn.execute(
        _PROGRESSED,
        inv.brand_id,
        inv.invitation_id,
        now,
        state,
        now if end is not None else None,
        end.reason if end is not None else None,
        channel,
    )
    inv.response_state = state
    inv.opened_at = inv.opened_at or now
    if end is not None:
        inv.completed_at, inv.end_reason = now, end.reason
