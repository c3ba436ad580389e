"""The scheduling transaction: events in, one decision each, invitations scheduled — for a whole group at once.

`ingest` runs inside the caller's transaction and never commits: the caller commits, and only then enqueues
the returned `InvitationJob`s (a job must never see rows that may still roll back). The group may mix brands
and requests. Reads are one set-based statement per step and all writes one statement, which is what lets many
concurrent requests share one commit cheaply (see ``server/ingest.py``).

Concurrency is optimistic where it is rare and locked where it matters: existing customers are locked
(``FOR UPDATE``) before anything is decided about them; a customer or an idempotency key that a concurrent
transaction creates first makes this one fail with a unique violation, and the caller retries it — the retry
then sees the other's rows, so frequency rules and idempotency hold without locking what does not exist yet.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import msgspec

from triggers import queries
from triggers.customers import ConsentChange, Customer, merge
from triggers.decide import decide
from triggers.events import EventResult, ValidEvent
from triggers.frequency import ContactRecord, history_lookback
from triggers.model import EventFacts


class Pending(msgspec.Struct, frozen=True):
    """One validated event of one brand, waiting to be ingested."""

    brand_id: UUID
    item: ValidEvent


class InvitationJob(msgspec.Struct, frozen=True):
    """A send job to enqueue after commit (the job id derives from the invitation id)."""

    brand_id: UUID
    invitation_id: str
    planned_at: datetime


def new_ids(count: int) -> list[str]:
    """Time-ordered UUIDs (version 7, RFC 9562): 48 bits of Unix milliseconds, then 74 random bits.

    New rows of a table then land at the right edge of its primary-key index instead of at random pages, which
    keeps bulk inserts cheap and the index compact. One read of the OS's random source serves the whole group.
    """
    millis = time.time_ns() // 1_000_000
    raw = os.urandom(10 * count)
    ids = []
    for i in range(count):
        rand = int.from_bytes(raw[10 * i : 10 * i + 10])
        # 12 random bits after the version nibble, 62 after the variant bits.
        value = (
            (millis << 80) | (0x7 << 76) | ((rand >> 62) & 0xFFF) << 64 | (0b10 << 62) | (rand & ((1 << 62) - 1))
        )
        hex_ = f"{value:032x}"
        ids.append(f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}")
    return ids


async def ingest(
    conn: asyncpg.Connection, pending: list[Pending], now: datetime | None = None, *, look_up_keys: bool = True
) -> tuple[list[EventResult], list[InvitationJob]]:
    """Store each new event with its decision (and invitation); answer duplicates with the original result.

    A result's status is ``conflict`` when its idempotency key already belongs to a different event: the result
    then describes that stored event, and nothing was written for this one.

    With ``look_up_keys=False`` the keys are assumed new (the usual case): a stored one makes the write fail
    with a unique violation, and the caller retries with the look-up.
    """
    now = now or datetime.now(UTC)
    results: list[EventResult | None] = [None] * len(pending)
    keys = [(p.brand_id, p.item.event.idempotency_key) for p in pending]
    existing = await queries.existing_events(conn, keys) if look_up_keys else {}

    # Which events are new: the first of each idempotency key not stored yet. Repeats within the group are
    # answered from the first once it is decided.
    first: dict[tuple[UUID, str], int] = {}
    fresh: list[int] = []
    for index, (key, p) in enumerate(zip(keys, pending, strict=True)):
        stored = existing.get(key)
        if stored is not None:
            results[index] = _replay(p, stored)
        elif key not in first:
            first[key] = index
            fresh.append(index)
    if not fresh:
        return _resolve_repeats(results, keys, pending, first), []

    setup = await queries.touchpoint_setup(
        conn, [(pending[i].brand_id, pending[i].item.event.touchpoint) for i in fresh]
    )
    refs = [(pending[i].brand_id, pending[i].item.event.customer.external_id) for i in fresh]
    stored_customers = await queries.lock_customers(conn, refs)
    triggers, versions = setup.triggers, setup.versions
    available: dict[UUID, set[str]] = {}
    for brand, key in versions:
        available.setdefault(brand, set()).add(key)
    all_triggers = [t for ts in triggers.values() for t in ts]
    history: dict[tuple[UUID, str], list[ContactRecord]] = {}
    if all_triggers and stored_customers:
        # A statement of its own, after the lock: its snapshot then includes what the lock waited for.
        since = now - history_lookback([*(t.frequency for t in all_triggers), *setup.brand_rules.values()])
        history = await queries.contact_history(
            conn, [(b, c.customer_id) for (b, _), c in stored_customers.items()], since
        )

    ids = iter(new_ids(3 * len(fresh)))
    customers: dict[tuple[UUID, str], Customer] = dict(stored_customers)
    consent_changes: list[tuple[UUID, str, ConsentChange]] = []
    event_rows: list[tuple[object, ...]] = []
    invitation_rows: list[tuple[object, ...]] = []
    jobs: list[InvitationJob] = []
    # Decide in the order the contacts happened, so that frequency rules favour the earlier contact.
    fresh.sort(key=lambda i: pending[i].item.occurred_at)
    for index in fresh:
        p = pending[index]
        event = p.item.event
        ref = (p.brand_id, event.customer.external_id)
        before = customers.get(ref) or Customer(customer_id=next(ids), external_id=ref[1])
        customer, changes = merge(before, event.customer, now, opt_in=False)
        customers[ref] = customer
        consent_changes += [(p.brand_id, customer.customer_id, c) for c in changes]

        touchpoint_known = (p.brand_id, event.touchpoint) in setup.known
        facts = EventFacts(
            idempotency_key=event.idempotency_key,
            touchpoint=event.touchpoint,
            occurred_at=p.item.occurred_at,
            attributes=event.attributes,
        )
        contacts = history.setdefault((p.brand_id, customer.customer_id), [])
        decision = decide(
            facts,
            customer.facts(),
            triggers.get(p.brand_id, ()),
            contacts,
            now,
            touchpoint_known=touchpoint_known,
            questionnaires=available.get(p.brand_id, frozenset()),
            brand_rules=setup.brand_rules.get(p.brand_id),
        )
        event_id = next(ids)
        invitation_id = None
        if decision.outcome == "scheduled":
            assert decision.trigger_id and decision.planned_at and decision.expires_at
            trigger = next(t for t in triggers[p.brand_id] if t.id == decision.trigger_id)
            invitation_id = next(ids)
            invitation_rows.append(
                (p.brand_id, invitation_id, event_id, customer.customer_id, trigger.id, trigger.questionnaire,
                 versions[(p.brand_id, trigger.questionnaire)], p.item.occurred_at, decision.planned_at,
                 p.item.occurred_at + trigger.max_lag, decision.expires_at, queries.json(decision.channels))
            )  # fmt: skip
            contacts.append(
                ContactRecord(trigger_id=trigger.id, planned_at=decision.planned_at, status="scheduled")
            )
            jobs.append(InvitationJob(p.brand_id, invitation_id, decision.planned_at))
        event_rows.append(
            (p.brand_id, event_id, event.idempotency_key, p.item.payload_hash, event.touchpoint, touchpoint_known,
             customer.customer_id, p.item.occurred_at, queries.json(event.attributes), decision.outcome,
             decision.reason, decision.trigger_id, invitation_id, decision.planned_at,
             queries.json(decision.evaluations))
        )  # fmt: skip
        results[index] = EventResult(
            idempotency_key=event.idempotency_key,
            event_id=event_id,
            status="created",
            decision=decision.outcome,
            reason=decision.reason,
            invitation_id=invitation_id,
            planned_at=decision.planned_at,
            touchpoint_known=touchpoint_known,
        )

    writes = queries.Writes(consent_changes=consent_changes, invitations=invitation_rows, events=event_rows)
    # Sorted, so that two groups creating the same customers take their index entries in the same order.
    for ref, customer in sorted(customers.items()):
        stored = stored_customers.get(ref)
        if stored is None:
            writes.new_customers.append((ref[0], customer))
        elif customer != stored:
            writes.changed_customers.append((ref[0], customer))
    await queries.write(conn, writes, now, consent_source="event")
    return _resolve_repeats(results, keys, pending, first), jobs


def _replay(p: Pending, stored: queries.Existing) -> EventResult:
    return EventResult(
        idempotency_key=p.item.event.idempotency_key,
        event_id=stored.event_id,
        status="duplicate" if stored.payload_hash == p.item.payload_hash else "conflict",
        decision=stored.outcome,  # type: ignore[arg-type]
        reason=stored.reason,
        invitation_id=stored.invitation_id,
        planned_at=stored.planned_at,
        touchpoint_known=stored.touchpoint_known,
    )


def _resolve_repeats(
    results: list[EventResult | None],
    keys: list[tuple[UUID, str]],
    pending: list[Pending],
    first: dict[tuple[UUID, str], int],
) -> list[EventResult]:
    """Repeats of a key within the group get the first one's result, as a duplicate (or a conflict)."""
    resolved = []
    for index, key in enumerate(keys):
        result = results[index]
        if result is None:
            original = results[first[key]]
            assert original is not None
            same = pending[index].item.payload_hash == pending[first[key]].item.payload_hash
            result = msgspec.structs.replace(original, status="duplicate" if same else "conflict")
        resolved.append(result)
    return resolved
