"""The questionnaire definition: what a brand writes (as YAML or JSON) and lxt stores as JSONB.

A definition is immutable once stored (versions are new rows), so every Struct here is frozen, and it must
round-trip exactly through ``msgspec.json.encode`` / ``msgspec.json.decode(type=Definition)``.

Decoding checks shapes and bounds (the ``Meta`` constraints, which also show in OpenAPI); `validate.py`
checks what spans fields: unique ids, complete translations, branching that only looks back.

Branching, in short (details in `flow.py`): ``show_if`` asks a question only when its condition on earlier
answers holds; ``end_if`` ends the survey right after its question when the condition (on this and earlier
answers) holds; an option with ``ends_survey: true`` ends it when chosen. Conditions use the language of
`questionnaires.conditions`, with question ids as field names.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

MAX_QUESTIONS = 20
MAX_OPTIONS = 20
MAX_TEXT = 1000

SLUG_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
Slug = Annotated[
    str,
    Meta(
        pattern=SLUG_PATTERN,
        description="Lower-case identifier: a letter, then letters, digits, '_' or '-' (at most 63).",
        examples=["store_visit_nps"],
    ),
]
Locale = Annotated[
    str,
    Meta(
        pattern=r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$",
        description="BCP 47 tag: language, optional script and region, e.g. 'en', 'de', 'de-CH', 'es-419'.",
        examples=["en", "de-CH"],
    ),
]
PlainText = Annotated[str, Meta(min_length=1, max_length=MAX_TEXT)]
Text = (
    PlainText
    | Annotated[
        dict[Locale, PlainText],
        Meta(min_length=1, description="Translations: locale → text, e.g. {'en': 'Hi', 'de': 'Hallo'}."),
    ]
)
"""Human-readable text: a plain string (in the definition's ``default_locale``) or a locale → string mapping."""

Condition = Annotated[
    dict[str, Any],
    Meta(
        description=(
            "Condition on answers by question id, e.g. {'field': 'nps', 'lte': 6}; "
            "see the condition language (eq, ne, in, not_in, gt, gte, lt, lte, exists, and, or, not)."
        )
    ),
]
Display = Literal["stars", "emoji", "numbers"]


class Base(
    msgspec.Struct,
    forbid_unknown_fields=True,
    kw_only=True,
    frozen=True,
    omit_defaults=True,
):
    """Shared options for every Struct of the definition.

    - ``forbid_unknown_fields``: a misspelt key (``reqired``) is an error naming it, not silently ignored.
    - ``kw_only``: fields with defaults may sit anywhere, and construction in code reads like the YAML
      (msgspec applies it per class, so subclasses repeat it).
    - ``frozen``: a stored version never changes; pure functions can share instances safely.
    - ``omit_defaults``: stored JSON stays as small as what the brand wrote, and still decodes to an equal value.
    """


class QuestionBase(Base, tag_field="type", kw_only=True):
    """Options common to every question type; ``type`` selects the variant."""

    id: Slug
    """Stable id: answers, conditions and exports refer to it across versions."""
    text: Text
    required: bool = True
    """A required question cannot be skipped; a skipped optional one is recorded as null."""
    show_if: Condition | None = None
    """Ask only when this condition on earlier answers holds."""
    end_if: Condition | None = None
    """End the survey right after this question when this condition (on this and earlier answers) holds."""


class ScaleBase(QuestionBase, kw_only=True):
    min_label: Text | None = None
    """Label of the low end of the scale, e.g. 'Not at all likely'."""
    max_label: Text | None = None
    """Label of the high end of the scale, e.g. 'Extremely likely'."""


class Nps(ScaleBase, tag="nps", kw_only=True):
    """Net Promoter Score: 0–10, 'How likely are you to recommend …'."""


class Rating(ScaleBase, tag="rating", kw_only=True):
    """A rating on a configurable scale, e.g. 1–5 or 1–7."""

    min: Annotated[int, Meta(ge=0, le=1)] = 1
    max: Annotated[int, Meta(ge=2, le=10)] = 5
    display: Display = "numbers"
    """Presentation hint for web and app: stars, emoji faces, or plain numbers. SMS always shows numbers."""


class Ces(ScaleBase, tag="ces", kw_only=True):
    """Customer Effort Score: 1 (very difficult) – 7 (very easy)."""


class Csat(ScaleBase, tag="csat", kw_only=True):
    """Customer satisfaction: 1 (very dissatisfied) – 5 (very satisfied)."""

    display: Display = "numbers"


class Option(Base, kw_only=True):
    code: Slug
    """Stable code stored as the answer; labels may change, codes may not."""
    label: Text
    ends_survey: bool = False
    """Choosing this option ends the survey after this question (e.g. 'I did not visit')."""


Options = Annotated[list[Option], Meta(min_length=2, max_length=MAX_OPTIONS)]


class SingleChoice(QuestionBase, tag="single_choice", kw_only=True):
    options: Options


class MultiChoice(QuestionBase, tag="multi_choice", kw_only=True):
    options: Options
    min_selections: Annotated[int, Meta(ge=1, le=MAX_OPTIONS)] = 1
    """Fewest options an answer must choose (when answered at all)."""
    max_selections: Annotated[int, Meta(ge=1, le=MAX_OPTIONS)] | None = None
    """Most options an answer may choose; default: all."""


class YesNo(QuestionBase, tag="yes_no", kw_only=True):
    pass


class FreeText(QuestionBase, tag="text", kw_only=True):
    max_length: Annotated[int, Meta(ge=1, le=5000)] = 1000


class Number(QuestionBase, tag="number", kw_only=True):
    min: float | None = None
    max: float | None = None
    integer: bool = True
    """Whole numbers only (an answer of 2.5 is rejected)."""


Question = Nps | Rating | Ces | Csat | SingleChoice | MultiChoice | YesNo | FreeText | Number
ScaleQuestion = Nps | Rating | Ces | Csat
ChoiceQuestion = SingleChoice | MultiChoice
QuestionType = Literal["nps", "rating", "ces", "csat", "single_choice", "multi_choice", "yes_no", "text", "number"]


class Definition(Base, kw_only=True):
    """A questionnaire: 1 to `MAX_QUESTIONS` questions (the product is about 1–5) asked in order."""

    key: Slug
    title: Text
    default_locale: Locale
    """Language of plain-string texts, and the last fallback when rendering."""
    locales: list[Locale] | None = None
    """Locales offered; every text must be translated into each. Default: those the texts use."""
    intro: Text | None = None
    """Shown before the first question (web/app page header; prefixed to the first SMS)."""
    thank_you: Text | None = None
    """Shown at the end; a generic localized thank-you when absent."""
    questions: Annotated[list[Question], Meta(min_length=1, max_length=MAX_QUESTIONS)]


AnswerValue = int | float | str | bool | list[str] | None
"""A normalized answer: int for scales, option code for single choice, sorted codes for multi choice,
bool for yes/no, str for text, int or float for number; None for a skipped optional question."""


def question_type(question: Question) -> QuestionType:
    """The ``type`` tag of a question, as written in the definition."""
    return question.__struct_config__.tag  # type: ignore[return-value]


def scale_range(question: Question) -> tuple[int, int] | None:
    """The inclusive (min, max) of a scale question; None for other types."""
    if isinstance(question, Nps):
        return 0, 10
    if isinstance(question, Ces):
        return 1, 7
    if isinstance(question, Csat):
        return 1, 5
    if isinstance(question, Rating):
        return question.min, question.max
    return None


def question_index(definition: Definition, question_id: str) -> int | None:
    """Position of the question with `question_id`, or None."""
    for i, question in enumerate(definition.questions):
        if question.id == question_id:
            return i
    return None
