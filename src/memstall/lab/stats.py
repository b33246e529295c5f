"""Statistics for the comparison: mean and spread, percentiles, Mann-Whitney U. Pure Python.

The test is the two-sided Mann-Whitney U test (Wilcoxon rank-sum) on the per-run values
of one metric under two profiles. It assumes nothing about the distribution, which suits
a handful of runs of a noisy guest. p-value: exact (the permutation distribution of U,
counted) when there are no ties and both samples have at most 30 values; with ties and
at most 16 values in all, the exact permutation distribution of U over every split of the
pooled values (mid-ranks kept: `exact-ties`); otherwise the normal approximation with
the tie correction and a 0.5 continuity correction (as scipy.stats.mannwhitneyu's
defaults; tests check the exact and normal p against published values). The normal
approximation is poor for a handful of runs with ties (it can give p below what any
split allows), hence the permutation count there.

With n runs per profile the smallest two-sided exact p is 2 / C(2n, n): 0.1 for 3 runs,
0.029 for 4, 0.0079 for 5. Fewer than 4 runs per profile can never pass p < 0.05.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

EXACT_MAX_N = 30
PERMUTATION_MAX_N = 16


def mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def stdev(xs: Sequence[float]) -> float | None:
    """Sample standard deviation (n - 1); None below two values."""
    if len(xs) < 2:
        return None
    m = sum(xs) / len(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def percentile(xs: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), q in 0..100.

    >>> percentile([1, 2, 3, 4], 50)
    2.5
    """
    if not xs:
        return None
    s = sorted(xs)
    pos = (len(s) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _ranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """Average ranks (1-based) and the sizes of the tie groups."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    ties = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        ties.append(j - i + 1)
        i = j + 1
    return ranks, ties


def _u_counts(n1: int, n2: int) -> list[int]:
    """counts[u] = number of orderings of n1 x's and n2 y's with U_x = u (no ties)."""
    # f[j][u] for the current i, built by the recurrence f(i, j, u) = f(i-1, j, u-j) + f(i, j-1, u)
    prev = [[1] for _ in range(n2 + 1)]  # i = 0: U is 0 whatever j
    for i in range(1, n1 + 1):
        cur: list[list[int]] = [[1]]  # j = 0: U is 0
        for j in range(1, n2 + 1):
            size = i * j + 1
            row = [0] * size
            for u, c in enumerate(prev[j]):  # an x placed last beats all j y's
                row[u + j] += c
            for u, c in enumerate(cur[j - 1]):  # a y placed last
                row[u] += c
            cur.append(row)
        prev = cur
    return prev[n2]


@dataclass(frozen=True)
class MannWhitney:
    u: float
    """U of the first sample: how often one of its values exceeds one of the second's."""
    p_value: float
    method: str
    """'exact', 'exact-ties' (permutations, ties kept) or 'normal' (approximation)."""


def mann_whitney_u(x: Sequence[float], y: Sequence[float], method: str = "auto") -> MannWhitney | None:
    """Two-sided Mann-Whitney U test; None when a sample is empty.

    `method`: 'auto' (exact when it applies), 'exact' (refused with ties) or 'normal'.

    >>> r = mann_whitney_u([19, 22, 16, 29, 24], [20, 11, 17, 12])
    >>> (r.u, round(r.p_value, 4), r.method)
    (17.0, 0.1111, 'exact')
    """
    n1, n2 = len(x), len(y)
    if not n1 or not n2:
        return None
    ranks, ties = _ranks(list(x) + list(y))
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    big = max(u1, n1 * n2 - u1)
    if method == "exact" and max(ties) > 1:
        raise ValueError("the exact Mann-Whitney distribution assumes no ties")
    if method == "exact" or (method == "auto" and max(ties) == 1 and max(n1, n2) <= EXACT_MAX_N):
        counts = _u_counts(n1, n2)
        tail = sum(counts[math.ceil(big):])
        p = min(1.0, 2 * tail / math.comb(n1 + n2, n1))
        return MannWhitney(u1, p, "exact")
    if method == "auto" and n1 + n2 <= PERMUTATION_MAX_N:
        return MannWhitney(u1, _permutation_p(ranks, n1, big), "exact-ties")
    n = n1 + n2
    tie_term = sum(t ** 3 - t for t in ties) / (n * (n - 1))
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term))
    if sigma == 0:
        return MannWhitney(u1, 1.0, "normal")
    z = (big - n1 * n2 / 2 - 0.5) / sigma
    return MannWhitney(u1, min(1.0, math.erfc(z / math.sqrt(2))), "normal")


def _permutation_p(ranks: Sequence[float], n1: int, big: float) -> float:
    """Two-sided: the share of splits whose U is at least as far from n1*n2/2 as observed."""
    n2 = len(ranks) - n1
    centre = n1 * n2 / 2
    observed = big - centre - 1e-9
    total = extreme = 0
    for idx in itertools.combinations(range(len(ranks)), n1):
        u = sum(ranks[i] for i in idx) - n1 * (n1 + 1) / 2
        total += 1
        extreme += abs(u - centre) >= observed
    return min(1.0, extreme / total)


def min_exact_p(n1: int, n2: int) -> float:
    """The smallest two-sided p the exact test can give for these sample sizes."""
    return min(1.0, 2 / math.comb(n1 + n2, n1))
