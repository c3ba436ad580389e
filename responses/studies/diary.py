"""A participant's diary page: their reports, newest first, each with a comment they may add or edit.

The page is reached by a link in each confirmation reply: ``{base_url}/d/{token}``, a fresh token of 256 random
bits per link that carries no identifier. Only the token's SHA-256 is stored, and the page finds its participant
by that hash. A token that names nothing — unknown, malformed, a withdrawn participant's, or one whose diary
ended more than `OPEN_AFTER_END` ago — gets the same answer as any other unknown token, so a link tells nobody
whether it ever existed.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

import asyncpg
import msgspec

from customers.zones import load_zone
from notifications.channels import LINK_TOKEN_BYTES, link_token_hash
from responses.answers import well_formed
from responses.studies import reports as report_queries
from responses.studies import texts as study_texts
from responses.studies.reports import DiaryOwner

OPEN_AFTER_END: Final = timedelta(days=14)
"""How long after the diary ended its page still takes comments (researchers read them in the debriefing)."""
MAX_SHOWN: Final = 40
"""Reports on the page (the newest): keeps it small on a phone; a participant comments on recent ones."""
MAX_COMMENT: Final = 1000


async def diary_link(
    conn: asyncpg.Connection, brand_id: UUID, participant_id: UUID, base_url: str, now: datetime
) -> str:
    """A new link to the participant's diary page (its token's hash stored)."""
    # Made, shaped and stored like a survey link's token (`notifications.channels.new_link`).
    token = secrets.token_urlsafe(LINK_TOKEN_BYTES)
    await report_queries.add_diary_link(conn, brand_id, participant_id, link_token_hash(token), now)
    return f"{base_url.rstrip('/')}/d/{token}"


class DiaryEntry(msgspec.Struct, frozen=True, kw_only=True):
    report_id: UUID
    reported: str
    """When, in the participant's time zone (``2026-03-02 18:40``)."""
    brand: str
    touchpoint: str
    positivity: int
    persuasiveness: int
    comment: str


class DiaryPage(msgspec.Struct, frozen=True, kw_only=True):
    """What the page shows, its texts in the participant's language."""

    lang: str
    texts: study_texts.Catalog
    title: str
    entries: list[DiaryEntry]
    max_comment: int = MAX_COMMENT


async def _owner(conn: asyncpg.Connection, token: str, now: datetime) -> DiaryOwner | None:
    if not well_formed(token):
        return None
    owner = await report_queries.diary_owner(conn, link_token_hash(token))
    if owner is None or owner.withdrawn_at is not None or now >= owner.diary_ends_at + OPEN_AFTER_END:
        return None
    return owner


async def diary_page(conn: asyncpg.Connection, token: str, now: datetime) -> DiaryPage | None:
    """The page a token opens, or None (the uniform "not found")."""
    owner = await _owner(conn, token, now)
    if owner is None:
        return None
    zone = load_zone(owner.time_zone)
    texts = study_texts.catalog(owner.locale)
    reports = await report_queries.reports_of(conn, owner.brand_id, owner.participant_id, MAX_SHOWN)
    entries = [
        DiaryEntry(
            report_id=r.report_id,
            reported=(r.reported_at.astimezone(zone) if zone else r.reported_at).strftime("%Y-%m-%d %H:%M"),
            brand=r.brand_name,
            touchpoint=r.touchpoint_name,
            positivity=r.positivity,
            persuasiveness=r.persuasiveness,
            comment=r.comment or "",
        )
        for r in reports
    ]
    return DiaryPage(
        lang=study_texts.page_language(owner.locale),
        texts=texts,
        title=texts.page_title.format(study=owner.spec.name),
        entries=entries,
    )


async def save_comment(conn: asyncpg.Connection, token: str, report_id: UUID, comment: str, now: datetime) -> bool:
    """Set the comment on one of the token's participant's reports (empty clears it; every wording is kept);
    False if the token or the report is not theirs (the uniform "not found")."""
    owner = await _owner(conn, token, now)
    if owner is None:
        return False
    # Browsers send a textarea's line breaks as CRLF; keep one kind.
    text = comment.replace("\r\n", "\n").replace("\x00", "").strip()[:MAX_COMMENT]
    changed = await report_queries.write_comment(conn, owner.brand_id, owner.participant_id, report_id, text, now)
    return changed is not None
