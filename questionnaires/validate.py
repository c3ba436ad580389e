"""Semantic validation of a decoded definition: what the Struct types alone cannot say.

Errors (the definition is rejected, `QuestionnaireInvalid`): duplicate ids or option codes, inconsistent
bounds, incomplete translations, and branching that does not only look back or compares the wrong types.
Because conditions may only name earlier questions (``end_if`` also its own), branching can never form a cycle.

Warnings (the definition is accepted, the brand is told): a question whose SMS needs more than
`MAX_SMS_SEGMENTS` segments in some locale — it costs more and arrives split on some phones.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import msgspec

from plumbing.errors import FieldError, pointer
from questionnaires.conditions import FieldSpec, check_condition, field_refs
from questionnaires.errors import QuestionnaireInvalid
from questionnaires.locales import definition_locales, iter_texts, text_locales
from questionnaires.model import (
    Definition,
    FreeText,
    MultiChoice,
    Number,
    Question,
    SingleChoice,
    YesNo,
)
from questionnaires.render import render_sms

MAX_SMS_SEGMENTS = 2


class DefinitionWarning(msgspec.Struct, frozen=True):
    """Something a brand should fix, but that does not stop the definition from being used."""

    pointer: str
    message: str


def field_spec(question: Question) -> FieldSpec:
    """How a condition may test the answer to `question` (its id is the field name)."""
    if isinstance(question, SingleChoice):
        return FieldSpec("string", frozenset(o.code for o in question.options))
    if isinstance(question, MultiChoice):
        return FieldSpec("list", frozenset(o.code for o in question.options))
    if isinstance(question, YesNo):
        return FieldSpec("bool")
    if isinstance(question, FreeText):
        return FieldSpec("string")
    return FieldSpec("number")


def check_definition(definition: Definition) -> list[FieldError]:
    """Every semantic error of `definition`; empty when it may be stored and used."""
    return [
        *_check_ids(definition),
        *_check_bounds(definition),
        *_check_translations(definition),
        *_check_branching(definition),
    ]


def ensure_valid(definition: Definition) -> Definition:
    """Return `definition`, or raise `QuestionnaireInvalid` listing every semantic error."""
    errors = check_definition(definition)
    if errors:
        raise QuestionnaireInvalid(errors)
    return definition


def validate_definition(definition: Definition) -> list[DefinitionWarning]:
    """Raise `QuestionnaireInvalid` on errors; otherwise return the warnings (empty when all is well)."""
    ensure_valid(definition)
    warnings: list[DefinitionWarning] = []
    for locale in definition_locales(definition):
        for i, question in enumerate(definition.questions):
            sms = render_sms(definition, question.id, locale)
            if sms.segments > MAX_SMS_SEGMENTS:
                warnings.append(
                    DefinitionWarning(
                        pointer=pointer("questions", i),
                        message=(
                            f"the SMS for this question in '{locale}' needs {sms.segments} segments "
                            f"({sms.encoding}, {sms.units} units); keep it to {MAX_SMS_SEGMENTS}"
                        ),
                    )
                )
        if definition.intro is not None:
            first = render_sms(definition, definition.questions[0].id, locale, intro=True)
            if first.segments > MAX_SMS_SEGMENTS:
                warnings.append(
                    DefinitionWarning(
                        pointer="/intro",
                        message=(
                            f"the first SMS (intro and first question) in '{locale}' needs {first.segments} "
                            f"segments ({first.encoding}); keep it to {MAX_SMS_SEGMENTS}"
                        ),
                    )
                )
    return warnings


def _check_ids(definition: Definition) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, question in enumerate(definition.questions):
        if question.id in seen:
            errors.append(FieldError(pointer("questions", i, "id"), f"duplicate question id '{question.id}'"))
        seen.add(question.id)
        codes: set[str] = set()
        for j, option in enumerate(getattr(question, "options", ())):
            if option.code in codes:
                errors.append(
                    FieldError(
                        pointer("questions", i, "options", j, "code"), f"duplicate option code '{option.code}'"
                    )
                )
            codes.add(option.code)
    return errors


def _check_bounds(definition: Definition) -> list[FieldError]:
    errors: list[FieldError] = []
    for i, question in enumerate(definition.questions):
        at = pointer("questions", i)
        if isinstance(question, MultiChoice):
            n = len(question.options)
            if question.min_selections > n:
                errors.append(
                    FieldError(f"{at}/min_selections", f"cannot require {question.min_selections} of {n} options")
                )
            if question.max_selections is not None:
                if question.max_selections > n:
                    errors.append(
                        FieldError(f"{at}/max_selections", f"only {n} options; max_selections is larger")
                    )
                if question.max_selections < question.min_selections:
                    errors.append(FieldError(f"{at}/max_selections", "is smaller than min_selections"))
        if isinstance(question, Number):
            for name in ("min", "max"):
                bound = getattr(question, name)
                if bound is not None and not math.isfinite(bound):
                    errors.append(FieldError(f"{at}/{name}", "must be a finite number"))
            if question.min is not None and question.max is not None and question.min > question.max:
                errors.append(FieldError(f"{at}/max", "is smaller than min"))
    return errors


def _check_translations(definition: Definition) -> list[FieldError]:
    errors: list[FieldError] = []
    default = definition.default_locale
    if definition.locales is not None:
        seen: set[str] = set()
        for i, loc in enumerate(definition.locales):
            if loc in seen:
                errors.append(FieldError(pointer("locales", i), f"locale '{loc}' is listed twice"))
            seen.add(loc)
        if default not in seen:
            errors.append(FieldError("/locales", f"must include the default_locale '{default}'"))
    offered = definition_locales(definition)
    for at, text in iter_texts(definition):
        present = text_locales(text, default)
        for loc in offered:
            if loc not in present:
                errors.append(FieldError(at, f"missing the '{loc}' translation"))
        if definition.locales is not None:
            for loc in sorted(present - set(offered)):
                errors.append(FieldError(pointer(*at.split("/")[1:], loc), f"locale '{loc}' is not in /locales"))
    return errors


def _check_branching(definition: Definition) -> list[FieldError]:
    errors: list[FieldError] = []
    position = {q.id: i for i, q in reversed(list(enumerate(definition.questions)))}
    for i, question in enumerate(definition.questions):
        for name in ("show_if", "end_if"):
            cond = getattr(question, name)
            if cond is None:
                continue
            at = pointer("questions", i, name)
            # end_if runs after this question is answered, so it may test this answer; show_if may not.
            last = i if name == "end_if" else i - 1
            refs = field_refs(cond, at)
            bad: set[str] = set()
            for ref, ref_at in refs:
                j = position.get(ref)
                if j is None:
                    errors.append(FieldError(ref_at, f"unknown question '{ref}'"))
                elif j > last:
                    which = "this question itself" if j == i else f"a later question (#{j + 1})"
                    errors.append(
                        FieldError(ref_at, f"'{ref}' is {which}; conditions may only use earlier answers")
                    )
                else:
                    continue
                bad.add(ref)
            errors.extend(check_condition(cond, at, _specs(definition, position, bad)))
    return errors


def _specs(
    definition: Definition, position: dict[str, int], reported: set[str]
) -> Callable[[str], FieldSpec | None]:
    def spec(ref: str) -> FieldSpec | None:
        # References already reported in the questionnaire's words ("a later question") are not repeated
        # as "unknown field"; their operands are still checked as far as they can be.
        if ref in reported:
            return FieldSpec("any")
        j = position.get(ref)
        return None if j is None else field_spec(definition.questions[j])

    return spec
