"""Path and query parameters the routes share, with the constraints the OpenAPI document shows.

Constraints on a parameter are declared with Litestar's `PathParameter` / `QueryParameter`, never with msgspec's
`Meta`: Litestar copies a `Meta` into the OpenAPI document but its signature model drops it, so the bound would
be documented and not enforced (`tests/server/test_openapi.py` checks that no route does this). NUL characters,
which no parameter may contain, are refused for every route in `server/boundary.py`.
"""

from __future__ import annotations

from typing import Annotated

from litestar.params import PathParameter, QueryParameter

from questionnaires.model import SLUG_PATTERN
from server import tenants

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
