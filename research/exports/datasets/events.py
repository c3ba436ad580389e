"""``events``: one row per reported contact with its decision, in the order the contacts happened.

Every event has exactly one decision: surveyed (``scheduled``, with its invitation and planned send time) or not
(``not_surveyed`` with the reason), which makes this the file for "why was this customer not surveyed?" and for
the share of contacts that led to a survey. The event's attributes are the brand's data about the contact (store,
order value …), exported as they came; the customer's own attributes are contact data (`export_pii`).
"""

from __future__ import annotations

import asyncpg

from research.exports.dataset import Column, Dataset, ExportRequest
from research.exports.datasets import columns as common
from research.exports.datasets.query import Select, apply_filter
from research.pseudonyms import brand_key

NAME = "events"

IDEMPOTENCY_KEY = Column(
    name="idempotency_key",
    type="text",
    pii=True,
    meaning="The brand's own key for the event, which may name the customer: contact data.",
)
_EVENT = [
    (common.TOUCHPOINT, "e.touchpoint_key"),
    (
        Column(
            name="touchpoint_known", type="boolean", meaning="The touchpoint was registered when the event came."
        ),
        "e.touchpoint_known",
    ),
    (
        Column(
            name="source",
            type="code",
            meaning="Who reported the event.",
            options=common.codes(
                {
                    "brand": "The brand's systems",
                    "study": "lxt, for a tracking study's own steps (enrolled, diary ended)",
                    "self_report": "A study participant texting a code",
                }
            ),
        ),
        "e.source",
    ),
    (
        Column(
            name="concerns_brand", type="text", meaning="For a self-report: the brand (or competitor) it was with."
        ),
        "e.concerns_brand",
    ),
    (common.OCCURRED_AT, "e.occurred_at"),
    (
        Column(name="received_at", type="timestamp", meaning="When lxt received the event (and decided)."),
        "e.received_at",
    ),
    (
        Column(
            name="outcome",
            type="code",
            meaning="The decision.",
            options=common.codes({"scheduled": "A survey was scheduled", "not_surveyed": "No survey"}),
        ),
        "e.outcome",
    ),
    (
        Column(name="reason", type="code", meaning="Why not surveyed.", options=common.DECISION_REASONS),
        "e.reason",
    ),
    (
        Column(
            name="trigger",
            type="text",
            meaning="The key of the trigger that scheduled the survey, or whose check decided against it.",
        ),
        "t.key",
    ),
    (common.INVITATION_ID, "e.invitation_id::text"),
    (
        Column(name="planned_at", type="timestamp", meaning="When the survey was planned to go out."),
        "e.planned_at",
    ),
    (common.QUESTIONNAIRE, "i.questionnaire_key"),
    (common.QUESTIONNAIRE_VERSION, "i.questionnaire_version"),
    (
        Column(
            name="attributes", type="json", meaning="The event's attributes as the brand reported them (JSON)."
        ),
        "e.attributes",
    ),
]


async def events(conn: asyncpg.Connection, request: ExportRequest) -> Dataset:
    select = Select(request.brand_id)
    select.add(Column(name="event_id", type="text", formula_safe=True, meaning="The event."), "e.event_id::text")
    customer = common.add_customer(
        select, await brand_key(conn, request.brand_id), "e.customer_id", pii=request.pii
    )
    if request.pii:
        select.add(IDEMPOTENCY_KEY, "e.idempotency_key")
    for column, expression in _EVENT:
        select.add(column, expression)
    select.where("e.brand_id = $1")
    apply_filter(
        select,
        request.where,
        time="e.occurred_at",
        touchpoint="e.touchpoint_key",
        trigger_id="e.trigger_id",
        questionnaire="coalesce(i.questionnaire_key, t.questionnaire_key)",
        version="i.questionnaire_version",
    )
    source = f"""events e
LEFT JOIN invitations i ON i.brand_id = e.brand_id AND i.invitation_id = e.invitation_id
LEFT JOIN triggers t ON t.brand_id = e.brand_id AND t.trigger_id = e.trigger_id
{customer}"""
    return select.dataset(
        NAME,
        "One row per event (a contact reported by the brand or a study participant) with its decision.",
        source,
        order="e.occurred_at, e.event_id",
    )
