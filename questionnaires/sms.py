"""How a question reads as an SMS: its text, numbered options, and a reply instruction in the customer's language.

Layout (lines)::

    <intro>            (first message only, then an empty line)
    <question text>
    1 <option>         (choice questions)
    2 <option>
    <instruction>[, or SKIP to skip]

Scales show numbers whatever the ``display`` hint: an SMS has no stars. Yes/no is answered 1/2 (words work too),
which reads the same in every language.
"""

from __future__ import annotations

from questionnaires.locales import resolve
from questionnaires.messages import Catalog, catalog, format_number
from questionnaires.model import (
    Definition,
    FreeText,
    MultiChoice,
    Number,
    Question,
    SingleChoice,
    YesNo,
    scale_range,
)


def instruction(question: Question, locale: str, default_locale: str) -> str:
    """The reply instruction line for `question`, e.g. "Reply 0-10 (0 = Not likely, 10 = Very likely)"."""
    cat = catalog(locale)
    line = _instruction(question, cat, locale, default_locale)
    if not question.required:
        line += cat.or_skip.format(word=cat.skip_word)
    return line


def _instruction(question: Question, cat: Catalog, locale: str, default_locale: str) -> str:
    scale = scale_range(question)
    if scale is not None:
        line = cat.reply_range.format(min=scale[0], max=scale[1])
        low, high = getattr(question, "min_label", None), getattr(question, "max_label", None)
        ends = []
        if low is not None:
            ends.append(f"{scale[0]} = {resolve(low, locale, default_locale)}")
        if high is not None:
            ends.append(f"{scale[1]} = {resolve(high, locale, default_locale)}")
        return f"{line} ({', '.join(ends)})" if ends else line
    if isinstance(question, YesNo):
        return cat.reply_yes_no
    if isinstance(question, SingleChoice):
        return cat.reply_range.format(min=1, max=len(question.options))
    if isinstance(question, MultiChoice):
        limit = question.max_selections
        if limit is not None and limit < len(question.options):
            return f"{cat.reply_multi} ({cat.up_to.format(max=limit)})"
        return cat.reply_multi
    if isinstance(question, Number):
        if question.min is not None and question.max is not None:
            return cat.reply_number_range.format(min=format_number(question.min), max=format_number(question.max))
        return cat.reply_number
    assert isinstance(question, FreeText)
    return cat.reply_text


def question_text(definition: Definition, question: Question, locale: str, *, intro: bool = False) -> str:
    """The whole SMS for `question` in `locale` (an offered locale), before GSM-7 transliteration."""
    default = definition.default_locale
    lines: list[str] = []
    if intro and definition.intro is not None:
        lines += [resolve(definition.intro, locale, default), ""]
    lines.append(resolve(question.text, locale, default))
    if isinstance(question, SingleChoice | MultiChoice):
        lines += [f"{n} {resolve(o.label, locale, default)}" for n, o in enumerate(question.options, 1)]
    lines.append(instruction(question, locale, default))
    return "\n".join(lines)


def thank_you_text(definition: Definition, locale: str) -> str:
    """The closing SMS: the definition's thank-you, or a generic one in the customer's language."""
    if definition.thank_you is not None:
        return resolve(definition.thank_you, locale, definition.default_locale)
    return catalog(locale).thank_you
