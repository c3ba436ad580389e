"""Deterministic sampling: a replayed event gets the same draw; draws are uniform over many events."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from triggers.sampling import sample_point, sampled_in

KEYS = [f"evt-{i:06d}" for i in range(20_000)]


def test_the_draw_is_pinned() -> None:
    # Changing the hash changes past decisions on replay; this value must never move.
    assert sample_point("trg_1", "evt-0001") == 0.36136162133850736
    assert sample_point("trg_2", "evt-0001") == 0.5220289260879357


@given(trigger_id=st.text(max_size=40), key=st.text(max_size=80))
def test_the_draw_is_in_the_unit_interval_and_repeatable(trigger_id: str, key: str) -> None:
    point = sample_point(trigger_id, key)
    assert 0.0 <= point < 1.0
    assert sample_point(trigger_id, key) == point


@pytest.mark.parametrize("rate", [0.05, 0.3, 0.5, 0.9])
def test_share_sampled_in_matches_the_rate(rate: float) -> None:
    share = sum(sampled_in(rate, "trg_1", key) for key in KEYS) / len(KEYS)
    # Binomial standard deviation is at most 0.0036 here; allow four of them.
    assert abs(share - rate) < 0.015


def test_draws_are_uniform_across_deciles() -> None:
    counts = [0] * 10
    for key in KEYS:
        counts[int(sample_point("trg_1", key) * 10)] += 1
    assert all(abs(c - 2000) < 200 for c in counts), counts


def test_triggers_draw_independently_for_the_same_event() -> None:
    both = sum(sampled_in(0.5, "trg_a", k) and sampled_in(0.5, "trg_b", k) for k in KEYS) / len(KEYS)
    assert abs(both - 0.25) < 0.015


def test_rate_one_keeps_all_and_rate_zero_none() -> None:
    assert all(sampled_in(1.0, "trg_1", k) for k in KEYS[:500])
    assert not any(sampled_in(0.0, "trg_1", k) for k in KEYS[:500])


@given(key=st.text(max_size=40), low=st.floats(0, 1), high=st.floats(0, 1))
def test_raising_the_rate_only_adds_events(key: str, low: float, high: float) -> None:
    low, high = min(low, high), max(low, high)
    if sampled_in(low, "trg_1", key):
        assert sampled_in(high, "trg_1", key)


def test_parts_are_not_confused_by_concatenation() -> None:
    assert sample_point("ab", "c") != sample_point("a", "bc")
