"""Decoding definitions from JSON, YAML and objects: strictness, JSON-pointer errors, exact round trips."""

from __future__ import annotations

import copy
import json
from typing import Any

import msgspec
import pytest

from plumbing.errors import DefinitionInvalid
from questionnaires.errors import QuestionnaireInvalid
from questionnaires.load import MAX_DOCUMENT_BYTES, definition_from_obj, load_definition
from questionnaires.model import (
    Ces,
    Csat,
    Definition,
    FreeText,
    MultiChoice,
    Nps,
    Number,
    Rating,
    SingleChoice,
    YesNo,
)

EVERY_TYPE_YAML = """
key: every_type
title: {en: Every type, de: Jeder Typ}
default_locale: en
intro: {en: Hello, de: Hallo}
questions:
  - {id: q_nps, type: nps, text: {en: "Recommend?", de: "Empfehlen?"}, min_label: {en: No way, de: Nie}}
  - id: q_rating
    type: rating
    min: 1
    max: 7
    display: stars
    text: {en: Rate us, de: Bewerten Sie uns}
  - {id: q_ces, type: ces, text: {en: "Easy?", de: "Einfach?"}}
  - {id: q_csat, type: csat, display: emoji, text: {en: "Happy?", de: "Zufrieden?"}}
  - id: q_single
    type: single_choice
    text: {en: "Which?", de: "Welche?"}
    options:
      - {code: "no", label: {en: "No", de: Nein}, ends_survey: true}
      - {code: fast, label: {en: Fast, de: Schnell}}
  - id: q_multi
    type: multi_choice
    min_selections: 1
    max_selections: 2
    text: {en: "Which ones?", de: "Welche davon?"}
    options:
      - {code: a, label: {en: A, de: A}}
      - {code: b, label: {en: B, de: B}}
      - {code: c, label: {en: C, de: C}}
  - {id: q_yes_no, type: yes_no, required: false, text: {en: "OK?", de: "OK?"}, show_if: {field: q_nps, gte: 9}}
  - {id: q_text, type: text, max_length: 200, text: {en: "Why?", de: "Warum?"}, end_if: {field: q_text, exists: false}}
  - {id: q_number, type: number, min: 0, max: 99.5, integer: false, text: {en: "How many?", de: "Wie viele?"}}
"""


def every_type() -> Definition:
    return load_definition(EVERY_TYPE_YAML, "yaml")


def minimal(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "key": "mini",
        "title": "Mini",
        "default_locale": "en",
        "questions": [{"id": "q1", "type": "nps", "text": "Recommend?"}],
    }
    doc.update(changes)
    return doc


def errors_of(doc: object) -> list[str]:
    with pytest.raises(QuestionnaireInvalid) as caught:
        definition_from_obj(doc)
    return [e.pointer for e in caught.value.errors]


def test_every_question_type_decodes_to_its_struct() -> None:
    types = [type(q) for q in every_type().questions]
    assert types == [Nps, Rating, Ces, Csat, SingleChoice, MultiChoice, YesNo, FreeText, Number]


def test_defaults_apply() -> None:
    definition = definition_from_obj(
        minimal(
            questions=[{"id": "r", "type": "rating", "text": "Rate"}, {"id": "t", "type": "text", "text": "T"}]
        )
    )
    rating, text = definition.questions
    assert isinstance(rating, Rating) and isinstance(text, FreeText)
    assert (rating.min, rating.max, rating.display, rating.required) == (1, 5, "numbers", True)
    assert text.max_length == 1000
    assert definition.locales is None and definition.intro is None and definition.thank_you is None


def test_yaml_and_json_of_the_same_document_are_equal() -> None:
    from_yaml = every_type()
    as_json = json.dumps(msgspec.to_builtins(from_yaml))
    assert load_definition(as_json, "json") == from_yaml
    assert load_definition(as_json.encode(), "json") == from_yaml


def test_definitions_round_trip_exactly_through_json() -> None:
    definition = every_type()
    encoded = msgspec.json.encode(definition)
    decoded = msgspec.json.decode(encoded, type=Definition)
    assert decoded == definition
    assert msgspec.json.encode(decoded) == encoded
    # Stored JSON keeps what the brand wrote and omits defaults.
    stored = json.loads(encoded)
    assert stored["questions"][0] == {
        "type": "nps",
        "id": "q_nps",
        "text": {"en": "Recommend?", "de": "Empfehlen?"},
        "min_label": {"en": "No way", "de": "Nie"},
    }


@pytest.mark.parametrize(
    ("change", "pointer", "words"),
    [
        ({"questions": [{"id": "q1", "type": "nps", "txt": "Typo"}]}, "/questions/0/txt", "unknown field"),
        ({"questions": [{"id": "q1", "type": "nps"}]}, "/questions/0/text", "missing required field"),
        ({"questions": [{"id": "q1", "type": "stars", "text": "x"}]}, "/questions/0/type", "Invalid value"),
        ({"questions": [{"id": "q1", "text": "x"}]}, "/questions/0/type", "missing required field"),
        ({"questions": [{"id": "Q 1", "type": "nps", "text": "x"}]}, "/questions/0/id", "regex"),
        ({"questions": [{"id": "q1", "type": "rating", "max": 11, "text": "x"}]}, "/questions/0/max", "<= 10"),
        ({"questions": [{"id": "q1", "type": "rating", "max": "7", "text": "x"}]}, "/questions/0/max", "`int`"),
        (
            {"questions": [{"id": "q1", "type": "nps", "text": "x", "required": "yes"}]},
            "/questions/0/required",
            "bool",
        ),
        ({"questions": [{"id": "q1", "type": "nps", "text": ""}]}, "/questions/0/text", ""),
        ({"questions": []}, "/questions", "length >= 1"),
        ({"questions": [{"id": f"q{i}", "type": "nps", "text": "x"} for i in range(21)]}, "/questions", "<= 20"),
        (
            {
                "questions": [
                    {"id": "q1", "type": "single_choice", "text": "x", "options": [{"code": "a", "label": "A"}]}
                ]
            },
            "/questions/0/options",
            "length >= 2",
        ),
        (
            {
                "questions": [
                    {"id": "q1", "type": "single_choice", "text": "x", "options": [{"code": "a"}, {"code": "b"}]}
                ]
            },
            "/questions/0/options/0/label",
            "missing required field",
        ),
        ({"title": {"EN": "Mini"}}, "/title", "regex"),
        ({"title": {"en": 3}}, "/title", "`str`"),
        ({"title": {}}, "/title", ""),
        ({"default_locale": "english"}, "/default_locale", "regex"),
        ({"bogus": 1}, "/bogus", "unknown field"),
    ],
)
def test_decode_errors_point_at_the_field(change: dict[str, Any], pointer: str, words: str) -> None:
    with pytest.raises(QuestionnaireInvalid) as caught:
        definition_from_obj(minimal(**change))
    [error] = caught.value.errors
    assert error.pointer == pointer
    assert words in error.message
    assert isinstance(caught.value, DefinitionInvalid)


def test_json_and_yaml_report_the_same_pointer() -> None:
    doc = minimal(questions=[{"id": "q1", "type": "nps", "text": "x"}, {"id": "q2", "type": "nope", "text": "x"}])
    with pytest.raises(QuestionnaireInvalid) as from_json:
        load_definition(json.dumps(doc), "json")
    with pytest.raises(QuestionnaireInvalid) as from_yaml:
        load_definition(json.dumps(doc), "yaml")  # JSON is YAML
    assert from_json.value.errors == from_yaml.value.errors
    assert from_json.value.errors[0].pointer == "/questions/1/type"


def test_a_document_that_is_not_an_object_is_refused_at_the_root() -> None:
    assert errors_of([1, 2]) == [""]
    assert errors_of(None) == [""]


@pytest.mark.parametrize(
    ("data", "fmt", "words"),
    [
        ('{"key": ', "json", "not valid JSON"),
        ("key: [unclosed", "yaml", "not valid YAML"),
        ("a: &x [1]\nb: *x\n", "yaml", "aliases are not allowed"),
        ("key: a\nkey: b\n", "yaml", "duplicate key 'key'"),
        ("[" * 3000 + "]" * 3000, "yaml", ""),
        (
            '{"key": "k", "title": "t", "default_locale": "en", "questions": [{"id": "a", "type": "yes_no", '
            + '"text": "x", "show_if": '
            + '{"not": ' * 5000
            + "{}"
            + "}" * 5000
            + "}]}",
            "json",
            "nests too deeply",
        ),
        (" " * (MAX_DOCUMENT_BYTES + 1), "json", "larger than"),
    ],
)
def test_unreadable_documents_are_refused_as_a_whole(data: str, fmt: Any, words: str) -> None:
    with pytest.raises(QuestionnaireInvalid) as caught:
        load_definition(data, fmt)
    [error] = caught.value.errors
    assert error.pointer == ""
    assert words in error.message


def test_yaml_reads_like_yaml_1_2_so_codes_and_answers_mean_what_they_say() -> None:
    text = """
key: quirks
title: Quirks
default_locale: en
questions:
  - id: visited
    type: single_choice
    text: Visited?
    options:
      - {code: no, label: No}
      - {code: on, label: On}
      - {code: y, label: 2024-01-01}
  - id: again
    type: rating
    max: 010
    text: Again?
    show_if: {field: visited, eq: no}
"""
    definition = load_definition(text, "yaml")
    choice, rating = definition.questions
    assert isinstance(choice, SingleChoice) and isinstance(rating, Rating)
    assert [o.code for o in choice.options] == ["no", "on", "y"]
    assert [o.label for o in choice.options] == ["No", "On", "2024-01-01"]
    assert rating.max == 10
    assert rating.show_if == {"field": "visited", "eq": "no"}


def test_yaml_booleans_are_still_booleans() -> None:
    text = (
        "key: b\ntitle: B\ndefault_locale: en\nquestions:\n"
        "  - {id: a, type: yes_no, text: A, required: false, end_if: {field: a, eq: true}}\n"
    )
    [question] = load_definition(text, "yaml").questions
    assert question.required is False
    assert question.end_if == {"field": "a", "eq": True}


def test_semantic_errors_are_raised_by_every_entry_point() -> None:
    doc = minimal(questions=[{"id": "q1", "type": "nps", "text": "x"}, {"id": "q1", "type": "nps", "text": "y"}])
    for load in (
        lambda: definition_from_obj(copy.deepcopy(doc)),
        lambda: load_definition(json.dumps(doc), "json"),
        lambda: load_definition(json.dumps(doc), "yaml"),
    ):
        with pytest.raises(QuestionnaireInvalid) as caught:
            load()
        assert [e.pointer for e in caught.value.errors] == ["/questions/1/id"]


def test_unknown_format_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        load_definition("{}", "toml")  # type: ignore[arg-type]
