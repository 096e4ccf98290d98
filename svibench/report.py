"""Tables, summaries and drift plots from committed run rows (Markdown: svibench.leaderboard).

Everything here is a pure read of ``results/<run>/rows``: deterministic ordering and fixed
number formatting, so rerunning (or resuming) a run yields byte-identical tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from svibench.atomic import atomic_write
from svibench.drift import (
    DRIFT_MEASURES,
    DRIFT_METRICS,
    HEADLINE_MEASURE,
    aggregate_cases,
    bootstrap_ci,
    can_reach,
    drift_table,
    headline_drift_metric,
    holm,
    min_attainable_p,
    one_sample_p,
    paired_test,
    signed_rank_ci,
)
from svibench.errors import SvibenchError
from svibench.store import RunStore, clip_seconds

HEADLINE_PREFERENCE = ("quality_score",)
FLOAT = "%.6f"
NAN = float("nan")
CONFIDENCE = 0.95  # family-wise over a drift table's measures (Bonferroni), see drift_ci_table


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
        for name in HEADLINE_PREFERENCE:
            if name in self.columns:
                return name
        return headline_drift_metric(self.columns) or self.columns[0]

    @property
    def drift_columns(self) -> tuple[str, ...]:
        """The validated drift measures of this run (``svibench.drift.DRIFT_METRICS``), in
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


def case_means(run: RunData) -> pd.DataFrame:
    """Mean over clips per (generator, case, metric)."""
    return (
        run.rows.groupby(["generator", "case", "metric"], sort=True)["value"].mean().reset_index()
    )


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


def drift_summary(run: RunData) -> pd.DataFrame:
    per_case = drift_table(run.rows, run.seconds_per_clip, run.directions)
    return aggregate_cases(per_case, measures=DRIFT_MEASURES)


def drift_ci_table(
    run: RunData, measure: str = HEADLINE_MEASURE, simultaneous: bool = True
) -> pd.DataFrame:
    """Per (generator, drift metric): the centre of the per-case ``measure`` with an exact CI.

    ``estimate`` is the Hodges-Lehmann estimate and [low, high] the exact signed-rank CI
    (``svibench.drift.signed_rank_ci``): distribution-free, so "no drift" is not claimed or
    denied on the strength of a bootstrap that under-covers with a dozen cases. ``simultaneous``:
    each interval at ``1 - (1 - CONFIDENCE) / k`` (Bonferroni over the run's k drift metrics), so
    "no drift on any measure" holds at 95 % family-wise; else 95 % per cell. ``achieved`` is the
    confidence the cases allow (below ``confidence`` with too few cases: then nothing is called
    drift). ``drifts``: the CI reaches the confidence and excludes 0. ``p``: exact Wilcoxon p
    against 0; ``p_min``: the smallest p n cases allow.
    """
    cols = run.drift_columns
    per_case = drift_table(
        run.rows[run.rows["metric"].isin(cols)], run.seconds_per_clip, run.directions
    )
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


def format_ci(
    mean: float, low: float = float("nan"), high: float = float("nan"), digits: int = 4
) -> str:
    """``mean [low, high]`` with fixed digits; "–" when undefined (deterministic table cells)."""
    if not np.isfinite(mean):
        return "–"
    s = f"{mean:.{digits}f}"
    if np.isfinite(low) and np.isfinite(high):
        s += f" [{low:.{digits}f}, {high:.{digits}f}]"
    return s


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


def print_summary(root: Path, console: Any) -> None:
    from rich.table import Table

    write_tables(root)
    run = load_run(root)
    q = quality_table(run).set_index(["generator", "metric"])
    gens = ranking(run, q.reset_index())
    from svibench.completeness import run_completeness

    status = run_completeness(root)
    dci = drift_ci_table(run).set_index(["generator", "metric"])
    table = Table(
        title=f"{run.suite}: mean over cases; drift = {HEADLINE_MEASURE} of the validated drift "
        "measures (positive = worse; * = simultaneous exact 95 % CI excludes 0)"
        + (f"\n{status.note().upper()}" if status.note() else "")
    )
    table.add_column("metric")
    for gen in gens:
        done = "" if status.generator_complete(gen) else " (incomplete)"
        table.add_column(gen + done, justify="right")
    for c in run.columns:
        arrow = "↑" if run.directions[c] else "↓"
        table.add_row(
            f"{c} {arrow}",
            *[format_ci(q.loc[(g, c), "mean"]) if (g, c) in q.index else "–" for g in gens],
        )
    for c in run.drift_columns:
        table.add_row(
            f"drift {c}",
            *[
                format_ci(dci.loc[(g, c), "estimate"], digits=3)
                + (" *" if dci.loc[(g, c), "drifts"] else "")
                if (g, c) in dci.index
                else "–"
                for g in gens
            ],
            style="dim" if c != run.drift_headline else None,
        )
    console.print(table)


def clip_curve_ci(run: RunData, metric: str, seed: int = 0) -> pd.DataFrame:
    """Per (generator, clip) of one metric: mean over cases with the bootstrap 95 % CI over
    cases, the same estimator (drift.bootstrap_ci, seeded) as the tables' CIs."""
    sub = run.rows[run.rows["metric"] == metric]
    return _bootstrap_table(sub, ("generator", "clip"), seed)


def plot_curves(run: RunData, folder: Path, prefix: str | None = None) -> list[Path]:
    """One figure per metric: mean over cases per clip with its bootstrap 95 % CI band (the
    tables' CI), one line per generator; every line and band in the legend.

    Files are ``folder/drift_<prefix>_<metric>.{png,svg,pdf}`` (prefix: the suite name by
    default); returns the PNGs. The title names the run (``prefix``, else the run folder), so
    two runs of one suite are told apart.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = prefix or run.root.name or run.suite
    title = name if name == run.suite else f"{name} (suite {run.suite})"
    stem = prefix or run.suite
    paths = []
    for metric in run.columns:
        fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=200)
        handles, labels = [], []
        for gen, g in clip_curve_ci(run, metric).groupby("generator", sort=True):
            t = (g["clip"].to_numpy() + 0.5) * clip_seconds(run.seconds_per_clip, gen)
            (line,) = ax.plot(t, g["mean"], marker="o", ms=3)
            band = ax.fill_between(t, g["low"], g["high"], alpha=0.2, color=line.get_color())
            handles.append((band, line))
            labels.append(f"{gen} (n = {int(g['n'].max())} cases)")
        ax.set_xlabel("video time (s, clip midpoint)")
        ax.set_ylabel(f"{metric} ({'higher' if run.directions[metric] else 'lower'} is better)")
        ax.set_title(f"{title}: {metric} per clip", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(
            handles,
            labels,
            fontsize=7,
            title="line: mean over cases; band: bootstrap 95 % CI",
            title_fontsize=7,
        )
        fig.tight_layout()
        paths.append(save_png(fig, folder / f"drift_{stem}_{metric}.png"))
    return paths


def save_png(fig, path: Path) -> Path:
    """Write a matplotlib figure atomically as PNG, plus SVG and PDF beside it (for papers),
    without version or date stamps (byte-stable files), and close it. Returns the PNG path."""
    import matplotlib
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    stamps = {
        "png": {"Software": None},
        "svg": {"Date": None, "Creator": None},
        "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None},
    }
    with matplotlib.rc_context({"svg.hashsalt": "svibench", "svg.fonttype": "none"}):
        for fmt, metadata in stamps.items():
            atomic_write(
                path.with_suffix(f".{fmt}"),
                lambda p, fmt=fmt, md=metadata: fig.savefig(p, format=fmt, metadata=md),
            )
    plt.close(fig)
    return path


def paired_table(run: RunData, reference: str) -> pd.DataFrame:
    """Every generator vs ``reference`` on the same cases, per metric (per-case clip means) and
    per validated drift metric (per-case ``worse_per_min``, rows ``<metric> drift``); Holm over
    all tests. ``p_min_holm``: the smallest Holm-adjusted p these n cases could give at all;
    ``reachable``: whether p < 0.05 is attainable."""
    cm = case_means(run)
    if reference not in set(cm["generator"]):
        raise SvibenchError(f"{run.root}: reference generator '{reference}' is not in this run")
    per_case = drift_table(
        run.rows[run.rows["metric"].isin(run.drift_columns)], run.seconds_per_clip, run.directions
    )
    drift_rows = per_case.assign(
        metric=per_case["metric"] + " drift", value=per_case[HEADLINE_MEASURE]
    )
    cm = pd.concat([cm, drift_rows[["generator", "case", "metric", "value"]]], ignore_index=True)
    records = []
    for metric in [*run.columns, *[f"{c} drift" for c in run.drift_columns]]:
        ref = cm[(cm["generator"] == reference) & (cm["metric"] == metric)].set_index("case")[
            "value"
        ]
        for gen in sorted(set(cm["generator"]) - {reference}):
            other = cm[(cm["generator"] == gen) & (cm["metric"] == metric)].set_index("case")[
                "value"
            ]
            common = sorted(set(ref.index) & set(other.index))
            res = paired_test(other.loc[common].to_numpy(), ref.loc[common].to_numpy())
            records.append({"generator": gen, "metric": metric, **res})
    df = pd.DataFrame.from_records(records)
    if not df.empty:
        df["w_p_holm"] = holm(df["w_p"].to_numpy())
        m = int(np.isfinite(df["w_p"]).sum())
        df["p_min_holm"] = np.minimum(1.0, df["p_min"] * max(m, 1))
        df["reachable"] = [can_reach(int(n), max(m, 1)) for n in df["n"]]
    return df
