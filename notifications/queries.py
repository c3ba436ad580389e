"""SQL of the worker: claiming invitations, recording messages, and the sweeper's scan.

Other status changes go through `triggers.queries` (`move_invitation`, `reschedule_invitation`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from uuid import UUID

import asyncpg
import msgspec

from questionnaires.model import Definition
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
    trigger_definition: dict[str, Any] | None
    preamble: str | None = None
    """Text lxt sends before the survey's first message (a tracking study's welcome), fixed at scheduling."""


_CLAIM = f"""
WITH due AS (
    SELECT i.brand_id, i.invitation_id, t.definition AS trigger_definition,
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
          i.channels, i.planned_at, i.send_by, i.expires_at, i.attempts, d.withdrawn, d.trigger_definition,
          i.preamble
"""


async def claim(conn: asyncpg.Connection, brand_id: UUID, invitation_id: str, now: datetime) -> Claimed | None:
    """scheduled -> sending, if the invitation is still scheduled and due, its trigger active and its
    questionnaire unarchived (otherwise scheduled -> cancelled, returned with `withdrawn` set); None if someone
    else has it or it is done. The conditional UPDATE is the at-most-once guarantee: of two workers, only one
    gets the row."""
    row = await conn.fetchrow(_CLAIM, brand_id, invitation_id, now)
    return Claimed(**dict(row)) if row else None


_definitions = msgspec.json.Decoder(Definition)
DEFINITIONS_CACHED: Final = 1000
_DEFINITIONS: dict[tuple[UUID, str, int], Definition] = {}
"""Questionnaire versions are immutable: each process decodes one once (the cache is cleared when full)."""


async def pinned_definition(conn: asyncpg.Connection, brand_id: UUID, key: str, version: int) -> Definition:
    """The pinned questionnaire version an invitation was scheduled with (versions are never deleted)."""
    cache_key = (brand_id, key, version)
    definition = _DEFINITIONS.get(cache_key)
    if definition is None:
        definition = _definitions.decode(await definition_json(conn, brand_id, key, version))
        if len(_DEFINITIONS) >= DEFINITIONS_CACHED:
            _DEFINITIONS.clear()
        _DEFINITIONS[cache_key] = definition
    return definition


async def definition_json(conn: asyncpg.Connection, brand_id: UUID, key: str, version: int) -> str:
    """The pinned questionnaire version, as JSON text."""
    text = await conn.fetchval(
        "SELECT definition::text FROM questionnaire_versions WHERE brand_id = $1 AND key = $2 AND version = $3",
        brand_id,
        key,
        version,
    )
    if text is None:
        raise LookupError(f"questionnaire {key} version {version} is missing")  # versions are never deleted
    return str(text)


async def record_attempt(
    conn: asyncpg.Connection,
    brand_id: UUID,
    invitation_id: str,
    message_id: str,
    *,
    attempt: int,
    channel: str,
    provider: str,
    style: str | None,
    recipient: str,
    sender: str | None,
    body: str,
    segments: int,
    link_token_hash: bytes | None,
    now: datetime,
) -> None:
    """Record an attempt *before* the provider is called (status ``pending``): if this worker dies after the
    provider accepted the message, the row is what lets the sweeper find it there (and the id travels in the
    status callback URL)."""
    await conn.execute(
        """
        INSERT INTO messages (brand_id, message_id, invitation_id, attempt, channel, provider, style, recipient,
                              sender, status, body, segments, link_token_hash, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $11, $12, $13, $13)
        """,
        brand_id,
        message_id,
        invitation_id,
        attempt,
        channel,
        provider,
        style,
        recipient,
        sender,
        body,
        segments,
        link_token_hash,
        now,
    )


async def settle_attempt(
    conn: asyncpg.Connection,
    brand_id: UUID,
    message_id: str,
    status: str,
    now: datetime,
    *,
    provider_message_id: str | None = None,
    error_code: str | None = None,
    delivery_status: str | None = None,
) -> bool:
    """The outcome of a ``pending`` (or ``unknown``) attempt: ``accepted``, ``failed``, ``not_sent`` (the provider
    certainly has nothing) or ``unknown``. An attempt a status callback settled first keeps that outcome;
    returns whether this call settled it."""
    return (
        await conn.execute(
            """
            UPDATE messages
            SET status = $3, provider_message_id = coalesce(provider_message_id, $4), error_code = $5,
                accepted_at = CASE WHEN $3 = 'accepted' THEN coalesce(accepted_at, $6) END,
                delivery_status = coalesce(delivery_status, $7), updated_at = $6
            WHERE brand_id = $1 AND message_id = $2 AND status IN ('pending', 'unknown')
            """,
            brand_id,
            message_id,
            status,
            provider_message_id,
            error_code,
            now,
            delivery_status,
        )
        != "UPDATE 0"
    )


_ACCEPT = f"""
WITH settled AS (
    UPDATE messages
    SET status = 'accepted', provider_message_id = coalesce(provider_message_id, $4),
        accepted_at = coalesce(accepted_at, $6), delivery_status = coalesce(delivery_status, $5), updated_at = $6
    WHERE brand_id = $1 AND message_id = $2 AND status IN ('pending', 'unknown')
)
UPDATE invitations SET status = 'sent', status_reason = NULL, updated_at = $6, channel = $7
WHERE brand_id = $1 AND invitation_id = $3 AND status IN ({sources_sql("sent")})
"""


async def accept_attempt(
    conn: asyncpg.Connection,
    brand_id: UUID,
    message_id: str,
    invitation_id: str,
    *,
    provider_message_id: str | None,
    delivery_status: str | None,
    channel: str,
    now: datetime,
) -> None:
    """The provider accepted the attempt: the message is ``accepted`` and the invitation ``sent``, in one
    statement (one round trip on the hot path). A status callback that settled either first is left as it is."""
    await conn.execute(
        _ACCEPT, brand_id, message_id, invitation_id, provider_message_id, delivery_status, now, channel
    )


class Stuck(msgspec.Struct, kw_only=True, frozen=True):
    """An invitation left in ``sending`` by a worker that died, with its latest attempt (if one was recorded)."""

    brand_id: UUID
    invitation_id: str
    attempts: int
    send_by: datetime
    message_id: str | None
    channel: str | None
    provider: str | None
    message_status: str | None
    recipient: str | None
    sender: str | None
    body: str | None
    link_token_hash: bytes | None
    attempted_at: datetime | None


async def stuck_invitations(conn: asyncpg.Connection, claimed_before: datetime, limit: int) -> list[Stuck]:
    """Invitations in ``sending`` since before `claimed_before` (across brands: the sweeper's), each with the
    message of its current attempt, oldest first."""
    rows = await conn.fetch(
        """
        SELECT i.brand_id, i.invitation_id::text, i.attempts, i.send_by, m.message_id::text, m.channel, m.provider,
               m.status AS message_status, m.recipient, m.sender, m.body, m.link_token_hash, m.created_at AS attempted_at
        FROM invitations i
        LEFT JOIN LATERAL (
            SELECT * FROM messages m
            WHERE m.brand_id = i.brand_id AND m.invitation_id = i.invitation_id AND m.attempt = i.attempts
            ORDER BY m.created_at DESC LIMIT 1
        ) m ON true
        WHERE i.status = 'sending' AND i.updated_at < $1
        ORDER BY i.updated_at LIMIT $2
        """,
        claimed_before,
        limit,
    )
    return [Stuck(**dict(r)) for r in rows]


async def due_invitations(
    conn: asyncpg.Connection, until: datetime, limit: int, after: InvitationJob | None = None
) -> list[InvitationJob]:
    """Scheduled invitations planned up to `until`, oldest first, from just after `after` (the last of the
    previous batch) — across brands: the sweeper is the system's."""
    rows = await conn.fetch(
        """
        SELECT brand_id, invitation_id::text, planned_at FROM invitations
        WHERE status = 'scheduled' AND planned_at <= $1
          AND ($3::timestamptz IS NULL OR (planned_at, invitation_id) > ($3, $4::uuid))
        ORDER BY planned_at, invitation_id LIMIT $2
        """,
        until,
        limit,
        after.planned_at if after else None,
        after.invitation_id if after else None,
    )
    return [InvitationJob(r["brand_id"], r["invitation_id"], r["planned_at"]) for r in rows]
