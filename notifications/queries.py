"""SQL of the worker: claiming invitations, recording messages, and the sweeper's scan.

Other status changes go through `triggers.queries` (`move_invitation`, `fail_stuck`).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from triggers.queries import sources_sql
from triggers.schedule import InvitationJob


class Claimed(msgspec.Struct, kw_only=True):
    """An invitation this worker now owns (status ``sending``), or one the claim withdrew (``withdrawn`` says
    why: its trigger was deactivated or its questionnaire archived since it was scheduled; status
    ``cancelled``)."""

    brand_id: UUID
    invitation_id: str
    customer_id: str
    questionnaire_key: str
    questionnaire_version: int
    channels: list[str]
    planned_at: datetime
    send_by: datetime
    expires_at: datetime
    attempts: int
    withdrawn: str | None


_CLAIM = f"""
WITH due AS (
    SELECT i.brand_id, i.invitation_id,
           CASE WHEN NOT coalesce(t.active, false) THEN 'trigger_deactivated'
                WHEN q.archived_at IS NOT NULL OR q.key IS NULL THEN 'questionnaire_archived' END AS withdrawn
    FROM invitations i
    LEFT JOIN triggers t ON t.brand_id = i.brand_id AND t.trigger_id = i.trigger_id
    LEFT JOIN questionnaires q ON q.brand_id = i.brand_id AND q.key = i.questionnaire_key
    WHERE i.brand_id = $1 AND i.invitation_id = $2 AND i.status IN ({sources_sql("sending")})
      -- A job may start a moment before its planned time (queue scores are whole milliseconds).
      AND i.planned_at <= $3::timestamptz + interval '1 second'
)
UPDATE invitations i
SET status = CASE WHEN d.withdrawn IS NULL THEN 'sending' ELSE 'cancelled' END, status_reason = d.withdrawn,
    attempts = i.attempts + (d.withdrawn IS NULL)::int, updated_at = $3
FROM due d
WHERE i.brand_id = d.brand_id AND i.invitation_id = d.invitation_id
  AND i.status IN ({sources_sql("sending")})
RETURNING i.brand_id, i.invitation_id::text, i.customer_id::text, i.questionnaire_key, i.questionnaire_version,
          i.channels, i.planned_at, i.send_by, i.expires_at, i.attempts, d.withdrawn
"""


async def claim(conn: asyncpg.Connection, brand_id: UUID, invitation_id: str, now: datetime) -> Claimed | None:
    """scheduled -> sending, if the invitation is still scheduled and due, its trigger active and its
    questionnaire unarchived (otherwise scheduled -> cancelled, returned with `withdrawn` set); None if someone
    else has it or it is done. The conditional UPDATE is the at-most-once guarantee: of two workers, only one
    gets the row."""
    row = await conn.fetchrow(_CLAIM, brand_id, invitation_id, now)
    return Claimed(**dict(row)) if row else None


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
