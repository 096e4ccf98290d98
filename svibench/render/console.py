"""Console output: the run summary after ``svibench run`` / ``score`` and the ablation summary
(rich tables; the numbers are those of the Markdown tables)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.table import Table

from svibench.analysis.drift import HEADLINE_MEASURE
from svibench.analysis.tables import drift_ci_table, load_run, quality_table, ranking, write_tables
from svibench.completeness import run_completeness
from svibench.render.cells import LongCells, format_ci

if TYPE_CHECKING:
    from svibench.ablate.jobs import AblationResult


def print_summary(root: Path, console: Any) -> None:
    """The run's table on the console: every metric (mean over cases) per generator in rank
    order, then the drift of each validated drift measure (writes tables/*.csv first)."""
    write_tables(root)
    run = load_run(root)
    q = quality_table(run).set_index(["generator", "metric"])
    gens = ranking(run, q.reset_index())
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


def print_ablation_summary(result: AblationResult, console: Any) -> None:
    """A compact rich table: headline quality and drift per variant, and its Holm p."""
    long, paired = result.table, result.paired
    if long is None:
        return
    head = result.headline
    t = Table(title=f"ablation {result.spec.name}: {head}, mean [95 % CI] over (case, seed)")
    t.add_column("variant", overflow="fold")
    for c in ("status", head, "drift (rel. drop)", "p vs ref (Holm)"):
        t.add_column(c)
    get = LongCells(long)
    pi = paired.set_index(["label", "metric", "measure"]) if len(paired) else None
    for lb, s in long.drop_duplicates("label").set_index("label").iterrows():
        key = (lb, head, "mean")
        p = pi.loc[key, "w_p_holm"] if pi is not None and key in pi.index else np.nan
        st = s["status"] if s["status"] == "ok" else f"[red]{s['status']}[/red]"
        star = " ★" if lb == result.reference_label else ""
        t.add_row(
            lb + star, st, get(lb, head, "mean"), get(lb, head, "rel_drop"), format_ci(p, digits=3)
        )
    console.print(t)
    for g, o in result.outcomes.items():
        if o["status"] != "ok":
            console.print(f"[red]failed[/red] {g} ({o.get('phase')}): {o['error']}")
    if result.markdown:
        console.print(f"wrote {result.markdown}")
