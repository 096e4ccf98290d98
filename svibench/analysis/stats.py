"""Statistics across cases: bootstrap CIs, exact signed-rank CIs, paired tests, Holm.

``bootstrap_ci`` (mean with a seeded scipy bootstrap CI), ``signed_rank_ci`` (Hodges-Lehmann
estimate with its exact distribution-free CI), ``paired_test`` (two generators on the same
cases), ``one_sample_p`` (a measure vs 0) and ``holm`` (Holm-Bonferroni over many tests).
``min_attainable_p`` says how small a p-value n cases can give at all, so tables can flag
comparisons that cannot reach significance. All outputs are deterministic for fixed inputs and
seed.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from scipy import stats

ALPHA = 0.05
NAN = float("nan")


def min_attainable_p(n: int) -> float:
    """Smallest two-sided p-value of an exact paired test on n cases (Wilcoxon signed-rank or
    sign-flip permutation): every case on the same side, ``2 / 2**n``; 1 for n = 0."""
    return min(1.0, 2.0 / 2.0**n) if n > 0 else 1.0


def can_reach(n: int, tests: int = 1, alpha: float = ALPHA) -> bool:
    """Whether n cases can give p < alpha at all, after Holm over ``tests`` tests (the smallest
    p is multiplied by the number of tests)."""
    return tests * min_attainable_p(n) < alpha


def _signed_rank_cdf(n: int) -> np.ndarray:
    """P(T+ <= t) for t = 0..n(n+1)/2 under the null of the Wilcoxon signed-rank test (exact)."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for r in range(1, n + 1):  # each rank r is positive or negative with probability 1/2
        counts[r:] = counts[r:] + counts[:-r].copy()
    return np.cumsum(counts) / 2.0**n


def signed_rank_ci(
    values: Sequence[float], confidence: float = 0.95
) -> tuple[float, float, float, float]:
    """``(estimate, low, high, achieved)``: the Hodges-Lehmann estimate (median of the Walsh
    averages) of the centre of the finite values and its exact distribution-free CI, obtained by
    inverting the Wilcoxon signed-rank test (Hollander & Wolfe, Nonparametric Statistical
    Methods, sec. 3.3): the k-th smallest and k-th largest Walsh averages, with k the largest
    integer such that P(T+ <= k - 1) <= (1 - confidence) / 2.

    Exact coverage for any distribution symmetric about its centre, where a percentile
    bootstrap of the mean under-covers with a dozen cases. ``achieved``: the confidence actually
    reached; with too few values to reach ``confidence`` (n = 3: 75 % at most) the interval is
    the full range of Walsh averages and ``achieved`` says how little that is. No values: NaN.
    """
    v = np.asarray(values, dtype=np.float64)
    v = np.sort(v[np.isfinite(v)])
    n = len(v)
    if n == 0:
        return NAN, NAN, NAN, NAN
    i, j = np.triu_indices(n)
    walsh = np.sort((v[i] + v[j]) / 2.0)
    estimate = float(np.median(walsh))
    cdf = _signed_rank_cdf(n)
    tail = (1.0 - confidence) / 2.0
    k = int(np.searchsorted(cdf, tail, side="right"))  # number of t with P(T+ <= t) <= tail
    if k == 0:
        return estimate, float(walsh[0]), float(walsh[-1]), float(1.0 - 2.0 * cdf[0])
    achieved = float(1.0 - 2.0 * cdf[k - 1])
    return estimate, float(walsh[k - 1]), float(walsh[len(walsh) - k]), achieved


def one_sample_p(values: Sequence[float]) -> float:
    """Two-sided Wilcoxon signed-rank p of the finite values against 0 (exact for small n without
    ties); 1 when every value is 0, NaN with fewer than 2 values."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return NAN
    if np.all(v == 0):
        return 1.0
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return float(stats.wilcoxon(v).pvalue)


def bootstrap_ci(
    values: Sequence[float],
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    method: str = "percentile",
) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean of the finite values with a bootstrap CI of the mean.

    scipy.stats.bootstrap with ``method`` ('percentile', 'basic' or 'BCa') and a fixed-seed
    generator, so the same inputs give the same interval. No values: all NaN. One value: the CI
    is (NaN, NaN) (no spread can be estimated). All values equal: the CI is (mean, mean).
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return NAN, NAN, NAN
    mean = float(np.mean(v))
    if len(v) == 1:
        return mean, NAN, NAN
    if np.all(v == v[0]):
        return mean, mean, mean  # degenerate: scipy would warn and BCa would give NaN
    res = stats.bootstrap(
        (v,),
        np.mean,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method=method,
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    return mean, float(res.confidence_interval.low), float(res.confidence_interval.high)


def paired_test(
    a: Sequence[float],
    b: Sequence[float],
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> dict[str, float]:
    """Compare two generators on the same cases (``a[i]`` and ``b[i]`` = case i).

    Pairs with a non-finite side are dropped. Returns n, mean_diff (a - b) with its bootstrap
    CI (diff_low, diff_high), the paired t-test (t_stat, t_p), the Wilcoxon signed-rank test
    (w_stat, w_p), both two-sided, and ``p_min``: the smallest p the Wilcoxon test can give
    with these n pairs. All differences zero: statistics 0 and p-values 1.
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"paired_test: a and b differ in length ({x.shape} vs {y.shape})")
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    d = x - y
    mean_diff, low, high = bootstrap_ci(d, confidence, n_resamples, seed)
    out = {"n": float(len(d)), "mean_diff": mean_diff, "diff_low": low, "diff_high": high}
    out.update(t_stat=NAN, t_p=NAN, w_stat=NAN, w_p=NAN, p_min=min_attainable_p(len(d)))
    if len(d) < 2:
        return out
    if np.all(d == 0):
        out.update(t_stat=0.0, t_p=1.0, w_stat=0.0, w_p=1.0)
        return out
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # scipy warns on tiny n / ties; results are still defined
        t = stats.ttest_rel(x, y)
        w = stats.wilcoxon(x, y)
    out.update(
        t_stat=float(t.statistic),
        t_p=float(t.pvalue),
        w_stat=float(w.statistic),
        w_p=float(w.pvalue),
    )
    return out


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values, in the input order (NaN stays NaN, not counted).

    Sorted ascending p_(1..m): adj_(j) = max_{i<=j} min(1, (m - i + 1) p_(i)) (Holm 1979).
    """
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, NAN)
    idx = np.flatnonzero(np.isfinite(p))
    m = len(idx)
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out
