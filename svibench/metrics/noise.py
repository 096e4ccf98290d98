"""Noise level: a robust estimate of the i.i.d. noise standard deviation of each frame.

Donoho & Johnstone's wavelet estimator (Biometrika 81(3), 1994, "Ideal spatial adaptation by
wavelet shrinkage", sec. 4.2): sigma = median(|HH|) / 0.6745, where HH are the finest diagonal
(Haar) wavelet coefficients. The median ignores the few large coefficients that edges produce,
so the estimate follows the noise rather than the amount of structure in the frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from svibench.metrics.base import ClipInput, Metric
from svibench.metrics.pixels import check_frames, luminance

MAD_TO_SIGMA = 0.6745  # median |N(0, 1)|


def haar_hh(gray: np.ndarray) -> np.ndarray:
    """Finest diagonal Haar coefficients (a - b - c + d) / 2 of the 2x2 blocks; for i.i.d. noise of
    std sigma they have std sigma (orthonormal transform)."""
    h, w = (gray.shape[0] // 2) * 2, (gray.shape[1] // 2) * 2
    g = gray[:h, :w].astype(np.float64)
    return (g[0::2, 0::2] - g[0::2, 1::2] - g[1::2, 0::2] + g[1::2, 1::2]) / 2.0


def noise_sigma(gray: np.ndarray) -> float:
    """Robust noise std of one (H, W) image, in its own units."""
    return float(np.median(np.abs(haar_hh(gray))) / MAD_TO_SIGMA)


def clip_noise(frames: np.ndarray) -> float:
    """Mean over frames of the noise std of BT.601 luma, in grey levels (0..255)."""
    check_frames(frames)
    return float(np.mean([noise_sigma(luminance(f)) for f in frames]))


class NoiseLevel(Metric):
    name = "noise"
    higher_is_better = False
    description = "Robust noise std of the luma (grey levels): median |finest Haar HH| / 0.6745."
    reference = "Donoho & Johnstone, Biometrika 1994 (MAD of the finest wavelet subband)"

    def compute(self, clip: ClipInput, features: Mapping[str, Any]) -> dict[str, float]:
        return {self.name: clip_noise(clip.frames)}
