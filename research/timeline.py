"""A customer's experience timeline: everything that happened between one customer and the brand, in order, a page
at a time.

The items come from one query (`research.timeline_sql.items_sql`, shared with the ``timelines`` export); this module
names what each kind of item says, as the API returns it, and reads a page of one customer's items by keyset on
(time, kind, item id), so that a page is the same however many items arrive after it.

What the customer wrote in their own words beyond their answers' values — the body of an inbound message, the raw
text an answer was read from — is personal data: it is returned only to keys that may read the customer's contact
data (``manage``, as ``GET /v1/customers/{external_id}``; ``export_pii``, as exports). Free-text answers and diary
comments are the research data itself, and are returned to every key that may read the timeline, as exports do.
An event's idempotency key (the brand's own name for it, often an order or ticket number) is held back likewise, as
exports hold it back without ``export_pii``.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any, Final, Literal, NamedTuple
from uuid import UUID

import asyncpg
import msgspec
from msgspec import Meta

from questionnaires.model import AnswerValue
from research.erasure import TOMBSTONE_LENGTH
from research.timeline_sql import KINDS, PAGE_ORDER, Kind, items_sql
from triggers.history import TriggerEvaluation

__all__ = [
    "KINDS",
    "Kind",
    "Position",
    "TimelineItem",
    "TimelinePage",
    "TimelineQuery",
    "customer_timeline",
    "items_sql",
]


def _doc(text: str) -> Meta:
    """A field's description in the OpenAPI document (Litestar shows a Meta's, not a docstring)."""
    return Meta(description=text)


class InboundDetail(msgspec.Struct, kw_only=True):
    channel: Literal["sms", "whatsapp"]
    provider: Annotated[str, _doc("`twilio` or `sandbox`.")]
    outcome: Annotated[
        str | None,
        _doc(
            "What lxt took the message for: `answer`, `reprompt` (not readable as an answer), `skipped`, `closed` (to a survey already over), `stop`, `start`, `help`, `auto_reply`, `code` (a study's texted code), `ignored`, `error`."
        ),
    ]
    conversation_id: UUID | None
    body: Annotated[
        str | None,
        _doc("The text as the customer sent it; null unless the key may read personal data (`personal_data`)."),
    ]


class SelfReportDetail(msgspec.Struct, kw_only=True):
    study: Annotated[str, _doc("The study's key.")]
    brand_letter: str
    brand_name: str
    own_brand: Annotated[bool, _doc("Whether the encounter was with this brand (otherwise with a competitor).")]
    touchpoint_letter: str
    touchpoint_key: str
    touchpoint_name: str
    positivity: Annotated[int, _doc("1 (very negative) to 5 (very positive).")]
    persuasiveness: Annotated[
        int, _doc("1 (not at all) to 5 (very): how much it made the participant more likely to choose the brand.")
    ]
    comment: Annotated[
        str | None, _doc("The participant's latest comment on it (each wording is a `diary_comment` item).")
    ]
    inbound_id: UUID


class EventDetail(msgspec.Struct, kw_only=True):
    touchpoint: str
    touchpoint_known: bool
    source: Annotated[
        Literal["brand", "study", "self_report"],
        _doc("Who reported it: the brand's systems, a study's own step, or the participant's texted code."),
    ]
    concerns_brand: Annotated[
        str | None, _doc("For a self-report: the brand the encounter was with (maybe a competitor).")
    ]
    idempotency_key: Annotated[
        str | None,
        _doc(
            "How the brand names the event (`GET /v1/events/{idempotency_key}`); null unless the key may read "
            "personal data (`personal_data`): brands name events by order or ticket numbers, which lead back to "
            "the customer, so exports treat it as contact data."
        ),
    ]
    received_at: datetime
    attributes: dict[str, Any]


class ConsentDetail(msgspec.Struct, kw_only=True):
    channel: Annotated[
        str,
        _doc("`sms`, `whatsapp`, `push`, `web`, or `all` for opting out of (or back into) everything."),
    ]
    granted: bool
    source: Annotated[
        str,
        _doc(
            "Where the change came from: `api`, `event`, `sms_keyword`, `whatsapp_keyword`, `twilio_opt_out`, `provider`, `phone_opt_out`, `study` …"
        ),
    ]


class DecisionDetail(msgspec.Struct, kw_only=True):
    outcome: Literal["scheduled", "not_surveyed"]
    reason: Annotated[
        str | None, _doc("Why not surveyed (the reasons of `POST /v1/events`); null when scheduled.")
    ]
    trigger: Annotated[
        str | None, _doc("The key of the trigger that scheduled the invitation, or whose reason is given.")
    ]
    planned_at: datetime | None
    evaluations: Annotated[
        list[TriggerEvaluation], _doc("What each trigger made of the event, in the order they were looked at.")
    ]


class InvitationDetail(msgspec.Struct, kw_only=True):
    trigger: str | None
    questionnaire_key: str
    questionnaire_version: int
    channels: Annotated[list[str], _doc("The channels it may use, in order of preference.")]
    planned_at: Annotated[datetime, _doc("When it is (or was last) planned to be sent.")]
    send_by: Annotated[datetime, _doc("Not sent after this: the contact would be too long ago.")]
    expires_at: Annotated[datetime, _doc("Answers after this are refused.")]


class InvitationStatusDetail(msgspec.Struct, kw_only=True):
    from_status: str | None
    to_status: Annotated[
        str,
        _doc(
            "`sending` (claimed by a worker), `sent`, `failed`, `expired`, `suppressed`, `cancelled`, or `scheduled` again (a retry or a deferral)."
        ),
    ]
    reason: str | None


class MessageDetail(msgspec.Struct, kw_only=True):
    channel: str
    provider: str
    attempt: int | None
    style: Literal["conversation", "link"] | None
    status: Annotated[
        str,
        _doc("The provider's answer: `pending` (under way), `accepted`, `failed`, `not_sent`, `unknown`."),
    ]
    error_code: str | None
    provider_message_id: str | None
    segments: int | None
    accepted_at: datetime | None
    delivery_status: Annotated[
        str | None, _doc("The furthest status its receipts reported (each receipt is a `receipt` item).")
    ]
    delivered_at: datetime | None


class ReceiptDetail(msgspec.Struct, kw_only=True):
    message_id: UUID
    status: Annotated[
        str,
        _doc("As the provider reported it: `queued`, `sent`, `delivered`, `undelivered`, `failed`, `read` …"),
    ]
    error_code: str | None


class OpenedDetail(msgspec.Struct, kw_only=True):
    channel: Annotated[
        str | None,
        _doc("Where the customer first opened the survey: `web`, `app`, `sms`, `whatsapp`, `sandbox`."),
    ]


class AnswerDetail(msgspec.Struct, kw_only=True):
    questionnaire_key: str
    questionnaire_version: int
    question_id: str
    question_type: str | None
    question_text: Annotated[str | None, _doc("The question as the customer was asked it: in `locale`.")]
    locale: Annotated[
        str, _doc("The questionnaire's language for this customer (their locale, as the survey chose it).")
    ]
    value: Annotated[
        AnswerValue,
        _doc(
            "The answer as read: a number for scales, an option code, sorted codes, true/false, text; null if skipped."
        ),
    ]
    raw: Annotated[
        str | None,
        _doc(
            "What the customer sent (the reply's text, the form's values); null unless the key may read personal data."
        ),
    ]
    channel: str
    inbound_id: Annotated[
        UUID | None, _doc("The inbound message it came in (`inbound` item), for answers by reply.")
    ]
    current: Annotated[
        bool, _doc("False for an answer the customer replaced, or that branching no longer asks for.")
    ]
    replaced_at: datetime | None
    replaced_reason: Literal["changed", "branch"] | None


class CompletedDetail(msgspec.Struct, kw_only=True):
    end_reason: Literal["completed", "ended_early"] | None
    seconds_after_contact: Annotated[float, _doc("From the touchpoint event's time to completion.")]


class ExpiredDetail(msgspec.Struct, kw_only=True):
    answered: Annotated[bool, _doc("Whether the customer had answered some of it.")]


class DiaryCommentDetail(msgspec.Struct, kw_only=True):
    report_id: Annotated[UUID, _doc("The self-report it comments on (its `self_report` item).")]
    comment: str


class Item(msgspec.Struct, kw_only=True, tag_field="kind"):
    at: datetime
    item_id: Annotated[
        str,
        _doc(
            "The item's id within its kind: the id of the row it shows (`<row id>/<n>` for a row's n-th change)."
        ),
    ]
    invitation_id: Annotated[UUID | None, _doc("The invitation it belongs to, if any.")]
    event_id: Annotated[UUID | None, _doc("The touchpoint event it belongs to, if any.")]


class InboundItem(Item, tag="inbound", kw_only=True):
    detail: Annotated[
        InboundDetail, _doc("A message the customer sent (an SMS or WhatsApp reply), and what lxt took it for.")
    ]


class SelfReportItem(Item, tag="self_report", kw_only=True):
    detail: Annotated[
        SelfReportDetail,
        _doc("A study participant's texted report of an encounter with the brand or a competitor."),
    ]


class EventItem(Item, tag="event", kw_only=True):
    detail: Annotated[
        EventDetail,
        _doc(
            "A touchpoint event, at the time it occurred: reported by the brand, by a study, or by the participant."
        ),
    ]


class ConsentItem(Item, tag="consent", kw_only=True):
    detail: Annotated[ConsentDetail, _doc("A consent granted or withdrawn, or an opt-out (`STOP`).")]


class DecisionItem(Item, tag="decision", kw_only=True):
    detail: Annotated[
        DecisionDetail, _doc("Whether the event was to be surveyed, and why (not), when lxt received it.")
    ]


class InvitationItem(Item, tag="invitation", kw_only=True):
    detail: Annotated[InvitationDetail, _doc("An invitation to a survey, when it was scheduled.")]


class InvitationStatusItem(Item, tag="invitation_status", kw_only=True):
    detail: Annotated[InvitationStatusDetail, _doc("A change of an invitation's send status.")]


class MessageItem(Item, tag="message", kw_only=True):
    detail: Annotated[
        MessageDetail, _doc("An attempt to send an invitation, on one channel through one provider.")
    ]


class ReceiptItem(Item, tag="receipt", kw_only=True):
    detail: Annotated[ReceiptDetail, _doc("A delivery receipt from the provider for a message.")]


class OpenedItem(Item, tag="opened", kw_only=True):
    detail: Annotated[
        OpenedDetail, _doc("The customer opened the survey: its page, the app's form, or a first reply.")
    ]


class AnswerItem(Item, tag="answer", kw_only=True):
    detail: Annotated[
        AnswerDetail, _doc("An answer to one question, with the question's text; replaced answers stay, marked.")
    ]


class CompletedItem(Item, tag="completed", kw_only=True):
    detail: Annotated[
        CompletedDetail, _doc("The survey is over: every question asked was answered, or branching ended it.")
    ]


class ExpiredItem(Item, tag="expired", kw_only=True):
    detail: Annotated[ExpiredDetail, _doc("The time to answer ran out before the survey was completed.")]


class DiaryCommentItem(Item, tag="diary_comment", kw_only=True):
    detail: Annotated[
        DiaryCommentDetail,
        _doc("A study participant's comment on one of their reports (each edit is an item of its own)."),
    ]


TimelineItem = (
    InboundItem
    | SelfReportItem
    | EventItem
    | ConsentItem
    | DecisionItem
    | InvitationItem
    | InvitationStatusItem
    | MessageItem
    | ReceiptItem
    | OpenedItem
    | AnswerItem
    | CompletedItem
    | ExpiredItem
    | DiaryCommentItem
)
"""One item of a timeline; its `kind` says which."""

_items = msgspec.json.Decoder(list[TimelineItem])


class Position(NamedTuple):
    """Where an item stands in a timeline's order; a page continues after one. As a cursor, it is opaque text."""

    at: datetime
    kind: Kind
    item_id: str

    def cursor(self) -> str:
        text = f"{self.at.isoformat()}|{self.kind}|{self.item_id}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def from_cursor(cls, cursor: str) -> Position:
        """The position a `cursor` holds; ValueError for text that is not one."""
        try:
            text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            at, kind, item_id = text.split("|", 2)
            position = cls(datetime.fromisoformat(at), msgspec.convert(kind, Kind), item_id)  # type: ignore[arg-type]
        except msgspec.ValidationError as error:  # binascii.Error and UnicodeDecodeError are ValueErrors already
            raise ValueError(str(error)) from None
        if position.at.tzinfo is None or not position.item_id:
            raise ValueError("a cursor's time has its offset and its item an id")
        return position


class TimelineQuery(msgspec.Struct, frozen=True, kw_only=True):
    start: datetime | None = None
    """Items at or after this time."""
    end: datetime | None = None
    """Items before this time."""
    kinds: frozenset[Kind] | None = None
    """Only these kinds (None: all)."""
    after: Position | None = None
    limit: int = 50


class TimelinePage(msgspec.Struct, kw_only=True):
    """A page of a customer's timeline, oldest first."""

    customer: Annotated[str, _doc("The customer's external id.")]
    customer_id: UUID
    personal_data: Annotated[
        bool,
        _doc(
            "Whether the customer's own words beyond their answers' values are included (inbound messages' `body`, "
            "answers' `raw`), and events' `idempotency_key`: only for keys with the `manage` or `export_pii` scope."
        ),
    ]
    items: list[TimelineItem]
    next_cursor: Annotated[str | None, _doc("Pass as `cursor` for the next page; null on the last page.")]


def _page_sql(personal: bool) -> str:
    return f"""
SELECT at, kind, item_id, jsonb_build_object('at', at, 'kind', kind, 'item_id', item_id,
                                             'invitation_id', invitation_id, 'event_id', event_id,
                                             'detail', detail)::text AS item
FROM ({items_sql(customers="= $5", personal=personal)}) timeline
WHERE $6::timestamptz IS NULL OR (at, kind_rank, item_id) > ($6, $7::integer, $8::text)
ORDER BY {PAGE_ORDER}
LIMIT $9"""


_PAGE: Final = {personal: _page_sql(personal) for personal in (False, True)}
# An anonymised customer's tombstone (research.erasure: an external id longer than any the API takes) is nobody:
# its rows stay for the figures, but no look-up by id leads to them, whoever passes a long id.
_CUSTOMER: Final = f"""
SELECT customer_id FROM customers
WHERE brand_id = $1 AND external_id = $2 AND length(external_id) < {TOMBSTONE_LENGTH}"""


async def customer_timeline(
    conn: asyncpg.Connection, brand_id: UUID, external_id: str, query: TimelineQuery, *, personal: bool
) -> TimelinePage | None:
    """A page of the timeline of the brand's customer `external_id`; None if there is no such customer.
    `personal`: whether the customer's own words beyond their answers' values are included."""
    customer_id = await conn.fetchval(_CUSTOMER, brand_id, external_id)
    if customer_id is None:
        return None
    after = query.after
    rows = await conn.fetch(
        _PAGE[personal],
        brand_id,
        query.start,
        query.end,
        None if query.kinds is None else sorted(query.kinds),
        customer_id,
        after and after.at,
        after and KINDS.index(after.kind),
        after and after.item_id,
        query.limit + 1,
    )
    page = rows[: query.limit]
    last = Position(page[-1]["at"], page[-1]["kind"], page[-1]["item_id"]) if len(rows) > query.limit else None
    return TimelinePage(
        customer=external_id,
        customer_id=customer_id,
        personal_data=personal,
        items=_items.decode(b"[" + b",".join(row["item"].encode() for row in page) + b"]"),
        next_cursor=last.cursor() if last else None,
    )
