"""The research dashboard, ``/dashboard``: touchpoint figures with their charts, and a customer's timeline.

Server-rendered pages that work without JavaScript and load nothing from elsewhere (`server.pages`). A researcher
signs in with an API key that has the ``export`` scope (``POST /dashboard/login``); the key is exchanged for a
session cookie and not kept (`server.dashboard_session`). Every page but the sign-in needs that session and sends
a browser without one to the sign-in page.

Links, form targets and redirects are relative to the page, like the survey's, so the dashboard keeps working
under a proxy's path prefix; the cookie's path is the dashboard's path under ``LXT_PUBLIC_BASE_URL``.

Sign-in is not rate-limited here: a key has 256 random bits, so guessing is hopeless, and a proxy in front of
lxt is the place to limit requests per client.
"""

from __future__ import annotations

import ipaddress
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any, Final
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from litestar import Request, Response, Router, get, post
from litestar.datastructures import State
from litestar.exceptions import PermissionDeniedException
from litestar.params import QueryParameter
from litestar.response import Redirect

from customers.zones import ZONE_RULE, load_zone
from research import timeline
from research.stats.model import StatsQueryInvalid
from research.stats.query import stats_query
from research.stats.touchpoints import snapshot as stats_snapshot
from research.stats.touchpoints import stats as touchpoint_stats
from research.stats_histogram import first_answer_times
from research.timeline import Position, TimelineQuery
from server import dashboard_session as sessions
from server import dashboard_timeline as entries
from server import dashboard_view as view
from server import tenants
from server.dashboard_session import DashboardSession
from server.deps import Conn
from server.pages import PAGE_EXCEPTION_HANDLERS, PAGE_HEADERS, page
from server.routes.params import CursorQuery, ExternalId
from server.routes.timeline import PERSONAL_DATA_SCOPES
from server.settings import Settings
from triggers import catalog

Req = Request[Any, Any, State]

COOKIE: Final = "lxt_dashboard"
SIGN_IN_COOKIE: Final = "lxt_dashboard_sign_in"
"""The sign-in form's double-submit token: its value is also in the form, and another site can set neither."""
SIGN_IN_FORM_SECONDS: Final = 3600
TIMELINE_PAGE: Final = 100
"""Timeline items per page of the viewer."""


def _cookie_path(settings: Settings) -> str:
    return urlsplit(settings.public_base_url).path.rstrip("/") + "/dashboard"


def _secure(request: Req) -> bool:
    """Whether the cookies are ``Secure``: always but on plain HTTP to this machine itself (``make run``). Chromium
    keeps Secure cookies from http://localhost and http://127.0.0.1 (tried), but not every browser does, and a
    dropped cookie would make sign-in fail. A public base URL of ``https:`` means a TLS proxy in front, whatever
    the request looks like behind it."""
    settings: Settings = request.app.state.settings
    if request.url.scheme == "https" or settings.public_base_url.startswith("https:"):
        return True
    host = request.url.hostname or ""
    try:
        return not (host == "localhost" or ipaddress.ip_address(host).is_loopback)
    except ValueError:
        return True


def _set_cookie(request: Req, response: Response[Any], name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=_cookie_path(request.app.state.settings),
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )


def _cross_site(request: Req) -> bool:
    """A form posted from another site, as the browser says (Fetch Metadata). Older browsers send nothing; the
    forms' tokens still stop them."""
    return request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none")


def _redirect(to: str) -> Redirect:
    return Redirect(to, status_code=303, headers=dict(PAGE_HEADERS))


async def _session(request: Req, conn: Conn) -> DashboardSession | None:
    return await sessions.find(conn, request.cookies.get(COOKIE), datetime.now(UTC))


@get("/login", include_in_schema=False)
async def sign_in_form(request: Req) -> Response[Any]:
    return _sign_in_page(request)


def _sign_in_page(request: Req, error: str | None = None, status: int = 200) -> Response[Any]:
    """The sign-in form with a fresh token, in the form and in its cookie."""
    token = secrets.token_urlsafe(24)
    settings: Settings = request.app.state.settings
    # Plain HTTP to another machine without an https public URL: the browser will not send the Secure cookies back.
    plain = request.url.scheme == "http" and _secure(request) and not settings.public_base_url.startswith("https:")
    context = {
        **view.chrome(depth=1),
        "csrf": token,
        "error": error,
        "lifetime": view.LIFETIME_TEXT,
        "needs_https": plain,
    }
    response = page("dashboard_login.html.j2", context, status)
    _set_cookie(request, response, SIGN_IN_COOKIE, token, SIGN_IN_FORM_SECONDS)
    return response


@post("/login", include_in_schema=False)
async def sign_in(request: Req, conn: Conn) -> Response[Any]:
    form = await request.form()
    expected = request.cookies.get(SIGN_IN_COOKIE)
    if _cross_site(request) or not expected or not sessions.same_token(form.get("csrf"), expected):
        return _sign_in_page(request, "The sign-in form had expired. Please enter the key again.", 403)
    key = str(form.get("key", "")).strip()
    principal = await tenants.verify_key(conn, key) if tenants.looks_like_key(key) else None
    if principal is None:
        return _sign_in_page(request, "This key is not valid, or it was revoked.", 401)
    if not sessions.may_sign_in(principal):
        return _sign_in_page(request, "This key cannot open the dashboard: it needs the export scope.", 403)
    previous = request.cookies.get(COOKIE)
    if previous:  # signing in again, perhaps with another key: one session per browser
        await sessions.end(conn, previous)
    token = await sessions.start(conn, principal, datetime.now(UTC))
    response = _redirect("../dashboard")
    _set_cookie(request, response, COOKIE, token, int(sessions.SESSION_LIFETIME.total_seconds()))
    response.delete_cookie(SIGN_IN_COOKIE, path=_cookie_path(request.app.state.settings))
    return response


@post("/logout", include_in_schema=False)
async def sign_out(request: Req, conn: Conn) -> Response[Any]:
    form = await request.form()
    token = request.cookies.get(COOKIE)
    session = await _session(request, conn)
    if session is not None and (_cross_site(request) or not sessions.same_token(form.get("csrf"), session.csrf)):
        raise PermissionDeniedException("the form's token is not this session's")
    if token:
        await sessions.end(conn, token)
    response = _redirect("login")
    response.delete_cookie(COOKIE, path=_cookie_path(request.app.state.settings))
    return response


@get("/", include_in_schema=False)
async def overview(request: Req, conn: Conn) -> Response[Any]:
    # Litestar routes /dashboard/ here too, but the page's relative links need /dashboard (the path as sent).
    if request.scope.get("raw_path", b"").partition(b"?")[0].endswith(b"/"):
        return _redirect("../dashboard" + (f"?{request.url.query}" if request.url.query else ""))
    session = await _session(request, conn)
    if session is None:
        return _redirect("dashboard/login")
    now = datetime.now(UTC)
    touchpoints = await catalog.list_touchpoints(conn, session.brand_id)
    params = {name: request.query_params.get(name) for name in ("from", "to", "bucket", "touchpoint", "tz")}
    controls = view.read_controls(params, [tp.key for tp in touchpoints], now)
    context: dict[str, Any] = {
        **view.chrome(0, session),
        "controls": controls,
        "touchpoints": touchpoints,
        "zones": view.ZONES,
    }
    if controls.start is None or controls.end is None:
        return page("dashboard.html.j2", context, 422)
    try:
        query = stats_query(
            "touchpoint",
            start=controls.start,
            end=controls.end,
            bucket=controls.bucket,
            tz=controls.tz,
            now=now,
            touchpoint=controls.touchpoint or None,
        )
    except StatsQueryInvalid as refused:
        controls.errors.update(view.control_errors(refused))
        return page("dashboard.html.j2", context, 422)
    # The table and the histogram from one snapshot, each statement planned for this brand and range.
    async with stats_snapshot(conn):
        figures = await touchpoint_stats(conn, session.brand_id, query)
        bins = await first_answer_times(conn, session.brand_id, query.start, query.end, query.touchpoint)
    context.update(view.overview(figures, bins, ZoneInfo(query.tz)))
    return page("dashboard.html.j2", context)


@get("/customer", include_in_schema=False)
async def find_customer(
    external_id: Annotated[str, QueryParameter(min_length=1, max_length=200)],
    tz: Annotated[str, QueryParameter(max_length=64)] = "UTC",
) -> Redirect:
    """The look-up form's target: the customer's page, at its address."""
    return _redirect(f"customers/{quote(external_id.strip(), safe='')}?tz={quote(tz, safe='/')}")


@get("/customers/{external_id:str}", include_in_schema=False)
async def customer(
    request: Req,
    conn: Conn,
    external_id: ExternalId,
    tz: Annotated[str, QueryParameter(max_length=64)] = "UTC",
    cursor: CursorQuery = None,
) -> Response[Any]:
    session = await _session(request, conn)
    if session is None:
        return _redirect("../login")
    zone = load_zone(tz)
    try:
        after = Position.from_cursor(cursor) if cursor else None
    except ValueError:
        after = None  # a mangled link: its first page
    query = TimelineQuery(after=after, limit=TIMELINE_PAGE)
    personal = not PERSONAL_DATA_SCOPES.isdisjoint(session.scopes)
    found = await timeline.customer_timeline(conn, session.brand_id, external_id, query, personal=personal)
    context = {
        **view.chrome(2, session),
        "external_id": external_id,
        "found": found is not None,
        "tz": tz,
        "tz_error": None if zone else f"Unknown time zone: {ZONE_RULE}.",
        "zones": view.ZONES,
        "first_page": after is None,
    }
    if found is None:
        return page("dashboard_customer.html.j2", context, 404)
    context["days"] = entries.days(found.items, zone or ZoneInfo("UTC"))
    context["next_page"] = found.next_cursor and f"?tz={quote(tz, safe='/')}&cursor={found.next_cursor}"
    return page("dashboard_customer.html.j2", context, 200 if zone else 422)


ROUTER = Router(
    path="/dashboard",
    route_handlers=[sign_in_form, sign_in, sign_out, overview, find_customer, customer],
    exception_handlers=PAGE_EXCEPTION_HANDLERS,
)
