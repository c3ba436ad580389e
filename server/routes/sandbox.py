"""The sandbox outbox: what lxt would have sent, while no provider is configured for a channel."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Request, get
from litestar.datastructures import State
from litestar.params import QueryParameter

from customers.contact import normalize_phone
from notifications import sandbox
from notifications.sandbox import SandboxMessage
from server.auth import requires
from server.deps import Conn
from server.errors import ProblemOperation, invalid, problems
from server.routes.params import CursorQuery, LimitQuery, decode_cursor, encode_cursor
from server.tenants import Principal

Req = Request[Principal, Principal, State]


class SandboxPage(msgspec.Struct, kw_only=True):
    items: list[SandboxMessage]
    next_cursor: str | None
    """Pass as `cursor` for the next page; null on the last page."""


@get(
    "/sandbox/messages",
    tags=["sandbox"],
    opt=requires("manage", "export"),
    summary="Messages the sandbox recorded instead of sending",
    description="Until a provider is configured for a channel, lxt renders each message exactly as it would "
    "send it and records it here. Newest first, in pages (`next_cursor` → `cursor`); filter by the customer's "
    "`phone` or by `invitation`. Answer one from the command line with `lxt sandbox reply PHONE TEXT`.",
    responses=problems(401, 403, 422, 503),
    operation_class=ProblemOperation,
)
async def list_sandbox_messages(
    request: Req,
    conn: Conn,
    phone: Annotated[
        str | None, QueryParameter(min_length=1, max_length=64, description="The recipient's phone (E.164).")
    ] = None,
    invitation: Annotated[UUID | None, QueryParameter(description="An invitation's id.")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> SandboxPage:
    recipient = None
    if phone is not None:
        recipient = normalize_phone(phone)
        if recipient is None:
            raise invalid("query:phone", "is not an international phone number (E.164, e.g. +4915112345678)")
    found = await sandbox.list_messages(
        conn,
        request.auth.brand_id,
        phone=recipient,
        invitation_id=invitation,
        after=decode_cursor(cursor),
        limit=limit,
    )
    last = found.items[-1] if found.items and found.more else None
    return SandboxPage(
        items=found.items, next_cursor=encode_cursor(last.created_at, last.message_id) if last else None
    )


ROUTES = [list_sandbox_messages]
