"""The dashboard's customer timeline viewer: each timeline item (`research.timeline`) as a line a researcher reads,
grouped by day in the chosen time zone. No I/O.

The items are the API's; this only words them: a badge for the kind, a heading, and a few facts. Answers show
the question as the customer was asked it, and answers replaced later stay, marked, as the timeline keeps them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final
from zoneinfo import ZoneInfo

import msgspec

from questionnaires.model import AnswerValue
from research import timeline as t

BADGES: Final[dict[str, str]] = {
    "inbound": "Message in",
    "self_report": "Self-report",
    "event": "Event",
    "consent": "Consent",
    "decision": "Decision",
    "invitation": "Invitation",
    "invitation_status": "Status",
    "message": "Message out",
    "receipt": "Receipt",
    "opened": "Opened",
    "answer": "Answer",
    "completed": "Completed",
    "expired": "Expired",
    "diary_comment": "Diary comment",
}


class Entry(msgspec.Struct, frozen=True, kw_only=True):
    time: str
    """The time of day in the chosen zone."""
    at: str
    """The instant, ISO 8601 (the ``<time>`` element's machine-readable value)."""
    kind: str
    badge: str
    heading: str
    facts: list[str]
    answer: str | None = None
    """An answer's value, in words."""
    replaced: bool = False
    """An answer the customer changed later, or that branching no longer asks for."""


class Day(msgspec.Struct, frozen=True):
    heading: str
    entries: list[Entry]


def days(items: list[t.TimelineItem], zone: ZoneInfo) -> list[Day]:
    """The items in their order, under a heading for each day of `zone` they fall on."""
    found: list[Day] = []
    current: date | None = None
    for item in items:
        local = item.at.astimezone(zone)
        if local.date() != current:
            current = local.date()
            found.append(Day(f"{local:%A} {local.day} {local:%B %Y}", []))
        found[-1].entries.append(entry(item, local))
    return found


def entry(item: t.TimelineItem, local: datetime) -> Entry:
    heading, facts = _words(item)
    kind = type(item).__struct_config__.tag
    assert isinstance(kind, str)
    return Entry(
        time=f"{local:%H:%M:%S}",
        at=item.at.isoformat(),
        kind=kind,
        badge=BADGES[kind],
        heading=heading,
        facts=[fact for fact in facts if fact],
        answer=answer_text(item.detail.value) if isinstance(item, t.AnswerItem) else None,
        replaced=isinstance(item, t.AnswerItem) and not item.detail.current,
    )


def answer_text(value: AnswerValue) -> str:
    if value is None:
        return "skipped"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none chosen"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def words(text: str | None) -> str:
    """A code as words: ``frequency_cap`` is "frequency cap"."""
    return (text or "").replace("_", " ")


def _words(item: t.TimelineItem) -> tuple[str, list[str]]:
    """The heading and facts of an item."""
    match item:
        case t.AnswerItem(detail=d):
            replaced = f"replaced ({d.replaced_reason})" if not d.current else ""
            return d.question_text or d.question_id, [
                f"{d.questionnaire_key} v{d.questionnaire_version}, question {d.question_id}, by {d.channel}",
                replaced,
                f"Sent as: {d.raw}" if d.raw else "",
            ]
        case t.EventItem(detail=d):
            source = {"brand": "reported by the brand", "study": "reported by a study"}.get(
                d.source, "reported by the participant"
            )
            unknown = "" if d.touchpoint_known else "touchpoint not registered"
            return d.touchpoint, [
                source,
                f"Idempotency key {d.idempotency_key}" if d.idempotency_key else "",
                unknown,
            ]
        case t.DecisionItem(detail=d):
            if d.outcome == "scheduled":
                return "Surveyed", [f"by trigger {d.trigger}" if d.trigger else ""]
            return f"Not surveyed: {words(d.reason)}", [f"trigger {d.trigger}" if d.trigger else ""]
        case t.InvitationItem(detail=d):
            return f"{d.questionnaire_key} v{d.questionnaire_version}", [
                f"Channels: {', '.join(d.channels)}",
                f"by trigger {d.trigger}" if d.trigger else "",
            ]
        case t.InvitationStatusItem(detail=d):
            return f"{words(d.from_status) or 'new'} → {words(d.to_status)}", [words(d.reason)]
        case t.MessageItem(detail=d):
            return f"{d.channel} via {d.provider}: {words(d.status)}", [
                f"Attempt {d.attempt}" if d.attempt else "",
                f"Error {d.error_code}" if d.error_code else "",
                f"Delivery: {words(d.delivery_status)}" if d.delivery_status else "",
            ]
        case t.ReceiptItem(detail=d):
            return words(d.status), [f"Error {d.error_code}" if d.error_code else ""]
        case t.OpenedItem(detail=d):
            return f"Opened on {d.channel}" if d.channel else "Opened", []
        case t.CompletedItem(detail=d):
            heading = "Ended early" if d.end_reason == "ended_early" else "Completed"
            return heading, [f"{d.seconds_after_contact / 60:,.1f} minutes after the contact"]
        case t.ExpiredItem(detail=d):
            return "Expired", ["after some answers" if d.answered else "without answers"]
        case t.ConsentItem(detail=d):
            return f"{d.channel}: {'granted' if d.granted else 'withdrawn'}", [f"from {words(d.source)}"]
        case t.InboundItem(detail=d):
            return f"{d.channel} reply: {words(d.outcome) or 'received'}", [
                f"“{d.body}”" if d.body is not None else "Text not shown to this key"
            ]
        case t.SelfReportItem(detail=d):
            return f"{d.brand_name} · {d.touchpoint_name}", [
                f"Positive {d.positivity}/5 · persuasive {d.persuasiveness}/5",
                f"Study {d.study}",
                f"“{d.comment}”" if d.comment else "",
            ]
        case t.DiaryCommentItem(detail=d):
            return "Comment", [f"“{d.comment}”"]
    return BADGES.get(type(item).__struct_config__.tag or "", "Item"), []  # type: ignore[arg-type]
