"""A study participant's diary page (``/d/{token}``): their reports, and a comment on each.

A plain HTML form: it works without JavaScript and loads nothing from elsewhere. A comment is posted back to the
page's own URL and answered with a redirect to it (so reloading does not post again). Every answer keeps the page
out of caches, history sniffing and other sites' frames: no script may run (CSP), no referrer leaves with the
token, nothing is stored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import MediaType, Request, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter, QueryParameter
from litestar.response import Redirect, Template

from responses.studies import diary
from server.deps import Conn

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
_NOT_FOUND = "no such diary"

# Any text: a malformed token is "not found" like an unknown one (no 422 telling them apart).
Token = Annotated[str, PathParameter(description="The diary link's token.")]


@get("/d/{token:str}", include_in_schema=False, media_type=MediaType.HTML)
async def show_diary(
    conn: Conn,
    token: Token,
    saved: Annotated[str | None, QueryParameter(max_length=64)] = None,
) -> Template:
    page = await diary.diary_page(conn, token, datetime.now(UTC))
    if page is None:
        raise NotFoundException(_NOT_FOUND)
    return Template(template_name="diary.html.j2", context={"page": page, "saved": saved}, headers=HEADERS)


@post("/d/{token:str}", include_in_schema=False, status_code=303)
async def comment(request: Request[Any, Any, State], conn: Conn, token: Token) -> Redirect:
    form = await request.form()
    try:
        report_id = UUID(str(form.get("report_id", "")))
    except ValueError:
        # Only a tampered form lacks the page's own report id.
        raise NotFoundException(_NOT_FOUND) from None
    async with conn.transaction():
        saved = await diary.save_comment(conn, token, report_id, str(form.get("comment", "")), datetime.now(UTC))
    if not saved:
        raise NotFoundException(_NOT_FOUND)
    return Redirect(f"/d/{token}?saved={report_id}#r-{report_id}", status_code=303, headers=HEADERS)


ROUTES = [show_diary, comment]
