"""Contact frequency: how often one customer may be surveyed.

Measured on *planned send times*, not on when events arrived, so an invitation deferred to tomorrow morning
already occupies tomorrow morning. Only invitations that reached or may still reach the customer count
(`triggers.invitations.COUNTS_FOR_FREQUENCY`). The caller loads the customer's invitations from
``now - history_lookback(...)`` onwards (future ones included) and holds the customer's row lock while it decides
and inserts, so two events of one customer cannot both take the last slot.

Each trigger applies its own numbers: its ``brand_gap`` against invitations of every trigger of the brand, its
``trigger_gap`` against its own, its ``daily_cap`` against all of the brand's invitations planned on the same
customer-local calendar day as this one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo

import msgspec

from plumbing.errors import DefinitionInvalid
from triggers.durations import check_duration
from triggers.invitations import COUNTS_FOR_FREQUENCY, InvitationStatus
from triggers.model import GAP_MAX, FrequencyRules

FrequencyRule = Literal["brand_gap", "trigger_gap", "daily_cap"]

DAILY_CAP_LOOKBACK: Final = timedelta(days=2)
"""Covers the local calendar day of any planned time at or after now (a local day lasts at most 25 h)."""


class ContactRecord(msgspec.Struct, kw_only=True, frozen=True):
    """One of the customer's invitations, as far as frequency rules care."""

    trigger_id: str
    planned_at: datetime
    status: InvitationStatus


def history_lookback(rules: Iterable[FrequencyRules]) -> timedelta:
    """How far before ``now`` the caller must load the customer's invitations for these rules."""
    return max([DAILY_CAP_LOOKBACK, *(max(r.brand_gap, r.trigger_gap) for r in rules)])


def frequency_block(
    rules: FrequencyRules,
    trigger_id: str,
    planned_at: datetime,
    zone: ZoneInfo,
    history: Iterable[ContactRecord],
) -> FrequencyRule | None:
    """The first rule an invitation of `trigger_id` planned at `planned_at` would break, or None if it may go.

    A gap is kept in both directions (an earlier-planned invitation may be deferred past this one) and an
    invitation exactly one gap away is allowed.
    """
    counted = [r for r in history if r.status in COUNTS_FOR_FREQUENCY]
    if rules.brand_gap and any(abs(planned_at - r.planned_at) < rules.brand_gap for r in counted):
        return "brand_gap"
    if rules.trigger_gap and any(
        r.trigger_id == trigger_id and abs(planned_at - r.planned_at) < rules.trigger_gap for r in counted
    ):
        return "trigger_gap"
    if rules.daily_cap is not None:
        day = planned_at.astimezone(zone).date()
        same_day = sum(1 for r in counted if r.planned_at.astimezone(zone).date() == day)
        if same_day >= rules.daily_cap:
            return "daily_cap"
    return None


class BrandRulesInvalid(DefinitionInvalid):
    title = "Invalid contact rules"


def check_brand_rules(survey_gap: timedelta | None) -> None:
    """Raise `BrandRulesInvalid` for a brand's own contact rules (``PATCH /v1/brand``) out of bounds: a survey
    gap, when set, is more than zero and at most `GAP_MAX` (the daily cap's bounds are in its type)."""
    if survey_gap is None:
        return
    errors = check_duration(
        survey_gap, "/survey_gap", minimum=timedelta(0), maximum=GAP_MAX, minimum_exclusive=True
    )
    if errors:
        raise BrandRulesInvalid(errors)
