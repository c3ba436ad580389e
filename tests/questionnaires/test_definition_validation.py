"""Semantic validation: ids, bounds, complete translations, branching that only looks back, SMS-size warnings."""

from __future__ import annotations

from typing import Any

import pytest

from questionnaires.errors import QuestionnaireInvalid
from questionnaires.load import definition_from_obj, load_definition
from questionnaires.model import Definition, FreeText, Nps, SingleChoice
from questionnaires.validate import MAX_SMS_SEGMENTS, check_definition, validate_definition


def doc(*questions: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"key": "t", "title": "T", "default_locale": "en", "questions": list(questions), **top}


def errors(document: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(QuestionnaireInvalid) as caught:
        definition_from_obj(document)
    return [(e.pointer, e.message) for e in caught.value.errors]


def pointers(document: dict[str, Any]) -> list[str]:
    return [p for p, _ in errors(document)]


NPS = {"id": "nps", "type": "nps", "text": "Recommend?"}
CHOICE = {
    "id": "reason",
    "type": "single_choice",
    "text": "Why?",
    "options": [{"code": "price", "label": "Price"}, {"code": "staff", "label": "Staff"}],
}
MULTI = {
    "id": "issues",
    "type": "multi_choice",
    "text": "Issues?",
    "options": [{"code": "late", "label": "Late"}, {"code": "rude", "label": "Rude"}],
}


def test_duplicate_question_ids_and_option_codes() -> None:
    duplicate_option = {
        **CHOICE,
        "id": "r2",
        "options": [{"code": "a", "label": "A"}, {"code": "a", "label": "B"}],
    }
    assert errors(doc(NPS, {**NPS, "text": "Again?"}, duplicate_option)) == [
        ("/questions/1/id", "duplicate question id 'nps'"),
        ("/questions/2/options/1/code", "duplicate option code 'a'"),
    ]


@pytest.mark.parametrize(
    ("question", "pointer"),
    [
        ({**MULTI, "min_selections": 3}, "/questions/0/min_selections"),
        ({**MULTI, "max_selections": 3}, "/questions/0/max_selections"),
        ({**MULTI, "min_selections": 2, "max_selections": 1}, "/questions/0/max_selections"),
        ({"id": "n", "type": "number", "text": "N", "min": 5, "max": 1}, "/questions/0/max"),
    ],
)
def test_inconsistent_bounds(question: dict[str, Any], pointer: str) -> None:
    assert pointers(doc(question)) == [pointer]


def test_non_finite_number_bounds_from_yaml_are_refused() -> None:
    text = "key: t\ntitle: T\ndefault_locale: en\nquestions:\n  - {id: n, type: number, text: N, max: .inf}\n"
    with pytest.raises(QuestionnaireInvalid) as caught:
        load_definition(text, "yaml")
    assert [e.pointer for e in caught.value.errors] == ["/questions/0/max"]


def test_a_partly_translated_locale_names_every_missing_text() -> None:
    document = doc(
        {"id": "nps", "type": "nps", "text": {"en": "Recommend?", "de": "Empfehlen?"}, "min_label": "Never"},
        {**CHOICE, "text": {"en": "Why?", "de": "Warum?", "fr": "Pourquoi ?"}},
        title={"en": "T", "de": "T"},
    )
    assert errors(document) == [
        ("/title", "missing the 'fr' translation"),
        ("/questions/0/text", "missing the 'fr' translation"),
        ("/questions/0/min_label", "missing the 'de' translation"),
        ("/questions/0/min_label", "missing the 'fr' translation"),
        ("/questions/1/options/0/label", "missing the 'de' translation"),
        ("/questions/1/options/0/label", "missing the 'fr' translation"),
        ("/questions/1/options/1/label", "missing the 'de' translation"),
        ("/questions/1/options/1/label", "missing the 'fr' translation"),
    ]


def test_declared_locales_must_all_be_present_and_include_the_default() -> None:
    assert errors(doc(NPS, locales=["en", "de"])) == [
        ("/title", "missing the 'de' translation"),
        ("/questions/0/text", "missing the 'de' translation"),
    ]
    assert pointers(doc(NPS, default_locale="de", locales=["en"])) == ["/locales", "/title", "/questions/0/text"]
    assert pointers(doc(NPS, locales=["en", "en"])) == ["/locales/1"]


def test_a_translation_outside_the_declared_locales_is_refused() -> None:
    document = doc({**NPS, "text": {"en": "Recommend?", "it": "Consiglieresti?"}}, locales=["en"])
    assert errors(document) == [("/questions/0/text/it", "locale 'it' is not in /locales")]


def test_a_fully_translated_definition_is_accepted() -> None:
    definition = definition_from_obj(
        doc({**NPS, "text": {"en": "Recommend?", "de-CH": "Empfehlen?"}}, title={"en": "T", "de-CH": "T"})
    )
    assert check_definition(definition) == []


@pytest.mark.parametrize(
    ("questions", "expected"),
    [
        # Later, self and unknown references.
        (
            [{**NPS, "show_if": {"field": "reason", "eq": "price"}}, CHOICE],
            [
                (
                    "/questions/0/show_if/field",
                    "'reason' is a later question (#2); conditions may only use earlier answers",
                )
            ],
        ),
        (
            [NPS, {**CHOICE, "show_if": {"field": "reason", "eq": "price"}}],
            [
                (
                    "/questions/1/show_if/field",
                    "'reason' is this question itself; conditions may only use earlier answers",
                )
            ],
        ),
        (
            [NPS, {**CHOICE, "show_if": {"or": [{"field": "nps", "lt": 7}, {"field": "nsp", "lt": 7}]}}],
            [("/questions/1/show_if/or/1/field", "unknown question 'nsp'")],
        ),
        (
            [NPS, {**CHOICE, "end_if": {"field": "later", "exists": True}}, {**NPS, "id": "later"}],
            [
                (
                    "/questions/1/end_if/field",
                    "'later' is a later question (#3); conditions may only use earlier answers",
                )
            ],
        ),
        # Type mismatches, named by the operator's pointer.
        (
            [NPS, {**CHOICE, "show_if": {"field": "nps", "gte": "abc"}}],
            [("/questions/1/show_if/gte", "'gte' needs a number, not a string")],
        ),
        (
            [NPS, CHOICE, {**NPS, "id": "again", "show_if": {"field": "reason", "eq": "prise"}}],
            [("/questions/2/show_if/eq", "unknown value 'prise' for 'reason'; expected one of: price, staff")],
        ),
        (
            [MULTI, {**NPS, "show_if": {"field": "issues", "in": ["late", "lost"]}}],
            [("/questions/1/show_if/in/1", "unknown value 'lost' for 'issues'; expected one of: late, rude")],
        ),
        (
            [{"id": "ok", "type": "yes_no", "text": "OK?"}, {**NPS, "show_if": {"field": "ok", "eq": "yes"}}],
            [("/questions/1/show_if/eq", "'ok' is a bool field; 'yes' is a string")],
        ),
        (
            [{"id": "why", "type": "text", "text": "Why?"}, {**NPS, "show_if": {"field": "why", "gt": 3}}],
            [("/questions/1/show_if/gt", "'gt' compares numbers, but 'why' is a string field")],
        ),
        (
            [NPS, {**CHOICE, "end_if": {"field": "reason", "gt": 1}}],
            [("/questions/1/end_if/gt", "'gt' compares numbers, but 'reason' is a string field")],
        ),
        (
            [NPS, {**CHOICE, "show_if": {"field": "nps", "lte": 6, "gte": 0}}],
            [
                (
                    "/questions/1/show_if/gte",
                    "a condition has exactly one operator; combine several with 'and'/'or'",
                )
            ],
        ),
    ],
)
def test_branching_errors_name_question_and_field(
    questions: list[dict[str, Any]], expected: list[tuple[str, str]]
) -> None:
    assert errors(doc(*questions)) == expected


def test_end_if_may_test_its_own_answer_and_show_if_earlier_ones() -> None:
    definition = definition_from_obj(
        doc(
            {**NPS, "end_if": {"field": "nps", "gte": 9}},
            {**CHOICE, "show_if": {"and": [{"field": "nps", "lte": 6}, {"field": "nps", "exists": True}]}},
            {
                **MULTI,
                "show_if": {"field": "reason", "in": ["price"]},
                "end_if": {"field": "issues", "eq": "rude"},
            },
        )
    )
    assert [q.id for q in definition.questions] == ["nps", "reason", "issues"]


def test_a_bad_reference_is_reported_once_and_its_operand_still_checked() -> None:
    assert errors(doc({**NPS, "show_if": {"field": "later", "gte": "x"}}, {**NPS, "id": "later"})) == [
        (
            "/questions/0/show_if/field",
            "'later' is a later question (#2); conditions may only use earlier answers",
        ),
        ("/questions/0/show_if/gte", "'gte' needs a number, not a string"),
    ]


def test_validate_definition_raises_on_definitions_built_in_code() -> None:
    definition = Definition(
        key="code",
        title="Code",
        default_locale="en",
        questions=[Nps(id="a", text="A"), FreeText(id="b", text="B", show_if={"field": "c", "exists": True})],
    )
    with pytest.raises(QuestionnaireInvalid) as caught:
        validate_definition(definition)
    assert [e.pointer for e in caught.value.errors] == ["/questions/1/show_if/field"]


def test_no_warnings_for_short_questions() -> None:
    assert validate_definition(definition_from_obj(doc(NPS, CHOICE))) == []


def test_a_question_needing_more_than_two_sms_segments_is_a_warning_per_locale() -> None:
    long_en = "How likely are you to recommend us? " * 9  # 324 chars: 3 segments of 153
    definition = definition_from_obj(
        doc(
            {**NPS, "text": {"en": "Recommend?", "de": "Empfehlen?"}},
            {**NPS, "id": "long", "text": {"en": long_en, "de": "Empfehlen?"}},
            {**NPS, "id": "polish", "text": {"en": "OK?", "de": "Wie war's in Łódź? " * 6}},
            title={"en": "T", "de": "T"},
        )
    )
    warnings = validate_definition(definition)
    assert [(w.pointer, w.message.split(" needs")[0]) for w in warnings] == [
        ("/questions/1", "the SMS for this question in 'en'"),
        ("/questions/2", "the SMS for this question in 'de'"),
    ]
    assert "(GSM-7," in warnings[0].message and "(UCS-2," in warnings[1].message
    assert f"keep it to {MAX_SMS_SEGMENTS}" in warnings[0].message


def test_a_long_intro_is_a_warning_on_the_intro() -> None:
    definition = definition_from_obj(doc(NPS, intro="Thanks for shopping with us today. " * 9))
    warnings = validate_definition(definition)
    assert [w.pointer for w in warnings] == ["/intro"]


def test_validation_does_not_change_a_valid_definition() -> None:
    definition = definition_from_obj(doc(NPS, CHOICE))
    assert isinstance(definition.questions[1], SingleChoice)
    assert check_definition(definition) == []
