"""Path and query parameters the routes share, with the constraints the OpenAPI document shows.

Constraints on a parameter are declared with Litestar's `PathParameter` / `QueryParameter`, never with msgspec's
`Meta`: Litestar copies a `Meta` into the OpenAPI document but its signature model drops it, so the bound would
be documented and not enforced (`tests/server/test_openapi.py` checks that no route does this). NUL characters,
which no parameter may contain, are refused for every route in `server/boundary.py`.

Lists are paginated with an opaque cursor (`encode_cursor`): the (time, id) of the last item of a page, from
which the next page continues in the list's order.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated
from uuid import UUID

from litestar.params import PathParameter, QueryParameter

from notifications.history import MAX_PAGE
from questionnaires.model import SLUG_PATTERN
from server import tenants
from server.errors import invalid

_KEY = "Lower-case identifier: a letter, then up to 62 letters, digits, '_' or '-'."

Key = Annotated[str, PathParameter(pattern=SLUG_PATTERN, description=_KEY)]
"""The key of a touchpoint, trigger or questionnaire."""

KeyQuery = Annotated[str | None, QueryParameter(pattern=SLUG_PATTERN, description=_KEY)]

ExternalId = Annotated[
    str, PathParameter(min_length=1, max_length=200, description="The brand's own id of the customer.")
]

Version = Annotated[int, PathParameter(ge=1, le=2**31 - 1, description="A questionnaire version number.")]

KeyPrefix = Annotated[str, PathParameter(min_length=1, max_length=64, description="The prefix of an API key.")]

BrandSlug = Annotated[
    str,
    PathParameter(
        pattern=tenants.Slug.__metadata__[0].pattern,
        description="The brand's slug: lower-case letters, digits, '-'.",
    ),
]

LocaleQuery = Annotated[
    str | None,
    QueryParameter(max_length=35, description="BCP 47 tag of the wanted translation, e.g. 'de-CH'."),
]

_CURSOR = "Where the previous page ended: its `next_cursor`, as returned. Omit for the first page."

CursorQuery = Annotated[str | None, QueryParameter(min_length=1, max_length=200, description=_CURSOR)]

LimitQuery = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE, description=f"Items per page, at most {MAX_PAGE}.")]


def encode_cursor(at: datetime, item_id: UUID) -> str:
    """An opaque cursor for keyset pagination on (time, id): the page after this item."""
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{item_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, UUID] | None:
    """The (time, id) an `encode_cursor` cursor holds; a 422 naming ``query:cursor`` for anything else."""
    if cursor is None:
        return None
    try:
        at, _, item_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition("|")
        parsed = datetime.fromisoformat(at), UUID(item_id)
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors too
        parsed = None
    if parsed is None or parsed[0].tzinfo is None:
        raise invalid("query:cursor", "is not a cursor this API returned; start again without one")
    return parsed


IdempotencyKeyPath = Annotated[
    str,
    PathParameter(min_length=1, max_length=200, description="The idempotency key the event was reported with."),
]

InvitationId = Annotated[
    str, PathParameter(description="The invitation's id (a UUID, as the event's answer gave it).")
]

_TIME = (
    "An ISO 8601 time with its UTC offset: `2026-11-24T09:00:00Z`, or `%2B01:00` for `+01:00` in a query string."
)

# Times in query strings are text, parsed by `parse_time`: Litestar would also take a number as a Unix time.
FromTime = Annotated[
    str | None,
    QueryParameter(name="from", format="date-time", max_length=64, description=f"From (inclusive). {_TIME}"),
]
ToTime = Annotated[
    str | None,
    QueryParameter(name="to", format="date-time", max_length=64, description=f"Until (exclusive). {_TIME}"),
]


def parse_time(value: str | None, name: str) -> datetime | None:
    """A `FromTime` or `ToTime` value as an aware datetime, or a 422 naming ``query:<name>``."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        hint = " (a '+' in a query string reads as a space: write it %2B)" if " " in value else ""
        raise invalid(f"query:{name}", f"is not an ISO 8601 time{hint}") from None
    if parsed.tzinfo is None:
        raise invalid(f"query:{name}", "needs a UTC offset (e.g. `Z`)")
    return parsed
