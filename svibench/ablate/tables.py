"""The ablation's tables: the evaluation run's rows relabelled by (variant, seed) and fed to the
standard analysis tables, then written as parquet, Markdown and plots.

The unit of every statistic is a (case, seed) pair: a variant's rows of training seed s become
the cases ``<case>@s<s>`` under the variant's label (comparison generators keep their cases).
Quality = mean over clips, drift = ``analysis.drift``'s summaries; mean and bootstrap 95 % CI
over units (``quality_table``, ``drift_summary``); each variant is compared with the reference
variant on the same units (``paired_records``: Wilcoxon signed-rank and paired t), Holm-corrected
over every test in the table.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from svibench.ablate.spec import format_value
from svibench.analysis.stats import holm
from svibench.analysis.tables import (
    MEAN,
    Labelled,
    RunData,
    case_values,
    drift_summary,
    load_run,
    paired_records,
    quality_table,
    relabel,
)
from svibench.atomic import atomic_write, atomic_write_text
from svibench.metrics.layout import LAYOUT
from svibench.render.markdown import ablation_markdown
from svibench.render.plots import plot_curves, plot_vs_value

if TYPE_CHECKING:  # jobs imports this module to finalize its result
    from svibench.ablate.jobs import AblationResult

STATS_COLUMNS = ["label", "metric", "measure", "n", "mean", "low", "high"]
PAIRED_COLUMNS = [
    "label",
    "reference",
    "metric",
    "measure",
    "n",
    "mean_diff",
    "diff_low",
    "diff_high",
    "t_stat",
    "t_p",
    "w_stat",
    "w_p",
]


def units(result: AblationResult) -> RunData | None:
    """The committed rows of the jobs that finished, one label per table row: a variant's seeds
    become units ``<case>@s<seed>``; None when nothing finished."""
    ok = {g for g, o in result.outcomes.items() if o["status"] == "ok"}
    if not ok or not (result.root / "run" / "manifest.json").exists():
        return None
    run = load_run(result.root / "run")
    parts = [Labelled(run, v.generator, v.label, f"s{v.seed}") for v in result.variants]
    parts += [Labelled(run, g, g) for g in result.spec.compare]
    return relabel([p for p in parts if p.generator in ok], result.root, result.spec.name)


def _row_status(result: AblationResult) -> pd.DataFrame:
    """Per table row: kind, status (ok | partial | failed), seeds that finished, errors, values."""
    status = []
    for lb, kind in result.row_order():
        variants = [v for v in result.variants if v.label == lb]
        gens = [v.generator for v in variants] if kind == "variant" else [lb]
        outs = [result.outcomes.get(g, {"status": "failed", "error": "not run"}) for g in gens]
        n_ok = sum(o["status"] == "ok" for o in outs)
        errors = sorted(
            {f"{o.get('phase', '')}: {o['error']}".strip(": ") for o in outs if o["status"] != "ok"}
        )
        status.append(
            {
                "label": lb,
                "kind": kind,
                "status": "ok" if n_ok == len(outs) else ("failed" if n_ok == 0 else "partial"),
                "seeds_ok": n_ok,
                "seeds": len(outs),
                "error": "; ".join(errors),
                **(dict(variants[0].values) if kind == "variant" else {}),
            }
        )
    return pd.DataFrame(status)


def _stats(run: RunData | None) -> pd.DataFrame:
    """Quality (measure ``mean``) and drift summaries per (label, metric), mean and CI over units."""
    if run is None or run.rows.empty:
        return pd.DataFrame.from_records([], columns=STATS_COLUMNS)
    quality = quality_table(run).assign(measure=MEAN)
    both = pd.concat([quality, drift_summary(run)], ignore_index=True)
    return both.rename(columns={"generator": "label"})[STATS_COLUMNS]


def _paired(result: AblationResult, run: RunData | None) -> pd.DataFrame:
    """Each variant vs the reference variant on the same (case, seed) units, per tested measure
    and metric; Holm over every test (Wilcoxon and t separately)."""
    ref = result.reference_label
    tests: list[tuple[str, str, str]] = []
    values = None
    if run is not None and not run.rows.empty:
        values = case_values(run, LAYOUT.ablation_tested)
        present = set(zip(values["generator"], values["metric"], values["measure"], strict=True))
        tests = [
            (lb, metric, measure)
            for lb, kind in result.row_order()
            if kind == "variant" and lb != ref
            for measure in LAYOUT.ablation_tested
            for metric in run.columns
            if (lb, metric, measure) in present and (ref, metric, measure) in present
        ]
    records = [
        {"label": r.pop("generator"), "reference": ref, **r}
        for r in (paired_records(values, ref, tests) if tests else [])
    ]
    paired = pd.DataFrame.from_records(records, columns=PAIRED_COLUMNS)
    if len(paired):
        paired["w_p_holm"] = holm(paired["w_p"].to_numpy())  # Holm over every test in the table
        paired["t_p_holm"] = holm(paired["t_p"].to_numpy())
    else:
        paired["w_p_holm"] = paired["t_p_holm"] = []
    return paired


def build_tables(result: AblationResult) -> tuple[RunData | None, pd.DataFrame, pd.DataFrame]:
    """(relabelled run, long table, paired tests): the long table has one row per (label,
    metric, measure) in table order with the row's status; ``reference`` marks the reference."""
    run = units(result)
    long = _row_status(result).merge(_stats(run), on="label", how="left")
    order = {lb: i for i, (lb, _) in enumerate(result.row_order())}
    long = long.sort_values(
        ["label", "metric", "measure"],
        key=lambda s: s.map(order) if s.name == "label" else s,
        kind="mergesort",
    ).reset_index(drop=True)
    long["reference"] = long["label"] == result.reference_label
    return run, long, _paired(result, run)


def training_table(result: AblationResult) -> pd.DataFrame:
    """One row per (variant, seed): its training (status, cache, steps, final loss, time)."""
    records = []
    for v in result.variants:
        o = result.outcomes.get(v.generator, {})
        t = o.get("train") or {}
        records.append(
            {
                "generator": v.generator,
                "label": v.label,
                "seed": v.seed,
                "train_dir": v.train_dir.name,
                "status": o.get("status", "?"),
                "error": o.get("error", ""),
                "cached": bool(o.get("cached")),
                "steps": t.get("steps", -1),
                "final_loss": t.get("metrics", {}).get("final_loss", np.nan),
                "train_s": t.get("seconds", np.nan),
                **{f"param:{p}": format_value(x) for p, x in v.values},
            }
        )
    return pd.DataFrame(records)


def _write_parquet(path: Path, df: pd.DataFrame) -> None:
    atomic_write(path, lambda p: df.to_parquet(p, index=False))


def finalize(result: AblationResult, plots: bool = True) -> AblationResult:
    """The merge step: tables (Markdown + parquet) and plots (the store's claims need no repair)."""
    run, long, paired = build_tables(result)
    result.headline = run.headline if run is not None else ""
    pngs: list[Path] = []
    if plots and run is not None and len(run.rows):
        pngs += plot_vs_value(result, run, long, result.root / "plots")
        pngs += plot_curves(run, result.root / "plots")
    root = result.root
    _write_parquet(root / "ablation.parquet", long)
    _write_parquet(root / "paired.parquet", paired)
    _write_parquet(root / "training.parquet", training_table(result))
    md = ablation_markdown(result, run, long, paired, pngs)
    result.markdown = atomic_write_text(root / "ablation.md", md)
    result.table, result.paired = long, paired
    return result
