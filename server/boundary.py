"""The request boundary: what a client sends becomes Python values here, or a problem naming what is wrong.

Litestar decodes JSON bodies with msgspec but turns only `msgspec.DecodeError` into a client error; msgspec
reports invalid UTF-8 inside a string as `UnicodeDecodeError`, which would surface as a 500. Every failure to
decode a body is the client's, so `BoundaryRequest.json` turns each into a 400 naming the body.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import SerializationException

from questionnaires.errors import FieldError
from server.errors import ApiError


class BoundaryRequest(Request[Any, Any, Any]):
    """The request class of the app: JSON bodies decode to values or to a 4xx problem, never to a 500."""

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError:
            raise unreadable_body("it nests too deeply") from None
        except (SerializationException, ValueError) as exc:  # ValueError: UnicodeDecodeError and kin
            raise unreadable_body(str(exc.__cause__ or exc)) from None


def unreadable_body(reason: str) -> ApiError:
    message = f"the request body is not valid JSON: {reason}"
    return ApiError(400, message, errors=[FieldError("", message)])
