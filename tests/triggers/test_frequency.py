"""Contact frequency: brand gap, trigger gap, daily cap by the customer's local day, and which statuses count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from triggers.frequency import DAILY_CAP_LOOKBACK, ContactRecord, frequency_block, history_lookback
from triggers.invitations import STATUSES, InvitationStatus
from triggers.model import FrequencyRules

BERLIN = ZoneInfo("Europe/Berlin")
PLANNED = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
OFF = FrequencyRules(brand_gap=timedelta(0), trigger_gap=timedelta(0), daily_cap=None)


def record(at: datetime, trigger_id: str = "other", status: InvitationStatus = "sent") -> ContactRecord:
    return ContactRecord(trigger_id=trigger_id, planned_at=at, status=status)


def block(rules: FrequencyRules, history: list[ContactRecord], planned: datetime = PLANNED) -> str | None:
    return frequency_block(rules, "this", planned, BERLIN, history)


def test_no_history_never_blocks() -> None:
    assert block(FrequencyRules(daily_cap=1), []) is None


def test_brand_gap_counts_invitations_of_every_trigger() -> None:
    rules = FrequencyRules(brand_gap=timedelta(days=1), trigger_gap=timedelta(0))
    assert block(rules, [record(PLANNED - timedelta(hours=23, minutes=59))]) == "brand_gap"
    assert block(rules, [record(PLANNED - timedelta(days=1))]) is None  # exactly one gap away is fine
    assert block(rules, [record(PLANNED - timedelta(days=2))]) is None


def test_brand_gap_holds_towards_invitations_planned_later() -> None:
    # An invitation deferred to tomorrow morning already occupies tomorrow morning.
    rules = FrequencyRules(brand_gap=timedelta(hours=12), trigger_gap=timedelta(0))
    assert block(rules, [record(PLANNED + timedelta(hours=11), status="scheduled")]) == "brand_gap"
    assert block(rules, [record(PLANNED + timedelta(hours=12), status="scheduled")]) is None


def test_trigger_gap_counts_only_the_same_trigger() -> None:
    rules = FrequencyRules(brand_gap=timedelta(0), trigger_gap=timedelta(days=7))
    three_days_ago = PLANNED - timedelta(days=3)
    assert block(rules, [record(three_days_ago, trigger_id="other")]) is None
    assert block(rules, [record(three_days_ago, trigger_id="this")]) == "trigger_gap"
    assert block(rules, [record(PLANNED - timedelta(days=7), trigger_id="this")]) is None


def test_brand_gap_is_reported_before_trigger_gap() -> None:
    rules = FrequencyRules(brand_gap=timedelta(days=1), trigger_gap=timedelta(days=7))
    assert block(rules, [record(PLANNED - timedelta(hours=1), trigger_id="this")]) == "brand_gap"


def test_zero_gaps_are_off() -> None:
    assert block(OFF, [record(PLANNED, trigger_id="this")]) is None


COUNTS: dict[InvitationStatus, bool] = {
    "scheduled": True,
    "sending": True,
    "sent": True,
    "failed": False,
    "expired": False,
    "suppressed": False,
    "cancelled": False,
}


def test_every_status_is_classified() -> None:
    assert set(COUNTS) == STATUSES


@pytest.mark.parametrize(("status", "counts"), COUNTS.items())
def test_only_invitations_that_reach_or_may_reach_the_customer_count(
    status: InvitationStatus, counts: bool
) -> None:
    history = [record(PLANNED - timedelta(hours=1), trigger_id="this", status=status)]
    assert (block(FrequencyRules(), history) is not None) is counts
    assert (block(FrequencyRules(brand_gap=timedelta(0), daily_cap=1), history) is not None) is counts


def test_daily_cap_counts_the_customer_local_day() -> None:
    rules = FrequencyRules(brand_gap=timedelta(0), trigger_gap=timedelta(0), daily_cap=2)
    planned = datetime(2026, 6, 9, 22, 30, tzinfo=UTC)  # Wednesday 10 June, 00:30 CEST
    same_local_day = record(datetime(2026, 6, 9, 22, 0, tzinfo=UTC))  # 00:00 CEST on the 10th
    previous_local_day = record(datetime(2026, 6, 9, 21, 0, tzinfo=UTC))  # 23:00 CEST on the 9th, same UTC day
    later_same_day = record(datetime(2026, 6, 10, 21, 59, tzinfo=UTC))  # 23:59 CEST on the 10th
    assert block(rules, [same_local_day, previous_local_day], planned) is None
    assert block(rules, [same_local_day, later_same_day], planned) == "daily_cap"
    assert block(rules, [previous_local_day, record(datetime(2026, 6, 9, 1, 0, tzinfo=UTC))], planned) is None


def test_daily_cap_on_the_25_hour_day_of_the_autumn_change() -> None:
    rules = FrequencyRules(brand_gap=timedelta(0), trigger_gap=timedelta(0), daily_cap=2)
    planned = datetime(2026, 10, 25, 12, 0, tzinfo=UTC)
    first_minute = record(datetime(2026, 10, 24, 22, 0, tzinfo=UTC))  # Sunday 00:00 CEST
    last_minute = record(datetime(2026, 10, 25, 22, 59, tzinfo=UTC))  # Sunday 23:59 CET
    assert block(rules, [first_minute, last_minute], planned) == "daily_cap"
    assert block(rules, [first_minute, record(datetime(2026, 10, 25, 23, 0, tzinfo=UTC))], planned) is None


def test_daily_cap_counts_all_triggers_of_the_brand() -> None:
    rules = FrequencyRules(brand_gap=timedelta(0), trigger_gap=timedelta(0), daily_cap=1)
    assert block(rules, [record(PLANNED - timedelta(hours=3), trigger_id="another")]) == "daily_cap"


def test_history_lookback_covers_the_longest_gap_and_the_local_day() -> None:
    assert history_lookback([]) == DAILY_CAP_LOOKBACK
    assert history_lookback([OFF]) == DAILY_CAP_LOOKBACK
    assert history_lookback(
        [FrequencyRules(brand_gap=timedelta(days=3)), FrequencyRules(trigger_gap=timedelta(days=30))]
    ) == timedelta(days=30)
    assert timedelta(hours=25) <= DAILY_CAP_LOOKBACK
