"""Trigger conditions: the shared condition language (`questionnaires.conditions`) over event and customer facts.

Field names are namespaced, so a condition says plainly whose attribute it tests:

============================ ===================================================================
``event.touchpoint``          the touchpoint key (string)
``event.<attr>``              an attribute the brand sent with the event (free JSON)
``customer.locale``           the customer's locale, e.g. ``de-CH`` (string; absent when unknown)
``customer.time_zone``        the customer's IANA time zone (string; absent when unknown)
``customer.has_phone``        whether a phone number is on file (bool)
``customer.has_push``         whether at least one push token is registered (bool)
``customer.<attr>``           a free attribute stored on the customer (free JSON)
============================ ===================================================================

Nested attribute objects are reached with dots: the event attributes ``{"order": {"total": 80}}`` give the
fields ``event.order.total`` (80) and ``event.order`` (the object itself, so ``exists`` works on it). The
built-in names above take precedence over a free attribute of the same name. Objects are flattened
at most `MAX_NESTING` levels deep; anything deeper is reachable only as part of an object. A name without one of the two
namespaces, or with an empty part (``event.``, ``customer..x``), is an unknown field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from plumbing.errors import FieldError
from questionnaires.conditions import FieldSpec, check_condition, evaluate

if TYPE_CHECKING:  # model.py imports this module to validate triggers; the facts are only annotations here.
    from customers.model import CustomerFacts
    from triggers.model import EventFacts

MAX_NESTING: Final = 8

_ANY: Final = FieldSpec(kind="any")
_EVENT_FIELDS: Final[dict[str, FieldSpec]] = {"touchpoint": FieldSpec(kind="string")}
_CUSTOMER_FIELDS: Final[dict[str, FieldSpec]] = {
    "locale": FieldSpec(kind="string"),
    "time_zone": FieldSpec(kind="string"),
    "has_phone": FieldSpec(kind="bool"),
    "has_push": FieldSpec(kind="bool"),
}
_NAMESPACES: Final[dict[str, dict[str, FieldSpec]]] = {"event": _EVENT_FIELDS, "customer": _CUSTOMER_FIELDS}


def field_spec(name: str) -> FieldSpec | None:
    """The spec of a trigger condition field, or None when the name is not one a trigger may use."""
    namespace, _, attribute = name.partition(".")
    builtins = _NAMESPACES.get(namespace)
    if builtins is None or not attribute or "" in attribute.split("."):
        return None
    return builtins.get(attribute, _ANY)


def check_conditions(conditions: object, at: str = "/conditions") -> list[FieldError]:
    """Every problem of a trigger's conditions, each naming its JSON pointer (e.g. ``/conditions/and/1/field``)."""
    return check_condition(conditions, at, field_spec)


def condition_values(event: EventFacts, customer: CustomerFacts) -> dict[str, object]:
    """The flat field → value mapping a trigger's conditions are evaluated against."""
    values: dict[str, object] = {}
    _flatten("event", event.attributes, values)
    _flatten("customer", customer.attributes, values)
    values["event.touchpoint"] = event.touchpoint
    # Unknown locale / zone are left out rather than null: to the language both mean "no value".
    if customer.locale is not None:
        values["customer.locale"] = customer.locale
    if customer.time_zone is not None:
        values["customer.time_zone"] = customer.time_zone
    values["customer.has_phone"] = customer.has_phone
    values["customer.has_push"] = customer.push_tokens > 0
    return values


def conditions_hold(conditions: object | None, values: Mapping[str, object]) -> bool:
    """Whether a trigger's (checked) conditions hold; a trigger without conditions always matches."""
    return conditions is None or evaluate(conditions, values)


def _flatten(prefix: str, attributes: Mapping[str, Any], into: dict[str, object], depth: int = 1) -> None:
    for key, value in attributes.items():
        name = f"{prefix}.{key}"
        into[name] = value
        # Bounded so that hostile, deeply nested event JSON cannot exhaust the stack.
        if isinstance(value, Mapping) and depth < MAX_NESTING:
            _flatten(name, value, into, depth + 1)
