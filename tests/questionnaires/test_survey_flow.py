"""The flow engine: next question, progress, branching, skipping, early end, answer-set consistency."""

from __future__ import annotations

from typing import Any

import pytest

from questionnaires.flow import End, Step, check_answers, is_complete, next_step
from questionnaires.load import definition_from_obj
from questionnaires.model import Definition


def definition(*questions: dict[str, Any]) -> Definition:
    return definition_from_obj({"key": "f", "title": "F", "default_locale": "en", "questions": list(questions)})


def step(defn: Definition, answers: dict[str, Any]) -> tuple[str, int, int]:
    result = next_step(defn, answers)
    assert isinstance(result, Step), result
    return result.question.id, result.position, result.total


LINEAR = definition(
    {"id": "a", "type": "nps", "text": "A"},
    {"id": "b", "type": "text", "required": False, "text": "B"},
    {"id": "c", "type": "yes_no", "text": "C"},
)
STORE = definition(
    {"id": "nps", "type": "nps", "text": "Recommend?"},
    {
        "id": "wrong",
        "type": "text",
        "required": False,
        "text": "What went wrong?",
        "show_if": {"field": "nps", "lte": 6},
    },
    {
        "id": "liked",
        "type": "text",
        "required": False,
        "text": "What did you like?",
        "show_if": {"field": "nps", "gte": 9},
    },
    {"id": "again", "type": "yes_no", "text": "Again?"},
)
ENDING = definition(
    {
        "id": "visited",
        "type": "single_choice",
        "text": "Did you visit?",
        "options": [{"code": "yes", "label": "Yes"}, {"code": "no", "label": "No", "ends_survey": True}],
    },
    {"id": "nps", "type": "nps", "text": "Recommend?", "end_if": {"field": "nps", "gte": 9}},
    {"id": "why", "type": "text", "text": "Why not higher?"},
)


def test_a_linear_survey_asks_every_question_in_order() -> None:
    assert step(LINEAR, {}) == ("a", 1, 3)
    assert step(LINEAR, {"a": 5}) == ("b", 2, 3)
    assert step(LINEAR, {"a": 5, "b": None}) == ("c", 3, 3)  # skipped optional question counts as done
    assert next_step(LINEAR, {"a": 5, "b": None, "c": True}) == End("completed")
    assert not is_complete(LINEAR, {"a": 5, "b": "x"})
    assert is_complete(LINEAR, {"a": 5, "b": "x", "c": False})


@pytest.mark.parametrize(
    ("nps", "follow_up", "total"),
    [(0, "wrong", 3), (6, "wrong", 3), (7, "again", 2), (8, "again", 2), (9, "liked", 3), (10, "liked", 3)],
)
def test_branching_on_the_nps_score(nps: int, follow_up: str, total: int) -> None:
    assert step(STORE, {}) == ("nps", 1, 4)  # both follow-ups are still possible
    assert step(STORE, {"nps": nps}) == (follow_up, 2, total)


def test_progress_counts_only_questions_this_customer_is_asked() -> None:
    answers = {"nps": 3, "wrong": "queue"}
    assert step(STORE, answers) == ("again", 3, 3)
    assert next_step(STORE, {**answers, "again": True}) == End("completed")


def test_a_skipped_answer_is_missing_for_conditions() -> None:
    defn = definition(
        {"id": "a", "type": "nps", "required": False, "text": "A"},
        {"id": "b", "type": "text", "text": "B", "show_if": {"field": "a", "ne": 10}},
        {"id": "c", "type": "text", "text": "C", "show_if": {"field": "a", "exists": False}},
    )
    assert step(defn, {"a": None}) == ("c", 2, 2)
    assert step(defn, {"a": 3}) == ("b", 2, 2)


def test_an_option_that_ends_the_survey() -> None:
    assert next_step(ENDING, {"visited": "no"}) == End("ended_early", after="visited")
    assert step(ENDING, {"visited": "yes"}) == ("nps", 2, 3)


def test_end_if_ends_the_survey_after_its_question() -> None:
    assert next_step(ENDING, {"visited": "yes", "nps": 9}) == End("ended_early", after="nps")
    assert step(ENDING, {"visited": "yes", "nps": 8}) == ("why", 3, 3)


def test_end_if_on_the_last_question_is_a_normal_completion() -> None:
    defn = definition(
        {"id": "a", "type": "nps", "text": "A"},
        {"id": "b", "type": "yes_no", "text": "B", "end_if": {"field": "b", "eq": True}},
    )
    assert next_step(defn, {"a": 1, "b": True}) == End("completed", after="b")


def test_a_multi_choice_ending_option_ends_when_among_the_choices() -> None:
    defn = definition(
        {
            "id": "issues",
            "type": "multi_choice",
            "text": "Issues?",
            "options": [{"code": "late", "label": "Late"}, {"code": "none", "label": "None", "ends_survey": True}],
        },
        {"id": "why", "type": "text", "text": "Tell us more"},
    )
    assert next_step(defn, {"issues": ["late", "none"]}) == End("ended_early", after="issues")
    assert step(defn, {"issues": ["late"]}) == ("why", 2, 2)


def test_consistent_answer_sets() -> None:
    assert check_answers(STORE, {}) == []
    assert check_answers(STORE, {"nps": 2, "wrong": None}) == []
    assert check_answers(STORE, {"nps": 10, "liked": "staff", "again": True}) == []
    assert check_answers(ENDING, {"visited": "no"}) == []


@pytest.mark.parametrize(
    ("defn", "answers", "expected"),
    [
        (STORE, {"nps": 8, "liked": "x"}, [("/liked", "not shown: its show_if does not hold for these answers")]),
        (STORE, {"nps": 3, "again": True}, [("/again", "answered while the earlier question 'wrong' is not")]),
        (STORE, {"nps": 3, "wrong": "x", "bogus": 1}, [("/bogus", "no such question")]),
        (ENDING, {"visited": "no", "nps": 3}, [("/nps", "the survey ended after 'visited'")]),
        (ENDING, {"visited": "yes", "nps": 10, "why": "x"}, [("/why", "the survey ended after 'nps'")]),
        (
            STORE,
            {"nps": 11},
            [("/nps", "invalid answer (out_of_range): Please reply with a number from 0 to 10.")],
        ),
        (
            STORE,
            {"nps": None},
            [
                (
                    "/nps",
                    "invalid answer (required): Please answer this question. Please reply with a number from 0 to 10.",
                )
            ],
        ),
        (
            ENDING,
            {"visited": "maybe"},
            [("/visited", "invalid answer (unknown_option): Please reply with one number from 1 to 2.")],
        ),
    ],
)
def test_inconsistent_answer_sets(
    defn: Definition, answers: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert [(e.pointer, e.message) for e in check_answers(defn, answers)] == expected


def test_check_answers_prefixes_pointers() -> None:
    [error] = check_answers(STORE, {"nps": 8, "liked": "x"}, at="/answers")
    assert error.pointer == "/answers/liked"
