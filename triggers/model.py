"""Triggers as brands define them, and the facts a decision is made from.

A trigger binds a touchpoint to a questionnaire (both by key) and says when a contact becomes a survey:
conditions, delay, send window, sample rate, contact frequency, freshness (``max_lag``), channels, expiry.

Decoding checks shapes and simple bounds (the ``Meta`` constraints, which also show in OpenAPI) and stops at the
first problem; `validate_trigger` checks what ``Meta`` cannot express — duration bounds, time zones, repeated
entries, the conditions, and rules spanning fields — and reports every problem at once.

Durations are ISO 8601 durations with the units D, H, M, S (``"PT5M"``, ``"PT2H"``, ``"P1D"``; see
`triggers.durations`). Defaults are what a brand would expect from a first trigger:

=================== ========================== =====================================================
field                default                    bounds
=================== ========================== =====================================================
``delay``            ``PT5M``                   ``PT0S`` … ``P7D``
``send_window``      every day 08:00–21:00,     ``HH:MM`` local times; ``end`` may be ``24:00``;
                     ``defer``                  ``end`` before ``start`` crosses midnight
``sample_rate``      ``1.0``                    0 … 1
``frequency``        ``brand_gap`` ``P1D``,      gaps ``PT0S`` … ``P365D`` (``PT0S`` = off);
                     ``trigger_gap`` ``P7D``,    ``daily_cap`` 1 … 100 or null (= no cap)
                     ``daily_cap`` null,
                     ``exempt_from_brand_rules``
                     false
``max_lag``          ``PT2H``                   more than ``PT0S``, at most ``P30D``, and ≥ ``delay``
``channels``         ``["sms"]``                1–5 distinct of push, sms, whatsapp, web_link, webhook
``style``            ``conversation``           ``conversation`` or ``link`` (SMS and WhatsApp)
``when_busy``        ``link``                   ``link`` or ``wait``: a conversation is open already
``whatsapp_template`` none                      required when ``channels`` has whatsapp; a value must use
                                                ``{link}`` unless the style is ``conversation`` with
                                                ``when_busy`` ``wait`` (see `validate_trigger`)
``expires_after``    ``P1D``                    ``PT5M`` … ``P30D``
``priority``         ``0``                      -1000 … 1000 (higher wins)
``active``           ``true``
``default_time_zone`` ``"UTC"``                 an IANA zone name; used when the customer has none
=================== ========================== =====================================================
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Final, Literal, get_args

import msgspec
from msgspec import Meta, field

from customers.zones import ZONE_RULE, load_zone
from plumbing.errors import DefinitionInvalid, FieldError, from_msgspec, pointer
from questionnaires.model import Slug
from triggers.conditions import check_conditions
from triggers.durations import check_duration, iso_duration


class TriggerInvalid(DefinitionInvalid):
    title = "Invalid trigger"


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: Final[tuple[Weekday, ...]] = get_args(Weekday)
"""In `datetime.weekday()` order: ``WEEKDAYS[d.weekday()]`` is the name of date ``d``'s day."""

Channel = Literal["push", "sms", "whatsapp", "web_link", "webhook"]
"""How an invitation reaches the customer. ``web_link`` is a link to the mobile web survey, sent by SMS;
``webhook`` hands the invitation to the brand's own backend (which reaches the customer in its app)."""

Style = Literal["conversation", "link"]
"""How an SMS or WhatsApp invitation reads: ``conversation`` sends the intro and the first question, and the
customer answers by reply; ``link`` sends a short text with the invitation's web survey link."""

WhenBusy = Literal["link", "wait"]
"""What a ``conversation``-style invitation does when the customer is still in another conversation with the
brand's sender: replies can only belong to one of them, so it goes as a ``link`` instead, or it ``wait``s until
that conversation is over (deferred, and ``stale`` once past its ``max_lag``). By WhatsApp the link goes in the
template's ``{link}`` variable, which ``link`` therefore requires."""

Outside = Literal["defer", "drop"]

LINK: Final = "{link}"
"""The placeholder of a WhatsApp template variable that carries the invitation's web survey link."""

DELAY_MAX: Final = timedelta(days=7)
MAX_LAG_MAX: Final = timedelta(days=30)
EXPIRES_MIN: Final = timedelta(minutes=5)
EXPIRES_MAX: Final = timedelta(days=30)
GAP_MAX: Final = timedelta(days=365)
LAG_MARGIN: Final = timedelta(minutes=1)
"""How much longer than the delay ``max_lag`` must be: room for the worker to pick the invitation up."""

_CLOCK = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
_CLOCK_OR_MIDNIGHT = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
_CLOCK_RE: Final = re.compile(_CLOCK_OR_MIDNIGHT)

TriggerName = Annotated[str, Meta(min_length=1, max_length=200, examples=["NPS after a store visit"])]
Clock = Annotated[str, Meta(pattern=_CLOCK, description="Local time HH:MM, 00:00–23:59.", examples=["08:00"])]
EndClock = Annotated[
    str,
    Meta(
        pattern=_CLOCK_OR_MIDNIGHT,
        description="Local time HH:MM; 24:00 is the end of the day. Before `start`: the window crosses midnight.",
        examples=["21:00"],
    ),
]
Days = Annotated[list[Weekday], Meta(min_length=1, max_length=7, description="Days on which the window opens.")]
Channels = Annotated[
    list[Channel],
    Meta(min_length=1, max_length=5, description="In order of preference; the first reachable one is used."),
]
SampleRate = Annotated[float, Meta(ge=0.0, le=1.0, description="Share of matching events surveyed, 0–1.")]
DailyCap = Annotated[int, Meta(ge=1, le=100, description="Invitations per customer per local calendar day.")]
Priority = Annotated[int, Meta(ge=-1000, le=1000, description="Higher wins when several triggers match.")]
TimeZoneName = Annotated[str, Meta(min_length=1, max_length=64, examples=["Europe/Berlin"])]
TriggerConditions = Annotated[
    dict[str, Any],
    Meta(
        description=(
            "Condition on event and customer attributes, e.g. {'field': 'event.order.total', 'gte': 50}; "
            "fields are event.<attr>, event.touchpoint, customer.<attr>, customer.locale, customer.time_zone, "
            "customer.has_phone, customer.has_push."
        )
    ),
]


class Base(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Shared options of the trigger Structs.

    - ``forbid_unknown_fields``: a misspelt key (``sample_rtae``) is an error naming it, not a silent default.
    - ``kw_only``: fields with defaults may sit anywhere, and construction in code reads like the JSON.
      msgspec does not inherit this one option, so every subclass repeats ``kw_only=True``.
    - ``frozen``: pure functions share instances safely.
    Unlike the questionnaire model, defaults are *not* omitted when encoding: a stored trigger keeps the values
    it was created with even if a default here changes later.
    """


def _every_day() -> list[Weekday]:
    return list(WEEKDAYS)


def _sms_only() -> list[Channel]:
    return ["sms"]


class SendWindow(Base, kw_only=True):
    """When invitations may go out, in the customer's local time.

    A window opens on each listed day at ``start`` and closes at ``end`` the same day, or the next day when
    ``end`` is before ``start`` (``22:00``–``02:00`` on ``fri`` runs from Friday night into Saturday). Outside it
    an invitation is deferred to the next opening (``defer``) or not sent (``drop``). DST is resolved in
    `triggers.window`.
    """

    days: Days = field(default_factory=_every_day)
    start: Clock = "08:00"
    end: EndClock = "21:00"
    outside: Outside = "defer"


class FrequencyRules(Base, kw_only=True):
    """How often one customer may be surveyed; a new invitation must respect all three.

    ``brand_gap``: minimum time between this trigger's invitation and any other of the brand (any trigger);
    ``trigger_gap``: the same, counting only this trigger's invitations; ``daily_cap``: invitations of the brand
    per customer-local calendar day. All measured on planned send times (see `triggers.frequency`).
    """

    brand_gap: timedelta = timedelta(days=1)
    trigger_gap: timedelta = timedelta(days=7)
    daily_cap: DailyCap | None = None
    exempt_from_brand_rules: bool = False
    """The brand's own ``survey_gap`` and ``daily_survey_cap`` do not apply to this trigger: for surveys the
    customer signed up for, such as a tracking study's pre- and post-survey, which a brand-wide gap must not skip."""


class WhatsAppTemplate(Base, kw_only=True):
    """An approved WhatsApp message template (Twilio Content API): WhatsApp delivers a message that opens a
    conversation only as a template. Variable values may use the placeholders ``{link}`` (the invitation's web
    survey link), ``{title}`` (the questionnaire's title) and ``{question}`` (its first question), in the
    customer's locale."""

    content_sid: Annotated[
        str,
        Meta(pattern=r"^HX[0-9a-f]{32}$", description="The template's Content SID.", examples=["HX" + "0" * 32]),
    ]
    variables: Annotated[
        dict[Annotated[str, Meta(pattern=r"^[0-9]{1,2}$")], Annotated[str, Meta(max_length=1024)]],
        Meta(max_length=20, description="Template variable number → value.", examples=[{"1": "{title}"}]),
    ] = {}

    @property
    def carries_link(self) -> bool:
        """Whether a variable carries the invitation's web survey link: the only way a template can."""
        return any(LINK in value for value in self.variables.values())


class TriggerIn(Base, kw_only=True):
    """A trigger as a brand submits it (``POST /v1/triggers``)."""

    key: Slug
    name: TriggerName
    touchpoint: Slug
    questionnaire: Slug
    """Questionnaire key; the version current when an invitation is scheduled is the one pinned to it."""
    conditions: TriggerConditions | None = None
    delay: timedelta = timedelta(minutes=5)
    """Wait after the contact (``occurred_at``) before sending, so the customer has left the counter."""
    send_window: SendWindow = field(default_factory=SendWindow)
    sample_rate: SampleRate = 1.0
    frequency: FrequencyRules = field(default_factory=FrequencyRules)
    max_lag: timedelta = timedelta(hours=2)
    """Latest send after the contact: an invitation that cannot go out by ``occurred_at + max_lag`` is stale."""
    channels: Channels = field(default_factory=_sms_only)
    style: Style = "conversation"
    when_busy: Annotated[
        WhenBusy,
        Meta(
            description="For the conversation style: when the customer is still answering another survey by "
            "reply on the same sender, send this one as a `link` (the default), or `wait` until that "
            "conversation is over (deferred; stale once past `max_lag`). With whatsapp, `link` needs a "
            "`{link}` variable in `whatsapp_template`."
        ),
    ] = "link"
    whatsapp_template: WhatsAppTemplate | None = None
    expires_after: timedelta = timedelta(days=1)
    """Invitation lifetime from its planned send time; later sends and answers are refused."""
    priority: Priority = 0
    active: bool = True
    default_time_zone: TimeZoneName = "UTC"
    """Zone of the send window and daily cap for customers without a (valid) time zone of their own."""


class Trigger(TriggerIn, kw_only=True):
    """A stored, validated trigger: `TriggerIn` plus the id the database gave it."""

    id: str


class EventFacts(msgspec.Struct, kw_only=True, frozen=True):
    """What a decision needs to know about a touchpoint event."""

    idempotency_key: str
    touchpoint: str
    occurred_at: Annotated[datetime, Meta(tz=True)]
    attributes: dict[str, Any] = {}


def parse_clock(text: str) -> int | None:
    """Minutes after midnight of an ``HH:MM`` (or ``24:00``) clock time, or None if it is not one."""
    if not _CLOCK_RE.match(text):
        return None
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def validate_trigger(trigger: TriggerIn) -> None:
    """Raise `TriggerInvalid` listing every problem of `trigger`, each with a JSON pointer to its field.

    Also re-checks the ``Meta`` constraints, so a Struct built in code (where msgspec does not check them)
    cannot slip through; that part reports only the first such problem, as decoding would.
    """
    errors = _shape_errors(trigger)
    delay_errors = check_duration(trigger.delay, "/delay", minimum=timedelta(0), maximum=DELAY_MAX)
    lag_errors = check_duration(
        trigger.max_lag, "/max_lag", minimum=timedelta(0), maximum=MAX_LAG_MAX, minimum_exclusive=True
    )
    errors += delay_errors + lag_errors
    if not delay_errors and not lag_errors and trigger.max_lag < trigger.delay + LAG_MARGIN:
        errors.append(
            FieldError(
                "/max_lag",
                f"must exceed the delay ({iso_duration(trigger.delay)}) by at least {iso_duration(LAG_MARGIN)}, "
                "or invitations would be stale before they can be sent",
            )
        )
    errors += check_duration(trigger.expires_after, "/expires_after", minimum=EXPIRES_MIN, maximum=EXPIRES_MAX)
    for name in ("brand_gap", "trigger_gap"):
        gap: timedelta = getattr(trigger.frequency, name)
        errors += check_duration(gap, pointer("frequency", name), minimum=timedelta(0), maximum=GAP_MAX)
    errors += _repeated(trigger.channels, "channels")
    if "whatsapp" in trigger.channels:
        errors += _whatsapp_errors(trigger)
    errors += _repeated(trigger.send_window.days, "send_window", "days")
    start, end = parse_clock(trigger.send_window.start), parse_clock(trigger.send_window.end)
    if start is not None and start == end:
        errors.append(
            FieldError(
                "/send_window/end",
                "must differ from start; for a window that is always open use start 00:00 and end 24:00",
            )
        )
    if load_zone(trigger.default_time_zone) is None:
        errors.append(
            FieldError("/default_time_zone", f"unknown time zone {trigger.default_time_zone!r}; {ZONE_RULE}")
        )
    if trigger.conditions is not None:
        errors += check_conditions(trigger.conditions, "/conditions")
    if errors:
        raise TriggerInvalid(_unique(errors))


def _whatsapp_errors(trigger: TriggerIn) -> list[FieldError]:
    """The template a trigger with the whatsapp channel needs: one, and one that carries the link whenever the
    message may have to be a link (WhatsApp sends only the template's text, so a link must be one of its
    variables)."""
    template = trigger.whatsapp_template
    if template is None:
        return [
            FieldError(
                "/whatsapp_template",
                "is required when channels include whatsapp: WhatsApp delivers a message that opens a "
                "conversation only as an approved template",
            )
        ]
    if template.carries_link:
        return []
    if trigger.style == "link":
        why = "with style link the survey is answered on the web page the link opens"
    elif trigger.when_busy == "link":
        why = (
            "with when_busy link an invitation due while the customer is still answering another survey on the "
            "sender goes as a link; or set when_busy to wait"
        )
    else:
        return []
    return [FieldError("/whatsapp_template/variables", f"must use {LINK} in a value: {why}")]


def _shape_errors(trigger: TriggerIn) -> list[FieldError]:
    try:
        msgspec.convert(msgspec.to_builtins(trigger), type(trigger))
    except msgspec.ValidationError as exc:
        return [from_msgspec(exc)]
    return []


def _repeated(items: list[Any], *at: str) -> list[FieldError]:
    seen: set[Any] = set()
    errors = []
    for i, item in enumerate(items):
        if item in seen:
            errors.append(FieldError(pointer(*at, i), f"{item!r} is listed more than once"))
        seen.add(item)
    return errors


def _unique(errors: list[FieldError]) -> list[FieldError]:
    # A shape error may coincide with a check below (e.g. the same field), so keep each message once.
    return list(dict.fromkeys(errors))
