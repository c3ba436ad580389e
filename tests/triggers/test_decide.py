"""Deciding on an event: every reason, priority and fall-through, timing across DST, and the pre-send re-check."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import msgspec
import pytest

from triggers.decide import (
    REASONS,
    CustomerFacts,
    Decision,
    Evaluation,
    EventFacts,
    Reason,
    SendCheck,
    check_before_send,
    decide,
    reachable_channels,
)
from triggers.frequency import ContactRecord
from triggers.invitations import InvitationStatus
from triggers.model import Channel, FrequencyRules, SendWindow, Trigger, WhatsAppTemplate, validate_trigger
from triggers.sampling import sample_point

OCCURRED = datetime(2026, 5, 6, 10, 0, tzinfo=UTC)  # Wednesday 12:00 in Berlin
NOW = OCCURRED + timedelta(seconds=3)


def trigger(key: str = "visit", **changes: Any) -> Trigger:
    base = {"id": f"id-{key}", "key": key, "name": key, "touchpoint": "store", "questionnaire": "nps"}
    if "whatsapp" in changes.get("channels", []):
        changes.setdefault(
            "whatsapp_template", WhatsAppTemplate(content_sid="HX" + "0" * 32, variables={"1": "{link}"})
        )
    built = msgspec.structs.replace(msgspec.convert(base, Trigger), **changes)
    validate_trigger(built)
    return built


def event(key: str = "evt-1", occurred_at: datetime = OCCURRED, **attributes: Any) -> EventFacts:
    return EventFacts(idempotency_key=key, touchpoint="store", occurred_at=occurred_at, attributes=attributes)


def customer(**changes: Any) -> CustomerFacts:
    defaults: dict[str, Any] = {
        "external_id": "c1",
        "time_zone": "Europe/Berlin",
        "has_phone": True,
        "consents": {"sms": True},
    }
    return CustomerFacts(**{**defaults, **changes})


def sent(trigger_id: str, at: datetime, status: InvitationStatus = "sent") -> ContactRecord:
    return ContactRecord(trigger_id=trigger_id, planned_at=at, status=status)


def run(
    triggers: list[Trigger],
    *,
    ev: EventFacts | None = None,
    cust: CustomerFacts | None = None,
    history: list[ContactRecord] | None = None,
    now: datetime = NOW,
    touchpoint_known: bool = True,
    questionnaires: set[str] | None = None,
    competitor: bool = False,
) -> Decision:
    return decide(
        ev or event(),
        cust or customer(),
        triggers,
        history or [],
        now,
        touchpoint_known=touchpoint_known,
        questionnaires=questionnaires,
        competitor=competitor,
    )


def keys_drawn(below: bool, rate: float, trigger_id: str, count: int) -> list[str]:
    """Event keys whose draw for `trigger_id` falls below (or not below) `rate`."""
    keys = (f"evt-{i}" for i in range(10_000))
    return [k for k in keys if (sample_point(trigger_id, k) < rate) is below][:count]


# -- the happy path --------------------------------------------------------------------------------------------


def test_a_matching_event_schedules_an_invitation_after_the_delay() -> None:
    decision = run([trigger()])
    assert decision == Decision(
        outcome="scheduled",
        reason=None,
        trigger_id="id-visit",
        planned_at=OCCURRED + timedelta(minutes=5),
        expires_at=OCCURRED + timedelta(minutes=5) + timedelta(days=1),
        channels=["sms"],
        evaluations=[Evaluation(trigger_id="id-visit", trigger_key="visit", outcome="scheduled")],
    )
    assert decision.planned_at is not None and decision.planned_at.tzinfo is UTC


def test_decision_lists_reachable_channels_in_the_trigger_order() -> None:
    t = trigger(channels=["push", "whatsapp", "web_link", "sms"])
    reachable = customer(consents={"sms": True, "whatsapp": True})
    assert run([t], cust=reachable).channels == ["whatsapp", "web_link", "sms"]


def test_conditions_on_event_and_customer_attributes() -> None:
    t = trigger(
        conditions={
            "and": [
                {"field": "event.order.total", "gte": 50},
                {"field": "customer.tier", "eq": "gold"},
            ]
        }
    )
    gold = customer(attributes={"tier": "gold"})
    assert run([t], ev=event(order={"total": 80}), cust=gold).outcome == "scheduled"
    assert run([t], ev=event(order={"total": 20}), cust=gold).reason == "conditions_not_met"
    assert run([t], ev=event(order={"total": 80}), cust=customer()).reason == "conditions_not_met"


# -- every reason ------------------------------------------------------------------------------------------------

SCENARIOS: dict[Reason, dict[str, Any]] = {
    "unknown_touchpoint": {"triggers": [trigger()], "touchpoint_known": False},
    "no_trigger": {"triggers": [trigger(active=False), trigger("elsewhere", touchpoint="web")]},
    "opted_out": {"triggers": [trigger()], "cust": customer(opted_out=True)},
    "conditions_not_met": {"triggers": [trigger(conditions={"field": "event.total", "gte": 50})]},
    "sampled_out": {"triggers": [trigger(sample_rate=0.0)]},
    "no_reachable_channel": {"triggers": [trigger()], "cust": customer(consents={})},
    "stale": {"triggers": [trigger()], "now": OCCURRED + timedelta(hours=2, seconds=1)},
    "outside_window_dropped": {
        "triggers": [trigger(send_window=SendWindow(start="18:00", end="20:00", outside="drop"))]
    },
    "frequency_capped": {"triggers": [trigger()], "history": [sent("id-other", OCCURRED - timedelta(hours=3))]},
    "questionnaire_unavailable": {"triggers": [trigger()], "questionnaires": {"some-other-survey"}},
    "competitor_encounter": {"triggers": [trigger()], "competitor": True},
}


def test_every_reason_is_documented_and_has_a_scenario() -> None:
    assert set(get_args(Reason)) == set(REASONS) == set(SCENARIOS)


@pytest.mark.parametrize("reason", SCENARIOS)
def test_each_reason(reason: Reason) -> None:
    kwargs = dict(SCENARIOS[reason])
    decision = run(kwargs.pop("triggers"), **kwargs)
    assert (decision.outcome, decision.reason) == ("not_surveyed", reason)
    assert (decision.planned_at, decision.expires_at, decision.channels) == (None, None, [])


def test_reasons_before_any_trigger_record_no_evaluations() -> None:
    for reason in (
        "unknown_touchpoint",
        "no_trigger",
        "opted_out",
        "questionnaire_unavailable",
        "competitor_encounter",
    ):
        kwargs = dict(SCENARIOS[reason])  # type: ignore[index]
        decision = run(kwargs.pop("triggers"), **kwargs)
        assert (decision.evaluations, decision.trigger_id) == ([], None)


def test_unknown_touchpoint_comes_first_and_opted_out_before_any_trigger() -> None:
    opted_out = customer(opted_out=True)
    assert run([trigger()], cust=opted_out, touchpoint_known=False).reason == "unknown_touchpoint"
    unmatched = trigger(conditions={"field": "event.total", "gte": 50})
    assert run([unmatched], cust=opted_out).reason == "opted_out"


def test_a_skipped_trigger_is_named_with_its_reason() -> None:
    decision = run([trigger(sample_rate=0.0)])
    assert decision.trigger_id == "id-visit"
    assert decision.evaluations == [
        Evaluation(trigger_id="id-visit", trigger_key="visit", outcome="skipped", reason="sampled_out")
    ]


def test_conditions_not_met_names_no_trigger() -> None:
    decision = run([trigger(conditions={"field": "event.total", "gte": 50})])
    assert decision.trigger_id is None
    assert [e.reason for e in decision.evaluations] == ["conditions_not_met"]


# -- sampling ----------------------------------------------------------------------------------------------------


def test_sampling_is_decided_per_event_and_replays_identically() -> None:
    t = trigger(sample_rate=0.5)
    for key in keys_drawn(True, 0.5, t.id, 5):
        assert run([t], ev=event(key)).outcome == "scheduled"
        assert run([t], ev=event(key), now=NOW + timedelta(minutes=1)).outcome == "scheduled"
    for key in keys_drawn(False, 0.5, t.id, 5):
        assert run([t], ev=event(key)).reason == "sampled_out"


def test_sample_rate_is_roughly_honoured_over_many_events() -> None:
    t = trigger(sample_rate=0.2)
    scheduled = sum(run([t], ev=event(f"evt-{i}")).outcome == "scheduled" for i in range(2000))
    assert 340 < scheduled < 460


# -- channels ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reachable"),
    [
        ({"has_phone": True, "consents": {"sms": True}}, ["sms", "web_link"]),
        ({"has_phone": False, "consents": {"sms": True}}, []),
        ({"has_phone": True, "consents": {"sms": False}}, []),
        ({"has_phone": True, "consents": {}}, []),
        ({"has_phone": True, "consents": {"whatsapp": True}}, ["whatsapp"]),
        ({"has_phone": False, "consents": {"whatsapp": True}}, []),
        ({"push_tokens": 1, "consents": {"push": True}}, ["push"]),
        ({"push_tokens": 0, "consents": {"push": True}}, []),
        ({"push_tokens": 2, "consents": {"sms": True}}, []),
        (
            {"has_phone": True, "push_tokens": 1, "consents": {"push": True, "sms": True, "whatsapp": True}},
            ["push", "sms", "whatsapp", "web_link"],
        ),
    ],
)
def test_reachability_needs_the_means_and_explicit_consent(changes: dict[str, Any], reachable: list[str]) -> None:
    facts = CustomerFacts(external_id="c1", **changes)
    assert reachable_channels(["push", "sms", "whatsapp", "web_link"], facts) == reachable


def test_reachable_channels_keep_the_preference_order() -> None:
    everything = customer(push_tokens=1, consents={"push": True, "sms": True, "whatsapp": True})
    order: list[Channel] = ["web_link", "whatsapp", "push", "sms"]
    assert reachable_channels(order, everything) == order


# -- timing ------------------------------------------------------------------------------------------------------


def test_late_event_within_max_lag_goes_out_as_soon_as_possible() -> None:
    now = OCCURRED + timedelta(hours=1)
    decision = run([trigger()], now=now)
    assert decision.planned_at == now
    assert decision.expires_at == now + timedelta(days=1)


def test_event_arriving_after_max_lag_is_stale() -> None:
    decision = run([trigger()], now=OCCURRED + timedelta(hours=2, seconds=1))
    assert decision.reason == "stale"
    assert decision.evaluations[0].detail == "late_arrival"
    # The boundary itself is still fresh.
    assert run([trigger()], now=OCCURRED + timedelta(hours=2)).planned_at == OCCURRED + timedelta(hours=2)


def test_event_dated_in_the_future_waits_for_its_delay() -> None:
    ahead = OCCURRED + timedelta(minutes=10)
    assert run([trigger()], ev=event(occurred_at=ahead)).planned_at == ahead + timedelta(minutes=5)


def test_zero_delay_sends_now() -> None:
    assert run([trigger(delay=timedelta(0))]).planned_at == NOW


def test_evening_event_deferred_past_max_lag_is_stale() -> None:
    evening = datetime(2026, 5, 6, 18, 58, tzinfo=UTC)  # 20:58 CEST; +5 min is after 21:00
    decision = run([trigger()], ev=event(occurred_at=evening), now=evening)
    assert decision.reason == "stale"
    assert decision.evaluations[0].detail == "deferred_past_max_lag"


def test_evening_event_deferred_to_the_morning_when_max_lag_allows() -> None:
    evening = datetime(2026, 5, 6, 18, 58, tzinfo=UTC)
    t = trigger(max_lag=timedelta(hours=12), expires_after=timedelta(hours=4))
    decision = run([t], ev=event(occurred_at=evening), now=evening)
    assert decision.planned_at == datetime(2026, 5, 7, 6, 0, tzinfo=UTC)  # Thursday 08:00 CEST
    assert decision.expires_at == datetime(2026, 5, 7, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("time_zone", "occurred", "planned"),
    [
        # Saturday 20:58 local before each change; the 21:03 send is deferred to Sunday 08:00 in the new offset.
        ("Europe/Berlin", "2026-03-28T19:58:00+00:00", "2026-03-29T06:00:00+00:00"),
        ("Europe/Berlin", "2026-10-24T18:58:00+00:00", "2026-10-25T07:00:00+00:00"),
        ("America/New_York", "2026-03-08T01:58:00+00:00", "2026-03-08T12:00:00+00:00"),
        ("America/New_York", "2026-11-01T00:58:00+00:00", "2026-11-01T13:00:00+00:00"),
    ],
)
def test_deferral_over_a_dst_change(time_zone: str, occurred: str, planned: str) -> None:
    at = datetime.fromisoformat(occurred)
    t = trigger(max_lag=timedelta(days=1))
    decision = run([t], ev=event(occurred_at=at), cust=customer(time_zone=time_zone), now=at)
    assert decision.planned_at == datetime.fromisoformat(planned)


def test_weekday_window_defers_a_friday_evening_event_to_monday() -> None:
    friday = datetime(2026, 5, 8, 16, 0, tzinfo=UTC)  # 18:00 CEST
    office = SendWindow(days=["mon", "tue", "wed", "thu", "fri"], start="09:00", end="17:00")
    t = trigger(send_window=office, max_lag=timedelta(days=3))
    assert run([t], ev=event(occurred_at=friday), now=friday).planned_at == datetime(2026, 5, 11, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("customer_tz", "planned"),
    [
        ("Europe/Berlin", OCCURRED + timedelta(minutes=5)),  # 12:05 CEST, inside
        (None, datetime(2026, 5, 6, 12, 0, tzinfo=UTC)),  # trigger default New York: 06:05 EDT → 08:00 EDT
        ("Nowhere/Special", datetime(2026, 5, 6, 12, 0, tzinfo=UTC)),
    ],
)
def test_customer_without_a_valid_zone_uses_the_trigger_default(
    customer_tz: str | None, planned: datetime
) -> None:
    t = trigger(default_time_zone="America/New_York", max_lag=timedelta(hours=3))
    assert run([t], cust=customer(time_zone=customer_tz)).planned_at == planned


# -- frequency ---------------------------------------------------------------------------------------------------


def test_default_brand_gap_keeps_a_day_between_surveys_from_any_trigger() -> None:
    decision = run([trigger()], history=[sent("id-other", OCCURRED - timedelta(hours=20))])
    assert decision.reason == "frequency_capped"
    assert decision.evaluations[0].detail == "brand_gap"
    assert run([trigger()], history=[sent("id-other", OCCURRED - timedelta(hours=24))]).outcome == "scheduled"


def test_invitations_that_never_reached_the_customer_do_not_cap() -> None:
    history = [sent("id-visit", OCCURRED - timedelta(hours=1), status=s) for s in ("expired", "suppressed")]
    assert run([trigger()], history=history).outcome == "scheduled"


def test_trigger_gap_and_daily_cap_through_decide() -> None:
    rules = FrequencyRules(brand_gap=timedelta(0), trigger_gap=timedelta(days=7), daily_cap=2)
    t = trigger(frequency=rules)
    own = [sent("id-visit", OCCURRED - timedelta(days=3))]
    assert run([t], history=own).evaluations[0].detail == "trigger_gap"
    two_today = [sent("id-a", OCCURRED - timedelta(hours=3)), sent("id-b", OCCURRED - timedelta(hours=1))]
    assert run([t], history=two_today).evaluations[0].detail == "daily_cap"
    # 23:30 CEST yesterday is the same UTC date as a 00:10 CEST event today, but another local day.
    just_after_midnight = datetime(2026, 5, 5, 22, 10, tzinfo=UTC)
    late_yesterday = [
        sent("id-a", datetime(2026, 5, 5, 21, 30, tzinfo=UTC)),
        sent("id-b", OCCURRED - timedelta(days=1)),
    ]
    always = trigger(frequency=rules, send_window=SendWindow(start="00:00", end="24:00"))
    decision = run(
        [always], ev=event(occurred_at=just_after_midnight), history=late_yesterday, now=just_after_midnight
    )
    assert decision.outcome == "scheduled"


# -- priority and fall-through -----------------------------------------------------------------------------------


def test_highest_priority_wins_and_later_triggers_are_not_looked_at() -> None:
    low, high = trigger("low", priority=1), trigger("high", priority=9)
    decision = run([low, high])
    assert decision.trigger_id == "id-high"
    assert [e.trigger_key for e in decision.evaluations] == ["high"]


def test_equal_priority_is_broken_by_key() -> None:
    assert run([trigger("zeta"), trigger("alpha")]).trigger_id == "id-alpha"


def test_falls_through_to_the_next_trigger() -> None:
    capped = trigger("first", priority=5, frequency=FrequencyRules(brand_gap=timedelta(0)))
    fallback = trigger("second", priority=1, frequency=FrequencyRules(brand_gap=timedelta(0)))
    decision = run([fallback, capped], history=[sent("id-first", OCCURRED - timedelta(days=2))])
    assert decision.trigger_id == "id-second"
    assert decision.evaluations == [
        Evaluation(
            trigger_id="id-first",
            trigger_key="first",
            outcome="skipped",
            reason="frequency_capped",
            detail="trigger_gap",
        ),
        Evaluation(trigger_id="id-second", trigger_key="second", outcome="scheduled"),
    ]


def test_when_none_schedules_the_highest_matching_trigger_explains() -> None:
    unmatched = trigger("a", priority=10, conditions={"field": "event.total", "gte": 50})
    sampled = trigger("b", priority=5, sample_rate=0.0)
    unreachable = trigger("c", priority=1, channels=["push"])
    decision = run([unreachable, unmatched, sampled])
    assert (decision.outcome, decision.reason, decision.trigger_id) == ("not_surveyed", "sampled_out", "id-b")
    assert [(e.trigger_key, e.reason) for e in decision.evaluations] == [
        ("a", "conditions_not_met"),
        ("b", "sampled_out"),
        ("c", "no_reachable_channel"),
    ]


def test_inactive_triggers_and_other_touchpoints_are_ignored() -> None:
    decision = run([trigger("off", priority=9, active=False), trigger("web", touchpoint="web"), trigger("on")])
    assert decision.trigger_id == "id-on"
    assert [e.trigger_key for e in decision.evaluations] == ["on"]


# -- determinism -------------------------------------------------------------------------------------------------


def test_replaying_an_event_gives_the_same_decision_whatever_the_input_order() -> None:
    triggers = [
        trigger("a", priority=3, sample_rate=0.5),
        trigger("b", priority=3, sample_rate=0.5),
        trigger("c", priority=1, channels=["whatsapp", "sms"]),
        trigger("d", priority=7, conditions={"field": "customer.tier", "eq": "gold"}),
    ]
    history = [sent("id-x", OCCURRED - timedelta(days=d)) for d in (2, 3, 5)]
    first = run(triggers, ev=event("evt-42"), history=history)
    for seed in range(5):
        shuffled, past = triggers[:], history[:]
        random.Random(seed).shuffle(shuffled)
        random.Random(seed).shuffle(past)
        assert run(shuffled, ev=event("evt-42"), history=past) == first
    assert msgspec.json.encode(first) == msgspec.json.encode(run(triggers, ev=event("evt-42"), history=history))


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        run([trigger()], now=datetime(2026, 5, 6, 10, 0))


# -- the re-check before sending ---------------------------------------------------------------------------------

PLANNED = OCCURRED + timedelta(minutes=5)


def recheck(cust: CustomerFacts, now: datetime = PLANNED, channels: list[Channel] | None = None) -> SendCheck:
    return check_before_send(
        channels=channels or ["push", "sms"],
        customer=cust,
        send_by=OCCURRED + timedelta(hours=2),
        expires_at=PLANNED + timedelta(days=1),
        now=now,
    )


def test_recheck_sends_on_the_first_channel_reachable_now() -> None:
    assert recheck(customer()) == SendCheck(outcome="send", channel="sms")
    with_app = customer(push_tokens=1, consents={"push": True, "sms": True})
    assert recheck(with_app) == SendCheck(outcome="send", channel="push")


@pytest.mark.parametrize(
    ("cust", "now", "expected"),
    [
        (customer(), PLANNED + timedelta(days=1), SendCheck(outcome="expired")),
        (customer(opted_out=True), PLANNED, SendCheck(outcome="suppressed", reason="opted_out")),
        (customer(), OCCURRED + timedelta(hours=2, seconds=1), SendCheck(outcome="suppressed", reason="stale")),
        (
            customer(consents={"sms": False}),
            PLANNED,
            SendCheck(outcome="suppressed", reason="no_reachable_channel"),
        ),
    ],
)
def test_recheck_refuses_what_changed_since_the_decision(
    cust: CustomerFacts, now: datetime, expected: SendCheck
) -> None:
    assert recheck(cust, now) == expected


def test_brand_rules_apply_on_top_of_each_triggers_own() -> None:
    relaxed = trigger(frequency=FrequencyRules(brand_gap=timedelta(0), trigger_gap=timedelta(0)))
    history = [sent("id-other", OCCURRED - timedelta(hours=3))]
    assert decide(event(), customer(), [relaxed], history, NOW).outcome == "scheduled"
    brand_rules = FrequencyRules(brand_gap=timedelta(days=1), trigger_gap=timedelta(0))
    capped = decide(event(), customer(), [relaxed], history, NOW, brand_rules=brand_rules)
    assert (capped.reason, capped.evaluations[0].detail) == ("frequency_capped", "brand_gap")
    daily = FrequencyRules(brand_gap=timedelta(0), trigger_gap=timedelta(0), daily_cap=1)
    same_day = [sent("id-other", NOW + timedelta(minutes=1))]
    capped = decide(event(), customer(), [relaxed], same_day, NOW, brand_rules=daily)
    assert (capped.reason, capped.evaluations[0].detail) == ("frequency_capped", "daily_cap")


def test_a_trigger_exempt_from_brand_rules_is_held_only_by_its_own() -> None:
    # A study's pre- and post-survey: the participant signed up for them, a brand-wide gap must not skip them.
    exempt = trigger(
        frequency=FrequencyRules(brand_gap=timedelta(0), trigger_gap=timedelta(0), exempt_from_brand_rules=True)
    )
    history = [sent("id-other", OCCURRED - timedelta(hours=3))]
    brand_rules = FrequencyRules(brand_gap=timedelta(days=1), trigger_gap=timedelta(0), daily_cap=1)
    assert decide(event(), customer(), [exempt], history, NOW, brand_rules=brand_rules).outcome == "scheduled"


def test_a_competitor_encounter_is_never_surveyed_but_an_unknown_touchpoint_is_named_first() -> None:
    assert run([trigger()], competitor=True).reason == "competitor_encounter"
    assert run([trigger()], competitor=True, touchpoint_known=False).reason == "unknown_touchpoint"
