"""Error against the ground-truth clip k: exact for a faithful renderer, whatever the camera does.

Where a case has a ground truth for every clip (the embedded tiny world renders clip k exactly),
a generator's clip k is compared frame by frame with the true clip k. A faithful generator scores
error 0, PSNR at its cap, SSIM 1 and colour error 0 on every clip, so its drift is exactly 0; any
degradation that grows over the video shows as a growing error. Cases without a ground truth
give NaN (not stored).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import ndimage

from svibench.metrics.base import ClipInput, Metric
from svibench.metrics.pixels import check_frames, luminance
from svibench.metrics.reference import PSNR_CAP_DB, SSIM_RADIUS, SSIM_SIGMA, SSIM_TRUNCATE

NAN = float("nan")
_C1 = (0.01 * 255.0) ** 2
_C2 = (0.03 * 255.0) ** 2


def paired_ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SSIM of frame pairs a[i], b[i] (uint8 (T, H, W, 3)) on luma, one value per pair: the same
    formula and window as ``svibench.metrics.reference.ssim``, filtered for all frames at once."""

    def blur(x: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(
            x, (0, SSIM_SIGMA, SSIM_SIGMA), mode="reflect", truncate=SSIM_TRUNCATE
        )

    x = luminance(a).astype(np.float64)
    y = luminance(b).astype(np.float64)
    mx, my = blur(x), blur(y)
    vx, vy = blur(x * x) - mx**2, blur(y * y) - my**2
    cov = blur(x * y) - mx * my
    m = ((2 * mx * my + _C1) * (2 * cov + _C2)) / ((mx**2 + my**2 + _C1) * (vx + vy + _C2))
    r = SSIM_RADIUS
    if min(x.shape[1:]) > 2 * r:
        m = m[:, r:-r, r:-r]
    return m.reshape(len(m), -1).mean(axis=1)


def gt_scores(frames: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """mae_gt (mean |difference| / 255 over all pixels, channels and frames), psnr_gt, ssim_gt
    (means over frames) and colour_gt (mean over frames of |mean RGB difference| / 255)."""
    check_frames(frames)
    check_frames(truth, "ground_truth")
    if truth.shape != frames.shape:
        raise ValueError(f"ground_truth: expected shape {frames.shape}, got {truth.shape}")
    diff = frames.astype(np.float32) - truth.astype(np.float32)
    mse = (diff.astype(np.float64) ** 2).reshape(len(frames), -1).mean(axis=1)
    with np.errstate(divide="ignore"):  # identical frames: infinite PSNR, capped like psnr()
        p = np.minimum(PSNR_CAP_DB, 10.0 * np.log10(255.0**2 / mse))
    s = paired_ssim(frames, truth)
    mean_f = frames.reshape(len(frames), -1, 3).mean(axis=1, dtype=np.float64)
    mean_t = truth.reshape(len(truth), -1, 3).mean(axis=1, dtype=np.float64)
    colour = float(np.mean(np.abs(mean_f - mean_t))) / 255.0
    mae = float(np.mean(np.abs(diff))) / 255.0
    return {
        "mae_gt": mae,
        "psnr_gt": float(np.mean(p)),
        "ssim_gt": float(np.mean(s)),
        "colour_gt": colour,
    }


class GroundTruthError(Metric):
    name = "gt"
    columns = ("mae_gt", "psnr_gt", "ssim_gt", "colour_gt")
    higher_is_better = True
    directions = {"mae_gt": False, "colour_gt": False}
    uses_ground_truth = True
    description = (
        "Against the ground-truth clip k (world:<seed> cases): mean |difference| / 255, mean PSNR "
        "(dB, capped), mean SSIM, mean |per-frame mean RGB difference| / 255. NaN without one."
    )
    reference = "PSNR/SSIM as psnr_ref/ssim_ref (svibench/metrics/reference.py), against clip k"

    def compute(self, clip: ClipInput, features: Mapping[str, Any]) -> dict[str, float]:
        if clip.ground_truth is None:
            return dict.fromkeys(self.columns, NAN)
        return gt_scores(clip.frames, clip.ground_truth)
