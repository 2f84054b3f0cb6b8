"""NPS maths: hand-worked examples and properties."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.reporting.nps import SMALL_SAMPLE, Nps, category

answers = st.lists(st.integers(min_value=0, max_value=10), max_size=300)


def test_hand_worked_example() -> None:
    # 10 answers: 5 promoters (9, 9, 10, 10, 10), 2 passives (7, 8), 3 detractors (0, 3, 6).
    nps = Nps.of([9, 9, 10, 10, 10, 7, 8, 0, 3, 6])
    assert (nps.promoters, nps.passives, nps.detractors, nps.n) == (5, 2, 3, 10)
    assert nps.score == pytest.approx(20.0)  # 50% - 30%
    # variance = p + d - (p - d)^2 = 0.5 + 0.3 - 0.04 = 0.76; se = sqrt(0.076) = 0.27568
    assert nps.margin == pytest.approx(100 * 1.959964 * math.sqrt(0.076), rel=1e-9)
    assert round(nps.margin) == 54
    assert nps.small and nps.rounded() == 20


def test_boundaries_of_the_categories() -> None:
    assert [category(v) for v in (0, 6, 7, 8, 9, 10)] == [
        "detractor", "detractor", "passive", "passive", "promoter", "promoter"]
    with pytest.raises(ValueError):
        category(11)


def test_no_answers_has_no_score_and_all_promoters_has_no_margin() -> None:
    assert Nps().score is None and Nps().margin is None and Nps().small
    unanimous = Nps.of([10] * 40)
    assert unanimous.score == 100.0 and unanimous.margin == 0.0 and not unanimous.small


def test_small_sample_flag_at_the_stated_threshold() -> None:
    assert Nps(SMALL_SAMPLE - 1, 0, 0).small
    assert not Nps(SMALL_SAMPLE, 0, 0).small


def test_a_typical_survey_matches_the_textbook_margin() -> None:
    # 400 answers, 50% promoters, 20% detractors: NPS 30; variance 0.7 - 0.09 = 0.61,
    # margin 1.96 * sqrt(0.61 / 400) = 7.65 points.
    nps = Nps(200, 120, 80)
    assert nps.score == 30.0
    assert nps.margin == pytest.approx(7.65, abs=0.01)


@given(answers)
def test_score_is_within_bounds(values: list[int]) -> None:
    nps = Nps.of(values)
    if values:
        assert nps.score is not None and -100 <= nps.score <= 100
        assert nps.margin is not None and 0 <= nps.margin <= 100 * 1.96 / math.sqrt(len(values))
    assert nps.n == len(values)


@given(answers, st.randoms())
def test_order_does_not_matter(values: list[int], rng: random.Random) -> None:
    shuffled = values[:]
    rng.shuffle(shuffled)
    assert Nps.of(shuffled) == Nps.of(values)


@given(answers, answers)
def test_counts_add_up(first: list[int], second: list[int]) -> None:
    assert Nps.of(first) + Nps.of(second) == Nps.of(first + second)


@given(answers.filter(bool))
def test_repeating_every_answer_keeps_the_score_and_narrows_the_margin(values: list[int]
                                                                        ) -> None:
    once, four_times = Nps.of(values), Nps.of(values * 4)
    assert four_times.score == pytest.approx(once.score)
    assert once.margin is not None and four_times.margin is not None
    assert four_times.margin == pytest.approx(once.margin / 2)


@given(answers.filter(bool))
def test_turning_a_detractor_into_a_promoter_never_lowers_the_score(values: list[int]) -> None:
    better = [10 if v <= 6 else v for v in values]
    assert Nps.of(better).score >= Nps.of(values).score  # type: ignore[operator]
