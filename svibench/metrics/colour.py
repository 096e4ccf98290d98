"""Colour statistics of each clip: saturation, contrast, colour cast and brightness flicker.

Reference-free and close to content-invariant: they describe how the picture is rendered (how
colourful, how contrasty, how tinted, how steady its brightness) rather than what it shows, so
their per-clip series stays flat while a camera moves and shifts when a generator's colours creep.
All on the 0..1 scale, averaged over the frames of a clip.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from svibench.metrics.base import ClipInput, Metric
from svibench.metrics.pixels import check_frames, luminance


def colour_stats(frames: np.ndarray) -> dict[str, float]:
    """Per-clip colour statistics (see ``ColourStats``)."""
    check_frames(frames)
    x = frames.astype(np.float32) / 255.0
    sat = (frames.max(axis=-1) - frames.min(axis=-1)).mean(axis=(1, 2), dtype=np.float64) / 255.0
    y = luminance(frames) / 255.0
    con = y.reshape(len(y), -1).std(axis=1, dtype=np.float64)
    m = x.reshape(len(x), -1, 3).mean(axis=1, dtype=np.float64)  # mean colour per frame
    cast = np.linalg.norm(m - m.mean(axis=1, keepdims=True), axis=1)  # grey-world deviation
    jumps = np.abs(np.diff(y.reshape(len(y), -1).mean(axis=1, dtype=np.float64)))
    return {
        "saturation": float(np.mean(sat)),
        "contrast": float(np.mean(con)),
        "colour_cast": float(np.mean(cast)),
        "brightness_flicker": float(np.mean(jumps)) if len(jumps) else float("nan"),
    }


class ColourStats(Metric):
    name = "colour"
    columns = ("saturation", "contrast", "colour_cast", "brightness_flicker")
    higher_is_better = True
    # saturation and contrast: descriptive (a change either way is drift); the flag only orients
    # the sign of the drift columns. A cast or brightness jumps are worse when larger.
    directions = {"colour_cast": False, "brightness_flicker": False}
    description = (
        "saturation = mean (max - min) of RGB; contrast = std of luma; colour_cast = distance of "
        "the mean RGB from grey; brightness_flicker = mean |change of mean luma| between frames."
    )
    reference = "svibench definitions (svibench/metrics/colour.py), 0..1 scale"

    def compute(self, clip: ClipInput, features: Mapping[str, Any]) -> dict[str, float]:
        return colour_stats(clip.frames)
