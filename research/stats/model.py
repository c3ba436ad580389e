"""What the statistics routes and the dashboard show: result Structs, and the query they answer.

Pure. Percentages are 0–100 (as `questionnaires.scores` has them), NPS is in points (−100 to 100), times are
minutes. Every estimate carries its n and its 95% interval, or null bounds with the reason
(`Estimate.no_interval`); `Methods` says how each was computed, in every response.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from plumbing.errors import DefinitionInvalid
from responses.studies.model import Compliance, ParticipantStatus

Dimension = Literal["touchpoint", "trigger", "questionnaire"]
"""What the figures are grouped by."""
BucketSize = Literal["day", "week"]
"""Calendar days, or ISO weeks (Monday to Sunday), in the query's time zone."""
UnsentStatus = Literal["suppressed", "expired", "failed", "cancelled"]
ScaleType = Literal["nps", "rating", "ces", "csat"]


class StatsQueryInvalid(DefinitionInvalid):
    """A statistics query with a bad parameter; each error names it (``query:bucket`` …)."""

    title = "Invalid statistics query"


class StatsQuery(msgspec.Struct, frozen=True, kw_only=True):
    """A validated query (`research.stats.query.stats_query` builds one from request parameters)."""

    by: Dimension
    start: datetime
    """From (inclusive): contacts (events' ``occurred_at``) at or after it."""
    end: datetime
    """Until (exclusive)."""
    bucket: BucketSize
    tz: str
    """IANA time zone the buckets are calendar days or weeks of."""
    touchpoint: str | None = None
    trigger: str | None = None
    questionnaire: str | None = None


# -- figures ------------------------------------------------------------------------------------------------------


class Estimate(msgspec.Struct, kw_only=True):
    """A figure with its 95% confidence interval."""

    value: float | None
    """Null when there is nothing to estimate from (n = 0, or a zero denominator)."""
    n: int
    """What the figure is computed over: answers for scores, sends for the response rate."""
    low: float | None
    high: float | None
    no_interval: str | None = None
    """Why `low` and `high` are null (too few answers, no variance …); null when they are given."""


class Latency(msgspec.Struct, kw_only=True):
    """Minutes from the contact (the event's ``occurred_at``) to a step of the survey."""

    n: int
    """Invitations that reached the step."""
    median: float | None
    p90: float | None


class ReasonCount(msgspec.Struct, kw_only=True):
    """Events decided ``not_surveyed`` for one reason (`triggers.decide.REASONS`)."""

    reason: str
    count: int


class Unsent(msgspec.Struct, kw_only=True):
    """Invitations that ended without a send, by status and the reason stored with it."""

    status: UnsentStatus
    reason: str | None
    count: int


class QuestionScore(msgspec.Struct, kw_only=True):
    """The scores of one scale question (by questionnaire key and question id, across versions)."""

    questionnaire: str
    question: str
    type: ScaleType
    scale_min: int
    scale_max: int
    display: str | None
    """stars, emoji or numbers for ratings and CSAT; null for NPS and CES."""
    mean: Estimate
    top_two_box: Estimate | None
    """% of answers on the two highest points (CSAT and ratings, as `questionnaires.scores`); null otherwise."""
    nps: Estimate | None
    """NPS questions only."""


class Figures(msgspec.Struct, kw_only=True):
    """Contacts in a period and what came of them: each figure counts the contacts (events) that occurred in the
    period and the invitations, sends and answers that followed from them, whenever those came."""

    events: int
    invitations: int
    """Events that scheduled an invitation."""
    sends: int
    """Invitations the provider accepted (status ``sent``)."""
    deliveries: int
    """Sent invitations with a delivery receipt (delivered or read); channels without receipts never count."""
    started: int
    """Invitations with at least one answer."""
    responses: int
    """Invitations whose survey was completed."""
    response_rate: Estimate
    """responses / sends, in %."""
    nps: Estimate
    """Over the answers to every NPS question of the period's invitations."""
    csat: Estimate
    """Top-two-box (4–5) of the answers to every CSAT question, in %."""
    scores: list[QuestionScore]
    to_first_answer: Latency
    to_completion: Latency
    not_surveyed: list[ReasonCount]
    """Why events were not surveyed, most frequent first."""
    unsent: list[Unsent]
    """Invitations that ended suppressed, expired, failed or cancelled, most frequent first."""


class Bucket(Figures, kw_only=True):
    """One day or week; the first and last are cut to the query's range."""

    start: datetime
    end: datetime


class Group(msgspec.Struct, kw_only=True):
    """One touchpoint, trigger or questionnaire version, or all of them (`key` null)."""

    key: str | None
    """The touchpoint's, trigger's or questionnaire's key; null for the overall group."""
    name: str | None
    """The touchpoint's name, the trigger's name, the questionnaire's title."""
    version: int | None
    """The questionnaire version (by questionnaire only)."""
    total: Figures
    """Over the whole range."""
    buckets: list[Bucket]
    """Every day or week of the range in order, empty ones included (zero counts, null scores)."""


class Methods(msgspec.Struct, kw_only=True):
    """How the figures were computed, in words, with the thresholds used."""

    confidence: float
    nps: str
    mean: str
    proportion: str
    response_rate: str
    top_two_box: str
    latency: str
    buckets: str
    extra: dict[str, str] = msgspec.field(default_factory=dict)
    """Method notes specific to a report (a tracking study's shares and impact)."""


class Stats(msgspec.Struct, kw_only=True):
    """``GET /v1/stats/touchpoints`` (and triggers, questionnaires)."""

    by: Dimension
    from_: datetime = msgspec.field(name="from")
    to: datetime
    bucket: BucketSize
    tz: str
    overall: Group
    groups: list[Group]
    """By key (and version), in key order."""
    methods: Methods


# -- tracking studies ----------------------------------------------------------------------------------------------


class BrandShare(msgspec.Struct, kw_only=True):
    """One brand of the study's code book among all reported encounters."""

    letter: str
    name: str
    own: bool
    encounters: int
    positive: int
    """Encounters rated positive (4–5 of 5)."""
    share_of_experience: float | None
    """% of all reported encounters (every brand's); null when there are none."""
    share_of_positive_experience: float | None
    """% of all positively rated encounters; null when there are none."""
    positivity: Estimate
    """Mean positivity (1–5) of the brand's encounters."""


class TouchpointPositivity(msgspec.Struct, kw_only=True):
    """How often participants met one brand at one touchpoint, and how positive it was."""

    brand: str
    """The brand letter."""
    touchpoint: str
    """The touchpoint letter."""
    touchpoint_key: str
    touchpoint_name: str
    encounters: int
    participants: int
    """Participants who reported it at least once."""
    positivity: Estimate
    persuasiveness: Estimate


class TouchpointImpact(msgspec.Struct, kw_only=True):
    """The change in consideration among participants who reported an own-brand encounter at the touchpoint,
    against those who did not."""

    touchpoint: str
    touchpoint_key: str
    touchpoint_name: str
    reporters: int
    """Participants with a consideration change who reported the touchpoint (with the own brand)."""
    others: int
    mean_change_reporters: float | None
    mean_change_others: float | None
    difference: Estimate
    """mean_change_reporters − mean_change_others, with a Welch interval."""


class Consideration(msgspec.Struct, kw_only=True):
    """The pre→post change in consideration of the own brand over the participants who answered both."""

    question: str
    """The question id looked for in the pre- and post-survey."""
    scale_min: int | None
    scale_max: int | None
    available: bool
    note: str | None
    """Why the change cannot be computed (no such scale question in both surveys, different scales …)."""
    change: Estimate
    """Mean of post − pre over participants with both answers (paired t interval)."""


class ParticipantFigures(msgspec.Struct, kw_only=True):
    """One participant: encounters, consideration before and after, and compliance (as the participants list)."""

    external_id: str
    status: ParticipantStatus
    encounters: int
    own_brand_encounters: int
    consideration_pre: float | None
    consideration_post: float | None
    consideration_change: float | None
    compliance: Compliance


class StudyStats(msgspec.Struct, kw_only=True):
    """``GET /v1/stats/studies/{key}``."""

    study: str
    participants: int
    encounters: int
    brands: list[BrandShare]
    """In letter order."""
    touchpoints: list[TouchpointPositivity]
    """Every brand × touchpoint reported, by brand letter then touchpoint letter."""
    consideration: Consideration
    impact: list[TouchpointImpact]
    """One per touchpoint letter of the code book."""
    participant_figures: list[ParticipantFigures]
    """In enrolment order."""
    methods: Methods
