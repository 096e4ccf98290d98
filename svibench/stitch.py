"""Stitch the clips of one long video.

Upstream test_svi.py:472-476: every clip but the last drops its final m frames (they are
regenerated as the first m frames of the next clip); the last clip keeps all of them, so N
clips of F frames give N·(F − m) + m frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def stitch(clips: Sequence[np.ndarray], m: int) -> np.ndarray:
    """Concatenate clips (each T×H×W×3) dropping the last ``m`` frames of all but the last."""
    if not clips:
        raise ValueError("stitch: no clips")
    if m < 0 or any(m >= len(c) for c in clips):
        raise ValueError(f"stitch: m={m} must be >= 0 and smaller than every clip length")
    parts = [c[: len(c) - m] for c in clips[:-1]] + [clips[-1]]
    return np.concatenate(parts, axis=0)


def stitched_length(num_clips: int, frames_per_clip: int, m: int) -> int:
    """N·(F − m) + m."""
    return num_clips * (frames_per_clip - m) + m
