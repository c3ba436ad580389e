"""What the survey page and the app API write when they refuse a customer's submission, shared by both.

A refusal rolls back the transaction that tried the answers, so what it leaves is written afterwards, in a
transaction of its own: the invitation's expiry (the sweeper would record it within a minute, but the customer
is looking now) and the refused submission itself, so that nothing a customer sent is lost.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import asyncpg

from responses import answers
from responses.answers import Answering, AnswersInvalid, InvitationClosed, InvitationExpired


async def record_expiry(conn: asyncpg.Connection, answering: Answering) -> None:
    async with conn.transaction():
        await answers.expire(conn, answering)


async def record_refusal(
    conn: asyncpg.Connection,
    answering: Answering,
    refusal: AnswersInvalid | InvitationClosed,
    *,
    channel: Literal["web", "app"],
    raw: str,
    now: datetime,
) -> None:
    async with conn.transaction():
        if isinstance(refusal, InvitationExpired):
            await answers.expire(conn, answering)
        await answers.record_refused(conn, answering, channel=channel, raw=raw, refusal=refusal, now=now)
