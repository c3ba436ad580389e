"""The web survey page's logic between the HTTP handlers (`server.routes.survey`) and the templates: which
question a request shows, what a posted form answers, and what the template is given. No I/O.

One question per page, in the flow's order (`questionnaires.flow`). ``GET /s/{token}`` shows the next question
the flow asks, so a customer who left comes back where they stopped. ``?q=<id>`` shows a question already
answered, prefilled, to change it ("Back"); only questions the flow asked so far can be shown that way.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from questionnaires.flow import End, Step, is_shown, next_step
from questionnaires.locales import resolve
from questionnaires.messages import Catalog, catalog, format_number
from questionnaires.model import AnswerValue, Definition, FreeText, MultiChoice, Question
from questionnaires.parse import Invalid, parse_form
from questionnaires.render import QuestionView, question_view
from questionnaires.sms import thank_you_text
from responses.answers import Answering, Given
from server.pages import chrome

# Messaging apps fetch a link as it arrives to show its preview: such a fetch is no customer opening the survey.
# (iMessage fetches as facebookexternalhit and Twitterbot, Signal and WhatsApp as WhatsApp.) Only fetchers are
# named: apps whose in-app browsers carry their name (Snapchat, Pinterest, Outlook) are customers reading.
_LINK_PREVIEWS = re.compile(
    r"facebookexternalhit|facebot|twitterbot|whatsapp/|telegrambot|slackbot|slack-imgproxy|discordbot|linkedinbot|"
    r"skypeuripreview|redditbot|embedly|iframely|vkshare|googlebot|bingbot|applebot|google-pagerenderer|bitlybot",
    re.IGNORECASE,
)


def is_link_preview(user_agent: str) -> bool:
    """Whether a request comes from an app building a link preview (it must not mark the survey opened)."""
    return _LINK_PREVIEWS.search(user_agent) is not None


FACES = 5
"""Emoji ratings draw one of five faces for each point, from the scale's low end to its high end."""


def revisit(definition: Definition, answers: dict[str, AnswerValue], question_id: str) -> Step | None:
    """The step showing the answered question `question_id` again, numbered as it was asked; None unless the
    flow has asked it (answered, shown, and no unanswered question before it) and is still going."""
    current = next_step(definition, answers)
    if isinstance(current, End):
        return None
    position = 1
    for index, question in enumerate(definition.questions):
        if not is_shown(question, answers):
            continue
        if question.id not in answers:
            return None
        if question.id == question_id:
            return Step(question, index, position, current.total)
        position += 1
    return None


def previous(definition: Definition, answers: dict[str, AnswerValue], index: int) -> str | None:
    """The id of the answered question asked just before the question at `index` ("Back"), if any."""
    for question in reversed(definition.questions[:index]):
        if is_shown(question, answers) and question.id in answers:
            return question.id
    return None


def as_form(value: AnswerValue) -> list[str]:
    """A stored answer as the values its form posts, to show it selected or filled in."""
    if value is None:
        return []
    if isinstance(value, bool):
        return ["yes" if value else "no"]
    if isinstance(value, list):
        return value
    if isinstance(value, float):
        return [format_number(value)]
    return [str(value)]


def read_answer(question: Question, posted: list[str], skip: bool, locale: str) -> Given | str:
    """What a posted form answers to `question`, or the message to show the customer in their language."""
    result = parse_form(question, [] if skip else posted, locale)
    if isinstance(result, Invalid):
        return message(question, result, catalog(locale))
    return Given(question.id, result.value, _raw([] if skip else posted))


def message(question: Question, invalid: Invalid, texts: Catalog) -> str:
    """The error shown under a question. The re-prompts of the parsers are written for SMS replies ("reply 1
    for Yes"); on a page whose inputs offer only valid choices, what can go wrong is leaving it unanswered."""
    if invalid.reason in ("too_few", "too_many", "too_long"):
        return invalid.reprompt
    if invalid.reason in ("not_a_number", "not_integer", "out_of_range") and not isinstance(
        question, MultiChoice | FreeText
    ):
        return invalid.reprompt
    return texts.required


def _raw(posted: list[str]) -> str:
    # What the customer sent, as stored beside the answer: PostgreSQL text holds no NUL, UTF-8 no lone surrogate.
    text = "\n".join(posted)
    return "".join(c for c in text if c != "\x00" and not "\ud800" <= c <= "\udfff")


class Point(msgspec.Struct, frozen=True):
    """One point of a scale as the page draws it."""

    value: str
    label: str
    """What the point shows: its number; nothing for stars and faces, which are drawn."""
    hidden: str
    """The rest of its accessible name, for screen readers only: "4 of 5 stars", or the end label at an end."""
    face: int | None = None
    """Emoji ratings: which of the `FACES` faces, 0 (lowest) to 4."""


def points(view: QuestionView, texts: Catalog) -> list[Point]:
    scale = view.scale
    assert scale is not None
    found = []
    for n in scale.points:
        end = scale.min_label if n == scale.min else scale.max_label if n == scale.max else None
        suffix = f": {end}" if end else ""
        if scale.display == "stars":
            found.append(Point(str(n), "", texts.stars.format(n=n, max=scale.max)))
        elif scale.display == "emoji":
            face = round((n - scale.min) / (scale.max - scale.min) * (FACES - 1))
            found.append(Point(str(n), "", texts.scale_point.format(n=n, max=scale.max) + suffix, face))
        else:
            found.append(Point(str(n), str(n), suffix))
    return found


def hint(view: QuestionView, texts: Catalog) -> str | None:
    """What a multi-choice or number question accepts, shown under it."""
    if view.input == "number":
        low, high = view.min, view.max
        if low is not None and high is not None:
            return texts.number_range.format(min=format_number(low), max=format_number(high))
        if low is not None:
            return texts.number_min.format(min=format_number(low))
        return None if high is None else texts.number_max.format(max=format_number(high))
    if view.input != "multi_choice":
        return None
    low, high = view.min_selections or 1, view.max_selections or len(view.options or [])
    if high < len(view.options or []):
        return texts.choose_up_to.format(max=high) if low <= 1 else texts.choose_from_to.format(min=low, max=high)
    return texts.choose_any if low <= 1 else texts.choose_from_to.format(min=low, max=high)


def inputmode(view: QuestionView) -> str | None:
    """The keyboard a number question wants: phones' numeric pads have no minus sign, so only without negatives."""
    if view.input != "number" or view.min is None or view.min < 0:
        return None
    return "numeric" if view.integer else "decimal"


def question_page(
    answering: Answering, step: Step, *, values: list[str] | None = None, error: str | None = None
) -> dict[str, Any]:
    """The template context of the page asking `step`, filled with `values` (what was just posted) or else with
    the stored answer."""
    definition, locale = answering.definition, answering.locale
    texts = catalog(locale)
    view = question_view(definition, step.index, locale)
    current = values if values is not None else as_form(answering.answers.get(step.question.id))
    back = previous(definition, answering.answers, step.index)
    text = current[0] if current else ""
    hint_text = hint(view, texts)
    intro = definition.intro if step.position == 1 else None
    return {
        **chrome(locale),
        "title": resolve(definition.title, locale, definition.default_locale),
        "intro": None if intro is None else resolve(intro, locale, definition.default_locale),
        "q": view,
        "position": step.position,
        "total": step.total,
        "progress": texts.progress.format(position=step.position, total=step.total),
        "points": points(view, texts) if view.scale is not None else [],
        "hint": hint_text,
        "describedby": " ".join(n for n, shown in (("hint", hint_text), ("error", error)) if shown),
        "selected": set(current),
        "text": text,
        "counter": texts.characters.format(count=len(text), max=view.max_length) if view.max_length else "",
        "inputmode": inputmode(view),
        "error": error,
        "back": None if back is None else f"?q={back}",
        "last": step.position == step.total,
    }


def thanks_page(answering: Answering) -> dict[str, Any]:
    definition, locale = answering.definition, answering.locale
    return {
        **chrome(locale),
        "title": resolve(definition.title, locale, definition.default_locale),
        "thank_you": thank_you_text(definition, locale),
    }
