"""Whether a touchpoint event becomes an invitation — and, just before sending, whether it still should.

`decide` is a pure function of its inputs (no clock, no randomness: sampling is a hash), so replaying an event
with the same inputs gives the same decision. It looks at the active triggers of the event's touchpoint,
highest ``priority`` first (ties by key), and for each one checks, in this order:

1. conditions on event and customer attributes        → ``conditions_not_met``
2. sampling, deterministic per (trigger id, event key) → ``sampled_out``
3. a channel the customer can be reached on now        → ``no_reachable_channel``
4. timing: the earliest send is ``max(occurred_at + delay, now)`` — the delay counts from the contact, and
   an event that arrives late goes out as soon as it may. It is ``stale`` when that is already past
   ``occurred_at + max_lag``; otherwise the send window places it (``outside_window_dropped`` when it drops),
   and it is ``stale`` too when the window defers it past ``occurred_at + max_lag``.
5. contact frequency on the planned send time           → ``frequency_capped``

The first trigger that passes everything schedules the invitation; the triggers after it are not looked at.
Before any trigger, an unknown touchpoint gives ``unknown_touchpoint`` (a brand's configuration problem worth
surfacing first), a study participant's report of an encounter with a competitor ``competitor_encounter`` (it is
research data about another brand, never a reason to survey), a touchpoint without active triggers ``no_trigger``, triggers whose questionnaire is archived
or unpublished ``questionnaire_unavailable``, and an opted-out customer ``opted_out``.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

import msgspec

from customers.model import CustomerFacts
from triggers.conditions import condition_values, conditions_hold
from triggers.frequency import ContactRecord, frequency_block
from triggers.invitations import is_expired, is_fresh
from triggers.model import Channel, EventFacts, FrequencyRules, SendWindow, Trigger
from triggers.sampling import sampled_in
from triggers.window import customer_zone, place_in_window

__all__ = [
    "REASONS",
    "CustomerFacts",
    "Decision",
    "Evaluation",
    "EventFacts",
    "Reason",
    "SendCheck",
    "check_before_send",
    "decide",
    "reachable_channels",
]

Reason = Literal[
    "no_trigger",
    "unknown_touchpoint",
    "conditions_not_met",
    "sampled_out",
    "frequency_capped",
    "opted_out",
    "no_reachable_channel",
    "stale",
    "outside_window_dropped",
    "questionnaire_unavailable",
    "competitor_encounter",
]

REASONS: Final[dict[Reason, str]] = {
    "no_trigger": "No active trigger exists for the event's touchpoint.",
    "unknown_touchpoint": "The event names a touchpoint the brand has not registered.",
    "conditions_not_met": "No trigger's conditions hold for this event and customer.",
    "sampled_out": "The event fell outside the trigger's sample (deterministic per trigger and event).",
    "frequency_capped": "The customer was surveyed too recently or too often (detail names the rule).",
    "opted_out": "The customer has opted out of surveys.",
    "no_reachable_channel": "None of the trigger's channels reaches the customer with consent.",
    "stale": "The invitation could not go out within max_lag of the contact.",
    "outside_window_dropped": "The send time fell outside the send window, which drops such invitations.",
    "questionnaire_unavailable": "The touchpoint's triggers use a questionnaire that is archived or unpublished.",
    "competitor_encounter": "A study participant reported an encounter with a competitor: stored, never surveyed.",
}
"""Every reason code with its meaning, for the API documentation."""

SuppressReason = Literal["opted_out", "stale", "no_reachable_channel", "outside_window_dropped"]

WINDOW_TOLERANCE: Final = timedelta(seconds=1)
"""A job may start a moment before its planned time (queue scores are whole milliseconds): that is in window."""

Detail = Literal[
    "late_arrival", "deferred_past_max_lag", "brand_gap", "trigger_gap", "daily_cap", "phone_unreachable"
]
"""Which check within a reason: for ``stale`` and ``frequency_capped``, and ``phone_unreachable`` for a
``no_reachable_channel`` that a provider's report on the customer's phone caused."""


class Evaluation(msgspec.Struct, kw_only=True, frozen=True):
    """What one trigger made of the event."""

    trigger_id: str
    trigger_key: str
    outcome: Literal["scheduled", "skipped"]
    reason: Reason | None = None
    detail: Detail | None = None


class Decision(msgspec.Struct, kw_only=True, frozen=True):
    """The one decision stored for an event.

    When not surveyed, ``trigger_id`` is the trigger whose reason is given (None for reasons that concern no
    single trigger). ``channels`` are the trigger's channels reachable at decision time, in preference order;
    the worker chooses again at send time.
    """

    outcome: Literal["scheduled", "not_surveyed"]
    reason: Reason | None = None
    trigger_id: str | None = None
    planned_at: datetime | None = None
    expires_at: datetime | None = None
    channels: list[Channel] = []
    evaluations: list[Evaluation] = []


class SendCheck(msgspec.Struct, kw_only=True, frozen=True):
    """The worker's verdict on a claimed invitation: send on ``channel``, defer it to ``defer_until`` (outside
    the customer's send window), or end it as expired / suppressed."""

    outcome: Literal["send", "defer", "expired", "suppressed"]
    reason: SuppressReason | None = None
    channel: Channel | None = None
    defer_until: datetime | None = None


def reachable_channels(channels: Sequence[Channel], customer: CustomerFacts) -> list[Channel]:
    """The channels of `channels` (order kept) on which the customer can be reached and has consented.

    push: a push token and ``push`` consent; sms: a phone and ``sms`` consent; whatsapp: a phone and
    ``whatsapp`` consent; web_link: a phone and ``sms`` consent — the link travels by SMS, and opening a web
    page needs no consent beyond the one to be contacted; webhook: always — the brand's own backend reaches the
    customer under its own consent rules. A phone a provider reported unreachable counts as no phone. Consent
    is an explicit True; opt-out is checked apart.
    """
    return [c for c in channels if _reaches(c, customer, customer.has_phone and not customer.phone_unreachable)]


def _reaches(channel: Channel, customer: CustomerFacts, phone: bool) -> bool:
    consent = customer.consents
    match channel:
        case "push":
            return customer.push_tokens > 0 and consent.get("push") is True
        case "sms" | "web_link":
            return phone and consent.get("sms") is True
        case "whatsapp":
            return phone and consent.get("whatsapp") is True
        case "webhook":
            return True


def _unreachable_detail(channels: Sequence[Channel], customer: CustomerFacts) -> Detail | None:
    """``phone_unreachable`` when a provider's report on the phone is why no channel reaches the customer."""
    if customer.phone_unreachable and any(_reaches(c, customer, customer.has_phone) for c in channels):
        return "phone_unreachable"
    return None


def decide(
    event: EventFacts,
    customer: CustomerFacts,
    triggers: Sequence[Trigger],
    history: Sequence[ContactRecord],
    now: datetime,
    *,
    touchpoint_known: bool = True,
    questionnaires: Container[str] | None = None,
    brand_rules: FrequencyRules | None = None,
    competitor: bool = False,
) -> Decision:
    """Decide what `event` leads to, given the brand's triggers and the customer's recent invitations.

    `triggers` may hold every trigger of the brand (others are filtered out); `history` is the customer's
    invitations from ``now - history_lookback(...)`` on; `questionnaires` the keys of the brand's published,
    unarchived questionnaires (None: all are); `brand_rules` the brand's contact rules over all its triggers,
    checked after each trigger's own (unless the trigger is exempt); `competitor` marks a study participant's
    report of an encounter with a competitor. All datetimes must be aware.
    """
    if now.utcoffset() is None or event.occurred_at.utcoffset() is None:
        raise ValueError("decide needs aware datetimes (now and occurred_at)")
    if not touchpoint_known:
        return Decision(outcome="not_surveyed", reason="unknown_touchpoint")
    if competitor:
        return Decision(outcome="not_surveyed", reason="competitor_encounter")
    candidates = sorted(
        (t for t in triggers if t.active and t.touchpoint == event.touchpoint),
        key=lambda t: (-t.priority, t.key, t.id),
    )
    if not candidates:
        return Decision(outcome="not_surveyed", reason="no_trigger")
    if questionnaires is not None:
        candidates = [t for t in candidates if t.questionnaire in questionnaires]
        if not candidates:
            return Decision(outcome="not_surveyed", reason="questionnaire_unavailable")
    if customer.opted_out:
        return Decision(outcome="not_surveyed", reason="opted_out")

    # Flattening the attributes costs more than the rest of a decision; only conditions need it.
    values = condition_values(event, customer) if any(t.conditions for t in candidates) else {}
    evaluations: list[Evaluation] = []
    for trigger in candidates:
        evaluation, plan = _evaluate(trigger, event, customer, values, history, now, brand_rules)
        evaluations.append(evaluation)
        if plan is not None:
            planned_at, channels = plan
            return Decision(
                outcome="scheduled",
                trigger_id=trigger.id,
                planned_at=planned_at,
                expires_at=planned_at + trigger.expires_after,
                channels=channels,
                evaluations=evaluations,
            )
    # Explain by the most important trigger that wanted this event; if none did, its conditions were the cause.
    matched = next((e for e in evaluations if e.reason != "conditions_not_met"), None)
    return Decision(
        outcome="not_surveyed",
        reason=matched.reason if matched else "conditions_not_met",
        trigger_id=matched.trigger_id if matched else None,
        evaluations=evaluations,
    )


def check_before_send(
    *,
    channels: Sequence[Channel],
    customer: CustomerFacts,
    send_by: datetime,
    expires_at: datetime,
    now: datetime,
    send_window: SendWindow | None = None,
    default_time_zone: str = "UTC",
) -> SendCheck:
    """Re-check a claimed invitation at send time: things change between the decision and the send.

    In order: past ``expires_at`` → expired; opted out → suppressed ``opted_out``; past ``send_by`` (the contact's
    time plus the trigger's ``max_lag``, fixed at the decision) → suppressed ``stale``; no reachable channel now →
    suppressed ``no_reachable_channel``; outside the trigger's `send_window` in the customer's *current* time
    zone (it may have changed since the decision) → ``defer`` to the window's next opening, or suppressed
    ``stale`` when that is past ``send_by`` (``outside_window_dropped`` for a window that drops); else send on the
    first reachable channel of `channels` (the trigger's, in preference order).
    """
    if is_expired(expires_at, now):
        return SendCheck(outcome="expired")
    if customer.opted_out:
        return SendCheck(outcome="suppressed", reason="opted_out")
    if now > send_by:  # the end point itself is still fresh, as in `is_fresh`
        return SendCheck(outcome="suppressed", reason="stale")
    reachable = reachable_channels(channels, customer)
    if not reachable:
        return SendCheck(outcome="suppressed", reason="no_reachable_channel")
    if send_window is not None:
        opens = place_in_window(now, send_window, customer_zone(customer.time_zone, default_time_zone))
        if opens is None:
            return SendCheck(outcome="suppressed", reason="outside_window_dropped")
        if opens > now + WINDOW_TOLERANCE:
            if opens > send_by:
                return SendCheck(outcome="suppressed", reason="stale")
            return SendCheck(outcome="defer", defer_until=opens)
    return SendCheck(outcome="send", channel=reachable[0])


def _evaluate(
    trigger: Trigger,
    event: EventFacts,
    customer: CustomerFacts,
    values: dict[str, object],
    history: Sequence[ContactRecord],
    now: datetime,
    brand_rules: FrequencyRules | None,
) -> tuple[Evaluation, tuple[datetime, list[Channel]] | None]:
    def skipped(reason: Reason, detail: Detail | None = None) -> tuple[Evaluation, None]:
        return Evaluation(
            trigger_id=trigger.id, trigger_key=trigger.key, outcome="skipped", reason=reason, detail=detail
        ), None

    if not conditions_hold(trigger.conditions, values):
        return skipped("conditions_not_met")
    if not sampled_in(trigger.sample_rate, trigger.id, event.idempotency_key):
        return skipped("sampled_out")
    channels = reachable_channels(trigger.channels, customer)
    if not channels:
        return skipped("no_reachable_channel", _unreachable_detail(trigger.channels, customer))

    zone = customer_zone(customer.time_zone, trigger.default_time_zone)
    earliest = max(event.occurred_at + trigger.delay, now).astimezone(UTC)
    if not is_fresh(event.occurred_at, earliest, trigger.max_lag):
        return skipped("stale", "late_arrival")
    planned = place_in_window(earliest, trigger.send_window, zone)
    if planned is None:
        return skipped("outside_window_dropped")
    if not is_fresh(event.occurred_at, planned, trigger.max_lag):
        return skipped("stale", "deferred_past_max_lag")
    rule = frequency_block(trigger.frequency, trigger.id, planned, zone, history)
    if rule is None and brand_rules is not None and not trigger.frequency.exempt_from_brand_rules:
        rule = frequency_block(brand_rules, trigger.id, planned, zone, history)
    if rule is not None:
        return skipped("frequency_capped", rule)

    scheduled = Evaluation(trigger_id=trigger.id, trigger_key=trigger.key, outcome="scheduled")
    return scheduled, (planned, channels)
