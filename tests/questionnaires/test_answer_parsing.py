"""Answer parsing from SMS replies, JSON values and HTML forms, for every question type."""

from __future__ import annotations

from typing import Any

import pytest

from questionnaires.lexicon import NO_WORDS, NUMBER_WORDS, SKIP_WORDS, STOP_WORDS, YES_WORDS, is_stop_keyword
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
from questionnaires.parse import Answer, Invalid, expectation, parse_form, parse_sms, parse_structured

NPS = Nps(id="nps", text="Recommend?")
OPTIONAL_NPS = Nps(id="nps", text="Recommend?", required=False)
RATING_7 = Rating(id="r", text="Rate", min=1, max=7)
CES = Ces(id="ces", text="Easy?")
CSAT = Csat(id="csat", text="Happy?")
BEST = SingleChoice(
    id="best",
    text="Best?",
    options=[
        Option(code="fast", label={"en": "Fast", "de": "Schnell"}),
        Option(code="friendly", label={"en": "Friendly staff", "de": "Freundlich"}),
        Option(code="cheap", label={"en": "Cheap", "de": "Günstig"}),
    ],
)
ISSUES = MultiChoice(
    id="issues",
    text="Issues?",
    max_selections=3,
    options=[
        Option(code="late", label={"en": "Late", "de": "Spät"}),
        Option(code="damaged", label={"en": "Damaged", "de": "Beschädigt"}),
        Option(code="wrong_item", label={"en": "Wrong item", "de": "Falscher Artikel"}),
        Option(code="rude", label={"en": "Rude", "de": "Unhöflich"}),
        Option(code="other", label={"en": "Other", "de": "Anderes"}),
    ],
)
TWO_OF_FIVE = MultiChoice(id="two", text="Pick two", min_selections=2, options=ISSUES.options)
YES_NO = YesNo(id="ok", text="OK?")
TEXT = FreeText(id="why", text="Why?", max_length=20)
OPTIONAL_TEXT = FreeText(id="why", text="Why?", required=False)
COUNT = Number(id="count", text="How many?", min=0, max=5000)
AMOUNT = Number(id="amount", text="How much?", integer=False, min=-100)


def value(result: Answer | Invalid) -> Any:
    assert isinstance(result, Answer), result
    return result.value


def reason(result: Answer | Invalid) -> str:
    assert isinstance(result, Invalid), result
    return result.reason


@pytest.mark.parametrize(
    ("question", "reply", "expected"),
    [
        (NPS, "9", 9),
        (NPS, " 9 ", 9),
        (NPS, "9\n", 9),
        (NPS, "9/10", 9),
        (NPS, "9 / 10", 9),
        (NPS, "9 out of 10", 9),
        (NPS, "9 von 10", 9),
        (NPS, "10!", 10),
        (NPS, "0", 0),
        (NPS, "nine", 9),
        (NPS, "Neun", 9),
        (NPS, "NEUF", 9),
        (NPS, "nueve", 9),
        (NPS, "negen", 9),
        (NPS, "zero", 0),
        (NPS, "null", 0),
        (NPS, "zehn.", 10),
        (NPS, "９", 9),  # fullwidth
        (NPS, "１０", 10),
        (NPS, "9\ufe0f\u20e3", 9),  # keycap emoji
        (NPS, "\U0001f51f", 10),  # keycap ten
        (NPS, "٩", 9),  # Arabic-Indic digit
        (NPS, "8 great service", 8),
        (NPS, "I'd say 7", 7),
        (NPS, '"9"', 9),
        (RATING_7, "7", 7),
        (RATING_7, "sieben", 7),
        (RATING_7, "6/7", 6),
        (CES, "1", 1),
        (CSAT, "4/5", 4),
        (CSAT, "five", 5),
    ],
)
def test_scale_replies(question: Question, reply: str, expected: int) -> None:
    assert value(parse_sms(question, reply, "en")) == expected


@pytest.mark.parametrize(
    ("question", "reply", "why"),
    [
        (NPS, "11", "out_of_range"),
        (NPS, "-1", "out_of_range"),
        (NPS, "9/5", "out_of_range"),
        (NPS, "99999999999999999999999999999", "out_of_range"),
        (NPS, "7.5", "not_integer"),
        (NPS, "7,5", "not_integer"),
        (NPS, "great", "not_a_number"),
        (NPS, "between 7 and 8", "not_a_number"),
        (NPS, "", "empty"),
        (NPS, "   ", "empty"),
        (NPS, "?!", "empty"),
        (NPS, "9" * 3000, "too_long"),
        (NPS, "skip", "required"),
        (RATING_7, "8", "out_of_range"),
        (RATING_7, "0", "out_of_range"),
        (CES, "eight", "out_of_range"),
        (CSAT, "6", "out_of_range"),
    ],
)
def test_scale_replies_that_are_refused(question: Question, reply: str, why: str) -> None:
    result = parse_sms(question, reply, "en")
    assert reason(result) == why
    assert isinstance(result, Invalid) and result.reprompt


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]),
        ("de", ["null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun", "zehn"]),
        ("fr", ["zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix"]),
        ("es", ["cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez"]),
        ("nl", ["nul", "een", "twee", "drie", "vier", "vijf", "zes", "zeven", "acht", "negen", "tien"]),
    ],
)
def test_number_words_zero_to_ten(language: str, words: list[str]) -> None:
    assert [value(parse_sms(NPS, word.capitalize(), language)) for word in words] == list(range(11))


def test_the_word_tables_do_not_contradict_each_other() -> None:
    assert not YES_WORDS & NO_WORDS
    for table in (YES_WORDS, NO_WORDS, SKIP_WORDS, STOP_WORDS):
        assert not table & NUMBER_WORDS.keys()
    assert not SKIP_WORDS & (YES_WORDS | NO_WORDS | STOP_WORDS)


@pytest.mark.parametrize(
    ("question", "reply", "expected"),
    [
        (BEST, "1", "fast"),
        (BEST, " 2 ", "friendly"),
        (BEST, "two", "friendly"),
        (BEST, "３", "cheap"),
        (BEST, "friendly", "friendly"),
        (BEST, "FAST", "fast"),
        (BEST, "Friendly staff", "friendly"),
        (BEST, "freundlich", "friendly"),  # any locale's label
        (BEST, "Günstig!", "cheap"),
        (BEST, "option 2", "friendly"),
        (ISSUES, "1,3", ["late", "wrong_item"]),
        (ISSUES, "1 3", ["late", "wrong_item"]),
        (ISSUES, "1, 3", ["late", "wrong_item"]),
        (ISSUES, "3;1", ["late", "wrong_item"]),
        (ISSUES, "1 and 3", ["late", "wrong_item"]),
        (ISSUES, "1 und 3", ["late", "wrong_item"]),
        (ISSUES, "13", ["late", "wrong_item"]),
        (ISSUES, "3, 1, 1", ["late", "wrong_item"]),
        (ISSUES, "4", ["rude"]),
        (ISSUES, "Rude, late", ["late", "rude"]),
        (ISSUES, "wrong item, 5", ["other", "wrong_item"]),
        (ISSUES, "Falscher Artikel", ["wrong_item"]),
        (ISSUES, "DAMAGED", ["damaged"]),
    ],
)
def test_choice_replies(question: Question, reply: str, expected: object) -> None:
    assert value(parse_sms(question, reply, "en")) == expected


@pytest.mark.parametrize(
    ("question", "reply", "why"),
    [
        (BEST, "4", "unknown_option"),
        (BEST, "0", "unknown_option"),
        (BEST, "slow", "unknown_option"),
        (BEST, "1 or 2", "unknown_option"),
        (BEST, "weiter", "required"),
        (ISSUES, "1,9", "unknown_option"),
        (ISSUES, "1, maybe", "unknown_option"),
        (ISSUES, "1,2,3,4", "too_many"),
        (ISSUES, "1 " * 500, "unknown_option"),
        (ISSUES, "and", "empty"),
        (TWO_OF_FIVE, "1", "too_few"),
        (TWO_OF_FIVE, "1,1", "too_few"),
    ],
)
def test_choice_replies_that_are_refused(question: Question, reply: str, why: str) -> None:
    assert reason(parse_sms(question, reply, "en")) == why


def test_choice_reprompts_say_what_is_expected() -> None:
    assert parse_sms(BEST, "9", "de") == Invalid(
        reason="unknown_option", reprompt="Bitte antworten Sie mit einer Zahl von 1 bis 3."
    )
    assert parse_sms(ISSUES, "1,2,3,4", "en") == Invalid(reason="too_many", reprompt="Please choose at most 3.")
    assert parse_sms(TWO_OF_FIVE, "1", "de") == Invalid(
        reason="too_few", reprompt="Bitte wählen Sie mindestens 2."
    )


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("y", True),
        ("Yes", True),
        ("YES!", True),
        ("yes please", True),
        ("ja", True),
        ("J", True),
        ("oui", True),
        ("si", True),
        ("Sí", True),
        ("1", True),
        ("👍", True),
        ("n", False),
        ("No", False),
        ("no, all fine", False),
        ("nein", False),
        ("Nee", False),
        ("non", False),
        ("2", False),
    ],
)
def test_yes_no_replies(reply: str, expected: bool) -> None:
    assert value(parse_sms(YES_NO, reply, "en")) is expected


@pytest.mark.parametrize("reply", ["maybe", "3", "0", "y not", "yesno", "j'sais pas"])
def test_yes_no_replies_that_are_refused(reply: str) -> None:
    assert parse_sms(YES_NO, reply, "fr") == Invalid(
        reason="not_yes_no", reprompt="Merci de répondre 1 pour Oui ou 2 pour Non."
    )


@pytest.mark.parametrize(
    ("question", "reply", "expected"),
    [
        (TEXT, "  Friendly staff!  ", "Friendly staff!"),
        (TEXT, "line one\r\nline two", "line one\nline two"),
        (TEXT, "nul\x00byte\x07", "nulbyte"),
        (TEXT, "Müller 👍", "Müller 👍"),
        (TEXT, "Cafe\u0301", "Café"),  # stored composed (NFC)
        (OPTIONAL_TEXT, "skip", None),
        (OPTIONAL_TEXT, " Weiter. ", None),
        (OPTIONAL_TEXT, "skip the queue next time", "skip the queue next time"),
    ],
)
def test_text_replies(question: Question, reply: str, expected: str | None) -> None:
    assert value(parse_sms(question, reply, "en")) == expected


@pytest.mark.parametrize(
    ("question", "reply", "why"),
    [
        (TEXT, "x" * 21, "too_long"),
        (TEXT, "x" * 100_000, "too_long"),
        (TEXT, "   ", "empty"),
        (TEXT, "\x00\x01", "empty"),
        (TEXT, "SKIP", "required"),
    ],
)
def test_text_replies_that_are_refused(question: Question, reply: str, why: str) -> None:
    assert reason(parse_sms(question, reply, "en")) == why


def test_a_too_long_text_says_the_limit() -> None:
    assert parse_sms(TEXT, "x" * 21, "de") == Invalid(
        reason="too_long", reprompt="Bitte antworten Sie mit höchstens 20 Zeichen."
    )


@pytest.mark.parametrize(
    ("question", "reply", "expected"),
    [
        (COUNT, "42", 42),
        (COUNT, "three", 3),
        (COUNT, "1,500", 1500),
        (COUNT, "1.500", 1500),
        (COUNT, "1'500", 1500),
        (COUNT, "about 30 visits", 30),
        (COUNT, "7.0", 7),
        (AMOUNT, "2,5", 2.5),
        (AMOUNT, "2.50", 2.5),
        (AMOUNT, ".5", 0.5),
        (AMOUNT, "-3", -3.0),
        (AMOUNT, "12", 12.0),
    ],
)
def test_number_replies(question: Question, reply: str, expected: float) -> None:
    result = value(parse_sms(question, reply, "en"))
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("question", "reply", "why"),
    [
        (COUNT, "2.5", "not_integer"),
        (COUNT, "-1", "out_of_range"),
        (COUNT, "5001", "out_of_range"),
        (COUNT, "lots", "not_a_number"),
        (COUNT, "1 or 2", "not_a_number"),
        (AMOUNT, "-101", "out_of_range"),
        (AMOUNT, "1" * 30, "out_of_range"),
    ],
)
def test_number_replies_that_are_refused(question: Question, reply: str, why: str) -> None:
    assert reason(parse_sms(question, reply, "en")) == why


def test_number_reprompts_name_the_bounds() -> None:
    assert expectation(COUNT, "en") == "Please reply with a number from 0 to 5000."
    assert expectation(AMOUNT, "de") == "Bitte antworten Sie mit einer Zahl ab -100."
    assert expectation(Number(id="n", text="N", max=2.5), "en") == "Please reply with a number of at most 2.5."
    assert expectation(Number(id="n", text="N"), "en") == "Please reply with a whole number."
    assert expectation(Number(id="n", text="N", integer=False), "en") == "Please reply with a number."


@pytest.mark.parametrize(
    "question", [OPTIONAL_NPS, Number(id="n", text="N", required=False), YesNo(id="y", text="Y", required=False)]
)
@pytest.mark.parametrize("word", ["skip", "SKIP", "Weiter", "passer", "saltar", "overslaan", "überspringen"])
def test_skip_words_skip_optional_questions(question: Question, word: str) -> None:
    assert parse_sms(question, word, "en") == Answer(value=None)


def test_skipping_a_required_question_reprompts_in_the_customers_language() -> None:
    assert parse_sms(NPS, "weiter", "de") == Invalid(
        reason="required",
        reprompt="Bitte beantworten Sie diese Frage. Bitte antworten Sie mit einer Zahl von 0 bis 10.",
    )


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        " Stop. ",
        "STOPALL",
        "Unsubscribe",
        "cancel",
        "END",
        "quit",
        "STOPP",
        "abmelden",
        "Arrêt",
        "BAJA",
    ],
)
def test_stop_keywords(text: str) -> None:
    assert is_stop_keyword(text)


@pytest.mark.parametrize("text", ["", "9", "stop sending me these", "stopped", "no", "weiter", "x" * 1000])
def test_not_stop_keywords(text: str) -> None:
    assert not is_stop_keyword(text)


@pytest.mark.parametrize(
    ("question", "given", "expected"),
    [
        (NPS, 9, Answer(value=9)),
        (NPS, 0, Answer(value=0)),
        (NPS, 11, "out_of_range"),
        (NPS, "9", "wrong_type"),
        (NPS, 9.0, "wrong_type"),
        (NPS, True, "wrong_type"),
        (NPS, None, "required"),
        (OPTIONAL_NPS, None, Answer(value=None)),
        (RATING_7, 7, Answer(value=7)),
        (BEST, "cheap", Answer(value="cheap")),
        (BEST, "Cheap", "unknown_option"),
        (BEST, 3, "wrong_type"),
        (ISSUES, ["rude", "late"], Answer(value=["late", "rude"])),
        (ISSUES, [], "empty"),
        (ISSUES, ["late", "late"], "duplicate_option"),
        (ISSUES, ["late", "lost"], "unknown_option"),
        (ISSUES, ["late", 1], "wrong_type"),
        (ISSUES, "late", "wrong_type"),
        (ISSUES, ["late"] * 100, "too_many"),
        (ISSUES, ["late", "rude", "damaged", "other"], "too_many"),
        (TWO_OF_FIVE, ["late"], "too_few"),
        (YES_NO, False, Answer(value=False)),
        (YES_NO, "yes", "wrong_type"),
        (YES_NO, 1, "wrong_type"),
        (TEXT, " hi ", Answer(value="hi")),
        (TEXT, "", "empty"),
        (TEXT, 3, "wrong_type"),
        (TEXT, "x" * 21, "too_long"),
        (OPTIONAL_TEXT, "", Answer(value=None)),
        (COUNT, 3, Answer(value=3)),
        (COUNT, 3.0, Answer(value=3)),
        (COUNT, 3.5, "not_integer"),
        (COUNT, 10**20, "out_of_range"),
        (COUNT, True, "wrong_type"),
        (AMOUNT, 2, Answer(value=2.0)),
        (AMOUNT, float("nan"), "not_a_number"),
        (AMOUNT, float("inf"), "out_of_range"),
        (AMOUNT, 10**400, "out_of_range"),
        (AMOUNT, {"value": 1}, "wrong_type"),
    ],
)
def test_structured_answers_are_checked_strictly(question: Question, given: object, expected: object) -> None:
    result = parse_structured(question, given, "en")
    if isinstance(expected, Answer):
        assert result == expected
    else:
        assert reason(result) == expected


@pytest.mark.parametrize(
    ("question", "fields", "expected"),
    [
        (NPS, ["9"], Answer(value=9)),
        (NPS, [" 10 "], Answer(value=10)),
        (NPS, ["9.5"], "not_integer"),
        (NPS, ["abc"], "not_a_number"),
        (NPS, [], "required"),
        (OPTIONAL_NPS, [""], Answer(value=None)),
        (BEST, ["friendly"], Answer(value="friendly")),
        (ISSUES, ["rude", "late"], Answer(value=["late", "rude"])),
        (ISSUES, [], "required"),
        (YES_NO, ["yes"], Answer(value=True)),
        (YES_NO, ["no"], Answer(value=False)),
        (YES_NO, ["perhaps"], "not_yes_no"),
        (TEXT, ["  hello "], Answer(value="hello")),
        (OPTIONAL_TEXT, ["   "], Answer(value=None)),
        (COUNT, ["12"], Answer(value=12)),
        (AMOUNT, ["2,5"], Answer(value=2.5)),
        (COUNT, ["x" * 3000], "too_long"),
    ],
)
def test_form_posts(question: Question, fields: list[str], expected: object) -> None:
    result = parse_form(question, fields, "en")
    if isinstance(expected, Answer):
        assert result == expected
    else:
        assert reason(result) == expected
