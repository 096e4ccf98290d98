"""Plots (PNG, plus SVG and PDF beside it for papers): per-clip drift curves of a run and an
ablation's quality and drift against the swept value. Byte-stable files (no version or date
stamps). matplotlib is imported inside the functions: it is slow to import and only plotting
needs it.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from svibench.ablate.spec import format_value, variant_label
from svibench.analysis.tables import RunData, clip_curve_ci
from svibench.atomic import atomic_write
from svibench.store import clip_seconds

if TYPE_CHECKING:
    from svibench.ablate.jobs import AblationResult


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


def save_png(fig: Any, path: Path) -> Path:
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


def plot_vs_value(
    result: AblationResult, run: RunData, long: pd.DataFrame, folder: Path
) -> list[Path]:
    """Per metric: quality and drift (rel. drop) against the first swept parameter, 95 % CI bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spec = result.spec
    p0, vals0 = spec.params[0]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals0)
    xpos = {format_value(v): (float(v) if numeric else i) for i, v in enumerate(vals0)}
    others = spec.params[1:]
    paths = []
    for metric in run.columns:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.0), dpi=200)
        for ax, measure, title in (
            (axes[0], "mean", f"{metric} (mean over clips)"),
            (axes[1], "rel_drop", f"drift of {metric} (rel. drop, + = worse)"),
        ):
            sub = long[(long["metric"] == metric) & (long["measure"] == measure)]
            compared: list[tuple] = []
            for combo in itertools.product(*(v for _, v in others)):
                fixed = dict(zip([p for p, _ in others], combo, strict=True))
                pts = []
                for v in vals0:
                    lb = variant_label(tuple([(p0, v), *fixed.items()]))
                    r = sub[sub["label"] == lb]
                    if len(r) and np.isfinite(r["mean"].iloc[0]):
                        pts.append(
                            (
                                xpos[format_value(v)],
                                *r[["mean", "low", "high"]].iloc[0].to_numpy(dtype=float),
                            )
                        )
                if not pts:
                    continue
                x, m, lo, hi = (np.array(c) for c in zip(*pts, strict=True))
                err = np.vstack([np.nan_to_num(m - lo), np.nan_to_num(hi - m)])
                name = ", ".join(f"{k}={format_value(v)}" for k, v in fixed.items()) or "variants"
                ax.errorbar(x, m, yerr=err, marker="o", capsize=3, label=f"{name} (bars: 95 % CI)")
            for g in spec.compare:
                r = sub[sub["label"] == g]
                if len(r) and np.isfinite(r["mean"].iloc[0]):
                    line = ax.axhline(r["mean"].iloc[0], ls="--", lw=1, color="gray")
                    if np.isfinite(r["low"].iloc[0]):
                        band = ax.axhspan(
                            r["low"].iloc[0], r["high"].iloc[0], color="gray", alpha=0.15
                        )
                        line = (band, line)  # one legend entry: the line over its band
                    compared.append((line, f"{g} (mean, band: 95 % CI)"))
                    ax.annotate(
                        g,
                        (0.01, r["mean"].iloc[0]),
                        xycoords=("axes fraction", "data"),
                        fontsize=7,
                        color="gray",
                    )
            if not numeric:
                ax.set_xticks(list(xpos.values()), list(xpos))
            ax.set_xlabel(p0)
            ax.set_title(title, fontsize=9)
            ax.grid(alpha=0.3)
            handles, labels = ax.get_legend_handles_labels()
            if handles or compared:
                ax.legend(
                    handles + [h for h, _ in compared],
                    labels + [t for _, t in compared],
                    fontsize=7,
                )
        fig.suptitle(f"{spec.name}: mean and 95 % CI over (case, seed)", fontsize=9)
        fig.tight_layout()
        paths.append(save_png(fig, folder / f"{metric}_vs_{p0}.png"))
    return paths
