"""VBench dimension formulas on hand-made features (no backbones)."""

import math

import numpy as np
import pytest
import torch

from svibench.metrics.base import ClipInput
from svibench.metrics.vbench.consistency import SubjectConsistency, pair_consistency
from svibench.metrics.vbench.dynamic import (
    DynamicDegree,
    is_dynamic,
    vbench_count_num,
    vbench_threshold,
)
from svibench.metrics.vbench.i2v import i2v_score
from svibench.metrics.vbench.imaging import ImagingQuality
from svibench.metrics.vbench.motion_smoothness import MotionSmoothness
from svibench.metrics.vbench.quality_score import VBENCH_QUALITY, quality_score
from svibench.metrics.vbench.windows import window_slices

torch.set_num_threads(1)


def _clip(t=8, h=16, w=16, fps=16):
    frames = np.zeros((t, h, w, 3), np.uint8)
    return ClipInput(frames, frames[0], "p", 0, fps, 0)


def test_identical_features_give_one():
    f = torch.randn(1, 32).repeat(7, 1)
    assert pair_consistency(f) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("t,k", [(8, 3), (10, 1), (6, 5)])
def test_hard_cut_lowers_consistency_by_computed_amount(t, k):
    a, b = torch.zeros(32), torch.zeros(32)
    a[0], b[1] = 1.0, 1.0  # orthogonal: cos = 0 across the cut
    f = torch.stack([a] * k + [b] * (t - k))
    # frames 1..k-1: 1; frame k: (0+0)/2; frames k+1..t-1: (1+0)/2
    want = ((k - 1) * 1.0 + 0.0 + (t - 1 - k) * 0.5) / (t - 1)
    assert pair_consistency(f) == pytest.approx(want, abs=1e-12)
    assert pair_consistency(f) < 1.0


def test_negative_cosines_are_clamped():
    a = torch.ones(4)
    f = torch.stack([a, -a, a])
    # frame 1: prev -1 -> 0, first -1 -> 0; frame 2: prev -1 -> 0, first 1
    assert pair_consistency(f) == pytest.approx((0.0 + 0.5) / 2)


def test_half_features_follow_vbench_cuda_loop():
    """fp16 features (VBench's CLIP on CUDA): normalise and every cosine in fp16, rounded to
    half before max(0, .), exactly VBench's per-pair loop; differs from the fp64 path."""
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(3)
    base = torch.randn(1, 512, generator=g)
    f = (base + 0.3 * torch.randn(12, 512, generator=g)).half()
    n = F.normalize(f, dim=-1, p=2)
    total = 0.0
    for i in range(1, len(n)):  # vbench/background_consistency.py, literally
        pre = max(0.0, F.cosine_similarity(n[i - 1 : i], n[i : i + 1]).item())
        fir = max(0.0, F.cosine_similarity(n[0:1], n[i : i + 1]).item())
        total += (pre + fir) / 2
    assert pair_consistency(f) == pytest.approx(total / (len(n) - 1), abs=1e-12)
    assert pair_consistency(f) != pytest.approx(pair_consistency(f.float()), abs=1e-6)


def test_i2v_score_weights():
    e = torch.eye(4, dtype=torch.float64)
    frames = torch.stack([e[0], e[0], e[1]])
    # conformity to e0: [1,1,0] -> max 1; consecutive: [1, 0] -> mean .5, min 0
    assert i2v_score(frames, e[0]) == pytest.approx(0.4 * 1 + 0.3 * 0.5 + 0.3 * 0)


def test_quality_score_extremes_and_weights():
    lo = {d: v[0] for d, v in VBENCH_QUALITY.items()}
    hi = {d: v[1] for d, v in VBENCH_QUALITY.items()}
    assert quality_score(lo) == pytest.approx(0.0)
    assert quality_score(hi) == pytest.approx(100.0)
    only_dyn = dict(lo, dynamic_degree=1.0)
    assert quality_score(only_dyn) == pytest.approx(100 * 0.5 / 6.5)
    row = dict(lo, motion_smoothness=0.9)
    assert quality_score(row) == pytest.approx(100 * (0.9 - 0.706) / (0.9975 - 0.706) / 6.5)
    with pytest.raises(KeyError):
        quality_score({"subject_consistency": 1.0})


def test_dynamic_thresholds_and_bankers_rounding():
    assert vbench_threshold(480, 832) == pytest.approx(6 * 480 / 256)
    assert vbench_count_num(10) == 2  # round(2.5) == 2 (banker's)
    assert vbench_count_num(6) == 2  # round(1.5) == 2
    assert vbench_count_num(14) == 4  # round(3.5) == 4
    assert is_dynamic(np.array([7.0, 7.0, 1.0]), 6.0, 4)  # need 1
    assert not is_dynamic(np.array([7.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]), 6.0, 10)


def test_dynamic_metric_columns():
    clip = _clip(t=9, h=256, w=256, fps=16)
    out = DynamicDegree().compute(
        clip, {"raft_maxrad": {"max_rad": np.array([5.0, 7.0, 8.0, 1.0]), "stride": 2}}
    )
    # 5 kept frames -> need round(1.25) = 1 pair above 6.0
    assert out == {"dynamic_degree": 1.0, "dynamic_degree_magnitude": pytest.approx(5.25)}


def test_motion_smoothness_from_vfi():
    clip = _clip(t=7)
    out = MotionSmoothness().compute(clip, {"amt_vfi": np.array([10.0, 20.0, 30.0])})
    assert out["motion_smoothness"] == pytest.approx((255 - 20) / 255)


def test_imaging_quality_divides_per_clip():
    clip = _clip(t=4)
    out = ImagingQuality().compute(clip, {"musiq_spaq": torch.tensor([50.0, 60.0, 70.0, 80.0])})
    assert out["imaging_quality"] == pytest.approx(0.65)


def test_windows_and_windowed_metric():
    assert window_slices(10, 16, None) == [slice(0, 10)]
    assert window_slices(70, 16, 2.0) == [slice(0, 32), slice(32, 64), slice(64, 70)]
    assert window_slices(65, 16, 2.0) == [slice(0, 32), slice(32, 64)]  # 1-frame tail dropped
    a, b = torch.zeros(8), torch.zeros(8)
    a[0], b[1] = 1.0, 1.0
    f = torch.stack([a] * 4 + [b] * 4)  # the cut is exactly at a window border
    clip = _clip(t=8, fps=2)
    whole = SubjectConsistency().compute(clip, {"dino_vbench": f})["subject_consistency"]
    win = SubjectConsistency(window_s=2.0).compute(clip, {"dino_vbench": f})["subject_consistency"]
    assert win == pytest.approx(1.0)
    assert whole == pytest.approx((3 + 0 + 3 * 0.5) / 7)
    assert not math.isclose(win, whole)


def test_quality_score_metric_from_shared_features():
    from torch import nn

    from svibench.metrics.registry import METRICS
    from svibench.metrics.vbench.aesthetic import AestheticQuality
    from svibench.metrics.vbench.quality_score import QualityScore

    head = nn.Linear(4, 1)
    nn.init.zeros_(head.weight)
    nn.init.constant_(head.bias, 6.0)  # aesthetic 0.6
    parts = {d: METRICS.get(d)() for d in VBENCH_QUALITY if d != "aesthetic_quality"}
    parts["aesthetic_quality"] = AestheticQuality(head=head)
    clip = _clip(t=9, h=256, w=256, fps=8)  # static frames: flicker 1
    same = torch.ones(9, 4)
    feats = {
        "dino_vbench": same,
        "clip_b32_vbench": same,
        "clip_l14_vbench": same,
        "musiq_spaq": torch.full((9,), 40.0),
        "raft_maxrad": {"max_rad": np.zeros(8), "stride": 1},
        "amt_vfi": np.zeros(4),
    }
    got = QualityScore(parts=parts).compute(clip, feats)["quality_score"]
    ms = (1.0 - 0.706) / (0.9975 - 0.706)
    want = 100 * (1 + 1 + 1 + ms + 0.6 + 0.4 + 0.5 * 0) / 6.5
    assert got == pytest.approx(want)
