"""clip_text: how well each clip follows *its own* prompt (a prompt stream changes per clip).

Mean over frames of cos(CLIP ViT-L/14 image embedding, text embedding of ``clip.prompt``),
raw cosine (no x100, no clamp). VBench has no per-clip prompt dimension (its
``overall_consistency`` uses ViCLIP on a single prompt), so there is no VBench number to
match; the image side reuses the exact ``clip_l14_vbench`` forward of aesthetic_quality.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from svibench.metrics.base import ClipInput, Metric
from svibench.metrics.vbench.windows import window_param, window_slices


class ClipText(Metric):
    name = "clip_text"
    features = ("clip_l14_vbench", "clip_l14_text")
    description = "CLIP ViT-L/14 cosine between frames and this clip's prompt, mean over frames"
    reference = "svibench (CLIPScore-style, Hessel et al. 2021, without the 2.5*max(.,0) rescale)"

    def compute(self, clip: ClipInput, features: Mapping[str, Any]) -> dict[str, float]:
        img = F.normalize(features["clip_l14_vbench"].double(), dim=-1)
        txt = F.normalize(features["clip_l14_text"].double().reshape(1, -1), dim=-1)
        cos = (img * txt).sum(-1)
        slices = window_slices(len(cos), clip.fps, window_param(self.params), min_len=1)
        return {self.name: float(np.mean([float(torch.mean(cos[w])) for w in slices]))}
