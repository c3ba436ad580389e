"""All SQL of ingestion and scheduling. Set-based: one statement per step for a whole group of events.

Every statement filters by ``brand_id`` (pairs of brand and key travel together through ``unnest``), so a group
may mix brands without any row of one reaching another.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from triggers.customers import ConsentChange, Customer
from triggers.frequency import ContactRecord
from triggers.invitations import COUNTS_FOR_FREQUENCY
from triggers.model import Trigger, TriggerIn

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
    frequency slot. Customers that do not exist yet are created by `insert_customers`; if a concurrent
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


async def insert_customers(conn: asyncpg.Connection, new: list[tuple[UUID, Customer]], now: datetime) -> None:
    if not new:
        return
    await conn.copy_records_to_table(
        "customers",
        columns=[
            "brand_id", "customer_id", "external_id", "phone", "locale", "time_zone", "push_tokens", "consents",
            "opted_out_at", "attributes", "created_at", "updated_at",
        ],
        records=[
            (b, c.customer_id, c.external_id, c.phone, c.locale, c.time_zone, c.push_tokens, c.consents,
             c.opted_out_at, c.attributes, now, now)
            for b, c in new
        ],
    )  # fmt: skip


async def update_customers(conn: asyncpg.Connection, changed: list[tuple[UUID, Customer]], now: datetime) -> None:
    if not changed:
        return
    await conn.execute(
        """
        UPDATE customers c
        SET phone = u.phone, locale = u.locale, time_zone = u.time_zone,
            push_tokens = ARRAY(SELECT jsonb_array_elements_text(u.push_tokens::jsonb)),
            consents = u.consents::jsonb, opted_out_at = u.opted_out_at, attributes = u.attributes::jsonb,
            updated_at = $10
        FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                    $8::timestamptz[], $9::text[])
             AS u (brand_id, customer_id, phone, locale, time_zone, push_tokens, consents, opted_out_at, attributes)
        WHERE c.brand_id = u.brand_id AND c.customer_id = u.customer_id
        """,
        [b for b, _ in changed],
        [c.customer_id for _, c in changed],
        [c.phone for _, c in changed],
        [c.locale for _, c in changed],
        [c.time_zone for _, c in changed],
        [json(c.push_tokens) for _, c in changed],
        [json(c.consents) for _, c in changed],
        [c.opted_out_at for _, c in changed],
        [json(c.attributes) for _, c in changed],
        now,
    )


async def record_consent_changes(
    conn: asyncpg.Connection, changes: list[tuple[UUID, str, ConsentChange]], source: str, at: datetime
) -> None:
    if not changes:
        return
    await conn.copy_records_to_table(
        "consent_changes",
        columns=["brand_id", "customer_id", "channel", "granted", "source", "changed_at"],
        records=[(b, c, ch.channel, ch.granted, source, at) for b, c, ch in changes],
    )


class Setup(msgspec.Struct, frozen=True):
    """What a group's decisions need to know about its touchpoints (see `touchpoint_setup`)."""

    known: set[tuple[UUID, str]]
    """(brand, touchpoint key) pairs that are registered."""
    triggers: dict[UUID, list[Trigger]]
    """Per brand, the active triggers of the group's known touchpoints."""
    versions: dict[tuple[UUID, str], int]
    """(brand, questionnaire key) -> latest published version, for those triggers' unarchived questionnaires."""


async def touchpoint_setup(conn: asyncpg.Connection, keys: list[tuple[UUID, str]]) -> Setup:
    """Which touchpoints are registered (auto-creating them for brands that ask for it), their active triggers
    and the current versions of those triggers' questionnaires: one round trip for the whole group.

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
        SELECT k.brand_id, k.key, tr.trigger_id::text, tr.definition, q.key AS questionnaire, q.latest_version
        FROM known k
        LEFT JOIN triggers tr ON tr.brand_id = k.brand_id AND tr.touchpoint_key = k.key AND tr.active
        LEFT JOIN questionnaires q
               ON q.brand_id = tr.brand_id AND q.key = tr.questionnaire_key AND q.archived_at IS NULL
        """,
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    setup = Setup(known=set(), triggers={}, versions={})
    for r in rows:
        setup.known.add((r["brand_id"], r["key"]))
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


EVENT_COLUMNS = [
    "brand_id", "event_id", "idempotency_key", "payload_hash", "touchpoint_key", "touchpoint_known", "customer_id",
    "occurred_at", "received_at", "attributes", "outcome", "reason", "trigger_id", "invitation_id", "planned_at",
    "evaluations",
]  # fmt: skip

INVITATION_COLUMNS = [
    "brand_id", "invitation_id", "event_id", "customer_id", "trigger_id", "questionnaire_key",
    "questionnaire_version", "status", "occurred_at", "planned_at", "send_by", "expires_at", "channels",
    "created_at", "updated_at",
]  # fmt: skip


async def insert_events(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Events with their decisions (`EVENT_COLUMNS`), by COPY: a concurrent duplicate committed first makes this
    fail with a unique violation, and the transaction is retried (and then answers with the stored event)."""
    await conn.copy_records_to_table("events", columns=EVENT_COLUMNS, records=rows)


async def insert_invitations(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
    if rows:
        await conn.copy_records_to_table("invitations", columns=INVITATION_COLUMNS, records=rows)


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
