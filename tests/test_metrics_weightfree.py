"""Weight-free per-clip metrics: flicker, PSNR/SSIM to reference, seam, motion, sharpness."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from svibench.metrics.base import ClipInput
from svibench.metrics.flicker import TemporalFlickering, temporal_flickering
from svibench.metrics.motion import frame_difference_motion
from svibench.metrics.reference import PSNR_CAP_DB, psnr_to_reference, ssim, ssim_to_reference
from svibench.metrics.registry import METRICS
from svibench.metrics.seam import RATIO_EPS, seam_scores
from svibench.metrics.sharpness import sharpness

WEIGHT_FREE = [
    "temporal_flickering",
    "psnr_ref",
    "ssim_ref",
    "seam",
    "motion",
    "sharpness",
    "sharpness_lapvar",
    "noise",
    "colour",
]


def _textured(t: int = 6, h: int = 32, w: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (t, h, w, 3), dtype=np.uint8)


def _blur(frames: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    out = ndimage.gaussian_filter(frames.astype(np.float64), (0, sigma, sigma, 0))
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def _clip(frames, clip=1, motion_frames=1, tail=None) -> ClipInput:
    return ClipInput(
        frames=frames, reference=frames[0], prompt="p", clip=clip, fps=16,
        motion_frames=motion_frames, previous_tail=tail,
    )  # fmt: skip


# -- temporal flickering / motion -----------------------------------------------------------


def test_flicker_identical_frames_is_one_and_motion_zero():
    frames = np.repeat(_textured(1), 5, axis=0)
    assert temporal_flickering(frames) == 1.0
    assert frame_difference_motion(frames) == 0.0


def test_flicker_constant_difference_is_exact():
    # frames alternate 10, 13, 10, ... so every consecutive pair differs by exactly 3
    frames = np.empty((7, 8, 9, 3), np.uint8)
    frames[0::2], frames[1::2] = 10, 13
    assert temporal_flickering(frames) == (255.0 - 3.0) / 255.0
    assert frame_difference_motion(frames) == pytest.approx(3.0 / 255.0, abs=1e-12)


def test_flicker_matches_vbench_formula_bit_for_bit():
    cv2 = pytest.importorskip("cv2")
    frames = _textured(9, 48, 64, seed=3)
    # VBench vbench/temporal_flickering.py: calculate_mae per pair, np.mean, (255 - m)/255
    maes = [
        np.mean(cv2.absdiff(np.array(a, dtype=np.float32), np.array(b, dtype=np.float32)))
        for a, b in zip(frames[:-1], frames[1:], strict=True)
    ]
    expected = (255.0 - np.mean(np.array(maes)).item()) / 255.0
    assert temporal_flickering(frames) == expected
    assert temporal_flickering(frames[:, :, :, ::-1].copy()) == expected  # BGR vs RGB: same


def test_flicker_single_frame_is_nan_and_bad_shape_raises():
    assert math.isnan(temporal_flickering(_textured(1)))
    with pytest.raises(ValueError, match="uint8"):
        temporal_flickering(np.zeros((3, 4, 4), np.uint8))


# -- PSNR / SSIM to the reference ------------------------------------------------------------


def test_psnr_known_noise_and_cap():
    ref = np.full((16, 20, 3), 128, np.uint8)
    sign = np.where((np.indices((16, 20)).sum(0) % 2) == 0, 1, -1)[..., None]
    noisy = (ref.astype(int) + 5 * sign).astype(np.uint8)  # |error| = 5 everywhere: MSE = 25
    frames = np.stack([noisy, noisy])
    assert psnr_to_reference(frames, ref) == pytest.approx(10 * math.log10(255**2 / 25), abs=1e-12)
    assert psnr_to_reference(np.stack([ref, ref]), ref) == PSNR_CAP_DB
    mixed = np.stack([ref, noisy])  # mean of dB, not dB of mean MSE
    assert psnr_to_reference(mixed, ref) == pytest.approx((100 + 10 * math.log10(2601)) / 2)


def test_ssim_identical_is_one_and_blur_is_lower():
    frames = _textured(3, 40, 48, seed=1)
    ref = frames[0]
    assert ssim(ref, ref) == pytest.approx(1.0, abs=1e-12)
    same = np.repeat(ref[None], 3, axis=0)
    assert ssim_to_reference(same, ref) == pytest.approx(1.0, abs=1e-12)
    blurred = _blur(same, 1.0)
    more = _blur(same, 3.0)
    s1, s3 = ssim_to_reference(blurred, ref), ssim_to_reference(more, ref)
    assert s3 < s1 < 0.99


def test_ssim_matches_skimage_when_available():
    metrics = pytest.importorskip("skimage.metrics")
    from svibench.metrics.pixels import luminance

    a, b = _textured(2, 37, 53, seed=5)
    expected = metrics.structural_similarity(
        luminance(a).astype(np.float64), luminance(b).astype(np.float64), data_range=255,
        gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    )  # fmt: skip
    assert ssim(a, b) == pytest.approx(expected, abs=1e-10)


def test_reference_size_mismatch_raises():
    with pytest.raises(ValueError, match="reference"):
        psnr_to_reference(_textured(2, 8, 8), np.zeros((8, 9, 3), np.uint8))


# -- seam ------------------------------------------------------------------------------------


def test_seam_nan_for_first_clip_and_zero_for_seamless_join():
    frames = _textured(5, seed=2)
    assert all(math.isnan(v) for v in seam_scores(frames, None, 1))
    mad, ratio = seam_scores(frames, frames[:1], motion_frames=1)  # frames[0] vs frames[1]
    assert mad > 0  # frames[1] is a different random image
    same = np.repeat(frames[:1], 5, axis=0)
    mad, ratio = seam_scores(same, same[:1], motion_frames=1)
    assert mad == 0.0 and ratio == 1.0


def test_seam_known_jump_and_first_new_index():
    frames = np.full((6, 8, 8, 3), 110, np.uint8)
    frames[0] = 100  # the motion frame repeats the previous tail
    tail = np.full((1, 8, 8, 3), 100, np.uint8)
    mad, ratio = seam_scores(frames, tail, motion_frames=1)  # compares tail[-1] with frames[1]
    assert mad == pytest.approx(10 / 255, abs=1e-12)
    assert ratio == pytest.approx((10 / 255 + RATIO_EPS) / RATIO_EPS)  # static clip: big jump
    mad0, _ = seam_scores(frames, tail, motion_frames=0)  # frames[0] == tail: seamless
    assert mad0 == 0.0


def test_seam_ratio_near_one_when_join_is_an_ordinary_step():
    base = np.arange(10, 200, 10, dtype=np.uint8)  # uniform step of 10 per frame
    frames = np.broadcast_to(base[:, None, None, None], (len(base), 4, 4, 3)).copy()
    mad, ratio = seam_scores(frames[1:], frames[:1], motion_frames=0)
    assert mad == pytest.approx(10 / 255) and ratio == pytest.approx(1.0)


# -- sharpness -------------------------------------------------------------------------------


def test_sharpness_drops_with_blur():
    # structured content (the tiny world) rather than i.i.d. random pixels, which the
    # noise-corrected sharpness partly reads as noise
    from svibench.world import World

    frames = World(4, 40, 48).clip(0.0, 3)
    s0, s1, s2 = sharpness(frames), sharpness(_blur(frames, 1.0)), sharpness(_blur(frames, 2.5))
    assert s0 > s1 > s2 >= 0
    assert sharpness(np.full((2, 8, 8, 3), 77, np.uint8)) == 0.0


# -- contract --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", WEIGHT_FREE)
def test_registry_metrics_follow_the_contract(name):
    cls = METRICS.get(name)
    assert cls.name == name
    frames = _textured(5, 24, 32, seed=6)
    out = cls().compute(_clip(frames, tail=frames[-1:]), {})
    assert tuple(out) == cls.output_columns()
    assert all(isinstance(v, float) and math.isfinite(v) for v in out.values())


def test_directions():
    seam = METRICS.get("seam")
    assert not seam.higher_is_better_for("seam_mad") and not seam.higher_is_better_for("seam_ratio")
    assert TemporalFlickering.higher_is_better_for("temporal_flickering")
    for name in ("psnr_ref", "ssim_ref", "sharpness"):
        assert METRICS.get(name).higher_is_better
