"""Sharpness: variance of the Laplacian of the luminance (higher = sharper)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import ndimage

from svibench.metrics.base import ClipInput, Metric
from svibench.metrics.pixels import check_frames, luminance


def laplacian_variance(gray: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of one (H, W) image.

    Kernel [[0,1,0],[1,-4,1],[0,1,0]] with mirrored borders, i.e. ``cv2.Laplacian(g, CV_64F)``
    (ksize=1, BORDER_REFLECT_101) of the usual "variance of Laplacian" blur measure
    (Pech-Pacheco et al., ICPR 2000).
    """
    return float(np.var(ndimage.laplace(gray.astype(np.float64), mode="mirror")))


def sharpness(frames: np.ndarray) -> float:
    """Mean over frames of the Laplacian variance of BT.601 luma on the 0..255 scale (unrounded)."""
    check_frames(frames)
    return float(np.mean([laplacian_variance(luminance(f)) for f in frames]))


class Sharpness(Metric):
    name = "sharpness"
    higher_is_better = True
    description = (
        "Mean variance of the Laplacian of the luminance (0..255 scale); higher = sharper."
    )
    reference = "Pech-Pacheco et al. 2000, 'Diatom autofocusing in brightfield microscopy'"

    def compute(self, clip: ClipInput, features: Mapping[str, Any]) -> dict[str, float]:
        return {self.name: sharpness(clip.frames)}
