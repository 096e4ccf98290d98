"""Drift: how a per-clip metric series changes over a long video, and statistics across cases.

Per (generator, case, metric) series ``m_1..m_N`` (clip order, NaN clips dropped):

* ``delta``          ``m_N - m_1`` (raw sign).
* ``slope_per_min``  least-squares slope of m against the clip's midpoint time in minutes,
                     ``x_k = (k + 0.5) * seconds_per_clip / 60`` (k = 0-based clip index).
* ``worse_per_min``  the same slope oriented so that positive always means "getting worse"
                     (``-slope`` for higher-is-better metrics). The headline drift summary: it
                     uses every clip, is 0 for a flat series and defined when ``m_1 = 0``
                     (docs/validity.md compares it with delta and rel_drop).
* ``rel_drop``       ``(m_1 - m_N) / |m_1|`` if higher is better, else ``(m_N - m_1) / |m_1|``:
                     positive always means the metric got worse.
* ``vde``            Video Drift Error of BlockVid (Xia et al., arXiv 2511.22973; LV-Bench
                     ``vde.py:vde``, weight_type='linear'): ``sum_{i=2..N} w_i |m_i - m_1| / |m_1|``
                     with ``w_i = N - i + 1`` (unnormalised; early clips weigh most). Upstream
                     divides by ``m_1`` (we use ``|m_1|``; equal for positive metrics) and returns
                     inf for ``m_1 = 0`` (we return NaN so means stay defined).
* ``vde_norm``       the same with the weights normalised to sum 1, comparable across clip counts.

Across cases: ``bootstrap_ci`` (mean with a seeded scipy bootstrap CI), ``paired_test`` (two
generators on the same cases), ``one_sample_p`` (drift vs 0) and ``holm`` (Holm-Bonferroni over
many tests). ``min_attainable_p`` says how small a p-value n cases can give at all, so tables can
flag comparisons that cannot reach significance. All outputs are deterministic for fixed inputs
and seed.

Which metrics count as *drift measures* (``DRIFT_METRICS``) is decided by the validity bench
(bench/metric_validity.py, docs/validity.md): a metric is listed only if its drift stays at 0
(95 % CI contains 0) on clean videos with a moving camera and it detects known degradations.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from svibench.store import clip_seconds

DRIFT_COLUMNS = (
    "n_clips",
    "first",
    "last",
    "mean",
    "delta",
    "slope_per_min",
    "worse_per_min",
    "rel_drop",
    "vde",
    "vde_norm",
)
# The drift summaries tables report (the one list: report, check and ablate import it).
DRIFT_MEASURES = ("delta", "slope_per_min", "worse_per_min", "rel_drop", "vde_norm")
HEADLINE_MEASURE = "worse_per_min"  # the drift summary of the headline drift column
# Summaries the validity bench compares (oriented so that positive = worse, except delta).
DRIFT_SUMMARIES = ("worse_per_min", "delta", "rel_drop")

# Metric columns that passed the validity bench (docs/validity.md, results/validity/): their
# worse_per_min stays at 0 (95 % CI) on clean videos with a moving camera, in the tiny world and
# on real photographs, and moves under known degradations. In preference order for the headline
# drift column: ground-truth error first (where a suite has ground truth), then reference-free
# quality series. NOT drift measures (they failed): ssim_ref, psnr_ref (similarity to the
# reference falls with camera motion), temporal_flickering, motion, seam_ratio,
# brightness_flicker (move with camera speed / zoom), sharpness_lapvar (noise scores as sharper).
# seam_mad passed narrowly but is motion-confounded by construction (a frame difference, like
# temporal_flickering): left out. lpips_gt: exactly 0 for an exact renderer whatever the weights
# (identical inputs); its sensitivity was checked with random weights only (mechanics).
DRIFT_METRICS = (
    "mae_gt",  # linear in the size of a degradation, so drift sizes compare across generators
    "psnr_gt",
    "ssim_gt",
    "colour_gt",
    "lpips_gt",
    "noise",
    "sharpness",
    "colour_cast",
    "saturation",
    "contrast",
)
# Descriptive drift measures: a change either way is drift; the sign says up or down, not worse.
TWO_SIDED = ("saturation", "contrast")
ALPHA = 0.05
NAN = float("nan")


def headline_drift_metric(columns: Sequence[str]) -> str | None:
    """The first ``DRIFT_METRICS`` entry among ``columns`` (None if there is none)."""
    present = set(columns)
    return next((m for m in DRIFT_METRICS if m in present), None)


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


def _finite_series(
    values: Sequence[float], clips: Sequence[int] | None
) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(values, dtype=np.float64)
    k = np.arange(len(v), dtype=np.float64) if clips is None else np.asarray(clips, np.float64)
    if k.shape != v.shape:
        raise ValueError(f"clips: expected {v.shape[0]} indices, got {k.shape}")
    keep = np.isfinite(v)
    order = np.argsort(k[keep], kind="stable")
    return v[keep][order], k[keep][order]


def vde(values: Sequence[float], normalise: bool = False) -> float:
    """Video Drift Error of a series (see module docstring); 0 for fewer than 2 values."""
    m = np.asarray(values, dtype=np.float64)
    n = len(m)
    if n < 2:
        return 0.0  # upstream vde.py returns 0 when N < 2
    if m[0] == 0:
        return NAN
    i = np.arange(2, n + 1, dtype=np.float64)
    w = n - i + 1  # vde.py linear weights: N-1, N-2, ..., 1 for i = 2..N
    if normalise:
        w = w / w.sum()
    return float(np.sum(w * np.abs(m[1:] - m[0]) / abs(m[0])))


def summarise_series(
    values: Sequence[float],
    seconds_per_clip: float,
    higher_is_better: bool,
    clips: Sequence[int] | None = None,
) -> dict[str, float]:
    """Drift measures of one per-clip series (``values[k]`` = clip k unless ``clips`` is given).

    Non-finite values (e.g. seam on clip 0) are dropped. Returns ``DRIFT_COLUMNS``; measures
    needing two clips are NaN with fewer.
    """
    if not seconds_per_clip > 0:
        raise ValueError(f"seconds_per_clip: must be > 0, got {seconds_per_clip}")
    v, k = _finite_series(values, clips)
    n = len(v)
    out = dict.fromkeys(DRIFT_COLUMNS, NAN)
    out["n_clips"] = float(n)
    if n == 0:
        return out
    first, last = float(v[0]), float(v[-1])
    out.update(first=first, last=last, mean=float(np.mean(v)))
    if n < 2:
        return out
    x = (k + 0.5) * seconds_per_clip / 60.0
    dx = x - x.mean()
    out["delta"] = last - first
    out["slope_per_min"] = float(np.sum(dx * (v - v.mean())) / np.sum(dx * dx))
    out["worse_per_min"] = -out["slope_per_min"] if higher_is_better else out["slope_per_min"]
    if first != 0:
        worse = (first - last) if higher_is_better else (last - first)
        out["rel_drop"] = worse / abs(first)
    out["vde"] = vde(v)
    out["vde_norm"] = vde(v, normalise=True)
    return out


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


def drift_table(
    rows: pd.DataFrame,
    seconds_per_clip: float | Mapping[str, float],
    directions: Mapping[str, bool],
) -> pd.DataFrame:
    """Drift measures per (generator, case, metric) from long per-clip rows.

    ``rows`` has columns generator, case, clip, metric, value; ``directions`` maps each metric
    to higher_is_better. Output: one row per group, sorted by generator, case, metric, with
    columns generator, case, metric, higher_is_better and ``DRIFT_COLUMNS``.
    """
    need = {"generator", "case", "clip", "metric", "value"}
    missing = sorted(need - set(rows.columns))
    if missing:
        raise ValueError(f"drift_table: rows lack columns {missing}")
    unknown = sorted(set(rows["metric"]) - set(directions))
    if unknown:
        raise ValueError(f"drift_table: no direction (higher_is_better) for metrics {unknown}")
    records = []
    keys = ["generator", "case", "metric"]
    for (gen, case, metric), g in rows.sort_values(keys + ["clip"]).groupby(keys, sort=True):
        hib = bool(directions[metric])
        summary = summarise_series(
            g["value"].to_numpy(), clip_seconds(seconds_per_clip, gen), hib, g["clip"].to_numpy()
        )
        records.append(
            {"generator": gen, "case": case, "metric": metric, "higher_is_better": hib, **summary}
        )
    columns = keys + ["higher_is_better", *DRIFT_COLUMNS]
    return pd.DataFrame.from_records(records, columns=columns)


def aggregate_cases(
    table: pd.DataFrame,
    measures: Sequence[str] = DRIFT_COLUMNS[1:],
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Mean and bootstrap CI across cases of each drift measure of ``drift_table`` output.

    One row per (generator, metric, measure): n (finite cases), mean, low, high.
    """
    records = []
    for (gen, metric), g in table.groupby(["generator", "metric"], sort=True):
        for measure in measures:
            vals = g[measure].to_numpy(dtype=np.float64)
            mean, low, high = bootstrap_ci(vals, confidence, n_resamples, seed)
            n = int(np.isfinite(vals).sum())
            records.append(
                {
                    "generator": gen,
                    "metric": metric,
                    "measure": measure,
                    "n": n,
                    "mean": mean,
                    "low": low,
                    "high": high,
                }
            )
    return pd.DataFrame.from_records(
        records, columns=["generator", "metric", "measure", "n", "mean", "low", "high"]
    )
