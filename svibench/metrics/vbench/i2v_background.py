"""i2v_background: DreamSim similarity of the frames to the conditioning image and between
consecutive frames, 0.4*max(sim(image, frame_i)) + 0.3*mean(consec) + 0.3*min(consec), sims
clamped at 0 (vbench2_beta_i2v/i2v_background.py i2v_background), with VBench-I2V's DreamSim
preprocessing (frames Resize((224, 224), bicubic, antialiased) /255; image through PIL).

Same formula and conditioning image (``ClipInput.reference``) as i2v_subject; only the backbone
and preprocessing differ, so the score function is shared with ``i2v.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from svibench.metrics.base import ClipInput, Metric
from svibench.metrics.vbench.i2v import i2v_score
from svibench.metrics.vbench.windows import window_param, window_slices


class I2VBackground(Metric):
    name = "i2v_background"
    features = ("dreamsim_i2v",)
    description = (
        "DreamSim: 0.4 max sim to the image + 0.3 mean + 0.3 min consecutive sim (VBench-I2V)"
    )
    reference = "vbench2_beta_i2v/i2v_background.py (VBench 0.1.5, dreamsim 0.2.1)"

    def compute(self, clip: ClipInput, features: Mapping[str, Any]) -> dict[str, float]:
        d = features["dreamsim_i2v"]
        slices = window_slices(len(d["frames"]), clip.fps, window_param(self.params))
        return {
            self.name: float(np.mean([i2v_score(d["frames"][s], d["reference"]) for s in slices]))
        }
