"""Trigger conditions: namespaced fields over event and customer facts, on the shared condition language."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from customers.model import CustomerFacts
from questionnaires.conditions import FieldSpec
from triggers.conditions import (
    MAX_NESTING,
    check_conditions,
    condition_values,
    conditions_hold,
    field_spec,
)
from triggers.model import EventFacts


def event(**attributes: Any) -> EventFacts:
    return EventFacts(
        idempotency_key="e1",
        touchpoint="store",
        occurred_at=datetime(2026, 5, 4, 10, tzinfo=UTC),
        attributes=attributes,
    )


def customer(**changes: Any) -> CustomerFacts:
    return CustomerFacts(external_id="c1", **changes)


@pytest.mark.parametrize(
    ("name", "spec"),
    [
        ("event.touchpoint", FieldSpec(kind="string")),
        ("event.store_id", FieldSpec(kind="any")),
        ("event.order.total", FieldSpec(kind="any")),
        ("customer.locale", FieldSpec(kind="string")),
        ("customer.time_zone", FieldSpec(kind="string")),
        ("customer.has_phone", FieldSpec(kind="bool")),
        ("customer.has_push", FieldSpec(kind="bool")),
        ("customer.tier", FieldSpec(kind="any")),
        ("store_id", None),
        ("event", None),
        ("event.", None),
        ("customer..tier", None),
        ("order.total", None),
        ("Event.touchpoint", None),
    ],
)
def test_field_namespaces(name: str, spec: FieldSpec | None) -> None:
    assert field_spec(name) == spec


def test_unknown_namespace_is_an_error_at_its_field_key() -> None:
    errors = check_conditions(
        {"and": [{"field": "event.total", "gte": 10}, {"field": "basket.total", "gte": 10}]}, "/conditions"
    )
    assert [(e.pointer, e.message) for e in errors] == [
        ("/conditions/and/1/field", "unknown field 'basket.total'")
    ]


def test_builtin_fields_are_typed() -> None:
    errors = check_conditions(
        {
            "or": [
                {"field": "customer.has_phone", "eq": "yes"},
                {"field": "customer.locale", "gt": 3},
                {"field": "event.touchpoint", "eq": "store"},
                {"field": "customer.has_push", "eq": True},
            ]
        }
    )
    assert [e.pointer for e in errors] == ["/conditions/or/0/eq", "/conditions/or/1/gt"]


def test_free_attributes_take_any_scalar() -> None:
    assert check_conditions({"field": "event.total", "gte": 10.5}) == []
    assert check_conditions({"field": "customer.tier", "in": ["gold", "silver"]}) == []
    assert check_conditions({"field": "event.returning", "eq": True}) == []


def test_values_flatten_nested_attributes_with_dots() -> None:
    values = condition_values(
        event(order={"total": 80, "items": {"count": 3}}, store="berlin-1", tags=["a", "b"]),
        customer(attributes={"tier": "gold", "address": {"city": "Bonn"}}),
    )
    assert values == {
        "event.order": {"total": 80, "items": {"count": 3}},
        "event.order.total": 80,
        "event.order.items": {"count": 3},
        "event.order.items.count": 3,
        "event.store": "berlin-1",
        "event.tags": ["a", "b"],
        "customer.tier": "gold",
        "customer.address": {"city": "Bonn"},
        "customer.address.city": "Bonn",
        "event.touchpoint": "store",
        "customer.has_phone": False,
        "customer.has_push": False,
    }


def test_builtin_customer_fields() -> None:
    values = condition_values(
        event(),
        customer(locale="de-CH", time_zone="Europe/Zurich", has_phone=True, push_tokens=2),
    )
    assert values["customer.locale"] == "de-CH"
    assert values["customer.time_zone"] == "Europe/Zurich"
    assert values["customer.has_phone"] is True
    assert values["customer.has_push"] is True


def test_builtin_names_win_over_free_attributes_of_the_same_name() -> None:
    values = condition_values(
        event(touchpoint="spoofed"), customer(has_phone=False, attributes={"has_phone": True, "locale": "xx"})
    )
    assert values["event.touchpoint"] == "store"
    assert values["customer.has_phone"] is False
    # No known locale: the built-in is absent, so the free attribute shows through.
    assert values["customer.locale"] == "xx"


def test_unknown_locale_is_absent_not_null() -> None:
    values = condition_values(event(), customer())
    assert "customer.locale" not in values
    assert conditions_hold({"field": "customer.locale", "exists": False}, values)
    assert not conditions_hold({"field": "customer.locale", "ne": "de"}, values)


def test_flattening_stops_at_the_nesting_limit() -> None:
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(MAX_NESTING + 5):
        deep = {"x": deep}
    values = condition_values(event(a=deep), customer())
    names = [n for n in values if n.startswith("event.a")]
    assert max(n.count(".") for n in names) == MAX_NESTING


def test_conditions_hold_over_event_and_customer() -> None:
    cond = {
        "and": [
            {"field": "event.order.total", "gte": 50},
            {"field": "customer.tier", "in": ["gold", "silver"]},
            {"not": {"field": "customer.has_push", "eq": True}},
        ]
    }
    assert check_conditions(cond) == []
    gold = customer(attributes={"tier": "gold"})
    assert conditions_hold(cond, condition_values(event(order={"total": 50}), gold))
    assert not conditions_hold(cond, condition_values(event(order={"total": 49.99}), gold))
    assert not conditions_hold(cond, condition_values(event(order={"total": 80}), customer()))
    assert not conditions_hold(
        cond, condition_values(event(order={"total": 80}), customer(push_tokens=1, attributes={"tier": "gold"}))
    )


def test_no_conditions_always_hold() -> None:
    assert conditions_hold(None, {})
