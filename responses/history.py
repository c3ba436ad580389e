"""Reading back what customers answered to an invitation, every answer given with what it replaced."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from notifications import history
from notifications.history import InvitationDetail


class GivenAnswer(msgspec.Struct, kw_only=True):
    """One answer as the customer gave it."""

    question_id: str
    value: Any
    """The parsed value: an integer for scales, an option code, a list of codes, true/false, text, a number;
    null for a skipped optional question."""
    raw: str
    """What the customer sent: the SMS text, the form's values, the app's JSON value."""
    channel: str
    """`web`, `app`, `sms`, `whatsapp` or `sandbox`."""
    answered_at: datetime
    current: bool
    """False when a later answer replaced it (see `replaced_reason`)."""
    replaced_at: datetime | None
    replaced_reason: str | None
    """`changed` (the customer answered again) or `branch` (a changed earlier answer means the question is no
    longer asked)."""


class InvitationWithAnswers(InvitationDetail, kw_only=True):
    answers: list[GivenAnswer]
    """Every answer given, in the order given (replaced ones included)."""


_ANSWERS = """
SELECT question_id, value, raw, channel, answered_at, replaced_at IS NULL AS current, replaced_at, replaced_reason
FROM answers WHERE brand_id = $1 AND invitation_id = $2
ORDER BY answered_at, answer_id
"""


async def answers_of(conn: asyncpg.Connection, brand_id: UUID, invitation_id: UUID) -> list[GivenAnswer]:
    return [GivenAnswer(**dict(r)) for r in await conn.fetch(_ANSWERS, brand_id, invitation_id)]


async def get_invitation(
    conn: asyncpg.Connection, brand_id: UUID, invitation_id: UUID
) -> InvitationWithAnswers | None:
    """One invitation of the brand with its history (`notifications.history`) and its answers."""
    found = await history.get_invitation(conn, brand_id, invitation_id)
    if found is None:
        return None
    return InvitationWithAnswers(
        **msgspec.structs.asdict(found), answers=await answers_of(conn, brand_id, invitation_id)
    )
