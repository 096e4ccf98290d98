"""Tables from committed run rows: the one place rows become quality, drift and paired tables.

Everything here is a pure read of ``results/<run>/rows``: deterministic ordering and fixed
number formatting, so rerunning (or resuming) a run yields byte-identical tables. Renderers
(svibench.render: Markdown, plots, console) and the commands only call these. Tables are keyed
by ``generator``; :func:`relabel` puts rows of several runs or trained variants under one label
each (an ablation row is a variant, its unit a (case, seed) pair), so the same tables serve.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from svibench.analysis.drift import (
    DRIFT_MEASURES,
    DRIFT_METRICS,
    HEADLINE_MEASURE,
    aggregate_cases,
    drift_table,
    headline_drift_metric,
)
from svibench.analysis.stats import (
    bootstrap_ci,
    can_reach,
    holm,
    min_attainable_p,
    one_sample_p,
    paired_test,
    signed_rank_ci,
)
from svibench.atomic import atomic_write
from svibench.errors import SvibenchError
from svibench.metrics.layout import LAYOUT
from svibench.store import RunStore, clip_seconds, shared_seconds

FLOAT = "%.6f"
NAN = float("nan")
CONFIDENCE = 0.95  # family-wise over a drift table's measures (Bonferroni), see drift_ci_table
MEAN = "mean"  # the per-case value "mean over clips" next to the drift summaries (case_values)


@dataclass(frozen=True)
class RunData:
    root: Path
    suite: str
    rows: pd.DataFrame  # suite, generator, case, clip, seed, metric, value
    directions: dict[str, bool]  # metric column -> higher_is_better
    columns: tuple[str, ...]  # metric columns in metric-set order
    seconds_per_clip: float | dict[str, float]  # {generator: s} when their m differ

    @property
    def headline(self) -> str:
        """The ranking column: the layout's quality headline, else the headline drift metric,
        else the first metric column (svibench/metrics/layout.toml)."""
        for name in LAYOUT.quality_headline:
            if name in self.columns:
                return name
        return headline_drift_metric(self.columns) or self.columns[0]

    @property
    def drift_columns(self) -> tuple[str, ...]:
        """The validated drift measures of this run (``analysis.drift.DRIFT_METRICS``), in
        that list's order: the headline drift metric first."""
        return tuple(m for m in DRIFT_METRICS if m in self.columns)

    @property
    def drift_headline(self) -> str | None:
        return headline_drift_metric(self.columns)


def load_run(root: Path) -> RunData:
    store = RunStore(root)
    manifest = store.manifest()
    rows = store.all_rows()
    if rows.empty:
        raise SvibenchError(f"{root}: no committed clips yet")
    directions: dict[str, bool] = {}
    for m in manifest["metrics"]:
        directions.update(m["higher_is_better"])
    spc = store.seconds_per_clip(sorted(set(rows["generator"])))  # each generator's own m
    present = set(rows["metric"])
    columns = tuple(c for c in directions if c in present)
    return RunData(Path(root), manifest["suite"]["name"], rows, directions, columns, spc)


@dataclass(frozen=True)
class Labelled:
    """The rows of ``generator`` in ``run``, shown as ``label``; with ``unit``, each case
    becomes the unit ``<case>@<unit>`` (e.g. one per training seed)."""

    run: RunData
    generator: str
    label: str
    unit: str = ""


def relabel(parts: Sequence[Labelled], root: Path, suite: str) -> RunData:
    """One RunData whose ``generator`` column holds the labels of ``parts`` (rows of several
    runs or variants compared in one table). Row order follows the runs' rows, so tables and
    seeded bootstraps match the source run's. The runs must agree on metric directions and
    clip length; a (label, unit) given twice is an error (its rows would mix)."""
    if not parts:
        raise ValueError("relabel: no rows to relabel")
    keys = [(p.label, p.unit) for p in parts]
    if len(set(keys)) != len(keys):
        raise ValueError(f"relabel: a (label, unit) pair is given twice in {keys}")
    runs: list[RunData] = []
    for p in parts:
        if not any(p.run is r for r in runs):
            runs.append(p.run)
    first = runs[0]
    directions, columns = dict(first.directions), list(first.columns)
    frames = []
    seconds: dict[str, float] = {}  # label -> its clip length (each generator's own m)
    for p in parts:
        spc = clip_seconds(p.run.seconds_per_clip, p.generator)
        if seconds.setdefault(p.label, spc) != spc:
            raise SvibenchError(f"{p.run.root}: label '{p.label}' mixes clips of different lengths")
    for run in runs:
        for metric, hib in run.directions.items():
            if directions.setdefault(metric, hib) != hib:
                raise SvibenchError(f"{run.root}: metric '{metric}' changes direction")
        columns += [c for c in run.columns if c not in columns]
        mine = {p.generator: p for p in parts if p.run is run}
        rows = run.rows[run.rows["generator"].isin(mine)].copy()
        gens = rows["generator"].tolist()
        rows["case"] = [
            f"{c}@{mine[g].unit}" if mine[g].unit else c
            for g, c in zip(gens, rows["case"], strict=True)
        ]
        rows["generator"] = [mine[g].label for g in gens]
        frames.append(rows)
    rows = pd.concat(frames, ignore_index=True)
    if rows.empty:
        rows = pd.DataFrame(columns=first.rows.columns)
    return RunData(Path(root), suite, rows, directions, tuple(columns), shared_seconds(seconds))


def case_means(run: RunData) -> pd.DataFrame:
    """Mean over clips per (generator, case, metric)."""
    return (
        run.rows.groupby(["generator", "case", "metric"], sort=True)["value"].mean().reset_index()
    )


def case_drift(run: RunData, metrics: Iterable[str] | None = None) -> pd.DataFrame:
    """The drift summaries of every (generator, case, metric) series (``drift_table``), of
    ``metrics`` only when given."""
    rows = run.rows if metrics is None else run.rows[run.rows["metric"].isin(list(metrics))]
    return drift_table(rows, run.seconds_per_clip, run.directions)


def case_values(
    run: RunData, measures: Sequence[str], metrics: Sequence[str] | None = None
) -> pd.DataFrame:
    """Long per-case values (generator, case, metric, measure, value): ``MEAN`` = the case's
    clip mean, any other measure = that drift summary of the case's series; the inputs of the
    paired tests."""
    metrics = run.columns if metrics is None else metrics
    frames = []
    if MEAN in measures:
        cm = case_means(run)
        frames.append(cm[cm["metric"].isin(list(metrics))].assign(measure=MEAN))
    drift = [m for m in measures if m != MEAN]
    if drift:
        per_case = case_drift(run, metrics)
        frames.append(
            per_case.melt(
                id_vars=["generator", "case", "metric"], value_vars=drift, var_name="measure"
            )
        )
    columns = ["generator", "case", "metric", "measure", "value"]
    return pd.concat([f[columns] for f in frames], ignore_index=True)


def _bootstrap_table(values: pd.DataFrame, keys: tuple[str, ...], seed: int) -> pd.DataFrame:
    """Per group of ``keys``: n, mean of ``value`` and its seeded bootstrap 95 % CI."""
    records = []
    for group, g in values.groupby(list(keys), sort=True):
        mean, low, high = bootstrap_ci(g["value"].to_numpy(), seed=seed)
        records.append(
            {
                **dict(zip(keys, group, strict=True)),
                "n": len(g),
                "mean": mean,
                "low": low,
                "high": high,
            }
        )
    return pd.DataFrame.from_records(records, columns=[*keys, "n", "mean", "low", "high"])


def quality_table(run: RunData, seed: int = 0) -> pd.DataFrame:
    """Per (generator, metric): mean over cases of the per-case clip mean, bootstrap 95 % CI."""
    return _bootstrap_table(case_means(run), ("generator", "metric"), seed)


def clip_curves(run: RunData) -> pd.DataFrame:
    """Per (generator, metric, clip): mean and standard error over cases (the drift curves)."""
    g = run.rows.groupby(["generator", "metric", "clip"], sort=True)["value"]
    out = g.agg(["mean", "count", "std"]).reset_index()
    out["sem"] = out["std"].fillna(0.0) / np.sqrt(out["count"])
    return out.drop(columns="std").rename(columns={"count": "n"})


def clip_curve_ci(run: RunData, metric: str, seed: int = 0) -> pd.DataFrame:
    """Per (generator, clip) of one metric: mean over cases with the bootstrap 95 % CI over
    cases, the same estimator (stats.bootstrap_ci, seeded) as the tables' CIs."""
    sub = run.rows[run.rows["metric"] == metric]
    return _bootstrap_table(sub, ("generator", "clip"), seed)


def drift_summary(run: RunData) -> pd.DataFrame:
    """Per (generator, metric, drift measure): mean over cases with a bootstrap 95 % CI."""
    return aggregate_cases(case_drift(run), measures=DRIFT_MEASURES)


def drift_ci_table(
    run: RunData, measure: str = HEADLINE_MEASURE, simultaneous: bool = True
) -> pd.DataFrame:
    """Per (generator, drift metric): the centre of the per-case ``measure`` with an exact CI.

    ``estimate`` is the Hodges-Lehmann estimate and [low, high] the exact signed-rank CI
    (``analysis.stats.signed_rank_ci``): distribution-free, so "no drift" is not claimed or
    denied on the strength of a bootstrap that under-covers with a dozen cases. ``simultaneous``:
    each interval at ``1 - (1 - CONFIDENCE) / k`` (Bonferroni over the run's k drift metrics), so
    "no drift on any measure" holds at 95 % family-wise; else 95 % per cell. ``achieved`` is the
    confidence the cases allow (below ``confidence`` with too few cases: then nothing is called
    drift). ``drifts``: the CI reaches the confidence and excludes 0. ``p``: exact Wilcoxon p
    against 0; ``p_min``: the smallest p n cases allow.
    """
    cols = run.drift_columns
    per_case = case_drift(run, cols)
    level = 1 - (1 - CONFIDENCE) / (max(1, len(cols)) if simultaneous else 1)
    records = []
    for (gen, metric), g in per_case.groupby(["generator", "metric"], sort=True):
        vals = g[measure].to_numpy(dtype=np.float64)
        est, low, high, achieved = signed_rank_ci(vals, level)
        n = int(np.isfinite(vals).sum())
        reached = bool(np.isfinite(achieved) and achieved >= level)
        records.append(
            {
                "generator": gen,
                "metric": metric,
                "measure": measure,
                "n": n,
                "estimate": est,
                "mean": float(np.nanmean(vals)) if n else NAN,
                "low": low,
                "high": high,
                "confidence": level,
                "achieved": achieved,
                "p": one_sample_p(vals),
                "p_min": min_attainable_p(n),
                "drifts": bool(reached and (low > 0 or high < 0)),
            }
        )
    columns = ["generator", "metric", "measure", "n", "estimate", "mean", "low", "high"]
    return pd.DataFrame.from_records(
        records, columns=[*columns, "confidence", "achieved", "p", "p_min", "drifts"]
    )


def paired_records(
    values: pd.DataFrame, reference: str, tests: Iterable[tuple[str, str, str]]
) -> list[dict[str, Any]]:
    """``paired_test`` of each (generator, metric, measure) in ``tests`` against ``reference``
    on their common cases (``values``: ``case_values`` output); a side with no values gives a
    test on 0 cases. Records: generator, metric, measure and the test's fields."""
    series = values.set_index(["generator", "metric", "measure", "case"])["value"].sort_index()
    empty = pd.Series(dtype=np.float64)

    def cases(key: tuple[str, str, str]) -> pd.Series:
        try:
            return series.loc[key]
        except KeyError:
            return empty

    records = []
    for gen, metric, measure in tests:
        a, b = cases((gen, metric, measure)), cases((reference, metric, measure))
        common = sorted(set(a.index) & set(b.index))
        res = paired_test(a.loc[common].to_numpy(), b.loc[common].to_numpy())
        records.append({"generator": gen, "metric": metric, "measure": measure, **res})
    return records


def paired_table(run: RunData, reference: str) -> pd.DataFrame:
    """Every generator vs ``reference`` on the same cases, per metric (per-case clip means) and
    per validated drift metric (per-case ``worse_per_min``, rows ``<metric> drift``); Holm over
    all tests. ``p_min_holm``: the smallest Holm-adjusted p these n cases could give at all;
    ``reachable``: whether p < 0.05 is attainable."""
    values = pd.concat(
        [
            case_values(run, (MEAN,)),
            case_values(run, (HEADLINE_MEASURE,), run.drift_columns),
        ],
        ignore_index=True,
    )
    gens = set(values["generator"])
    if reference not in gens:
        raise SvibenchError(f"{run.root}: reference generator '{reference}' is not in this run")
    others = sorted(gens - {reference})
    tests = [(g, m, MEAN) for m in run.columns for g in others]
    tests += [(g, m, HEADLINE_MEASURE) for m in run.drift_columns for g in others]
    df = pd.DataFrame.from_records(paired_records(values, reference, tests))
    if df.empty:
        return df
    df["metric"] = [
        m if measure == MEAN else f"{m} drift"
        for m, measure in zip(df["metric"], df["measure"], strict=True)
    ]
    df = df.drop(columns="measure")
    df["w_p_holm"] = holm(df["w_p"].to_numpy())
    m = int(np.isfinite(df["w_p"]).sum())
    df["p_min_holm"] = np.minimum(1.0, df["p_min"] * max(m, 1))
    df["reachable"] = [can_reach(int(n), max(m, 1)) for n in df["n"]]
    return df


def ranking(run: RunData, quality: pd.DataFrame) -> list[str]:
    """Generators sorted by the headline metric (best first; ties by name)."""
    head = quality[quality["metric"] == run.headline].set_index("generator")["mean"]
    sign = -1 if run.directions[run.headline] else 1
    gens = sorted(set(run.rows["generator"]))
    return sorted(
        gens,
        key=lambda g: (
            sign * head.get(g, np.nan) if np.isfinite(head.get(g, np.nan)) else np.inf,
            g,
        ),
    )


def write_tables(root: Path) -> dict[str, Path]:
    """tables/{quality,drift,curves}.csv under the run folder (deterministic bytes)."""
    run = load_run(root)
    out = {}
    for name, df in (
        ("quality", quality_table(run)),
        ("drift", drift_summary(run)),
        ("curves", clip_curves(run)),
    ):
        path = Path(root) / "tables" / f"{name}.csv"
        atomic_write(
            path,
            lambda p, df=df: df.to_csv(p, index=False, float_format=FLOAT, lineterminator="\n"),
        )
        out[name] = path
    return out
