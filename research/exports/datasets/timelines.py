"""``timelines``: every customer's timeline, one row per item, ordered by customer, then time.

The items are those of ``GET /v1/customers/{external_id}/timeline`` — the one query of `research.timeline_sql`, for
all of the brand's customers — with the customer named by pseudonym. What the customer wrote beyond their answers'
values (an inbound message's body, the raw text an answer was read from) and the brand's own key of an event are
in an item's detail only for `export_pii` keys, as the customer's contact data is; free-text answers and diary
comments are the research data and always there.

The time range filters the items' own times. A touchpoint, trigger or questionnaire filter keeps the items of the
events and invitations it selects: items that belong to no event or invitation (consent changes, texts outside a
survey) drop out then.
"""

from __future__ import annotations

import asyncpg

from research.exports.dataset import Column, Dataset, ExportFilter, ExportRequest
from research.exports.datasets import columns as common
from research.exports.datasets.query import Select, apply_filter
from research.pseudonyms import brand_key
from research.timeline_sql import EXPORT_ORDER, KINDS, items_sql

NAME = "timelines"

KIND_LABELS = {
    "inbound": "A message the customer sent (SMS, WhatsApp)",
    "self_report": "A study participant's texted report of an encounter",
    "event": "A touchpoint event, at the time it occurred",
    "consent": "A consent granted or withdrawn, or an opt-out",
    "decision": "Whether the event was to be surveyed, and why (not)",
    "invitation": "An invitation to a survey, when it was scheduled",
    "invitation_status": "A change of an invitation's send status",
    "message": "An attempt to send an invitation",
    "receipt": "A delivery receipt for a message",
    "opened": "The customer opened the survey",
    "answer": "An answer to one question (replaced answers stay, marked)",
    "completed": "The survey was completed",
    "expired": "The time to answer ran out",
    "diary_comment": "A study participant's comment on a report",
}
assert set(KIND_LABELS) == set(KINDS)

_ITEM = [
    (Column(name="at", type="timestamp", meaning="When it happened."), "x.at"),
    (Column(name="kind", type="code", meaning="What happened.", options=common.codes(KIND_LABELS)), "x.kind"),
    (
        Column(
            name="item_id",
            type="text",
            meaning="The item's id within its kind (a row's id, or <row id>/<n> for a row's n-th change).",
        ),
        "x.item_id",
    ),
    (common.INVITATION_ID, "x.invitation_id::text"),
    (common.EVENT_ID, "x.event_id::text"),
]
DETAIL = Column(
    name="detail",
    type="json",
    meaning=(
        "What the item says, as the timeline API's detail of its kind (a JSON object). Answers' values and diary "
        "comments are in the customer's own words."
    ),
    free_text=True,
)


def _narrowed(where: ExportFilter) -> bool:
    return any(v is not None for v in (where.touchpoint, where.trigger, where.questionnaire, where.version))


async def timelines(conn: asyncpg.Connection, request: ExportRequest) -> Dataset:
    where = request.where
    select = Select(request.brand_id)
    # items_sql's own parameters follow the brand: the time range, the kinds (all).
    select.param(where.start, "timestamptz")
    select.param(where.end, "timestamptz")
    select.param(None, "text[]")
    customer = common.add_customer(
        select, await brand_key(conn, request.brand_id), "x.customer_id", pii=request.pii
    )
    for column, expression in _ITEM:
        select.add(column, expression)
    detail = (
        "x.detail"
        if request.pii
        else "CASE x.kind WHEN 'event' THEN x.detail - 'idempotency_key' ELSE x.detail END"
    )
    select.add(DETAIL, detail)
    joins = [customer]
    if _narrowed(where):
        joins.append("LEFT JOIN invitations fi ON fi.brand_id = $1 AND fi.invitation_id = x.invitation_id")
        joins.append("LEFT JOIN events fe ON fe.brand_id = $1 AND fe.event_id = coalesce(x.event_id, fi.event_id)")
        apply_filter(
            select,
            ExportFilter(
                touchpoint=where.touchpoint,
                trigger=where.trigger,
                questionnaire=where.questionnaire,
                version=where.version,
            ),
            time="x.at",
            touchpoint="fe.touchpoint_key",
            trigger_id="coalesce(fi.trigger_id, fe.trigger_id)",
            questionnaire="fi.questionnaire_key",
            version="fi.questionnaire_version",
        )
    source = f"(\n{items_sql(one_customer=False, personal=request.pii)}\n) x\n" + "\n".join(joins)
    return select.dataset(
        NAME,
        "One row per timeline item (events, decisions, invitations, messages, receipts, answers, consent changes …) "
        "of every customer, ordered by customer, then time.",
        source,
        order=", ".join(f"x.{name}" for name in EXPORT_ORDER.split(", ")),
    )
