"""The invitation state machine, and the time checks the worker repeats just before sending.

```
scheduled ──► sending ──► sent
   │  ▲          │
   │  └──────────┤ (reserved for retrying a transient provider error, bounded by MAX_SEND_ATTEMPTS;
   │             │  the sandbox channel never needs it, the provider channels will)
   │             ├──► failed       (with the provider's code; `interrupted` when a worker died mid-send)
   │             ├──► expired      (the re-check after the claim finds it past expires_at)
   │             └──► suppressed   (the re-check finds: opted out, stale, no reachable channel)
   ├──► expired | suppressed
   └──► cancelled  (withdrawn on purpose: its trigger was deactivated, or at the claim, its trigger found
                    inactive or its questionnaire archived)
```
The worker claims an invitation (scheduled → sending) *before* it re-checks, so that two workers can never both
send it; that is why `sending` may still end as expired or suppressed. Every status except scheduled and sending
is terminal. Answers and message delivery receipts are rows of their own, not invitation states.

The database holds the same table (``invitation_status_transitions``, migrations/0005) and a trigger on
``invitations`` that refuses any other change and records each allowed one in ``invitation_transitions``;
`triggers.queries` derives the ``WHERE status IN (…)`` guard of every status update from `allowed_from`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final, Literal, get_args

InvitationStatus = Literal["scheduled", "sending", "sent", "failed", "expired", "suppressed", "cancelled"]
STATUSES: Final[frozenset[InvitationStatus]] = frozenset(get_args(InvitationStatus))

TRANSITIONS: Final[dict[InvitationStatus, frozenset[InvitationStatus]]] = {
    "scheduled": frozenset({"sending", "expired", "suppressed", "cancelled"}),
    "sending": frozenset({"sent", "failed", "scheduled", "expired", "suppressed"}),
    "sent": frozenset(),
    "failed": frozenset(),
    "expired": frozenset(),
    "suppressed": frozenset(),
    "cancelled": frozenset(),
}

TERMINAL: Final[frozenset[InvitationStatus]] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
"""Statuses an invitation never leaves."""

LIVE: Final[frozenset[InvitationStatus]] = frozenset({"scheduled", "sending"})
"""Statuses of an invitation that may still be sent."""

COUNTS_FOR_FREQUENCY: Final[frozenset[InvitationStatus]] = frozenset({"scheduled", "sending", "sent"})
"""Invitations that reached, or may still reach, the customer: only these use up contact-frequency budget.

Expired, suppressed, failed and cancelled ones never reached the customer, so they must not keep the next
survey away.
"""

MAX_SEND_ATTEMPTS: Final = 3
"""Attempts (claims) before a transient provider error becomes `failed`."""

RETRY_BACKOFF: Final[tuple[timedelta, ...]] = (timedelta(seconds=30), timedelta(minutes=2))
"""Wait before attempt 2, 3 …; one entry fewer than `MAX_SEND_ATTEMPTS`."""


class InvalidTransition(ValueError):
    """A status change the state machine does not allow (a bug in the caller, or a lost race)."""

    def __init__(self, current: str, target: str) -> None:
        self.current = current
        self.target = target
        super().__init__(f"invitation cannot go from {current!r} to {target!r}")


def can_transition(current: InvitationStatus, target: InvitationStatus) -> bool:
    """Whether an invitation in `current` may move to `target`."""
    return target in TRANSITIONS.get(current, frozenset())


def check_transition(current: InvitationStatus, target: InvitationStatus) -> InvitationStatus:
    """Return `target` if the move is allowed, else raise `InvalidTransition`."""
    if not can_transition(current, target):
        raise InvalidTransition(current, target)
    return target


def allowed_from(target: InvitationStatus) -> frozenset[InvitationStatus]:
    """Statuses from which `target` can be reached — the ``WHERE status = ANY($n)`` guard of an update."""
    return frozenset(s for s, nxt in TRANSITIONS.items() if target in nxt)


def retry_at(attempts: int, now: datetime) -> datetime | None:
    """When to try again after a transient provider error on attempt number `attempts` (1-based).

    None means the attempts are used up: the invitation goes to `failed` instead of back to `scheduled`.
    """
    if attempts < 1 or attempts >= MAX_SEND_ATTEMPTS:
        return None
    return now + RETRY_BACKOFF[attempts - 1]


def is_fresh(occurred_at: datetime, now: datetime, max_lag: timedelta) -> bool:
    """Whether a survey sent at `now` still follows its contact closely enough (the end point counts as fresh)."""
    return now - occurred_at <= max_lag


def is_expired(expires_at: datetime, now: datetime) -> bool:
    """Whether an invitation's time is over (answers and sends refused from `expires_at` on)."""
    return now >= expires_at
