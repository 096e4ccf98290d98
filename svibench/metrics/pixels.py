"""Pixel-level helpers shared by the weight-free metrics (pure numpy, streaming per frame pair)."""

from __future__ import annotations

import numpy as np

# ITU-R BT.601 luma weights (the ones cv2.COLOR_RGB2GRAY and Wang et al.'s MATLAB rgb2gray use).
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def check_frames(frames: np.ndarray, what: str = "frames") -> np.ndarray:
    """Return ``frames`` if it is uint8 (T, H, W, 3), else raise ValueError naming the shape."""
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"{what}: expected uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    return frames


def absdiff_mean(a: np.ndarray, b: np.ndarray) -> np.float32:
    """Mean |a - b| over all pixels and channels, in float32 like VBench.

    VBench ``calculate_mae`` (vbench/temporal_flickering.py:28-33) casts both frames to float32,
    takes ``cv2.absdiff`` (exact for integer-valued float32) and ``np.mean`` (float32 result,
    numpy pairwise summation). ``np.abs(a - b)`` in float32 is bit-identical to that absdiff.
    """
    return np.mean(np.abs(a.astype(np.float32) - b.astype(np.float32)))


def consecutive_absdiff(frames: np.ndarray) -> np.ndarray:
    """float32 (T-1,) array of ``absdiff_mean(frames[i], frames[i+1])``; one pair in memory at a time."""
    return np.array(
        [absdiff_mean(frames[i], frames[i + 1]) for i in range(len(frames) - 1)],
        dtype=np.float32,
    )


def luminance(frames: np.ndarray) -> np.ndarray:
    """float32 BT.601 luma on the 0..255 scale, shape (..., H, W), not rounded."""
    return frames.astype(np.float32) @ _LUMA
