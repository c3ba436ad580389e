"""The scheduling transaction: events in, one decision each, invitations scheduled — for a whole group at once.

`ingest` runs inside the caller's transaction and never commits: the caller commits, and only then enqueues
the returned `InvitationJob`s (a job must never see rows that may still roll back). The group may mix brands
and requests. Reads are one set-based statement per step and all writes one statement, which is what lets many
concurrent requests share one commit cheaply (see ``server/ingest.py``).

Concurrency is optimistic where it is rare and locked where it matters: existing customers are locked
(``FOR UPDATE``) before anything is decided about them; a customer or an idempotency key that a concurrent
transaction creates first makes this one fail with a unique violation, and the caller retries it — the retry
then sees the other's rows, so frequency rules and idempotency hold without locking what does not exist yet.
The same first statement takes the brands' trigger guard (shared), which a trigger's deactivation takes
exclusively: an event is decided either before a deactivation (and its invitation is then cancelled by it) or
after (and sees the trigger inactive), never in between.

The steps: `load` (the reads, after the locks), `decide_group` (pure: decisions and the typed rows of
``triggers/rows.py``), `queries.write` (one statement for all of it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

import asyncpg
import msgspec

from customers.model import Customer, merge
from customers.queries import lock_customers
from plumbing.ids import new_ids
from triggers import queries
from triggers.decide import decide
from triggers.events import EventResult, ValidEvent
from triggers.frequency import ContactRecord, history_lookback
from triggers.idempotency import repeat_status
from triggers.model import EventFacts
from triggers.rows import EventRow, IdempotencyKeyRow, InvitationRow, Writes

EventSource = Literal["brand", "study", "self_report"]
"""Who reported an event: the brand's systems, lxt itself for a tracking study's own steps (a participant enrolled,
a diary ended), or a study participant texting a code."""


class Pending(msgspec.Struct, frozen=True):
    """One validated event of one brand, waiting to be ingested."""

    brand_id: UUID
    item: ValidEvent
    source: EventSource = "brand"
    concerns_brand: str | None = None
    """For a self-report, the brand the encounter was with as the study's code book names it (maybe a competitor)."""
    competitor: bool = False
    """A self-reported encounter with a competitor: stored and decided ``competitor_encounter``, never surveyed."""


class InvitationJob(msgspec.Struct, frozen=True):
    """A send job to enqueue after commit (the job id derives from the invitation id)."""

    brand_id: UUID
    invitation_id: str
    planned_at: datetime


class Loaded(msgspec.Struct, frozen=True):
    """What the decisions about a group's new events need from the database (see `load`)."""

    customers: dict[tuple[UUID, str], Customer]
    """The group's existing customers by (brand, external id), locked until commit."""
    setup: queries.Setup
    history: dict[tuple[UUID, str], list[ContactRecord]]
    """Per (brand, customer id), the invitations that count for frequency rules."""


class Decided(msgspec.Struct, frozen=True):
    results: list[EventResult]
    """One per new event, in the order given."""
    writes: Writes
    jobs: list[InvitationJob]


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
    keys = [(p.brand_id, p.item.event.idempotency_key) for p in pending]
    stored = await queries.existing_events(conn, keys) if look_up_keys else {}
    # The new events: the first of each idempotency key not stored yet. Repeats within the group are answered
    # from the first once it is decided.
    first: dict[tuple[UUID, str], int] = {}
    for index, key in enumerate(keys):
        if key not in stored:
            first.setdefault(key, index)
    fresh = [pending[i] for i in first.values()]
    decided = decide_group(fresh, await load(conn, fresh, now), now) if fresh else None
    if decided is not None:
        await queries.write(conn, decided.writes, now)
    by_key = dict(zip(first, decided.results, strict=True)) if decided else {}
    results = []
    for index, (key, p) in enumerate(zip(keys, pending, strict=True)):
        if key in stored:
            results.append(_replay(p, stored[key]))
        elif first[key] == index:
            results.append(by_key[key])
        else:
            status = repeat_status(pending[first[key]].item.payload_hash, p.item.payload_hash)
            results.append(msgspec.structs.replace(by_key[key], status=status))
    return results, decided.jobs if decided else []


async def load(conn: asyncpg.Connection, fresh: list[Pending], now: datetime) -> Loaded:
    """Lock the group's customers (and take the brands' trigger guard), then read the touchpoints, triggers and
    questionnaire versions, and the customers' contact history — each read after the locks, so that its snapshot
    includes whatever the locks waited for."""
    refs = [(p.brand_id, p.item.event.customer.external_id) for p in fresh]
    customers = await lock_customers(conn, refs, guard=queries.trigger_guard([b for b, _ in refs]))
    setup = await queries.touchpoint_setup(conn, [(p.brand_id, p.item.event.touchpoint) for p in fresh])
    history: dict[tuple[UUID, str], list[ContactRecord]] = {}
    all_triggers = [t for ts in setup.triggers.values() for t in ts]
    if all_triggers and customers:
        since = now - history_lookback([*(t.frequency for t in all_triggers), *setup.brand_rules.values()])
        history = await queries.contact_history(
            conn, [(b, c.customer_id) for (b, _), c in customers.items()], since
        )
    return Loaded(customers=customers, setup=setup, history=history)


def decide_group(fresh: list[Pending], loaded: Loaded, now: datetime) -> Decided:
    """Decide every new event of a group (at most one per idempotency key) and build the rows to write. Pure.

    Events are decided in the order the contacts happened, so that frequency rules favour the earlier contact;
    each decision sees the invitations the earlier ones of the group scheduled.
    """
    setup = loaded.setup
    available: dict[UUID, set[str]] = {}
    for brand, key in setup.versions:
        available.setdefault(brand, set()).add(key)
    ids = iter(new_ids(3 * len(fresh)))
    customers = dict(loaded.customers)
    history = {key: list(records) for key, records in loaded.history.items()}
    writes = Writes()
    jobs: list[InvitationJob] = []
    results: list[EventResult | None] = [None] * len(fresh)
    for index in sorted(range(len(fresh)), key=lambda i: fresh[i].item.occurred_at):
        p = fresh[index]
        event = p.item.event
        ref = (p.brand_id, event.customer.external_id)
        before = customers.get(ref) or Customer(customer_id=next(ids), external_id=ref[1])
        customer, changes = merge(before, event.customer, now, opt_in=False)
        customers[ref] = customer
        writes.add_consent_changes(p.brand_id, customer.customer_id, changes)
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
            setup.triggers.get(p.brand_id, ()),
            contacts,
            now,
            touchpoint_known=touchpoint_known,
            questionnaires=available.get(p.brand_id, frozenset()),
            brand_rules=setup.brand_rules.get(p.brand_id),
            competitor=p.competitor,
        )
        event_id = next(ids)
        invitation_id = None
        if decision.outcome == "scheduled":
            assert decision.trigger_id and decision.planned_at and decision.expires_at
            trigger = next(t for t in setup.triggers[p.brand_id] if t.id == decision.trigger_id)
            invitation_id = next(ids)
            writes.invitations.append(
                InvitationRow(
                    brand_id=p.brand_id,
                    invitation_id=invitation_id,
                    event_id=event_id,
                    customer_id=customer.customer_id,
                    trigger_id=trigger.id,
                    questionnaire_key=trigger.questionnaire,
                    questionnaire_version=setup.versions[(p.brand_id, trigger.questionnaire)],
                    occurred_at=p.item.occurred_at,
                    planned_at=decision.planned_at,
                    send_by=p.item.occurred_at + trigger.max_lag,
                    expires_at=decision.expires_at,
                    channels=list(decision.channels),
                )
            )
            contacts.append(
                ContactRecord(trigger_id=trigger.id, planned_at=decision.planned_at, status="scheduled")
            )
            jobs.append(InvitationJob(p.brand_id, invitation_id, decision.planned_at))
        writes.idempotency_keys.append(
            IdempotencyKeyRow(
                brand_id=p.brand_id,
                idempotency_key=event.idempotency_key,
                event_id=event_id,
                payload_hash=p.item.payload_hash,
            )
        )
        writes.events.append(
            EventRow(
                brand_id=p.brand_id,
                event_id=event_id,
                idempotency_key=event.idempotency_key,
                touchpoint_key=event.touchpoint,
                touchpoint_known=touchpoint_known,
                customer_id=customer.customer_id,
                occurred_at=p.item.occurred_at,
                attributes=event.attributes,
                outcome=decision.outcome,
                reason=decision.reason,
                trigger_id=decision.trigger_id,
                invitation_id=invitation_id,
                planned_at=decision.planned_at,
                evaluations=decision.evaluations,
                source=p.source,
                concerns_brand=p.concerns_brand,
            )
        )
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
    # Sorted, so that two groups creating the same customers take their index entries in the same order.
    for ref, customer in sorted(customers.items()):
        writes.add_customer(ref[0], loaded.customers.get(ref), customer)
    return Decided(results=[r for r in results if r is not None], writes=writes, jobs=jobs)


async def stored_conflicts(conn: asyncpg.Connection, pending: list[Pending]) -> list[int]:
    """Indexes of events whose idempotency key is already stored for a different event (a batch checks this
    before it is ingested, to refuse the whole batch rather than store part of it)."""
    stored = await queries.existing_events(conn, [(p.brand_id, p.item.event.idempotency_key) for p in pending])
    return [
        index
        for index, p in enumerate(pending)
        if (hit := stored.get((p.brand_id, p.item.event.idempotency_key)))
        and repeat_status(hit.payload_hash, p.item.payload_hash) == "conflict"
    ]


def _replay(p: Pending, stored: queries.Existing) -> EventResult:
    return EventResult(
        idempotency_key=p.item.event.idempotency_key,
        event_id=stored.event_id,
        status=repeat_status(stored.payload_hash, p.item.payload_hash),
        decision=stored.outcome,  # type: ignore[arg-type]
        reason=stored.reason,
        invitation_id=stored.invitation_id,
        planned_at=stored.planned_at,
        touchpoint_known=stored.touchpoint_known,
    )
