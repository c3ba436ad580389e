"""Trigger definitions: defaults, ISO 8601 durations, and validation errors that name their field."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import msgspec
import pytest

from customers.model import CustomerFacts
from triggers.durations import iso_duration
from triggers.model import (
    EventFacts,
    FrequencyRules,
    SendWindow,
    Trigger,
    TriggerIn,
    TriggerInvalid,
    parse_clock,
    validate_trigger,
)

MINIMAL = {"key": "store-visit", "name": "After a store visit", "touchpoint": "store", "questionnaire": "nps"}


def decode(**changes: Any) -> TriggerIn:
    return msgspec.json.decode(msgspec.json.encode({**MINIMAL, **changes}), type=TriggerIn)


def build(**changes: Any) -> TriggerIn:
    """A trigger built in code, where msgspec does not check `Meta` constraints (validate_trigger must)."""
    return msgspec.structs.replace(decode(), **changes)


def pointers(trigger: TriggerIn) -> list[str]:
    with pytest.raises(TriggerInvalid) as caught:
        validate_trigger(trigger)
    return [e.pointer for e in caught.value.errors]


def test_minimal_trigger_gets_the_documented_defaults() -> None:
    trigger = decode()
    validate_trigger(trigger)
    assert trigger.conditions is None
    assert trigger.delay == timedelta(minutes=5)
    assert trigger.send_window == SendWindow(
        days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"], start="08:00", end="21:00", outside="defer"
    )
    assert trigger.sample_rate == 1.0
    assert trigger.frequency == FrequencyRules(
        brand_gap=timedelta(days=1), trigger_gap=timedelta(days=7), daily_cap=None
    )
    assert trigger.max_lag == timedelta(hours=2)
    assert trigger.channels == ["sms"]
    assert trigger.expires_after == timedelta(days=1)
    assert (trigger.priority, trigger.active, trigger.default_time_zone) == (0, True, "UTC")


def test_defaults_are_stored_explicitly_so_later_default_changes_do_not_alter_a_trigger() -> None:
    stored = msgspec.json.decode(msgspec.json.encode(decode()))
    assert stored["delay"] == "PT300S"
    assert stored["send_window"]["start"] == "08:00"
    assert stored["frequency"]["brand_gap"] == "P1D"


def test_durations_are_iso_8601() -> None:
    trigger = decode(delay="PT90S", max_lag="P1DT12H", expires_after="P7D", frequency={"brand_gap": "PT36H"})
    validate_trigger(trigger)
    assert trigger.delay == timedelta(seconds=90)
    assert trigger.max_lag == timedelta(days=1, hours=12)
    assert trigger.expires_after == timedelta(days=7)
    assert trigger.frequency.brand_gap == timedelta(hours=36)
    assert trigger.frequency.trigger_gap == timedelta(days=7)


@pytest.mark.parametrize("text", ["P1W", "P1M", "300", "5 minutes", "PT"])
def test_durations_without_fixed_length_or_iso_form_are_refused_at_decode(text: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.delay"):
        decode(delay=text)


def test_a_plain_number_is_not_a_duration() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.max_lag"):
        decode(max_lag=300)


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"sample_rtae": 0.5}, r"\$\.sample_rtae|sample_rtae"),
        ({"send_window": {"days": ["mon"], "strat": "08:00"}}, r"strat"),
        ({"frequency": {"daily_cap": 0}}, r"\$\.frequency\.daily_cap"),
        ({"sample_rate": 1.5}, r"\$\.sample_rate"),
        ({"channels": ["email"]}, r"\$\.channels\[0\]"),
        ({"channels": []}, r"\$\.channels"),
        ({"send_window": {"days": ["monday"]}}, r"\$\.send_window\.days\[0\]"),
        ({"send_window": {"start": "8:00"}}, r"\$\.send_window\.start"),
        ({"send_window": {"end": "24:01"}}, r"\$\.send_window\.end"),
        ({"send_window": {"outside": "skip"}}, r"\$\.send_window\.outside"),
        ({"key": "Store Visit"}, r"\$\.key"),
        ({"name": ""}, r"\$\.name"),
        ({"priority": 5000}, r"\$\.priority"),
    ],
)
def test_decoding_refuses_bad_shapes_naming_the_field(changes: dict[str, Any], path: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=path):
        decode(**changes)


def test_validation_reports_every_problem_at_once() -> None:
    trigger = decode(
        delay="P8D",
        max_lag="PT0S",
        expires_after="PT1M",
        frequency={"brand_gap": "P400D", "trigger_gap": "-PT1H"},
        channels=["sms", "push", "sms"],
        send_window={"days": ["mon", "tue", "mon"], "start": "09:00", "end": "09:00"},
        default_time_zone="Mars/Olympus_Mons",
        conditions={"and": [{"field": "event.total", "gte": 10}, {"field": "basket", "eq": 1}]},
    )
    assert pointers(trigger) == [
        "/delay",
        "/max_lag",
        "/expires_after",
        "/frequency/brand_gap",
        "/frequency/trigger_gap",
        "/channels/2",
        "/send_window/days/2",
        "/send_window/end",
        "/default_time_zone",
        "/conditions/and/1/field",
    ]


WITHOUT_LINK = {"content_sid": "HX" + "0" * 32, "variables": {"1": "{question}"}}
WITH_LINK = {"content_sid": "HX" + "0" * 32, "variables": {"1": "{question}", "2": "Or answer here: {link}"}}


def test_a_whatsapp_trigger_needs_its_template() -> None:
    assert pointers(decode(channels=["whatsapp"])) == ["/whatsapp_template"]


@pytest.mark.parametrize(
    "changes",
    [
        {},  # conversation style, and when_busy link: the default
        {"when_busy": "link"},
        {"style": "link"},
        {"style": "link", "when_busy": "wait"},
    ],
)
def test_a_whatsapp_template_must_carry_the_link_whenever_the_message_may_be_one(changes: dict[str, Any]) -> None:
    # Busy or link style, the invitation is a link; WhatsApp sends only the template, so a variable must carry it.
    trigger = decode(channels=["sms", "whatsapp"], whatsapp_template=WITHOUT_LINK, **changes)
    with pytest.raises(TriggerInvalid) as caught:
        validate_trigger(trigger)
    [error] = caught.value.errors
    assert error.pointer == "/whatsapp_template/variables"
    assert "{link}" in error.message
    validate_trigger(decode(channels=["sms", "whatsapp"], whatsapp_template=WITH_LINK, **changes))


def test_a_whatsapp_conversation_that_waits_when_busy_needs_no_link() -> None:
    validate_trigger(decode(channels=["whatsapp"], whatsapp_template=WITHOUT_LINK, when_busy="wait"))
    # Without whatsapp among the channels the template is never sent.
    validate_trigger(decode(channels=["sms"], whatsapp_template=WITHOUT_LINK))


@pytest.mark.parametrize(
    ("field", "value", "at"),
    [
        ("delay", timedelta(seconds=-1), "/delay"),
        ("delay", timedelta(days=7, seconds=1), "/delay"),
        ("max_lag", timedelta(0), "/max_lag"),
        ("max_lag", timedelta(days=30, seconds=1), "/max_lag"),
        ("expires_after", timedelta(minutes=5) - timedelta(seconds=1), "/expires_after"),
        ("expires_after", timedelta(days=30, seconds=1), "/expires_after"),
        ("frequency", FrequencyRules(brand_gap=timedelta(seconds=-1)), "/frequency/brand_gap"),
        ("frequency", FrequencyRules(trigger_gap=timedelta(days=366)), "/frequency/trigger_gap"),
    ],
)
def test_duration_bounds_are_enforced(field: str, value: object, at: str) -> None:
    assert pointers(build(**{field: value})) == [at]


@pytest.mark.parametrize(
    "changes",
    [
        {"delay": timedelta(0)},
        {"delay": timedelta(days=7), "max_lag": timedelta(days=7, minutes=1)},
        {"max_lag": timedelta(days=30)},
        {"max_lag": timedelta(minutes=1), "delay": timedelta(0)},
        {"expires_after": timedelta(minutes=5)},
        {"expires_after": timedelta(days=30)},
        {"frequency": FrequencyRules(brand_gap=timedelta(0), trigger_gap=timedelta(days=365), daily_cap=1)},
    ],
)
def test_duration_bounds_are_inclusive(changes: dict[str, Any]) -> None:
    validate_trigger(build(**changes))


def test_max_lag_equal_to_the_delay_leaves_no_time_to_send() -> None:
    with pytest.raises(TriggerInvalid) as caught:
        validate_trigger(build(delay=timedelta(minutes=5), max_lag=timedelta(minutes=5)))
    assert [e.pointer for e in caught.value.errors] == ["/max_lag"]


def test_max_lag_shorter_than_the_delay_would_make_every_invitation_stale() -> None:
    trigger = build(delay=timedelta(hours=1), max_lag=timedelta(minutes=30))
    with pytest.raises(TriggerInvalid) as caught:
        validate_trigger(trigger)
    assert [(e.pointer, e.message) for e in caught.value.errors] == [
        (
            "/max_lag",
            "must exceed the delay (PT1H) by at least PT1M, or invitations would be stale before they can be sent",
        )
    ]


def test_conditions_errors_point_into_the_condition() -> None:
    trigger = decode(
        conditions={
            "or": [
                {"field": "event.total", "gte": "abc"},
                {"and": [{"field": "customer.has_phone", "eq": True}, {"field": "order.total", "gt": 1}]},
            ]
        }
    )
    assert pointers(trigger) == ["/conditions/or/0/gte", "/conditions/or/1/and/1/field"]


def test_valid_conditions_pass() -> None:
    validate_trigger(
        decode(
            conditions={
                "and": [
                    {"field": "event.order.total", "gte": 50},
                    {"field": "customer.locale", "in": ["de", "de-CH"]},
                    {"not": {"field": "customer.vip", "eq": True}},
                ]
            }
        )
    )


def test_constraints_are_checked_on_structs_built_in_code_too() -> None:
    trigger = build(
        sample_rate=1.5,
        send_window=SendWindow(start="25:00"),
        delay=timedelta(days=8),
    )
    # msgspec stops at the first shape problem (send_window comes before sample_rate); bounds it cannot
    # express are all reported.
    assert pointers(trigger) == ["/send_window/start", "/delay"]


def test_a_nan_sample_rate_is_refused() -> None:
    assert pointers(build(sample_rate=math.nan)) == ["/sample_rate"]


def test_shape_errors_deep_in_a_list_point_at_the_item() -> None:
    trigger = build(send_window=SendWindow(days=["mon", "someday"]))  # type: ignore[list-item]
    assert pointers(trigger) == ["/send_window/days/1"]


def test_window_crossing_midnight_and_ending_at_24_00_are_valid() -> None:
    validate_trigger(decode(send_window={"start": "22:00", "end": "02:00", "days": ["fri", "sat"]}))
    validate_trigger(decode(send_window={"start": "00:00", "end": "24:00", "outside": "drop"}))


def test_error_messages_name_the_bounds() -> None:
    with pytest.raises(TriggerInvalid) as caught:
        validate_trigger(build(expires_after=timedelta(minutes=1)))
    assert caught.value.errors[0].message == "must be at least PT5M and at most P30D (got PT1M)"
    assert caught.value.title == "Invalid trigger"


def test_stored_trigger_is_the_input_plus_its_id() -> None:
    stored = msgspec.json.encode({**MINIMAL, "id": "7f9c", "priority": 3})
    trigger = msgspec.json.decode(stored, type=Trigger)
    assert (trigger.id, trigger.key, trigger.priority) == ("7f9c", "store-visit", 3)
    assert isinstance(trigger, TriggerIn)
    validate_trigger(trigger)
    with pytest.raises(msgspec.ValidationError, match="id"):
        msgspec.json.decode(msgspec.json.encode(MINIMAL), type=Trigger)


def test_event_facts_need_an_aware_occurred_at() -> None:
    payload = {"idempotency_key": "e1", "touchpoint": "store", "occurred_at": "2026-05-04T10:00:00"}
    with pytest.raises(msgspec.ValidationError, match="timezone"):
        msgspec.convert(payload, EventFacts)
    aware = msgspec.convert({**payload, "occurred_at": "2026-05-04T10:00:00+02:00"}, EventFacts)
    assert aware.occurred_at == datetime.fromisoformat("2026-05-04T08:00:00+00:00")
    assert aware.attributes == {}


def test_customer_facts_default_to_unreachable() -> None:
    customer = CustomerFacts(external_id="c1")
    assert (customer.has_phone, customer.push_tokens, customer.consents, customer.opted_out) == (
        False,
        0,
        {},
        False,
    )


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("00:00", 0), ("08:30", 510), ("23:59", 1439), ("24:00", 1440), ("24:01", None), ("7:00", None), ("", None)],
)
def test_parse_clock(text: str, minutes: int | None) -> None:
    assert parse_clock(text) == minutes


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "PT0S"),
        (timedelta(minutes=5), "PT5M"),
        (timedelta(days=7), "P7D"),
        (timedelta(days=1, hours=12), "P1DT12H"),
        (timedelta(hours=1, seconds=30), "PT1H30S"),
        (timedelta(seconds=1.5), "PT1.5S"),
        (-timedelta(minutes=5), "-PT5M"),
    ],
)
def test_iso_duration_round_trips_through_msgspec(value: timedelta, text: str) -> None:
    assert iso_duration(value) == text
    assert msgspec.json.decode(msgspec.json.encode(text), type=timedelta) == value


def test_durations_are_whole_seconds() -> None:
    with pytest.raises(TriggerInvalid) as caught:
        validate_trigger(decode(delay="PT1.5S"))
    assert [(e.pointer, e.message) for e in caught.value.errors] == [
        ("/delay", "must be whole seconds (got PT1.5S)")
    ]


def test_a_duration_written_as_a_number_is_refused_by_strict_decoding() -> None:
    # The API decodes bodies strictly (server/boundary.py), as here: 300 could mean seconds or minutes.
    with pytest.raises(msgspec.ValidationError, match=r"Expected `duration`, got `int` - at `\$.delay`"):
        msgspec.json.decode(msgspec.json.encode({**MINIMAL, "delay": 300}), type=TriggerIn, strict=True)
