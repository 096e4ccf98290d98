"""dynamic_degree: is the clip moving? RAFT (20 iterations) between frames subsampled to
~8 fps (every max(1, round(fps/8))-th frame); per pair, max_rad = mean of the top 5 % flow
magnitudes (padded flow); a pair is dynamic above 6*min(H,W)/256; the clip is dynamic when at
least round(4*n/16) pairs are, n = kept frames (vbench/dynamic_degree.py infer, set_params,
check_move).

Two columns: ``dynamic_degree`` (the 0/1 flag, VBench's per-video value; its aggregate is
the mean of flags) and ``dynamic_degree_magnitude``, the raw magnitude: mean max_rad over the
kept pairs in pixels (compare with the threshold 6*min(H,W)/256).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from svibench.metrics.base import ClipInput, Metric
from svibench.metrics.vbench.windows import window_param, window_slices


def vbench_threshold(h: int, w: int) -> float:
    return 6.0 * (min(h, w) / 256.0)


def vbench_count_num(n_kept_frames: int) -> int:
    return round(4 * (n_kept_frames / 16.0))  # Python round: banker's rounding, as VBench


def is_dynamic(max_rad: np.ndarray, thres: float, n_kept_frames: int) -> bool:
    need = vbench_count_num(n_kept_frames)
    # check_move returns True as soon as count >= count_num (so count_num 0 -> True)
    return need <= 0 or int(np.sum(np.asarray(max_rad) > thres)) >= need


class DynamicDegree(Metric):
    name = "dynamic_degree"
    columns = ("dynamic_degree", "dynamic_degree_magnitude")
    directions = {"dynamic_degree_magnitude": True}
    features = ("raft_maxrad",)
    description = "RAFT flow: 1 if enough ~8 fps pairs move beyond 6*min(H,W)/256 (VBench); magnitude = mean max_rad (px)"
    reference = "vbench/dynamic_degree.py (VBench 0.1.5)"

    def compute(self, clip: ClipInput, features: Mapping[str, Any]) -> dict[str, float]:
        f = features["raft_maxrad"]
        rad, stride = np.asarray(f["max_rad"], dtype=np.float64), f["stride"]
        n_kept = len(rad) + 1
        thres = vbench_threshold(*clip.frames.shape[1:3])
        w = window_param(self.params)
        if w is None:
            flags, mags = [is_dynamic(rad, thres, n_kept)], [rad.mean()]
        else:
            # windows over kept frames: window of k kept frames = k-1 pairs inside it
            flags, mags = [], []
            for s in window_slices(n_kept, clip.fps / stride, w):
                r = rad[s.start : s.stop - 1]
                flags.append(is_dynamic(r, thres, s.stop - s.start))
                mags.append(r.mean())
        return {
            "dynamic_degree": float(np.mean(flags)),
            "dynamic_degree_magnitude": float(np.mean(mags)),
        }
