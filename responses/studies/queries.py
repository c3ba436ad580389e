"""All SQL of tracking studies: studies, participants, self-reports and their comments, diary links.

Every query filters by ``brand_id``, except the two that find what the brand is: the worker's scan for diaries
that ended (the system's own job, across brands) and the diary page's look-up of a link by its token's hash.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from responses.studies.model import Study, StudyIn
from triggers.queries import TRIGGER_GUARD, sources_sql


class StoredStudy(msgspec.Struct, frozen=True, kw_only=True):
    study_id: UUID
    key: str
    spec: StudyIn
    pre_trigger_id: UUID
    post_trigger_id: UUID
    started_at: datetime | None
    participants: int
    created_at: datetime
    updated_at: datetime

    def public(self) -> Study:
        return Study(
            key=self.key,
            started_at=self.started_at,
            participants=self.participants,
            created_at=self.created_at,
            updated_at=self.updated_at,
            **msgspec.structs.asdict(self.spec),
        )


def study_spec(definition: Any) -> StudyIn:
    """A stored study definition (jsonb, decoded) as the Struct."""
    return msgspec.convert(definition, StudyIn)


_STUDY = """
SELECT s.study_id, s.key, s.definition, s.pre_trigger_id, s.post_trigger_id, s.started_at, s.created_at,
       s.updated_at,
       (SELECT count(*) FROM study_participants p WHERE p.brand_id = s.brand_id AND p.study_id = s.study_id)
           AS participants
FROM studies s
"""


def _study(row: asyncpg.Record) -> StoredStudy:
    values = dict(row)
    return StoredStudy(spec=study_spec(values.pop("definition")), **values)


async def get_study(
    conn: asyncpg.Connection, brand_id: UUID, key: str, *, lock: bool = False
) -> StoredStudy | None:
    """The brand's study `key`; with `lock`, its row stays locked until commit (a change of the study and an
    enrolment, which starts it, then never interleave)."""
    row = await conn.fetchrow(
        _STUDY + "WHERE s.brand_id = $1 AND s.key = $2" + (" FOR UPDATE OF s" if lock else ""), brand_id, key
    )
    return _study(row) if row else None


async def list_studies(conn: asyncpg.Connection, brand_id: UUID) -> list[StoredStudy]:
    rows = await conn.fetch(_STUDY + "WHERE s.brand_id = $1 ORDER BY s.key", brand_id)
    return [_study(r) for r in rows]


async def put_study(
    conn: asyncpg.Connection, brand_id: UUID, key: str, spec: StudyIn, pre_trigger_id: str, post_trigger_id: str
) -> bool:
    """Create or replace the study's definition; True when created."""
    return bool(
        await conn.fetchval(
            """
            INSERT INTO studies (brand_id, key, name, definition, pre_trigger_id, post_trigger_id)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (brand_id, key) DO UPDATE
            SET name = EXCLUDED.name, definition = EXCLUDED.definition, pre_trigger_id = EXCLUDED.pre_trigger_id,
                post_trigger_id = EXCLUDED.post_trigger_id, updated_at = now()
            RETURNING (xmax = 0)
            """,
            brand_id,
            key,
            spec.name,
            msgspec.to_builtins(spec),
            pre_trigger_id,
            post_trigger_id,
        )
    )


async def questionnaires_unarchived(conn: asyncpg.Connection, brand_id: UUID, keys: list[str]) -> dict[str, bool]:
    """Of `keys`, the brand's published questionnaires, each with whether it is not archived."""
    rows = await conn.fetch(
        "SELECT key, archived_at IS NULL AS unarchived FROM questionnaires "
        "WHERE brand_id = $1 AND key = ANY($2::text[]) AND latest_version > 0",
        brand_id,
        keys,
    )
    return {r["key"]: r["unarchived"] for r in rows}


async def triggers_owned_elsewhere(
    conn: asyncpg.Connection, brand_id: UUID, keys: list[str], owned: list[UUID]
) -> list[str]:
    """Of the trigger `keys`, those that exist and are not among the study's `owned` triggers."""
    rows = await conn.fetch(
        "SELECT key FROM triggers WHERE brand_id = $1 AND key = ANY($2::text[]) AND NOT trigger_id = ANY($3::uuid[])",
        brand_id,
        keys,
        owned,
    )
    return [r["key"] for r in rows]


async def ensure_touchpoints(
    conn: asyncpg.Connection, brand_id: UUID, touchpoints: list[tuple[str, str, str]]
) -> None:
    """Create the (key, name, category) touchpoints the brand does not have yet; existing ones are left alone."""
    await conn.execute(
        """
        INSERT INTO touchpoints (brand_id, key, name, category, auto_created)
        SELECT $1, key, name, category, true FROM unnest($2::text[], $3::text[], $4::text[]) AS t (key, name, category)
        ON CONFLICT (brand_id, key) DO NOTHING
        """,
        brand_id,
        [t[0] for t in touchpoints],
        [t[1] for t in touchpoints],
        [t[2] for t in touchpoints],
    )


async def guard_triggers_shared(conn: asyncpg.Connection, brand_id: UUID) -> None:
    """Take the brand's trigger guard as ingestion does (shared), before any customer is locked: a transaction that
    locks a customer and then ingests must queue for the guard before it holds the lock, as ingestion does, or it
    could deadlock with an ingestion of that customer behind a trigger's deactivation."""
    await conn.execute(f"SELECT pg_advisory_xact_lock_shared({TRIGGER_GUARD.format('$1::uuid')})", brand_id)


async def start_study(conn: asyncpg.Connection, brand_id: UUID, study_id: UUID, now: datetime) -> None:
    """Mark the study started (its first enrolment), locking its row until commit."""
    await conn.execute(
        "UPDATE studies SET started_at = coalesce(started_at, $3) WHERE brand_id = $1 AND study_id = $2",
        brand_id,
        study_id,
        now,
    )


class Enrolment(msgspec.Struct, frozen=True, kw_only=True):
    participant_id: UUID
    customer_id: UUID
    external_id: str
    consented_at: datetime
    enrolled_at: datetime
    diary_starts_at: datetime
    diary_ends_at: datetime
    withdrawn_at: datetime | None


_ENROLMENT = """
SELECT p.participant_id, p.customer_id, c.external_id, p.consented_at, p.enrolled_at, p.diary_starts_at,
       p.diary_ends_at, p.withdrawn_at
FROM study_participants p
JOIN customers c ON c.brand_id = p.brand_id AND c.customer_id = p.customer_id
"""


async def enrolment(
    conn: asyncpg.Connection, brand_id: UUID, study_id: UUID, external_id: str
) -> Enrolment | None:
    row = await conn.fetchrow(
        _ENROLMENT + "WHERE p.brand_id = $1 AND p.study_id = $2 AND c.external_id = $3",
        brand_id,
        study_id,
        external_id,
    )
    return Enrolment(**dict(row)) if row else None


async def open_study_of(
    conn: asyncpg.Connection, brand_id: UUID, customer_id: str, other_than: UUID, now: datetime
) -> str | None:
    """The key of another study whose diary the customer is keeping now (or will), if any."""
    return await conn.fetchval(
        """
        SELECT s.key FROM study_participants p JOIN studies s ON s.brand_id = p.brand_id AND s.study_id = p.study_id
        WHERE p.brand_id = $1 AND p.customer_id = $2 AND p.study_id <> $3 AND p.withdrawn_at IS NULL
          AND p.diary_ends_at > $4
        LIMIT 1
        """,
        brand_id,
        customer_id,
        other_than,
        now,
    )


async def insert_participant(
    conn: asyncpg.Connection,
    brand_id: UUID,
    study_id: UUID,
    customer_id: str,
    now: datetime,
    diary: timedelta,
) -> Enrolment:
    row = await conn.fetchrow(
        """
        WITH enrolled AS (
            INSERT INTO study_participants (brand_id, study_id, customer_id, consented_at, enrolled_at,
                                            diary_starts_at, diary_ends_at)
            VALUES ($1, $2, $3, $4::timestamptz, $4, $4, $4 + $5::interval)
            RETURNING *
        )
        SELECT p.participant_id, p.customer_id, c.external_id, p.consented_at, p.enrolled_at, p.diary_starts_at,
               p.diary_ends_at, p.withdrawn_at
        FROM enrolled p JOIN customers c ON c.brand_id = p.brand_id AND c.customer_id = p.customer_id
        """,
        brand_id,
        study_id,
        customer_id,
        now,
        diary,
    )
    assert row is not None
    return Enrolment(**dict(row))


async def set_preamble(conn: asyncpg.Connection, brand_id: UUID, invitation_id: str, text: str) -> None:
    await conn.execute(
        "UPDATE invitations SET preamble = $3 WHERE brand_id = $1 AND invitation_id = $2",
        brand_id,
        invitation_id,
        text,
    )


async def withdraw(
    conn: asyncpg.Connection, brand_id: UUID, study_id: UUID, external_id: str, now: datetime
) -> Enrolment | None:
    """Mark the participant withdrawn (once: a repeat keeps the first time); None if not enrolled."""
    row = await conn.fetchrow(
        """
        WITH withdrawn AS (
            UPDATE study_participants p SET withdrawn_at = coalesce(p.withdrawn_at, $4)
            FROM customers c
            WHERE p.brand_id = $1 AND p.study_id = $2 AND c.brand_id = p.brand_id
              AND c.customer_id = p.customer_id AND c.external_id = $3
            RETURNING p.*, c.external_id
        )
        SELECT participant_id, customer_id, external_id, consented_at, enrolled_at, diary_starts_at, diary_ends_at,
               withdrawn_at
        FROM withdrawn
        """,
        brand_id,
        study_id,
        external_id,
        now,
    )
    return Enrolment(**dict(row)) if row else None


_CANCEL = f"""
WITH cancelled AS (
    UPDATE invitations SET status = 'cancelled', status_reason = 'study_withdrawn', updated_at = $4
    WHERE brand_id = $1 AND customer_id = $2 AND trigger_id = ANY($3::uuid[])
      AND status IN ({sources_sql("cancelled")})
    RETURNING 1
)
SELECT count(*) FROM cancelled
"""


async def cancel_study_invitations(
    conn: asyncpg.Connection, brand_id: UUID, customer_id: UUID, trigger_ids: list[UUID], now: datetime
) -> int:
    """Cancel the customer's invitations of the study's triggers not yet claimed for sending; how many."""
    return int(await conn.fetchval(_CANCEL, brand_id, customer_id, trigger_ids, now))


# -- participants and their compliance ---------------------------------------------------------------------------


class ParticipantRow(msgspec.Struct, frozen=True, kw_only=True):
    participant_id: UUID
    external_id: str
    consented_at: datetime
    enrolled_at: datetime
    diary_starts_at: datetime
    diary_ends_at: datetime
    withdrawn_at: datetime | None
    reports: int
    prompts_sent: int
    prompts_answered: int


# Prompts of the study: the customer's invitations scheduled from the enrolment on (until a withdrawal), of the
# study's own triggers or scheduled before the diary ended (the brand's triggers, fired by own-brand reports or
# by the brand's own events). Answered: the survey was completed.
_PARTICIPANTS = """
SELECT p.participant_id, c.external_id, p.consented_at, p.enrolled_at, p.diary_starts_at, p.diary_ends_at,
       p.withdrawn_at,
       (SELECT count(*) FROM self_reports r WHERE r.brand_id = p.brand_id AND r.participant_id = p.participant_id)
           AS reports,
       prompts.sent AS prompts_sent, prompts.answered AS prompts_answered
FROM study_participants p
JOIN customers c ON c.brand_id = p.brand_id AND c.customer_id = p.customer_id
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE i.status = 'sent') AS sent,
           count(*) FILTER (WHERE i.status = 'sent' AND i.response_state = 'completed') AS answered
    FROM invitations i
    WHERE i.brand_id = p.brand_id AND i.customer_id = p.customer_id AND i.created_at >= p.enrolled_at
      AND (p.withdrawn_at IS NULL OR i.created_at <= p.withdrawn_at)
      AND (i.trigger_id = ANY($3::uuid[]) OR i.created_at <= p.diary_ends_at)
) prompts
WHERE p.brand_id = $1 AND p.study_id = $2
  AND ($4::timestamptz IS NULL OR (p.enrolled_at, p.participant_id) > ($4, $5::uuid))
  AND ($7::text IS NULL OR c.external_id = $7)
ORDER BY p.enrolled_at, p.participant_id
LIMIT $6
"""


async def list_participants(
    conn: asyncpg.Connection,
    brand_id: UUID,
    study: StoredStudy,
    after: tuple[datetime, UUID] | None,
    limit: int,
    external_id: str | None = None,
) -> list[ParticipantRow]:
    """The study's participants in enrolment order, after the cursor's (time, id), with their counts (or only the
    one with `external_id`)."""
    rows = await conn.fetch(
        _PARTICIPANTS,
        brand_id,
        study.study_id,
        [study.pre_trigger_id, study.post_trigger_id],
        after[0] if after else None,
        after[1] if after else None,
        limit,
        external_id,
    )
    return [ParticipantRow(**dict(r)) for r in rows]


# -- the end of diaries (the worker's) ---------------------------------------------------------------------------


class Ending(msgspec.Struct, frozen=True, kw_only=True):
    brand_id: UUID
    participant_id: UUID
    study_id: UUID
    key: str
    spec: StudyIn
    diary_ends_at: datetime
    external_id: str
    locale: str | None


async def lock_ended_diaries(conn: asyncpg.Connection, now: datetime, limit: int) -> list[Ending]:
    """Up to `limit` diaries that ended by `now` and whose end is not reported yet, locked until commit; rows
    another transaction holds are skipped (it is reporting them), so concurrent runs never take the same one."""
    rows = await conn.fetch(
        """
        SELECT p.brand_id, p.participant_id, p.study_id, s.key, s.definition, p.diary_ends_at, c.external_id,
               c.locale
        FROM study_participants p
        JOIN studies s ON s.brand_id = p.brand_id AND s.study_id = p.study_id
        JOIN customers c ON c.brand_id = p.brand_id AND c.customer_id = p.customer_id
        WHERE p.diary_ends_at <= $1 AND p.ended_reported_at IS NULL AND p.withdrawn_at IS NULL
        ORDER BY p.diary_ends_at
        LIMIT $2
        FOR UPDATE OF p SKIP LOCKED
        """,
        now,
        limit,
    )
    found = []
    for r in rows:
        values = dict(r)
        found.append(Ending(spec=study_spec(values.pop("definition")), **values))
    return found


async def mark_ended_reported(conn: asyncpg.Connection, endings: list[Ending], now: datetime) -> None:
    await conn.execute(
        """
        UPDATE study_participants p SET ended_reported_at = $3
        FROM unnest($1::uuid[], $2::uuid[]) AS e (brand_id, participant_id)
        WHERE p.brand_id = e.brand_id AND p.participant_id = e.participant_id
        """,
        [e.brand_id for e in endings],
        [e.participant_id for e in endings],
        now,
    )
