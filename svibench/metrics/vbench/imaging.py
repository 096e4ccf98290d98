"""imaging_quality: MUSIQ (SPAQ) per frame, mean over frames, divided by 100 *per clip*.

VBench averages raw MUSIQ scores (0..100) per video and divides only the aggregate by 100
(vbench/imaging_quality.py technical_quality); dividing each clip keeps a row on the same
0..1 scale as the aggregate (mean of rows == VBench's aggregate).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from svibench.metrics.base import ClipInput, Metric
from svibench.metrics.vbench.windows import window_param, window_slices


class ImagingQuality(Metric):
    name = "imaging_quality"
    features = ("musiq_spaq",)
    description = "MUSIQ-SPAQ per frame (longer side <= 512), mean / 100 (VBench)"
    reference = "vbench/imaging_quality.py (VBench 0.1.5, mode 'longer')"

    def compute(self, clip: ClipInput, features: Mapping[str, Any]) -> dict[str, float]:
        s = np.asarray(features["musiq_spaq"], dtype=np.float64)
        slices = window_slices(len(s), clip.fps, window_param(self.params), min_len=1)
        return {self.name: float(np.mean([s[w].mean() for w in slices])) / 100.0}
