"""The dashboard's charts as inline SVG: figures in, markup out. Pure, no I/O.

Drawn on the server so that the page needs no script and loads nothing from elsewhere. Every chart is an
``<svg role="img">`` named by its ``<title>`` and summed up by its ``<desc>``; the page shows the same figures in
a table, which is what a screen reader or a copy into a spreadsheet should use. Everything the caller passes is
text to escape, never markup. Styling is left to classes (``server/static/dashboard.css``): the page's
Content-Security-Policy allows no inline ``style``.

Each chart is drawn in its own coordinate system (``viewBox``) and scales to the width it is given, so one small
chart per touchpoint reads on a phone and several fit side by side on a desktop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from itertools import pairwise

import msgspec
from markupsafe import Markup

WIDTH = 320
"""Every chart's width in its own units; the page scales it."""


class ScorePoint(msgspec.Struct, frozen=True, kw_only=True):
    """One bucket of a score series."""

    label: str
    """The bucket as the axis names it, e.g. ``3 Mar``."""
    value: float | None
    """None: no answers in the bucket (the line has a gap)."""
    low: float | None = None
    high: float | None = None
    """The 95% confidence interval; None when there are too few answers for one (drawn without a band, hollow)."""
    n: int = 0


class Bar(msgspec.Struct, frozen=True):
    label: str
    value: float


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def _number(value: float) -> str:
    """A coordinate, short: two decimals at most, no trailing zeros."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _frame(chart_id: str, title: str, desc: str, height: float, body: list[str], kind: str) -> Markup:
    ident = _text(chart_id)
    # Markup from parts this module wrote: every text in them went through `_text`, every number is formatted here.
    return Markup(  # noqa: S704
        f'<svg class="chart {kind}" role="img" viewBox="0 0 {WIDTH} {_number(height)}" '
        f'aria-labelledby="{ident}-title {ident}-desc" focusable="false">'
        f'<title id="{ident}-title">{_text(title)}</title><desc id="{ident}-desc">{_text(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def empty_chart(chart_id: str, title: str, message: str = "No data in this range") -> Markup:
    """A chart's place when there is nothing to draw: the message, not empty axes."""
    body = [f'<text class="empty" x="{WIDTH / 2:g}" y="48" text-anchor="middle">{_text(message)}</text>']
    return _frame(chart_id, title, message, 80, body, "is-empty")


SCORE_HEIGHT = 176
_LEFT, _RIGHT, _TOP, _BOTTOM, _INSET = 36, 12, 12, 28, 8


def score_chart(
    chart_id: str,
    title: str,
    points: Sequence[ScorePoint],
    *,
    floor: float = -100,
    ceiling: float = 100,
    ticks: Sequence[float] = (-100, -50, 0, 50, 100),
) -> Markup:
    """A score over time: a line through each bucket's score, a translucent band for its confidence interval,
    and a hollow point where the interval is missing because too few answered. Empty buckets leave a gap."""
    scored = [p for p in points if p.value is not None]
    if not scored:
        return empty_chart(chart_id, title)
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, SCORE_HEIGHT - _TOP - _BOTTOM
    # The first and last buckets sit a little inside the grid, so their points and bands are not cut at its ends.
    step = (plot_w - 2 * _INSET) / max(len(points) - 1, 1)

    def x(index: int) -> float:
        return _LEFT + (_INSET + index * step if len(points) > 1 else plot_w / 2)

    def y(value: float) -> float:
        clamped = min(max(value, floor), ceiling)
        return _TOP + (ceiling - clamped) / (ceiling - floor) * plot_h

    body = []
    for tick in ticks:
        body.append(
            f'<line class="grid{" zero" if tick == 0 else ""}" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" '
            f'y1="{_number(y(tick))}" y2="{_number(y(tick))}"/>'
            f'<text class="axis" x="{_LEFT - 5}" y="{_number(y(tick) + 4)}" text-anchor="end">{tick:g}</text>'
        )
    for run in _runs(points, lambda p: p.low is not None and p.high is not None):
        if len(run) == 1:  # one bucket alone: its interval as a bar
            index, point = run[0]
            body.append(
                f'<rect class="band" x="{_number(x(index) - 3)}" width="6" y="{_number(y(point.high or 0))}" '
                f'height="{_number(y(point.low or 0) - y(point.high or 0))}"/>'
            )
            continue
        upper = [f"{_number(x(i))},{_number(y(p.high or 0))}" for i, p in run]
        lower = [f"{_number(x(i))},{_number(y(p.low or 0))}" for i, p in reversed(run)]
        body.append(f'<polygon class="band" points="{" ".join(upper + lower)}"/>')
    for run in _runs(points, lambda p: p.value is not None):
        if len(run) > 1:
            path = " ".join(f"{_number(x(i))},{_number(y(p.value or 0))}" for i, p in run)
            body.append(f'<polyline class="line" points="{path}"/>')
    for index, point in enumerate(points):
        if point.value is None:
            continue
        hollow = point.low is None or point.high is None
        body.append(
            f'<circle class="{"point no-ci" if hollow else "point"}" cx="{_number(x(index))}" '
            f'cy="{_number(y(point.value))}" r="{3.5 if hollow else 3}"/>'
        )
    baseline = SCORE_HEIGHT - 8
    for index in _labelled(len(points), plot_w - 2 * _INSET):
        edge = len(points) > 1 and index in (0, len(points) - 1)
        anchor = ("start" if index == 0 else "end") if edge else "middle"
        body.append(
            f'<text class="axis" x="{_number(x(index))}" y="{baseline}" text-anchor="{anchor}">'
            f"{_text(points[index].label)}</text>"
        )
    return _frame(chart_id, title, _score_summary(points), SCORE_HEIGHT, body, "score")


_LABEL_ROOM = 60
"""Units between the positions of two neighbouring date labels: a centred "23 Mar" beside one at an edge."""


def _labelled(count: int, span: float, most: int = 5) -> list[int]:
    """The buckets the time axis names: the first, the last, and evenly spaced ones between, as many as fit
    (`most` at most) in `span` units without touching."""
    for labels in range(min(count, most), 1, -1):
        chosen = sorted({round(i * (count - 1) / (labels - 1)) for i in range(labels)})
        if all((b - a) * span / (count - 1) >= _LABEL_ROOM for a, b in pairwise(chosen)):
            return chosen
    return [0] if count == 1 else [0, count - 1]


def _runs(points: Sequence[ScorePoint], keep: Callable[[ScorePoint], bool]) -> list[list[tuple[int, ScorePoint]]]:
    """Consecutive stretches of points for which `keep` holds."""
    runs: list[list[tuple[int, ScorePoint]]] = [[]]
    for index, point in enumerate(points):
        if keep(point):
            runs[-1].append((index, point))
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def _score_summary(points: Sequence[ScorePoint]) -> str:
    scored = [p for p in points if p.value is not None]
    last = scored[-1]
    interval = (
        f"95% CI {last.low:g} to {last.high:g}"
        if last.low is not None and last.high is not None
        else "too few answers for an interval"
    )
    parts = [
        f"{len(points)} buckets from {points[0].label} to {points[-1].label}, {len(scored)} with answers.",
        f"Latest, {last.label}: {last.value:g} ({interval}, n={last.n}).",
    ]
    if any(p.low is None or p.high is None for p in scored):
        parts.append("Hollow points have too few answers for a confidence interval.")
    return " ".join(parts)


BAR_ROW = 32
_VALUE_ROOM = 56


def bar_chart(chart_id: str, title: str, bars: Sequence[Bar], *, unit: str = "") -> Markup:
    """Horizontal bars, one per row, each labelled above its bar and valued at its end: long labels (decision
    reasons) and a phone's width both fit. Bars keep the given order, so a histogram's bins stay in order."""
    if not bars or not any(bar.value for bar in bars):
        return empty_chart(chart_id, title)
    largest = max(bar.value for bar in bars)
    room = WIDTH - _VALUE_ROOM
    body = []
    for row, bar in enumerate(bars):
        top = row * BAR_ROW
        width = bar.value / largest * room if largest > 0 else 0
        body.append(
            f'<text class="label" x="0" y="{top + 12}">{_text(bar.label)}</text>'
            f'<rect class="bar" x="0" y="{top + 17}" width="{_number(max(width, 1))}" height="11" rx="2"/>'
            f'<text class="value" x="{_number(width + 5)}" y="{top + 27}">{_text(_count(bar.value))}{_text(unit)}</text>'
        )
    desc = "; ".join(f"{bar.label}: {_count(bar.value)}{unit}" for bar in bars)
    return _frame(chart_id, title, desc, len(bars) * BAR_ROW, body, "bars")


def _count(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
