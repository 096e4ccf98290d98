"""Fidelity of every frame to the case's reference image: PSNR and SSIM.

In image-to-video with a static-ish scene, falling PSNR/SSIM to the reference over clips is a
direct (if motion-confounded) sign of drift. Both are averaged over the frames of a clip.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import ndimage

from svibench.metrics.base import ClipInput, Metric
from svibench.metrics.pixels import check_frames, luminance

PSNR_CAP_DB = 100.0  # identical frames have infinite PSNR; capped so means stay finite
DATA_RANGE = 255.0

# Wang, Bovik, Sheikh, Simoncelli, "Image quality assessment: from error visibility to structural
# similarity", IEEE TIP 2004: 11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03.
SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5  # radius int(3.5 * 1.5 + 0.5) = 5 -> 11 taps, as skimage gaussian_weights=True
SSIM_RADIUS = 5
_C1 = (0.01 * DATA_RANGE) ** 2
_C2 = (0.03 * DATA_RANGE) ** 2


def _check_reference(frames: np.ndarray, reference: np.ndarray) -> None:
    check_frames(frames)
    if reference.dtype != np.uint8 or reference.shape != frames.shape[1:]:
        raise ValueError(
            f"reference: expected uint8 {frames.shape[1:]}, got {reference.dtype} {reference.shape}"
        )


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images (MSE over all pixels and channels, float64), capped."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    if mse == 0:
        return PSNR_CAP_DB
    return min(PSNR_CAP_DB, float(10.0 * np.log10(DATA_RANGE**2 / mse)))


def psnr_to_reference(frames: np.ndarray, reference: np.ndarray) -> float:
    """Mean over frames of ``psnr(frame, reference)`` (mean of dB, not dB of the mean MSE)."""
    _check_reference(frames, reference)
    return float(np.mean([psnr(f, reference) for f in frames]))


def _blur(x: np.ndarray) -> np.ndarray:
    return ndimage.gaussian_filter(x, SSIM_SIGMA, mode="reflect", truncate=SSIM_TRUNCATE)


class _SSIMAgainst:
    """SSIM of many images against one fixed image; the fixed image's moments are computed once."""

    def __init__(self, ref_gray: np.ndarray) -> None:
        self.y = ref_gray.astype(np.float64)
        self.mu_y = _blur(self.y)
        self.var_y = _blur(self.y * self.y) - self.mu_y**2

    def __call__(self, gray: np.ndarray) -> float:
        x = gray.astype(np.float64)
        mu_x = _blur(x)
        var_x = _blur(x * x) - mu_x**2
        cov = _blur(x * self.y) - mu_x * self.mu_y
        num = (2 * mu_x * self.mu_y + _C1) * (2 * cov + _C2)
        den = (mu_x**2 + self.mu_y**2 + _C1) * (var_x + self.var_y + _C2)
        r = SSIM_RADIUS  # drop the border where the window leaves the image, as Wang's 'valid'
        ssim_map = (num / den)[r:-r, r:-r] if min(x.shape) > 2 * r else num / den
        return float(np.mean(ssim_map))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two uint8 RGB images on BT.601 luminance (0..255, unrounded), data range 255."""
    return _SSIMAgainst(luminance(b))(luminance(a))


def ssim_to_reference(frames: np.ndarray, reference: np.ndarray) -> float:
    """Mean over frames of ``ssim(frame, reference)``."""
    _check_reference(frames, reference)
    against = _SSIMAgainst(luminance(reference))
    return float(np.mean([against(luminance(f)) for f in frames]))


class PSNRToReference(Metric):
    name = "psnr_ref"
    higher_is_better = True
    description = (
        f"Mean PSNR (dB, range 255, capped at {PSNR_CAP_DB:g}) of frames vs the reference."
    )
    reference = "PSNR = 10 log10(255^2 / MSE), MSE over all pixels and RGB channels"

    def compute(self, clip: ClipInput, features: Mapping[str, Any]) -> dict[str, float]:
        return {self.name: psnr_to_reference(clip.frames, clip.reference)}


class SSIMToReference(Metric):
    name = "ssim_ref"
    higher_is_better = True
    description = "Mean SSIM (luminance, Gaussian 11x11 sigma 1.5) of frames vs the reference."
    reference = "Wang et al., IEEE TIP 13(4) 2004; window/cropping as skimage structural_similarity"

    def compute(self, clip: ClipInput, features: Mapping[str, Any]) -> dict[str, float]:
        return {self.name: ssim_to_reference(clip.frames, clip.reference)}
