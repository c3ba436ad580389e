"""Reading back what became of invitations: their status changes, each send attempt with its delivery
receipts, and how long each step took after the contact.

Every query filters by brand. Lists are keyset-paginated, newest first, on (planned_at, invitation_id): a page
is found by the index and stays the same while new invitations arrive.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final
from uuid import UUID

import asyncpg
import msgspec

MAX_PAGE: Final = 200


class InvitationFilter(msgspec.Struct, frozen=True, kw_only=True):
    customer: str | None = None
    """The customer's external id."""
    trigger: str | None = None
    """The trigger's key."""
    status: str | None = None
    response_state: str | None = None
    """`opened`, `partial`, `completed` or `expired`."""
    planned_from: datetime | None = None
    """Planned at or after this time."""
    planned_to: datetime | None = None
    """Planned before this time."""


class InvitationSummary(msgspec.Struct, kw_only=True):
    invitation_id: UUID
    status: str
    status_reason: str | None
    """Why it ended as it did (`failed`, `suppressed`, `cancelled` …), if a reason was recorded."""
    customer: str | None
    """The customer's external id (None if the customer was deleted since)."""
    trigger: str | None
    """The trigger's key."""
    event: str | None
    """The idempotency key of the event that caused it (`GET /v1/events/{idempotency_key}`)."""
    questionnaire_key: str
    questionnaire_version: int
    channels: list[str]
    """The channels it may use, in preference order."""
    channel: str | None
    """The channel it was sent on."""
    attempts: int
    occurred_at: datetime
    planned_at: datetime
    send_by: datetime
    expires_at: datetime
    created_at: datetime
    """When it was scheduled (its event's decision): the order of the list, which never changes."""
    updated_at: datetime
    response_state: str | None
    """How far the customer got: `opened` (first page view, app fetch or reply), `partial` (answered some),
    `completed` (the survey is over), `expired` (its time ran out first); null until opened."""
    end_reason: str | None
    """For completed ones: `completed` (every question asked was answered) or `ended_early` (by branching)."""


class Transition(msgspec.Struct, kw_only=True):
    from_status: str | None
    to_status: str
    reason: str | None
    at: datetime


class Receipt(msgspec.Struct, kw_only=True):
    """A delivery receipt as the provider sent it."""

    status: str
    error_code: str | None
    provider_message_id: str | None
    received_at: datetime


class Attempt(msgspec.Struct, kw_only=True):
    """One attempt to reach the customer, with what the provider said then and reported afterwards."""

    message_id: UUID
    attempt: int | None
    channel: str
    provider: str
    provider_message_id: str | None
    status: str
    """`pending` (the provider call is under way), `accepted`, `failed`, `not_sent`, `unknown`."""
    error_code: str | None
    recipient: str | None
    sender: str | None
    body: str
    segments: int | None
    created_at: datetime
    accepted_at: datetime | None
    delivery_status: str | None
    """The furthest status the provider's receipts reported: `sent`, `delivered`, `undelivered`, `read` …"""
    delivery_error_code: str | None
    delivered_at: datetime | None
    receipts: list[Receipt]


class Milestone(msgspec.Struct, kw_only=True):
    at: datetime | None
    """When it happened; null if it has not (yet)."""
    seconds: float | None
    """Seconds since the contact occurred."""


class Latency(msgspec.Struct, kw_only=True):
    """From the contact to the customer's phone, step by step."""

    occurred: Milestone
    """The contact happened (the event's `occurred_at`)."""
    decided: Milestone
    """lxt received the event and decided to survey."""
    planned: Milestone
    """The planned send time (delay and send window applied)."""
    claimed: Milestone
    """A worker took the invitation for sending."""
    accepted: Milestone
    """The provider accepted the message."""
    delivered: Milestone
    """The provider reported it delivered to the phone."""
    opened: Milestone
    """The customer first opened the survey (page, app) or replied."""
    first_answer: Milestone
    """The customer's first answer: the freshness figure of the response."""
    completed: Milestone
    """The survey was completed."""


class InvitationDetail(InvitationSummary, kw_only=True):
    transitions: list[Transition]
    messages: list[Attempt]
    latency: Latency


class InvitationSlice(msgspec.Struct, kw_only=True):
    items: list[InvitationSummary]
    more: bool
    """Whether invitations follow the last one."""


_SUMMARY = """
SELECT i.invitation_id, i.status, i.status_reason, c.external_id AS customer, t.key AS trigger,
       e.idempotency_key AS event, e.received_at, i.questionnaire_key, i.questionnaire_version, i.channels,
       i.channel, i.attempts, i.occurred_at, i.planned_at, i.send_by, i.expires_at, i.created_at, i.updated_at,
       i.response_state, i.end_reason, i.opened_at, i.first_answer_at, i.completed_at
FROM invitations i
LEFT JOIN customers c ON c.brand_id = i.brand_id AND c.customer_id = i.customer_id
LEFT JOIN triggers t ON t.brand_id = i.brand_id AND t.trigger_id = i.trigger_id
LEFT JOIN events e ON e.brand_id = i.brand_id AND e.event_id = i.event_id
"""

# Filters resolve keys to ids first, so that the invitations' own indexes (by customer, by planned time) apply.
_FILTERS: Final = {
    "customer": "i.customer_id = (SELECT customer_id FROM customers WHERE brand_id = $1 AND external_id = ${})",
    "trigger": "i.trigger_id = (SELECT trigger_id FROM triggers WHERE brand_id = $1 AND key = ${})",
    "status": "i.status = ${}",
    "response_state": "i.response_state = ${}",
    "planned_from": "i.planned_at >= ${}",
    "planned_to": "i.planned_at < ${}",
}


async def list_invitations(
    conn: asyncpg.Connection,
    brand_id: UUID,
    where: InvitationFilter,
    *,
    after: tuple[datetime, UUID] | None = None,
    limit: int = 50,
) -> InvitationSlice:
    """The brand's invitations matching `where`, newest first, after the (created_at, invitation_id) of the last
    one of the previous page. Ordered by when they were scheduled, which never changes: a retry or a deferral
    moves `planned_at`, and would move an invitation between pages."""
    limit = max(1, min(limit, MAX_PAGE))
    conditions = ["i.brand_id = $1"]
    arguments: list[object] = [brand_id]
    for name, condition in _FILTERS.items():
        value = getattr(where, name)
        if value is not None:
            arguments.append(value)
            conditions.append(condition.format(len(arguments)))
    if after is not None:
        arguments += after
        conditions.append(f"(i.created_at, i.invitation_id) < (${len(arguments) - 1}, ${len(arguments)})")
    arguments.append(limit + 1)
    rows = await conn.fetch(
        f"{_SUMMARY} WHERE {' AND '.join(conditions)} "
        f"ORDER BY i.created_at DESC, i.invitation_id DESC LIMIT ${len(arguments)}",
        *arguments,
    )
    items = [_summary(r) for r in rows[:limit]]
    return InvitationSlice(items=items, more=len(rows) > limit)


def _summary(row: asyncpg.Record) -> InvitationSummary:
    values = dict(row)
    for column in ("received_at", "opened_at", "first_answer_at", "completed_at"):
        del values[column]
    return InvitationSummary(**values)


_TRANSITIONS = """
SELECT from_status, to_status, reason, at FROM invitation_transitions
WHERE brand_id = $1 AND invitation_id = $2 ORDER BY seq
"""

_ATTEMPTS = """
SELECT message_id, attempt, channel, provider, provider_message_id, status, error_code, recipient, sender, body,
       segments, created_at, accepted_at, delivery_status, delivery_error_code, delivered_at
FROM messages WHERE brand_id = $1 AND invitation_id = $2 ORDER BY created_at, message_id
"""

_RECEIPTS = """
SELECT r.message_id, r.status, r.error_code, r.provider_message_id, r.received_at
FROM message_receipts r
JOIN messages m ON m.brand_id = r.brand_id AND m.message_id = r.message_id
WHERE m.brand_id = $1 AND m.invitation_id = $2
ORDER BY r.received_at, r.status
"""


async def get_invitation(conn: asyncpg.Connection, brand_id: UUID, invitation_id: UUID) -> InvitationDetail | None:
    """One invitation of the brand with its transitions, attempts (and their receipts) and latency chain."""
    row = await conn.fetchrow(
        f"{_SUMMARY} WHERE i.brand_id = $1 AND i.invitation_id = $2", brand_id, invitation_id
    )
    if row is None:
        return None
    transitions = [Transition(**dict(r)) for r in await conn.fetch(_TRANSITIONS, brand_id, invitation_id)]
    receipts: dict[UUID, list[Receipt]] = {}
    for r in await conn.fetch(_RECEIPTS, brand_id, invitation_id):
        values = dict(r)
        receipts.setdefault(values.pop("message_id"), []).append(Receipt(**values))
    attempts = [
        Attempt(**dict(r), receipts=receipts.get(r["message_id"], []))
        for r in await conn.fetch(_ATTEMPTS, brand_id, invitation_id)
    ]
    summary = _summary(row)
    return InvitationDetail(
        **msgspec.structs.asdict(summary),
        transitions=transitions,
        messages=attempts,
        latency=latency(summary, row, transitions, attempts),
    )


def latency(
    invitation: InvitationSummary,
    times: Mapping[str, datetime | None],
    transitions: list[Transition],
    attempts: list[Attempt],
) -> Latency:
    """The invitation's milestones, each with its seconds since the contact (pure); `times` has the event's
    ``received_at`` and the invitation's ``opened_at``, ``first_answer_at`` and ``completed_at``."""
    claimed = next((t.at for t in transitions if t.to_status == "sending"), None)
    accepted = next((a for a in reversed(attempts) if a.status == "accepted"), None)
    # Attempts recorded before lxt kept `accepted_at` were written once the provider had answered: their
    # creation is when the provider accepted them.
    accepted_at = (accepted.accepted_at or accepted.created_at) if accepted else None
    occurred = invitation.occurred_at

    def since(at: datetime | None) -> Milestone:
        return Milestone(at=at, seconds=(at - occurred).total_seconds() if at is not None else None)

    return Latency(
        occurred=since(occurred),
        decided=since(times["received_at"]),
        planned=since(invitation.planned_at),
        claimed=since(claimed),
        accepted=since(accepted_at),
        delivered=since(accepted.delivered_at if accepted else None),
        opened=since(times["opened_at"]),
        first_answer=since(times["first_answer_at"]),
        completed=since(times["completed_at"]),
    )
