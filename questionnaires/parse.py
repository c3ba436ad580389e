"""Answer parsing: from an SMS reply, a JSON value (app, web API) or an HTML form post to a normalized answer.

Every parser returns `Answer` (value normalized: int for scales, option code for single choice, sorted codes
for multi choice, bool for yes/no, str for text, int — or float where ``integer: false`` — for number; None
for a skipped optional question) or `Invalid` with a machine ``reason`` and a ``reprompt`` in the customer's
language saying what is expected. Parsers never raise, whatever they are given; long input is refused first.

SMS replies are read generously, because people type on phones: " 9 ", "9/10", "9!", "nine"/"neun"/"neuf",
"９" or "9️⃣"; "y", "ja", "oui", "nein"; option numbers, codes or labels ("2", "friendly", "Freundlich");
"1,3", "1 3", "1 and 3" or "13" (when there are at most 9 options) for several options. A reply of a skip
word ("skip", "weiter", "passer", "saltar", "overslaan") skips an optional question; on a required one it
re-prompts. Structured values are read strictly: the JSON type must match.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from itertools import islice
from typing import Literal

import msgspec

from questionnaires.lexicon import (
    DECIMAL,
    INTEGER,
    LENIENT_CHARS,
    MAX_NUMBER_CHARS,
    MAX_REPLY_CHARS,
    NO_WORDS,
    SKIP_WORDS,
    YES_WORDS,
    fold,
    lone_number,
    read_int,
    read_number,
)
from questionnaires.messages import Catalog, catalog, format_number
from questionnaires.model import (
    MAX_OPTIONS,
    AnswerValue,
    ChoiceQuestion,
    FreeText,
    MultiChoice,
    Number,
    Question,
    SingleChoice,
    YesNo,
    scale_range,
)

InvalidReason = Literal[
    "empty",
    "too_long",
    "wrong_type",
    "not_a_number",
    "not_integer",
    "out_of_range",
    "unknown_option",
    "duplicate_option",
    "too_few",
    "too_many",
    "not_yes_no",
    "required",
]


class Answer(msgspec.Struct, frozen=True):
    value: AnswerValue


class Invalid(msgspec.Struct, frozen=True):
    reason: InvalidReason
    reprompt: str
    """What to tell the customer, in their language: what went wrong or what is expected."""


ParseResult = Answer | Invalid

MAX_NUMBER = 10**15
"""Numbers beyond ±10¹⁵ are no survey answer; refusing them keeps every accepted value exact as a float."""
_FRACTION = re.compile(r"(\d+)\s*(?:/|of|out of|von|sur|de|van)\s*(\d+)")
_LIST_SEPARATORS = re.compile(r"\s*(?:[,;/+&\n]|\band\b|\bund\b|\bet\b|\ben\b)\s*")
_CONNECTORS = frozenset({"and", "und", "et", "en", "y", "&", "+"})


def expectation(question: Question, locale: str) -> str:
    """What an answer to `question` must look like, in `locale`'s language (the base of every re-prompt)."""
    return _expect(question, catalog(locale))


def _expect(question: Question, cat: Catalog) -> str:
    scale = scale_range(question)
    if scale is not None:
        return cat.expect_range.format(min=scale[0], max=scale[1])
    if isinstance(question, SingleChoice):
        return cat.expect_option.format(n=len(question.options))
    if isinstance(question, MultiChoice):
        return cat.expect_options.format(n=len(question.options))
    if isinstance(question, YesNo):
        return cat.expect_yes_no
    if isinstance(question, Number):
        lo, hi = question.min, question.max
        if lo is not None and hi is not None:
            return cat.expect_range.format(min=format_number(lo), max=format_number(hi))
        if lo is not None:
            return cat.expect_number_min.format(min=format_number(lo))
        if hi is not None:
            return cat.expect_number_max.format(max=format_number(hi))
        return cat.expect_whole_number if question.integer else cat.expect_number
    return cat.expect_text


def _invalid(reason: InvalidReason, question: Question, cat: Catalog) -> Invalid:
    return Invalid(reason=reason, reprompt=_expect(question, cat))


def _skip(question: Question, cat: Catalog) -> ParseResult:
    if question.required:
        return Invalid(reason="required", reprompt=f"{cat.required} {_expect(question, cat)}")
    return Answer(value=None)


# --- SMS ---------------------------------------------------------------------------------------------------


def parse_sms(question: Question, text: str, locale: str) -> ParseResult:
    """Read an SMS reply to `question`; `locale` is the conversation's, for the re-prompt."""
    cat = catalog(locale)
    if not isinstance(text, str):
        return _invalid("wrong_type", question, cat)
    if len(text) > MAX_REPLY_CHARS:
        if isinstance(question, FreeText):
            return Invalid(reason="too_long", reprompt=cat.too_long.format(max=question.max_length))
        return _invalid("too_long", question, cat)
    if isinstance(question, FreeText):
        return _text(question, text, cat)
    folded = fold(text)
    if not folded:
        return _invalid("empty", question, cat)
    if isinstance(question, SingleChoice | MultiChoice):
        return _choice_sms(question, folded, cat)
    if folded in SKIP_WORDS:
        return _skip(question, cat)
    if isinstance(question, YesNo):
        return _yes_no_sms(question, folded, cat)
    if isinstance(question, Number):
        return _number_sms(question, folded, cat)
    return _scale_sms(question, folded, cat)


def _clean_text(text: str) -> str:
    # Control characters (NUL above all) cannot be stored in PostgreSQL text and have no place in an answer;
    # lone surrogates cannot be encoded as UTF-8.
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n"))
    kept = (c for c in text if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cs"))
    return "".join(kept).strip()


def _text(question: FreeText, text: str, cat: Catalog) -> ParseResult:
    too_long = Invalid(reason="too_long", reprompt=cat.too_long.format(max=question.max_length))
    if len(text) > 4 * question.max_length + 100:
        return too_long
    cleaned = _clean_text(text)
    if not cleaned:
        return _invalid("empty", question, cat)
    if len(cleaned) <= 20 and fold(cleaned) in SKIP_WORDS:
        return _skip(question, cat)
    if len(cleaned) > question.max_length:
        return too_long
    return Answer(value=cleaned)


def _scale_sms(question: Question, folded: str, cat: Catalog) -> ParseResult:
    lo, hi = scale_range(question) or (0, 10)
    value = read_int(folded)
    if value is None:
        fraction = _FRACTION.fullmatch(folded)
        if fraction:
            if int(fraction.group(2)) != hi:
                return _invalid("out_of_range", question, cat)
            value = int(fraction.group(1)) if len(fraction.group(1)) <= MAX_NUMBER_CHARS else hi + 1
    if value is None:
        if DECIMAL.fullmatch(folded):
            return _invalid("not_integer", question, cat)
        token = lone_number(folded)
        if token is None:
            return _invalid("not_a_number", question, cat)
        if not INTEGER.fullmatch(token):
            return _invalid("not_integer", question, cat)
        value = int(token)
    if not lo <= value <= hi:
        return _invalid("out_of_range", question, cat)
    return Answer(value=value)


def _number_sms(question: Number, folded: str, cat: Catalog) -> ParseResult:
    value = read_number(folded)
    if value is None:
        token = lone_number(folded)
        value = None if token is None else read_number(token)
    if value is None:
        return _invalid("not_a_number", question, cat)
    return _number_value(question, value, cat)


def _number_value(question: Number, value: int | float, cat: Catalog) -> ParseResult:
    if abs(value) > MAX_NUMBER:
        return _invalid("out_of_range", question, cat)
    if isinstance(value, float):
        if not math.isfinite(value):
            return _invalid("not_a_number", question, cat)
        if question.integer:
            if not value.is_integer():
                return _invalid("not_integer", question, cat)
            value = int(value)
    if (question.min is not None and value < question.min) or (question.max is not None and value > question.max):
        return _invalid("out_of_range", question, cat)
    return Answer(value=value if question.integer else float(value))


def _yes_no_sms(question: YesNo, folded: str, cat: Catalog) -> ParseResult:
    if folded == "1" or folded in YES_WORDS:
        return Answer(value=True)
    if folded == "2" or folded in NO_WORDS:
        return Answer(value=False)
    # "yes please", "no, all fine": a full yes/no word first. Single letters only count alone ("y" is also
    # Spanish "and").
    first = re.split(r"[\s,.;:!?]+", folded[:LENIENT_CHARS], maxsplit=1)[0]
    if len(first) > 1 and first in YES_WORDS:
        return Answer(value=True)
    if len(first) > 1 and first in NO_WORDS:
        return Answer(value=False)
    return _invalid("not_yes_no", question, cat)


def _option_names(question: ChoiceQuestion) -> dict[str, str]:
    """Folded code and every label translation → code; the first option wins a clash."""
    names: dict[str, str] = {}
    for option in question.options:
        labels = [option.label] if isinstance(option.label, str) else list(option.label.values())
        for name in [option.code, *labels]:
            names.setdefault(fold(name), option.code)
    return names


def _choice_sms(question: ChoiceQuestion, folded: str, cat: Catalog) -> ParseResult:
    names = _option_names(question)
    codes = [o.code for o in question.options]
    if folded in names:
        return _choices(question, [names[folded]], cat)
    if folded in SKIP_WORDS:
        return _skip(question, cat)
    index = read_int(folded)
    if index is not None:
        if 1 <= index <= len(codes):
            return _choices(question, [codes[index - 1]], cat)
        if isinstance(question, SingleChoice):
            return _invalid("unknown_option", question, cat)
    if isinstance(question, SingleChoice):
        token = lone_number(folded)
        if token is not None and INTEGER.fullmatch(token) and 1 <= int(token) <= len(codes):
            return Answer(value=codes[int(token) - 1])
        return _invalid("unknown_option", question, cat)
    if len(folded) > 4 * LENIENT_CHARS:
        return _invalid("unknown_option", question, cat)
    chosen: list[str] = []
    for part in _LIST_SEPARATORS.split(folded):
        part = part.strip()
        if not part or part in _CONNECTORS:
            continue
        if part in names:
            chosen.append(names[part])
            continue
        for token in part.split():
            picked = _pick(token, names, codes)
            if picked is None:
                return _invalid("unknown_option", question, cat)
            chosen.extend(picked)
    return _choices(question, chosen, cat)


def _pick(token: str, names: dict[str, str], codes: list[str]) -> list[str] | None:
    """One token of a multi-choice reply: a code, label word, option number, or digits run together ("13")."""
    if token in _CONNECTORS:
        return []
    if token in names:
        return [names[token]]
    index = read_int(token)
    if index is not None and 1 <= index <= len(codes):
        return [codes[index - 1]]
    if token.isdigit() and len(codes) <= 9 and len(token) <= len(codes):
        digits = [int(d) for d in token]
        if all(1 <= d <= len(codes) for d in digits):
            return [codes[d - 1] for d in digits]
    return None


def _choices(question: ChoiceQuestion, chosen: list[str], cat: Catalog) -> ParseResult:
    if isinstance(question, SingleChoice):
        return Answer(value=chosen[0])
    picked = sorted(set(chosen))
    if not picked:
        return _invalid("empty", question, cat)
    if len(picked) < question.min_selections:
        return Invalid(reason="too_few", reprompt=cat.too_few.format(min=question.min_selections))
    limit = question.max_selections
    if limit is not None and len(picked) > limit:
        return Invalid(reason="too_many", reprompt=cat.too_many.format(max=limit))
    return Answer(value=picked)


# --- structured (app JSON, web API) ------------------------------------------------------------------------


def parse_structured(question: Question, value: object, locale: str) -> ParseResult:
    """Check a JSON answer strictly: the type must match (a scale takes an int, not "9" or 9.5 or true).

    null skips an optional question, as does "" for a text question.
    """
    cat = catalog(locale)
    if value is None:
        return _skip(question, cat)
    if isinstance(question, FreeText):
        if not isinstance(value, str):
            return _invalid("wrong_type", question, cat)
        result = _text(question, value, cat)
        if isinstance(result, Invalid) and result.reason == "empty" and not question.required:
            return Answer(value=None)
        return result
    if isinstance(question, SingleChoice):
        if not isinstance(value, str):
            return _invalid("wrong_type", question, cat)
        if value not in {o.code for o in question.options}:
            return _invalid("unknown_option", question, cat)
        return Answer(value=value)
    if isinstance(question, MultiChoice):
        return _multi_structured(question, value, cat)
    if isinstance(question, YesNo):
        return Answer(value=value) if isinstance(value, bool) else _invalid("wrong_type", question, cat)
    if isinstance(question, Number):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return _invalid("wrong_type", question, cat)
        return _number_value(question, value, cat)
    lo, hi = scale_range(question) or (0, 10)
    if isinstance(value, bool) or not isinstance(value, int):
        return _invalid("wrong_type", question, cat)
    if not lo <= value <= hi:
        return _invalid("out_of_range", question, cat)
    return Answer(value=value)


def _multi_structured(question: MultiChoice, value: object, cat: Catalog) -> ParseResult:
    if not isinstance(value, list):
        return _invalid("wrong_type", question, cat)
    if len(value) > len(question.options):
        return _invalid("too_many", question, cat)
    if not all(isinstance(v, str) for v in value):
        return _invalid("wrong_type", question, cat)
    codes = {o.code for o in question.options}
    if any(v not in codes for v in value):
        return _invalid("unknown_option", question, cat)
    if len(set(value)) != len(value):
        return _invalid("duplicate_option", question, cat)
    return _choices(question, list(value), cat)


# --- HTML forms ----------------------------------------------------------------------------------------------


def parse_form(question: Question, values: Sequence[str], locale: str) -> ParseResult:
    """Read an HTML form post (every field a string; a multi choice may repeat its field).

    Blank means skipped. Converts the strings the rendered web page sends (`render.render_web`: scale points,
    option codes, "yes"/"no", free text, a number) and then checks them like `parse_structured`.
    """
    cat = catalog(locale)
    if isinstance(values, str):
        values = [values]
    strings = [v for v in islice(values, MAX_OPTIONS + 1) if isinstance(v, str)]
    if isinstance(question, MultiChoice):
        picked = [v.strip() for v in strings if v.strip()]
        return parse_structured(question, picked or None, locale)
    raw = strings[0] if strings else ""
    if isinstance(question, FreeText):
        return parse_structured(question, raw, locale)
    raw = raw.strip()
    if not raw:
        return _skip(question, cat)
    if len(raw) > MAX_REPLY_CHARS:
        return _invalid("too_long", question, cat)
    if isinstance(question, SingleChoice):
        return parse_structured(question, raw, locale)
    if isinstance(question, YesNo):
        answer = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}.get(raw.lower())
        return _invalid("not_yes_no", question, cat) if answer is None else Answer(value=answer)
    number = read_number(fold(raw))
    if number is None:
        return _invalid("not_a_number", question, cat)
    if isinstance(question, Number):
        return _number_value(question, number, cat)
    if isinstance(number, float):
        return _invalid("not_integer", question, cat)
    return parse_structured(question, number, locale)
