"""The flow engine: which question comes next, and when a survey is over. SMS, web and app all use it.

Answers so far are a mapping question id → normalized value (see `parse.Answer`):

- a question is **done** when its id is a key: with a value when answered, with None when skipped (allowed
  only for optional questions);
- a question not yet reached, or not shown to this customer, is **absent**.

Questions are walked in order. A question is **shown** when it has no ``show_if`` or its condition holds for the
answers so far (a skipped answer counts as missing: comparisons on it are false). The first shown question that is
not done is next. After a done question the survey **ends early** when its ``end_if`` holds or one of its chosen
options has ``ends_survey``; when no shown question is left it is **completed**.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import msgspec

from plumbing.errors import FieldError, pointer
from questionnaires.conditions import evaluate, referenced_fields
from questionnaires.model import AnswerValue, Definition, MultiChoice, Question, SingleChoice
from questionnaires.parse import Invalid, parse_structured

Answers = Mapping[str, AnswerValue]
EndReason = Literal["completed", "ended_early"]


class Step(msgspec.Struct, frozen=True):
    """The next question to ask."""

    question: Question
    index: int
    """Position of the question in the definition (0-based)."""
    position: int
    """1-based number of this question among those this customer is asked ("2" in "2 of 3")."""
    total: int
    """Questions this customer will probably be asked in all: exact without branching, else the most that the
    answers so far still allow (it can only shrink as answers come in, or stay)."""


class End(msgspec.Struct, frozen=True):
    """The survey is over."""

    reason: EndReason
    after: str | None = None
    """For ``ended_early``: the id of the question whose answer ended it."""


def is_shown(question: Question, answers: Answers) -> bool:
    """Whether `question` is asked, given the answers to the questions before it."""
    return question.show_if is None or evaluate(question.show_if, answers)


def ends_after(question: Question, answers: Answers) -> bool:
    """Whether the survey ends right after `question` (which is done), by ``end_if`` or an ending option."""
    value = answers.get(question.id)
    if isinstance(question, SingleChoice | MultiChoice) and value is not None:
        chosen = set(value) if isinstance(value, list) else {value}
        if any(option.ends_survey and option.code in chosen for option in question.options):
            return True
    return question.end_if is not None and evaluate(question.end_if, answers)


def next_step(definition: Definition, answers: Answers) -> Step | End:
    """The next question to ask, with progress, or the end and why."""
    questions = definition.questions
    position = 1
    for index, question in enumerate(questions):
        if not is_shown(question, answers):
            continue
        if question.id not in answers:
            return Step(question, index, position, position + _maybe_shown_after(definition, index, answers))
        position += 1
        if ends_after(question, answers):
            return End("ended_early" if index < len(questions) - 1 else "completed", question.id)
    return End("completed")


def _maybe_shown_after(definition: Definition, index: int, answers: Answers) -> int:
    """How many questions after `index` can still be shown, given the answers so far."""
    pending = {q.id for q in definition.questions[index:]}
    count = 0
    for question in definition.questions[index + 1 :]:
        cond = question.show_if
        # A condition on a question not answered yet is still open; count the question as possible.
        if cond is None or referenced_fields(cond) & pending or evaluate(cond, answers):
            count += 1
    return count


def is_complete(definition: Definition, answers: Answers) -> bool:
    """Whether no question is left to ask (completed or ended early)."""
    return isinstance(next_step(definition, answers), End)


def check_answers(definition: Definition, answers: Answers, at: str = "") -> list[FieldError]:
    """Problems that make `answers` impossible for `definition`; empty when consistent.

    Consistent means: only known question ids; each value valid for its question (None only when optional);
    no answer to a question that is hidden, comes after an early end, or follows a shown question that is
    still unanswered. Pointers are `at` + ``/<question id>``.
    """
    errors: list[FieldError] = []
    known = {q.id for q in definition.questions}
    for qid in answers:
        if qid not in known:
            errors.append(FieldError(at + pointer(str(qid)), "no such question"))
    ended_after: str | None = None
    gap: str | None = None
    for question in definition.questions:
        here = at + pointer(question.id)
        done = question.id in answers
        if ended_after is not None:
            if done:
                errors.append(FieldError(here, f"the survey ended after '{ended_after}'"))
            continue
        if not is_shown(question, answers):
            if done:
                errors.append(FieldError(here, "not shown: its show_if does not hold for these answers"))
            continue
        if not done:
            gap = gap or question.id
            continue
        if gap is not None:
            errors.append(FieldError(here, f"answered while the earlier question '{gap}' is not"))
            continue
        result = parse_structured(question, answers[question.id], definition.default_locale)
        if isinstance(result, Invalid):
            errors.append(FieldError(here, f"invalid answer ({result.reason}): {result.reprompt}"))
        if ends_after(question, answers):
            ended_after = question.id
    return errors


class Settled(msgspec.Struct, frozen=True):
    """Stored answers with newly given ones applied (see `settle`)."""

    answers: dict[str, AnswerValue]
    """The answers now current, normalized; what the flow continues from."""
    dropped: list[str]
    """Ids of stored answers that no longer count: a changed earlier answer hides their question, or ends the
    survey before it."""
    errors: list[FieldError]


def settle(definition: Definition, stored: Answers, given: Answers, locale: str, at: str = "") -> Settled:
    """Apply `given` answers (from one submission) over the `stored` ones.

    Each given answer is checked strictly (`parse_structured`) and must be one the flow can ask now: its question
    is shown given the answers before it, comes before any early end, and no shown question before it is left
    unanswered (unless answered in the same submission). Stored answers whose question a changed answer hid
    or cut off are dropped, not refused: that is what changing an earlier answer means. Stored answers after a
    question that became shown are kept; the flow asks the new question next and then goes on past them.
    Pointers of errors are `at` + ``/<question id>``.
    """
    known = {q.id for q in definition.questions}
    errors = [FieldError(at + pointer(str(qid)), "no such question") for qid in given if qid not in known]
    merged = {**stored, **given}
    kept: dict[str, AnswerValue] = {}
    dropped: list[str] = []
    ended_after: str | None = None
    gap: str | None = None
    for question in definition.questions:
        qid = question.id
        here = at + pointer(qid)
        if qid not in merged:
            if ended_after is None and is_shown(question, kept):
                gap = gap or qid
            continue
        if ended_after is not None or not is_shown(question, kept):
            if qid in given:
                why = (
                    f"the survey ended after '{ended_after}'"
                    if ended_after is not None
                    else "not shown: its show_if does not hold for these answers"
                )
                errors.append(FieldError(here, why))
            else:
                dropped.append(qid)
            continue
        value = merged[qid]
        if qid in given:
            if gap is not None:
                errors.append(FieldError(here, f"answered while the earlier question '{gap}' is not"))
                continue
            result = parse_structured(question, value, locale)
            if isinstance(result, Invalid):
                errors.append(FieldError(here, f"invalid answer ({result.reason}): {result.reprompt}"))
                continue
            value = result.value
        kept[qid] = value
        if ends_after(question, kept):
            ended_after = qid
    return Settled(kept, dropped, errors)
