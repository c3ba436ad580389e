"""The invitation state machine, and the time checks the worker repeats just before sending.

```
scheduled ──► sending ──► sent
   ▲             ├──► failed       (the provider refused it, with its code; `interrupted` when a worker died
   │             │                  mid-send and the provider cannot tell whether it got the message)
   └─────────────┼──  scheduled    (retried: a transient provider error, or an attempt the provider certainly
   │             │                  never received; deferred: no rate budget, or outside the customer's window)
   │             ├──► expired      (the re-check after the claim finds it past expires_at)
   │             └──► suppressed   (the re-check finds: opted out, stale, no reachable channel)
   └──► cancelled  (withdrawn on purpose: its trigger was deactivated, or the claim found its trigger inactive
                    or its questionnaire archived)
```
The worker claims an invitation (scheduled → sending) *before* it re-checks, so that two workers can never both
send it; that is why `sending` may still end as expired or suppressed. Every status except scheduled and sending
is terminal. Answers and message delivery receipts are rows of their own, not invitation states.

The database holds the same table (``invitation_status_transitions``, migrations/0005) and a trigger on
``invitations`` that refuses any other change and records each allowed one in ``invitation_transitions``;
`triggers.queries` derives the ``WHERE status IN (…)`` guard of every status update from `allowed_from`. A new
move is added here and in a migration together (sending → scheduled came with migrations/0006).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final, Literal, get_args

InvitationStatus = Literal["scheduled", "sending", "sent", "failed", "expired", "suppressed", "cancelled"]
STATUSES: Final[frozenset[InvitationStatus]] = frozenset(get_args(InvitationStatus))

TRANSITIONS: Final[dict[InvitationStatus, frozenset[InvitationStatus]]] = {
    "scheduled": frozenset({"sending", "cancelled"}),
    "sending": frozenset({"sent", "failed", "expired", "suppressed", "scheduled"}),
    "sent": frozenset(),
    "failed": frozenset(),
    "expired": frozenset(),
    "suppressed": frozenset(),
    "cancelled": frozenset(),
}

COUNTS_FOR_FREQUENCY: Final[frozenset[InvitationStatus]] = frozenset({"scheduled", "sending", "sent"})
"""Invitations that reached, or may still reach, the customer: only these use up contact-frequency budget.

Expired, suppressed, failed and cancelled ones never reached the customer, so they must not keep the next
survey away.
"""


def can_transition(current: InvitationStatus, target: InvitationStatus) -> bool:
    """Whether an invitation in `current` may move to `target`."""
    return target in TRANSITIONS.get(current, frozenset())


def allowed_from(target: InvitationStatus) -> frozenset[InvitationStatus]:
    """Statuses from which `target` can be reached — the ``WHERE status IN (…)`` guard of an update."""
    return frozenset(s for s, nxt in TRANSITIONS.items() if target in nxt)


def is_fresh(occurred_at: datetime, now: datetime, max_lag: timedelta) -> bool:
    """Whether a survey sent at `now` still follows its contact closely enough (the end point counts as fresh)."""
    return now - occurred_at <= max_lag


def is_expired(expires_at: datetime, now: datetime) -> bool:
    """Whether an invitation's time is over (answers and sends refused from `expires_at` on)."""
    return now >= expires_at
