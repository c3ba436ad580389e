"""All SQL of ingestion and scheduling. Set-based: one statement per step for a whole group of events.

Every statement filters by ``brand_id`` (pairs of brand and key travel together through ``unnest``), so a group
may mix brands without any row of one reaching another.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
import msgspec

from customers.queries import Guard
from customers.rows import CUSTOMER_PARTS
from plumbing import rows as plumbing_rows
from triggers.frequency import ContactRecord
from triggers.invitations import COUNTS_FOR_FREQUENCY, STATUSES, InvitationStatus, allowed_from
from triggers.model import FrequencyRules, Trigger, TriggerIn
from triggers.rows import EventRow, IdempotencyKeyRow, InvitationRow, Writes


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
        SELECT k.brand_id, k.idempotency_key, e.event_id::text, k.payload_hash, e.touchpoint_known,
               e.outcome, e.reason, e.invitation_id::text, e.planned_at
        FROM unnest($1::uuid[], $2::text[]) AS w (brand_id, idempotency_key)
        JOIN idempotency_keys k ON k.brand_id = w.brand_id AND k.idempotency_key = w.idempotency_key
        JOIN events e ON e.brand_id = k.brand_id AND e.event_id = k.event_id
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


# Deactivating a trigger and ingesting events of its brand exclude each other (see `trigger_guard` and
# `triggers.catalog.put_trigger`): a transaction-level advisory lock per brand, shared by ingestion, exclusive
# for a deactivation. Advisory locks live in the lock manager only, so sharing one costs no row write.
TRIGGER_GUARD = "hashtextextended('lxt.triggers:' || {}::text, 0)"


def trigger_guard(brands: list[UUID]) -> Guard:
    """For `customers.queries.lock_customers`: take the brands' trigger guard (shared) before the customers are
    locked. A deactivation of one of their triggers that is committing is waited for, and one that starts later
    waits for this transaction; the triggers must then be read by a later statement, whose snapshot includes
    what the guard waited for."""
    return Guard(
        f"(SELECT count(pg_advisory_xact_lock_shared({TRIGGER_GUARD.format('b')})) FROM unnest($3::uuid[]) AS b) >= 0",
        sorted(set(brands)),
    )


async def guard_triggers_exclusively(conn: asyncpg.Connection, brand_id: UUID) -> None:
    """Wait until no ingestion of the brand is in flight, and keep new ones waiting until commit."""
    await conn.execute(f"SELECT pg_advisory_xact_lock({TRIGGER_GUARD.format('$1::uuid')})", brand_id)


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


# One statement writes a whole group: under load every round trip waits for a turn of the busy event loop, so
# a group's writes cost one wait instead of one per table. Each part writes whatever its arrays hold (maybe
# nothing). A customer or idempotency key that a concurrent transaction committed first makes it fail with a
# unique violation; the caller retries the transaction, which then finds the other's rows.
WRITE_PARTS = (
    *CUSTOMER_PARTS,
    plumbing_rows.Part("invitations", InvitationRow),
    plumbing_rows.Part("idempotency_keys", IdempotencyKeyRow),
    plumbing_rows.Part("events", EventRow),
)
_WRITE = plumbing_rows.write_statement(WRITE_PARTS)


async def write(conn: asyncpg.Connection, writes: Writes, now: datetime) -> None:
    """Write a group's `writes` in one statement (consent changes recorded as coming from an event)."""
    await conn.execute(_WRITE, now, "event", *plumbing_rows.arguments(WRITE_PARTS, writes))


# -- invitation status changes ---------------------------------------------------------------------------------
# Every change of an invitation's status is an UPDATE of `invitations.status` whose source statuses come from the
# state machine (triggers/invitations.py), written into the SQL as constants so that the partial indexes apply;
# the database trigger from migrations/0005 refuses a change the machine does not allow and records every
# allowed one in invitation_transitions. No code writes that table itself.


def sources_sql(target: InvitationStatus) -> str:
    """The statuses an invitation may move to `target` from, as a SQL list for ``status IN (…)``."""
    return ", ".join(f"'{s}'" for s in sorted(allowed_from(target)))


def _move(target: InvitationStatus, where: str, also: str = "") -> str:
    sources = sources_sql(target)
    return f"""
        WITH moved AS (
            UPDATE invitations SET status = '{target}', status_reason = $1, updated_at = $2{also}
            WHERE status IN ({sources}) AND {where}
            RETURNING 1
        )
        SELECT count(*) FROM moved
    """


_MOVE_ONE = {
    target: _move(
        target,
        "brand_id = $3 AND invitation_id = $4 AND ($6::int IS NULL OR attempts = $6)",
        ", channel = coalesce($5, channel)",
    )
    for target in sorted(STATUSES)
    if allowed_from(target)
}
_CANCEL_SCHEDULED = _move("cancelled", "brand_id = $3 AND trigger_id = $4")
_CANCEL_ONLY_ON = _move("cancelled", "brand_id = $3 AND customer_id = ANY($4::uuid[]) AND channels <@ $5::text[]")
_RESCHEDULE = _move(
    "scheduled",
    "brand_id = $3 AND invitation_id = $4 AND ($7::int IS NULL OR attempts = $7)",
    ", planned_at = $5, attempts = attempts - (NOT $6::boolean)::int",
)


async def move_invitation(
    conn: asyncpg.Connection,
    brand_id: UUID,
    invitation_id: str,
    target: InvitationStatus,
    reason: str | None,
    now: datetime,
    channel: str | None = None,
    *,
    attempts: int | None = None,
) -> bool:
    """Move one invitation to `target` if the machine allows it from its current status (and, given `attempts`,
    only while it is still that claim); True if it moved."""
    return bool(await conn.fetchval(_MOVE_ONE[target], reason, now, brand_id, invitation_id, channel, attempts))


async def reschedule_invitation(
    conn: asyncpg.Connection,
    brand_id: UUID,
    invitation_id: str,
    planned_at: datetime,
    reason: str,
    now: datetime,
    *,
    counts_as_attempt: bool,
    attempts: int | None = None,
) -> bool:
    """Put a claimed invitation back (sending → scheduled) for `planned_at`: a retry (`counts_as_attempt`) or a
    deferral that gives its claim back (no rate budget, outside the customer's window); given `attempts`, only
    while it is still that claim. True if it moved."""
    return bool(
        await conn.fetchval(
            _RESCHEDULE, reason, now, brand_id, invitation_id, planned_at, counts_as_attempt, attempts
        )
    )


async def cancel_scheduled(
    conn: asyncpg.Connection, brand_id: UUID, trigger_id: str, reason: str, now: datetime
) -> int:
    """Cancel the trigger's invitations that have not been claimed for sending yet; return how many."""
    return int(await conn.fetchval(_CANCEL_SCHEDULED, reason, now, brand_id, trigger_id))


async def cancel_only_on(
    conn: asyncpg.Connection,
    brand_id: UUID,
    customer_ids: list[UUID],
    channels: list[str],
    reason: str,
    now: datetime,
) -> int:
    """Cancel the customers' invitations not claimed for sending yet whose every channel is among `channels` (the
    ones an opt-out closed); return how many. One that may still go another way is left to the send job's
    re-check, which picks a channel the customer can still be reached on."""
    return int(await conn.fetchval(_CANCEL_ONLY_ON, reason, now, brand_id, customer_ids, channels))


async def prune_idempotency_keys(conn: asyncpg.Connection, before: datetime, limit: int) -> int:
    """Forget up to `limit` idempotency keys stored before `before` (all brands: the sweeper's); return how many.
    Keys another sweeper is deleting at the same moment are skipped, not waited for."""
    return int(
        await conn.fetchval(
            """
            WITH old AS (
                DELETE FROM idempotency_keys k
                USING (
                    SELECT brand_id, idempotency_key FROM idempotency_keys WHERE created_at < $1
                    LIMIT $2 FOR UPDATE SKIP LOCKED
                ) o
                WHERE k.brand_id = o.brand_id AND k.idempotency_key = o.idempotency_key
                RETURNING 1
            )
            SELECT count(*) FROM old
            """,
            before,
            limit,
        )
    )
