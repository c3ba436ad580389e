"""Typed rows of what ingestion and customer updates write, and how each field travels to PostgreSQL.

Pure. A row type's fields are its table's columns, in order; `triggers.queries.write` derives its whole statement
(column lists, ``unnest`` parameters and their positions) from these types, so a row built here cannot drift
out of line with the SQL. Columns the statement fills in itself (the transaction's time, the consent source,
the initial status) are each type's ``constants``.
"""

from __future__ import annotations

import functools
import typing
from datetime import datetime
from typing import Annotated, Any, ClassVar
from uuid import UUID

import msgspec

from triggers.customers import Customer


class Sql(msgspec.Struct, frozen=True):
    """How a field reaches its column: as an element of a ``{array}[]`` parameter, read back by `expression`
    (``{}`` stands for the unnested value)."""

    array: str
    expression: str = "{}"


UUID_ = Sql("uuid")
TEXT = Sql("text")
INTEGER = Sql("integer")
BOOLEAN = Sql("boolean")
TIMESTAMPTZ = Sql("timestamptz")
BYTEA = Sql("bytea")
# asyncpg would read a list inside a ``jsonb[]`` parameter as another array dimension, so JSON values and text
# arrays travel as JSON text and are cast back in SQL.
JSONB = Sql("text", "{}::jsonb")
TEXT_ARRAY = Sql("text", "ARRAY(SELECT jsonb_array_elements_text({}::jsonb))")

Id = Annotated[str, UUID_]
BrandId = Annotated[UUID, UUID_]
Text = Annotated[str, TEXT]
OptionalText = Annotated[str | None, TEXT]
Time = Annotated[datetime, TIMESTAMPTZ]
OptionalTime = Annotated[datetime | None, TIMESTAMPTZ]
Json = Annotated[Any, JSONB]
TextArray = Annotated[list[str], TEXT_ARRAY]


class Row(msgspec.Struct, frozen=True, kw_only=True):
    """A row of `table`; subclasses declare its columns as fields."""

    table: ClassVar[str]
    key: ClassVar[tuple[str, ...]] = ()
    """Columns that identify the row to update (update statements only)."""
    constants: ClassVar[dict[str, str]] = {}
    """Column -> SQL the statement fills in on insert; ``$1`` is the transaction's time, ``$2`` the consent
    source."""
    update_constants: ClassVar[dict[str, str]] = {}
    """Column -> SQL the statement fills in on update."""


class CustomerRow(Row, frozen=True, kw_only=True):
    table = "customers"
    key = ("brand_id", "customer_id")
    constants = {"created_at": "$1", "updated_at": "$1"}
    update_constants = {"updated_at": "$1"}

    brand_id: BrandId
    customer_id: Id
    external_id: Text
    phone: OptionalText
    locale: OptionalText
    time_zone: OptionalText
    push_tokens: TextArray
    consents: Json
    opted_out_at: OptionalTime
    attributes: Json


class ConsentChangeRow(Row, frozen=True, kw_only=True):
    table = "consent_changes"
    constants = {"source": "$2", "changed_at": "$1"}

    brand_id: BrandId
    customer_id: Id
    channel: Text
    granted: Annotated[bool, BOOLEAN]


class InvitationRow(Row, frozen=True, kw_only=True):
    table = "invitations"
    constants = {"status": "'scheduled'", "created_at": "$1", "updated_at": "$1"}

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
    constants = {"created_at": "$1"}

    brand_id: BrandId
    idempotency_key: Text
    event_id: Id
    payload_hash: Annotated[bytes, BYTEA]


class EventRow(Row, frozen=True, kw_only=True):
    """An event with its decision."""

    table = "events"
    constants = {"received_at": "$1"}

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


def customer_row(brand_id: UUID, customer: Customer) -> CustomerRow:
    return CustomerRow(
        brand_id=brand_id,
        customer_id=customer.customer_id,
        external_id=customer.external_id,
        phone=customer.phone,
        locale=customer.locale,
        time_zone=customer.time_zone,
        push_tokens=customer.push_tokens,
        consents=customer.consents,
        opted_out_at=customer.opted_out_at,
        attributes=customer.attributes,
    )


class Writes(msgspec.Struct, kw_only=True):
    """Everything one ingestion group (or one customer update) writes, in one statement (`queries.write`)."""

    new_customers: list[CustomerRow] = msgspec.field(default_factory=list)
    changed_customers: list[CustomerRow] = msgspec.field(default_factory=list)
    consent_changes: list[ConsentChangeRow] = msgspec.field(default_factory=list)
    invitations: list[InvitationRow] = msgspec.field(default_factory=list)
    idempotency_keys: list[IdempotencyKeyRow] = msgspec.field(default_factory=list)
    events: list[EventRow] = msgspec.field(default_factory=list)


@functools.cache
def sql_of(row_type: type[Row]) -> tuple[tuple[str, Sql], ...]:
    """The row type's columns with how each travels, in field order."""
    hints = _hints(row_type)
    return tuple((name, hints[name]) for name in row_type.__struct_fields__)


def _hints(row_type: type[Row]) -> dict[str, Sql]:
    found = {}
    for name, hint in typing.get_type_hints(row_type, include_extras=True).items():
        metadata = getattr(hint, "__metadata__", ())
        sql = next((m for m in metadata if isinstance(m, Sql)), None)
        if sql is not None:
            found[name] = sql
    missing = set(row_type.__struct_fields__) - set(found)
    if missing:
        raise TypeError(f"{row_type.__name__}: no Sql annotation for {', '.join(sorted(missing))}")
    return found
