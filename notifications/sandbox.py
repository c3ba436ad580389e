"""The sandbox outbox: messages the sandbox channel recorded instead of sending them.

A brand integrating lxt (or a newcomer trying it) reads here what its customers would have received, and answers
them with `lxt sandbox reply` or ``POST /v1/sandbox/replies``, which take the path of a real inbound SMS
(`responses.replies`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final
from uuid import UUID

import asyncpg
import msgspec

from notifications.history import MAX_PAGE

PROVIDER: Final = "sandbox"


class SandboxMessage(msgspec.Struct, kw_only=True):
    message_id: UUID
    invitation_id: UUID
    channel: str
    recipient: str | None
    """Where it would have gone: the customer's phone (``whatsapp:`` before it on WhatsApp), or push token."""
    sender: str | None
    """The sender it would have come from, if one was recorded."""
    body: str
    segments: int | None
    created_at: datetime


class OutboxEntry(SandboxMessage, kw_only=True):
    """A sandbox message with its brand (the command line shows several brands' at once)."""

    brand_id: UUID
    brand: str
    """The brand's slug."""


class SandboxSlice(msgspec.Struct, kw_only=True):
    items: list[SandboxMessage]
    more: bool


# Attempts recorded before lxt kept each message's recipient went to the customer's phone (push aside).
_SELECT = """
SELECT m.message_id, m.invitation_id, m.channel,
       coalesce(m.recipient, CASE WHEN m.channel <> 'push' THEN c.phone END) AS recipient,
       m.sender, m.body, m.segments, m.created_at, m.brand_id, b.slug AS brand
FROM messages m
JOIN brands b ON b.brand_id = m.brand_id
LEFT JOIN invitations i ON i.brand_id = m.brand_id AND i.invitation_id = m.invitation_id
LEFT JOIN customers c ON c.brand_id = i.brand_id AND c.customer_id = i.customer_id
WHERE m.provider = 'sandbox'
"""

_RECIPIENT = "coalesce(m.recipient, CASE WHEN m.channel <> 'push' THEN c.phone END)"


def _query(
    *,
    brand_id: UUID | None,
    phone: str | None,
    invitation_id: UUID | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> tuple[str, list[object]]:
    conditions: list[str] = []
    arguments: list[object] = []

    def add(condition: str, *values: object) -> None:
        arguments.extend(values)
        numbers = range(len(arguments) - len(values) + 1, len(arguments) + 1)
        conditions.append(condition.format(*(f"${n}" for n in numbers)))

    if brand_id is not None:
        add("m.brand_id = {}", brand_id)
    if phone is not None:
        add(f"{_RECIPIENT} = ANY({{}}::text[])", [phone, f"whatsapp:{phone}"])
    if invitation_id is not None:
        add("m.invitation_id = {}", invitation_id)
    if after is not None:
        add("(m.created_at, m.message_id) < ({}, {})", *after)
    arguments.append(limit)
    where = "".join(f" AND {c}" for c in conditions)
    return f"{_SELECT}{where} ORDER BY m.created_at DESC, m.message_id DESC LIMIT ${len(arguments)}", arguments


async def list_messages(
    conn: asyncpg.Connection,
    brand_id: UUID,
    *,
    phone: str | None = None,
    invitation_id: UUID | None = None,
    after: tuple[datetime, UUID] | None = None,
    limit: int = 50,
) -> SandboxSlice:
    """The brand's sandbox messages, newest first, after the (created_at, message_id) of the previous page's
    last one; `phone` (E.164) filters by recipient."""
    limit = max(1, min(limit, MAX_PAGE))
    sql, arguments = _query(
        brand_id=brand_id, phone=phone, invitation_id=invitation_id, after=after, limit=limit + 1
    )
    rows = await conn.fetch(sql, *arguments)
    items = [SandboxMessage(**_message(r)) for r in rows[:limit]]
    return SandboxSlice(items=items, more=len(rows) > limit)


async def outbox(
    conn: asyncpg.Connection, *, brand_id: UUID | None = None, phone: str | None = None, limit: int = 20
) -> list[OutboxEntry]:
    """The newest sandbox messages of one brand, or of every brand (the operator's view from the command line:
    across brands, like the sweeper's scan)."""
    sql, arguments = _query(brand_id=brand_id, phone=phone, invitation_id=None, after=None, limit=limit)
    return [OutboxEntry(**dict(r)) for r in await conn.fetch(sql, *arguments)]


async def latest_to(conn: asyncpg.Connection, phone: str, *, brand_id: UUID | None = None) -> OutboxEntry | None:
    """The newest sandbox message to `phone` (of `brand_id`, or of any brand): whom a sandbox reply answers."""
    found = await outbox(conn, brand_id=brand_id, phone=phone, limit=1)
    return found[0] if found else None


def _message(row: asyncpg.Record) -> dict[str, object]:
    values = dict(row)
    del values["brand_id"], values["brand"]
    return values
