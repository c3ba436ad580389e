"""The request boundary: what a client sends becomes Python values here, or a problem naming what is wrong.

Litestar decodes JSON bodies with msgspec but turns only `msgspec.DecodeError` into a client error; msgspec
reports invalid UTF-8 inside a string as `UnicodeDecodeError`, which would surface as a 500. Every failure to
decode a body is the client's, so `BoundaryRequest.json` turns each into a 400 naming the body.

PostgreSQL text (and jsonb) cannot hold NUL characters, and any string a client sends may reach a query, even on
a GET. So NUL is refused here, once for every route and before any query, naming the field: a JSON pointer in a
body (`BoundaryRequest.json`), ``path:name`` or ``query:name`` for parameters (`refuse_nul_parameters`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from litestar import Request
from litestar.exceptions import SerializationException

from questionnaires.errors import FieldError, pointer
from server.errors import ApiError


class BoundaryRequest(Request[Any, Any, Any]):
    """The request class of the app: JSON bodies decode to values or to a 4xx problem, never to a 500."""

    async def json(self) -> Any:
        try:
            value = await super().json()
        except RecursionError:
            raise unreadable_body("it nests too deeply") from None
        except (SerializationException, ValueError) as exc:  # ValueError: UnicodeDecodeError and kin
            raise unreadable_body(str(exc.__cause__ or exc)) from None
        # JSON text cannot carry a raw NUL byte, only the escape: bodies without one are not walked.
        if b"\\u0000" in await self.body():
            refuse_nul([FieldError(where, NUL_MESSAGE) for where in nul_pointers(value)])
        return value


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
