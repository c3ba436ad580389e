"""The invitation state machine and the worker's time checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from triggers.invitations import (
    COUNTS_FOR_FREQUENCY,
    STATUSES,
    TRANSITIONS,
    InvitationStatus,
    allowed_from,
    can_transition,
    is_expired,
    is_fresh,
)

ALLOWED: set[tuple[InvitationStatus, InvitationStatus]] = {
    ("scheduled", "sending"),  # the claim
    ("scheduled", "cancelled"),  # deactivation, or the claim's re-check
    ("sending", "sent"),
    ("sending", "failed"),
    ("sending", "expired"),  # the re-check after the claim
    ("sending", "suppressed"),
    ("sending", "scheduled"),  # a retry or a deferral
}
NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("current", sorted(STATUSES))
@pytest.mark.parametrize("target", sorted(STATUSES))
def test_exactly_the_documented_transitions_are_allowed(
    current: InvitationStatus, target: InvitationStatus
) -> None:
    assert can_transition(current, target) is ((current, target) in ALLOWED)


def test_terminal_statuses_have_no_way_out() -> None:
    assert {s for s, targets in TRANSITIONS.items() if not targets} == {
        "sent",
        "failed",
        "expired",
        "suppressed",
        "cancelled",
    }


def test_statuses_that_count_for_frequency() -> None:
    assert {"scheduled", "sending", "sent"} == COUNTS_FOR_FREQUENCY


def test_every_status_is_reachable_from_scheduled() -> None:
    reached, frontier = {"scheduled"}, ["scheduled"]
    while frontier:
        current = frontier.pop()
        for target in STATUSES:
            if can_transition(current, target) and target not in reached:  # type: ignore[arg-type]
                reached.add(target)
                frontier.append(target)
    assert reached == STATUSES


@pytest.mark.parametrize(
    ("target", "sources"),
    [
        ("sending", {"scheduled"}),
        ("expired", {"sending"}),
        ("suppressed", {"sending"}),
        ("sent", {"sending"}),
        ("scheduled", {"sending"}),
        ("cancelled", {"scheduled"}),
    ],
)
def test_allowed_from_gives_the_update_guard(target: InvitationStatus, sources: set[str]) -> None:
    assert allowed_from(target) == sources


def test_freshness_includes_its_end_point() -> None:
    occurred = NOW - timedelta(hours=2)
    assert is_fresh(occurred, NOW, timedelta(hours=2))
    assert not is_fresh(occurred, NOW + timedelta(microseconds=1), timedelta(hours=2))
    assert is_fresh(NOW + timedelta(minutes=5), NOW, timedelta(hours=2))  # a contact reported slightly ahead


def test_expiry_starts_at_expires_at() -> None:
    assert not is_expired(NOW + timedelta(seconds=1), NOW)
    assert is_expired(NOW, NOW)
