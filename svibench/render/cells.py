"""Table cells shared by the Markdown and console renderers (fixed digits: byte-stable)."""

from __future__ import annotations

import numpy as np
import pandas as pd


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


class LongCells:
    """``mean [CI]`` cells of a long table (an ablation's) by (label, metric, measure); "–"
    where the table has no such row."""

    def __init__(self, long: pd.DataFrame) -> None:
        self.idx = long.set_index(["label", "metric", "measure"]) if len(long) else None

    def __call__(self, label: str, metric: str, measure: str, digits: int = 4) -> str:
        key = (label, metric, measure)
        if self.idx is None or key not in self.idx.index:
            return "–"
        r = self.idx.loc[key]
        return format_ci(r["mean"], r["low"], r["high"], digits)
