"""Field errors: what is wrong with which field of a submitted document, named by a JSON pointer.

Every package raises a subclass of `DefinitionInvalid` (a questionnaire, a trigger, an event, a customer …);
``server/errors.py`` turns each into one RFC 9457 problem whose ``errors`` list names every field.
`from_msgspec` is the one converter of msgspec's validation messages ("… - at `$.questions[2].type`") into
field errors, for every place that decodes with msgspec.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import msgspec


class FieldError(msgspec.Struct, frozen=True):
    """One problem with one field of a submitted document."""

    pointer: str
    """JSON pointer (RFC 6901) to the offending field, e.g. ``/questions/2/show_if/gte``; ``""`` is the whole
    document; ``path:name`` / ``query:name`` name a request parameter."""
    message: str


class DefinitionInvalid(Exception):
    """A submitted document is invalid; `errors` says where and why. Subclasses name the kind of document."""

    title = "Invalid definition"

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.pointer}: {e.message}" for e in errors))


class Conflict(DefinitionInvalid):
    """A submitted document is valid in itself but conflicts with what is stored (HTTP 409); `errors` names the
    fields at fault."""

    title = "Conflict"


def pointer(*parts: str | int) -> str:
    """Build a JSON pointer from path parts, escaping ``~`` and ``/`` as RFC 6901 requires."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


# msgspec: "<message> - at `$.a[2].b`", or "- at `key` in `$.a`" for a bad mapping key. A mapping value is
# "$.a[...]" (its key is not named), a quoted key '$.a["b"]'.
_AT = re.compile(r"^(?P<message>.*?)(?: - at (?:`key` in )?`(?P<path>\$[^`]*)`)?$", re.DOTALL)
_PART = re.compile(r"\.([^.\[\]`]+)|\[(\d+)\]|\[\"((?:[^\"\\]|\\.)*)\"\]|(\[\.\.\.\])")
_NAMED_FIELD = re.compile(r"^Object (?:missing required|contains unknown) field `(?P<name>[^`]+)`")
_HINTS = {
    "Expected `duration`": 'an ISO 8601 duration in whole days, hours, minutes and seconds, e.g. "PT5M"',
    "Expected `datetime`": 'an RFC 3339 time with its UTC offset, e.g. "2026-11-24T10:15:03+01:00"',
}


def path_parts(path: str) -> list[str | int]:
    """``$.events[3].occurred_at`` (or without the ``$``) as ``["events", 3, "occurred_at"]``; a mapping value
    (``[...]``) ends the path at its mapping."""
    parts: list[str | int] = []
    for name, index, quoted, any_key in _PART.findall(path.removeprefix("$")):
        if any_key:
            break
        parts.append(int(index) if index else name or quoted)
    return parts


def from_msgspec(error: msgspec.ValidationError | str, at: str = "") -> FieldError:
    """msgspec's validation message as a field error below `at`; a missing or unknown field is named itself
    rather than its parent object."""
    match = _AT.match(str(error))
    assert match is not None  # the pattern matches any text
    message, parts = match["message"], path_parts(match["path"] or "$")
    named = _NAMED_FIELD.match(message)
    if named:
        parts.append(named["name"])
    hint = next((text for start, text in _HINTS.items() if message.startswith(start)), None)
    return FieldError(at + pointer(*parts), f"{message}: send {hint}" if hint else message)


NUL_MESSAGE = "must not contain NUL (\\u0000) characters"


def nul_errors(value: Any) -> list[FieldError]:
    """A field error for every string (member names included) of a decoded JSON or YAML value that contains a NUL
    character, which PostgreSQL text cannot hold."""
    return [FieldError(where, NUL_MESSAGE) for where in _nul_pointers(value)]


def _nul_pointers(value: Any, *path: str | int) -> Iterator[str]:
    if isinstance(value, str):
        if "\x00" in value:
            yield pointer(*path)
    elif isinstance(value, dict):
        for name, member in value.items():
            if isinstance(name, str) and "\x00" in name:
                yield pointer(*path, name)
            yield from _nul_pointers(member, *path, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_pointers(item, *path, index)
