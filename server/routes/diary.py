"""A study participant's diary page (``/d/{token}``): their reports, and a comment on each.

A plain HTML form: it works without JavaScript and loads nothing from elsewhere. A comment is posted back to the
page's own URL and answered with a redirect to it (so reloading does not post again). Every answer keeps the page
out of caches, history sniffing and other sites' frames: no script may run (CSP), no referrer leaves with the
token, nothing is stored (`server.pages.PAGE_HEADERS`, the survey page's).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Request, Router, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter, QueryParameter
from litestar.response import Redirect, Template

from responses.studies import diary
from server.deps import Conn
from server.pages import PAGE_EXCEPTION_HANDLERS, PAGE_HEADERS, page

# Any text: a malformed token is "not found" like an unknown one (no 422 telling them apart), and either gets the
# one page every link that leads nowhere gets (`server.pages.not_found_page`).
Token = Annotated[str, PathParameter(description="The diary link's token.")]


@get("/{token:str}", include_in_schema=False)
async def show_diary(
    conn: Conn,
    token: Token,
    saved: Annotated[str | None, QueryParameter(max_length=64)] = None,
) -> Template:
    found = await diary.diary_page(conn, token, datetime.now(UTC))
    if found is None:
        raise NotFoundException()
    return page("diary.html.j2", {"lang": found.lang, "page": found, "saved": saved})


@post("/{token:str}", include_in_schema=False, status_code=303)
async def comment(request: Request[Any, Any, State], conn: Conn, token: Token) -> Redirect:
    form = await request.form()
    try:
        report_id = UUID(str(form.get("report_id", "")))
    except ValueError:
        # Only a tampered form lacks the page's own report id.
        raise NotFoundException() from None
    async with conn.transaction():
        saved = await diary.save_comment(conn, token, report_id, str(form.get("comment", "")), datetime.now(UTC))
    if not saved:
        raise NotFoundException()
    # Relative, like every link of the pages: it keeps working under a proxy's path prefix.
    return Redirect(f"{token}?saved={report_id}#r-{report_id}", status_code=303, headers=dict(PAGE_HEADERS))


ROUTER = Router(path="/d", route_handlers=[show_diary, comment], exception_handlers=PAGE_EXCEPTION_HANDLERS)
