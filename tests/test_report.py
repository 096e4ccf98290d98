"""analysis/tables.py: tables from run rows (pure reads, deterministic), summary and paired tests."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from svibench.analysis.tables import (
    Labelled,
    clip_curves,
    drift_summary,
    load_run,
    paired_table,
    quality_table,
    ranking,
    relabel,
    write_tables,
)
from svibench.errors import SvibenchError
from svibench.render.console import print_summary
from svibench.store import ROW_COLUMNS, RunStore

torch.set_num_threads(1)

METRICS = [
    {"name": "up", "class": "x", "params": {}, "higher_is_better": {"up": True}},
    {"name": "down", "class": "x", "params": {}, "higher_is_better": {"down": False}},
]


def _run(root: Path, values: dict[str, list[list[float]]]) -> Path:
    """A run folder whose rows are given: values[gen][case][clip] for metric 'up'; 'down' = -up."""
    store = RunStore(root)
    store.claim(
        {
            "suite": {
                "name": "syn",
                "digest": "d",
                "protocol": {"frames_per_clip": 17, "motion_frames": 1, "fps": 16},
            },
            "metrics": METRICS,
            "generators": {g: {"kind": "world"} for g in values},
        }
    )
    for gen, cases in values.items():
        for c, series in enumerate(cases):
            rows = [
                ("syn", gen, f"case{c}", k, 42 * k, m, v if m == "up" else -v)
                for k, v in enumerate(series)
                for m in ("up", "down")
            ]
            path = store.rows_path(gen, f"case{c}")
            path.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(rows, columns=ROW_COLUMNS).to_parquet(path, index=False)
    return root


@pytest.fixture
def run_root(tmp_path: Path) -> Path:
    good = [[1.0, 0.9, 0.8], [2.0, 1.9, 1.8], [1.5, 1.5, 1.5], [3.0, 2.7, 2.4]]
    bad = [[s - 0.1 * k for k, s in enumerate(series)] for series in good]
    return _run(tmp_path / "run", {"good": good, "bad": bad})


def test_quality_and_ranking(run_root):
    run = load_run(run_root)
    assert run.suite == "syn" and run.columns == ("up", "down") and run.headline == "up"
    assert run.seconds_per_clip == pytest.approx(1.0)
    q = quality_table(run).set_index(["generator", "metric"])
    expected = np.mean(
        [np.mean(s) for s in [[1.0, 0.9, 0.8], [2.0, 1.9, 1.8], [1.5] * 3, [3.0, 2.7, 2.4]]]
    )
    assert q.loc[("good", "up"), "mean"] == pytest.approx(expected)
    assert q.loc[("good", "up"), "n"] == 4
    assert q.loc[("good", "up"), "low"] <= expected <= q.loc[("good", "up"), "high"]
    assert ranking(run, quality_table(run)) == ["good", "bad"]


def test_drift_summary_signs(run_root):
    d = drift_summary(load_run(run_root)).set_index(["generator", "metric", "measure"])["mean"]
    # 'up' falls over clips (worse) and 'down' rises (worse): rel_drop positive for both
    assert d[("bad", "up", "rel_drop")] > d[("good", "up", "rel_drop")] > 0
    assert d[("bad", "down", "rel_drop")] > 0
    assert d[("good", "up", "delta")] == pytest.approx(np.mean([-0.2, -0.2, 0.0, -0.6]))


def test_curves_and_tables_are_deterministic(run_root):
    curves = clip_curves(load_run(run_root))
    assert set(curves["clip"]) == {0, 1, 2} and (curves["n"] == 4).all()
    paths = write_tables(run_root)
    first = {k: p.read_bytes() for k, p in paths.items()}
    assert set(first) == {"quality", "drift", "curves"}
    assert {k: p.read_bytes() for k, p in write_tables(run_root).items()} == first


def test_paired_table_and_unknown_reference(run_root):
    run = load_run(run_root)
    pt = paired_table(run, "good").set_index(["generator", "metric"])
    assert pt.loc[("bad", "up"), "mean_diff"] == pytest.approx(-0.1)  # mean of -0.0, -0.1, -0.2
    assert 0 < pt.loc[("bad", "up"), "w_p_holm"] <= 1
    with pytest.raises(SvibenchError, match="nope"):
        paired_table(run, "nope")


def test_print_summary_lists_generators_in_rank_order(run_root):
    from rich.console import Console

    buf = io.StringIO()
    print_summary(run_root, Console(file=buf, width=200))
    text = buf.getvalue()
    assert text.index("good") < text.index("bad")
    assert "drift up" not in text  # "up" is not a validated drift measure


def test_empty_run_is_a_user_error(tmp_path):
    _run(tmp_path / "empty", {})
    with pytest.raises(SvibenchError, match="no committed clips"):
        load_run(tmp_path / "empty")


def test_relabel_puts_runs_and_seeds_under_labels(run_root, tmp_path):
    run = load_run(run_root)
    other = load_run(_run(tmp_path / "other", {"good": [[1.0, 1.0, 1.0]]}))
    rel = relabel(
        [
            Labelled(run, "good", "v", "s0"),
            Labelled(run, "bad", "v", "s1"),  # two seeds of one variant: units case@s0, case@s1
            Labelled(other, "good", "other-good"),
        ],
        tmp_path,
        "both",
    )
    assert rel.columns == run.columns and rel.seconds_per_clip == run.seconds_per_clip
    assert set(rel.rows["generator"]) == {"v", "other-good"}
    assert set(rel.rows.loc[rel.rows["generator"] == "v", "case"]) == {
        f"case{c}@s{s}" for c in range(4) for s in (0, 1)
    }
    q = quality_table(rel).set_index(["generator", "metric"])
    assert q.loc[("v", "up"), "n"] == 8 and q.loc[("other-good", "up"), "mean"] == 1.0
    same = relabel([Labelled(run, "good", "good"), Labelled(run, "bad", "bad")], run.root, "syn")
    pd.testing.assert_frame_equal(quality_table(same), quality_table(run))
    pd.testing.assert_frame_equal(drift_summary(same), drift_summary(run))
    with pytest.raises(ValueError, match="twice"):
        relabel([Labelled(run, "good", "v"), Labelled(run, "bad", "v")], tmp_path, "x")
