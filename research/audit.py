"""The audit log: who did what to which data, and when (erasures, retention runs, exports).

Rows never hold the personal data they are about: an erased customer is named by pseudonym, an export by its
dataset and filters. Written in the caller's transaction, so the record exists exactly when the act does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    audit_id: int
    at: datetime
    actor: str
    """``key:<prefix>`` for an API key, ``dashboard:<prefix>`` for a dashboard session, ``cli``, ``retention``."""
    action: str
    subject: str
    details: dict[str, Any]


async def record(
    conn: asyncpg.Connection,
    brand_id: UUID,
    *,
    actor: str,
    action: str,
    subject: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    row = await conn.fetchrow(
        "INSERT INTO audit_log (brand_id, actor, action, subject, details) VALUES ($1, $2, $3, $4, $5) "
        "RETURNING audit_id, at, actor, action, subject, details",
        brand_id,
        actor,
        action,
        subject,
        details or {},
    )
    assert row is not None
    return _entry(row)


async def entries(
    conn: asyncpg.Connection,
    brand_id: UUID,
    *,
    action: str | None = None,
    limit: int = 100,
    before: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[AuditEntry]:
    """The brand's newest entries first, optionally of one action, older than entry `before` (the next page of a
    list), and within [`since`, `until`)."""
    rows = await conn.fetch(
        "SELECT audit_id, at, actor, action, subject, details FROM audit_log "
        "WHERE brand_id = $1 AND ($2::text IS NULL OR action = $2) AND ($4::bigint IS NULL OR audit_id < $4) "
        "AND ($5::timestamptz IS NULL OR at >= $5) AND ($6::timestamptz IS NULL OR at < $6) "
        "ORDER BY audit_id DESC LIMIT $3",
        brand_id,
        action,
        limit,
        before,
        since,
        until,
    )
    return [_entry(r) for r in rows]


def _entry(row: asyncpg.Record) -> AuditEntry:
    return AuditEntry(
        audit_id=row["audit_id"],
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        subject=row["subject"],
        details=row["details"],
    )
