"""Renderings of one definition for the three channels, in the customer's locale.

- **SMS** (`render_sms`, `render_sms_thank_you`): one message per question, text composed by `sms.py`,
  typographic punctuation replaced for GSM-7 (`gsm.to_gsm`), with its encoding and segment count.
- **Web** (`render_web`, `render_web_survey`): what a server-rendered mobile page needs — one question at a
  time following the flow engine (works with branching, no JavaScript), or the whole survey on one page.
- **App** (`render_app`): a self-describing JSON form for native apps.

Every function takes the locale the customer wants (a tag, or a list by preference, or None) and picks an offered
one (`locales.pick_locale`); the result says which. All views share `QuestionView`, so the web page and the app
describe a question identically. The definition is assumed valid (`validate.ensure_valid`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import msgspec

from questionnaires.flow import Answers, End, next_step
from questionnaires.gsm import Encoding, measure, to_gsm
from questionnaires.locales import definition_locales, pick_locale, resolve
from questionnaires.messages import catalog
from questionnaires.model import (
    Csat,
    Definition,
    Display,
    FreeText,
    MultiChoice,
    Number,
    Question,
    QuestionType,
    Rating,
    SingleChoice,
    YesNo,
    question_index,
    question_type,
    scale_range,
)
from questionnaires.sms import question_text, thank_you_text

Wanted = str | Sequence[str] | None
InputKind = Literal["scale", "single_choice", "multi_choice", "yes_no", "text", "number"]


class SmsMessage(msgspec.Struct, frozen=True):
    text: str
    locale: str
    encoding: Encoding
    segments: int
    units: int
    """Septets (GSM-7) or UTF-16 code units (UCS-2)."""


class ScaleView(msgspec.Struct, frozen=True):
    min: int
    max: int
    points: list[int]
    min_label: str | None
    max_label: str | None
    display: Display


class OptionView(msgspec.Struct, frozen=True):
    code: str
    """What the form posts back (yes/no questions: "yes" and "no")."""
    label: str
    ends_survey: bool = False


class QuestionView(msgspec.Struct, frozen=True, kw_only=True):
    """One question, localized, with everything needed to draw its input and check it client-side."""

    id: str
    index: int
    type: QuestionType
    input: InputKind
    text: str
    required: bool
    scale: ScaleView | None = None
    options: list[OptionView] | None = None
    min_selections: int | None = None
    max_selections: int | None = None
    max_length: int | None = None
    min: float | None = None
    """Number questions: lowest accepted value."""
    max: float | None = None
    integer: bool | None = None
    show_if: dict[str, Any] | None = None
    """The branching condition, in the condition language, for clients that evaluate it themselves."""
    end_if: dict[str, Any] | None = None


class Labels(msgspec.Struct, frozen=True):
    """Button and control labels in the page's language."""

    submit: str
    next: str
    skip: str
    yes: str
    no: str


class Progress(msgspec.Struct, frozen=True):
    position: int
    total: int
    label: str
    """E.g. "2 of 3" / "2 von 3"."""


class WebPage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of the one-question-at-a-time web survey: the next question, or the end."""

    key: str
    locale: str
    title: str
    intro: str | None
    """Only on the first question's page."""
    question: QuestionView | None
    progress: Progress | None
    done: bool
    end_reason: Literal["completed", "ended_early"] | None
    thank_you: str | None
    """Only when done."""
    labels: Labels


class WebSurvey(msgspec.Struct, frozen=True, kw_only=True):
    """The whole survey on one page. With ``branching`` the page must hide questions by ``show_if`` (or use
    `render_web` instead)."""

    key: str
    locale: str
    title: str
    intro: str | None
    questions: list[QuestionView]
    thank_you: str
    branching: bool
    labels: Labels


class AppForm(msgspec.Struct, frozen=True, kw_only=True):
    """A localized form for native apps.

    ``flow`` tells the app how to proceed: ``linear`` — ask every question in order; ``branching`` — either
    evaluate ``show_if``/``end_if`` and ``ends_survey`` itself (the condition language is documented), or post
    each answer and ask the server for the next question.
    """

    key: str
    version: int | None = None
    """Filled in by the server: the stored version this form renders."""
    locale: str
    locales: list[str]
    title: str
    intro: str | None
    thank_you: str
    questions: list[QuestionView]
    flow: Literal["linear", "branching"]


def _question(definition: Definition, question_id: str) -> Question:
    index = question_index(definition, question_id)
    if index is None:
        raise ValueError(f"no question '{question_id}' in '{definition.key}'")
    return definition.questions[index]


def render_sms(definition: Definition, question_id: str, wanted: Wanted, *, intro: bool = False) -> SmsMessage:
    """The SMS asking `question_id`; with `intro`, the definition's intro goes first (the first message)."""
    locale = pick_locale(definition, wanted)
    text = question_text(definition, _question(definition, question_id), locale, intro=intro)
    return sms_message(text, locale)


def render_sms_thank_you(definition: Definition, wanted: Wanted) -> SmsMessage:
    """The closing SMS."""
    locale = pick_locale(definition, wanted)
    return sms_message(thank_you_text(definition, locale), locale)


def render_link_sms(definition: Definition, wanted: Wanted, link: str) -> SmsMessage:
    """The ``link`` style's SMS: a short localized invitation carrying the web survey `link`."""
    locale = pick_locale(definition, wanted)
    text = catalog(locale).link_invite.format(
        title=resolve(definition.title, locale, definition.default_locale), link=link
    )
    return sms_message(text, locale)


def render_push(definition: Definition, wanted: Wanted) -> tuple[str, str, str]:
    """A push notification's (title, body, locale)."""
    locale = pick_locale(definition, wanted)
    return resolve(definition.title, locale, definition.default_locale), catalog(locale).push_invite, locale


def sms_message(text: str, locale: str) -> SmsMessage:
    """Any text lxt sends by SMS (e.g. a re-prompt), made GSM-7-friendly and measured."""
    text = to_gsm(text)
    size = measure(text)
    return SmsMessage(text, locale, size.encoding, size.segments, size.units)


def question_view(definition: Definition, index: int, locale: str) -> QuestionView:
    """`QuestionView` of the question at `index`, in `locale` (an offered locale)."""
    question = definition.questions[index]
    default = definition.default_locale
    cat = catalog(locale)

    def text(value: Any) -> str:
        return resolve(value, locale, default)

    common: dict[str, Any] = {
        "id": question.id,
        "index": index,
        "type": question_type(question),
        "text": text(question.text),
        "required": question.required,
        "show_if": question.show_if,
        "end_if": question.end_if,
    }
    scale = scale_range(question)
    if scale is not None:
        low, high = getattr(question, "min_label", None), getattr(question, "max_label", None)
        display = question.display if isinstance(question, Rating | Csat) else "numbers"
        view = ScaleView(
            min=scale[0],
            max=scale[1],
            points=list(range(scale[0], scale[1] + 1)),
            min_label=None if low is None else text(low),
            max_label=None if high is None else text(high),
            display=display,
        )
        return QuestionView(input="scale", scale=view, **common)
    if isinstance(question, SingleChoice | MultiChoice):
        options = [OptionView(o.code, text(o.label), o.ends_survey) for o in question.options]
        if isinstance(question, SingleChoice):
            return QuestionView(input="single_choice", options=options, **common)
        return QuestionView(
            input="multi_choice",
            options=options,
            min_selections=question.min_selections,
            max_selections=question.max_selections or len(options),
            **common,
        )
    if isinstance(question, YesNo):
        options = [OptionView("yes", cat.yes), OptionView("no", cat.no)]
        return QuestionView(input="yes_no", options=options, **common)
    if isinstance(question, Number):
        return QuestionView(input="number", min=question.min, max=question.max, integer=question.integer, **common)
    assert isinstance(question, FreeText)
    return QuestionView(input="text", max_length=question.max_length, **common)


def _labels(locale: str) -> Labels:
    cat = catalog(locale)
    return Labels(submit=cat.submit, next=cat.next, skip=cat.skip, yes=cat.yes, no=cat.no)


def _branching(definition: Definition) -> bool:
    return any(
        q.show_if is not None or q.end_if is not None or any(o.ends_survey for o in getattr(q, "options", ()))
        for q in definition.questions
    )


def render_web(definition: Definition, wanted: Wanted, answers: Answers) -> WebPage:
    """The page for the customer's next step given the answers so far: a question with progress, or thanks."""
    locale = pick_locale(definition, wanted)
    default = definition.default_locale
    step = next_step(definition, answers)
    common: dict[str, Any] = {
        "key": definition.key,
        "locale": locale,
        "title": resolve(definition.title, locale, default),
        "labels": _labels(locale),
    }
    if isinstance(step, End):
        return WebPage(
            intro=None,
            question=None,
            progress=None,
            done=True,
            end_reason=step.reason,
            thank_you=thank_you_text(definition, locale),
            **common,
        )
    intro = definition.intro if step.position == 1 else None
    label = catalog(locale).progress.format(position=step.position, total=step.total)
    return WebPage(
        intro=None if intro is None else resolve(intro, locale, default),
        question=question_view(definition, step.index, locale),
        progress=Progress(step.position, step.total, label),
        done=False,
        end_reason=None,
        thank_you=None,
        **common,
    )


def render_web_survey(definition: Definition, wanted: Wanted) -> WebSurvey:
    """All questions on one page."""
    locale = pick_locale(definition, wanted)
    default = definition.default_locale
    return WebSurvey(
        key=definition.key,
        locale=locale,
        title=resolve(definition.title, locale, default),
        intro=None if definition.intro is None else resolve(definition.intro, locale, default),
        questions=[question_view(definition, i, locale) for i in range(len(definition.questions))],
        thank_you=thank_you_text(definition, locale),
        branching=_branching(definition),
        labels=_labels(locale),
    )


def render_app(definition: Definition, wanted: Wanted, *, version: int | None = None) -> AppForm:
    """The app form in the customer's locale; `version` is the stored version's number, if known."""
    locale = pick_locale(definition, wanted)
    default = definition.default_locale
    return AppForm(
        key=definition.key,
        version=version,
        locale=locale,
        locales=definition_locales(definition),
        title=resolve(definition.title, locale, default),
        intro=None if definition.intro is None else resolve(definition.intro, locale, default),
        thank_you=thank_you_text(definition, locale),
        questions=[question_view(definition, i, locale) for i in range(len(definition.questions))],
        flow="branching" if _branching(definition) else "linear",
    )
