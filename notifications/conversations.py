"""The send side of SMS and WhatsApp conversations: holding one for an invitation before its first question goes
out, and giving it up when the provider does not take the message.

A phone has at most one open conversation per sender and channel, whichever brand holds it (the partial unique
index ``conversations_open``), so that a reply belongs to exactly one invitation. Across brands, because brands
share senders (the default number, a Messaging Service): the customer replying to the number can only be in one
conversation with it. The send job holds the conversation *before* it calls the provider: of two invitations
sent to one phone from one sender at the same moment — of one brand or of two — only one can hold it, and the
other learns so before its message is composed (it goes as a link, or waits: the trigger's ``when_busy``). What
replies do with the conversation is `responses.conversations`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final
from uuid import UUID

import asyncpg

SANDBOX_SENDER: Final = "sandbox"
"""The sender of a conversation the sandbox holds with no sender address (what `lxt sandbox reply` writes to)."""

# The index decides, across brands: a conflict means a conversation is open with this phone on this sender. The
# second SELECT finds it only if it is this invitation's own (an earlier attempt of its send held it), so nothing
# of another brand's is read; anything else is busy: another invitation's conversation, or one committed while
# this statement waited on the index (not in its snapshot, so nothing is returned at all).
_HOLD = """
WITH opened AS (
    INSERT INTO conversations (brand_id, invitation_id, customer_id, channel, sender, recipient, locale,
                               question_id, opened_at, last_activity_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
    ON CONFLICT (channel, recipient, sender) WHERE closed_at IS NULL DO NOTHING
    RETURNING invitation_id
)
SELECT invitation_id FROM opened
UNION ALL
SELECT invitation_id FROM conversations
WHERE brand_id = $1 AND invitation_id = $2 AND channel = $4 AND sender = $5 AND recipient = $6
  AND closed_at IS NULL AND NOT EXISTS (SELECT 1 FROM opened)
"""

_RELEASE = """
UPDATE conversations SET closed_at = $4, close_reason = $3, last_activity_at = $4
WHERE brand_id = $1 AND invitation_id = $2 AND closed_at IS NULL
"""


async def hold(
    conn: asyncpg.Connection,
    brand_id: UUID,
    invitation_id: str,
    *,
    customer_id: str,
    channel: str,
    sender: str,
    recipient: str,
    locale: str,
    question_id: str,
    now: datetime,
) -> bool:
    """Open the invitation's conversation with `recipient` on `sender`, asking `question_id` first; True if the
    invitation holds it now (opened now, or still open from an earlier attempt of the same invitation), False if
    another invitation's conversation is open there, of this brand or another one sending from `sender`."""
    holder = await conn.fetchval(
        _HOLD, brand_id, invitation_id, customer_id, channel, sender, recipient, locale, question_id, now
    )
    return holder is not None and str(holder) == str(invitation_id)


async def release(
    conn: asyncpg.Connection, brand_id: UUID, invitation_id: str, reason: str, now: datetime
) -> None:
    """Close the invitation's open conversation (its message did not go out: `reason` ``not_sent``)."""
    await conn.execute(_RELEASE, brand_id, invitation_id, reason, now)
