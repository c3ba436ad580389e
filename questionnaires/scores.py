"""Scores computed from answers, in one place so that dashboards, exports and tests agree.

- **NPS**: each 0–10 answer is a detractor (0–6), passive (7–8) or promoter (9–10); the score is
  % promoters − % detractors, from −100 to 100.
- **Top-two-box** (CSAT and ratings): % of answers on the two highest points of the scale — 4–5 of CSAT's 1–5,
  6–7 of a 1–7 rating.
- **Mean** for CES and ratings.

Skipped answers (None) are not responses and are left out; so is anything that is not an int on the scale,
which keeps a stray value from skewing a score instead of failing a whole report. Percentages are not rounded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import msgspec

from questionnaires.model import Ces, Csat, Nps, Question, Rating, scale_range

NpsCategory = Literal["detractor", "passive", "promoter"]


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    """The scores that make sense for one scale question; the others are None."""

    n: int
    """Responses counted (skips and off-scale values left out)."""
    mean: float | None = None
    nps: float | None = None
    promoters: float | None = None
    """Percentage of promoters (NPS only); likewise passives and detractors."""
    passives: float | None = None
    detractors: float | None = None
    top_two_box: float | None = None


def nps_category(score: int) -> NpsCategory:
    """Detractor (0–6), passive (7–8) or promoter (9–10); ValueError outside 0–10."""
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10:
        raise ValueError(f"an NPS answer is an int from 0 to 10, not {score!r}")
    if score <= 6:
        return "detractor"
    return "passive" if score <= 8 else "promoter"


def _on_scale(values: Iterable[object], low: int, high: int) -> list[int]:
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool) and low <= v <= high]


def nps(scores: Iterable[object]) -> float | None:
    """% promoters − % detractors over the 0–10 answers; None when there are none."""
    valid = _on_scale(scores, 0, 10)
    if not valid:
        return None
    promoters = sum(1 for s in valid if s >= 9)
    detractors = sum(1 for s in valid if s <= 6)
    return 100 * (promoters - detractors) / len(valid)


def top_two_box(scores: Iterable[object], low: int, high: int) -> float | None:
    """% of answers on the two highest points of the `low`–`high` scale; None when there are none."""
    valid = _on_scale(scores, low, high)
    if not valid:
        return None
    return 100 * sum(1 for s in valid if s >= high - 1) / len(valid)


def csat(scores: Iterable[object]) -> float | None:
    """CSAT: top-two-box (4–5) of 1–5 answers."""
    return top_two_box(scores, 1, 5)


def mean(scores: Iterable[object], low: int, high: int) -> float | None:
    """Mean of the answers on the `low`–`high` scale; None when there are none."""
    valid = _on_scale(scores, low, high)
    return sum(valid) / len(valid) if valid else None


def ces(scores: Iterable[object]) -> float | None:
    """CES: mean of 1–7 answers (higher is easier)."""
    return mean(scores, 1, 7)


def summarize(question: Question, values: Iterable[object]) -> Summary:
    """The scores of `question`'s type over its answers: NPS for nps, top-two-box and mean for csat and
    rating, mean for ces. Other question types have no score: only ``n`` is filled."""
    scale = scale_range(question)
    if scale is None:
        return Summary(n=sum(1 for v in values if v is not None))
    low, high = scale
    valid = _on_scale(values, low, high)
    n = len(valid)
    if isinstance(question, Nps):
        if not n:
            return Summary(n=0)
        counts = {"detractor": 0, "passive": 0, "promoter": 0}
        for score in valid:
            counts[nps_category(score)] += 1
        return Summary(
            n=n,
            mean=mean(valid, low, high),
            nps=nps(valid),
            promoters=100 * counts["promoter"] / n,
            passives=100 * counts["passive"] / n,
            detractors=100 * counts["detractor"] / n,
        )
    if isinstance(question, Ces):
        return Summary(n=n, mean=mean(valid, low, high))
    assert isinstance(question, Csat | Rating)
    return Summary(n=n, mean=mean(valid, low, high), top_two_box=top_two_box(valid, low, high))
