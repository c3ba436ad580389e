"""NPS, CSAT top-two-box, CES and rating means: one definition of each score."""

from __future__ import annotations

import pytest

from questionnaires.model import Ces, Csat, FreeText, Nps, Rating
from questionnaires.scores import Summary, ces, csat, mean, nps, nps_category, summarize, top_two_box


@pytest.mark.parametrize(
    ("score", "category"),
    [(0, "detractor"), (6, "detractor"), (7, "passive"), (8, "passive"), (9, "promoter"), (10, "promoter")],
)
def test_nps_category_boundaries(score: int, category: str) -> None:
    assert nps_category(score) == category


@pytest.mark.parametrize("score", [-1, 11, True, 9.0, "9"])
def test_nps_category_refuses_what_is_not_an_nps_answer(score: object) -> None:
    with pytest.raises(ValueError, match="int from 0 to 10"):
        nps_category(score)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([10, 9, 8, 7, 6, 0], 0.0),
        ([10, 10, 10, 0], 50.0),
        ([10, 9], 100.0),
        ([0, 3, 6], -100.0),
        ([7, 8], 0.0),
        ([10, 5, 8, None, True, 11, "9"], 0.0),  # skips and off-scale values are not responses
        ([], None),
        ([None], None),
    ],
)
def test_nps(scores: list[object], expected: float | None) -> None:
    assert nps(scores) == expected


def test_top_two_box_generalizes_csat() -> None:
    assert csat([5, 4, 3, 2, 1]) == 40.0
    assert csat([5, 5, 6, None]) == 100.0
    assert top_two_box([7, 6, 5], 1, 7) == pytest.approx(200 / 3)
    assert top_two_box([1, 2], 1, 7) == 0.0
    assert csat([]) is None


def test_means() -> None:
    assert ces([1, 7, 4, None, 8]) == 4.0
    assert mean([1, 2], 1, 5) == 1.5
    assert ces([]) is None


def test_summaries_per_question_type() -> None:
    assert summarize(Nps(id="n", text="N"), [10, 9, 7, 3, None]) == Summary(
        n=4, mean=7.25, nps=25.0, promoters=50.0, passives=25.0, detractors=25.0
    )
    assert summarize(Csat(id="c", text="C"), [5, 4, 1, 2]) == Summary(n=4, mean=3.0, top_two_box=50.0)
    assert summarize(Rating(id="r", text="R", min=0, max=10), [10, 9, 0, 1]) == Summary(
        n=4, mean=5.0, top_two_box=50.0
    )
    assert summarize(Ces(id="e", text="E"), [6, 7]) == Summary(n=2, mean=6.5)
    assert summarize(FreeText(id="t", text="T"), ["a", None, "b"]) == Summary(n=2)
    assert summarize(Nps(id="n", text="N"), [None]) == Summary(n=0)
