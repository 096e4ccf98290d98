"""quality_score: VBench's normalised weighted Quality Score, x100, from one row's dimensions.

    norm_d  = (x_d - Min_d) / (Max_d - Min_d)
    quality = 100 * sum_d w_d * norm_d / sum_d w_d

over the seven quality dimensions with VBench's published constants (VBench repository
``scripts/constant.py`` NORMALIZE_DIC / DIM_WEIGHT, used by ``scripts/cal_final_score.py``):
dynamic_degree weighs 0.5, the others 1 (sum of weights 6.5). Full table and caveats in
baselines/README.md. Per clip, dynamic_degree is the clip's 0/1 flag (so a single row jumps
by 100*0.5/6.5 = 7.69 points with it); averaging rows first and then applying the formula
is what VBench does, and the formula is linear, so the mean of per-clip quality_score equals
the quality score of the mean row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from svibench.metrics.base import ClipInput, Metric
from svibench.metrics.registry import METRICS

# dimension -> (Min, Max, weight)   [VBench scripts/constant.py]
VBENCH_QUALITY: dict[str, tuple[float, float, float]] = {
    "subject_consistency": (0.1462, 1.0, 1.0),
    "background_consistency": (0.2615, 1.0, 1.0),
    "temporal_flickering": (0.6293, 1.0, 1.0),
    "motion_smoothness": (0.706, 0.9975, 1.0),
    "aesthetic_quality": (0.0, 1.0, 1.0),
    "imaging_quality": (0.0, 1.0, 1.0),
    "dynamic_degree": (0.0, 1.0, 0.5),
}


def quality_score(row: Mapping[str, float]) -> float:
    """VBench Quality Score x100 from a mapping holding the seven dimensions (0..1 scales)."""
    missing = [d for d in VBENCH_QUALITY if d not in row]
    if missing:
        raise KeyError(f"quality_score needs {', '.join(missing)}")
    num = sum(w * (float(row[d]) - lo) / (hi - lo) for d, (lo, hi, w) in VBENCH_QUALITY.items())
    return 100.0 * num / sum(w for _, _, w in VBENCH_QUALITY.values())


class QualityScore(Metric):
    """Computes the seven dimensions from the shared features (cached per clip, so no extra
    forwards when those metrics are also selected) and combines them."""

    name = "quality_score"
    features = (
        "dino_vbench",
        "clip_b32_vbench",
        "clip_l14_vbench",
        "laion_aesthetic_head",
        "musiq_spaq",
        "raft_maxrad",
        "amt_vfi",
    )
    description = (
        "VBench Quality Score: 100*sum_d w_d*(x_d-Min_d)/(Max_d-Min_d)/6.5 over subject/background"
        " consistency, temporal flickering, motion smoothness, aesthetic, imaging (w=1) and"
        " dynamic degree (w=0.5); constants from VBench scripts/constant.py (baselines/README.md)"
    )
    reference = "VBench scripts/constant.py + cal_final_score.py; baselines/README.md"

    def __init__(self, parts: Mapping[str, Metric] | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.parts = dict(parts) if parts is not None else None

    def _parts(self) -> dict[str, Metric]:
        if self.parts is None:
            self.parts = {d: METRICS.get(d)(**self.params) for d in VBENCH_QUALITY}
        return self.parts

    def compute(self, clip: ClipInput, features: Mapping[str, Any]) -> dict[str, float]:
        row: dict[str, float] = {}
        for part in self._parts().values():
            row.update(part.compute(clip, features))
        return {self.name: quality_score(row)}
