"""Reading back invitations: what became of each, attempt by attempt, and how long each step took."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Request, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import QueryParameter

from notifications import history
from notifications.history import InvitationFilter, InvitationSummary
from responses import history as answered
from responses.answers import ResponseState
from responses.history import InvitationWithAnswers
from server.auth import requires
from server.deps import Conn
from server.errors import ProblemOperation, invalid, problems
from server.routes.params import (
    CursorQuery,
    FromTime,
    InvitationId,
    KeyQuery,
    LimitQuery,
    ToTime,
    decode_cursor,
    encode_cursor,
    parse_time,
)
from server.tenants import Principal
from triggers.invitations import InvitationStatus

Req = Request[Principal, Principal, State]


class InvitationPage(msgspec.Struct, kw_only=True):
    items: list[InvitationSummary]
    next_cursor: str | None
    """Pass as `cursor` for the next page; null on the last page."""


@get(
    "/invitations",
    tags=["invitations"],
    opt=requires("manage", "export"),
    summary="The brand's invitations",
    description="Newest first (by when they were scheduled), in pages: pass each page's `next_cursor` as `cursor` to get the next. "
    "Filters combine: `customer` (external id), `trigger` (key), `status`, `response`, and a range of the planned send time "
    "(`from` inclusive, `to` exclusive).",
    responses=problems(401, 403, 422, 503),
    operation_class=ProblemOperation,
)
async def list_invitations(
    request: Req,
    conn: Conn,
    customer: Annotated[
        str | None, QueryParameter(min_length=1, max_length=200, description="The customer's external id.")
    ] = None,
    trigger: KeyQuery = None,
    status: Annotated[InvitationStatus | None, QueryParameter(description="The invitation's status.")] = None,
    response: Annotated[
        ResponseState | None,
        QueryParameter(
            description="How far the customer got (`response_state`): opened, partial, completed, expired."
        ),
    ] = None,
    planned_from: FromTime = None,
    planned_to: ToTime = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> InvitationPage:
    start, end = parse_time(planned_from, "from"), parse_time(planned_to, "to")
    if start and end and end <= start:
        raise invalid("query:to", "must be after `from`")
    where = InvitationFilter(
        customer=customer,
        trigger=trigger,
        status=status,
        response_state=response,
        planned_from=start,
        planned_to=end,
    )
    found = await history.list_invitations(
        conn, request.auth.brand_id, where, after=decode_cursor(cursor), limit=limit
    )
    last = found.items[-1] if found.items and found.more else None
    return InvitationPage(
        items=found.items, next_cursor=encode_cursor(last.created_at, last.invitation_id) if last else None
    )


@get(
    "/invitations/{invitation_id:str}",
    tags=["invitations"],
    opt=requires("manage", "export"),
    summary="One invitation, with its history",
    description="Its status changes (`transitions`), each send attempt (`messages`) with the provider's answer "
    "and delivery receipts, and its `latency`: the time of each step from the contact to the phone (occurred, "
    "decided, planned, claimed by a worker, accepted by the provider, delivered, opened, first answer, completed), "
    "each with the seconds since the contact occurred; and every `answer` given, replaced ones included.",
    responses=problems(401, 403, 404, 422, 503),
    operation_class=ProblemOperation,
)
async def read_invitation(request: Req, conn: Conn, invitation_id: InvitationId) -> InvitationWithAnswers:
    try:
        wanted = UUID(invitation_id)
    except ValueError:
        wanted = None
    found = await answered.get_invitation(conn, request.auth.brand_id, wanted) if wanted else None
    if found is None:
        raise NotFoundException(f"no invitation {invitation_id!r}")
    return found


ROUTES = [list_invitations, read_invitation]
