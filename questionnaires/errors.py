"""Typed errors of the pure domain packages.

`server/errors.py` maps every `DefinitionInvalid` to one RFC 9457 problem whose `errors` list names each field
with a JSON pointer into the submitted document.
"""

from __future__ import annotations

import msgspec


class FieldError(msgspec.Struct, frozen=True):
    """One problem with one field of a submitted definition."""

    pointer: str
    """JSON pointer (RFC 6901) to the offending field, e.g. ``/questions/2/show_if/gte``."""
    message: str


class DefinitionInvalid(Exception):
    """A submitted definition (questionnaire, trigger, condition …) is invalid; `errors` says where and why."""

    title = "Invalid definition"

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.pointer}: {e.message}" for e in errors))


class QuestionnaireInvalid(DefinitionInvalid):
    title = "Invalid questionnaire"


def pointer(*parts: str | int) -> str:
    """Build a JSON pointer from path parts, escaping ``~`` and ``/`` as RFC 6901 requires."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
