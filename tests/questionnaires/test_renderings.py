"""Renderings for SMS, the mobile web page and native apps, from one definition."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from questionnaires.load import definition_from_obj
from questionnaires.model import Definition
from questionnaires.render import (
    AppForm,
    WebPage,
    render_app,
    render_sms,
    render_sms_thank_you,
    render_web,
    render_web_survey,
    sms_message,
)


def t(en: str, de: str) -> dict[str, str]:
    return {"en": en, "de": de}


def options(*pairs: tuple[str, str, str]) -> list[dict[str, Any]]:
    return [{"code": code, "label": t(en, de)} for code, en, de in pairs]


SURVEY: dict[str, Any] = {
    "key": "all",
    "title": t("Your visit", "Ihr Besuch"),
    "default_locale": "en",
    "intro": t("Hi from Acme!", "Hallo von Acme!"),
    "questions": [
        {
            "id": "nps",
            "type": "nps",
            "text": t("Recommend us?", "Uns empfehlen?"),
            "min_label": t("Not likely", "Unwahrscheinlich"),
            "max_label": t("Very likely", "Sehr wahrscheinlich"),
        },
        {"id": "rating", "type": "rating", "max": 7, "display": "stars", "text": t("Rate us", "Bewerten Sie uns")},
        {"id": "ces", "type": "ces", "text": t("Easy?", "Einfach?")},
        {"id": "csat", "type": "csat", "display": "emoji", "text": t("Happy?", "Zufrieden?")},
        {"id": "again", "type": "yes_no", "text": t("Come again?", "Wiederkommen?")},
        {
            "id": "best",
            "type": "single_choice",
            "text": t("What was best?", "Was war am besten?"),
            "options": options(
                ("fast", "Fast", "Schnell"), ("friendly", "Friendly", "Freundlich"), ("cheap", "Cheap", "Günstig")
            ),
        },
        {
            "id": "issues",
            "type": "multi_choice",
            "max_selections": 2,
            "text": t("Any issues?", "Probleme?"),
            "options": options(("late", "Late", "Spät"), ("rude", "Rude", "Unhöflich"), ("none", "None", "Keine")),
        },
        {"id": "why", "type": "text", "required": False, "max_length": 300, "text": t("Why?", "Warum?")},
        {
            "id": "visits",
            "type": "number",
            "min": 0,
            "max": 50,
            "text": t("Visits this year?", "Besuche dieses Jahr?"),
        },
        {"id": "spend", "type": "number", "integer": False, "text": t("Spent?", "Ausgegeben?")},
    ],
}


def survey(**changes: Any) -> Definition:
    return definition_from_obj({**SURVEY, **changes})


@pytest.mark.parametrize(
    ("question_id", "locale", "text"),
    [
        ("nps", "en", "Recommend us?\nReply 0-10 (0 = Not likely, 10 = Very likely)"),
        ("nps", "de", "Uns empfehlen?\nAntworten Sie mit 0-10 (0 = Unwahrscheinlich, 10 = Sehr wahrscheinlich)"),
        ("rating", "en", "Rate us\nReply 1-7"),
        ("ces", "de", "Einfach?\nAntworten Sie mit 1-7"),
        ("csat", "en", "Happy?\nReply 1-5"),
        ("again", "en", "Come again?\nReply 1 for Yes, 2 for No"),
        ("again", "de", "Wiederkommen?\nAntworten Sie 1 für Ja, 2 für Nein"),
        ("best", "en", "What was best?\n1 Fast\n2 Friendly\n3 Cheap\nReply 1-3"),
        ("best", "de", "Was war am besten?\n1 Schnell\n2 Freundlich\n3 Günstig\nAntworten Sie mit 1-3"),
        ("issues", "en", "Any issues?\n1 Late\n2 Rude\n3 None\nReply with numbers, e.g. 1,3 (up to 2)"),
        ("issues", "de", "Probleme?\n1 Spät\n2 Unhöflich\n3 Keine\nAntworten Sie mit Zahlen, z.B. 1,3 (bis zu 2)"),
        ("why", "en", "Why?\nReply in your own words, or SKIP to skip"),
        ("why", "de", "Warum?\nAntworten Sie in eigenen Worten oder WEITER zum Überspringen"),
        ("visits", "en", "Visits this year?\nReply with a number from 0 to 50"),
        ("spend", "de", "Ausgegeben?\nAntworten Sie mit einer Zahl"),
    ],
)
def test_sms_text_per_question_type(question_id: str, locale: str, text: str) -> None:
    sms = render_sms(survey(), question_id, locale)
    assert sms.text == text
    assert (sms.encoding, sms.segments, sms.units) == ("GSM-7", 1, len(text))


def test_the_first_sms_may_carry_the_intro() -> None:
    assert (
        render_sms(survey(), "csat", "de", intro=True).text
        == "Hallo von Acme!\n\nZufrieden?\nAntworten Sie mit 1-5"
    )
    assert not render_sms(survey(), "csat", "de").text.startswith("Hallo")


def test_sms_replaces_typographic_punctuation_to_stay_in_gsm7() -> None:
    definition = survey(
        questions=[{"id": "q", "type": "yes_no", "text": t("Was it “OK” – honestly?", "War’s „gut“?")}],
        intro=None,
    )
    en, de = render_sms(definition, "q", "en"), render_sms(definition, "q", "de")
    assert en.text.startswith('Was it "OK" - honestly?\n') and en.encoding == "GSM-7"
    assert de.text.startswith('War\'s "gut"?\n') and de.encoding == "GSM-7"


def test_a_letter_outside_gsm7_makes_the_sms_ucs2_with_its_segment_count() -> None:
    text = "Jak oceniasz wizytę w sklepie w Łodzi? " * 3
    definition = survey(questions=[{"id": "q", "type": "csat", "text": t(text, text)}], intro=None)
    sms = render_sms(definition, "q", "en")
    assert sms.encoding == "UCS-2"
    assert "Łodzi" in sms.text
    assert sms.units == len(sms.text)
    assert sms.segments == 2  # 128 UTF-16 units: more than 70, at most 2 x 67


def test_thank_you_sms_is_the_definitions_or_a_generic_one() -> None:
    assert render_sms_thank_you(survey(thank_you=t("Thanks!", "Danke!")), "de").text == "Danke!"
    generic = render_sms_thank_you(survey(), "fr")
    assert (generic.text, generic.locale) == ("Thank you!", "en")
    assert render_sms_thank_you(survey(), "de").text == "Vielen Dank!"


def test_any_sms_text_such_as_a_reprompt_is_made_gsm7_friendly_and_measured() -> None:
    message = sms_message("Bitte antworten Sie mit „Ja“ oder „Nein“ … danke", "de")
    assert message.text == 'Bitte antworten Sie mit "Ja" oder "Nein" ... danke'
    assert (message.encoding, message.segments, message.locale) == ("GSM-7", 1, "de")


def test_rendering_an_unknown_question_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="no question 'nope'"):
        render_sms(survey(), "nope", "en")


def test_web_page_walks_the_survey_one_question_at_a_time() -> None:
    definition = survey()
    first = render_web(definition, "de", {})
    assert isinstance(first, WebPage)
    assert (first.title, first.intro, first.done) == ("Ihr Besuch", "Hallo von Acme!", False)
    assert first.progress is not None
    assert (first.progress.position, first.progress.total, first.progress.label) == (1, 10, "1 von 10")
    assert first.question is not None
    question = first.question
    assert (question.id, question.type, question.input, question.required) == ("nps", "nps", "scale", True)
    assert question.scale is not None
    assert (question.scale.min, question.scale.max, question.scale.points) == (0, 10, list(range(11)))
    assert (question.scale.min_label, question.scale.max_label) == ("Unwahrscheinlich", "Sehr wahrscheinlich")
    assert first.labels.submit == "Senden" and first.labels.skip == "Überspringen"

    second = render_web(definition, "en", {"nps": 9})
    assert second.intro is None
    assert second.progress is not None and second.progress.label == "2 of 10"
    assert second.question is not None and second.question.scale is not None
    assert (second.question.scale.points, second.question.scale.display) == ([1, 2, 3, 4, 5, 6, 7], "stars")


def test_web_question_views_per_type() -> None:
    views = {q.id: q for q in render_web_survey(survey(), "en").questions}
    assert views["csat"].scale is not None and views["csat"].scale.display == "emoji"
    assert views["ces"].scale is not None and (views["ces"].scale.min, views["ces"].scale.max) == (1, 7)
    assert [(o.code, o.label) for o in views["again"].options or []] == [("yes", "Yes"), ("no", "No")]
    assert views["again"].input == "yes_no"
    assert [(o.code, o.label) for o in views["best"].options or []] == [
        ("fast", "Fast"),
        ("friendly", "Friendly"),
        ("cheap", "Cheap"),
    ]
    assert (views["issues"].input, views["issues"].min_selections, views["issues"].max_selections) == (
        "multi_choice",
        1,
        2,
    )
    assert (views["why"].input, views["why"].max_length, views["why"].required) == ("text", 300, False)
    assert (views["visits"].min, views["visits"].max, views["visits"].integer) == (0, 50, True)
    assert (views["spend"].min, views["spend"].max, views["spend"].integer) == (None, None, False)


def test_web_end_page_thanks_and_says_why() -> None:
    definition = survey(
        questions=[
            {"id": "ok", "type": "yes_no", "text": t("OK?", "OK?"), "end_if": {"field": "ok", "eq": False}},
            {"id": "why", "type": "text", "text": t("Why?", "Warum?")},
        ],
        thank_you=t("Bye", "Tschüss"),
    )
    early = render_web(definition, "de", {"ok": False})
    assert (early.done, early.end_reason, early.thank_you, early.question, early.progress) == (
        True,
        "ended_early",
        "Tschüss",
        None,
        None,
    )
    assert render_web(definition, "en", {"ok": True, "why": "x"}).end_reason == "completed"


def test_whole_survey_page_flags_branching() -> None:
    assert render_web_survey(survey(), "en").branching is False
    branching = survey(
        questions=[
            SURVEY["questions"][0],
            {**SURVEY["questions"][7], "show_if": {"field": "nps", "lte": 6}},
        ]
    )
    page = render_web_survey(branching, "de")
    assert page.branching is True
    assert page.questions[1].show_if == {"field": "nps", "lte": 6}
    assert page.thank_you == "Vielen Dank!"


def test_app_form_is_self_describing_json() -> None:
    definition = survey(
        questions=[
            SURVEY["questions"][0],
            {**SURVEY["questions"][5], "show_if": {"field": "nps", "gte": 9}},
        ]
    )
    form = render_app(definition, "de-DE", version=7)
    assert isinstance(form, AppForm)
    assert (form.key, form.version, form.locale, form.locales, form.flow) == (
        "all",
        7,
        "de",
        ["en", "de"],
        "branching",
    )
    as_json = msgspec.json.decode(msgspec.json.encode(form))
    assert as_json["questions"][1] == {
        "id": "best",
        "index": 1,
        "type": "single_choice",
        "input": "single_choice",
        "text": "Was war am besten?",
        "required": True,
        "scale": None,
        "options": [
            {"code": "fast", "label": "Schnell", "ends_survey": False},
            {"code": "friendly", "label": "Freundlich", "ends_survey": False},
            {"code": "cheap", "label": "Günstig", "ends_survey": False},
        ],
        "min_selections": None,
        "max_selections": None,
        "max_length": None,
        "min": None,
        "max": None,
        "integer": None,
        "show_if": {"field": "nps", "gte": 9},
        "end_if": None,
    }
    assert msgspec.json.decode(msgspec.json.encode(form), type=AppForm) == form


def test_app_form_of_a_linear_survey() -> None:
    form = render_app(survey(), None)
    assert (form.flow, form.version, form.locale, len(form.questions)) == ("linear", None, "en", 10)
    assert form.intro == "Hi from Acme!"


def test_an_ending_option_makes_the_flow_branching() -> None:
    questions = [
        {
            "id": "visited",
            "type": "single_choice",
            "text": t("Visited?", "Besucht?"),
            "options": [
                {"code": "yes", "label": t("Yes", "Ja")},
                {"code": "no", "label": t("No", "Nein"), "ends_survey": True},
            ],
        }
    ]
    form = render_app(survey(questions=questions), "en")
    assert form.flow == "branching"
    assert [o.ends_survey for o in form.questions[0].options or []] == [False, True]
