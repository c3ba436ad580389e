"""The interval methods and the query rules, without a database: t quantiles against the printed tables, the
edges of each method, and where each declines to give an interval."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from plumbing.errors import FieldError
from research.stats import methods
from research.stats.methods import Z, t_quantile
from research.stats.model import StatsQueryInvalid
from research.stats.query import bucket_count, stats_query
from research.stats.scales import DETRACTORS_TO, PROMOTERS_FROM, top_two_box_from


@pytest.mark.parametrize(
    ("df", "quantile"),
    # t(0.975, df) as statistical tables print it.
    [(1, 12.706205), (2, 4.302653), (3, 3.182446), (4, 2.776445), (9, 2.262157), (10, 2.228139), (29, 2.045230),
     (30, 2.042272), (31, 2.039513), (40, 2.021075), (60, 2.000298), (120, 1.979930), (1000, 1.962339)],
)  # fmt: skip
def test_t_quantiles_match_the_tables(df: int, quantile: float) -> None:
    assert t_quantile(df) == pytest.approx(quantile, abs=2e-6)


def test_z_is_the_normal_quantile() -> None:
    assert round(Z, 6) == 1.959964


def test_nps_declines_an_interval_below_ten_answers_or_without_variance() -> None:
    assert methods.nps(9, 5, 1).no_interval == "n < 10"
    assert methods.nps(9, 5, 1).value == pytest.approx(400 / 9)
    everyone_promotes = methods.nps(12, 12, 0)
    assert (everyone_promotes.value, everyone_promotes.low, everyone_promotes.no_interval) == (
        100.0,
        None,
        "no variance",
    )
    assert methods.nps(10, 0, 0).no_interval == "no variance"  # all passives
    # Near the ends the interval is cut to ±100: 11 promoters and 1 detractor of 12.
    p, q = 11 / 12, 1 / 12
    near_top = methods.nps(12, 11, 1)
    assert near_top.high == 100.0
    assert near_top.low == pytest.approx(100 * (p - q) - 100 * Z * math.sqrt((p + q - (p - q) ** 2) / 12))


def test_wilson_stays_inside_zero_to_hundred_at_the_edges() -> None:
    none = methods.proportion(10, 0)
    # 0 of 10: the upper end is z² / (n + z²) = 3.8415 / 13.8415 = 27.75%.
    assert (none.value, none.low) == (0.0, 0.0)
    assert none.high == pytest.approx(100 * Z**2 / (10 + Z**2))
    every = methods.proportion(10, 10)
    assert (every.high, every.low) == (100.0, pytest.approx(100 * 10 / (10 + Z**2)))
    assert methods.proportion(0, 0).value is None


def test_means_need_two_answers_and_some_variance() -> None:
    assert methods.mean(1, 4.0, None).no_interval == "n < 2"
    assert methods.mean(5, 4.0, 0.0).no_interval == "no variance"
    assert methods.mean(0, None, None).value is None
    unbounded = methods.mean(4, 2.0, 1.0)
    assert unbounded.low == pytest.approx(2 - 3.182446 / 2, abs=1e-6)


def test_welch_difference_worked_out_by_hand() -> None:
    # Groups of 3 (mean 5, sd 2) and 5 (mean 2, sd 1): SE² = 4/3 + 1/5 = 1.5333;
    # df = 1.5333² / ((4/3)²/2 + (1/5)²/4) = 2.3511 / 0.8989 = 2.6155, rounded down to 2.
    found = methods.difference(3, 5.0, 2.0, 5, 2.0, 1.0)
    se = math.sqrt(4 / 3 + 1 / 5)
    assert found.value == 3.0
    assert found.low == pytest.approx(3 - 4.302653 * se, abs=1e-5)
    assert found.high == pytest.approx(3 + 4.302653 * se, abs=1e-5)
    assert methods.difference(1, 5.0, None, 5, 2.0, 1.0).no_interval == "fewer than 2 in a group"
    assert methods.difference(3, 1.0, 0.0, 3, 1.0, 0.0).no_interval == "no variance"
    assert methods.difference(0, None, None, 3, 1.0, 0.5).value is None


def test_score_thresholds_come_from_the_score_definitions() -> None:
    assert (PROMOTERS_FROM, DETRACTORS_TO) == (9, 6)
    assert [top_two_box_from(1, 5), top_two_box_from(1, 7), top_two_box_from(0, 10)] == [4, 6, 9]


NOW = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)


def test_the_range_defaults_to_the_last_28_days() -> None:
    query = stats_query("touchpoint", start=None, end=None, bucket="day", tz="UTC", now=NOW)
    assert (query.start, query.end) == (NOW - timedelta(days=28), NOW)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    from_only = stats_query("trigger", start=start, end=None, bucket="week", tz="UTC", now=NOW)
    assert from_only.end == start + timedelta(days=28)


def test_every_bad_parameter_is_named_at_once() -> None:
    with pytest.raises(StatsQueryInvalid) as raised:
        stats_query("touchpoint", start=NOW, end=NOW, bucket="hour", tz="Nowhere/City", now=NOW)
    assert [e.pointer for e in raised.value.errors] == ["query:bucket", "query:tz", "query:to"]
    assert isinstance(raised.value.errors[0], FieldError)


def test_buckets_are_counted_in_the_time_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start, end = datetime(2026, 3, 10, 23, 30, tzinfo=UTC), datetime(2026, 3, 11, 22, 30, tzinfo=UTC)
    assert bucket_count(start, end, "day", ZoneInfo("UTC")) == 2
    assert bucket_count(start, end, "day", berlin) == 1  # 00:30 to 23:30 on the 11th in Berlin
    assert bucket_count(start, start + timedelta(days=7), "week", berlin) == 2
