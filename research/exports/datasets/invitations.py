"""``invitations``: one row per invitation with its outcome and its whole latency chain, in contact order.

The chain is the one `GET /v1/invitations/{id}` shows (`notifications.history.latency`): the contact occurred, lxt
received it and decided, the send was planned, a worker claimed it, the provider accepted the message, it was
delivered, the customer opened the survey, gave the first answer, completed it. Each step is a time and its
seconds since the contact, empty where it has not happened. The same definitions, set-based: the claim is the
first move to ``sending``; accepted and delivered are those of the last accepted attempt (its ``accepted_at``, or
its creation for attempts stored before lxt kept ``accepted_at``). The claim and the last attempt are an index
look-up each per invitation (`invitation_transitions`' key, `messages_by_invitation`); an earlier accepted attempt
is looked up only when the last one was not accepted, which a sent invitation's never is.

The delivery outcome is the last attempt's: the provider's answer (``message_status``, its error code) and the
furthest status its receipts reported (``delivery_status``, its error code).
"""

from __future__ import annotations

import asyncpg

from research.exports.dataset import Column, Dataset, ExportRequest
from research.exports.datasets import columns as common
from research.exports.datasets.query import Select, apply_filter
from research.pseudonyms import brand_key
from triggers.invitations import InvitationStatus

NAME = "invitations"

STATUSES: dict[InvitationStatus, str] = {
    "scheduled": "Waiting for its planned time",
    "sending": "A worker is sending it",
    "sent": "The provider accepted it",
    "failed": "The provider refused it",
    "expired": "Its time ran out before it could be sent",
    "suppressed": "The check before sending stopped it (opted out, stale, no reachable channel)",
    "cancelled": "Withdrawn: its trigger was deactivated or its questionnaire archived",
}

_ACCEPTED = "CASE WHEN last.status = 'accepted' THEN last.{0} ELSE earlier.{0} END"
"""Of the last accepted attempt: the last one, most of the time; else an earlier one, looked up only then."""

MILESTONES = [
    ("decided", "lxt received the event and decided to survey", "e.received_at"),
    ("planned", "the send was planned for (delay and send window applied)", "i.planned_at"),
    ("claimed", "a worker took the invitation for sending", "claimed.at"),
    ("accepted", "the provider accepted the message", _ACCEPTED.format("accepted_at")),
    ("delivered", "the provider reported the message delivered", _ACCEPTED.format("delivered_at")),
    ("opened", "the customer first opened the survey (page, app) or replied", "i.opened_at"),
    ("first_answer", "the customer's first answer", "i.first_answer_at"),
    ("completed", "the survey was completed", "i.completed_at"),
]
"""The latency chain after the contact: name, what happened, its time."""

_INVITATION = [
    *common.OF_INVITATION,
    (
        Column(
            name="status", type="code", meaning="Where the invitation is.", options=common.codes(dict(STATUSES))
        ),
        "i.status",
    ),
    (
        Column(
            name="status_reason", type="text", meaning="Why it ended as it did (failed, suppressed, cancelled)."
        ),
        "i.status_reason",
    ),
    (
        Column(name="channels", type="json", meaning="The channels it may use, in order (JSON array)."),
        "to_json(i.channels)",
    ),
    (Column(name="channel", type="text", formula_safe=True, meaning="The channel it was sent on."), "i.channel"),
    (Column(name="attempts", type="integer", meaning="Send attempts made."), "i.attempts"),
    (
        Column(
            name="message_status",
            type="text",
            meaning="The provider's answer to the last attempt: accepted, failed, not_sent, unknown, pending.",
        ),
        "last.status",
    ),
    (
        Column(name="message_error_code", type="text", meaning="The provider's error code for it."),
        "last.error_code",
    ),
    (
        Column(
            name="delivery_status",
            type="text",
            meaning="The furthest status the provider's receipts reported for it: sent, delivered, undelivered, read.",
        ),
        "last.delivery_status",
    ),
    (
        Column(name="delivery_error_code", type="text", meaning="The receipt's error code."),
        "last.delivery_error_code",
    ),
    (common.RESPONSE_STATE, "i.response_state"),
    (common.END_REASON, "i.end_reason"),
    (
        Column(
            name="response_channel",
            type="code",
            meaning="Where it was first answered.",
            options=common.ANSWER_CHANNELS,
        ),
        "i.response_channel",
    ),
    (Column(name="send_by", type="timestamp", meaning="Not sent after this (freshness)."), "i.send_by"),
    (Column(name="expires_at", type="timestamp", meaning="Answers after this are refused."), "i.expires_at"),
    (common.OCCURRED_AT, "i.occurred_at"),
]

_SOURCE = f"""invitations i
{common.INVITATION_JOINS}
LEFT JOIN LATERAL (
    SELECT tr.at FROM invitation_transitions tr
    WHERE tr.brand_id = i.brand_id AND tr.invitation_id = i.invitation_id AND tr.to_status = 'sending'
    ORDER BY tr.seq LIMIT 1
) claimed ON true
LEFT JOIN LATERAL (
    SELECT m.status, m.error_code, m.delivery_status, m.delivery_error_code,
           coalesce(m.accepted_at, m.created_at) AS accepted_at, m.delivered_at
    FROM messages m
    WHERE m.brand_id = i.brand_id AND m.invitation_id = i.invitation_id
    ORDER BY m.created_at DESC, m.message_id DESC LIMIT 1
) last ON true
LEFT JOIN LATERAL (
    SELECT coalesce(m.accepted_at, m.created_at) AS accepted_at, m.delivered_at FROM messages m
    WHERE last.status IS DISTINCT FROM 'accepted'
      AND m.brand_id = i.brand_id AND m.invitation_id = i.invitation_id AND m.status = 'accepted'
    ORDER BY m.created_at DESC, m.message_id DESC LIMIT 1
) earlier ON true"""


async def invitations(conn: asyncpg.Connection, request: ExportRequest) -> Dataset:
    select = Select(request.brand_id)
    select.add(common.INVITATION_ID, "i.invitation_id::text")
    customer = common.add_customer(
        select, await brand_key(conn, request.brand_id), "i.customer_id", pii=request.pii
    )
    for column, expression in _INVITATION:
        select.add(column, expression)
    for name, what, at in MILESTONES:
        select.add(Column(name=f"{name}_at", type="timestamp", meaning=f"When {what}."), at)
    for name, what, at in MILESTONES:
        meaning = f"Seconds from the contact until {what}."
        select.add(
            Column(name=f"{name}_seconds", type="number", meaning=meaning),
            f"extract(epoch FROM {at} - i.occurred_at)::float8",
        )
    select.where("i.brand_id = $1")
    apply_filter(
        select,
        request.where,
        time="i.occurred_at",
        touchpoint="e.touchpoint_key",
        trigger_id="i.trigger_id",
        questionnaire="i.questionnaire_key",
        version="i.questionnaire_version",
    )
    return select.dataset(
        NAME,
        "One row per invitation: its decision's trigger, delivery outcome, response and latency chain.",
        f"{_SOURCE}\n{customer}",
        order="i.occurred_at, i.invitation_id",
    )
