"""``responses-long``: one row per answer, every questionnaire and version of the brand, in contact order and each
invitation's answers in the questionnaire's order.

Only current answers: an answer the customer changed, or one that branching made moot when an earlier answer
changed, is not a response any more (the invitation's history and the timelines export keep it). A skipped optional
question is a row with an empty value and ``skipped`` true: it was asked and not answered.
"""

from __future__ import annotations

import asyncpg

from research.exports.dataset import Column, Dataset, ExportRequest
from research.exports.datasets import columns as common
from research.exports.datasets.query import Select, apply_filter
from research.exports.datasets.questions import (
    customer_locales,
    question_table,
    questionnaire,
    versions,
)
from research.pseudonyms import brand_key

NAME = "responses-long"

_ANSWER = [
    (
        Column(
            name="question_id",
            type="text",
            formula_safe=True,
            meaning="The question's id (the codebook describes each one).",
        ),
        "a.question_id",
    ),
    (
        Column(name="question_type", type="code", meaning="The question's type.", options=common.QUESTION_TYPES),
        "q.type",
    ),
    (
        Column(name="position", type="integer", meaning="The question's position in its questionnaire, from 1."),
        "q.position",
    ),
    (
        Column(
            name="value",
            type="text",
            meaning=(
                "The answer as text: a scale's or number's value, a chosen option's code, the chosen codes of a "
                "multi-choice question as a JSON array, true or false for yes/no, the customer's words for a text "
                "question (free text where free_text is true). Empty when skipped."
            ),
            free_text=True,
        ),
        "a.value #>> '{}'",
    ),
    (
        Column(
            name="value_number",
            type="number",
            meaning="The answer as a number, for scales and numbers (yes/no as 1/0); empty for other types.",
        ),
        "CASE jsonb_typeof(a.value) WHEN 'number' THEN (a.value #>> '{}')::float8 "
        "WHEN 'boolean' THEN (a.value #>> '{}')::boolean::integer END",
    ),
    (
        Column(name="skipped", type="boolean", meaning="The question was asked and skipped (optional questions)."),
        "a.value = 'null'::jsonb",
    ),
    (
        Column(
            name="free_text", type="boolean", meaning="The value is the customer's own words (a text question)."
        ),
        "q.type = 'text'",
    ),
    (
        Column(name="channel", type="code", meaning="Where the answer came from.", options=common.ANSWER_CHANNELS),
        "a.channel",
    ),
    (
        Column(
            name="locale",
            type="text",
            formula_safe=True,
            meaning=(
                "The questionnaire's locale the customer is asked in: the one closest to the customer's locale. "
                "lxt does not store it per answer, so it is today's, should the customer's locale have changed."
            ),
        ),
        "q.locale",
    ),
    (Column(name="answered_at", type="timestamp", meaning="When the answer was given."), "a.answered_at"),
    (common.OCCURRED_AT, "i.occurred_at"),
]


async def responses_long(conn: asyncpg.Connection, request: ExportRequest) -> Dataset:
    where, brand_id = request.where, request.brand_id
    asked = await versions(conn, brand_id, where.questionnaire, where.version)
    select = Select(brand_id)
    select.add(
        Column(name="answer_id", type="text", formula_safe=True, meaning="The answer."), "a.answer_id::text"
    )
    customer = common.add_customer(select, await brand_key(conn, brand_id), "a.customer_id", pii=request.pii)
    select.add(common.INVITATION_ID, "a.invitation_id::text")
    for column, expression in common.OF_INVITATION:
        select.add(column, expression)
    questions = question_table(select, asked, await customer_locales(conn, brand_id))
    for column, expression in _ANSWER:
        select.add(column, expression)
    select.where("a.brand_id = $1")
    select.where("a.replaced_at IS NULL")
    apply_filter(
        select,
        where,
        time="a.answered_at",
        touchpoint="e.touchpoint_key",
        trigger_id="i.trigger_id",
        questionnaire="a.questionnaire_key",
        version="a.questionnaire_version",
    )
    source = f"""answers a
JOIN invitations i ON i.brand_id = a.brand_id AND i.invitation_id = a.invitation_id
{common.INVITATION_JOINS}
{customer}
LEFT JOIN {questions} ON q.key = a.questionnaire_key AND q.version = a.questionnaire_version
     AND q.question_id = a.question_id AND q.customer_locale = coalesce(c.locale, '')"""
    return select.dataset(
        NAME,
        "One row per current answer: what each customer answered to each question, in the order given.",
        source,
        order="i.occurred_at, a.invitation_id, q.position",
        questionnaires=[questionnaire(v) for v in asked],
    )
