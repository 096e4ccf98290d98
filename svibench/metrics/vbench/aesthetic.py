"""aesthetic_quality: CLIP ViT-L/14 image embedding, L2-normalised, LAION aesthetic linear
head (768 -> 1), divided by 10, mean over frames (vbench/aesthetic_quality.py laion_aesthetic).

Reads the shared ``clip_l14_vbench`` feature (the same forward serves ``clip_text``). The
head (769 numbers, ``laion_aesthetic`` weights) is the ``laion_aesthetic_head`` feature, so the
runner loads it with the backbones before any clip is generated; tests inject it with ``head=``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from svibench.metrics.base import ClipInput, Metric
from svibench.metrics.vbench.windows import window_param, window_slices


class AestheticQuality(Metric):
    name = "aesthetic_quality"
    features = ("clip_l14_vbench", "laion_aesthetic_head")
    description = "LAION aesthetic head on CLIP ViT-L/14, /10, mean over frames (VBench)"
    reference = "vbench/aesthetic_quality.py (VBench 0.1.5)"

    def __init__(self, head: nn.Module | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.head = head

    def frame_scores(self, feats: torch.Tensor, head: nn.Module) -> torch.Tensor:
        with torch.inference_mode():
            f = F.normalize(feats.float(), dim=-1, p=2)
            return head(f).squeeze(-1) / 10

    def compute(self, clip: ClipInput, features: Mapping[str, Any]) -> dict[str, float]:
        head = self.head if self.head is not None else features["laion_aesthetic_head"]
        s = self.frame_scores(features["clip_l14_vbench"], head)
        slices = window_slices(len(s), clip.fps, window_param(self.params), min_len=1)
        return {self.name: float(np.mean([float(torch.mean(s[w])) for w in slices]))}
