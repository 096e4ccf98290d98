"""Tables, summaries, leaderboard Markdown and drift plots from committed run rows.

Everything here is a pure read of ``results/<run>/rows``: deterministic ordering and fixed
number formatting, so rerunning (or resuming) a run yields byte-identical tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from svibench.atomic import atomic_write, atomic_write_text
from svibench.drift import aggregate_cases, bootstrap_ci, drift_table, holm, paired_test
from svibench.errors import SvibenchError
from svibench.store import RunStore

HEADLINE_PREFERENCE = ("quality_score",)
DRIFT_MEASURES = ("delta", "slope_per_min", "rel_drop", "vde_norm")
FLOAT = "%.6f"


@dataclass(frozen=True)
class RunData:
    root: Path
    suite: str
    rows: pd.DataFrame  # suite, generator, case, clip, seed, metric, value
    directions: dict[str, bool]  # metric column -> higher_is_better
    columns: tuple[str, ...]  # metric columns in metric-set order
    seconds_per_clip: float

    @property
    def headline(self) -> str:
        for name in HEADLINE_PREFERENCE:
            if name in self.columns:
                return name
        return self.columns[0]


def load_run(root: Path) -> RunData:
    store = RunStore(root)
    manifest = store.manifest()
    rows = store.all_rows()
    if rows.empty:
        raise SvibenchError(f"{root}: no committed clips yet")
    directions: dict[str, bool] = {}
    for m in manifest["metrics"]:
        directions.update(m["higher_is_better"])
    proto = manifest["suite"]["protocol"]
    spc = (proto["frames_per_clip"] - proto["motion_frames"]) / proto["fps"]
    present = set(rows["metric"])
    columns = tuple(c for c in directions if c in present)
    return RunData(Path(root), manifest["suite"]["name"], rows, directions, columns, spc)


def case_means(run: RunData) -> pd.DataFrame:
    """Mean over clips per (generator, case, metric)."""
    return run.rows.groupby(["generator", "case", "metric"], sort=True)["value"].mean().reset_index()


def quality_table(run: RunData, seed: int = 0) -> pd.DataFrame:
    """Per (generator, metric): mean over cases of the per-case clip mean, bootstrap 95 % CI."""
    records = []
    for (gen, metric), g in case_means(run).groupby(["generator", "metric"], sort=True):
        mean, low, high = bootstrap_ci(g["value"].to_numpy(), seed=seed)
        records.append({"generator": gen, "metric": metric, "n": len(g), "mean": mean, "low": low, "high": high})
    return pd.DataFrame.from_records(records, columns=["generator", "metric", "n", "mean", "low", "high"])


def clip_curves(run: RunData) -> pd.DataFrame:
    """Per (generator, metric, clip): mean and standard error over cases (the drift curves)."""
    g = run.rows.groupby(["generator", "metric", "clip"], sort=True)["value"]
    out = g.agg(["mean", "count", "std"]).reset_index()
    out["sem"] = out["std"].fillna(0.0) / np.sqrt(out["count"])
    return out.drop(columns="std").rename(columns={"count": "n"})


def drift_summary(run: RunData) -> pd.DataFrame:
    per_case = drift_table(run.rows, run.seconds_per_clip, run.directions)
    return aggregate_cases(per_case, measures=DRIFT_MEASURES)


def write_tables(root: Path) -> dict[str, Path]:
    """tables/{quality,drift,curves}.csv under the run folder (deterministic bytes)."""
    run = load_run(root)
    out = {}
    for name, df in (("quality", quality_table(run)), ("drift", drift_summary(run)), ("curves", clip_curves(run))):
        path = Path(root) / "tables" / f"{name}.csv"
        atomic_write(path, lambda p, df=df: df.to_csv(p, index=False, float_format=FLOAT, lineterminator="\n"))
        out[name] = path
    return out


def _fmt(mean: float, low: float = float("nan"), high: float = float("nan"), digits: int = 4) -> str:
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
    return sorted(gens, key=lambda g: (sign * head.get(g, np.nan) if np.isfinite(head.get(g, np.nan)) else np.inf, g))


def print_summary(root: Path, console: Any) -> None:
    from rich.table import Table

    write_tables(root)
    run = load_run(root)
    q = quality_table(run).set_index(["generator", "metric"])
    d = drift_summary(run).set_index(["generator", "metric", "measure"])
    gens = ranking(run, q.reset_index())
    table = Table(title=f"{run.suite}: mean over cases; drift = relative drop first→last clip (positive = worse)")
    table.add_column("metric")
    for gen in gens:
        table.add_column(gen, justify="right")
    for c in run.columns:
        arrow = "↑" if run.directions[c] else "↓"
        table.add_row(f"{c} {arrow}", *[_fmt(q.loc[(g, c), "mean"]) if (g, c) in q.index else "–" for g in gens])
    for c in run.columns:
        table.add_row(f"drift {c}", *[_fmt(d.loc[(g, c, "rel_drop"), "mean"], digits=3) if (g, c, "rel_drop") in d.index else "–" for g in gens],
                      style="dim" if c != run.headline else None)
    console.print(table)


def plot_curves(run: RunData, folder: Path) -> list[Path]:
    """One PNG per metric: mean over cases per clip, ±1 s.e. band, one line per generator."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = clip_curves(run)
    paths = []
    for metric in run.columns:
        fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
        for gen, g in curves[curves["metric"] == metric].groupby("generator", sort=True):
            t = (g["clip"].to_numpy() + 0.5) * run.seconds_per_clip
            ax.plot(t, g["mean"], marker="o", ms=3, label=gen)
            ax.fill_between(t, g["mean"] - g["sem"], g["mean"] + g["sem"], alpha=0.2)
        ax.set_xlabel("video time (s, clip midpoint)")
        ax.set_ylabel(f"{metric} ({'higher' if run.directions[metric] else 'lower'} is better)")
        ax.set_title(f"{run.suite}: {metric} per clip")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = folder / f"drift_{run.suite}_{metric}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda p, fig=fig: fig.savefig(p, format="png", metadata={"Software": None}))
        plt.close(fig)
        paths.append(path)
    return paths


def paired_table(run: RunData, reference: str) -> pd.DataFrame:
    """Every generator vs ``reference`` on the same cases, per metric; Holm over all tests."""
    cm = case_means(run)
    if reference not in set(cm["generator"]):
        raise SvibenchError(f"{run.root}: reference generator '{reference}' is not in this run")
    records = []
    for metric in run.columns:
        ref = cm[(cm["generator"] == reference) & (cm["metric"] == metric)].set_index("case")["value"]
        for gen in sorted(set(cm["generator"]) - {reference}):
            other = cm[(cm["generator"] == gen) & (cm["metric"] == metric)].set_index("case")["value"]
            common = sorted(set(ref.index) & set(other.index))
            res = paired_test(other.loc[common].to_numpy(), ref.loc[common].to_numpy())
            records.append({"generator": gen, "metric": metric, **res})
    df = pd.DataFrame.from_records(records)
    if not df.empty:
        df["w_p_holm"] = holm(df["w_p"].to_numpy())
    return df


def leaderboard_markdown(run: RunData, plots: list[Path], out_dir: Path, reference: str | None) -> str:
    q = quality_table(run)
    qi = q.set_index(["generator", "metric"])
    d = drift_summary(run).set_index(["generator", "metric", "measure"])
    n_cases = run.rows["case"].nunique()
    n_clips = run.rows["clip"].nunique()
    lines = [
        f"## {run.suite}",
        "",
        f"{n_cases} cases × {n_clips} clips ({run.seconds_per_clip:.2f} s each). Mean over cases of the "
        "per-case clip mean, with a bootstrap 95 % CI over cases. Sorted by "
        f"`{run.headline}`. Drift = relative drop of `{run.headline}` from the first to the last clip "
        "(positive = worse) and its least-squares slope per minute.",
        "",
    ]
    head = ["rank", "generator", f"{run.headline}", *[c for c in run.columns if c != run.headline], "drift (rel. drop)", "slope / min", "n"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for i, gen in enumerate(ranking(run, q), 1):
        def cell(metric: str, ci: bool = False, gen: str = gen) -> str:
            if (gen, metric) not in qi.index:
                return "–"
            r = qi.loc[(gen, metric)]
            return _fmt(r["mean"], r["low"], r["high"]) if ci else _fmt(r["mean"])

        def drift(measure: str, gen: str = gen) -> str:
            key = (gen, run.headline, measure)
            return _fmt(d.loc[key, "mean"], d.loc[key, "low"], d.loc[key, "high"]) if key in d.index else "–"

        n = int(qi.loc[(gen, run.headline), "n"]) if (gen, run.headline) in qi.index else 0
        lines.append("| " + " | ".join([str(i), gen, cell(run.headline, True),
                                         *[cell(c) for c in run.columns if c != run.headline],
                                         drift("rel_drop"), drift("slope_per_min"), str(n)]) + " |")
    lines += ["", "### Drift per metric (relative drop first→last clip, mean [95 % CI] over cases)", ""]
    gens = ranking(run, q)
    lines.append("| metric | " + " | ".join(gens) + " |")
    lines.append("|---|" + "---|" * len(gens))
    for metric in run.columns:
        cells = []
        for gen in gens:
            key = (gen, metric, "rel_drop")
            cells.append(_fmt(d.loc[key, "mean"], d.loc[key, "low"], d.loc[key, "high"], 3) if key in d.index else "–")
        lines.append(f"| {metric} {'↑' if run.directions[metric] else '↓'} | " + " | ".join(cells) + " |")
    if reference:
        pt = paired_table(run, reference)
        lines += ["", f"### Paired comparison against `{reference}` (same cases; Wilcoxon, Holm-corrected)", ""]
        lines.append("| generator | metric | mean diff [95 % CI] | p (Holm) | n |")
        lines.append("|---|---|---|---|---|")
        for _, r in pt.iterrows():
            lines.append(f"| {r['generator']} | {r['metric']} | {_fmt(r['mean_diff'], r['diff_low'], r['diff_high'])} | "
                         f"{_fmt(r['w_p_holm'], digits=3)} | {int(r['n'])} |")
    if plots:
        lines += ["", "### Drift curves", ""]
        for p in plots:
            rel = p.relative_to(out_dir) if p.is_relative_to(out_dir) else p
            lines.append(f"![{p.stem}]({rel.as_posix()})")
    return "\n".join(lines) + "\n"


def write_leaderboard(runs: list[Path], out: Path | None = None, reference: str | None = None) -> Path:
    """leaderboard.md (+ PNG drift plots) for one or more runs; one section per run."""
    if not runs:
        raise SvibenchError("no runs given")
    out_dir = Path(out) if out else Path(runs[0])
    sections = ["# svibench leaderboard", ""]
    for root in runs:
        run = load_run(Path(root))
        write_tables(Path(root))
        plots = plot_curves(run, out_dir / "plots")
        ref = reference if reference in set(run.rows["generator"]) else None
        sections.append(leaderboard_markdown(run, plots, out_dir, ref))
    path = out_dir / "leaderboard.md"
    atomic_write_text(path, "\n".join(sections))
    return path
