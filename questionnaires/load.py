"""Decoding a definition from JSON, YAML or an already-parsed object, with errors as JSON pointers.

The same definition may be written in YAML or JSON and decodes to the same `Definition`. YAML is read with a
safe loader trimmed towards YAML 1.2's core schema, so that hand-written definitions mean what they say:

- only ``true``/``false`` are booleans (YAML 1.1 would read an option code ``no`` or ``on`` as a bool);
- dates stay strings; duplicate keys are an error, not silently overwritten;
- anchors/aliases are refused (they can expand a small document into a huge one).

Decoding errors and semantic errors alike raise `QuestionnaireInvalid` whose `FieldError.pointer` is an
RFC 6901 pointer into the submitted document (``/questions/2/type``). A document that cannot be read at all (not
JSON or YAML, not UTF-8, nested too deeply) raises the subclass `DocumentUnreadable`, pointing at the root.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, Literal

import msgspec
import yaml

from plumbing.errors import FieldError, from_msgspec, nul_errors
from questionnaires.errors import QuestionnaireInvalid
from questionnaires.model import Definition
from questionnaires.validate import ensure_valid

MAX_DOCUMENT_BYTES = 256 * 1024


class DocumentUnreadable(QuestionnaireInvalid):
    """The document is not JSON or YAML at all; nothing in it could be checked."""

    title = "Unreadable questionnaire"


_TOO_DEEP = FieldError("", "the document nests too deeply")

_json_decoder = msgspec.json.Decoder(Definition)


class _Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's surprising implicit types, duplicate keys or aliases."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "anchors and aliases are not allowed", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key '{key}'", key_node.start_mark)
            if isinstance(key, str):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


_REPLACED = ("bool", "int", "float", "timestamp")
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag.rsplit(":", 1)[-1] not in _REPLACED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# YAML 1.2 core schema: no yes/no/on/off booleans, no octal "010" or sexagesimal "1:30" integers.
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"
    ),
    list("-+0123456789."),
)


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    value = loader.construct_scalar(node)
    try:
        return int(value)
    except ValueError:
        raise yaml.constructor.ConstructorError(
            None, None, f"not an integer: {value!r}", node.start_mark
        ) from None


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def definition_from_obj(obj: object) -> Definition:
    """Decode an already-parsed document (dicts, lists, scalars) strictly, then validate it semantically."""
    try:
        definition = msgspec.convert(obj, Definition, strict=True)
    except msgspec.ValidationError as error:
        raise QuestionnaireInvalid([from_msgspec(error)]) from None
    except RecursionError:
        raise DocumentUnreadable([_TOO_DEEP]) from None
    return ensure_valid(definition)


def _refuse_nul(document: object) -> None:
    errors = nul_errors(document)
    if errors:
        raise QuestionnaireInvalid(errors)


def load_definition(data: bytes | str, fmt: Literal["json", "yaml"]) -> Definition:
    """Decode a definition written as JSON or YAML, then validate it semantically."""
    size = len(data.encode() if isinstance(data, str) else data)
    if size > MAX_DOCUMENT_BYTES:
        raise QuestionnaireInvalid([FieldError("", f"document is larger than {MAX_DOCUMENT_BYTES} bytes")])
    if fmt == "json":
        if (b"\\u0000" if isinstance(data, bytes) else "\\u0000") in data:
            # JSON text carries NUL only as this escape: name each string that holds one (PostgreSQL cannot).
            with contextlib.suppress(msgspec.DecodeError, UnicodeDecodeError, RecursionError):
                _refuse_nul(msgspec.json.decode(data))  # if unreadable, the typed decode below says so
        try:
            definition = _json_decoder.decode(data)
        except msgspec.ValidationError as error:
            raise QuestionnaireInvalid([from_msgspec(error)]) from None
        except (msgspec.DecodeError, UnicodeDecodeError) as error:  # msgspec reports bad UTF-8 as the latter
            raise DocumentUnreadable([FieldError("", f"not valid JSON: {error}")]) from None
        except RecursionError:
            raise DocumentUnreadable([_TOO_DEEP]) from None
        return ensure_valid(definition)
    if fmt == "yaml":
        try:
            obj = yaml.load(data, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
        except yaml.YAMLError as error:
            raise DocumentUnreadable([FieldError("", f"not valid YAML: {error}")]) from None
        except RecursionError:
            raise DocumentUnreadable([_TOO_DEEP]) from None
        _refuse_nul(obj)
        return definition_from_obj(obj)
    raise ValueError(f"unknown format {fmt!r}")
