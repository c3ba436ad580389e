"""HTML pages for customers (the web survey, and any page lxt serves to a phone): templates, static assets,
security headers, and error pages instead of problem documents.

Pages are rendered on the server from ``server/templates`` (Jinja2, autoescaped) and work without JavaScript;
the stylesheet and the one script are served by lxt itself from ``/static``, so a page loads nothing from
elsewhere and its Content-Security-Policy allows nothing inline (no 'unsafe-inline'). Asset URLs carry a hash of
the file's content, so they are cached for a year and a new release is fetched at once.

Links between pages and to assets are relative (``../static/page.css``, a redirect to ``TOKEN``): a page at
``/s/{token}`` keeps working when a proxy serves lxt under a path prefix of ``LXT_PUBLIC_BASE_URL``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import asyncpg
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import MediaType, Request, Response, Router
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import HTTPException, NotFoundException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from questionnaires.locales import language, normalize_locale
from questionnaires.messages import CATALOGS, Catalog, catalog
from server import db
from server.errors import ApiError

log = logging.getLogger("lxt.pages")

HERE = Path(__file__).resolve().parent
TEMPLATES: Final = HERE / "templates"
STATIC: Final = HERE / "static"

CSP: Final = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",  # the page's URL is the customer's credential
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors, for browsers that predate it
    "Cache-Control": "no-store",  # answers and links stay out of shared and back-button caches
}
"""Every page's headers, error pages included."""


def _fingerprints(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:12] for p in sorted(directory.iterdir())}


ASSETS: Final = _fingerprints(STATIC)


def asset(name: str) -> str:
    """The URL of a static file from a page one level below the root (``/s/{token}``), with its fingerprint."""
    return f"../static/{name}?v={ASSETS[name]}"


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """The app's templates. Undefined names fail loudly rather than render as blanks; whitespace around block tags
    is trimmed, which keeps pages small."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    environment.globals["asset"] = asset
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def static_router() -> Router:
    """``/static``: the pages' stylesheet and script, cached for a year (their URLs change with their content)."""
    return create_static_files_router(
        path="/static",
        directories=[STATIC],
        cache_control=CacheControlHeader(public=True, max_age=31_536_000, immutable=True),
        after_request=_nosniff,
        include_in_schema=False,
    )


async def _nosniff(response: Response[Any]) -> Response[Any]:
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def page(name: str, context: Mapping[str, Any], status: int = 200) -> Template:
    """The template `name` rendered as an HTML page with the pages' security headers."""
    return Template(
        template_name=name,
        context=dict(context),
        status_code=status,
        media_type=MediaType.HTML,
        headers=dict(PAGE_HEADERS),
    )


def chrome(locale: str) -> dict[str, Any]:
    """What every page's layout needs: the document's language and lxt's texts in it."""
    return {"lang": locale, "t": catalog(locale)}


def preferred_locale(request: Request[Any, Any, Any]) -> str:
    """The first language of the browser's ``Accept-Language`` that lxt has texts in, else English: for pages
    that belong to no questionnaire (an unknown link) and so have no customer locale."""
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(request.headers.get("accept-language", "").split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        normalized = normalize_locale(tag)
        if normalized and quality > 0 and language(normalized) in CATALOGS:
            weighted.append((-quality, position, language(normalized)))
    return min(weighted)[2] if weighted else "en"


def message_page(locale: str, heading: str, text: str, status: int, *, again: bool = False) -> Template:
    """A page that only says something: a closed survey, an unknown link, an error."""
    context = {**chrome(locale), "heading": heading, "text": text, "again": again}
    return page("message.html.j2", context, status)


def not_found_page(request: Request[Any, Any, Any]) -> Template:
    """The one page for every link that leads nowhere: the same bytes whatever was asked for (given the same
    ``Accept-Language``), so it tells nothing about which links exist."""
    texts: Catalog = catalog(preferred_locale(request))
    return message_page(preferred_locale(request), texts.unknown_heading, texts.unknown_text, 404)


def _error_page(request: Request[Any, Any, Any], status: int) -> Template:
    locale = preferred_locale(request)
    texts = catalog(locale)
    return message_page(locale, texts.error_heading, texts.error_text, status, again=True)


def _on_not_found(request: Request[Any, Any, Any], exc: Exception) -> Template:
    return not_found_page(request)


def _on_refused_parameter(request: Request[Any, Any, Any], exc: ApiError) -> Template:
    # A path parameter that is not UTF-8 or holds NUL (server/boundary.py) is a malformed link: the unknown page.
    if any(error.pointer.startswith("path:") for error in exc.errors or []):
        return not_found_page(request)
    return _error_page(request, 400)


def _on_http(request: Request[Any, Any, Any], exc: HTTPException) -> Template:
    if exc.status_code == 404:
        return not_found_page(request)
    return _error_page(request, exc.status_code if 400 <= exc.status_code < 500 else 500)


def _on_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Template:
    log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    response = _error_page(request, 503)
    response.headers["Retry-After"] = "5"
    return response


def _on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Template:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error_page(request, 500)


PAGE_EXCEPTION_HANDLERS: Final[dict[type[Exception], Any]] = {
    NotFoundException: _on_not_found,
    ApiError: _on_refused_parameter,
    HTTPException: _on_http,
    db.DatabaseUnavailable: _on_unavailable,
    asyncpg.PostgresConnectionError: _on_unavailable,
    asyncpg.CannotConnectNowError: _on_unavailable,
    asyncpg.TooManyConnectionsError: _on_unavailable,
    ConnectionError: _on_unavailable,
    Exception: _on_unexpected,
}
"""A router of pages answers its errors with pages (the API's are problem documents, `server.errors`)."""
