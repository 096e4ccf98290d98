"""subject_consistency (DINO) and background_consistency (CLIP ViT-B/32).

Per frame i >= 1: (max(0, cos(f_i, f_{i-1})) + max(0, cos(f_i, f_0))) / 2, averaged over
frames 1..T-1 (vbench/subject_consistency.py subject_consistency,
vbench/background_consistency.py background_consistency). Per clip, not VBench's
frame-weighted aggregate over videos (a mean of per-clip rows weighted by T-1 reproduces it).
On CUDA VBench's CLIP returns fp16 features and the normalisation and every cosine stay in
fp16 (``.item()`` of a half tensor); fp16 features are scored the same way here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from svibench.metrics.base import ClipInput, Metric
from svibench.metrics.vbench.windows import window_param, window_slices


def pair_consistency(feats: torch.Tensor) -> float:
    """Mean over frames 1..T-1 of the clamped (previous + first) cosine average; NaN if T < 2."""
    if len(feats) < 2:
        return float("nan")
    if feats.dtype == torch.float16:
        return _pair_consistency_half(feats)
    f = F.normalize(feats.double(), dim=-1, p=2)
    prev = (f[1:] * f[:-1]).sum(-1).clamp(min=0.0)
    first = (f[1:] * f[:1]).sum(-1).clamp(min=0.0)
    return float(((prev + first) / 2).mean())


def _pair_consistency_half(feats: torch.Tensor) -> float:
    """VBench's loop on half features: F.normalize and F.cosine_similarity in fp16, each
    similarity rounded to fp16 before max(0, .) and the Python-float sum
    (vbench/background_consistency.py background_consistency)."""
    f = F.normalize(feats, dim=-1, p=2)
    prev = F.cosine_similarity(f[1:], f[:-1], dim=-1).float().clamp(min=0.0)
    first = F.cosine_similarity(f[1:], f[:1].expand_as(f[1:]), dim=-1).float().clamp(min=0.0)
    return float(((prev.double() + first.double()) / 2).mean())


def windowed(feats: torch.Tensor, clip: ClipInput, params: Mapping[str, Any], fn) -> float:
    slices = window_slices(len(feats), clip.fps, window_param(dict(params)))
    return float(np.mean([fn(feats[s]) for s in slices]))


class SubjectConsistency(Metric):
    name = "subject_consistency"
    features = ("dino_vbench",)
    description = "DINO ViT-B/16 CLS cosine to previous and first frame, mean (VBench)"
    reference = "vbench/subject_consistency.py (VBench 0.1.5)"

    def compute(self, clip: ClipInput, features: Mapping[str, Any]) -> dict[str, float]:
        v = windowed(features["dino_vbench"], clip, self.params, pair_consistency)
        return {self.name: v}


class BackgroundConsistency(Metric):
    name = "background_consistency"
    features = ("clip_b32_vbench",)
    description = "CLIP ViT-B/32 image-embedding cosine to previous and first frame (VBench)"
    reference = "vbench/background_consistency.py (VBench 0.1.5)"

    def compute(self, clip: ClipInput, features: Mapping[str, Any]) -> dict[str, float]:
        v = windowed(features["clip_b32_vbench"], clip, self.params, pair_consistency)
        return {self.name: v}
