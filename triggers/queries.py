"""All SQL of ingestion and scheduling. Set-based: one statement per step for a whole group of events.

Every statement filters by ``brand_id`` (pairs of brand and key travel together through ``unnest``), so a group
may mix brands without any row of one reaching another.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from triggers.customers import ConsentChange, Customer
from triggers.frequency import ContactRecord
from triggers.invitations import COUNTS_FOR_FREQUENCY
from triggers.model import FrequencyRules, Trigger, TriggerIn

CUSTOMER_COLUMNS = (
    "customer_id::text, external_id, phone, locale, time_zone, push_tokens, consents, opted_out_at, attributes"
)


class Existing(msgspec.Struct, frozen=True):
    """An event already stored under an idempotency key, with its decision."""

    event_id: str
    payload_hash: bytes
    touchpoint_known: bool
    outcome: str
    reason: str | None
    invitation_id: str | None
    planned_at: datetime | None


async def existing_events(
    conn: asyncpg.Connection, keys: list[tuple[UUID, str]]
) -> dict[tuple[UUID, str], Existing]:
    rows = await conn.fetch(
        """
        SELECT e.brand_id, e.idempotency_key, e.event_id::text, e.payload_hash, e.touchpoint_known,
               e.outcome, e.reason, e.invitation_id::text, e.planned_at
        FROM unnest($1::uuid[], $2::text[]) AS k (brand_id, idempotency_key)
        JOIN events e ON e.brand_id = k.brand_id AND e.idempotency_key = k.idempotency_key
        """,
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    return {
        (r["brand_id"], r["idempotency_key"]): Existing(
            event_id=r["event_id"],
            payload_hash=bytes(r["payload_hash"]),
            touchpoint_known=r["touchpoint_known"],
            outcome=r["outcome"],
            reason=r["reason"],
            invitation_id=r["invitation_id"],
            planned_at=r["planned_at"],
        )
        for r in rows
    }


def customer_from_row(row: asyncpg.Record) -> Customer:
    return Customer(
        customer_id=row["customer_id"],
        external_id=row["external_id"],
        phone=row["phone"],
        locale=row["locale"],
        time_zone=row["time_zone"],
        push_tokens=list(row["push_tokens"]),
        consents=row["consents"],
        opted_out_at=row["opted_out_at"],
        attributes=row["attributes"],
    )


async def lock_customers(
    conn: asyncpg.Connection, refs: list[tuple[UUID, str]]
) -> dict[tuple[UUID, str], Customer]:
    """The existing customers among `refs`, locked until commit, in a fixed order (no deadlocks).

    The lock serialises every decision about one customer, so two concurrent events cannot both take the last
    frequency slot. Customers that do not exist yet are created by `write`; if a concurrent
    transaction creates one first, that insert fails and the whole transaction is retried (and then finds it).
    """
    refs = sorted(set(refs))
    rows = await conn.fetch(
        f"""
        SELECT c.brand_id, {CUSTOMER_COLUMNS}
        FROM unnest($1::uuid[], $2::text[]) AS r (wanted_brand, wanted_external_id)
        JOIN customers c ON c.brand_id = r.wanted_brand AND c.external_id = r.wanted_external_id
        ORDER BY c.brand_id, c.external_id
        FOR UPDATE OF c
        """,
        [r[0] for r in refs],
        [r[1] for r in refs],
    )
    return {(r["brand_id"], r["external_id"]): customer_from_row(r) for r in rows}


class Setup(msgspec.Struct, frozen=True):
    """What a group's decisions need to know about its touchpoints (see `touchpoint_setup`)."""

    known: set[tuple[UUID, str]]
    """(brand, touchpoint key) pairs that are registered."""
    triggers: dict[UUID, list[Trigger]]
    """Per brand, the active triggers of the group's known touchpoints."""
    versions: dict[tuple[UUID, str], int]
    """(brand, questionnaire key) -> latest published version, for those triggers' unarchived questionnaires."""
    brand_rules: dict[UUID, FrequencyRules]
    """The contact rules over all of a brand's triggers, for brands that set them."""


async def touchpoint_setup(conn: asyncpg.Connection, keys: list[tuple[UUID, str]]) -> Setup:
    """Which touchpoints are registered (auto-creating them for brands that ask for it), their active triggers
    the current versions of those triggers' questionnaires, and the brands' own contact rules: one round trip
    for the whole group.

    A trigger of an unregistered touchpoint is never looked at (the event is ``unknown_touchpoint``), so the
    triggers are joined to the known touchpoints only.
    """
    keys = sorted(set(keys))
    rows = await conn.fetch(
        """
        WITH wanted AS (SELECT * FROM unnest($1::uuid[], $2::text[]) AS w (brand_id, key)),
        created AS (
            INSERT INTO touchpoints (brand_id, key, name, category, auto_created)
            SELECT w.brand_id, w.key, w.key, 'owned', true
            FROM wanted w JOIN brands b ON b.brand_id = w.brand_id AND b.auto_create_touchpoints
            ON CONFLICT (brand_id, key) DO NOTHING
            RETURNING brand_id, key
        ),
        known AS (
            SELECT t.brand_id, t.key FROM touchpoints t JOIN wanted w ON w.brand_id = t.brand_id AND w.key = t.key
            UNION SELECT brand_id, key FROM created
        )
        SELECT k.brand_id, k.key, tr.trigger_id::text, tr.definition, q.key AS questionnaire, q.latest_version,
               b.survey_gap, b.daily_survey_cap
        FROM known k
        JOIN brands b ON b.brand_id = k.brand_id
        LEFT JOIN triggers tr ON tr.brand_id = k.brand_id AND tr.touchpoint_key = k.key AND tr.active
        LEFT JOIN questionnaires q
               ON q.brand_id = tr.brand_id AND q.key = tr.questionnaire_key AND q.archived_at IS NULL
        """,
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    setup = Setup(known=set(), triggers={}, versions={}, brand_rules={})
    for r in rows:
        setup.known.add((r["brand_id"], r["key"]))
        if r["survey_gap"] is not None or r["daily_survey_cap"] is not None:
            setup.brand_rules[r["brand_id"]] = FrequencyRules(
                brand_gap=r["survey_gap"] or timedelta(0),
                trigger_gap=timedelta(0),
                daily_cap=r["daily_survey_cap"],
            )
        if r["trigger_id"] is not None:
            spec = msgspec.convert(r["definition"], TriggerIn)
            trigger = Trigger(id=r["trigger_id"], **msgspec.structs.asdict(spec))
            setup.triggers.setdefault(r["brand_id"], []).append(trigger)
        if r["latest_version"] is not None:
            setup.versions[(r["brand_id"], r["questionnaire"])] = r["latest_version"]
    return setup


async def contact_history(
    conn: asyncpg.Connection, customers: list[tuple[UUID, str]], since: datetime
) -> dict[tuple[UUID, str], list[ContactRecord]]:
    """The customers' invitations planned from `since` on (future ones included) that count for frequency."""
    rows = await conn.fetch(
        """
        SELECT i.brand_id, i.customer_id::text, i.trigger_id::text, i.planned_at, i.status
        FROM unnest($1::uuid[], $2::uuid[]) AS c (brand_id, customer_id)
        JOIN invitations i ON i.brand_id = c.brand_id AND i.customer_id = c.customer_id
        WHERE i.planned_at >= $3 AND i.status = ANY($4::text[])
        """,
        [c[0] for c in customers],
        [c[1] for c in customers],
        since,
        sorted(COUNTS_FOR_FREQUENCY),
    )
    history: dict[tuple[UUID, str], list[ContactRecord]] = {}
    for r in rows:
        history.setdefault((r["brand_id"], r["customer_id"]), []).append(
            ContactRecord(trigger_id=r["trigger_id"], planned_at=r["planned_at"], status=r["status"])
        )
    return history


class Writes(msgspec.Struct, kw_only=True):
    """Everything one ingestion group (or one customer update) writes; see `write`."""

    new_customers: list[tuple[UUID, Customer]] = msgspec.field(default_factory=list)
    changed_customers: list[tuple[UUID, Customer]] = msgspec.field(default_factory=list)
    consent_changes: list[tuple[UUID, str, ConsentChange]] = msgspec.field(default_factory=list)
    invitations: list[tuple[Any, ...]] = msgspec.field(default_factory=list)
    """Rows of `INVITATION_COLUMNS` (status ``scheduled``)."""
    events: list[tuple[Any, ...]] = msgspec.field(default_factory=list)
    """Rows of `EVENT_COLUMNS`: the events with their decisions."""


INVITATION_COLUMNS = (
    "brand_id", "invitation_id", "event_id", "customer_id", "trigger_id", "questionnaire_key",
    "questionnaire_version", "occurred_at", "planned_at", "send_by", "expires_at", "channels",
)  # fmt: skip
EVENT_COLUMNS = (
    "brand_id", "event_id", "idempotency_key", "payload_hash", "touchpoint_key", "touchpoint_known", "customer_id",
    "occurred_at", "attributes", "outcome", "reason", "trigger_id", "invitation_id", "planned_at", "evaluations",
)  # fmt: skip

# One statement writes a whole group: under load every round trip waits for a turn of the busy event loop, so
# a group's writes cost one wait instead of one per table. Each part writes whatever its arrays hold (maybe
# nothing). A customer or idempotency key that a concurrent transaction committed first makes it fail with a
# unique violation; the caller retries the transaction, which then finds the other's rows.
_WRITE = """
WITH new_customers AS (
    INSERT INTO customers (brand_id, customer_id, external_id, phone, locale, time_zone, push_tokens, consents,
                           opted_out_at, attributes, created_at, updated_at)
    SELECT brand_id, customer_id, external_id, phone, locale, time_zone,
           ARRAY(SELECT jsonb_array_elements_text(push_tokens::jsonb)), consents::jsonb, opted_out_at,
           attributes::jsonb, $1, $1
    FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                $11::timestamptz[], $12::text[])
         AS c (brand_id, customer_id, external_id, phone, locale, time_zone, push_tokens, consents, opted_out_at,
               attributes)
), changed_customers AS (
    UPDATE customers c
    SET phone = u.phone, locale = u.locale, time_zone = u.time_zone,
        push_tokens = ARRAY(SELECT jsonb_array_elements_text(u.push_tokens::jsonb)), consents = u.consents::jsonb,
        opted_out_at = u.opted_out_at, attributes = u.attributes::jsonb, updated_at = $1
    FROM unnest($13::uuid[], $14::uuid[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[],
                $20::timestamptz[], $21::text[])
         AS u (brand_id, customer_id, phone, locale, time_zone, push_tokens, consents, opted_out_at, attributes)
    WHERE c.brand_id = u.brand_id AND c.customer_id = u.customer_id
), new_consent_changes AS (
    INSERT INTO consent_changes (brand_id, customer_id, channel, granted, source, changed_at)
    SELECT brand_id, customer_id, channel, granted, $2, $1
    FROM unnest($22::uuid[], $23::uuid[], $24::text[], $25::boolean[]) AS c (brand_id, customer_id, channel, granted)
), new_invitations AS (
    INSERT INTO invitations (brand_id, invitation_id, event_id, customer_id, trigger_id, questionnaire_key,
                             questionnaire_version, status, occurred_at, planned_at, send_by, expires_at, channels,
                             created_at, updated_at)
    SELECT brand_id, invitation_id, event_id, customer_id, trigger_id, questionnaire_key, questionnaire_version,
           'scheduled', occurred_at, planned_at, send_by, expires_at,
           ARRAY(SELECT jsonb_array_elements_text(channels::jsonb)), $1, $1
    FROM unnest($26::uuid[], $27::uuid[], $28::uuid[], $29::uuid[], $30::uuid[], $31::text[], $32::integer[],
                $33::timestamptz[], $34::timestamptz[], $35::timestamptz[], $36::timestamptz[], $37::text[])
         AS i (brand_id, invitation_id, event_id, customer_id, trigger_id, questionnaire_key, questionnaire_version,
               occurred_at, planned_at, send_by, expires_at, channels)
)
INSERT INTO events (brand_id, event_id, idempotency_key, payload_hash, touchpoint_key, touchpoint_known, customer_id,
                    occurred_at, received_at, attributes, outcome, reason, trigger_id, invitation_id, planned_at,
                    evaluations)
SELECT brand_id, event_id, idempotency_key, payload_hash, touchpoint_key, touchpoint_known, customer_id, occurred_at,
       $1, attributes::jsonb, outcome, reason, trigger_id, invitation_id, planned_at, evaluations::jsonb
FROM unnest($38::uuid[], $39::uuid[], $40::text[], $41::bytea[], $42::text[], $43::boolean[], $44::uuid[],
            $45::timestamptz[], $46::text[], $47::text[], $48::text[], $49::uuid[], $50::uuid[], $51::timestamptz[],
            $52::text[])
     AS e (brand_id, event_id, idempotency_key, payload_hash, touchpoint_key, touchpoint_known, customer_id,
           occurred_at, attributes, outcome, reason, trigger_id, invitation_id, planned_at, evaluations)
"""


def _customer_columns(customers: list[tuple[UUID, Customer]], *, external_id: bool) -> list[list[Any]]:
    rows = [
        (b, c.customer_id, *((c.external_id,) if external_id else ()), c.phone, c.locale, c.time_zone,
         json(c.push_tokens), json(c.consents), c.opted_out_at, json(c.attributes))
        for b, c in customers
    ]  # fmt: skip
    return _columns(rows, 10 if external_id else 9)


async def write(conn: asyncpg.Connection, writes: Writes, now: datetime, consent_source: str) -> None:
    """Write `writes` in one statement; consent changes are recorded with `consent_source` (``event``, ``api``)."""
    consents = [(b, c, ch.channel, ch.granted) for b, c, ch in writes.consent_changes]
    await conn.execute(
        _WRITE,
        now,
        consent_source,
        *_customer_columns(writes.new_customers, external_id=True),
        *_customer_columns(writes.changed_customers, external_id=False),
        *_columns(consents, 4),
        *_columns(writes.invitations, len(INVITATION_COLUMNS)),
        *_columns(writes.events, len(EVENT_COLUMNS)),
    )


_encode_json = msgspec.json.Encoder().encode


def json(value: object) -> str:
    """JSON text for a ``jsonb`` column passed through ``unnest($n::text[])``.

    asyncpg would read a list inside a ``jsonb[]`` parameter as another array dimension, so JSON values travel
    as text and are cast in SQL.
    """
    return _encode_json(value).decode()


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    if not rows:
        return [[] for _ in range(width)]
    return [list(column) for column in zip(*rows, strict=True)]
