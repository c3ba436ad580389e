"""The scheduling transaction: events in, one decision each, invitations scheduled — for a whole group at once.

`ingest` runs inside the caller's transaction and never commits: the caller commits, and only then enqueues
the returned `InvitationJob`s (a job must never see rows that may still roll back). The group may mix brands
and requests; every step is one set-based statement, which is what lets many concurrent requests share one
commit (see ``server/ingest.py``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import msgspec

from triggers import queries
from triggers.customers import ConsentChange, Customer, merge
from triggers.decide import Decision, decide
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


async def ingest(
    conn: asyncpg.Connection, pending: list[Pending], now: datetime | None = None
) -> tuple[list[EventResult], list[InvitationJob]]:
    """Store each new event with its decision (and invitation); answer duplicates with the original result.

    A result's status is ``conflict`` when its idempotency key already belongs to a different event: the result
    then describes that stored event, and nothing was written for this one.
    """
    now = now or datetime.now(UTC)
    outcomes: list[EventResult | None] = [None] * len(pending)
    keys = [(p.brand_id, p.item.event.idempotency_key) for p in pending]
    existing = await queries.existing_events(conn, keys)

    # Which events are new: the first of each idempotency key not stored yet. Repeats within the group are
    # answered from the first once it is decided.
    first: dict[tuple[UUID, str], int] = {}
    fresh: list[int] = []
    for index, (key, p) in enumerate(zip(keys, pending, strict=True)):
        stored = existing.get(key)
        if stored is not None:
            outcomes[index] = _replay(p, stored)
        elif key in first:
            continue
        else:
            first[key] = index
            fresh.append(index)
    if not fresh:
        return _resolve_repeats(outcomes, keys, pending, first), []

    customers = await queries.lock_customers(
        conn, [(pending[i].brand_id, pending[i].item.event.customer.external_id) for i in fresh]
    )
    brands = sorted({pending[i].brand_id for i in fresh})
    touchpoint_keys = [(pending[i].brand_id, pending[i].item.event.touchpoint) for i in fresh]
    known = await queries.known_touchpoints(conn, touchpoint_keys)
    triggers = await queries.active_triggers(conn, brands, sorted({k for _, k in touchpoint_keys}))
    questionnaire_keys = sorted({t.questionnaire for ts in triggers.values() for t in ts})
    versions = await queries.current_questionnaires(conn, brands, questionnaire_keys) if questionnaire_keys else {}
    all_triggers = [t for ts in triggers.values() for t in ts]
    since = now - history_lookback(t.frequency for t in all_triggers) if all_triggers else now
    history = await queries.contact_history(conn, [(b, c.customer_id) for (b, _), c in customers.items()], since)

    # Decide in the order the contacts happened, so that frequency rules favour the earlier contact.
    fresh.sort(key=lambda i: pending[i].item.occurred_at)
    changed: dict[tuple[UUID, str], Customer] = {}
    consent_changes: list[tuple[UUID, str, ConsentChange]] = []
    event_rows, decision_rows, invitation_rows = [], [], []
    jobs: list[InvitationJob] = []
    for index in fresh:
        p = pending[index]
        event = p.item.event
        ref = (p.brand_id, event.customer.external_id)
        customer, changes = merge(changed.get(ref) or customers[ref], event.customer, now)
        if changes or customer != customers[ref]:
            changed[ref] = customer
        consent_changes += [(p.brand_id, customer.customer_id, c) for c in changes]

        touchpoint_known = (p.brand_id, event.touchpoint) in known
        usable = {key for brand, key in versions if brand == p.brand_id}
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
            triggers.get(p.brand_id, []),
            contacts,
            now,
            touchpoint_known=touchpoint_known,
            questionnaires=usable,
        )

        event_id = str(uuid.uuid4())
        invitation_id = None
        if decision.outcome == "scheduled":
            assert decision.trigger_id and decision.planned_at and decision.expires_at
            trigger = next(t for t in triggers[p.brand_id] if t.id == decision.trigger_id)
            invitation_id = str(uuid.uuid4())
            invitation_rows.append(
                (p.brand_id, invitation_id, event_id, customer.customer_id, trigger.id, trigger.questionnaire,
                 versions[(p.brand_id, trigger.questionnaire)], p.item.occurred_at, decision.planned_at,
                 p.item.occurred_at + trigger.max_lag, decision.expires_at, queries.json(decision.channels), now)
            )  # fmt: skip
            contacts.append(
                ContactRecord(trigger_id=trigger.id, planned_at=decision.planned_at, status="scheduled")
            )
            jobs.append(InvitationJob(p.brand_id, invitation_id, decision.planned_at))
        event_rows.append(
            (p.brand_id, event_id, event.idempotency_key, p.item.payload_hash, event.touchpoint, touchpoint_known,
             customer.customer_id, p.item.occurred_at, now, queries.json(event.attributes))
        )  # fmt: skip
        decision_rows.append(
            (p.brand_id, event_id, decision.outcome, decision.reason, decision.trigger_id, invitation_id,
             decision.planned_at, _evaluations(decision), now)
        )  # fmt: skip
        outcomes[index] = _result(p, event_id, "created", decision, invitation_id, touchpoint_known)

    await queries.update_customers(conn, [(b, c) for (b, _), c in changed.items()], now)
    await queries.record_consent_changes(conn, consent_changes, "event", now)
    inserted = await queries.insert_events(conn, event_rows)
    if len(inserted) < len(event_rows):
        # A concurrent request stored some of these keys first (this insert waited for it to commit): answer
        # with its result and drop what was decided here for them.
        lost = {row[1] for row in event_rows} - inserted
        decision_rows = [r for r in decision_rows if r[1] not in lost]
        invitation_rows = [r for r in invitation_rows if r[2] not in lost]
        kept = {r[1] for r in invitation_rows}
        jobs = [j for j in jobs if j.invitation_id in kept]
        lost_indexes = [i for i in fresh if (r := outcomes[i]) is not None and r.event_id in lost]
        winners = await queries.existing_events(conn, [keys[i] for i in lost_indexes])
        for i in lost_indexes:
            outcomes[i] = _replay(pending[i], winners[keys[i]])
    await queries.insert_decisions(conn, decision_rows)
    await queries.insert_invitations(conn, invitation_rows)
    return _resolve_repeats(outcomes, keys, pending, first), jobs


def _evaluations(decision: Decision) -> str:
    return queries.json(decision.evaluations)


def _result(
    p: Pending, event_id: str, status: str, decision: Decision, invitation_id: str | None, known: bool
) -> EventResult:
    return EventResult(
        idempotency_key=p.item.event.idempotency_key,
        event_id=event_id,
        status=status,  # type: ignore[arg-type]
        decision=decision.outcome,
        reason=decision.reason,
        invitation_id=invitation_id,
        planned_at=decision.planned_at,
        touchpoint_known=known,
    )


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
    outcomes: list[EventResult | None],
    keys: list[tuple[UUID, str]],
    pending: list[Pending],
    first: dict[tuple[UUID, str], int],
) -> list[EventResult]:
    """Repeats of a key within the group get the first one's result, as a duplicate (or a conflict)."""
    results = []
    for index, key in enumerate(keys):
        result = outcomes[index]
        if result is None:
            original = outcomes[first[key]]
            assert original is not None
            same = pending[index].item.payload_hash == pending[first[key]].item.payload_hash
            result = msgspec.structs.replace(original, status="duplicate" if same else "conflict")
        results.append(result)
    return results
