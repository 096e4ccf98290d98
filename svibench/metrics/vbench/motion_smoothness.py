"""motion_smoothness: AMT-S interpolates the odd frames from the even ones; score
(255 - mean |interpolated - original|) / 255 over the odd frames that have both neighbours
(vbench/motion_smoothness.py motion_score, vfi_score; CPU scale 1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from svibench.metrics.base import ClipInput, Metric
from svibench.metrics.vbench.windows import window_param, window_slices


class MotionSmoothness(Metric):
    name = "motion_smoothness"
    features = ("amt_vfi",)
    description = "AMT-S frame interpolation error on odd frames, (255 - MAE)/255 (VBench)"
    reference = "vbench/motion_smoothness.py (VBench 0.1.5)"

    def compute(self, clip: ClipInput, features: Mapping[str, Any]) -> dict[str, float]:
        d = np.asarray(features["amt_vfi"], dtype=np.float64)  # one per odd frame 1, 3, ...
        if len(d) == 0:
            return {self.name: float("nan")}
        w = window_param(self.params)
        if w is None:
            return {self.name: float((255.0 - d.mean()) / 255.0)}
        # window over frames; odd frame 2k+1 belongs to the window holding frames 2k..2k+2
        vals = []
        for s in window_slices(len(clip.frames), clip.fps, w, min_len=3):
            ks = [k for k in range(len(d)) if s.start <= 2 * k and 2 * k + 2 < s.stop]
            if ks:
                vals.append((255.0 - d[ks].mean()) / 255.0)
        return {self.name: float(np.mean(vals)) if vals else float("nan")}
