"""Mean frame-difference motion: a crude, descriptive amount of change between frames."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from svibench.metrics.base import ClipInput, Metric
from svibench.metrics.pixels import check_frames, consecutive_absdiff


def frame_difference_motion(frames: np.ndarray) -> float:
    """Mean over consecutive pairs of mean |f_i - f_{i+1}| / 255, in [0, 1]; NaN if < 2 frames.

    Same pixel statistic as VBench temporal flickering (so ``motion == 1 - temporal_flickering``
    up to float rounding); kept separate because it is read as "how much moves", not quality.
    """
    check_frames(frames)
    if len(frames) < 2:
        return float("nan")
    return float(np.mean(consecutive_absdiff(frames), dtype=np.float64)) / 255.0


class FrameDifferenceMotion(Metric):
    name = "motion"
    # Descriptive, not a quality score: more motion is neither better nor worse. The flag is set
    # only because the contract needs one; rankings should not use this column.
    higher_is_better = True
    description = "Mean consecutive-frame |difference| / 255 (descriptive amount of motion)."
    reference = "pixel statistic of VBench vbench/temporal_flickering.py calculate_mae"

    def compute(self, clip: ClipInput, features: Mapping[str, Any]) -> dict[str, float]:
        return {self.name: frame_difference_motion(clip.frames)}
