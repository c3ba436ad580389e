"""The request boundary: what a client sends becomes Python values here, or a problem naming what is wrong.

Litestar decodes JSON bodies with msgspec but turns only `msgspec.DecodeError` into a client error; msgspec
reports invalid UTF-8 inside a string as `UnicodeDecodeError`, which would surface as a 500. Every failure to
decode a body is the client's, so `BoundaryRequest.json` turns each into a 400 naming the body.

A route's body is decoded straight into the type of its ``data`` parameter, strictly: Litestar would decode it
to dicts and convert those leniently (``0`` for ``false``, ``"5"`` for ``5``), accepting what the OpenAPI
document says is invalid. Invalid bodies are a 422 naming each field (`server.errors.invalid_body`).

PostgreSQL text (and jsonb) cannot hold NUL characters, and any string a client sends may reach a query, even on
a GET. So NUL is refused here, once for every route and before any query, naming the field: a JSON pointer in a
body (`BoundaryRequest.json`), ``path:name`` or ``query:name`` for parameters (`refuse_nul_parameters`).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Iterator
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import SerializationException
from litestar.handlers import HTTPRouteHandler

from plumbing.errors import FieldError, pointer
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
    refuse_nul([FieldError(where, NUL_MESSAGE) for where in nul_pointers(value)])
    return value


@functools.cache
def body_decoder(handler: HTTPRouteHandler) -> msgspec.json.Decoder[Any] | None:
    """A strict decoder for the route's ``data`` parameter (built once per route), or None if it has none."""
    data = handler.parsed_fn_signature.parameters.get("data")
    return msgspec.json.Decoder(data.annotation, strict=True) if data is not None else None


def unreadable_body(reason: str) -> ApiError:
    message = f"the request body is not valid JSON: {reason}"
    return ApiError(400, message, errors=[FieldError("", message)])


NUL_MESSAGE = "must not contain NUL (\\u0000) characters"


def nul_pointers(value: Any, *path: str | int) -> Iterator[str]:
    """JSON pointers to every string (member names included) of a decoded JSON value that contains NUL."""
    if isinstance(value, str):
        if "\x00" in value:
            yield pointer(*path)
    elif isinstance(value, dict):
        for name, member in value.items():
            if "\x00" in name:
                yield pointer(*path, name)
            yield from nul_pointers(member, *path, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from nul_pointers(item, *path, index)


async def refuse_nul_parameters(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook of the app: path and query parameters must not contain NUL either."""
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


def refuse_nul(errors: list[FieldError]) -> None:
    if errors:
        raise ApiError(422, "; ".join(f"{e.pointer}: {e.message}" for e in errors), errors=errors)
