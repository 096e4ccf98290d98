"""Sharpness that noise cannot fake, and the classic Laplacian variance it replaces.

``sharpness``: the share of the luma's gradient energy that lives at the finest scale,
``1 - G2 / (4 G1)``, where G1 is the mean squared forward-difference gradient of the frame and
G2 that of the frame averaged over 2x2 blocks (a smooth image has G2 = 4 G1: gradients per pixel
double at half resolution). Both energies have the noise's share removed (forward differences of
i.i.d. noise with std sigma add 4 sigma^2 to G1 and sigma^2 to G2; sigma from
``svibench.metrics.noise``), so added noise leaves the score where it was while blur lowers it.
It is a ratio, so it does not grow with the amount of texture in view (validated in
docs/validity.md).

``sharpness_lapvar``: variance of the Laplacian (Pech-Pacheco et al., ICPR 2000). It rises with
noise, so a generator that turns noisy looks sharper; kept for comparison, not a drift measure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import ndimage

from svibench.metrics.base import ClipInput, Metric
from svibench.metrics.noise import noise_sigma
from svibench.metrics.pixels import check_frames, luminance

MIN_ENERGY = 1e-3  # grey levels^2 per pixel: below this a frame is flat (or pure noise)


def laplacian_variance(gray: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of one (H, W) image.

    Kernel [[0,1,0],[1,-4,1],[0,1,0]] with mirrored borders, i.e. ``cv2.Laplacian(g, CV_64F)``
    (ksize=1, BORDER_REFLECT_101) of the usual "variance of Laplacian" blur measure
    (Pech-Pacheco et al., ICPR 2000).
    """
    return float(np.var(ndimage.laplace(gray.astype(np.float64), mode="mirror")))


def _gradient_energy(g: np.ndarray) -> float:
    gx = np.diff(g, axis=1)
    gy = np.diff(g, axis=0)
    return float(np.mean(gx * gx) + np.mean(gy * gy))


def fine_scale_share(gray: np.ndarray) -> float:
    """``1 - G2 / (4 G1)`` of one (H, W) image with the noise energy removed, in [0, 1] (see
    module doc). 0 when no gradient energy is left once the noise's share is removed."""
    g = gray.astype(np.float64)
    h, w = (g.shape[0] // 2) * 2, (g.shape[1] // 2) * 2
    half = g[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    sigma2 = noise_sigma(g) ** 2
    g1 = _gradient_energy(g) - 4.0 * sigma2
    g2 = max(_gradient_energy(half) - sigma2, 0.0)
    if g1 <= MIN_ENERGY:
        return 0.0
    return float(np.clip(1.0 - g2 / (4.0 * g1), 0.0, 1.0))


def sharpness(frames: np.ndarray) -> float:
    """Mean over frames of ``fine_scale_share`` of BT.601 luma (0..255 scale)."""
    check_frames(frames)
    return float(np.mean([fine_scale_share(luminance(f)) for f in frames]))


def sharpness_lapvar(frames: np.ndarray) -> float:
    """Mean over frames of the Laplacian variance of BT.601 luma on the 0..255 scale (unrounded)."""
    check_frames(frames)
    return float(np.mean([laplacian_variance(luminance(f)) for f in frames]))


class Sharpness(Metric):
    name = "sharpness"
    higher_is_better = True
    description = (
        "Share of luma gradient energy at the finest scale, noise energy removed "
        "(1 - G_half / 4 G_full); higher = sharper; not raised by noise."
    )
    reference = (
        "svibench definition (svibench/metrics/sharpness.py); noise: Donoho & Johnstone 1994"
    )

    def compute(self, clip: ClipInput, features: Mapping[str, Any]) -> dict[str, float]:
        return {self.name: sharpness(clip.frames)}


class LaplacianSharpness(Metric):
    name = "sharpness_lapvar"
    higher_is_better = True
    description = (
        "Mean variance of the Laplacian of the luminance (0..255 scale); rises with noise."
    )
    reference = "Pech-Pacheco et al. 2000, 'Diatom autofocusing in brightfield microscopy'"

    def compute(self, clip: ClipInput, features: Mapping[str, Any]) -> dict[str, float]:
        return {self.name: sharpness_lapvar(clip.frames)}
