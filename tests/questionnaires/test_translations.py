"""Locale tags, the customer's locale with fallback, and localized texts in every channel."""

from __future__ import annotations

from typing import Any

import pytest

from questionnaires.load import definition_from_obj
from questionnaires.locales import definition_locales, normalize_locale, pick_locale, resolve
from questionnaires.model import Definition
from questionnaires.parse import parse_sms
from questionnaires.render import render_app, render_sms, render_web


def bilingual(*extra_locales: str, **top: Any) -> Definition:
    locales = ["en", "de", *extra_locales]
    return definition_from_obj(
        {
            "key": "b",
            "title": {loc: f"title-{loc}" for loc in locales},
            "default_locale": "en",
            "questions": [{"id": "nps", "type": "nps", "text": {loc: f"text-{loc}" for loc in locales}}],
            **top,
        }
    )


@pytest.mark.parametrize(
    ("tag", "normalized"),
    [
        ("de", "de"),
        ("DE", "de"),
        ("de_ch", "de-CH"),
        ("de-ch", "de-CH"),
        (" en-GB ", "en-GB"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("", None),
        ("german", None),
        ("de--CH", None),
        ("1234", None),
        ("x" * 100, None),
    ],
)
def test_normalize_locale(tag: str, normalized: str | None) -> None:
    assert normalize_locale(tag) == normalized


@pytest.mark.parametrize(
    ("wanted", "offered", "picked"),
    [
        ("de-CH", (), "de"),  # falls back along the tag
        ("de_ch", ("de-CH",), "de-CH"),  # exact match wins over its parent
        ("de-AT", ("de-CH",), "de"),  # parent before sibling
        ("en-US", (), "en"),
        ("fr-FR", (), "en"),  # not offered: the default locale
        (None, (), "en"),
        ("not a tag", (), "en"),
        (["fr", "de-DE", "en"], (), "de"),  # the most preferred offered one
        (["fr", "it"], (), "en"),
    ],
)
def test_pick_locale(wanted: Any, offered: tuple[str, ...], picked: str) -> None:
    assert pick_locale(bilingual(*offered), wanted) == picked


def test_a_sibling_of_the_same_language_beats_the_default() -> None:
    definition = definition_from_obj(
        {
            "key": "s",
            "title": {"en": "T", "de-CH": "T"},
            "default_locale": "en",
            "questions": [{"id": "q", "type": "yes_no", "text": {"en": "OK?", "de-CH": "Guet?"}}],
        }
    )
    assert definition_locales(definition) == ["en", "de-CH"]
    assert pick_locale(definition, "de-AT") == "de-CH"
    assert pick_locale(definition, "de") == "de-CH"


def test_resolve_falls_back_to_the_language_then_the_default() -> None:
    text = {"en": "Hello", "de": "Hallo", "de-CH": "Grüezi"}
    assert resolve(text, "de-CH", "en") == "Grüezi"
    assert resolve(text, "de-AT", "en") == "Hallo"
    assert resolve(text, "fr", "en") == "Hello"
    assert resolve("Plain", "de", "en") == "Plain"


def test_every_channel_renders_the_customers_locale() -> None:
    definition = bilingual(thank_you={"en": "Thanks", "de": "Danke"})
    sms = render_sms(definition, "nps", "de-CH")
    assert (sms.locale, sms.text) == ("de", "text-de\nAntworten Sie mit 0-10")
    page = render_web(definition, "de-CH", {})
    assert page.locale == "de"
    assert page.title == "title-de"
    assert page.question is not None and page.question.text == "text-de"
    assert page.progress is not None and page.progress.label == "1 von 1"
    app = render_app(definition, ["it", "de-AT"])
    assert (app.locale, app.title, app.questions[0].text, app.thank_you) == ("de", "title-de", "text-de", "Danke")
    assert render_app(definition, "fr").questions[0].text == "text-en"


def test_a_locale_without_a_catalog_gets_english_instructions_around_its_own_texts() -> None:
    definition = bilingual("it")
    sms = render_sms(definition, "nps", "it")
    assert sms.text == "text-it\nReply 0-10"
    page = render_web(definition, "it", {"nps": 3})
    assert page.done and page.thank_you == "Thank you!"


@pytest.mark.parametrize(
    ("locale", "reprompt"),
    [
        ("en", "Please reply with a number from 0 to 10."),
        ("de", "Bitte antworten Sie mit einer Zahl von 0 bis 10."),
        ("de-CH", "Bitte antworten Sie mit einer Zahl von 0 bis 10."),
        ("fr", "Merci de répondre par un nombre de 0 à 10."),
        ("es", "Por favor, responda con un número del 0 al 10."),
        ("nl", "Graag een getal van 0 tot 10."),
        ("it", "Please reply with a number from 0 to 10."),
    ],
)
def test_reprompts_are_localized(locale: str, reprompt: str) -> None:
    question = bilingual().questions[0]
    result = parse_sms(question, "eleven", locale)
    assert getattr(result, "reprompt", None) == reprompt
