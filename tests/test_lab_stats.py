"""memstall.lab.stats: Mann-Whitney U against published values, and its invariants."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memstall.lab.stats import mann_whitney_u, mean, min_exact_p, percentile, stdev

# scipy.stats.mannwhitneyu documentation example (males vs females, ages):
# exact two-sided p = 0.1111111111111111, asymptotic (continuity-corrected) p = 0.11134688653314041
MALES = [19, 22, 16, 29, 24]
FEMALES = [20, 11, 17, 12]


def test_exact_matches_scipy_documentation() -> None:
    r = mann_whitney_u(MALES, FEMALES)
    assert r is not None
    assert (r.u, r.method) == (17.0, "exact")
    assert r.p_value == pytest.approx(0.1111111111111111, abs=1e-12)


def test_normal_approximation_matches_scipy_documentation() -> None:
    r = mann_whitney_u(MALES, FEMALES, method="normal")
    assert r is not None and r.method == "normal"
    assert r.p_value == pytest.approx(0.11134688653314041, abs=1e-12)


def test_complete_separation_is_two_over_binomial() -> None:
    # every x below every y: only 2 of the C(n1+n2, n1) orderings are this extreme
    r3 = mann_whitney_u([1, 2, 3], [4, 5, 6])
    r5 = mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert r3 is not None and r5 is not None
    assert (r3.u, r3.p_value) == (0.0, pytest.approx(2 / 20))
    assert (r5.u, r5.p_value) == (0.0, pytest.approx(2 / 252))
    assert min_exact_p(3, 3) == pytest.approx(0.1)
    assert min_exact_p(4, 4) == pytest.approx(2 / 70)


def test_ties_use_the_tie_corrected_normal_approximation() -> None:
    # by hand: ranks 1 2 3 4 5 6.5 6.5 8 9 10, U = 41.5 - 21 = 20.5, tie term (2^3-2)/90,
    # sigma = sqrt(24/12 * (11 - 6/90)), z = (20.5 - 12 - 0.5) / sigma
    r = mann_whitney_u([19, 22, 16, 29, 24, 20], [20, 11, 17, 12], method="normal")
    assert r is not None and (r.u, r.method) == (20.5, "normal")
    sigma = math.sqrt(24 / 12 * (11 - 6 / 90))
    assert r.p_value == pytest.approx(math.erfc((20.5 - 12 - 0.5) / sigma / math.sqrt(2)))
    with pytest.raises(ValueError, match="ties"):
        mann_whitney_u([1, 2], [2, 3], method="exact")


def test_small_samples_with_ties_count_permutations() -> None:
    # 3 runs each, one tie across profiles: pooled ranks 1, 2, 3.5, 3.5, 5, 6; x has 1, 2, 3.5,
    # so U = 6.5 - 6 = 0.5. Of the C(6,3) = 20 splits, U <= 0.5 in two ({1,2,3.5} with either
    # 3.5) and U >= 8.5 in two ({3.5,5,6}): 4 are as far from 4.5 as observed, p = 4/20.
    r = mann_whitney_u([0, 0.5, 1], [1, 2, 3])
    assert r is not None and (r.u, r.method) == (0.5, "exact-ties")
    assert r.p_value == pytest.approx(4 / 20)
    # the permutation p is never below the smallest p the run counts allow
    r = mann_whitney_u([0, 0, 5], [9, 9, 9])
    assert r is not None and r.p_value >= min_exact_p(3, 3)


def test_all_equal_and_empty() -> None:
    r = mann_whitney_u([1, 1, 1], [1, 1, 1])
    assert r is not None and r.p_value == 1.0
    assert mann_whitney_u([], [1.0]) is None


def test_summaries() -> None:
    assert mean([1, 2, 3, 4]) == 2.5 and mean([]) is None
    assert stdev([2, 4, 4, 4, 5, 5, 7, 9]) == pytest.approx(2.138089935299395)
    assert stdev([1]) is None
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10, 20, 30], 99) == pytest.approx(29.8)
    assert percentile([], 50) is None


samples = st.lists(st.integers(min_value=-50, max_value=50), min_size=1, max_size=7)


@given(samples, samples)
def test_p_in_range_and_symmetric(x: list[int], y: list[int]) -> None:
    a, b = mann_whitney_u(x, y), mann_whitney_u(y, x)
    assert a is not None and b is not None
    assert 0 < a.p_value <= 1
    assert a.p_value == pytest.approx(b.p_value)
    assert a.u + b.u == len(x) * len(y)


@given(st.lists(st.integers(0, 10**6), min_size=16, max_size=16, unique=True))
def test_exact_and_normal_agree_for_moderate_samples(values: list[int]) -> None:
    x, y = values[:8], values[8:]
    e, n = mann_whitney_u(x, y, method="exact"), mann_whitney_u(x, y, method="normal")
    assert e is not None and n is not None
    assert abs(e.p_value - n.p_value) < 0.02
