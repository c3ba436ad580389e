"""All SQL of what participants send a tracking study: texted codes (self-reports), their comments, and the diary
page's links. Every query filters by ``brand_id``, except the diary page's look-up of a link by its token's hash,
which is what tells the brand."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
import msgspec

from responses.studies.model import StudyIn
from responses.studies.queries import study_spec

# -- texted codes ------------------------------------------------------------------------------------------------


class Participation(msgspec.Struct, frozen=True, kw_only=True):
    """A customer's place in a study, as a texted code needs it."""

    participant_id: UUID
    study_id: UUID
    key: str
    spec: StudyIn
    diary_starts_at: datetime
    diary_ends_at: datetime
    external_id: str
    locale: str | None
    time_zone: str | None
    opted_out: bool
    """Of all surveys (``opted_out``), or of the channel the text came on (their STOP, `Customer.unsubscribed`)."""


async def participation(
    conn: asyncpg.Connection, brand_id: UUID, customer_id: UUID, now: datetime, grace: timedelta, channel: str
) -> Participation | None:
    """The customer's study whose diary is open now, else the one that ended last within `grace`; withdrawn
    participations do not count. Whether they opted out is told for a text that came on `channel`."""
    row = await conn.fetchrow(
        """
        SELECT p.participant_id, p.study_id, s.key, s.definition, p.diary_starts_at, p.diary_ends_at,
               c.external_id, c.locale, c.time_zone,
               c.opted_out_at IS NOT NULL OR $5 = ANY(c.unsubscribed) AS opted_out
        FROM study_participants p
        JOIN studies s ON s.brand_id = p.brand_id AND s.study_id = p.study_id
        JOIN customers c ON c.brand_id = p.brand_id AND c.customer_id = p.customer_id
        WHERE p.brand_id = $1 AND p.customer_id = $2 AND p.withdrawn_at IS NULL AND p.diary_ends_at > $3::timestamptz - $4::interval
        ORDER BY (p.diary_starts_at <= $3 AND p.diary_ends_at > $3) DESC, p.diary_ends_at DESC
        LIMIT 1
        """,
        brand_id,
        customer_id,
        now,
        grace,
        channel,
    )
    if row is None:
        return None
    values = dict(row)
    return Participation(spec=study_spec(values.pop("definition")), **values)


class SelfReport(msgspec.Struct, frozen=True, kw_only=True):
    """One texted code as stored."""

    report_id: UUID
    brand_letter: str
    brand_name: str
    own_brand: bool
    touchpoint_letter: str
    touchpoint_key: str
    touchpoint_name: str
    positivity: int
    persuasiveness: int
    reported_at: datetime
    comment: str | None = None
    comment_updated_at: datetime | None = None


_REPORT = (
    "report_id, brand_letter, brand_name, own_brand, touchpoint_letter, touchpoint_key, touchpoint_name, "
    "positivity, persuasiveness, reported_at, comment, comment_updated_at"
)


async def report_of_inbound(conn: asyncpg.Connection, brand_id: UUID, inbound_id: UUID) -> SelfReport | None:
    row = await conn.fetchrow(
        f"SELECT {_REPORT} FROM self_reports WHERE brand_id = $1 AND inbound_id = $2", brand_id, inbound_id
    )
    return SelfReport(**dict(row)) if row else None


async def insert_report(
    conn: asyncpg.Connection,
    brand_id: UUID,
    participation: Participation,
    customer_id: UUID,
    inbound_id: UUID,
    event_id: str,
    report: SelfReport,
) -> None:
    await conn.execute(
        """
        INSERT INTO self_reports (brand_id, report_id, study_id, participant_id, customer_id, inbound_id, event_id,
                                  brand_letter, brand_name, own_brand, touchpoint_letter, touchpoint_key,
                                  touchpoint_name, positivity, persuasiveness, reported_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
        """,
        brand_id,
        report.report_id,
        participation.study_id,
        participation.participant_id,
        customer_id,
        inbound_id,
        event_id,
        report.brand_letter,
        report.brand_name,
        report.own_brand,
        report.touchpoint_letter,
        report.touchpoint_key,
        report.touchpoint_name,
        report.positivity,
        report.persuasiveness,
        report.reported_at,
    )


# -- the diary page ----------------------------------------------------------------------------------------------


async def add_diary_link(
    conn: asyncpg.Connection, brand_id: UUID, participant_id: UUID, token_hash: bytes, now: datetime
) -> None:
    await conn.execute(
        "INSERT INTO diary_links (brand_id, token_hash, participant_id, created_at) VALUES ($1, $2, $3, $4)",
        brand_id,
        token_hash,
        participant_id,
        now,
    )


class DiaryOwner(msgspec.Struct, frozen=True, kw_only=True):
    brand_id: UUID
    participant_id: UUID
    spec: StudyIn
    diary_ends_at: datetime
    withdrawn_at: datetime | None
    locale: str | None
    time_zone: str | None


async def diary_owner(conn: asyncpg.Connection, token_hash: bytes) -> DiaryOwner | None:
    """The participant a diary link's token hash names (across brands: the link is what tells the brand)."""
    row = await conn.fetchrow(
        """
        SELECT l.brand_id, l.participant_id, s.definition, p.diary_ends_at, p.withdrawn_at, c.locale, c.time_zone
        FROM diary_links l
        JOIN study_participants p ON p.brand_id = l.brand_id AND p.participant_id = l.participant_id
        JOIN studies s ON s.brand_id = p.brand_id AND s.study_id = p.study_id
        JOIN customers c ON c.brand_id = p.brand_id AND c.customer_id = p.customer_id
        WHERE l.token_hash = $1
        """,
        token_hash,
    )
    if row is None:
        return None
    values = dict(row)
    return DiaryOwner(spec=study_spec(values.pop("definition")), **values)


async def reports_of(
    conn: asyncpg.Connection, brand_id: UUID, participant_id: UUID, limit: int
) -> list[SelfReport]:
    """The participant's reports, newest first."""
    rows = await conn.fetch(
        f"SELECT {_REPORT} FROM self_reports WHERE brand_id = $1 AND participant_id = $2 "
        "ORDER BY reported_at DESC, report_id DESC LIMIT $3",
        brand_id,
        participant_id,
        limit,
    )
    return [SelfReport(**dict(r)) for r in rows]


async def write_comment(
    conn: asyncpg.Connection, brand_id: UUID, participant_id: UUID, report_id: UUID, comment: str, now: datetime
) -> bool | None:
    """Set the comment of one of the participant's reports (empty clears it), keeping every wording in
    ``self_report_comments``; True if it changed, False if it was already so, None if no such report is theirs."""
    row = await conn.fetchrow(
        """
        WITH target AS (
            SELECT report_id, comment FROM self_reports
            WHERE brand_id = $1 AND participant_id = $2 AND report_id = $3
            FOR UPDATE
        ), updated AS (
            UPDATE self_reports r SET comment = nullif($4, ''), comment_updated_at = $5
            FROM target t
            WHERE r.brand_id = $1 AND r.report_id = t.report_id AND t.comment IS DISTINCT FROM nullif($4, '')
            RETURNING r.report_id
        ), recorded AS (
            INSERT INTO self_report_comments (brand_id, report_id, comment, written_at)
            SELECT $1, report_id, $4, $5 FROM updated
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM target) AS found, (SELECT count(*) FROM recorded) AS changed
        """,
        brand_id,
        participant_id,
        report_id,
        comment,
        now,
    )
    assert row is not None
    return bool(row["changed"]) if row["found"] else None
