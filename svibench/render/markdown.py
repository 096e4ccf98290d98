"""Markdown: the committed leaderboard (one file plus drift-curve PNGs for one or more runs) and
the ablation table.

Leaderboard (``write_leaderboard``), per run (sections ordered by suite name, then run folder): the measured rows sorted by the
headline metric, every metric with its bootstrap 95 % CI over cases, drift of the headline,
the number of cases and seeds; drift of every metric; published numbers for a suite of the same
name (``baselines/published/*.toml``), marked as published with their source; optional paired
comparisons against a reference generator; links to the drift-curve PNGs.

Ablation (``ablation_markdown``): one row per variant and comparison generator, drift per
metric, the paired tests against the reference variant, the trainings and the plots.

Output is deterministic: no timestamps, sorted rows, fixed number formats, seeded bootstrap.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from svibench.ablate.spec import format_value
from svibench.analysis.drift import HEADLINE_MEASURE, TWO_SIDED
from svibench.analysis.stats import can_reach, min_attainable_p
from svibench.analysis.tables import (
    RunData,
    drift_ci_table,
    load_run,
    paired_table,
    quality_table,
    ranking,
    write_tables,
)
from svibench.atomic import atomic_write_text
from svibench.completeness import run_completeness
from svibench.errors import SvibenchError
from svibench.published import PublishedTable, for_suite, load_published
from svibench.render.cells import LongCells, format_ci
from svibench.render.plots import plot_curves

if TYPE_CHECKING:
    from svibench.ablate.jobs import AblationResult

DRIFT_MARK = " ▲"  # the drift's simultaneous 95 % CI excludes 0


def _arrow(run: RunData, metric: str) -> str:
    if metric.endswith(" drift"):
        return "↓"  # worse_per_min: less drift is better
    return "↑" if run.directions[metric] else "↓"


def _drift_cell(di: pd.DataFrame, key: tuple[str, str]) -> str:
    if key not in di.index:
        return "–"
    r = di.loc[key]
    return format_ci(r["estimate"], r["low"], r["high"], digits=3) + (
        DRIFT_MARK if r["drifts"] else ""
    )


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _header(cells: list[str], right_from: int = 1) -> list[str]:
    align = ["---" if i < right_from else "---:" for i in range(len(cells))]
    return [_row(cells), "|" + "|".join(align) + "|"]


def measured_table(
    run: RunData, q: pd.DataFrame, d: pd.DataFrame, incomplete: dict[str, str] | None = None
) -> list[str]:
    qi = q.set_index(["generator", "metric"])
    di = d.set_index(["generator", "metric"])
    seeds = run.rows.groupby("generator")["seed"].nunique()
    cols = [run.headline, *[c for c in run.columns if c != run.headline]]
    dh = run.drift_headline
    head = [
        "rank",
        "generator",
        *[f"{c} {_arrow(run, c)}" for c in cols],
        *([f"drift: {dh} worse/min ↓"] if dh else []),
        "cases",
        "seeds",
    ]
    lines = _header(head, right_from=2)
    for i, gen in enumerate(ranking(run, q), 1):
        note = (incomplete or {}).get(gen)
        cells = [str(i), gen + (f" **(incomplete: {note})**" if note else "")]
        for c in cols:
            key = (gen, c)
            cells.append(
                format_ci(*qi.loc[key, ["mean", "low", "high"]]) if key in qi.index else "–"
            )
        if dh:
            cells.append(_drift_cell(di, (gen, dh)))
        n = int(qi.loc[(gen, run.headline), "n"]) if (gen, run.headline) in qi.index else 0
        cells += [str(n), str(int(seeds.get(gen, 0)))]
        lines.append(_row(cells))
    return lines


def drift_per_metric(run: RunData, gens: list[str], d: pd.DataFrame) -> list[str]:
    di = d.set_index(["generator", "metric"])
    lines = _header(["drift measure", *gens])
    for metric in run.drift_columns:
        cells = [f"{metric}{' (headline)' if metric == run.drift_headline else ''}"]
        cells += [_drift_cell(di, (gen, metric)) for gen in gens]
        lines.append(_row(cells))
    return lines


def drift_note(run: RunData, d: pd.DataFrame) -> str:
    """How to read the drift table, with the confidence level and what n cases can show."""
    n = int(d["n"].max()) if not d.empty else 0
    level = float(d["confidence"].iloc[0]) if not d.empty else 0.95
    others = [c for c in run.columns if c not in run.drift_columns]
    text = (
        f"Least-squares change per minute of video, oriented so that positive = worse "
        f"(`{HEADLINE_MEASURE}`): Hodges-Lehmann estimate over cases with exact signed-rank "
        f"CIs, simultaneous 95 % (each at {100 * level:.2f} %, Bonferroni over the "
        f"{len(run.drift_columns)} drift measures); {DRIFT_MARK.strip()} = the CI excludes 0 "
        "(the generator drifts on that measure). Only measures validated on known degradations "
        "are drift measures (docs/validity.md)"
    )
    if not d.empty and (d["achieved"] < d["confidence"]).any():
        text += (
            f"; with {n} cases these intervals reach only {100 * d['achieved'].min():.1f} % "
            "confidence, so no drift can be called"
        )
    if others:
        text += f"; not drift measures here (quality/similarity only): {', '.join(others)}"
    text += "."
    if n and not can_reach(n):
        text += f" With {n} cases no paired test can reach p < 0.05 (smallest p {min_attainable_p(n):.3g})."
    return text


def published_section(
    run: RunData, tables: list[PublishedTable], q: pd.DataFrame, out_dir: Path
) -> list[str]:
    """Published numbers for this suite, each table with its source; never mixed into the ranking."""
    head = q[q["metric"] == run.headline].set_index("generator")["mean"]
    lines: list[str] = []
    for t in tables:
        s = t.source
        lines += ["", f"### Published: {t.title} (not measured by svibench)", ""]
        lines.append(
            f"> **Published numbers**, copied from {t.citation}. Metric: {s.get('metric', 'unspecified')}."
        )
        if not s.get("confirmed", False):
            lines.append(
                f"> Caveat (unconfirmed upstream): {s.get('note', 'metric and aggregation not documented')}."
            )
        rel = Path(os.path.relpath(t.path.resolve(), Path(out_dir).resolve())).as_posix()
        lines.append(f"> Data file: [{t.path.name}]({rel}).")
        lines.append("")
        lines += _header(["model", "published score", f"measured here ({run.headline})"])
        for r in sorted(t.rows, key=lambda r: (-r.score, r.model)):
            measured = (
                format_ci(head[r.generator]) + f" (`{r.generator}`)"
                if r.generator in head.index
                else "–"
            )
            lines.append(_row([f"{r.model} *(published)*", f"{r.score:.2f}", measured]))
    return lines


def paired_section(run: RunData, reference: str) -> list[str]:
    pt = paired_table(run, reference)
    lines = [
        "",
        f"### Paired comparison against `{reference}`",
        "",
        "Same cases, per-case clip means (rows `<metric> drift`: per-case drift per minute, "
        "positive = worse); difference = generator − reference with a bootstrap 95 % CI; "
        "Wilcoxon signed-rank p, Holm-corrected over all rows; `min p` = the smallest Holm p "
        "these n cases could give at all (n.s.-only = p < 0.05 is out of reach).",
        "",
    ]
    lines += _header(
        ["generator", "metric", "mean diff [95 % CI]", "direction", "p (Holm)", "min p", "n"],
        right_from=2,
    )
    if not pt.empty and not bool(pt["reachable"].all()):
        lines.insert(
            -2,
            f"**{int((~pt['reachable']).sum())} of {len(pt)} comparisons cannot reach p < 0.05 "
            "with this many cases (marked n.s.-only).**\n",
        )
    order = {m: i for i, m in enumerate([*run.columns, *[f"{c} drift" for c in run.drift_columns]])}
    pt = pt.assign(_o=pt["metric"].map(order)).sort_values(["generator", "_o"], kind="stable")
    for _, r in pt.iterrows():
        diff = r["mean_diff"]
        better = not r["metric"].endswith(" drift") and run.directions[r["metric"]]
        if not np.isfinite(diff) or diff == 0:
            verdict = "same"
        elif r["metric"].removesuffix(" drift") in TWO_SIDED:
            verdict = "higher" if diff > 0 else "lower"  # descriptive: neither better nor worse
        else:
            verdict = "better" if (diff > 0) == better else "worse"
        lines.append(
            _row(
                [
                    str(r["generator"]),
                    f"{r['metric']} {_arrow(run, r['metric'])}",
                    format_ci(r["mean_diff"], r["diff_low"], r["diff_high"]),
                    verdict,
                    f"{r['w_p_holm']:.3g}" if np.isfinite(r["w_p_holm"]) else "–",
                    f"{r['p_min_holm']:.3g}" + ("" if r["reachable"] else " n.s.-only"),
                    str(int(r["n"])),
                ]
            )
        )
    return lines


def run_section(
    run: RunData,
    run_name: str,
    plots: list[Path],
    out_dir: Path,
    reference: str | None,
    published: list[PublishedTable],
) -> str:
    q = quality_table(run)
    d = drift_ci_table(run)
    gens = ranking(run, q)
    n_cases = run.rows["case"].nunique()
    n_clips = run.rows["clip"].nunique()
    seeds = sorted(int(s) for s in run.rows["seed"].unique())
    lines = [
        f"## {run.suite} (run `{run_name}`)",
        "",
        f"{n_cases} cases × {n_clips} clips ({_clip_time(run.seconds_per_clip)} each), clip seeds "
        f"{', '.join(map(str, seeds[:6]))}{', …' if len(seeds) > 6 else ''}. Each cell: mean over cases of "
        "the per-case clip mean [bootstrap 95 % CI over cases]. Sorted by "
        f"`{run.headline}` {_arrow(run, run.headline)} (best first). Drift column: the headline "
        "drift measure (see below).",
        "",
    ]
    status = run_completeness(run.root)
    if status.note():
        lines += [f"> **Incomplete run** ({status.note()}): means cover committed clips only.", ""]
    lines += measured_table(run, q, d, status.incomplete_generators())
    lines += ["", "### Drift (validated drift measures)", "", drift_note(run, d), ""]
    lines += drift_per_metric(run, gens, d)
    lines += published_section(run, published, q, out_dir)
    if reference:
        lines += paired_section(run, reference)
    if plots:
        lines += ["", "### Drift curves", ""]
        for p in plots:
            rel = p.relative_to(out_dir) if p.is_relative_to(out_dir) else p
            lines.append(f"![{p.stem}]({rel.as_posix()})")
    return "\n".join(lines) + "\n"


def write_leaderboard(
    runs: list[Path],
    out: Path | None = None,
    reference: str | None = None,
    published: Path | None = None,
) -> Path:
    """``leaderboard.md`` + ``plots/`` under ``out`` (default: the single run's folder).

    ``reference``: paired comparisons in every run that has that generator (an error if none
    does). ``published``: folder of published-number files (default ``baselines/published``
    of the current directory; missing = none shown).
    """
    if not runs:
        raise SvibenchError("no runs given")
    out_dir = Path(out) if out else Path(runs[0])
    tables = load_published(published)
    loaded = sorted(
        ((load_run(Path(r)), Path(r)) for r in runs),
        key=lambda x: (x[0].suite, x[1].name, str(x[1])),
    )
    if reference and not any(reference in set(run.rows["generator"]) for run, _ in loaded):
        raise SvibenchError(
            f"--reference {reference}: no such generator in {', '.join(str(r) for _, r in loaded)}"
        )
    sections = [
        "# svibench leaderboard",
        "",
        "Generated by `svibench leaderboard` from committed run rows; regenerate rather than edit. "
        "Rows marked *published* are copied from their source, not measured.",
        "",
    ]
    sections += [
        f"- [{run.suite} (run `{root.name}`)](#{_anchor(run.suite, root.name)})"
        for run, root in loaded
    ]
    sections.append("")
    for run, root in loaded:
        write_tables(root)
        plots = plot_curves(run, out_dir / "plots", prefix=root.name)
        ref = reference if reference in set(run.rows["generator"]) else None
        sections.append(
            run_section(run, root.name, plots, out_dir, ref, for_suite(tables, run.suite))
        )
    path = out_dir / "leaderboard.md"
    atomic_write_text(path, "\n".join(sections))
    return path


def _anchor(suite: str, run_name: str) -> str:
    """GitHub's heading anchor for ``## {suite} (run `{run_name}`)``."""
    text = f"{suite} (run {run_name})".lower()
    return "".join(ch for ch in text.replace(" ", "-") if ch.isalnum() or ch in "-_")


def _clip_time(seconds_per_clip: float | dict[str, float]) -> str:
    """'5.00 s', or per generator where their motion frames (m) differ."""
    if isinstance(seconds_per_clip, dict):
        return ", ".join(f"{g} {s:.2f} s" for g, s in sorted(seconds_per_clip.items()))
    return f"{seconds_per_clip:.2f} s"


# ---------------------------------------------------------------------------- the ablation
def _ablation_intro(result: AblationResult, long: pd.DataFrame) -> list[str]:
    spec, ref_label = result.spec, result.reference_label
    params = ", ".join(
        f"`{p}` ∈ {{{', '.join(format_value(v) for v in vals)}}}" for p, vals in spec.params
    )
    train = ", ".join(f"{k}={format_value(v)}" for k, v in spec.train.items())
    lines = [
        f"# Ablation `{spec.name}`",
        "",
        f"Trainer `{spec.trainer}` ({train or 'trainer defaults'}), "
        f"swept {params}, seeds {list(spec.seeds)}, evaluated on suite `{spec.suite.name}`.",
        "",
        "Each cell: mean [bootstrap 95 % CI] over (case, seed) units; quality = mean over clips; "
        "drift = relative drop first→last clip (positive = worse) and least-squares slope per minute. "
        f"Reference for the paired tests: `{ref_label}` (marked ★). The same cases recur under every "
        "seed, so units are not fully independent: read the CIs as approximate.",
        "",
    ]
    if ref_label not in set(long["label"]):
        lines += [
            f"> Note: the reference `{ref_label}` is not among the swept values, so no paired tests were made "
            "(pass `--reference`).",
            "",
        ]
    return lines


def _ablation_rows(
    result: AblationResult, long: pd.DataFrame, cols: list[str], arrows: dict[str, str], head: str
) -> list[str]:
    """The main table: per variant (and comparison generator) status, quality and drift."""
    get = LongCells(long)
    status = long.drop_duplicates("label").set_index("label")
    lines = _header(
        [
            "variant",
            "status",
            "seeds",
            *[f"{c} {arrows[c]}" for c in cols],
            f"drift {head} (rel. drop)",
            f"{head} slope / min",
        ],
        right_from=len(cols) + 5,
    )
    for lb, kind in result.row_order():
        s = status.loc[lb]
        mark = (
            " ★" if lb == result.reference_label else (" (baseline)" if kind == "compare" else "")
        )
        st = s["status"] if s["status"] == "ok" else f"**{s['status']}**: {s['error']}"
        cells = [f"`{lb}`{mark}", st, f"{s['seeds_ok']}/{s['seeds']}"]
        cells += [get(lb, c, "mean") for c in cols]
        cells += [get(lb, head, "rel_drop", 3), get(lb, head, "slope_per_min", 3)]
        lines.append(_row(cells))
    if cols:
        lines += ["", "## Drift per metric (relative drop first→last clip, positive = worse)", ""]
        lines += _header(["variant", *[f"{c} {arrows[c]}" for c in cols]], right_from=len(cols) + 1)
        for lb, _ in result.row_order():
            lines.append(_row([f"`{lb}`", *[get(lb, c, "rel_drop", 3) for c in cols]]))
    return lines


def _ablation_paired(paired: pd.DataFrame, ref_label: str, arrows: dict[str, str]) -> list[str]:
    """The paired tests of every variant against the reference, Holm-corrected."""
    if not len(paired):
        return []
    lines = [
        "",
        f"## Paired tests against `{ref_label}` (same cases and seeds)",
        "",
        "Difference = variant − reference. p: Wilcoxon signed-rank (two-sided), Holm-corrected over all "
        f"{len(paired)} tests below; p(t): paired t-test, Holm-corrected.",
        "",
    ]
    reach = [can_reach(int(n), len(paired)) for n in paired["n"]]
    if not all(reach):
        n_min = int(paired["n"].min())
        lines += [
            f"**{reach.count(False)} of {len(paired)} tests cannot reach p < 0.05: with "
            f"n = {n_min} cases the smallest attainable Holm p is "
            f"{min(1.0, len(paired) * min_attainable_p(n_min)):.3g}.**",
            "",
        ]
    head = ["variant", "metric", "measure", "diff [95 % CI]", "p (Holm)", "p(t) (Holm)", "n"]
    lines += _header(head, right_from=len(head))
    for r in paired.itertuples():
        bold = "**" if np.isfinite(r.w_p_holm) and r.w_p_holm < 0.05 else ""
        p = f"{bold}{format_ci(r.w_p_holm, digits=3)}{bold}"
        cells = [
            f"`{r.label}`",
            f"{r.metric} {arrows.get(r.metric, '')}",
            "quality" if r.measure == "mean" else "drift (rel. drop)",
            format_ci(r.mean_diff, r.diff_low, r.diff_high),
            f" {p}" if bold else p,
            format_ci(r.t_p_holm, digits=3),
            str(int(r.n)),
        ]
        lines.append(_row(cells))
    return lines


def _ablation_training(result: AblationResult) -> list[str]:
    """One row per (variant, seed): its training, cached or not, and its cache folder."""
    head = ["variant / seed", "status", "steps", "final loss", "train s", "cache"]
    lines = ["", "## Training", "", *_header(head, right_from=len(head))]
    for v in result.variants:
        o = result.outcomes.get(v.generator, {})
        t = o.get("train") or {}
        cells = [
            f"`{v.generator}`",
            f"{o.get('status', '?')}{' (cached)' if o.get('cached') else ''}",
            str(t.get("steps", "–")),
            format_ci(t.get("metrics", {}).get("final_loss", np.nan)),
            format_ci(t.get("seconds", np.nan), digits=1),
            f"`{v.train_dir.name}`",
        ]
        lines.append(_row(cells))
    return lines


def ablation_markdown(
    result: AblationResult,
    run: RunData | None,
    long: pd.DataFrame,
    paired: pd.DataFrame,
    plots: list[Path],
) -> str:
    """``ablation.md``: the tables of ``svibench.ablate.tables`` as Markdown, with the plots."""
    head = run.headline if run is not None else ""
    cols = list(run.columns) if run is not None else []
    arrows = {c: ("↑" if run.directions[c] else "↓") for c in cols} if run is not None else {}
    lines = _ablation_intro(result, long)
    lines += _ablation_rows(result, long, cols, arrows, head)
    lines += _ablation_paired(paired, result.reference_label, arrows)
    lines += _ablation_training(result)
    if plots:
        lines += ["", "## Plots", ""]
        for p in plots:
            lines.append(f"![{p.stem}]({p.relative_to(result.root).as_posix()})")
    return "\n".join(lines) + "\n"
