"""The condition language shared by questionnaire branching and trigger rules."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from questionnaires.conditions import (
    MAX_DEPTH,
    MAX_ITEMS,
    FieldSpec,
    check_condition,
    evaluate,
    field_refs,
    referenced_fields,
)

FIELDS = {
    "nps": FieldSpec("number"),
    "channel": FieldSpec("string"),
    "store": FieldSpec("string", frozenset({"zurich", "bern"})),
    "issues": FieldSpec("list", frozenset({"late", "damaged", "other"})),
    "tags": FieldSpec("list"),
    "vip": FieldSpec("bool"),
    "extra": FieldSpec("any"),
}
PROPERTY = settings(max_examples=150, deadline=None, database=None)


def check(cond: object) -> list[tuple[str, str]]:
    return [(e.pointer, e.message) for e in check_condition(cond, "/c", FIELDS.get)]


def nested_not(levels: int) -> dict[str, Any]:
    cond: dict[str, Any] = {"field": "nps", "eq": 1}
    for _ in range(levels):
        cond = {"not": cond}
    return cond


@pytest.mark.parametrize(
    "cond",
    [
        {"field": "nps", "lte": 6},
        {"field": "nps", "in": [9, 10]},
        {"field": "nps", "eq": 7.5},
        {"field": "channel", "eq": "store"},
        {"field": "store", "not_in": ["bern"]},
        {"field": "issues", "eq": "late"},
        {"field": "issues", "in": ["late", "damaged"]},
        {"field": "tags", "eq": 3},
        {"field": "vip", "ne": True},
        {"field": "extra", "gte": 3},
        {"field": "extra", "in": ["a", 1, False]},
        {"field": "channel", "exists": False},
        {
            "and": [
                {"field": "nps", "gte": 0},
                {"or": [{"field": "vip", "eq": True}, {"not": {"field": "tags", "exists": True}}]},
            ]
        },
        nested_not(MAX_DEPTH - 1),
    ],
)
def test_valid_conditions_have_no_errors(cond: object) -> None:
    assert check(cond) == []


@pytest.mark.parametrize(
    ("cond", "pointer", "words"),
    [
        ({"field": "nps", "gte": "abc"}, "/c/gte", "needs a number"),
        ({"field": "nps", "gte": True}, "/c/gte", "not a bool"),
        ({"field": "nps", "eq": "9"}, "/c/eq", "number field"),
        ({"field": "nps", "eq": None}, "/c/eq", "not null"),
        ({"field": "nps", "eq": [1]}, "/c/eq", "not a list"),
        ({"field": "channel", "gt": 3}, "/c/gt", "compares numbers"),
        ({"field": "vip", "lt": 1}, "/c/lt", "compares numbers"),
        ({"field": "issues", "gte": 1}, "/c/gte", "compares numbers"),
        ({"field": "store", "eq": "basel"}, "/c/eq", "unknown value 'basel'"),
        ({"field": "issues", "in": ["late", "lost"]}, "/c/in/1", "unknown value 'lost'"),
        ({"field": "store", "eq": 3}, "/c/eq", "string field"),
        ({"field": "vip", "eq": "yes"}, "/c/eq", "bool field"),
        ({"field": "nope", "eq": 1}, "/c/field", "unknown field 'nope'"),
        ({"field": "", "eq": 1}, "/c/field", "non-empty string"),
        ({"field": 3, "eq": 1}, "/c/field", "non-empty string"),
        ({"eq": 1}, "/c/field", "non-empty string"),
        ({"field": "nps"}, "/c", "exactly one operator"),
        ({"field": "nps", "gt": 1, "lt": 5}, "/c/lt", "exactly one operator"),
        ({"field": "nps", "gt": 1, "between": [1, 2]}, "/c/between", "unknown key 'between'"),
        ({"field": "nps", "in": []}, "/c/in", "non-empty list"),
        ({"field": "nps", "in": 3}, "/c/in", "non-empty list"),
        ({"field": "nps", "in": list(range(MAX_ITEMS + 1))}, "/c/in", f"at most {MAX_ITEMS}"),
        ({"field": "nps", "exists": "yes"}, "/c/exists", "true or false"),
        ({"and": []}, "/c/and", "non-empty list"),
        ({"or": {"field": "nps", "eq": 1}}, "/c/or", "non-empty list"),
        ({"and": [{"field": "nps", "eq": 1}], "field": "nps"}, "/c/field", "only key"),
        ({"and": [{"field": "nps", "eq": 1}, {"field": "vip", "gt": 1}]}, "/c/and/1/gt", "compares numbers"),
        ({"not": {"not": {"field": "store", "in": ["zurich", "x"]}}}, "/c/not/not/in/1", "unknown value"),
        ({}, "/c", "a condition is an object"),
        ("nps > 6", "/c", "a condition is an object"),
        (None, "/c", "a condition is an object"),
        ([{"field": "nps", "eq": 1}], "/c", "a condition is an object"),
        (nested_not(MAX_DEPTH), "/c" + "/not" * MAX_DEPTH, f"at most {MAX_DEPTH} levels"),
    ],
)
def test_invalid_conditions_name_the_offending_key(cond: object, pointer: str, words: str) -> None:
    errors = check(cond)
    assert [p for p, _ in errors] == [pointer]
    assert words in errors[0][1]


def test_every_error_is_reported_not_just_the_first() -> None:
    cond = {"and": [{"field": "nps", "gte": "x"}, {"field": "nope", "eq": 1}, {"field": "vip", "eq": 2}]}
    assert [p for p, _ in check(cond)] == ["/c/and/0/gte", "/c/and/1/field", "/c/and/2/eq"]


def test_a_condition_with_too_many_parts_is_refused() -> None:
    wide = {"or": [{"and": [{"field": "nps", "eq": i} for i in range(MAX_ITEMS)]} for _ in range(MAX_ITEMS)]}
    errors = check(wide)
    assert len(errors) == 1
    assert "more than" in errors[0][1]


VALUES: dict[str, object] = {
    "nps": 9,
    "channel": "store",
    "store": "zurich",
    "issues": ["late", "other"],
    "vip": False,
    "skipped": None,
}


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ({"field": "nps", "eq": 9}, True),
        ({"field": "nps", "eq": 9.0}, True),
        ({"field": "nps", "eq": "9"}, False),
        ({"field": "nps", "ne": 9}, False),
        ({"field": "nps", "gte": 9}, True),
        ({"field": "nps", "gt": 9}, False),
        ({"field": "nps", "lt": 9.5}, True),
        ({"field": "nps", "lte": 8}, False),
        ({"field": "nps", "in": [1, 9]}, True),
        ({"field": "nps", "not_in": [1, 9]}, False),
        ({"field": "channel", "eq": "store"}, True),
        ({"field": "channel", "eq": "Store"}, False),
        ({"field": "channel", "gt": 1}, False),
        ({"field": "vip", "eq": False}, True),
        ({"field": "vip", "eq": 0}, False),
        ({"field": "nps", "eq": True}, False),
        ({"field": "issues", "eq": "late"}, True),
        ({"field": "issues", "eq": "damaged"}, False),
        ({"field": "issues", "ne": "damaged"}, True),
        ({"field": "issues", "ne": "late"}, False),
        ({"field": "issues", "in": ["damaged", "other"]}, True),
        ({"field": "issues", "not_in": ["damaged", "other"]}, False),
        ({"field": "issues", "not_in": ["damaged"]}, True),
        # Missing and skipped fields: every comparison is false, `not` of one is true, exists tells.
        ({"field": "missing", "eq": 1}, False),
        ({"field": "missing", "ne": 1}, False),
        ({"field": "missing", "not_in": [1]}, False),
        ({"field": "missing", "lt": 1}, False),
        ({"not": {"field": "missing", "eq": 1}}, True),
        ({"field": "missing", "exists": False}, True),
        ({"field": "missing", "exists": True}, False),
        ({"field": "skipped", "exists": False}, True),
        ({"field": "skipped", "ne": 3}, False),
        ({"field": "nps", "exists": True}, True),
        ({"and": [{"field": "nps", "gte": 9}, {"field": "store", "eq": "zurich"}]}, True),
        ({"and": [{"field": "nps", "gte": 9}, {"field": "store", "eq": "bern"}]}, False),
        ({"or": [{"field": "nps", "lt": 3}, {"field": "store", "eq": "zurich"}]}, True),
        ({"or": [{"field": "nps", "lt": 3}, {"field": "missing", "eq": 1}]}, False),
    ],
)
def test_evaluate(cond: object, expected: bool) -> None:
    assert check_condition(cond, "", lambda _: FieldSpec("any")) == []
    assert evaluate(cond, VALUES) is expected


def test_ordering_copes_with_huge_and_odd_numbers() -> None:
    assert evaluate({"field": "n", "gt": 1.5}, {"n": 10**400}) is True
    assert evaluate({"field": "n", "lt": 10**400}, {"n": float("inf")}) is False
    assert evaluate({"field": "n", "gte": 0}, {"n": float("nan")}) is False


def test_referenced_fields_and_their_pointers() -> None:
    cond = {"and": [{"field": "a", "eq": 1}, {"not": {"field": "b", "eq": 1}}, {"or": [{"field": "a", "gt": 0}]}]}
    assert referenced_fields(cond) == {"a", "b"}
    assert field_refs(cond, "/x") == [
        ("a", "/x/and/0/field"),
        ("b", "/x/and/1/not/field"),
        ("a", "/x/and/2/or/0/field"),
    ]
    assert referenced_fields("junk") == set()
    assert referenced_fields({"and": "junk", "field": 3}) == set()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)
keys = st.sampled_from(
    ["field", "eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "exists", "and", "or", "not"]
)
conditions = st.recursive(
    st.dictionaries(keys, json_values | st.sampled_from(list(FIELDS)), max_size=3),
    lambda children: st.dictionaries(keys, children | st.lists(children, max_size=3) | json_values, max_size=3),
    max_leaves=15,
)


@PROPERTY
@given(cond=conditions | json_values, values=st.dictionaries(st.sampled_from(list(FIELDS)), json_values))
def test_checking_and_evaluating_never_raise(cond: object, values: dict[str, object]) -> None:
    errors = check_condition(cond, "", FIELDS.get)
    assert all(e.pointer == "" or e.pointer.startswith("/") for e in errors)
    assert evaluate(cond, values) in (True, False)
    assert isinstance(referenced_fields(cond), set)


@PROPERTY
@given(
    values=st.dictionaries(st.sampled_from(["nps", "issues", "channel"]), json_values),
    op=st.sampled_from(["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte"]),
)
def test_a_comparison_and_its_negation_disagree_only_when_the_field_has_a_value(
    values: dict[str, object], op: str
) -> None:
    operand: object = [1, "late"] if op in ("in", "not_in") else 1
    cond = {"field": "nps", op: operand}
    if values.get("nps") is None:
        assert evaluate(cond, values) is False
        assert evaluate({"not": cond}, values) is True
    else:
        assert evaluate({"not": cond}, values) is not evaluate(cond, values)
