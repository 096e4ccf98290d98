"""Drift measures of per-clip series and statistics across cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from svibench.analysis.drift import (
    DRIFT_COLUMNS,
    DRIFT_MEASURES,
    DRIFT_METRICS,
    DRIFT_SIZE_MEASURES,
    HEADLINE_MEASURE,
    TWO_SIDED,
    aggregate_cases,
    drift_table,
    summarise_series,
    vde,
)
from svibench.analysis.stats import bootstrap_ci, holm, paired_test
from svibench.metrics.layout import LAYOUT, LAYOUT_FILE, load_layout


def test_linear_series_exact_slope_and_delta():
    values = [0.9 - 0.02 * k for k in range(10)]
    s = summarise_series(values, seconds_per_clip=5.0, higher_is_better=True)
    # clip midpoints are 5 s = 1/12 min apart: slope per minute = -0.02 * 12
    assert s["slope_per_min"] == pytest.approx(-0.24, abs=1e-12)
    assert s["delta"] == pytest.approx(-0.18, abs=1e-12)
    assert s["first"] == 0.9 and s["last"] == pytest.approx(0.72)
    assert s["n_clips"] == 10
    assert set(s) == set(DRIFT_COLUMNS)


def test_relative_drop_sign_follows_direction():
    values = [2.0, 2.5, 3.0]
    up_good = summarise_series(values, 5.0, higher_is_better=True)
    down_good = summarise_series(values, 5.0, higher_is_better=False)
    assert up_good["rel_drop"] == pytest.approx(-0.5)  # rose: better
    assert down_good["rel_drop"] == pytest.approx(0.5)  # rose: worse
    assert up_good["delta"] == down_good["delta"] == 1.0


def test_vde_hand_computed():
    # N = 4, m1 = 2: |m_i - m1|/m1 = 0.5, 0.5, 0; linear weights N - i + 1 = 3, 2, 1
    assert vde([2.0, 3.0, 1.0, 2.0]) == pytest.approx(2.5)
    assert vde([2.0, 3.0, 1.0, 2.0], normalise=True) == pytest.approx(2.5 / 6)
    assert vde([5.0]) == 0.0
    assert math.isnan(vde([0.0, 1.0]))
    assert vde([3.0, 3.0, 3.0]) == 0.0


def test_nan_clips_dropped_and_clip_positions_kept():
    s = summarise_series([float("nan"), 1.0, 2.0, 3.0], 6.0, higher_is_better=False)
    assert s["n_clips"] == 3 and s["first"] == 1.0 and s["delta"] == 2.0
    assert s["slope_per_min"] == pytest.approx(10.0)  # 1 per clip, 10 clips per minute
    one = summarise_series([float("nan"), 4.0], 6.0, True)
    assert one["mean"] == 4.0 and math.isnan(one["slope_per_min"]) and math.isnan(one["vde"])
    gap = summarise_series([1.0, 3.0], 6.0, True, clips=[0, 2])  # clip 1 missing
    assert gap["slope_per_min"] == pytest.approx(10.0)


def test_bootstrap_ci_contains_mean_ordered_deterministic():
    values = np.random.default_rng(1).normal(0.8, 0.05, 20)
    mean, low, high = bootstrap_ci(values, seed=0)
    assert mean == pytest.approx(values.mean())
    assert low < mean < high
    assert bootstrap_ci(values, seed=0) == (mean, low, high)
    _, low99, high99 = bootstrap_ci(values, confidence=0.99, seed=0)
    assert low99 < low and high99 > high
    _, blow, bhigh = bootstrap_ci(values, method="BCa")
    assert blow < mean < bhigh


def test_bootstrap_ci_edge_cases():
    m, lo, hi = bootstrap_ci([0.5])
    assert m == 0.5 and math.isnan(lo) and math.isnan(hi)
    assert bootstrap_ci([0.3, 0.3, 0.3, float("nan")]) == (0.3, 0.3, 0.3)
    assert all(math.isnan(x) for x in bootstrap_ci([]))


def test_holm_matches_hand_computation():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.06
    adj = holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adj, [0.03, 0.06, 0.06, 0.02])
    adj = holm([0.5, float("nan"), 0.9])  # m = 2
    np.testing.assert_allclose(adj, [1.0, np.nan, 1.0])


def test_paired_test_detects_consistent_shift():
    rng = np.random.default_rng(2)
    a = rng.normal(0.7, 0.1, 12)
    b = a + 0.05 + rng.normal(0, 0.005, 12)  # b better by ~0.05 on every case
    r = paired_test(a, b)
    assert r["n"] == 12
    assert r["mean_diff"] == pytest.approx(np.mean(a - b))
    assert r["diff_low"] < r["mean_diff"] < r["diff_high"] < 0
    assert r["t_p"] < 1e-6 and r["w_p"] < 0.001
    same = paired_test(a, a)
    assert same["t_p"] == 1.0 and same["w_p"] == 1.0 and same["mean_diff"] == 0.0
    noise = paired_test(a, a + rng.normal(0, 0.1, 12))
    assert noise["t_p"] > 0.01


def _rows() -> pd.DataFrame:
    recs = []
    for gen, slope in (("drifting", -0.05), ("stable", 0.0)):
        for case in ("c1", "c0"):
            for clip in range(4):
                recs.append((gen, case, clip, "psnr_ref", 30 + slope * 100 * clip))
                recs.append((gen, case, clip, "seam_mad", math.nan if clip == 0 else 0.01 - slope))
    return pd.DataFrame(recs, columns=["generator", "case", "clip", "metric", "value"]).sample(
        frac=1.0, random_state=0
    )


def test_drift_table_one_row_per_group_and_deterministic():
    rows = _rows()
    dirs = {"psnr_ref": True, "seam_mad": False}
    t = drift_table(rows, 5.0, dirs)
    assert len(t) == 2 * 2 * 2
    assert list(t[["generator", "case", "metric"]].itertuples(index=False, name=None))[:2] == [
        ("drifting", "c0", "psnr_ref"),
        ("drifting", "c0", "seam_mad"),
    ]
    d = t[(t.generator == "drifting") & (t.metric == "psnr_ref")]
    assert (d["delta"] == -15.0).all() and (d["rel_drop"] > 0).all()
    s = t[(t.generator == "stable") & (t.metric == "psnr_ref")]
    assert (s["rel_drop"] == 0).all() and (s["vde"] == 0).all()
    seam = t[t.metric == "seam_mad"]
    assert (seam["n_clips"] == 3).all()
    pd.testing.assert_frame_equal(t, drift_table(rows.sample(frac=1.0, random_state=1), 5.0, dirs))
    agg = aggregate_cases(t)
    assert len(agg) == 2 * 2 * (len(DRIFT_COLUMNS) - 1)
    with pytest.raises(ValueError, match="seam_mad"):
        drift_table(rows, 5.0, {"psnr_ref": True})


def test_table_layout_is_data_with_the_drift_lists_in_order(tmp_path):
    # the lists live in svibench/metrics/layout.toml; their order is the headline order
    assert DRIFT_MEASURES == ("delta", "slope_per_min", "worse_per_min", "rel_drop", "vde_norm")
    assert HEADLINE_MEASURE == "worse_per_min"
    assert DRIFT_SIZE_MEASURES == ("worse_per_min", "rel_drop", "vde", "vde_norm")
    assert DRIFT_METRICS[:2] == ("mae_gt", "psnr_gt") and len(DRIFT_METRICS) == 10
    assert TWO_SIDED == ("saturation", "contrast")
    assert LAYOUT.quality_headline == ("quality_score",)
    assert LAYOUT.ablation_tested == ("mean", "rel_drop")
    assert set(DRIFT_MEASURES) | set(DRIFT_SIZE_MEASURES) <= set(DRIFT_COLUMNS)
    assert set(LAYOUT.ablation_tested) - {"mean"} <= set(DRIFT_MEASURES)
    bad = tmp_path / "layout.toml"
    bad.write_text(
        LAYOUT_FILE.read_text().replace(
            'headline_measure = "worse_per_min"', 'headline_measure = "vde"'
        )
    )
    with pytest.raises(ValueError, match="headline_measure"):
        load_layout(bad)
