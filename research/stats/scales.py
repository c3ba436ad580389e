"""Which answers are scores: the scale questions of the brand's questionnaire versions, with the thresholds
`questionnaires.scores` defines (promoters and detractors, the top two boxes), for the SQL that counts them.

Answers refer to (questionnaire key, version, question id); the question's type and scale live in the version's
definition, so they are read from there and handed to the statistics' SQL as arrays, rather than guessed from
the answers' values.
"""

from __future__ import annotations

from typing import Final
from uuid import UUID

import asyncpg
import msgspec

from questionnaires import scores
from questionnaires.model import Csat, Definition, Rating, question_type, scale_range
from research.stats.model import ScaleType

PROMOTERS_FROM: Final = min(s for s in range(11) if scores.nps_category(s) == "promoter")
DETRACTORS_TO: Final = max(s for s in range(11) if scores.nps_category(s) == "detractor")


def top_two_box_from(low: int, high: int) -> int:
    """The lowest answer `questionnaires.scores.top_two_box` counts on the `low`–`high` scale (its definition,
    not a copy of it)."""
    return next(v for v in range(low, high + 1) if scores.top_two_box([v], low, high) == 100)


class ScaleQuestion(msgspec.Struct, frozen=True, kw_only=True):
    questionnaire: str
    version: int
    question: str
    type: ScaleType
    low: int
    high: int
    display: str | None
    top_from: int | None
    """The top-two-box threshold for CSAT and ratings (as `scores.summarize` scores them); None otherwise."""


def scale_questions(key: str, version: int, definition: Definition) -> list[ScaleQuestion]:
    """The scale questions (NPS, rating, CES, CSAT) of one questionnaire version."""
    found = []
    for question in definition.questions:
        scale = scale_range(question)
        if scale is None:
            continue
        low, high = scale
        found.append(
            ScaleQuestion(
                questionnaire=key,
                version=version,
                question=question.id,
                type=question_type(question),  # type: ignore[arg-type]
                low=low,
                high=high,
                display=question.display if isinstance(question, Rating | Csat) else None,
                top_from=top_two_box_from(low, high) if isinstance(question, Rating | Csat) else None,
            )
        )
    return found


_definitions = msgspec.json.Decoder(Definition)


async def brand_scale_questions(
    conn: asyncpg.Connection, brand_id: UUID, questionnaire: str | None = None
) -> list[ScaleQuestion]:
    """Every scale question of the brand's questionnaire versions (of one questionnaire if named)."""
    rows = await conn.fetch(
        "SELECT key, version, definition::text AS definition FROM questionnaire_versions "
        "WHERE brand_id = $1 AND ($2::text IS NULL OR key = $2)",
        brand_id,
        questionnaire,
    )
    return [q for r in rows for q in scale_questions(r["key"], r["version"], _definitions.decode(r["definition"]))]


def as_arrays(questions: list[ScaleQuestion]) -> tuple[list, ...]:
    """The questions column by column, for ``unnest`` (`SCALES_SQL`)."""
    fields = ("questionnaire", "version", "question", "type", "low", "high", "top_from")
    return tuple([getattr(q, name) for q in questions] for name in fields)


SCALES_SQL: Final = """
SELECT * FROM unnest({0}::text[], {1}::int[], {2}::text[], {3}::text[], {4}::int[], {5}::int[], {6}::int[])
    AS s (questionnaire_key, questionnaire_version, question_id, type, low, high, top_from)
"""
"""The scale questions as a relation; format with the seven parameter placeholders of `as_arrays`' columns."""
