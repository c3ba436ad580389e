"""Texted codes as people type them, and the replies that explain the format: pure, no database."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from responses.studies import texts as study_texts
from responses.studies.codes import Code, NotACode, normalize, parse_code
from responses.studies.model import StudyIn, validate_study
from tests.responses.studies import study_body

BRANDS = {"B", "C"}
TOUCHPOINTS = {"T", "S"}
BT45 = Code(brand="B", touchpoint="T", positivity=4, persuasiveness=5)


def parse(text: str) -> Code | NotACode:
    return parse_code(text, BRANDS, TOUCHPOINTS)


@pytest.mark.parametrize(
    "text",
    [
        "BT45",
        "bt45",
        "Bt45",
        "b t 4 5",
        "B-T-4-5",
        "bt 45",
        "BT 4 5",
        "B,T,4,5",
        "b.t.4.5",
        "B_T_4_5",
        "B/T/4/5",
        "  BT45  ",
        "BT45.",
        "BT45!",
        "(BT45)",
        "'BT45'",
        "BT45 👍",
        "\tB\nT 4\r\n5",
        "ＢＴ４５",  # full-width, as some keyboards type
        "B – T – 4 – 5",  # dashes a phone may put in
        "B—T—4—5",
    ],
)
def test_a_code_is_read_whatever_its_case_spacing_and_separators(text: str) -> None:
    assert parse(text) == BT45


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CS11", Code(brand="C", touchpoint="S", positivity=1, persuasiveness=1)),
        ("cs 5 5", Code(brand="C", touchpoint="S", positivity=5, persuasiveness=5)),
        ("BS31", Code(brand="B", touchpoint="S", positivity=3, persuasiveness=1)),
    ],
)
def test_every_letter_and_rating_of_the_code_book(text: str, expected: Code) -> None:
    assert parse(text) == expected
    assert isinstance(parse(text), Code) and parse(text).text() == expected.text()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "problem", "letter"),
    [
        ("XT45", "unknown_brand", "X"),
        ("BX45", "unknown_touchpoint", "X"),
        ("BX9", "unknown_touchpoint", "X"),  # wrong shape, but the letter is what a reader notices first
        ("XX45", "unknown_brand", "X"),
        ("TB45", "unknown_brand", "T"),  # swapped letters are not guessed at
        ("BT46", "bad_ratings", None),
        ("BT05", "bad_ratings", None),
        ("BT60", "bad_ratings", None),
        ("BT4", "bad_ratings", None),
        ("BT456", "bad_ratings", None),
        ("BT", "not_a_code", None),
        ("B45", "not_a_code", None),
        ("BTS45", "not_a_code", None),
        ("45BT", "not_a_code", None),
        ("B4T5", "not_a_code", None),
        ("", "not_a_code", None),
        ("   ", "not_a_code", None),
        ("hello", "not_a_code", None),
        ("Thanks, see you!", "not_a_code", None),
        ("BT-4,5x", "not_a_code", None),
        ("BT45" + " " * 40, "not_a_code", None),  # a long text is never a code
        ("ÄT45", "not_a_code", None),
        ("BT٤٥", "not_a_code", None),  # other digits than 0-9 are not ratings
    ],
)
def test_what_is_not_a_code_says_why(text: str, problem: str, letter: str | None) -> None:
    assert parse(text) == NotACode(problem=problem, letter=letter)  # type: ignore[arg-type]


@given(st.text(max_size=60))
def test_parsing_never_raises_and_a_code_it_finds_is_valid(text: str) -> None:
    found = parse(text)
    if isinstance(found, Code):
        assert found.brand in BRANDS and found.touchpoint in TOUCHPOINTS
        assert 1 <= found.positivity <= 5 and 1 <= found.persuasiveness <= 5
        assert normalize(text) == found.text()


def study(**overrides: object) -> StudyIn:
    return validate_study(msgspec.convert(study_body(**overrides), StudyIn))


def test_the_reply_to_an_invalid_code_explains_the_format_with_the_studys_letters() -> None:
    reply = study_texts.invalid_code(study(), "BX9", NotACode(problem="unknown_touchpoint", letter="X"), "en")
    assert reply == (
        "Sorry, 'BX9' isn't a code: X is not a touchpoint letter. Text brand letter, touchpoint letter, then how "
        "positive (1-5) and how persuasive (1-5), e.g. BS45. Brands: B=Bolt, C=Cabco. Touchpoints: S=Store, T=TV ad."
    )


def test_the_reply_is_in_the_participants_language_with_the_studys_help() -> None:
    helped = study(help={"en": "Questions? Call 0800 123.", "de": "Fragen? 0800 123."})
    reply = study_texts.invalid_code(helped, "hallo", NotACode(problem="not_a_code"), "de-AT")
    assert reply.startswith("'hallo' ist leider kein Code. Senden Sie Marken-Buchstabe")
    assert "Marken: B=Bolt, C=Cabco. Kontakte: S=Store, T=TV ad." in reply
    assert reply.endswith("Fragen? 0800 123.")
    # A language without a catalog gets English; the study's texts fall back the same way.
    assert study_texts.invalid_code(helped, "x", NotACode(problem="not_a_code"), "fi").endswith("Call 0800 123.")


def test_a_long_text_is_quoted_short() -> None:
    reply = study_texts.invalid_code(
        study(), "I saw a Bolt ad on TV this morning", NotACode(problem="not_a_code"), None
    )
    assert reply.startswith("Sorry, 'I saw a Bolt ad on…' isn't a code.")


def test_the_welcome_is_the_studys_own_or_a_default_then_the_format() -> None:
    assert study_texts.welcome(study(), "en").startswith(
        "Thank you for taking part in Ride diary! For the next 7 days, text us a code each time you come across "
        "one of these brands. Text brand letter"
    )
    own = study(welcome={"en": "Hi from Bolt!", "de": "Hallo von Bolt!"})
    assert study_texts.welcome(own, "de").startswith("Hallo von Bolt! Senden Sie Marken-Buchstabe")
