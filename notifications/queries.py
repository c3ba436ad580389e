"""SQL of the worker: claiming invitations, ending them, recording messages, and the sweeper's scan."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from triggers.customers import Customer
from triggers.invitations import InvitationStatus, allowed_from
from triggers.queries import CUSTOMER_COLUMNS, customer_from_row
from triggers.schedule import InvitationJob


class Claimed(msgspec.Struct, kw_only=True):
    """An invitation this worker now owns (status ``sending``)."""

    brand_id: UUID
    invitation_id: str
    customer_id: str
    questionnaire_key: str
    questionnaire_version: int
    channels: list[str]
    occurred_at: datetime
    planned_at: datetime
    send_by: datetime
    expires_at: datetime
    attempts: int


async def claim(conn: asyncpg.Connection, brand_id: UUID, invitation_id: str, now: datetime) -> Claimed | None:
    """scheduled -> sending, if the invitation is still scheduled and due; None if someone else has it or it
    is done. The conditional UPDATE is the at-most-once guarantee: of two workers, only one gets the row."""
    row = await conn.fetchrow(
        """
        WITH claimed AS (
            UPDATE invitations SET status = 'sending', attempts = attempts + 1, updated_at = $3
            WHERE brand_id = $1 AND invitation_id = $2 AND status = 'scheduled'
              -- A job may start a moment before its planned time (queue scores are whole milliseconds).
              AND planned_at <= $3::timestamptz + interval '1 second'
            RETURNING *
        ), transition AS (
            INSERT INTO invitation_transitions (brand_id, invitation_id, from_status, to_status, at)
            SELECT brand_id, invitation_id, 'scheduled', 'sending', $3 FROM claimed
        )
        SELECT brand_id, invitation_id::text, customer_id::text, questionnaire_key, questionnaire_version, channels,
               occurred_at, planned_at, send_by, expires_at, attempts
        FROM claimed
        """,
        brand_id,
        invitation_id,
        now,
    )
    return Claimed(**dict(row)) if row else None


async def finish(
    conn: asyncpg.Connection,
    brand_id: UUID,
    invitation_id: str,
    status: InvitationStatus,
    reason: str | None,
    now: datetime,
    channel: str | None = None,
) -> bool:
    """Move an invitation to `status` (from a state the machine allows), recording the transition."""
    done = await conn.fetchval(
        """
        WITH moved AS (
            UPDATE invitations i SET status = $3, status_reason = $4, channel = coalesce($6, i.channel),
                                     updated_at = $5
            FROM (SELECT status AS before FROM invitations WHERE brand_id = $1 AND invitation_id = $2) b
            WHERE i.brand_id = $1 AND i.invitation_id = $2 AND i.status = ANY($7::text[])
            RETURNING i.brand_id, i.invitation_id, b.before
        )
        INSERT INTO invitation_transitions (brand_id, invitation_id, from_status, to_status, reason, at)
        SELECT brand_id, invitation_id, before, $3, $4, $5 FROM moved
        RETURNING true
        """,
        brand_id,
        invitation_id,
        status,
        reason,
        now,
        channel,
        sorted(allowed_from(status)),
    )
    return bool(done)


async def customer(conn: asyncpg.Connection, brand_id: UUID, customer_id: str) -> Customer | None:
    row = await conn.fetchrow(
        f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE brand_id = $1 AND customer_id = $2", brand_id, customer_id
    )
    return customer_from_row(row) if row else None


async def definition_json(conn: asyncpg.Connection, brand_id: UUID, key: str, version: int) -> str:
    """The pinned questionnaire version, as JSON text (decoded by the caller into a Definition)."""
    text = await conn.fetchval(
        "SELECT definition::text FROM questionnaire_versions WHERE brand_id = $1 AND key = $2 AND version = $3",
        brand_id,
        key,
        version,
    )
    if text is None:
        raise LookupError(f"questionnaire {key} version {version} is missing")  # versions are never deleted
    return str(text)


async def record_message(
    conn: asyncpg.Connection,
    brand_id: UUID,
    invitation_id: str,
    *,
    channel: str,
    provider: str,
    status: str,
    body: str,
    segments: int | None,
    provider_message_id: str | None = None,
    error_code: str | None = None,
) -> str:
    return str(
        await conn.fetchval(
            """
            INSERT INTO messages (brand_id, invitation_id, channel, provider, provider_message_id, status,
                                  error_code, body, segments)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING message_id::text
            """,
            brand_id,
            invitation_id,
            channel,
            provider,
            provider_message_id,
            status,
            error_code,
            body,
            segments,
        )
    )


async def fail_interrupted(conn: asyncpg.Connection, claimed_before: datetime, now: datetime) -> int:
    """End invitations stuck in ``sending`` since before `claimed_before` as failed ``interrupted``."""
    return int(
        await conn.fetchval(
            """
            WITH stuck AS (
                UPDATE invitations SET status = 'failed', status_reason = 'interrupted', updated_at = $2
                WHERE status = 'sending' AND updated_at < $1
                RETURNING brand_id, invitation_id
            ), transitions AS (
                INSERT INTO invitation_transitions (brand_id, invitation_id, from_status, to_status, reason, at)
                SELECT brand_id, invitation_id, 'sending', 'failed', 'interrupted', $2 FROM stuck
            )
            SELECT count(*) FROM stuck
            """,
            claimed_before,
            now,
        )
    )


async def due_invitations(conn: asyncpg.Connection, until: datetime, limit: int) -> list[InvitationJob]:
    """Scheduled invitations planned up to `until`, oldest first — across brands: the sweeper is the system's."""
    rows = await conn.fetch(
        """
        SELECT brand_id, invitation_id::text, planned_at FROM invitations
        WHERE status = 'scheduled' AND planned_at <= $1 ORDER BY planned_at LIMIT $2
        """,
        until,
        limit,
    )
    return [InvitationJob(r["brand_id"], r["invitation_id"], r["planned_at"]) for r in rows]
