"""What lxt keeps that a person said or that leads to them, table by table, and how each is blanked: the one list
erasure (`research.erasure`) and retention (`research.retention`) share.

Retention blanks the `RAW` content of rows older than the brand's period and keeps every row and its links (the
customer is still the brand's customer). Erasure blanks the same content of every row of one customer, and also
what identifies the customer (their row, ids handed out, link tokens), and then unlinks or deletes the rest.

Blanked text is the empty string, not NULL, where the column is NOT NULL or where NULL already means something
(an optional question skipped): an erased free-text answer reads ``""`` — answered, the words gone — which no
customer can give (the parsers refuse empty text), so researchers can tell it from a skipped one.
"""

from __future__ import annotations

from typing import Final, NamedTuple

TEXT_QUESTIONS: Final = """
text_questions (q_key, q_version, q_id) AS (
    SELECT v.key, v.version, q.question ->> 'id'
    FROM questionnaire_versions v
    CROSS JOIN jsonb_array_elements(v.definition -> 'questions') AS q (question)
    WHERE v.brand_id = $1 AND q.question ->> 'type' = 'text'
)"""
"""A CTE of the brand's ($1) free-text questions, for `ANSWER_VALUE`."""

ANSWER_VALUE: Final = """CASE
    WHEN jsonb_typeof(value) = 'string' AND EXISTS (
        SELECT FROM text_questions
        WHERE (q_key, q_version, q_id) = (questionnaire_key, questionnaire_version, question_id)
    ) THEN '""'::jsonb
    ELSE value END"""
"""An answer's value with free text blanked; coded values (scales, options, yes/no, numbers) stay: they are what
statistics count, and say nothing but the choice. Needs `TEXT_QUESTIONS` in the statement's WITH."""


class Raw(NamedTuple):
    """The raw content of one table: what `blank` sets (harmless on a row that holds none: erasure sets it on all
    of a customer's rows), and `present`, true while a row still holds some (so that a retention run finds only
    what is left to do, and two runs never blank the same row twice)."""

    blank: str
    present: str
    needs_text_questions: bool = False


RAW: Final[dict[str, Raw]] = {
    # What the brand's systems reported with an event: anything they chose to send (names, orders, amounts).
    "events": Raw("attributes = '{}'", "attributes <> '{}'"),
    # What lxt sent and to whom: the text (with the survey's link, which is a credential), the phone, push token or
    # webhook address.
    "messages": Raw("body = '', recipient = NULL", "(body <> '' OR recipient IS NOT NULL)"),
    # What the customer texted, from which phone, the provider's fields as received, and what lxt texted back.
    "inbound_messages": Raw(
        "body = '', from_phone = '', payload = '{}', reply = NULL", "(body <> '' OR from_phone <> '')"
    ),
    # What the customer sent, as sent (SMS text, form values), and free-text values.
    "answers": Raw(f"raw = '', value = {ANSWER_VALUE}", "raw <> ''", needs_text_questions=True),
    # Submissions that were not taken as answers, and the errors that may quote them.
    "refused_answers": Raw("raw = '', errors = '[]'", "(raw <> '' OR errors <> '[]')"),
    # The phone a conversation was held with.
    "conversations": Raw("recipient = ''", "recipient <> ''"),
    # A study participant's comments on their reports.
    "self_reports": Raw("comment = CASE WHEN comment IS NULL THEN NULL ELSE '' END", "comment <> ''"),
    "self_report_comments": Raw("comment = ''", "comment <> ''"),
}


def with_ctes(raw: Raw, *more: str) -> str:
    """The WITH clause of a statement blanking `raw`: what `raw` needs, then `more`; empty if neither."""
    ctes = [TEXT_QUESTIONS] * raw.needs_text_questions + list(more)
    return f"WITH {', '.join(ctes)}" if ctes else ""
