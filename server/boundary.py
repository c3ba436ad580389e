"""The request boundary: what a client sends becomes Python values here, or a problem naming what is wrong.

Litestar decodes JSON bodies with msgspec but turns only `msgspec.DecodeError` into a client error; msgspec
reports invalid UTF-8 inside a string as `UnicodeDecodeError`, which would surface as a 500. Every failure to
decode a body is the client's, so `BoundaryRequest.json` turns each into a 400 naming the body.

A route's body is decoded straight into the type of its ``data`` parameter, strictly: Litestar would decode it
to dicts and convert those leniently (``0`` for ``false``, ``"5"`` for ``5``), accepting what the OpenAPI
document says is invalid. Invalid bodies are a 422 naming each field (`server.errors.invalid_body`).

PostgreSQL text (and jsonb) cannot hold NUL characters, and any string a client sends may reach a query, even on
a GET. So NUL is refused here, once for every route and before any query, naming the field: a JSON pointer in a
body (`BoundaryRequest.json`), ``path:name`` or ``query:name`` for parameters (`check_parameters`). Questionnaire
documents, which their route reads itself, are checked by their own decoder (`questionnaires.load`).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable
from typing import Any
from urllib.parse import unquote_to_bytes

import msgspec
from litestar import Request
from litestar.exceptions import SerializationException
from litestar.handlers import HTTPRouteHandler

from plumbing.errors import NUL_MESSAGE, FieldError, nul_errors
from server.errors import ApiError, invalid_body


class BoundaryRequest(Request[Any, Any, Any]):
    """The request class of the app: JSON bodies decode to values or to a 4xx problem, never to a 500."""

    async def json(self) -> Any:
        body = await self.body()
        decoder = body_decoder(self.route_handler)
        # JSON text cannot carry a raw NUL byte, only the escape: bodies without one take the one typed pass.
        if decoder is not None and b"\\u0000" not in body:
            try:
                return decoder.decode(body)
            except (msgspec.DecodeError, ValueError, RecursionError):
                # The typed decoder stops at the first field it refuses, which may come before the text stops
                # being JSON; a body that is not JSON at all is unreadable (400) before it is invalid (422).
                pass
        value = await _readable(super().json())
        if decoder is None:
            return value
        try:
            return decoder.decode(body)
        except msgspec.ValidationError as exc:
            raise invalid_body(exc) from None


async def _readable(decoding: Awaitable[Any]) -> Any:
    """The decoded JSON body, or a 400 saying why it cannot be read, or a 422 for NUL in its strings."""
    try:
        value = await decoding
    except RecursionError:
        raise unreadable_body("it nests too deeply") from None
    except (SerializationException, ValueError) as exc:  # ValueError: UnicodeDecodeError and kin
        raise unreadable_body(str(exc.__cause__ or exc)) from None
    refuse_nul(nul_errors(value))
    return value


@functools.cache
def body_decoder(handler: HTTPRouteHandler) -> msgspec.json.Decoder[Any] | None:
    """A strict decoder for the route's ``data`` parameter (built once per route), or None if it has none."""
    data = handler.parsed_fn_signature.parameters.get("data")
    return msgspec.json.Decoder(data.annotation, strict=True) if data is not None else None


def unreadable_body(reason: str) -> ApiError:
    message = f"the request body is not valid JSON: {reason}"
    return ApiError(400, message, errors=[FieldError("", message)])


async def check_parameters(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook of the app: path and query parameters must be UTF-8 once percent-decoded (400:
    ASGI servers decode them leniently, so different bytes would name the same object), and must not contain NUL
    (422)."""
    undecodable = _undecodable_parameters(request)
    if undecodable:
        raise ApiError.naming(400, [FieldError(name, "is not UTF-8 once percent-decoded") for name in undecodable])
    errors = [
        FieldError(f"path:{name}", NUL_MESSAGE)
        for name, value in request.path_params.items()
        if isinstance(value, str) and "\x00" in value
    ]
    if request.scope["query_string"]:
        errors += [
            FieldError(f"query:{name}", NUL_MESSAGE)
            for name, value in request.query_params.multi_items()
            if "\x00" in name or "\x00" in value
        ]
    refuse_nul(errors)


def _undecodable_parameters(request: Request[Any, Any, Any]) -> list[str]:
    names = []
    raw_path: bytes | None = request.scope.get("raw_path")
    if raw_path and b"%" in raw_path and not _is_utf8(unquote_to_bytes(raw_path)):
        strings = {n: v for n, v in request.path_params.items() if isinstance(v, str)}
        names += [f"path:{n}" for n, v in strings.items() if not _is_clean(v)] or [f"path:{n}" for n in strings]
    query: bytes = request.scope["query_string"]
    if b"%" in query:
        for pair in query.split(b"&"):
            name, _, value = (unquote_to_bytes(part.replace(b"+", b" ")) for part in pair.partition(b"="))
            if not (_is_utf8(name) and _is_utf8(value)):
                names.append(f"query:{name.decode(errors='replace')}")
    return names


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def _is_clean(text: str) -> bool:
    """Whether a leniently decoded text shows no trace of undecodable bytes (replacement or surrogate)."""
    return "\ufffd" not in text and not any("\ud800" <= c <= "\udfff" for c in text)


def refuse_nul(errors: list[FieldError]) -> None:
    if errors:
        raise ApiError.naming(422, errors)
