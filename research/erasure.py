"""Erasing a customer: their personal data gone from every table, what remains unlinked from them or deleted as
the brand's policy says (``brands.erasure``), in one transaction, audited.

Whatever the policy:
- invitations not sent yet are cancelled through the state machine (``customer_erased``), so nothing goes out
  after the erasure; one being sent at this moment cannot be called back, so the erasure waits for it
  (`CustomerBeingContacted`, a 409 to try again in a moment) rather than race the send job writing its outcome;
- open conversations are closed (``erased``), link tokens unlinked (the survey and diary pages no longer open), a
  study participation withdrawn, and the events' idempotency keys forgotten (a brand's key may hold its own ids);
- the raw content of every row (`research.personal.RAW`) is blanked: the customer's phone, push tokens and
  attributes; event attributes; messages' texts and recipients; inbound texts, phones and provider payloads,
  including those no customer was found for from any of the customer's phones (`_PHONES`: the one they have and
  those lxt texted them at, or they texted from, before; storing an inbound text locks the customer it is
  attributed to, as this does with `_CUSTOMER`: one stored meanwhile comes first and is blanked, or comes after
  and finds no customer with the phone); free-text answers, every answer's raw input, refused submissions; study
  comments;
- the opt-outs (a STOP) of each of those phones are kept, by the phone's hash (migrations/0014): honouring a STOP
  is an obligation that outlives the customer, and a customer the brand creates later with the phone starts opted
  out. A phone another customer of the brand has stays as it is: it is their contact data too.

Then ``anonymise`` (the default) keeps the rows — coded answers, events, decisions, invitations, consent history —
for statistics, with every id the brand or a provider was given replaced (`erased_id` in migrations/0014: the
customer's, their events', invitations', messages', answers', refused submissions', inbound messages',
conversations', self-reports' and study participations', the same new id wherever a row names another), and the
numbers that name the rows of a timeline (status changes, consent changes, diary comments: an item's ``item_id``)
drawn anew from their sequences: the customer row becomes a tombstone
(``erased:<new id>`` padded with dots past the longest external id the API takes, `TOMBSTONE_LENGTH`, so that no
request — an event, ``PUT /v1/customers/…``, a study enrolment — can name it and attach new data to it; no contact
data, opted out), so no join leads from anything the brand holds back to the rows,
and the exports' pseudonym of the customer changes with their id, so new files cannot be linked to earlier ones.
The rows keep their times, which latency statistics need: a brand that kept its own record of when it reported a
contact could still find a row by its time, so a brand that must rule that out chooses ``delete``. ``delete``
removes all of the customer's rows.

Erasing is not repeated: afterwards the external id names nobody (a 404), and the audit log holds the record.
An event naming the external id later creates a new customer — erasure does not stop the brand's own systems.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Final, Literal, cast, get_args
from uuid import UUID

import asyncpg
import msgspec
from msgspec import Meta

from customers.model import ExternalId
from research import audit
from research.personal import RAW, with_ctes
from research.pseudonyms import brand_key
from triggers.model import Channel
from triggers.queries import cancel_only_on

ErasurePolicy = Literal["anonymise", "delete"]
TOMBSTONE_LENGTH: Final = cast(Meta, ExternalId.__metadata__[0]).max_length + 1  # type: ignore[attr-defined,operator]
"""The length of a tombstone's external id: one more than any request may give (`customers.model.ExternalId`)."""
EVERY_CHANNEL: Final = list(get_args(Channel))


class Erasure(msgspec.Struct, kw_only=True):
    """What one erasure did, without any of what it erased."""

    subject: str
    """The customer's pseudonym in the brand's exports until now (the audit log's subject)."""
    policy: ErasurePolicy
    erased_at: datetime
    cancelled: int
    """Invitations not sent yet, cancelled."""
    rows: dict[str, int]
    """Rows per table: blanked and unlinked (anonymise) or deleted (delete); `phone_opt_outs`: the phone's opt-outs
    kept by its hash."""
    audit_id: int


class CustomerBeingContacted(Exception):
    """A message to the customer is being sent right now: erase once the send is over (seconds)."""


_CUSTOMER = """
SELECT c.customer_id, c.phone, b.erasure
FROM customers c JOIN brands b ON b.brand_id = c.brand_id
WHERE c.brand_id = $1 AND c.external_id = $2
  AND length(c.external_id) <= $3  -- an anonymised customer's tombstone is nobody
FOR UPDATE OF c
"""
# Locked, so that an answer or a reply being stored for one of them comes before the erasure or finds nothing.
_BEING_SENT = """
SELECT count(*) FILTER (WHERE status = 'sending') FROM (
    SELECT status FROM invitations WHERE brand_id = $1 AND customer_id = $2 FOR UPDATE
) i
"""
_INVITATIONS = "SELECT invitation_id FROM invitations WHERE brand_id = $1 AND customer_id = $2"
_MESSAGES = f"SELECT message_id FROM messages WHERE brand_id = $1 AND invitation_id IN ({_INVITATIONS})"
_EVENTS = "SELECT event_id FROM events WHERE brand_id = $1 AND customer_id = $2"
_REPORTS = "SELECT report_id FROM self_reports WHERE brand_id = $1 AND customer_id = $2"
_PARTICIPATIONS = "SELECT participant_id FROM study_participants WHERE brand_id = $1 AND customer_id = $2"


# Every phone the customer has had, as far as lxt knows: the one they have ($3), the ones their messages were sent
# to (WhatsApp's with its prefix) and their conversations held with, and the ones their texts came from.
_PHONES = f"""
SELECT coalesce(array_agg(DISTINCT phone), '{{}}') FROM (
    SELECT $3::text AS phone
    UNION SELECT CASE WHEN recipient LIKE 'whatsapp:%' THEN substr(recipient, 10) ELSE recipient END
    FROM messages WHERE brand_id = $1 AND invitation_id IN ({_INVITATIONS}) AND channel IN ('sms', 'whatsapp')
    UNION SELECT recipient FROM conversations WHERE brand_id = $1 AND customer_id = $2
    UNION SELECT from_phone FROM inbound_messages WHERE brand_id = $1 AND customer_id = $2
) had
WHERE phone LIKE '+%'
"""


def _inbound(phones: str) -> str:
    """The customer's inbound messages, and those from one of their phones (the parameter `phones`, `_PHONES`) no
    customer was found for."""
    return f"brand_id = $1 AND (customer_id = $2 OR (customer_id IS NULL AND from_phone = ANY({phones})))"


def _new(*columns: str) -> str:
    return ", ".join(f"{c} = erased_id($3, {c})" for c in columns)


def _theirs(column: str) -> str:
    """`column` of an inbound message replaced if the message was the customer's, kept if no customer was found
    for it."""
    return f"{column} = CASE WHEN customer_id IS NULL THEN {column} ELSE erased_id($3, {column}) END"


def _blank(table: str) -> str:
    return RAW[table].blank


# Each statement: (table, SQL, what it takes after $1 brand and $2 customer, as $3, $4: the erasure's key, its
# time, the customer's phones).
# In this order: a statement finds its rows through rows not unlinked yet (receipts through messages through
# invitations), and the customer row goes last.
_ANONYMISE: Final = [
    (
        "message_receipts",
        f"UPDATE message_receipts SET {_new('message_id')}, provider_message_id = NULL "
        f"WHERE brand_id = $1 AND message_id IN ({_MESSAGES})",
        ("key",),
    ),
    (
        "messages",
        f"UPDATE messages SET {_blank('messages')}, {_new('message_id', 'invitation_id')}, link_token_hash = NULL, "
        f"provider_message_id = NULL WHERE brand_id = $1 AND invitation_id IN ({_INVITATIONS})",
        ("key",),
    ),
    (
        "invitation_transitions",
        f"UPDATE invitation_transitions SET {_new('invitation_id')}, seq = DEFAULT "
        f"WHERE brand_id = $1 AND invitation_id IN ({_INVITATIONS})",
        ("key",),
    ),
    (
        "answers",
        f"{with_ctes(RAW['answers'])} UPDATE answers SET {_blank('answers')}, "
        f"{_new('answer_id', 'invitation_id', 'customer_id', 'inbound_id')} "
        "WHERE brand_id = $1 AND customer_id = $2",
        ("key",),
    ),
    (
        "refused_answers",
        f"UPDATE refused_answers SET {_blank('refused_answers')}, "
        f"{_new('refusal_id', 'invitation_id', 'customer_id')} "
        "WHERE brand_id = $1 AND customer_id = $2",
        ("key",),
    ),
    (
        "conversations",
        f"UPDATE conversations SET {_blank('conversations')}, "
        f"{_new('conversation_id', 'invitation_id', 'customer_id')}, "
        "close_reason = coalesce(close_reason, 'erased'), closed_at = coalesce(closed_at, $4), "
        "last_activity_at = CASE WHEN closed_at IS NULL THEN $4 ELSE last_activity_at END "
        "WHERE brand_id = $1 AND customer_id = $2",
        ("key", "now"),
    ),
    (
        "inbound_messages",
        f"UPDATE inbound_messages SET {_blank('inbound_messages')}, {_new('customer_id', 'inbound_id')}, "
        # A message no customer was found for may name another's conversation or invitation: those keep their ids.
        f"{_theirs('invitation_id')}, {_theirs('conversation_id')}, "
        # The provider's id leads to the provider's own copy of the phone and text; it stays unique per provider (by the
        # message's new id).
        f"provider_message_id = 'erased:' || erased_id($3, inbound_id)::text WHERE {_inbound('$4')}",
        ("key", "phones"),
    ),
    (
        "self_report_comments",
        f"UPDATE self_report_comments SET {_blank('self_report_comments')}, {_new('report_id')}, seq = DEFAULT "
        f"WHERE brand_id = $1 AND report_id IN ({_REPORTS})",
        ("key",),
    ),
    (
        "self_reports",
        f"UPDATE self_reports SET {_blank('self_reports')}, {_new('report_id', 'customer_id', 'participant_id', 'event_id', 'inbound_id')} "
        "WHERE brand_id = $1 AND customer_id = $2",
        ("key",),
    ),
    ("diary_links", f"DELETE FROM diary_links WHERE brand_id = $1 AND participant_id IN ({_PARTICIPATIONS})", ()),
    (
        "study_participants",
        f"UPDATE study_participants SET {_new('customer_id', 'participant_id')}, "
        "withdrawn_at = coalesce(withdrawn_at, $4) WHERE brand_id = $1 AND customer_id = $2",
        ("key", "now"),
    ),
    ("idempotency_keys", f"DELETE FROM idempotency_keys WHERE brand_id = $1 AND event_id IN ({_EVENTS})", ()),
    (
        "events",
        f"UPDATE events SET {_blank('events')}, idempotency_key = '', "
        f"{_new('event_id', 'customer_id', 'invitation_id')} WHERE brand_id = $1 AND customer_id = $2",
        ("key",),
    ),
    (
        "invitations",
        f"UPDATE invitations SET {_new('invitation_id', 'event_id', 'customer_id')} "
        "WHERE brand_id = $1 AND customer_id = $2",
        ("key",),
    ),
    (
        "consent_changes",
        f"UPDATE consent_changes SET {_new('customer_id')}, change_id = DEFAULT WHERE brand_id = $1 AND customer_id = $2",
        ("key",),
    ),
]

_DELETE: Final = [
    ("message_receipts", f"DELETE FROM message_receipts WHERE brand_id = $1 AND message_id IN ({_MESSAGES})", ()),
    ("messages", f"DELETE FROM messages WHERE brand_id = $1 AND invitation_id IN ({_INVITATIONS})", ()),
    (
        "invitation_transitions",
        f"DELETE FROM invitation_transitions WHERE brand_id = $1 AND invitation_id IN ({_INVITATIONS})",
        (),
    ),
    ("answers", "DELETE FROM answers WHERE brand_id = $1 AND customer_id = $2", ()),
    ("refused_answers", "DELETE FROM refused_answers WHERE brand_id = $1 AND customer_id = $2", ()),
    ("conversations", "DELETE FROM conversations WHERE brand_id = $1 AND customer_id = $2", ()),
    ("inbound_messages", f"DELETE FROM inbound_messages WHERE {_inbound('$3')}", ("phones",)),
    (
        "self_report_comments",
        f"DELETE FROM self_report_comments WHERE brand_id = $1 AND report_id IN ({_REPORTS})",
        (),
    ),
    ("self_reports", "DELETE FROM self_reports WHERE brand_id = $1 AND customer_id = $2", ()),
    ("diary_links", f"DELETE FROM diary_links WHERE brand_id = $1 AND participant_id IN ({_PARTICIPATIONS})", ()),
    ("study_participants", "DELETE FROM study_participants WHERE brand_id = $1 AND customer_id = $2", ()),
    ("idempotency_keys", f"DELETE FROM idempotency_keys WHERE brand_id = $1 AND event_id IN ({_EVENTS})", ()),
    ("events", "DELETE FROM events WHERE brand_id = $1 AND customer_id = $2", ()),
    ("invitations", "DELETE FROM invitations WHERE brand_id = $1 AND customer_id = $2", ()),
    ("consent_changes", "DELETE FROM consent_changes WHERE brand_id = $1 AND customer_id = $2", ()),
]

# The phones' ($3) opt-outs move to their hash, but for a phone another customer of the brand has.
_KEEP_OPT_OUTS = """
WITH moved AS (
    DELETE FROM phone_opt_outs o
    WHERE brand_id = $1 AND phone = ANY($3)
      AND NOT EXISTS (SELECT FROM customers c WHERE c.brand_id = $1 AND c.phone = o.phone AND c.customer_id <> $2)
    RETURNING phone, channel, source, opted_out_at
), kept AS (
    INSERT INTO erased_phone_opt_outs (brand_id, phone_hash, channel, source, opted_out_at)
    SELECT $1, phone_opt_out_hash($1, phone), channel, source, opted_out_at FROM moved
    ON CONFLICT (brand_id, phone_hash, channel) DO NOTHING
)
SELECT count(*) FROM moved
"""
_TOMBSTONE = """
UPDATE customers
SET customer_id = erased_id($3, customer_id),
    external_id = rpad('erased:' || erased_id($3, customer_id)::text, $5, '.'),
    phone = NULL, push_tokens = '{}', attributes = '{}', consents = '{}', unsubscribed = '{}',
    phone_unreachable = NULL, opted_out_at = coalesce(opted_out_at, $4), updated_at = $4
WHERE brand_id = $1 AND customer_id = $2
"""
_DELETE_CUSTOMER = "DELETE FROM customers WHERE brand_id = $1 AND customer_id = $2"


async def erase_customer(
    conn: asyncpg.Connection, brand_id: UUID, external_id: str, *, actor: str, now: datetime
) -> Erasure | None:
    """Erase the brand's customer `external_id` as the brand's policy says, in the caller's transaction, and
    record it in the audit log as done by `actor`; None if the brand has no such customer (or it was erased)."""
    found = await conn.fetchrow(_CUSTOMER, brand_id, external_id, TOMBSTONE_LENGTH - 1)
    if found is None:
        return None
    customer_id, phone, policy = found["customer_id"], found["phone"], found["erasure"]
    cancelled = await cancel_only_on(conn, brand_id, [customer_id], EVERY_CHANNEL, "customer_erased", now)
    if await conn.fetchval(_BEING_SENT, brand_id, customer_id):
        raise CustomerBeingContacted()
    subject = (await brand_key(conn, brand_id)).pseudonym(customer_id)
    # Drawn for this erasure and never stored: the new ids cannot be traced back to the old.
    key = secrets.token_bytes(32)
    phones = await conn.fetchval(_PHONES, brand_id, customer_id, phone)
    values = {"key": key, "now": now, "phones": phones}
    rows: dict[str, int] = {}
    for table, statement, takes in _ANONYMISE if policy == "anonymise" else _DELETE:
        rows[table] = _count(await conn.execute(statement, brand_id, customer_id, *(values[n] for n in takes)))
    rows["phone_opt_outs"] = await conn.fetchval(_KEEP_OPT_OUTS, brand_id, customer_id, phones)
    if policy == "anonymise":
        rows["customers"] = _count(
            await conn.execute(_TOMBSTONE, brand_id, customer_id, key, now, TOMBSTONE_LENGTH)
        )
    else:
        rows["customers"] = _count(await conn.execute(_DELETE_CUSTOMER, brand_id, customer_id))
    entry = await audit.record(
        conn,
        brand_id,
        actor=actor,
        action="customer_erased",
        subject=subject,
        details={"policy": policy, "cancelled": cancelled, "rows": rows},
    )
    return Erasure(
        subject=subject, policy=policy, erased_at=now, cancelled=cancelled, rows=rows, audit_id=entry.audit_id
    )


def _count(status: str) -> int:
    """The row count of a command's status ("UPDATE 3", "DELETE 0")."""
    return int(status.rsplit(" ", 1)[-1])
