"""Drift: how a per-clip metric series changes over a long video, summarised per case and across cases.

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

Across cases: ``aggregate_cases`` (mean with a seeded bootstrap CI per measure; the statistics
live in ``svibench.analysis.stats``). Deterministic for fixed inputs and seed.

Which metrics count as *drift measures* (``DRIFT_METRICS``) is decided by the validity bench
(bench/metric_validity.py, docs/validity.md): a metric is listed only if its drift stays at 0
(95 % CI contains 0) on clean videos with a moving camera and it detects known degradations;
the lists themselves are data (svibench/metrics/layout.toml) and this module is their only
binding: nothing else spells them out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from svibench.analysis.stats import bootstrap_ci
from svibench.metrics.layout import LAYOUT
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
# The one binding of each list in Python; the data (and why each entry is there) is in
# svibench/metrics/layout.toml.
DRIFT_MEASURES = LAYOUT.drift_measures  # the drift summaries tables report
HEADLINE_MEASURE = LAYOUT.drift_headline_measure  # the summary of the headline drift column
DRIFT_SIZE_MEASURES = LAYOUT.drift_size_measures  # larger = more drift, whatever the direction
DRIFT_SUMMARIES = LAYOUT.validity_summaries  # what the validity bench compares
DRIFT_METRICS = LAYOUT.drift_metrics  # validated drift metrics, in headline preference order
TWO_SIDED = LAYOUT.two_sided  # descriptive: the sign says up or down, not worse
NAN = float("nan")


def headline_drift_metric(columns: Sequence[str]) -> str | None:
    """The first ``DRIFT_METRICS`` entry among ``columns`` (None if there is none)."""
    present = set(columns)
    return next((m for m in DRIFT_METRICS if m in present), None)


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
