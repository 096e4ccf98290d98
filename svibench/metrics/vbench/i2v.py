"""i2v_subject: DINO similarity of the frames to the conditioning image and between
consecutive frames, 0.4*max(sim(image, frame_i)) + 0.3*mean(consec) + 0.3*min(consec), all
sims clamped at 0 (vbench2_beta_i2v/i2v_subject.py i2v_subject), with VBench-I2V's own
preprocessing (Resize 256 bicubic antialiased + CenterCrop 224; PIL path for the image).

The conditioning image is ``ClipInput.reference`` (the case image at frame size). For a
continuation clip k > 0 that is still the case image: drift from it is what long-horizon
evaluation wants to see. i2v_background (DreamSim) reuses ``i2v_score``: i2v_background.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from svibench.metrics.base import ClipInput, Metric
from svibench.metrics.vbench.windows import window_param, window_slices

MAX_W, MEAN_W, MIN_W = 0.4, 0.3, 0.3  # vbench2_beta_i2v/i2v_subject.py


def i2v_score(frames: torch.Tensor, image: torch.Tensor) -> float:
    if len(frames) < 2:
        return float("nan")
    f = F.normalize(frames.double(), dim=-1)
    im = F.normalize(image.double().reshape(1, -1), dim=-1)
    conform = (f * im).sum(-1).clamp(min=0.0)
    consec = (f[1:] * f[:-1]).sum(-1).clamp(min=0.0)
    return float(MAX_W * conform.max() + MEAN_W * consec.mean() + MIN_W * consec.min())


class I2VSubject(Metric):
    name = "i2v_subject"
    features = ("dino_i2v",)
    description = "DINO: 0.4 max sim to the image + 0.3 mean + 0.3 min consecutive sim (VBench-I2V)"
    reference = "vbench2_beta_i2v/i2v_subject.py (VBench 0.1.5)"

    def compute(self, clip: ClipInput, features: Mapping[str, Any]) -> dict[str, float]:
        d = features["dino_i2v"]
        slices = window_slices(len(d["frames"]), clip.fps, window_param(self.params))
        return {
            self.name: float(np.mean([i2v_score(d["frames"][s], d["reference"]) for s in slices]))
        }
