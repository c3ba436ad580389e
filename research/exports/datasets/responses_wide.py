"""``responses-wide``: one row per answered invitation of one questionnaire version, one column per question.

A version fixes the questions, so the columns are known before a row is read; another version may ask other
questions, hence one version per file (``questionnaire`` and ``version`` are required filters). The filtered
invitations' current answers are gathered into one JSON object per invitation (`jsonb_object_agg`, grouped by
invitation: one pass over the answers for a whole version, an index look-up per invitation for a few) and each
column takes its question's value out of it, typed: a question skipped, branched away or not reached has no value
there and its cells are empty, never 0. Invitations without a current answer have no row.
"""

from __future__ import annotations

import asyncpg
import msgspec

from questionnaires.model import MultiChoice
from research.exports.dataset import Column, Dataset, ExportRequest
from research.exports.datasets import columns as common
from research.exports.datasets.query import ExportFilterInvalid, Select, apply_filter
from research.exports.datasets.questions import (
    customer_locales,
    describe,
    dummies,
    questionnaire,
    shown_locales,
    variable_name,
    versions,
)
from research.pseudonyms import brand_key

NAME = "responses-wide"

_INVITATION = [
    *common.OF_INVITATION,
    (
        Column(
            name="channel",
            type="code",
            meaning="Where the customer first answered.",
            options=common.ANSWER_CHANNELS,
        ),
        "i.response_channel",
    ),
    (
        Column(
            name="locale",
            type="text",
            meaning="The questionnaire's locale the customer is asked in (the one closest to the customer's locale).",
        ),
        "shown.locale",
    ),
    (common.RESPONSE_STATE, "i.response_state"),
    (common.END_REASON, "i.end_reason"),
    (common.OCCURRED_AT, "i.occurred_at"),
    (
        Column(name="first_answer_at", type="timestamp", meaning="When the first answer was given."),
        "i.first_answer_at",
    ),
    (Column(name="completed_at", type="timestamp", meaning="When the survey was completed."), "i.completed_at"),
]

_CAST = {"integer": "::integer", "number": "::float8", "boolean": "::boolean", "code": "", "text": ""}


async def responses_wide(conn: asyncpg.Connection, request: ExportRequest) -> Dataset:
    where, brand_id = request.where, request.brand_id
    if where.questionnaire is None:
        raise ExportFilterInvalid("questionnaire", "the wide form holds one questionnaire version: name it")
    if where.version is None:
        raise ExportFilterInvalid("version", "the wide form holds one questionnaire version: name its number")
    found = await versions(conn, brand_id, where.questionnaire, where.version)
    if not found:
        raise ExportFilterInvalid("version", f"questionnaire {where.questionnaire} has no version {where.version}")
    version = found[0]
    select = Select(brand_id)
    select.add(common.INVITATION_ID, "i.invitation_id::text")
    customer = common.add_customer(select, await brand_key(conn, brand_id), "i.customer_id", pii=request.pii)
    for column, expression in _INVITATION:
        select.add(column, expression)
    shown = shown_locales(select, found, await customer_locales(conn, brand_id))
    taken = {column.name for column, _ in select.columns}
    for question in version.definition.questions:
        qid = select.param(question.id, "text")
        answer = f"i.answers -> {qid}"
        if isinstance(question, MultiChoice):
            for column in dummies(question, version.definition, taken):
                assert column.option is not None
                chosen = f"({answer} ? {select.param(column.option.code, 'text')})::integer"
                select.add(column, f"CASE jsonb_typeof({answer}) WHEN 'array' THEN {chosen} END")
            continue
        column = describe(question, version.definition, variable_name(question.id, taken))
        select.add(column, f"(i.answers ->> {qid}){_CAST[column.type]}")
    # The filters on the invitation itself narrow the answers gathered; its event's touchpoint, outside, the rows.
    select.where("i.brand_id = $1")
    apply_filter(
        select,
        msgspec.structs.replace(where, touchpoint=None),
        time="i.occurred_at",
        touchpoint="",
        trigger_id="i.trigger_id",
        questionnaire="i.questionnaire_key",
        version="i.questionnaire_version",
    )
    inside = select.take_conditions()
    select.where("i.brand_id = $1")  # outside too, so that the joins below read the brand's rows only
    if where.touchpoint is not None:
        select.where(f"e.touchpoint_key = {select.param(where.touchpoint, 'text')}")
    source = f"""(
    SELECT i.*, jsonb_object_agg(a.question_id, a.value) AS answers
    FROM invitations i
    JOIN answers a ON a.brand_id = i.brand_id AND a.invitation_id = i.invitation_id AND a.replaced_at IS NULL
    WHERE {inside}
    GROUP BY i.brand_id, i.invitation_id
) i
{common.INVITATION_JOINS}
{customer}
LEFT JOIN {shown} ON shown.key = i.questionnaire_key AND shown.version = i.questionnaire_version
     AND shown.customer_locale = coalesce(c.locale, '')"""
    return select.dataset(
        NAME,
        f"One row per answered invitation of {version.key} version {version.version}, one column per question.",
        source,
        order="i.occurred_at, i.invitation_id",
        questionnaires=[questionnaire(version)],
    )
