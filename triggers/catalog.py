"""SQL for what a brand configures and looks up: touchpoints and triggers. Every query filters by brand."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import asyncpg
import msgspec
from msgspec import Meta

from plumbing.errors import FieldError
from triggers.model import TriggerIn, TriggerInvalid
from triggers.queries import (
    cancel_scheduled,
    guard_triggers_exclusively,
)

Category = Literal["owned", "paid", "earned", "peer"]


class TouchpointIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A kind of contact between brand and customer."""

    name: Annotated[str, Meta(min_length=1, max_length=200, examples=["Store visit"])]
    category: Category = "owned"
    """owned (the brand's own: stores, app, support), paid (ads), earned (press, reviews), peer (word of mouth)."""
    description: Annotated[str, Meta(max_length=2000)] = ""


class Touchpoint(msgspec.Struct, kw_only=True):
    key: str
    name: str
    category: str
    description: str
    auto_created: bool
    created_at: datetime
    updated_at: datetime


_TOUCHPOINT = "key, name, category, description, auto_created, created_at, updated_at"


async def list_touchpoints(conn: asyncpg.Connection, brand_id: UUID) -> list[Touchpoint]:
    rows = await conn.fetch(f"SELECT {_TOUCHPOINT} FROM touchpoints WHERE brand_id = $1 ORDER BY key", brand_id)
    return [Touchpoint(**dict(r)) for r in rows]


async def get_touchpoint(conn: asyncpg.Connection, brand_id: UUID, key: str) -> Touchpoint | None:
    row = await conn.fetchrow(
        f"SELECT {_TOUCHPOINT} FROM touchpoints WHERE brand_id = $1 AND key = $2", brand_id, key
    )
    return Touchpoint(**dict(row)) if row else None


async def put_touchpoint(
    conn: asyncpg.Connection, brand_id: UUID, key: str, data: TouchpointIn
) -> tuple[Touchpoint, bool]:
    """Create or replace; True when created."""
    row = await conn.fetchrow(
        f"""
        INSERT INTO touchpoints (brand_id, key, name, category, description) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (brand_id, key) DO UPDATE
        SET name = EXCLUDED.name, category = EXCLUDED.category, description = EXCLUDED.description,
            auto_created = false, updated_at = now()
        RETURNING {_TOUCHPOINT}, (xmax = 0) AS created
        """,
        brand_id,
        key,
        data.name,
        data.category,
        data.description,
    )
    assert row is not None
    values = dict(row)
    created = values.pop("created")
    return Touchpoint(**values), created


class TriggerOut(TriggerIn, kw_only=True):
    """A stored trigger."""

    id: str
    created_at: datetime
    updated_at: datetime


_TRIGGER = "trigger_id::text AS id, definition, created_at, updated_at"


def _trigger(row: asyncpg.Record) -> TriggerOut:
    spec = msgspec.convert(row["definition"], TriggerIn)
    return TriggerOut(
        id=row["id"], created_at=row["created_at"], updated_at=row["updated_at"], **msgspec.structs.asdict(spec)
    )


async def list_triggers(
    conn: asyncpg.Connection, brand_id: UUID, touchpoint: str | None = None
) -> list[TriggerOut]:
    rows = await conn.fetch(
        f"SELECT {_TRIGGER} FROM triggers WHERE brand_id = $1 AND ($2::text IS NULL OR touchpoint_key = $2) "
        "ORDER BY touchpoint_key, priority DESC, key",
        brand_id,
        touchpoint,
    )
    return [_trigger(r) for r in rows]


async def get_trigger(conn: asyncpg.Connection, brand_id: UUID, key: str) -> TriggerOut | None:
    row = await conn.fetchrow(f"SELECT {_TRIGGER} FROM triggers WHERE brand_id = $1 AND key = $2", brand_id, key)
    return _trigger(row) if row else None


async def check_prerequisites(conn: asyncpg.Connection, brand_id: UUID, spec: TriggerIn) -> None:
    """Raise `TriggerInvalid` unless the trigger's touchpoint exists and its questionnaire is published and not
    archived (what a trigger names must exist before it does)."""
    row = await conn.fetchrow(
        """
        SELECT EXISTS (SELECT 1 FROM touchpoints WHERE brand_id = $1 AND key = $2) AS touchpoint,
               (SELECT archived_at IS NULL FROM questionnaires
                WHERE brand_id = $1 AND key = $3 AND latest_version > 0) AS questionnaire_unarchived
        """,
        brand_id,
        spec.touchpoint,
        spec.questionnaire,
    )
    assert row is not None
    errors = []
    if not row["touchpoint"]:
        errors.append(FieldError("/touchpoint", f"unknown touchpoint {spec.touchpoint!r}; create it first"))
    if row["questionnaire_unarchived"] is None:
        errors.append(
            FieldError("/questionnaire", f"unknown questionnaire {spec.questionnaire!r}; publish it first")
        )
    elif not row["questionnaire_unarchived"]:
        errors.append(FieldError("/questionnaire", f"questionnaire {spec.questionnaire!r} is archived"))
    if errors:
        raise TriggerInvalid(errors)


async def put_trigger(
    conn: asyncpg.Connection, brand_id: UUID, spec: TriggerIn, now: datetime
) -> tuple[TriggerOut, bool]:
    """Create or replace the trigger `spec.key` in the caller's transaction; True when created. The definition is
    stored whole (defaults included), so a later change of a default never changes an existing trigger.

    Deactivating (``active: false``) cancels the trigger's invitations not yet claimed for sending, and is
    serialised with ingestion (`queries.trigger_guard`): events of the brand being ingested meanwhile are
    committed first and their invitations cancelled too, and later ones see the trigger inactive. Once the
    caller has committed, no invitation of the trigger is claimed for sending any more (the claim re-checks).
    """
    if not spec.active:
        await guard_triggers_exclusively(conn, brand_id)
    row = await conn.fetchrow(
        f"""
        INSERT INTO triggers (brand_id, key, touchpoint_key, questionnaire_key, active, priority, definition)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (brand_id, key) DO UPDATE
        SET touchpoint_key = EXCLUDED.touchpoint_key, questionnaire_key = EXCLUDED.questionnaire_key,
            active = EXCLUDED.active, priority = EXCLUDED.priority, definition = EXCLUDED.definition,
            updated_at = now()
        RETURNING {_TRIGGER}, (xmax = 0) AS created
        """,
        brand_id,
        spec.key,
        spec.touchpoint,
        spec.questionnaire,
        spec.active,
        spec.priority,
        msgspec.to_builtins(spec),
    )
    assert row is not None
    trigger = _trigger(row)
    if not spec.active:
        await cancel_scheduled(conn, brand_id, trigger.id, "trigger_deactivated", now)
    return trigger, row["created"]
