"""``timelines``: every customer's timeline, one row per item, ordered by customer, then time.

The items are those of ``GET /v1/customers/{external_id}/timeline`` — the one query of `research.timeline_sql`, for
all of the brand's customers — with the customer named by pseudonym. What the customer wrote beyond their answers'
values (an inbound message's body, the raw text an answer was read from) and the brand's own key of an event are
in an item's detail only for `export_pii` keys, as the customer's contact data is; free-text answers and diary
comments are the research data and always there.

The time range filters the items' own times. A touchpoint, trigger or questionnaire filter keeps the items of the
events and invitations it selects: items that belong to no event or invitation (consent changes, texts outside a
survey) drop out then. A text from a phone no customer had is nobody's timeline, and not in the export.

The rows stream from the first moment, in constant memory: the brand's customers are taken `CHUNK` at a time in the
order of their ids (`_chunks`, from the customers' primary key), and each chunk's items are read by index range on
the customer and sorted on their own. Sorting every item of the brand before the first row would hold back the
first byte for as long as the whole sort takes — about 6 s per million items, so a minute (as long as many proxies
wait for a response that sends nothing) at ten million — and spill to disk. Read this way, 1.67 million items of
55,556 customers send their first byte after 0.2-0.4 s instead of 10-11 s, and end after 17 s instead of 18-19 s. A
narrow filter pays for visiting every chunk: a week's 94,000 items take 1.6-2.4 s instead of 1.2-1.7 s.
"""

from __future__ import annotations

import asyncpg
import msgspec

from research.exports.dataset import Column, Dataset, ExportFilter, ExportRequest
from research.exports.datasets import columns as common
from research.exports.datasets.query import Select, apply_filter
from research.pseudonyms import brand_key
from research.timeline_sql import EXPORT_ORDER, KINDS, items_sql

NAME = "timelines"
CHUNK = 1000
"""Customers per chunk: a chunk's items are sorted in memory (about 30,000 items of 1,000 customers)."""


def _chunks(size: int) -> str:
    """The brand's customers in chunks of `size` by id, each its first and last id, in order."""
    return f"""(
    SELECT first, last FROM (
        SELECT customer_id AS first, row_number() OVER ids AS n,
               coalesce(lead(customer_id, {size - 1}) OVER ids, last_value(customer_id) OVER every) AS last
        FROM customers WHERE brand_id = $1
        WINDOW ids AS (ORDER BY customer_id),
               every AS (ids ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
    ) numbered
    WHERE (n - 1) % {size} = 0
    ORDER BY first
) chunk"""


_IN_CHUNK = "BETWEEN chunk.first AND chunk.last"

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
        select, await brand_key(conn, request.brand_id), "x.customer_id", pii=request.pii, among=_IN_CHUNK
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
    source = f"(\n{items_sql(customers=_IN_CHUNK, personal=request.pii)}\n) x\n" + "\n".join(joins)
    one_chunk = select.dataset(
        NAME,
        "One row per timeline item (events, decisions, invitations, messages, receipts, answers, consent changes …) "
        "of every customer, ordered by customer, then time.",
        source,
        order=", ".join(f"x.{name}" for name in EXPORT_ORDER.split(", ")),
    )
    # The chunks come in order, and each chunk's rows whole and in order from the lateral subquery (which its
    # ORDER BY keeps from being merged into the outer query): a nested loop over the chunks, nothing sorted above
    # it (tests/research/test_datasets_timelines.py reads the plan).
    sql = (
        f"SELECT rows.* FROM {_chunks(CHUNK)}\nCROSS JOIN LATERAL (\n{one_chunk.sql}\n) rows\nORDER BY chunk.first"
    )
    return msgspec.structs.replace(one_chunk, sql=sql)
