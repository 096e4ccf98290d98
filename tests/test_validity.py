"""Validated drift measures: degradations, the new weight-free metrics, ground truth, statistics."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from svibench import degradations as D
from svibench.analysis.drift import DRIFT_MEASURES, headline_drift_metric, summarise_series
from svibench.analysis.stats import can_reach, min_attainable_p, one_sample_p, paired_test
from svibench.metrics.colour import colour_stats
from svibench.metrics.ground_truth import GroundTruthError, gt_scores
from svibench.metrics.noise import clip_noise, noise_sigma
from svibench.metrics.sharpness import sharpness, sharpness_lapvar
from svibench.world import World, to_uint8


@pytest.fixture(scope="module")
def world():
    return World(7, 64, 64)


def _clip(world, name="colour", s=0.0, seed=0, frames=9):
    rng = np.random.default_rng(seed)
    other = World(8, 64, 64)
    times = D.time_warp(name, 0.0, frames, s)
    return np.stack(
        [to_uint8(D.apply(name, world.frame_float(t), s, rng, other.frame_float(t))) for t in times]
    )


@pytest.mark.parametrize("name", D.DEGRADATIONS)
def test_level_zero_is_identity(world, name):
    f = world.frame_float(3.0)
    out = D.apply(name, f, 0.0, np.random.default_rng(0), world.frame_float(9.0))
    assert out is f
    np.testing.assert_array_equal(D.time_warp(name, 16.0, 5, 0.0), 16.0 + np.arange(5))


@pytest.mark.parametrize("name", D.DEGRADATIONS)
def test_effect_grows_with_strength(world, name):
    """Distance from the clean clip rises strictly with strength (every degradation)."""
    clean = _clip(world).astype(np.float64)
    dist = [np.abs(_clip(world, name, s).astype(np.float64) - clean).mean() for s in D_LEVELS]
    assert dist[0] == 0
    assert all(b > a for a, b in zip(dist, dist[1:], strict=False)), dist


D_LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)


def test_clip_strength_grows_with_clip_and_level():
    assert D.clip_strength(0, 4, 5, 6) == 0 and D.clip_strength(4, 4, 0, 6) == 0
    assert D.clip_strength(4, 4, 5, 6) == 1.0 and D.clip_strength(2, 4, 5, 6) == 0.5
    s = [D.clip_strength(3, 4, k, 6) for k in range(6)]
    assert s == sorted(s) and len(set(s)) == 6
    with pytest.raises(ValueError, match="unknown degradation"):
        D.apply("fog", np.zeros((4, 4, 3), np.float32), 0.5, np.random.default_rng(0))


def test_noise_estimate_recovers_sigma_and_ignores_edges():
    rng = np.random.default_rng(0)
    flat = np.full((128, 128), 100.0)
    for sigma in (2.0, 5.0, 10.0):
        assert noise_sigma(flat + rng.normal(0, sigma, flat.shape)) == pytest.approx(sigma, rel=0.1)
    edges = np.where(np.arange(128)[None, :] % 32 < 16, 50.0, 200.0) * np.ones((128, 1))
    assert noise_sigma(edges) < 0.1  # strong edges, no noise: the median ignores them


def test_noise_metric_grows_with_noise_not_blur(world):
    base = clip_noise(_clip(world))
    assert clip_noise(_clip(world, "noise", 0.5)) > base + 2
    assert clip_noise(_clip(world, "noise", 1.0)) > clip_noise(_clip(world, "noise", 0.5))
    assert clip_noise(_clip(world, "blur", 1.0)) <= base + 0.05


def test_sharpness_falls_with_blur_and_is_not_raised_by_noise(world):
    clean = sharpness(_clip(world))
    blurred = [sharpness(_clip(world, "blur", s)) for s in D_LEVELS]
    assert all(b < a for a, b in zip(blurred, blurred[1:], strict=False)), blurred
    assert blurred[-1] < clean - 0.1
    for s in (0.25, 0.5, 1.0):  # noise neither raises nor lowers it
        assert sharpness(_clip(world, "noise", s)) == pytest.approx(clean, abs=0.02)
    for name in ("contrast", "saturation"):  # nor do contrast and saturation
        assert sharpness(_clip(world, name, 1.0)) == pytest.approx(clean, abs=0.02)
    # the old measure is fooled: noise makes the clip look sharper
    assert sharpness_lapvar(_clip(world, "noise", 0.5)) > 2 * sharpness_lapvar(_clip(world))


def test_colour_stats_follow_their_degradations(world):
    clean = colour_stats(_clip(world))
    assert colour_stats(_clip(world, "saturation", 1.0))["saturation"] > clean["saturation"] + 0.1
    assert colour_stats(_clip(world, "colour", 1.0))["colour_cast"] > clean["colour_cast"] + 0.05
    assert colour_stats(_clip(world, "contrast", 1.0))["contrast"] > clean["contrast"] + 0.01
    assert colour_stats(_clip(world, "texture", 1.0))["contrast"] < clean["contrast"] - 0.01
    flick = colour_stats(_clip(world, "flicker", 1.0))["brightness_flicker"]
    assert flick > 10 * clean["brightness_flicker"]


def test_gt_scores_exact_and_degraded(world):
    clean = _clip(world)
    exact = gt_scores(clean, clean)
    assert exact == {
        "mae_gt": 0.0,
        "psnr_gt": 100.0,
        "ssim_gt": pytest.approx(1.0),
        "colour_gt": 0.0,
    }
    worse = gt_scores(_clip(world, "colour", 1.0), clean)
    assert worse["psnr_gt"] < 40 and worse["colour_gt"] > 0.03
    with pytest.raises(ValueError, match="ground_truth"):
        gt_scores(clean, clean[:3])


def test_gt_metric_without_ground_truth_is_nan(world):
    from svibench.metrics.base import ClipInput

    clip = _clip(world)
    out = GroundTruthError().compute(ClipInput(clip, clip[0], "", 0, 16, 1), {})
    assert all(np.isnan(v) for v in out.values())
    assert GroundTruthError.uses_ground_truth


def test_ground_truth_clips_equal_the_drift_free_world():
    from svibench.generators.world import WorldGenerator, ground_truth_clips
    from svibench.suite import Case, Protocol

    p = Protocol(frames_per_clip=9, fps=8, clips=3, width=32, height=32, motion_frames=2)
    case = Case("c", "world:5", ("a",))
    truth = ground_truth_clips(case, p, (32, 32))
    gen = WorldGenerator(name="tiny-world", device="cpu")
    session = gen.start(case, p, np.zeros((32, 32, 3), np.uint8))
    for k in range(3):
        np.testing.assert_array_equal(session.next_clip("a", k, k), truth(k))
    assert ground_truth_clips(Case("c", "/x.png", ("a",)), p, (32, 32)) is None


def test_min_attainable_p_matches_exact_wilcoxon():
    for n in (4, 6, 12):
        all_positive = np.arange(1, n + 1, dtype=float)
        assert stats.wilcoxon(all_positive).pvalue == pytest.approx(min_attainable_p(n))
        assert one_sample_p(all_positive) == pytest.approx(min_attainable_p(n))
    assert min_attainable_p(4) == 0.125 and not can_reach(4)
    assert can_reach(12) and can_reach(12, tests=20) and not can_reach(6, tests=2)
    assert paired_test([1, 2, 3, 4], [0, 0, 0, 0])["p_min"] == 0.125


def test_worse_per_min_is_oriented_and_zero_when_flat():
    up = summarise_series([1.0, 2.0, 3.0], 1.0, higher_is_better=True)
    down = summarise_series([1.0, 2.0, 3.0], 1.0, higher_is_better=False)
    assert up["worse_per_min"] == -up["slope_per_min"] < 0
    assert down["worse_per_min"] == down["slope_per_min"] > 0
    flat = summarise_series([0.0, 0.0, 0.0], 1.0, higher_is_better=False)
    assert flat["worse_per_min"] == 0 and np.isnan(flat["rel_drop"])
    assert "worse_per_min" in DRIFT_MEASURES


def test_headline_drift_prefers_ground_truth():
    assert headline_drift_metric(["ssim_ref", "noise", "psnr_gt", "mae_gt"]) == "mae_gt"
    assert headline_drift_metric(["ssim_ref", "noise"]) == "noise"
    assert headline_drift_metric(["ssim_ref", "psnr_ref", "motion"]) is None


def test_lpips_random_backbone_mechanics(world):
    import torch

    from svibench.metrics.base import ClipInput, FeatureCache
    from svibench.metrics.lpips_metric import Lpips, LpipsAlex, build_lpips_alex

    torch.manual_seed(0)
    feat = LpipsAlex(model=build_lpips_alex(random=True))
    clean = _clip(world, frames=5)
    blurred = _clip(world, "blur", 1.0, frames=5)
    m = Lpips()
    same = ClipInput(clean, clean[0], "", 1, 16, 1, clean[1:2], clean)
    out = m.compute(same, FeatureCache(same, {"lpips_alex": feat}))
    assert out["lpips_gt"] == pytest.approx(0.0, abs=1e-6) and out["lpips_ref"] > 0
    assert out["lpips_seam"] == pytest.approx(0.0, abs=1e-6)  # tail = the first new frame
    bad = ClipInput(blurred, clean[0], "", 0, 16, 1, None, clean)
    out = m.compute(bad, FeatureCache(bad, {"lpips_alex": feat}))
    assert out["lpips_gt"] > 0 and np.isnan(out["lpips_seam"])


def test_lpips_trunk_loads_torchvision_alexnet_keys():
    import torchvision

    from svibench.metrics.lpips_metric import build_lpips_alex

    sd = torchvision.models.alexnet().state_dict()
    model = build_lpips_alex(sd)
    np.testing.assert_array_equal(
        model.net.slice3.__getattr__("6").weight.detach().numpy(), sd["features.6.weight"].numpy()
    )


def test_paired_ssim_matches_the_reference_ssim(world):
    from svibench.metrics.ground_truth import paired_ssim
    from svibench.metrics.reference import ssim

    a, b = _clip(world, frames=4), _clip(world, "noise", 0.5, frames=4)
    np.testing.assert_allclose(paired_ssim(a, b), [ssim(x, y) for x, y in zip(a, b, strict=True)])


# ----------------------------------------------------------------------------- the tiny suite
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The committed tiny suite through both synthetic worlds with the default metric set."""
    from pathlib import Path

    from svibench.analysis.tables import load_run
    from svibench.config import load_config
    from svibench.runner import run_suite
    from svibench.suite import load_suite

    root = Path(__file__).resolve().parents[1]
    cfg = load_config(root / "svibench.toml")
    suite = load_suite(root / "suites" / "tiny.toml")
    assert len(suite.cases) >= 12
    out = tmp_path_factory.mktemp("tiny") / "run"
    run_suite(
        suite,
        cfg,
        ("tiny-world", "tiny-world-drift"),
        cfg.metric_sets["default"],
        out,
        threads=1,
        save_videos=False,
        show_progress=False,
    )
    return load_run(out)


SENSITIVE_TO_TINY_DRIFT = (  # the drift world blurs, adds noise, shifts colour, flattens texture
    "mae_gt",
    "psnr_gt",
    "ssim_gt",
    "colour_gt",
    "noise",
    "sharpness",
    "colour_cast",
    "contrast",
)


def test_tiny_suite_no_drift_for_the_exact_world_and_drift_for_the_drifting_one(tiny_run):
    from svibench.analysis.tables import drift_ci_table

    d = drift_ci_table(tiny_run).set_index(["generator", "metric"])
    assert tiny_run.drift_headline == "mae_gt" and tiny_run.headline == "mae_gt"
    for metric in tiny_run.drift_columns:
        r = d.loc[("tiny-world", metric)]
        assert r["low"] <= 0 <= r["high"], (metric, r.to_dict())
        assert not r["drifts"]
    for metric in SENSITIVE_TO_TINY_DRIFT:
        r = d.loc[("tiny-world-drift", metric)]
        assert r["drifts"], (metric, r.to_dict())
    head = d.loc[("tiny-world-drift", "mae_gt")]
    assert head["low"] > 0 and head["p"] < 0.01 and head["p_min"] < 0.001


def test_tiny_suite_separates_the_worlds_at_p_below_001(tiny_run):
    from svibench.analysis.tables import paired_table

    pt = paired_table(tiny_run, "tiny-world").set_index(["generator", "metric"])
    r = pt.loc[("tiny-world-drift", "mae_gt drift")]
    assert r["n"] == 12 and r["w_p"] < 0.01 and r["mean_diff"] > 0 and r["reachable"]


def test_tiny_suite_check_invariants(tiny_run):
    from svibench.check import check_invariants
    from svibench.check_config import Invariant

    invs = (
        Invariant("no_drift", "tiny-world"),
        Invariant("drifts", "tiny-world-drift"),
        Invariant("drifts", "tiny-world"),  # must fail: the exact renderer does not drift
        Invariant("no_drift", "tiny-world-drift"),  # must fail
        Invariant("drifts_less", "tiny-world", than="tiny-world-drift"),
    )
    res = check_invariants(tiny_run, invs)
    assert [r.ok for r in res] == [True, True, False, False, True], [r.detail for r in res]


def test_leaderboard_drift_table_marks_only_the_drifting_world(tiny_run, tmp_path):
    from svibench.render.markdown import write_leaderboard

    md = write_leaderboard([tiny_run.root], tmp_path / "board", reference="tiny-world").read_text()
    drift = md[md.index("### Drift (validated drift measures)") : md.index("### Paired")]
    rows = [line for line in drift.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == len(tiny_run.drift_columns)
    for line in rows:
        world, drifting = line.split(" | ")[1:3]
        assert "▲" not in world
    assert "mae_gt (headline)" in drift and "▲" in drift
    assert "ssim_ref" not in drift  # similarity to the reference is not a drift measure


def test_signed_rank_ci_is_exact_and_honest_about_small_n():
    from svibench.analysis.stats import signed_rank_ci

    est, lo, hi, achieved = signed_rank_ci([1.0, 2.0, 3.0], 0.95)
    assert (est, lo, hi) == (2.0, 1.0, 3.0) and achieved == 0.75  # 3 cases cannot reach 95 %
    est, lo, hi, achieved = signed_rank_ci(np.arange(1.0, 13.0), 0.95)
    assert est == 6.5 and lo < est < hi and 0.95 <= achieved < 0.96
    # coverage of the centre of a heavy-tailed symmetric distribution, n = 12, 99.4 % intervals
    rng = np.random.default_rng(0)
    rows = rng.standard_t(2, size=(400, 12))
    covered = np.mean([lo <= 0 <= hi for _, lo, hi, _ in map(signed_rank_ci, rows, [0.994] * 400)])
    assert covered >= 0.98
