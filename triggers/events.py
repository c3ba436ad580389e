"""Touchpoint events as brand systems report them, their validation, and what ingestion answers.

Pure. ``POST /v1/events`` takes one `EventIn`, ``POST /v1/events/batch`` up to `MAX_BATCH`; a batch is
validated as a whole, so a bad event rejects the batch and nothing of it is written.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, Literal

import msgspec
from msgspec import Meta

from customers.contact import check_customer
from customers.model import MAX_ATTRIBUTES_BYTES, CustomerRef
from plumbing.errors import DefinitionInvalid, FieldError, pointer
from questionnaires.model import Slug

MAX_BATCH: Final = 1000
EARLIEST: Final = datetime(2000, 1, 1, tzinfo=UTC)
MAX_FUTURE: Final = timedelta(minutes=5)
"""Clock skew tolerated on ``occurred_at``; later is a mistake in the brand's system."""

IdempotencyKey = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=200,
        description="The brand's id of this event. Repeating it returns the original result and creates nothing.",
        examples=["pos-7781-2026-11-24T10:15:03"],
    ),
]
TouchpointKey = Slug
"""Touchpoint keys follow the same rule as every other key a trigger names."""


class EventsInvalid(DefinitionInvalid):
    title = "Invalid event"


class EventIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """One customer contact with the brand."""

    idempotency_key: IdempotencyKey
    touchpoint: TouchpointKey
    customer: CustomerRef
    occurred_at: Annotated[datetime, Meta(tz=True)] | None = None
    """When the contact happened (with a UTC offset); default: now. At most 5 minutes in the future."""
    attributes: Annotated[dict[str, Any], Meta(description="Free attributes, usable in trigger conditions.")] = {}


class EventBatch(msgspec.Struct, forbid_unknown_fields=True):
    events: Annotated[list[EventIn], Meta(min_length=1, max_length=MAX_BATCH)]


class ValidEvent(msgspec.Struct, frozen=True):
    """An event that passed validation, with its time resolved and the fingerprint idempotency compares: the
    SHA-256 of the event as submitted (keys sorted), which tells a replay from a reused idempotency key."""

    event: EventIn
    occurred_at: datetime
    payload_hash: bytes


_encode = msgspec.json.Encoder(order="sorted").encode
# An escaped NUL in JSON text: backslash-u0000 after an even number of backslashes.
_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def check_events(events: list[EventIn], now: datetime, *, batch: bool) -> list[ValidEvent]:
    """Validate events (raise `EventsInvalid` naming every bad field, as ``/events/N/...`` in a batch)."""
    errors: list[FieldError] = []
    valid = []
    for index, event in enumerate(events):
        base = pointer("events", index) if batch else ""
        customer, customer_errors = check_customer(event.customer, base + "/customer")
        errors += customer_errors
        occurred_at = _occurred_at(event, now)
        if isinstance(occurred_at, str):
            errors.append(FieldError(base + "/occurred_at", occurred_at))
            occurred_at = now
        encoded = _encode(event)
        if _NUL.search(encoded):
            # PostgreSQL text cannot hold NUL; say so here rather than fail at the insert.
            errors.append(FieldError(base, "text must not contain NUL (\\u0000) characters"))
        if len(_encode(event.attributes)) > MAX_ATTRIBUTES_BYTES:
            errors.append(FieldError(base + "/attributes", f"larger than {MAX_ATTRIBUTES_BYTES} bytes as JSON"))
        normalized = msgspec.structs.replace(event, customer=customer) if customer is not event.customer else event
        valid.append(ValidEvent(normalized, occurred_at, hashlib.sha256(encoded).digest()))
    if errors:
        raise EventsInvalid(errors)
    return valid


def _occurred_at(event: EventIn, now: datetime) -> datetime | str:
    """The contact's time in UTC, or what is wrong with it."""
    if event.occurred_at is None:
        return now
    try:
        occurred_at = event.occurred_at.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01 with a positive offset
        return "is out of range"
    if occurred_at < EARLIEST:
        return f"is before {EARLIEST:%Y}; send the contact's time"
    if occurred_at - now > MAX_FUTURE:
        return "is more than 5 minutes in the future; send the contact's time"
    return occurred_at


Status = Literal["created", "duplicate", "conflict"]


class EventResult(msgspec.Struct, kw_only=True):
    """What became of one event: its id, and the decision (the original one, for a duplicate)."""

    idempotency_key: str
    event_id: str
    status: Status
    """``created``: stored now; ``duplicate``: the idempotency key was seen before, nothing new was created;
    ``conflict``: the key belongs to a different event (described here), and this one was not stored."""
    decision: Literal["scheduled", "not_surveyed"]
    reason: str | None = None
    """Why not surveyed: see the decision reasons in the API description."""
    invitation_id: str | None = None
    planned_at: datetime | None = None
    touchpoint_known: bool = True


class BatchResult(msgspec.Struct):
    results: list[EventResult]
