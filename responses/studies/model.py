"""Tracking studies as a brand defines them, their participants as the API shows them, and the study's own keys.

Pure. A study (``PUT /v1/studies/{key}``) has a code book — brand letters (exactly one of them the brand's own,
the others competitors) and touchpoint letters, each bound to a touchpoint of the brand — a pre- and a
post-survey (questionnaire keys), the diary's length in days, the channels the surveys go out on and the hours
they may go out in the participant's time zone, and optional welcome and help texts.

A study owns two touchpoints and two triggers of the brand, named after its key (`internal_keys`): a participant's
enrolment and the end of their diary are reported as events on those touchpoints, and the triggers turn them into
the pre- and post-survey invitations, through the same decision and scheduling as every brand event.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Final, Literal, TypeVar

import msgspec
from msgspec import Meta, field

from customers.model import ExternalId, Locale, Phone, TimeZone
from plumbing.errors import DefinitionInvalid, FieldError, pointer
from questionnaires.model import Locale as TextLocale
from questionnaires.model import Slug
from triggers.catalog import Category
from triggers.model import SendWindow, parse_clock

STUDY_KEY_PATTERN: Final = r"^[a-z][a-z0-9_-]{0,47}$"
"""Like every key, but at most 48 characters: the study's own touchpoint and trigger keys add up to 15."""
MAX_DIARY_DAYS: Final = 60
MAX_STUDY_TEXT: Final = 480
"""A welcome or help text fits in three SMS segments."""


E = TypeVar("E")


class StudyInvalid(DefinitionInvalid):
    title = "Invalid study"


Letter = Annotated[
    str, Meta(pattern=r"^[A-Za-z]$", description="One letter A–Z (case does not matter).", examples=["B"])
]
StudyText = (
    Annotated[str, Meta(min_length=1, max_length=MAX_STUDY_TEXT)]
    | Annotated[
        dict[TextLocale, Annotated[str, Meta(min_length=1, max_length=MAX_STUDY_TEXT)]],
        Meta(min_length=1, description="Translations: locale → text, e.g. {'en': 'Hi', 'de': 'Hallo'}."),
    ]
)
StudyChannel = Literal["sms", "web_link"]
"""The pre- and post-survey go out by SMS (answered by reply) or as an SMS with the web survey link: either way
the participant's phone, which is also where the codes come from."""


class Base(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Shared options, as in `triggers.model.Base`: unknown members are errors naming them, construction reads
    like the JSON, instances are shared safely."""


class CodeBrand(Base, kw_only=True):
    """A brand participants may report encounters with."""

    name: Annotated[str, Meta(min_length=1, max_length=60, examples=["Bolt"])]
    own: bool = False
    """The brand running the study; every other brand of the code book is a competitor."""


class CodeTouchpoint(Base, kw_only=True):
    """A kind of encounter, bound to a touchpoint of the brand (created when missing)."""

    name: Annotated[str, Meta(min_length=1, max_length=60, examples=["TV ad"])]
    touchpoint_key: Slug
    category: Category = "owned"
    """Used only when the touchpoint is created for the study."""


def _sms() -> list[StudyChannel]:
    return ["sms"]


def _daytime() -> SendWindow:
    return SendWindow(start="08:00", end="21:00")


class StudyIn(Base, kw_only=True):
    """A study as a brand submits it (``PUT /v1/studies/{key}``)."""

    name: Annotated[str, Meta(min_length=1, max_length=200, examples=["Ride-hailing diary, spring"])]
    brands: Annotated[
        dict[Letter, CodeBrand],
        Meta(min_length=1, max_length=26, description="Brand letter → brand; exactly one has `own: true`."),
    ]
    touchpoints: Annotated[
        dict[Letter, CodeTouchpoint], Meta(min_length=1, max_length=26, description="Touchpoint letter → kind.")
    ]
    pre_questionnaire: Slug
    """Sent on enrolment; the version current when the invitation is scheduled is pinned, as for any trigger."""
    post_questionnaire: Slug
    """Sent when the participant's diary ends."""
    diary_days: Annotated[int, Meta(ge=1, le=MAX_DIARY_DAYS)] = 7
    channels: Annotated[list[StudyChannel], Meta(min_length=1, max_length=2)] = field(default_factory=_sms)
    send_window: SendWindow = field(default_factory=_daytime)
    """When the pre- and post-survey may go out, in the participant's time zone (outside it they wait)."""
    welcome: StudyText | None = None
    """Opens the pre-survey's first message, before the code format; default: a thank-you naming the study."""
    help: StudyText | None = None
    """Added to the reply to a text that is not a code (e.g. whom to ask)."""


class Study(StudyIn, kw_only=True):
    """A stored study."""

    key: str
    started_at: datetime | None
    """The first enrolment; from then on only `name`, `welcome` and `help` may change."""
    participants: int
    created_at: datetime
    updated_at: datetime


EDITABLE_AFTER_START: Final = frozenset({"name", "welcome", "help"})


class InternalKeys(msgspec.Struct, frozen=True):
    """The touchpoints and triggers a study owns."""

    enrolled: str
    diary_ended: str
    pre_trigger: str
    post_trigger: str


def internal_keys(study_key: str) -> InternalKeys:
    """``study-<key>-enrolled`` and ``study-<key>-ended`` (touchpoints), ``study-<key>-pre`` and ``-post``
    (triggers): keys as the catalogue spells them, so the brand sees them in its touchpoints and triggers."""
    base = f"study-{study_key}"
    return InternalKeys(f"{base}-enrolled", f"{base}-ended", f"{base}-pre", f"{base}-post")


def validate_study(spec: StudyIn) -> StudyIn:
    """The study with its letters upper-case; `StudyInvalid` naming every problem otherwise."""
    errors: list[FieldError] = []
    brands = _letters(spec.brands, "brands", errors)
    touchpoints = _letters(spec.touchpoints, "touchpoints", errors)
    own = [letter for letter, brand in spec.brands.items() if brand.own]
    if len(own) != 1:
        errors.append(
            FieldError("/brands", f"exactly one brand must be the study's own (`own: true`); {len(own)} are")
        )
    names: dict[str, str] = {}
    for letter, brand in spec.brands.items():
        seen = names.setdefault(brand.name.casefold(), letter)
        if seen != letter:
            errors.append(FieldError(pointer("brands", letter, "name"), f"repeats the name of brand {seen}"))
    if len(set(spec.channels)) != len(spec.channels):
        errors.append(FieldError("/channels", "lists a channel more than once"))
    if parse_clock(spec.send_window.start) == parse_clock(spec.send_window.end):
        errors.append(
            FieldError("/send_window/end", "must differ from start; for any hour use start 00:00 and end 24:00")
        )
    if errors:
        raise StudyInvalid(errors)
    return msgspec.structs.replace(spec, brands=brands, touchpoints=touchpoints)


def _letters(entries: dict[str, E], at: str, errors: list[FieldError]) -> dict[str, E]:
    upper: dict[str, E] = {}
    for letter, entry in entries.items():
        if letter.upper() in upper:
            errors.append(
                FieldError(pointer(at, letter), f"{letter.upper()} is listed twice (case does not matter)")
            )
        upper[letter.upper()] = entry
    return dict(sorted(upper.items()))


def changed_after_start(stored: StudyIn, new: StudyIn) -> list[FieldError]:
    """What `new` changes that a started study must keep: its code book and surveys mean its data."""
    return [
        FieldError(f"/{name}", "cannot change once participants are enrolled")
        for name in stored.__struct_fields__
        if name not in EDITABLE_AFTER_START and getattr(stored, name) != getattr(new, name)
    ]


# -- participants ----------------------------------------------------------------------------------------------


class ParticipantIn(Base, kw_only=True):
    """Enrolling a participant: the customer (created or updated as ``PUT /v1/customers`` would) and their
    consent to take part."""

    external_id: ExternalId
    consent: bool
    """Must be true: the participant agreed to take part (recorded in their consent history, source ``study``)."""
    phone: Phone | None = None
    """Where the surveys go and the codes come from; required unless the customer has one already."""
    locale: Locale | None = None
    time_zone: TimeZone | None = None


ParticipantStatus = Literal["active", "ended", "withdrawn"]


class Compliance(msgspec.Struct, kw_only=True):
    """How well a participant keeps up with the study."""

    reports: int
    """Codes texted (valid ones)."""
    diary_days_elapsed: int
    """Days of the diary so far (at least 1, at most its length; up to the withdrawal for a withdrawn one)."""
    reports_per_day: float
    prompts_sent: int
    """Invitations sent to the participant during the study: the pre- and post-survey, and surveys the brand's
    triggers sent."""
    prompts_answered: int
    """Those invitations whose survey was completed."""
    answer_rate: float | None
    """prompts_answered / prompts_sent; null while nothing was sent."""


class Participant(msgspec.Struct, kw_only=True):
    external_id: str
    status: ParticipantStatus
    consented_at: datetime
    enrolled_at: datetime
    diary_starts_at: datetime
    diary_ends_at: datetime
    withdrawn_at: datetime | None
    compliance: Compliance


class ParticipantPage(msgspec.Struct, kw_only=True):
    items: list[Participant]
    next_cursor: str | None
    """Pass as `cursor` for the next page; null on the last page."""


def compliance(
    *,
    reports: int,
    prompts_sent: int,
    prompts_answered: int,
    diary_starts_at: datetime,
    diary_ends_at: datetime,
    withdrawn_at: datetime | None,
    now: datetime,
) -> Compliance:
    """A participant's compliance as of `now`: started diary days count whole (day 1 begins at enrolment)."""
    until = min(now, diary_ends_at, withdrawn_at or now)
    total = max(1, round((diary_ends_at - diary_starts_at) / timedelta(days=1)))
    elapsed = -(-(until - diary_starts_at) // timedelta(days=1))  # started days: ceil
    days = min(total, max(1, elapsed))
    return Compliance(
        reports=reports,
        diary_days_elapsed=days,
        reports_per_day=round(reports / days, 2),
        prompts_sent=prompts_sent,
        prompts_answered=prompts_answered,
        answer_rate=round(prompts_answered / prompts_sent, 3) if prompts_sent else None,
    )


def status(diary_ends_at: datetime, withdrawn_at: datetime | None, now: datetime) -> ParticipantStatus:
    if withdrawn_at is not None:
        return "withdrawn"
    return "ended" if now >= diary_ends_at else "active"
