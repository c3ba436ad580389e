"""The dashboard's SVG charts (`server.charts`), without a server: well-formed, named for screen readers, text
escaped, nothing to draw said in words, and missing intervals drawn as such."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from server.charts import Bar, ScorePoint, bar_chart, empty_chart, score_chart

SVG = "{http://www.w3.org/2000/svg}"


def parsed(markup: str) -> ET.Element:
    """The chart as XML (it must be well-formed), in the SVG namespace as a browser reads it inline."""
    return ET.fromstring(str(markup).replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1))  # noqa: S314 (our own markup)


def named(svg: ET.Element) -> tuple[str, str]:
    title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
    assert title is not None and desc is not None
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    return title.text or "", desc.text or ""


def week(n: int, value: float | None, low: float | None = None, high: float | None = None) -> ScorePoint:
    return ScorePoint(label=f"{n} Mar", value=value, low=low, high=high, n=0 if value is None else 40)


def test_a_score_chart_draws_the_line_the_band_and_the_points() -> None:
    points = [week(2, 10, -5, 25), week(9, 30, 12, 48), week(16, 20, 4, 36)]
    svg = parsed(score_chart("nps-1", "NPS at the store", points))
    title, desc = named(svg)
    assert title == "NPS at the store"
    assert "Latest, 16 Mar: 20 (95% CI 4 to 36, n=40)" in desc
    (band,) = svg.findall(f"{SVG}polygon[@class='band']")
    assert len(band.get("points", "").split()) == 6  # three highs, then three lows back
    (line,) = svg.findall(f"{SVG}polyline[@class='line']")
    ys = [float(p.split(",")[1]) for p in line.get("points", "").split()]
    assert ys[1] < ys[2] < ys[0]  # 30 is drawn highest, 10 lowest (SVG's y grows downwards)
    assert len(svg.findall(f"{SVG}circle[@class='point']")) == 3
    assert [t.text for t in svg.findall(f"{SVG}text")][-3:] == ["2 Mar", "9 Mar", "16 Mar"]


def test_a_long_time_axis_names_a_few_buckets_that_do_not_overlap() -> None:
    days = [ScorePoint(label=f"{n} Mar", value=n) for n in range(1, 29)]
    svg = parsed(score_chart("nps-1", "NPS", days))
    labels = [t for t in svg.findall(f"{SVG}text") if t.text and t.text.endswith("Mar")]
    assert [t.text for t in labels] == ["1 Mar", "10 Mar", "19 Mar", "28 Mar"]
    assert [t.get("text-anchor") for t in labels] == ["start", "middle", "middle", "end"]


def test_a_score_without_an_interval_is_hollow_and_gets_no_band() -> None:
    points = [week(2, 10, -5, 25), week(9, 60), week(16, 20, 4, 36)]
    svg = parsed(score_chart("nps-1", "NPS", points))
    assert svg.findall(f"{SVG}polygon") == []  # no band runs through the bucket without an interval …
    assert len(svg.findall(f"{SVG}rect[@class='band']")) == 2  # … each neighbour keeps its own
    (hollow,) = svg.findall(f"{SVG}circle[@class='point no-ci']")
    assert len(svg.findall(f"{SVG}circle[@class='point']")) == 2
    assert hollow.get("cx") == svg.findall(f"{SVG}circle")[1].get("cx")
    assert "Hollow points have too few answers" in named(svg)[1]


def test_an_empty_bucket_is_a_gap_in_the_line() -> None:
    svg = parsed(score_chart("nps-1", "NPS", [week(2, 10), week(9, 20), week(16, None), week(23, 5), week(30, 0)]))
    assert len(svg.findall(f"{SVG}polyline")) == 2
    assert len(svg.findall(f"{SVG}circle")) == 4
    assert "5 buckets from 2 Mar to 30 Mar, 4 with answers" in named(svg)[1]


@pytest.mark.parametrize("points", [[], [week(2, None), week(9, None)]])
def test_a_score_chart_with_nothing_to_draw_says_so(points: list[ScorePoint]) -> None:
    svg = parsed(score_chart("nps-1", "NPS", points))
    assert named(svg) == ("NPS", "No data in this range")
    assert [t.text for t in svg.findall(f"{SVG}text")] == ["No data in this range"]
    assert svg.findall(f"{SVG}circle") == [] and svg.findall(f"{SVG}line") == []


def test_scores_beyond_the_axis_stay_inside_the_chart() -> None:
    svg = parsed(score_chart("nps-1", "NPS", [week(2, 100, 60, 140), week(9, -100, -160, -40)]))
    height = float(svg.get("viewBox", "").split()[3])
    for value in svg.find(f"{SVG}polygon").get("points", "").split():  # type: ignore[union-attr]
        assert 0 <= float(value.split(",")[1]) <= height


def test_text_is_escaped_everywhere() -> None:
    hostile = '</title><script>alert("x")</script>&'
    score = score_chart('n"><script>', hostile, [ScorePoint(label=hostile, value=1)])
    bars = bar_chart("r", hostile, [Bar(hostile, 3)], unit=hostile)
    for markup in (score, bars):
        assert "<script>" not in markup
        svg = parsed(markup)  # still well-formed
        assert named(svg)[0] == hostile
    assert [t.text for t in parsed(bars).findall(f"{SVG}text")] == [hostile, "3" + hostile]


def test_bars_keep_their_order_and_scale_to_the_largest() -> None:
    svg = parsed(
        bar_chart(
            "t", "Time to first answer", [Bar("under 5 min", 4), Bar("5 min to 15 min", 8), Bar("1 d or more", 0)]
        )
    )
    widths = [float(r.get("width", "")) for r in svg.findall(f"{SVG}rect")]
    assert widths[1] == 2 * widths[0] and widths[2] <= 1
    labels = [t.text for t in svg.findall(f"{SVG}text[@class='label']")]
    assert labels == ["under 5 min", "5 min to 15 min", "1 d or more"]
    assert named(svg)[1] == "under 5 min: 4; 5 min to 15 min: 8; 1 d or more: 0"


@pytest.mark.parametrize("bars", [[], [Bar("a", 0), Bar("b", 0)]])
def test_bars_with_nothing_to_count_say_so(bars: list[Bar]) -> None:
    assert bar_chart("r", "Why not surveyed", bars) == empty_chart("r", "Why not surveyed")


def test_one_bucket_is_drawn_in_the_middle_with_its_interval_as_a_bar() -> None:
    svg = parsed(score_chart("nps-1", "NPS", [week(2, 30, 10, 50)]))
    (point,) = svg.findall(f"{SVG}circle")
    (band,) = svg.findall(f"{SVG}rect[@class='band']")
    (label,) = [t for t in svg.findall(f"{SVG}text") if t.text == "2 Mar"]
    middle = float(point.get("cx", ""))
    assert float(band.get("x", "")) + float(band.get("width", "")) / 2 == pytest.approx(middle)
    assert (float(label.get("x", "")), label.get("text-anchor")) == (pytest.approx(middle), "middle")
