"""Questions as export columns: what each question type becomes, with its text in every locale of the
questionnaire, its options and their labels, and the ends of its scale. Read from the stored versions, which
never change, so a codebook describes the data exactly as it was asked.

A question becomes one column typed by what SPSS, Stata, R and pandas expect: scales (nps, rating, ces, csat) are
integers, a single choice is its option's code, yes/no a boolean, a number a number (an integer when the question
takes whole numbers only), free text text. A multi-choice question is one 0/1 column per option in wide form
(`dummies`: SPSS's "multiple dichotomy" set, Stata's indicator variables) and its sorted codes in long form.
"""

from __future__ import annotations

import itertools
import re
from uuid import UUID

import asyncpg
import msgspec

from questionnaires.locales import definition_locales, pick_locale, resolve
from questionnaires.messages import catalog
from questionnaires.model import (
    Definition,
    FreeText,
    MultiChoice,
    Number,
    Question,
    ScaleBase,
    SingleChoice,
    Text,
    YesNo,
    question_type,
    scale_range,
)
from research.exports.dataset import Column, Option, Questionnaire
from research.exports.datasets.query import Select

MAX_NAME = 32
"""Longest column name: Stata's limit (SPSS allows 64, R and pandas any)."""

_definition = msgspec.json.Decoder(Definition)


class Version(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    version: int
    definition: Definition

    @property
    def locales(self) -> list[str]:
        return definition_locales(self.definition)


_VERSIONS = """
SELECT key, version, definition::text FROM questionnaire_versions
WHERE brand_id = $1 AND ($2::text IS NULL OR key = $2) AND ($3::integer IS NULL OR version = $3)
ORDER BY key, version
"""


async def versions(
    conn: asyncpg.Connection, brand_id: UUID, key: str | None = None, version: int | None = None
) -> list[Version]:
    """The brand's stored questionnaire versions, all or those of `key` (and `version`)."""
    rows = await conn.fetch(_VERSIONS, brand_id, key, version)
    return [
        Version(key=r["key"], version=r["version"], definition=_definition.decode(r["definition"])) for r in rows
    ]


def variable_name(wanted: str, taken: set[str]) -> str:
    """`wanted` as a column name: lower-case letters, digits and ``_``, starting with a letter, at most
    `MAX_NAME` characters, and none of `taken` (``q_`` in front, then a number behind, until it is free).
    The name is added to `taken`."""
    base = re.sub(r"[^a-z0-9_]", "_", wanted.lower())
    if not base[:1].isalpha():
        base = "q_" + base
    numbered = (f"{base[: MAX_NAME - len(str(n)) - 1]}_{n}" for n in itertools.count(2))
    candidates = itertools.chain([base[:MAX_NAME], ("q_" + base)[:MAX_NAME]], numbered)
    name = next(c for c in candidates if c not in taken)
    taken.add(name)
    return name


def texts(text: Text | None, definition: Definition, locales: list[str]) -> dict[str, str]:
    """`text` in each of `locales` (validation made every text complete in every locale the version offers)."""
    if text is None:
        return {}
    return {locale: resolve(text, locale, definition.default_locale) for locale in locales}


def _meaning(what: str) -> str:
    return f"{what} Empty when the question was skipped, not asked (branching) or not reached."


def describe(question: Question, definition: Definition, name: str) -> Column:
    """`question` as one column named `name`: a long export's ``value`` of its answers, and its wide column (but
    for multi-choice questions, which are `dummies` there)."""
    locales = definition_locales(definition)
    common = {
        "name": name,
        "question_id": question.id,
        "question_type": question_type(question),
        "text": texts(question.text, definition, locales),
    }
    scale = scale_range(question)
    if isinstance(question, ScaleBase) and scale is not None:
        labels = {
            end: texts(label, definition, locales)
            for end, label in (("min", question.min_label), ("max", question.max_label))
            if label is not None
        }
        meaning = _meaning(f"The answer on the scale {scale[0]} to {scale[1]}.")
        return Column(
            type="integer", meaning=meaning, scale_min=scale[0], scale_max=scale[1], scale_labels=labels, **common
        )
    if isinstance(question, SingleChoice | MultiChoice):
        options = [Option(code=o.code, labels=texts(o.label, definition, locales)) for o in question.options]
        if isinstance(question, SingleChoice):
            return Column(type="code", meaning=_meaning("The chosen option's code."), options=options, **common)
        meaning = _meaning("The chosen options' codes, in alphabetical order.")
        return Column(type="codes", meaning=meaning, options=options, **common)
    if isinstance(question, YesNo):
        options = [
            Option(code=code, labels={locale: getattr(catalog(locale), word) for locale in locales})
            for code, word in (("true", "yes"), ("false", "no"))
        ]
        return Column(type="boolean", meaning=_meaning("Yes (true) or no (false)."), options=options, **common)
    if isinstance(question, Number):
        kind = "integer" if question.integer else "number"
        return Column(
            type=kind,
            meaning=_meaning("The number given."),
            scale_min=question.min,
            scale_max=question.max,
            **common,
        )
    assert isinstance(question, FreeText)
    return Column(type="text", meaning=_meaning("The customer's own words."), free_text=True, **common)


def dummies(question: MultiChoice, definition: Definition, taken: set[str]) -> list[Column]:
    """A multi-choice question as one 0/1 column per option, named ``<question>_<option>``: 1 chosen, 0 not
    chosen, empty when the question was skipped or not asked (never 0 then)."""
    whole = describe(question, definition, question.id)
    columns = []
    for option in whole.options:
        label = next(iter(option.labels.values()))
        columns.append(
            msgspec.structs.replace(
                whole,
                name=variable_name(f"{question.id}_{option.code}", taken),
                type="integer",
                meaning=_meaning(f"1 if '{label}' ({option.code}) was chosen, 0 if not."),
                options=[],
                option=option,
            )
        )
    return columns


def questionnaire(version: Version) -> Questionnaire:
    """The version described for the codebook, each question as `describe` has it."""
    definition, taken = version.definition, set[str]()
    return Questionnaire(
        key=version.key,
        version=version.version,
        title=texts(definition.title, definition, version.locales),
        locales=version.locales,
        questions=[describe(q, definition, variable_name(q.id, taken)) for q in definition.questions],
    )


async def customer_locales(conn: asyncpg.Connection, brand_id: UUID) -> list[str]:
    """The locales the brand's customers have, and '' for none (a customer without one, or erased since): few,
    whatever the number of customers."""
    found = {r[0] for r in await conn.fetch(_CUSTOMER_LOCALES, brand_id)}
    return sorted(found | {""})


_CUSTOMER_LOCALES = "SELECT DISTINCT coalesce(locale, '') FROM customers WHERE brand_id = $1"


def shown_locales(select: Select, versions: list[Version], customers: list[str]) -> str:
    """A FROM item ``shown (key, version, customer_locale, locale)``: for each version and customer locale ('' for
    none), the version's locale the customer is asked in, as the page, the app and SMS pick it (`pick_locale`).
    lxt does not store the locale of each answer; this is it unless the customer's locale changed since."""
    rows = [(v.key, v.version, c, pick_locale(v.definition, c or None)) for v in versions for c in customers]
    columns = [("key", "text"), ("version", "integer"), ("customer_locale", "text"), ("locale", "text")]
    return _table(select, "shown", columns, rows)


def question_table(select: Select, versions: list[Version], customers: list[str]) -> str:
    """A FROM item ``q (key, version, question_id, customer_locale, type, position, locale)``: every question of
    `versions` with its type and 1-based position, once for each customer locale ('' for none) with the locale such
    a customer is asked in (as `shown_locales` has it). Rows of answers learn all three by one join instead of
    reading each definition: a few rows (questions × customer locales), joined to each answer by a hash."""
    rows = [
        (v.key, v.version, question.id, c, question_type(question), position, pick_locale(v.definition, c or None))
        for v in versions
        for position, question in enumerate(v.definition.questions, start=1)
        for c in customers
    ]
    columns = [("key", "text"), ("version", "integer"), ("question_id", "text"), ("customer_locale", "text")]
    columns += [("type", "text"), ("position", "integer"), ("locale", "text")]
    return _table(select, "q", columns, rows)


def _table(select: Select, alias: str, columns: list[tuple[str, str]], rows: list[tuple[object, ...]]) -> str:
    """A FROM item `alias` of `rows`, whose values are `columns` (name, SQL type): one array parameter per column,
    unnested together."""
    values = [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in columns]
    arrays = ", ".join(select.param(v, f"{sql_type}[]") for v, (_, sql_type) in zip(values, columns, strict=True))
    return f"unnest({arrays}) AS {alias} ({', '.join(name for name, _ in columns)})"
