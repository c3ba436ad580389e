"""Every HTTP error as RFC 9457 ``application/problem+json``, mapped in one place.

Domain code raises typed exceptions; this module turns them into problems. Validation problems carry an
``errors`` list whose items name the field with a JSON pointer into the request body (or ``query``/``path``
parameter name), so a client can show the message next to the field.

It also describes them in the OpenAPI document: each route lists the problems it can answer with
``responses=problems(...)`` and ``operation_class=ProblemOperation``, so clients generated from the document know
every status and its shape.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Operation
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from plumbing.errors import Conflict, DefinitionInvalid, FieldError, from_msgspec
from questionnaires.load import DocumentUnreadable
from responses.answers import InvitationClosed, InvitationCompleted
from server import db

log = logging.getLogger("lxt.errors")

PROBLEM_JSON = "application/problem+json"
_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid request",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class ProblemDetails(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details, with lxt's extension member ``errors`` for field-level problems."""

    type: Annotated[str, msgspec.Meta(description="A URI identifying the problem type; `about:blank` for most.")]
    title: Annotated[str, msgspec.Meta(description="A short summary of the problem type.")]
    status: Annotated[int, msgspec.Meta(ge=400, le=599, description="The HTTP status code.")]
    detail: Annotated[str, msgspec.Meta(description="What went wrong with this request.")] | None = None
    instance: Annotated[str, msgspec.Meta(description="The path of the request.")] | None = None
    errors: (
        Annotated[
            list[FieldError],
            msgspec.Meta(
                description='Each input at fault: `pointer` is a JSON pointer into the body (`""` for the body as '
                "a whole), or `path:name`, `query:name`, `header:name` for a parameter. Present on every 400, "
                "409, 410, 413, 415 and 422."
            ),
        ]
        | None
    ) = None


_DESCRIPTIONS = {
    400: "The body cannot be read: not JSON (or YAML where accepted), not UTF-8, or nested too deeply.",
    401: "No API key (or operator token), or one that is not valid or was revoked.",
    403: "The API key lacks the scope this operation needs.",
    404: "Nothing of that name in the calling brand (another brand's is a 404 too).",
    409: "Conflicts with what is stored.",
    410: "Gone for good.",
    413: "The body is larger than the server accepts (`LXT_MAX_BODY_BYTES`).",
    415: "The body's content type is not one this operation reads.",
    422: "An input is invalid; `errors` names each.",
    503: "The database is unavailable; nothing was stored. Retry after `Retry-After` seconds.",
}


def problems(*statuses: int, described: Mapping[int, str] | None = None) -> dict[int, ResponseSpec]:
    """The problems an operation can answer, for its ``responses=``; `described` adds statuses with their own text."""
    texts = {status: _DESCRIPTIONS[status] for status in statuses} | dict(described or {})
    return {
        status: ResponseSpec(
            data_container=ProblemDetails, description=text, media_type=PROBLEM_JSON, generate_examples=False
        )
        for status, text in sorted(texts.items())
    }


@dataclass
class ProblemOperation(Operation):
    """The OpenAPI operation of every lxt route: its problems are the ones it declares with `problems`.

    Litestar documents a 400 in its own ``{status_code, detail, extra}`` JSON for every operation with parameters
    or a body. lxt answers invalid parameters with a 422 problem, and a 400 only where it decodes a body, which
    those routes declare; the 400 Litestar made up is dropped.
    """

    def __post_init__(self) -> None:
        declared = (self.responses or {}).get("400")
        if declared is not None and PROBLEM_JSON not in (getattr(declared, "content", None) or {}):
            del self.responses["400"]  # type: ignore[union-attr]


class ApiError(Exception):
    """A problem raised deliberately by a route or service, e.g. a conflict."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type_: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type_
        self.errors = errors
        self.headers = headers or {}

    @classmethod
    def naming(cls, status: int, errors: list[FieldError]) -> ApiError:
        """A problem about these fields, its detail listing each one."""
        return cls(status, fields_detail(errors), errors=errors)


def fields_detail(errors: list[FieldError]) -> str:
    """A problem's detail for field errors: ``/name: message; path:key: message``."""
    return "; ".join(f"{e.pointer or 'body'}: {e.message}" for e in errors)


def invalid(pointer: str, message: str) -> ApiError:
    """A 422 naming one field."""
    return ApiError.naming(422, [FieldError(pointer, message)])


def problem_response(
    request: Request[Any, Any, Any],
    status: int,
    detail: str | None = None,
    *,
    type_: str | None = None,
    title: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[ProblemDetails]:
    problem = ProblemDetails(
        type=type_ or "about:blank",
        title=title or _TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        instance=request.url.path,
        errors=errors,
    )
    return Response(problem, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_error(item: dict[str, Any]) -> FieldError:
    """One of Litestar's validation items as a field error. Litestar reports msgspec's message and the path
    apart: {"message": "Expected `int`, got `str`", "key": "events[3].occurred_at"}; the key is "data" for the
    body as a whole."""
    message = str(item.get("message", ""))
    key = str(item.get("key", ""))
    source = item.get("source")
    source = getattr(source, "value", source)  # Litestar's ParamType enum, whose str() is "ParamType.PATH"
    if source in ("query", "path", "header", "cookie"):
        return FieldError(f"{source}:{key}", message)
    if key == "data" and message == "'data'":
        return FieldError("", "a JSON request body is required")
    if key in ("data", "$", ""):
        return from_msgspec(message)
    return from_msgspec(f"{message} - at `{key if key.startswith('$') else '$.' + key}`")


def invalid_body(error: msgspec.ValidationError) -> ApiError:
    """A 422 naming the field of a body msgspec refused: "… - at `$.events[3].occurred_at`"."""
    return ApiError.naming(422, [from_msgspec(error)])


def _validation_errors(exc: ValidationException) -> list[FieldError]:
    extra = exc.extra if isinstance(exc.extra, list) else [exc.extra] if exc.extra else []
    errors = [_field_error(item) for item in extra if isinstance(item, dict)]
    return errors or [FieldError("", str(exc.detail))]


def handle_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[ProblemDetails]:
    errors = _validation_errors(exc)
    return problem_response(request, 422, fields_detail(errors), errors=errors)


def handle_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ProblemDetails]:
    headers = dict(exc.headers or {})
    if exc.status_code == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="lxt"')
    detail = exc.detail if exc.detail and exc.detail != _TITLES.get(exc.status_code) else None
    errors = None
    if exc.status_code in (400, 413):  # Litestar's, about the body as a whole (e.g. too large)
        errors = [FieldError("", detail or _TITLES[exc.status_code])]
    return problem_response(request, exc.status_code, detail, errors=errors, headers=headers)


def handle_api_error(request: Request[Any, Any, Any], exc: ApiError) -> Response[ProblemDetails]:
    return problem_response(
        request, exc.status, exc.detail, type_=exc.type, errors=exc.errors, headers=exc.headers
    )


def handle_definition(request: Request[Any, Any, Any], exc: DefinitionInvalid) -> Response[ProblemDetails]:
    return problem_response(request, 422, str(exc), title=exc.title, errors=exc.errors)


def handle_conflict(request: Request[Any, Any, Any], exc: Conflict) -> Response[ProblemDetails]:
    return problem_response(request, 409, str(exc), title=exc.title, errors=exc.errors)


def handle_unreadable(request: Request[Any, Any, Any], exc: DocumentUnreadable) -> Response[ProblemDetails]:
    # Like a body that is not JSON: nothing in it could be checked, so it is a bad request, not an invalid one.
    return problem_response(request, 400, str(exc), title=exc.title, errors=exc.errors)


def handle_closed(request: Request[Any, Any, Any], exc: InvitationClosed) -> Response[ProblemDetails]:
    # An answer that comes too late is no conflict with what is stored: the survey is gone for good (410).
    # The request is refused as a whole, so its `errors` name the body ("").
    if isinstance(exc, InvitationCompleted):
        status, message = 409, "the survey was completed: it takes no more answers"
    else:
        status, message = 410, "the time to answer the survey is over: it takes no more answers"
    return problem_response(request, status, message, errors=[FieldError("", message)])


def handle_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[ProblemDetails]:
    log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return problem_response(
        request, 503, "the database is unavailable; nothing was stored, retry later", headers={"Retry-After": "5"}
    )


def handle_unstorable(request: Request[Any, Any, Any], exc: asyncpg.DataError) -> Response[ProblemDetails]:
    # A value PostgreSQL refuses (a number out of range …): bad input, and nothing was stored. But validation
    # should have named the field before any query ran, so this is logged as the gap it is. asyncpg's message
    # names SQL parameters and types, which is no business of the client's.
    log.warning("unvalidated value refused by the database on %s %s: %s", request.method, request.url.path, exc)
    message = "a value in the request cannot be stored"
    return problem_response(request, 422, message, errors=[FieldError("", message)])


def handle_too_deep(request: Request[Any, Any, Any], exc: RecursionError) -> Response[ProblemDetails]:
    message = "the request body is nested too deeply"
    return problem_response(request, 400, message, errors=[FieldError("", message)])


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[ProblemDetails]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(request, HTTP_500_INTERNAL_SERVER_ERROR, "an unexpected error occurred; it was logged")


EXCEPTION_HANDLERS: dict[type[Exception], Any] = {
    ValidationException: handle_validation,
    HTTPException: handle_http,
    ApiError: handle_api_error,
    Conflict: handle_conflict,
    DefinitionInvalid: handle_definition,
    DocumentUnreadable: handle_unreadable,
    InvitationClosed: handle_closed,
    asyncpg.DataError: handle_unstorable,
    RecursionError: handle_too_deep,
    db.DatabaseUnavailable: handle_unavailable,
    asyncpg.PostgresConnectionError: handle_unavailable,
    asyncpg.CannotConnectNowError: handle_unavailable,
    asyncpg.TooManyConnectionsError: handle_unavailable,
    ConnectionError: handle_unavailable,
    Exception: handle_unexpected,
}

__all__ = [
    "EXCEPTION_HANDLERS",
    "PROBLEM_JSON",
    "ApiError",
    "MediaType",
    "ProblemDetails",
    "ProblemOperation",
    "invalid",
    "problems",
]
