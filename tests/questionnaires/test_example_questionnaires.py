"""The shipped example questionnaires: valid, fully bilingual, short enough for SMS, and branching as described."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

import questionnaires
from questionnaires.flow import End, Step, next_step
from questionnaires.load import load_definition
from questionnaires.locales import definition_locales
from questionnaires.model import Definition, Rating
from questionnaires.parse import Answer, parse_sms
from questionnaires.render import render_app, render_sms, render_web
from questionnaires.validate import validate_definition

EXAMPLES = Path(questionnaires.__file__).parent / "examples"
NAMES = ["delivery_csat", "rtet_touchpoint", "store_visit_nps"]


def example(name: str) -> Definition:
    return load_definition((EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8"), "yaml")


def test_the_expected_examples_are_shipped() -> None:
    assert sorted(p.stem for p in EXAMPLES.glob("*.yaml")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_example_is_valid_bilingual_and_fits_in_two_sms_segments(name: str) -> None:
    definition = example(name)
    assert definition.key == name
    assert definition_locales(definition) == ["en", "de"]
    assert validate_definition(definition) == []
    for locale in ("en", "de"):
        first = render_sms(definition, definition.questions[0].id, locale, intro=True)
        assert first.encoding == "GSM-7" and first.segments <= 2
        assert render_web(definition, locale, {}).locale == locale
        assert len(render_app(definition, locale).questions) == len(definition.questions)


@pytest.mark.parametrize("name", NAMES)
def test_example_round_trips_through_stored_json_and_reads_the_same_as_json(name: str) -> None:
    definition = example(name)
    stored = msgspec.json.encode(definition)
    assert msgspec.json.decode(stored, type=Definition) == definition
    assert load_definition(json.dumps(json.loads(stored)), "json") == definition


def walk(definition: Definition, replies: list[str], locale: str) -> tuple[dict[str, object], Step | End]:
    """Answer question after question by SMS, as a customer would."""
    answers: dict[str, object] = {}
    for reply in replies:
        current = next_step(definition, answers)
        assert isinstance(current, Step)
        result = parse_sms(current.question, reply, locale)
        assert isinstance(result, Answer), result
        answers[current.question.id] = result.value
    return answers, next_step(definition, answers)


def test_store_visit_asks_detractors_what_went_wrong_and_promoters_what_they_liked() -> None:
    definition = example("store_visit_nps")
    answers, end = walk(definition, ["3", "Lange Schlange an der Kasse"], "de")
    assert answers == {"nps": 3, "went_wrong": "Lange Schlange an der Kasse"}
    assert end == End("completed")
    answers, end = walk(definition, ["ten", "skip"], "en")
    assert answers == {"nps": 10, "liked": None}
    answers, end = walk(definition, ["8"], "en")
    assert end == End("completed")


def test_delivery_stops_when_nothing_arrived_and_asks_for_issues_when_unhappy() -> None:
    definition = example("delivery_csat")
    _, end = walk(definition, ["nein"], "de")
    assert end == End("ended_early", after="received")
    answers, end = walk(definition, ["ja", "2", "1,3", "weiter"], "de")
    assert answers == {"received": True, "csat": 2, "issues": ["late", "wrong_item"], "comment": None}
    assert end == End("completed")
    answers, end = walk(definition, ["yes", "5"], "en")
    assert end == End("completed")


def test_rtet_touchpoint_asks_feeling_with_emoji_then_choice_then_what_stood_out() -> None:
    definition = example("rtet_touchpoint")
    feeling = definition.questions[0]
    assert isinstance(feeling, Rating) and (feeling.min, feeling.max, feeling.display) == (1, 5, "emoji")
    answers, end = walk(definition, ["4", "5", "Die freundliche Beratung"], "de")
    assert answers == {"feeling": 4, "choose_next": 5, "stood_out": "Die freundliche Beratung"}
    assert end == End("completed")
