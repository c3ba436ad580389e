"""Typed rows of what ingestion writes (with the customer rows of `customers.rows`): events with their
decisions, idempotency keys, invitations. `triggers.queries.write` derives its statement from these types."""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from customers.rows import CustomerWrites
from plumbing.rows import (
    BOOLEAN,
    BYTEA,
    INTEGER,
    UUID_,
    BrandId,
    Id,
    Json,
    OptionalText,
    OptionalTime,
    Row,
    Text,
    TextArray,
    Time,
)


class InvitationRow(Row, frozen=True, kw_only=True):
    table = "invitations"
    constants: ClassVar[dict[str, str]] = {"status": "'scheduled'", "created_at": "$1", "updated_at": "$1"}

    brand_id: BrandId
    invitation_id: Id
    event_id: Id
    customer_id: Id
    trigger_id: Id
    questionnaire_key: Text
    questionnaire_version: Annotated[int, INTEGER]
    occurred_at: Time
    planned_at: Time
    send_by: Time
    """occurred_at + the trigger's max_lag: not sent after this (freshness)."""
    expires_at: Time
    channels: TextArray


class IdempotencyKeyRow(Row, frozen=True, kw_only=True):
    table = "idempotency_keys"
    constants: ClassVar[dict[str, str]] = {"created_at": "$1"}

    brand_id: BrandId
    idempotency_key: Text
    event_id: Id
    payload_hash: Annotated[bytes, BYTEA]


class EventRow(Row, frozen=True, kw_only=True):
    """An event with its decision."""

    table = "events"
    constants: ClassVar[dict[str, str]] = {"received_at": "$1"}

    brand_id: BrandId
    event_id: Id
    idempotency_key: Text
    touchpoint_key: Text
    touchpoint_known: Annotated[bool, BOOLEAN]
    customer_id: Id
    occurred_at: Time
    attributes: Json
    outcome: Text
    reason: OptionalText
    trigger_id: Annotated[str | None, UUID_]
    invitation_id: Annotated[str | None, UUID_]
    planned_at: OptionalTime
    evaluations: Json
    source: Text = "brand"
    """``brand``, ``study`` or ``self_report`` (see `triggers.schedule.EventSource`)."""
    concerns_brand: OptionalText = None
    """The brand a self-reported encounter was with; None for every other event."""


class Writes(CustomerWrites, kw_only=True):
    """Everything one ingestion group writes, in one statement (`triggers.queries.write`)."""

    invitations: list[InvitationRow] = msgspec.field(default_factory=list)
    idempotency_keys: list[IdempotencyKeyRow] = msgspec.field(default_factory=list)
    events: list[EventRow] = msgspec.field(default_factory=list)
