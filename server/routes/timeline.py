"""A customer's experience timeline: everything that happened between the customer and the brand, in order."""

from __future__ import annotations

from typing import Annotated

from litestar import Request, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import QueryParameter

from research import timeline
from research.timeline import Kind, Position, TimelinePage, TimelineQuery
from server.auth import requires
from server.deps import Conn
from server.errors import ProblemOperation, invalid, problems
from server.routes.params import CursorQuery, ExternalId, FromTime, LimitQuery, ToTime, parse_time
from server.tenants import Principal

Req = Request[Principal, Principal, State]

PERSONAL_DATA_SCOPES = frozenset({"manage", "export_pii"})
"""Keys that may read a customer's own words beyond their answers, as they may read the customer's contact data:
``manage`` (``GET /v1/customers/{external_id}``) and ``export_pii`` (exports with contact data)."""


@get(
    "/customers/{external_id:str}/timeline",
    tags=["customers"],
    opt=requires("manage", "export"),
    summary="A customer's experience timeline",
    description="Everything that happened between the customer and the brand, oldest first: touchpoint events "
    "(reported by the brand, a study, or the participant), each event's decision and its reason, invitations and "
    "their status changes, each send attempt and delivery receipt, the customer's messages and what they meant, "
    "the survey opened, each answer with the question's text in the customer's language (replaced answers "
    "included, marked), the survey completed or expired, consent changes and opt-outs, and a study participant's "
    "texted reports and diary comments. Items of the same instant are listed in the order they happen in. "
    "Filters combine: `from` (inclusive) and `to` (exclusive) on the item's time, and `kind` (repeatable). In "
    "pages: pass each page's `next_cursor` as `cursor`, with the same filters, to get the next. The customer's "
    "own words beyond their answers (messages' `body`, answers' `raw`) and events' `idempotency_key` are included "
    "for keys with the `manage` or `export_pii` scope only (`personal_data`).",
    responses=problems(401, 403, 404, 422, 503),
    operation_class=ProblemOperation,
)
async def read_timeline(
    request: Req,
    conn: Conn,
    external_id: ExternalId,
    start: FromTime = None,
    end: ToTime = None,
    kind: Annotated[
        list[Kind] | None,
        QueryParameter(description="Only items of these kinds; repeat for several: `kind=answer&kind=consent`."),
    ] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 100,
) -> TimelinePage:
    since, until = parse_time(start, "from"), parse_time(end, "to")
    if since and until and until <= since:
        raise invalid("query:to", "must be after `from`")
    try:
        after = Position.from_cursor(cursor) if cursor is not None else None
    except ValueError:
        raise invalid("query:cursor", "is not a cursor this API returned; start again without one") from None
    query = TimelineQuery(
        start=since, end=until, kinds=frozenset(kind) if kind else None, after=after, limit=limit
    )
    personal = not PERSONAL_DATA_SCOPES.isdisjoint(request.auth.scopes)
    found = await timeline.customer_timeline(conn, request.auth.brand_id, external_id, query, personal=personal)
    if found is None:
        raise NotFoundException(f"no customer {external_id!r}")
    return found


ROUTES = [read_timeline]
