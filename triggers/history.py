"""Reading back an event as it was stored, with its decision and what each trigger made of it, so that "why was
this customer (not) surveyed?" has an answer.

Events are found by their idempotency key while the key is remembered (`triggers.idempotency.RETENTION`); a
key reused after that names the newer event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec


class TriggerEvaluation(msgspec.Struct, kw_only=True):
    """What one trigger made of the event, as stored when it was decided (text, not today's reason codes:
    the record must read back whatever lxt version wrote it)."""

    trigger_id: str
    trigger_key: str
    outcome: str
    """``scheduled`` (this trigger surveys the customer) or ``skipped``."""
    reason: str | None = None
    detail: str | None = None


class StoredDecision(msgspec.Struct, kw_only=True):
    outcome: str
    """``scheduled`` or ``not_surveyed``."""
    reason: str | None
    """Why not surveyed (see the reasons of `POST /v1/events`)."""
    trigger: str | None
    """The key of the trigger that scheduled it, or whose reason is given."""
    invitation_id: UUID | None
    planned_at: datetime | None


class StoredEvent(msgspec.Struct, kw_only=True):
    event_id: UUID
    idempotency_key: str
    touchpoint: str
    touchpoint_known: bool
    customer: str | None
    """The customer's external id (None if the customer was deleted since)."""
    occurred_at: datetime
    received_at: datetime
    attributes: dict[str, Any]
    decision: StoredDecision
    evaluations: list[TriggerEvaluation]
    """Each trigger looked at, in the order it was looked at (highest priority first)."""
    source: str = "brand"
    """Who reported it: ``brand``, ``study`` (a tracking study's own step) or ``self_report`` (a participant's
    texted code)."""
    concerns_brand: str | None = None
    """For a self-report, the brand the encounter was with (maybe a competitor)."""


_EVENT = """
SELECT e.event_id, e.idempotency_key, e.touchpoint_key, e.touchpoint_known, c.external_id, e.occurred_at,
       e.received_at, e.attributes, e.outcome, e.reason, t.key AS trigger_key, e.invitation_id, e.planned_at,
       e.evaluations, e.source, e.concerns_brand
FROM idempotency_keys k
JOIN events e ON e.brand_id = k.brand_id AND e.event_id = k.event_id
LEFT JOIN customers c ON c.brand_id = e.brand_id AND c.customer_id = e.customer_id
LEFT JOIN triggers t ON t.brand_id = e.brand_id AND t.trigger_id = e.trigger_id
WHERE k.brand_id = $1 AND k.idempotency_key = $2
"""


async def get_event(conn: asyncpg.Connection, brand_id: UUID, idempotency_key: str) -> StoredEvent | None:
    """The brand's event stored under `idempotency_key`, with its decision and evaluations."""
    row = await conn.fetchrow(_EVENT, brand_id, idempotency_key)
    if row is None:
        return None
    return StoredEvent(
        event_id=row["event_id"],
        idempotency_key=row["idempotency_key"],
        touchpoint=row["touchpoint_key"],
        touchpoint_known=row["touchpoint_known"],
        customer=row["external_id"],
        occurred_at=row["occurred_at"],
        received_at=row["received_at"],
        attributes=row["attributes"],
        decision=StoredDecision(
            outcome=row["outcome"],
            reason=row["reason"],
            trigger=row["trigger_key"],
            invitation_id=row["invitation_id"],
            planned_at=row["planned_at"],
        ),
        evaluations=msgspec.convert(row["evaluations"], list[TriggerEvaluation]),
        source=row["source"],
        concerns_brand=row["concerns_brand"],
    )
