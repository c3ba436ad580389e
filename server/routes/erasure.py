"""Data protection: erasing a customer, and the brand's audit log (who erased, exported or aged out what, when)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

import asyncpg
import msgspec
from litestar import Request, delete, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import QueryParameter

from notifications.history import MAX_PAGE
from research import audit, erasure
from research.audit import AuditEntry
from research.erasure import CustomerBeingContacted, Erasure
from server import db
from server.auth import requires
from server.deps import Conn
from server.errors import ApiError, ProblemOperation, invalid, problems
from server.routes.params import CursorQuery, ExternalId, FromTime, LimitQuery, ToTime, parse_time
from server.tenants import Principal

Req = Request[Principal, Principal, State]

RETRY_SECONDS = 5
"""How long a caller waits before erasing again a customer a message was being sent to (a send takes seconds)."""


@delete(
    "/customers/{external_id:str}",
    tags=["customers"],
    opt=requires("manage"),
    status_code=200,
    summary="Erase a customer",
    description="Erases the customer's personal data in one transaction: phone, push tokens, attributes and "
    "external id; event attributes; the texts lxt sent and their recipients; what the customer texted and from "
    "where; free-text answers and every answer's raw input; study comments; link tokens. Invitations not sent yet "
    "are cancelled and open conversations closed. What remains follows the brand's `erasure` setting: `anonymise` "
    "keeps coded answers, events, decisions and invitations for statistics under new ids that nothing the brand "
    "holds leads to; `delete` removes them. A STOP the phone sent stays honoured (kept by the phone's hash). "
    "The answer counts the rows per table; the audit log records the erasure under the customer's pseudonym. "
    "Erasing again is a 404: the external id names nobody any more.",
    responses=problems(
        401,
        403,
        404,
        422,
        503,
        described={409: "A message to the customer is being sent at this moment: try again after `Retry-After`."},
    ),
    operation_class=ProblemOperation,
)
async def erase_customer(request: Req, conn: Conn, external_id: ExternalId) -> Erasure:
    brand_id, actor = request.auth.brand_id, f"key:{request.auth.prefix}"

    async def erase(conn: asyncpg.Connection, _: int) -> Erasure | None:
        return await erasure.erase_customer(conn, brand_id, external_id, actor=actor, now=datetime.now(UTC))

    try:
        erased = await db.with_retries(conn, erase)
    except CustomerBeingContacted:
        raise ApiError(
            409,
            "a message to this customer is being sent right now; erase again in a few seconds",
            headers={"Retry-After": str(RETRY_SECONDS)},
        ) from None
    if erased is None:
        raise NotFoundException(f"no customer {external_id!r}")
    return erased


class AuditPage(msgspec.Struct, kw_only=True):
    items: list[AuditEntry]
    next_cursor: str | None
    """Pass as `cursor` for the next page; null on the last page."""


@get(
    "/audit",
    tags=["brand"],
    opt=requires("manage"),
    summary="The brand's audit log",
    description="Who did what to the brand's data, and when: customers erased (`customer_erased`, named by their "
    "pseudonym, with the rows per table), retention runs (`retention_applied`, with the rows anonymised per "
    "table), exports. Newest first, in pages: pass each page's `next_cursor` as `cursor` for the next. Filter by "
    "`action` and by time (`from` inclusive, `to` exclusive). Entries never hold the personal data they are about.",
    responses=problems(401, 403, 422, 503),
    operation_class=ProblemOperation,
)
async def read_audit(
    request: Req,
    conn: Conn,
    action: Annotated[
        str | None,
        QueryParameter(
            pattern=r"^[a-z_]{1,64}$", description="Only entries of this action, e.g. `customer_erased`."
        ),
    ] = None,
    since: FromTime = None,
    until: ToTime = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> AuditPage:
    start, end = parse_time(since, "from"), parse_time(until, "to")
    if start and end and end <= start:
        raise invalid("query:to", "must be after `from`")
    if cursor is not None and not re.fullmatch(r"[0-9]{1,18}", cursor):
        raise invalid("query:cursor", "is not a cursor this API returned; start again without one")
    found = await audit.entries(
        conn,
        request.auth.brand_id,
        action=action,
        limit=min(limit, MAX_PAGE) + 1,
        before=int(cursor) if cursor else None,
        since=start,
        until=end,
    )
    page = found[:limit]
    return AuditPage(items=page, next_cursor=str(page[-1].audit_id) if len(found) > limit else None)


ROUTES = [erase_customer, read_audit]
