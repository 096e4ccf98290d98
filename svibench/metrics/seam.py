"""Seam continuity: is the step from clip k-1 into clip k like an ordinary frame step?

A long video made clip by clip shows its joins as a jump between the last frame of clip k-1 and
the first frame clip k actually generated. The first new frame is ``frames[motion_frames]``:
the ``motion_frames`` frames before it continue (repeat) the previous clip's tail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from svibench.metrics.base import ClipInput, Metric
from svibench.metrics.pixels import absdiff_mean, check_frames, consecutive_absdiff

# Added to both sides of seam_ratio so that a static clip with a clean join gives 1, not 0/0.
# Half a grey level on the 0..1 scale: far below any visible step.
RATIO_EPS = 0.5 / 255.0


def seam_scores(
    frames: np.ndarray, previous_tail: np.ndarray | None, motion_frames: int
) -> tuple[float, float]:
    """``(seam_mad, seam_ratio)`` of one clip; both NaN when there is no previous clip.

    seam_mad: mean |previous_tail[-1] - frames[motion_frames]| / 255 over all pixels and channels,
    in [0, 1] (0 = seamless). seam_ratio: (seam_mad + eps) / (typical + eps), where typical is the
    mean consecutive-frame difference / 255 among this clip's new frames (all frames if fewer
    than 2 are new); ~1 = the join looks like any other frame step, >> 1 = a visible jump.
    """
    check_frames(frames)
    if previous_tail is None or len(previous_tail) == 0:
        return float("nan"), float("nan")
    check_frames(previous_tail, "previous_tail")
    first_new = min(max(motion_frames, 0), len(frames) - 1)
    seam = float(absdiff_mean(previous_tail[-1], frames[first_new])) / 255.0
    new = frames[first_new:] if len(frames) - first_new >= 2 else frames
    steps = consecutive_absdiff(new)
    typical = float(np.mean(steps, dtype=np.float64)) / 255.0 if len(steps) else 0.0
    return seam, (seam + RATIO_EPS) / (typical + RATIO_EPS)


class SeamContinuity(Metric):
    name = "seam"
    columns = ("seam_mad", "seam_ratio")
    higher_is_better = False  # both columns: lower = smoother join
    description = (
        "Join from clip k-1 into clip k: seam_mad = mean |last old - first new frame| / 255; "
        "seam_ratio = seam step / typical in-clip step (1 = invisible). NaN for clip 0."
    )
    reference = "svibench definition (pixel MAD at the clip boundary, see svibench/metrics/seam.py)"

    def compute(self, clip: ClipInput, features: Mapping[str, Any]) -> dict[str, float]:
        mad, ratio = seam_scores(clip.frames, clip.previous_tail, clip.motion_frames)
        return {"seam_mad": mad, "seam_ratio": ratio}
