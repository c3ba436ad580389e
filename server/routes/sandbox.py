"""The sandbox: what lxt would have sent while no provider is configured for a channel, and replies to it as the
customer would send them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Request, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import JSONBody, QueryParameter
from msgspec import Meta

from customers.contact import normalize_phone
from notifications import sandbox
from notifications.sandbox import SandboxMessage
from responses import replies
from responses.received import Outcome
from server.auth import requires
from server.deps import Conn
from server.errors import ProblemOperation, invalid, problems
from server.routes.params import CursorQuery, LimitQuery, decode_cursor, encode_cursor
from server.settings import Settings
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


class SandboxReplyIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    phone: Annotated[
        str,
        Meta(
            min_length=3, max_length=32, description="The customer's phone (E.164).", examples=["+4915112345678"]
        ),
    ]
    text: Annotated[
        str, Meta(min_length=1, max_length=1600, description="What the customer replies.", examples=["9"])
    ]


class SandboxReplyOut(msgspec.Struct, kw_only=True):
    inbound_id: UUID
    """The reply as stored, like any inbound message (provider ``sandbox``)."""
    outcome: Outcome
    """What it meant: an answer, a re-prompt, STOP … (see the Twilio inbound webhook)."""
    reply: str | None
    """What lxt texted back; null for nothing."""
    answered_message_id: UUID
    """The sandbox message it answers (the brand's newest to the phone)."""
    conversation_id: UUID | None
    invitation_id: UUID | None


@post(
    "/sandbox/replies",
    tags=["sandbox"],
    opt=requires("manage"),
    status_code=200,
    summary="Reply to the newest sandbox message to a phone, as its customer would",
    description="Takes the path of a real inbound SMS — stored, then keywords, the customer's open conversation, "
    "the brand's auto-reply — and answers with what lxt would text back. The same as `lxt sandbox reply`.",
    responses=problems(400, 401, 403, 404, 413, 422, 503),
    operation_class=ProblemOperation,
)
async def reply_in_sandbox(request: Req, conn: Conn, data: JSONBody[SandboxReplyIn]) -> SandboxReplyOut:
    phone = normalize_phone(data.phone)
    if phone is None:
        raise invalid("/phone", "is not an international phone number (E.164, e.g. +4915112345678)")
    settings: Settings = request.app.state.settings
    replied = await replies.sandbox_reply(
        conn, phone, data.text, brand_id=request.auth.brand_id, now=datetime.now(UTC), base_url=settings.base_url
    )
    if replied is None:
        raise NotFoundException("no sandbox message of this brand went to that phone: nothing to reply to")
    reply = replied.answered.reply
    await replies.queue_jobs(request.app.state.redis, reply, settings.queue_name)
    return SandboxReplyOut(
        inbound_id=replied.answered.message.inbound_id,
        outcome=reply.outcome,
        reply=reply.text,
        answered_message_id=replied.to.message_id,
        conversation_id=reply.conversation_id,
        invitation_id=reply.invitation_id,
    )


ROUTES = [list_sandbox_messages, reply_in_sandbox]
