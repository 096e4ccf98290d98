"""Sharpness that noise cannot fake, and the classic Laplacian variance it replaces.

``sharpness``: how much of the luma's gradient energy at scale 1 px is lost at scale 2 px,
``1 - E2 / E1``, where ``E_s`` is the mean squared gradient of the frame after a Gaussian blur of
sigma ``s`` (the "gradient energy at a coarser scale after denoising" of issue 12). A sharp frame
has detail that the wider blur removes (score well above 0); a blurred one has little left to
lose (score toward 0). Both energies have the noise's share removed: i.i.d. noise of std sigma
adds ``sigma^2 * gain_s`` to ``E_s``, with ``gain_s`` the exact gain of blur + gradient for unit
white noise and sigma from ``svibench.metrics.noise``. At these scales the noise share is small,
so the score does not move with noise, contrast or saturation; it falls with blur and texture
loss (validated in docs/validity.md).

``sharpness_lapvar``: variance of the Laplacian (Pech-Pacheco et al., ICPR 2000). It rises with
noise, so a generator that turns noisy looks sharper; kept for comparison, not a drift measure.
"""

from __future__ import annotations

import functools
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


SCALES = (1.0, 2.0)  # Gaussian sigmas (px) of the fine and the coarse scale


def gradient_energy(gray: np.ndarray, sigma: float) -> float:
    """Mean of |grad|^2 (central differences) of ``gray`` blurred with a Gaussian of ``sigma``."""
    x = ndimage.gaussian_filter(gray.astype(np.float64), sigma, mode="reflect")
    gy, gx = np.gradient(x)
    return float(np.mean(gx * gx + gy * gy))


@functools.cache
def noise_gain(sigma: float) -> float:
    """``gradient_energy`` per unit variance of i.i.d. noise: the energy of the impulse response."""
    r = int(4 * sigma) + 4
    impulse = np.zeros((2 * r + 1, 2 * r + 1))
    impulse[r, r] = 1.0
    x = ndimage.gaussian_filter(impulse, sigma, mode="constant")
    gy, gx = np.gradient(x)
    return float(np.sum(gx * gx + gy * gy))


def scale_loss(gray: np.ndarray) -> float:
    """``1 - E2 / E1`` of one (H, W) image with the noise energy removed, in [0, 1]; 0 when no
    gradient energy is left at the fine scale once the noise's share is removed."""
    g = gray.astype(np.float64)
    sigma2 = noise_sigma(g) ** 2
    fine, coarse = SCALES
    e1 = gradient_energy(g, fine) - sigma2 * noise_gain(fine)
    e2 = max(gradient_energy(g, coarse) - sigma2 * noise_gain(coarse), 0.0)
    if e1 <= MIN_ENERGY:
        return 0.0
    return float(np.clip(1.0 - e2 / e1, 0.0, 1.0))


def sharpness(frames: np.ndarray) -> float:
    """Mean over frames of ``scale_loss`` of BT.601 luma (0..255 scale)."""
    check_frames(frames)
    return float(np.mean([scale_loss(luminance(f)) for f in frames]))


def sharpness_lapvar(frames: np.ndarray) -> float:
    """Mean over frames of the Laplacian variance of BT.601 luma on the 0..255 scale (unrounded)."""
    check_frames(frames)
    return float(np.mean([laplacian_variance(luminance(f)) for f in frames]))


class Sharpness(Metric):
    name = "sharpness"
    higher_is_better = True
    description = (
        "Share of the luma's 1-px-scale gradient energy lost at the 2-px scale, noise energy "
        "removed (1 - E2 / E1); higher = sharper; not moved by noise."
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
