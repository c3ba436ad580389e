"""The condition language shared by questionnaire branching and trigger rules.

A condition is plain JSON (or YAML) so that brands can write it by hand and it can be stored as JSONB:

Leaf — one field, exactly one operator::

    {"field": "nps", "lte": 6}
    {"field": "channel", "in": ["store", "phone"]}
    {"field": "issues", "eq": "late"}          # list field: "contains"
    {"field": "comment", "exists": true}

Combinators::

    {"and": [c1, c2, ...]}   {"or": [c1, c2, ...]}   {"not": c}

Operators:

========== ======================================================================================
``eq``      equal. On a list-valued field (multi_choice answers, tags): the list contains the value.
``ne``      not equal. On a list-valued field: the list does not contain the value.
``in``      the value is one of a non-empty list. On a list-valued field: the lists intersect.
``not_in``  the value is none of a non-empty list. On a list-valued field: the lists are disjoint.
``gt`` ``gte`` ``lt`` ``lte``  numeric order. Numbers only: a bool is not a number, and strings (dates
            included) are never ordered — send a number (e.g. epoch seconds, a count) instead.
``exists``  ``true``: the field has a value; ``false``: it has none.
========== ======================================================================================

Missing values: a field that is absent, or present with ``null`` (a skipped question), has no value. Every
comparison on it is false — including ``ne`` and ``not_in`` — so ``{"not": ...}`` of a comparison on it is true,
and only ``{"exists": false}`` matches it directly.

Types never coerce: ``"9"`` does not equal ``9``, ``true`` does not equal ``1``; ``9`` equals ``9.0``. Strings
compare exactly (case-sensitive). Values in a condition are scalars (string, number, bool); ``null`` is not a
value — test absence with ``exists``.

Limits guard against abuse: conditions nest at most ``MAX_DEPTH`` levels, a list (``and``/``or`` members,
``in``/``not_in`` values) has at most ``MAX_ITEMS`` entries, and a condition has at most ``MAX_NODES`` nodes.

`check_condition` validates a condition against the fields it may use (a `FieldSpec` per field, so a
questionnaire can reject ``{"field": "nps", "gte": "abc"}`` or an unknown option code); `evaluate` then runs it
against values and never raises, whatever the values are: a type mismatch is simply false.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Literal

import msgspec

from plumbing.errors import FieldError, pointer

FieldKind = Literal["number", "string", "bool", "list", "any"]

MAX_DEPTH = 8
MAX_ITEMS = 50
MAX_NODES = 200

SCALAR_OPS = ("eq", "ne")
LIST_OPS = ("in", "not_in")
ORDER_OPS = ("gt", "gte", "lt", "lte")
OPERATORS = (*SCALAR_OPS, *LIST_OPS, *ORDER_OPS, "exists")
COMBINATORS = ("and", "or", "not")

_SYNTAX = (
    'a condition is an object: {"field": <name>, <op>: <value>} with one op of '
    + ", ".join(OPERATORS)
    + ', or {"and": [...]}, {"or": [...]}, {"not": <condition>}'
)


class FieldSpec(msgspec.Struct, frozen=True):
    """What a condition may do with one field: its kind, and for closed vocabularies the allowed strings."""

    kind: FieldKind
    choices: frozenset[str] | None = None
    """Allowed string values (e.g. option codes) when the vocabulary is closed; for a list field, its items."""


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and (not isinstance(value, float) or math.isfinite(value))
    )


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | bool) or _is_number(value)


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return "a bool"
    if _is_number(value):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class _Checker:
    """One validation walk; counts nodes across the whole condition."""

    def __init__(self, fields: Callable[[str], FieldSpec | None]) -> None:
        self.fields = fields
        self.errors: list[FieldError] = []
        self.nodes = 0

    def error(self, at: str, message: str) -> None:
        self.errors.append(FieldError(pointer=at, message=message))

    def check(self, cond: object, at: str, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            if self.nodes == MAX_NODES + 1:
                self.error(at, f"condition has more than {MAX_NODES} parts")
            return
        if depth > MAX_DEPTH:
            self.error(at, f"conditions nest at most {MAX_DEPTH} levels deep")
            return
        if not isinstance(cond, dict) or not cond:
            self.error(at, _SYNTAX)
            return
        combinators = [k for k in cond if k in COMBINATORS]
        if combinators:
            if len(cond) != 1:
                extra = next(k for k in cond if k != combinators[0])
                self.error(at + pointer(extra), f"'{combinators[0]}' must be the only key of its object")
                return
            self.check_combinator(combinators[0], cond[combinators[0]], at, depth)
        else:
            self.check_leaf(cond, at)

    def check_combinator(self, op: str, arg: object, at: str, depth: int) -> None:
        here = at + pointer(op)
        if op == "not":
            self.check(arg, here, depth + 1)
            return
        if not isinstance(arg, list) or not arg:
            self.error(here, f"'{op}' takes a non-empty list of conditions")
            return
        if len(arg) > MAX_ITEMS:
            self.error(here, f"'{op}' takes at most {MAX_ITEMS} conditions")
            return
        for i, member in enumerate(arg):
            self.check(member, here + pointer(i), depth + 1)

    def check_leaf(self, cond: dict[object, object], at: str) -> None:
        for key in cond:
            if key != "field" and key not in OPERATORS:
                self.error(at + pointer(str(key)), f"unknown key '{key}'; {_SYNTAX}")
                return
        ops = [k for k in cond if k in OPERATORS]
        if len(ops) != 1:
            where = at + pointer(str(ops[1])) if ops else at
            self.error(where, "a condition has exactly one operator; combine several with 'and'/'or'")
            return
        name = cond.get("field")
        if not isinstance(name, str) or not name:
            self.error(at + pointer("field"), "'field' must be a non-empty string")
            return
        spec = self.fields(name)
        if spec is None:
            self.error(at + pointer("field"), f"unknown field '{name}'")
            return
        op = str(ops[0])
        self.check_operand(name, spec, op, cond[op], at + pointer(op))

    def check_operand(self, name: str, spec: FieldSpec, op: str, value: object, at: str) -> None:
        if op == "exists":
            if not isinstance(value, bool):
                self.error(at, f"'exists' takes true or false, not {_describe(value)}")
            return
        if op in ORDER_OPS:
            if spec.kind not in ("number", "any"):
                self.error(at, f"'{op}' compares numbers, but '{name}' is a {spec.kind} field")
            elif not _is_number(value):
                self.error(at, f"'{op}' needs a number, not {_describe(value)}")
            return
        if op in LIST_OPS:
            if not isinstance(value, list) or not value:
                self.error(at, f"'{op}' takes a non-empty list of values")
                return
            if len(value) > MAX_ITEMS:
                self.error(at, f"'{op}' takes at most {MAX_ITEMS} values")
                return
            for i, item in enumerate(value):
                self.check_value(name, spec, item, at + pointer(i))
            return
        self.check_value(name, spec, value, at)

    def check_value(self, name: str, spec: FieldSpec, value: object, at: str) -> None:
        if not _is_scalar(value):
            self.error(at, f"expected a string, number or bool, not {_describe(value)}")
            return
        expected = {"number": _is_number, "string": _is_str, "bool": _is_bool}.get(spec.kind)
        if expected is not None and not expected(value):
            self.error(at, f"'{name}' is a {spec.kind} field; {value!r} is {_describe(value)}")
            return
        if spec.choices is not None:
            if not isinstance(value, str):
                self.error(at, f"'{name}' takes one of its codes, not {_describe(value)}")
            elif value not in spec.choices:
                allowed = ", ".join(sorted(spec.choices))
                self.error(at, f"unknown value '{value}' for '{name}'; expected one of: {allowed}")


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def check_condition(cond: object, at: str, fields: Callable[[str], FieldSpec | None]) -> list[FieldError]:
    """Validate syntax, limits and operand types; `at` is the JSON pointer of `cond` in its document.

    `fields(name)` returns the field's spec, or None when no such field may be used (reported as unknown).
    Returns every problem found, each naming the offending key (e.g. ``/questions/2/show_if/gte``).
    """
    checker = _Checker(fields)
    checker.check(cond, at, 1)
    return checker.errors


def field_refs(cond: object, at: str = "") -> list[tuple[str, str]]:
    """Each field named by `cond`, with the JSON pointer of its ``field`` key, in document order.

    Works on unchecked input (ignoring what is malformed) so that a caller can report references with its
    own words — e.g. a questionnaire saying "refers to a later question" — before type checking.
    """
    found: list[tuple[str, str]] = []
    budget = [MAX_NODES]

    def walk(node: object, here: str, depth: int) -> None:
        budget[0] -= 1
        if budget[0] < 0 or depth > MAX_DEPTH or not isinstance(node, dict):
            return
        if "not" in node:
            walk(node["not"], here + "/not", depth + 1)
        for op in ("and", "or"):
            members = node.get(op)
            if isinstance(members, list):
                for i, member in enumerate(members[:MAX_ITEMS]):
                    walk(member, f"{here}/{op}/{i}", depth + 1)
        name = node.get("field")
        if isinstance(name, str) and name:
            found.append((name, here + "/field"))

    walk(cond, at, 1)
    return found


def referenced_fields(cond: object) -> set[str]:
    """The names of all fields `cond` refers to."""
    return {name for name, _ in field_refs(cond)}


def _equal(actual: object, expected: object) -> bool:
    # No coercion: bool is not a number, "9" is not 9. Only str/number/bool reach ==, so == cannot raise.
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and actual is expected
    if isinstance(expected, str):
        return isinstance(actual, str) and actual == expected
    if _is_number(expected):
        return _is_number(actual) and actual == expected
    return False


def _contains(items: list[object] | tuple[object, ...], expected: object) -> bool:
    return any(_equal(item, expected) for item in items)


def _order(op: str, actual: object, bound: object) -> bool:
    if not (isinstance(actual, int | float) and isinstance(bound, int | float)):
        return False
    if not (_is_number(actual) and _is_number(bound)):
        return False
    # Compare int and float directly: Python orders them exactly, where float() would overflow on huge ints.
    a, b = actual, bound
    if op == "gt":
        return a > b
    if op == "gte":
        return a >= b
    if op == "lt":
        return a < b
    return a <= b


def _leaf(cond: dict[object, object], values: Mapping[str, object]) -> bool:
    name = cond.get("field")
    op = next((k for k in cond if k in OPERATORS), None)
    if not isinstance(name, str) or op is None:
        return False
    expected = cond[op]
    actual = values.get(name)
    if op == "exists":
        return (actual is not None) is expected
    if actual is None:
        return False
    is_list = isinstance(actual, list | tuple)
    if op in ("eq", "ne"):
        hit = _contains(actual, expected) if is_list else _equal(actual, expected)  # type: ignore[arg-type]
        return hit if op == "eq" else not hit
    if op in ("in", "not_in"):
        if not isinstance(expected, list):
            return False
        items = actual if is_list else (actual,)
        hit = any(_contains(items, e) for e in expected)  # type: ignore[arg-type]
        return hit if op == "in" else not hit
    return _order(str(op), actual, expected)


def evaluate(cond: object, values: Mapping[str, object]) -> bool:
    """Whether `cond` (already checked) holds for `values` (field name → value).

    Never raises: a malformed part, or a value of an unexpected type, is simply false.
    """
    return _evaluate(cond, values, 1)


def _evaluate(cond: object, values: Mapping[str, object], depth: int) -> bool:
    if not isinstance(cond, dict) or depth > MAX_DEPTH:
        return False
    if "and" in cond:
        members = cond["and"]
        return isinstance(members, list) and all(_evaluate(c, values, depth + 1) for c in members)
    if "or" in cond:
        members = cond["or"]
        return isinstance(members, list) and any(_evaluate(c, values, depth + 1) for c in members)
    if "not" in cond:
        return not _evaluate(cond["not"], values, depth + 1)
    return _leaf(cond, values)
