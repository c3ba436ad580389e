"""Property tests: parsing never raises, whatever arrives, and what it accepts is a valid answer."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from questionnaires.lexicon import is_stop_keyword
from questionnaires.model import (
    Ces,
    Csat,
    FreeText,
    MultiChoice,
    Nps,
    Number,
    Option,
    Question,
    Rating,
    SingleChoice,
    YesNo,
)
from questionnaires.parse import Answer, Invalid, parse_form, parse_sms, parse_structured

OPTIONS = [
    Option(code="fast", label={"en": "Fast", "de": "Schnell"}),
    Option(code="friendly", label={"en": "Friendly", "de": "Freundlich"}),
    Option(code="other", label={"en": "Something else", "de": "Etwas anderes"}),
]
QUESTIONS: list[Question] = [
    Nps(id="nps", text="t"),
    Rating(id="rating", text="t", min=0, max=6, required=False),
    Ces(id="ces", text="t"),
    Csat(id="csat", text="t", required=False),
    SingleChoice(id="single", text="t", options=OPTIONS),
    MultiChoice(id="multi", text="t", options=OPTIONS, max_selections=2, required=False),
    YesNo(id="yes_no", text="t"),
    FreeText(id="text", text="t", max_length=200),
    Number(id="number", text="t", min=-5, max=1e6, integer=False, required=False),
    Number(id="count", text="t"),
]
LOCALES = st.sampled_from(["en", "de", "de-CH", "fr", "es", "nl", "it", "xx-YY", ""])
PROPERTY = settings(max_examples=120, deadline=None, database=None)

# Text that looks like replies often enough to reach every branch: digits, words, separators, odd characters.
reply_like = st.lists(
    st.sampled_from(
        ["9", "10", "1", "3", ",", " ", "/", "yes", "nein", "skip", "fast", "and", ".", "-", "９", "\u20e3"]
    )
    | st.text(max_size=4),
    max_size=8,
).map("".join)
any_text = (
    st.text() | reply_like | st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "Nd"]))
)
huge_text = st.sampled_from(["9", "1,", " ", "\x00", "ü", "😀", "nine ", "1 and "]).flatmap(
    lambda unit: st.integers(50_000, 100_000).map(lambda n: unit * (n // len(unit)))
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=12,
)


def assert_consistent(question: Question, result: Answer | Invalid) -> None:
    """An accepted SMS or form answer is exactly what the strict JSON parser accepts, too."""
    if isinstance(result, Invalid):
        assert result.reason and result.reprompt
        return
    assert isinstance(result, Answer)
    assert parse_structured(question, result.value, "en") == result


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.id)
@PROPERTY
@given(reply=any_text, locale=LOCALES)
def test_sms_parsing_never_raises(question: Question, reply: str, locale: str) -> None:
    assert_consistent(question, parse_sms(question, reply, locale))


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.id)
@settings(max_examples=10, deadline=None, database=None)
@given(reply=huge_text)
def test_huge_sms_replies_are_refused_quickly(question: Question, reply: str) -> None:
    result = parse_sms(question, reply, "de")
    assert isinstance(result, Invalid)
    assert result.reason == "too_long"


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.id)
@PROPERTY
@given(given_value=json_values, locale=LOCALES)
def test_structured_parsing_never_raises(question: Question, given_value: object, locale: str) -> None:
    assert_consistent(question, parse_structured(question, given_value, locale))


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.id)
@PROPERTY
@given(fields=st.lists(any_text, max_size=4), locale=LOCALES)
def test_form_parsing_never_raises(question: Question, fields: list[str], locale: str) -> None:
    assert_consistent(question, parse_form(question, fields, locale))


@PROPERTY
@given(text=any_text | huge_text)
def test_stop_keyword_detection_never_raises(text: str) -> None:
    assert is_stop_keyword(text) in (True, False)


@PROPERTY
@given(
    score=st.integers(0, 10),
    padding=st.sampled_from(["", " ", "  ", "\n", "\t"]),
    suffix=st.sampled_from(["", "!", ".", "/10"]),
)
def test_any_nps_score_survives_padding_and_punctuation(score: int, padding: str, suffix: str) -> None:
    assert parse_sms(QUESTIONS[0], f"{padding}{score}{suffix}{padding}", "en") == Answer(value=score)
