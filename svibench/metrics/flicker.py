"""VBench ``temporal_flickering``: how little consecutive frames change (1 = no change at all)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from svibench.metrics.base import ClipInput, Metric
from svibench.metrics.pixels import check_frames, consecutive_absdiff


def temporal_flickering(frames: np.ndarray) -> float:
    """VBench 0.1.5 score of one video: ``(255 - mean_pairs(mean|f_i - f_{i+1}|)) / 255``.

    Reproduces vbench/temporal_flickering.py ``mae_seq`` + ``cal_score`` (lines 21-40): per
    consecutive pair the float32 mean absolute difference over all pixels and the 3 channels
    (channel order does not matter), then the float32 mean over pairs, then ``(255 - m)/255``
    in Python floats. Every frame is used; VBench's "please ensure the video is static" has no
    filter in code, so none here either. Fewer than 2 frames: NaN (VBench's mean of nothing).
    """
    check_frames(frames)
    if len(frames) < 2:
        return float("nan")
    m = np.mean(consecutive_absdiff(frames)).item()  # float32 mean, as VBench's np.mean(score_seq)
    return (255.0 - m) / 255.0


class TemporalFlickering(Metric):
    name = "temporal_flickering"
    higher_is_better = True
    description = "VBench temporal flickering: 1 - mean consecutive-frame |difference| / 255."
    reference = "VBench 0.1.5 vbench/temporal_flickering.py (calculate_mae, mae_seq, cal_score)"

    def compute(self, clip: ClipInput, features: Mapping[str, Any]) -> dict[str, float]:
        # VBench reads this dimension with cv2.VideoCapture (vbench/temporal_flickering.py)
        return {self.name: temporal_flickering(clip.frames_as("cv2"))}
