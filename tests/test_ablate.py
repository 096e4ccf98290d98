"""`svibench ablate` on a micro budget through the CLI, with a fake trainer whose "model" is the
tiny world with a drift that grows with the swept parameter (so the table has a known order)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from svibench.train.base import Param, Trainer, TrainResult
from svibench.train.registry import TRAINERS

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

MICRO_SUITE = """
[suite]
name = "micro"
description = "2 cases x 3 clips of 9 frames at 32x32"
version = 1
[protocol]
frames_per_clip = 9
fps = 8
clips = 3
width = 32
height = 32
motion_frames = 1
seed_base = 0
seed_stride = 42
[[cases]]
id = "meadow"
image = "world:1"
prompts = ["a ball rolls"]
[[cases]]
id = "harbour"
image = "world:2"
prompts = ["boats drift"]
"""
METRICS = "psnr_ref,ssim_ref"


class FakeTrainer(Trainer):
    """'Trains' by counting steps into a file (resumable); the model is a drifting world."""

    name = "fake-ablate"
    params = {
        "clean_buffer_update_prob": Param(0.1, 0.0, 1.0),
        "clean_prob": Param(0.1, 0.0, 1.0),
        "steps": Param(3, 1, 1000),
        "fail_value": Param(-1.0, -1.0, 1.0, help="raise when clean_buffer_update_prob equals it"),
        "base_checkpoint": Param("none", help="a file whose content keys the cache"),
    }

    def train(self, out_dir: Path, seed: int, progress=None) -> TrainResult:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        v = self.config["clean_buffer_update_prob"]
        step_file = out_dir / "step"
        start = int(step_file.read_text()) if step_file.exists() else 0
        with open(os.environ["FAKE_LOG"], "a") as f:
            f.write(f"{v} {seed} {start}\n")
        if v == self.config["fail_value"]:
            raise RuntimeError("diverged on purpose")
        for s in range(start, self.config["steps"]):
            if os.environ.get("FAKE_KILL") == f"{v}_s{seed}" and s == 1:
                os._exit(9)  # a hard kill in the middle of training
            step_file.write_text(str(s + 1))
            if progress:
                progress(s + 1, self.config["steps"])
        return TrainResult(
            out_dir, self.config["steps"], {"final_loss": 1 - v, "seed": float(seed)}
        )

    def generator(self, result: TrainResult) -> dict:
        v = self.config["clean_buffer_update_prob"] + 0.5 * self.config["clean_prob"]
        seed = result.metrics["seed"]
        return {
            "kind": "world",
            "colour_drift": 0.01 + 0.08 * v + 0.004 * seed,
            "noise_drift": 0.002,
        }


if "fake-ablate" not in TRAINERS:
    TRAINERS.register("fake-ablate", FakeTrainer)


def mount():
    from svibench import cli
    from svibench.commands.ablate import ablate

    if "ablate" not in {c.name for c in cli.app.registered_commands}:
        cli.app.command("ablate")(ablate)
    return cli


@pytest.fixture
def proj(tmp_path, monkeypatch):
    cfg = (ROOT / "svibench.toml").read_text()
    if "[ablate]" in cfg:  # keep the project's other sections, drop its ablation defaults
        cfg = cfg[: cfg.index("[ablate]")]
    cfg += '\n[ablate]\ntrainer = "fake-ablate"\nsuite = "micro.toml"\n[ablate.slurm]\ncluster = "local"\ntimeout_min = 5\n'
    (tmp_path / "svibench.toml").write_text(cfg)
    (tmp_path / "micro.toml").write_text(MICRO_SUITE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "250")  # one-line messages stay on one line
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "train.log"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    (tmp_path / "train.log").write_text("")
    return tmp_path


def ablate(*args: str) -> int:
    cli = mount()
    old = sys.argv
    sys.argv = ["svibench", "ablate", "--no-progress", "--metrics", METRICS, *args]
    try:
        cli.main()
    except SystemExit as e:
        return int(e.code or 0)
    finally:
        sys.argv = old
    return 0


def train_calls(proj: Path) -> list[str]:
    return [line for line in (proj / "train.log").read_text().splitlines() if line]


def table(proj: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(proj / "results" / name / "ablation.parquet")


def test_table_has_every_variant_with_ordered_cis_and_cache(proj, capsys):
    rc = ablate(
        "--param",
        "clean_buffer_update_prob",
        "--values",
        "0,0.1,1.0",
        "--seeds",
        "2",
        "--compare",
        "tiny-world",
        "--name",
        "cb",
    )
    assert rc == 0, capsys.readouterr()
    t = table(proj, "cb")
    labels = [
        "clean_buffer_update_prob=0.0",
        "clean_buffer_update_prob=0.1",
        "clean_buffer_update_prob=1.0",
        "tiny-world",
    ]
    assert list(t.drop_duplicates("label")["label"]) == labels
    assert set(t["status"]) == {"ok"}
    for measure in ("mean", "rel_drop"):
        sub = t[t["measure"] == measure]
        sub = sub[sub["label"] != "tiny-world"]  # a drift-free world has zero spread in drift
        assert np.isfinite(sub[["mean", "low", "high"]].to_numpy()).all()
        assert ((sub["low"] <= sub["mean"]) & (sub["mean"] <= sub["high"])).all()
    # (case, seed) units: 2 cases x 2 seeds
    assert set(t[(t["measure"] == "mean") & (t["label"] != "tiny-world")]["n"]) == {4}
    # more colour drift with the value: psnr falls, its relative drop grows
    q = t[(t["metric"] == "psnr_ref")].set_index(["label", "measure"])["mean"]
    assert q[(labels[0], "mean")] > q[(labels[1], "mean")] > q[(labels[2], "mean")]
    assert q[(labels[0], "rel_drop")] < q[(labels[2], "rel_drop")]
    paired = pd.read_parquet(proj / "results" / "cb" / "paired.parquet")
    assert set(paired["label"]) == {labels[0], labels[2]} and set(paired["reference"]) == {
        labels[1]
    }
    assert (paired["w_p_holm"] >= paired["w_p"] - 1e-12).all() and (paired["n"] == 4).all()
    md = (proj / "results" / "cb" / "ablation.md").read_text()
    assert "clean_buffer_update_prob=0.1` ★" in md and "Holm" in md
    assert list(
        (proj / "results" / "cb" / "plots").glob("psnr_ref_vs_clean_buffer_update_prob.png")
    )
    assert list((proj / "results" / "cb" / "plots").glob("drift_cb_psnr_ref.png"))
    run_gens = json.loads((proj / "results" / "cb" / "run" / "manifest.json").read_text())[
        "generators"
    ]
    assert "clean_buffer_update_prob=0.1_s1" in run_gens
    assert len(train_calls(proj)) == 6

    # a second call: nothing retrained, same table; adding a value trains only the new one
    assert (
        ablate(
            "--param",
            "clean_buffer_update_prob",
            "--values",
            "0,0.1,1.0",
            "--seeds",
            "2",
            "--compare",
            "tiny-world",
            "--name",
            "cb",
            "--no-plots",
        )
        == 0
    )
    assert len(train_calls(proj)) == 6
    pd.testing.assert_frame_equal(table(proj, "cb"), t)
    assert (
        ablate(
            "--param",
            "clean_buffer_update_prob=0,0.1,0.5,1.0",
            "--seeds",
            "2",
            "--name",
            "cb",
            "--no-plots",
        )
        == 0
    )
    assert len(train_calls(proj)) == 8


def test_failing_variant_is_marked_and_others_finish(proj, capsys):
    rc = ablate(
        "--param",
        "clean_buffer_update_prob",
        "--values",
        "0.1,0.5,1.0",
        "--set",
        "fail_value=0.5",
        "--name",
        "bad",
        "--no-plots",
    )
    out = capsys.readouterr().out
    assert rc == 1 and "diverged on purpose" in out
    t = table(proj, "bad").drop_duplicates("label").set_index("label")
    assert t.loc["clean_buffer_update_prob=0.5", "status"] == "failed"
    assert "diverged on purpose" in t.loc["clean_buffer_update_prob=0.5", "error"]
    assert t.loc["clean_buffer_update_prob=1.0", "status"] == "ok"
    full = table(proj, "bad")
    ok = full[(full["label"] == "clean_buffer_update_prob=1.0") & (full["measure"] == "mean")]
    assert np.isfinite(ok["mean"]).all() and len(ok) == 2
    md = (proj / "results" / "bad" / "ablation.md").read_text()
    assert "**failed**: train: RuntimeError: diverged on purpose" in md


def test_killed_ablation_resumes(proj):
    mount_code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import test_ablate; test_ablate.mount().main()"
    args = [
        "ablate",
        "--no-progress",
        "--no-plots",
        "--metrics",
        METRICS,
        "--param",
        "clean_buffer_update_prob",
        "--values",
        "0.1,1.0",
        "--steps",
        "4",
        "--name",
        "kill",
    ]
    env = {**os.environ, "FAKE_KILL": "1.0_s0"}
    proc = subprocess.run(
        [sys.executable, "-c", mount_code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 9, proc.stderr  # killed while training the second variant
    assert train_calls(proj) == ["0.1 0 0", "1.0 0 0"]
    assert ablate("--no-plots", *args[5:]) == 0
    # the finished variant is not retrained; the killed one resumes from its saved step
    assert train_calls(proj) == ["0.1 0 0", "1.0 0 0", "1.0 0 1"]
    t = table(proj, "kill")
    assert set(t["status"]) == {"ok"} and t["label"].nunique() == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["--param", "clean_buffer_update_probb"], "did you mean 'clean_buffer_update_prob'"),
        (["--param", "clean_buffer_update_prob", "--values", "0.1,2"], "out of range"),
        (["--param", "clean_buffer_update_prob", "--values", ","], "empty value list"),
        (["--param", "clean_prob"], "no default values"),
        (["--param", "clean_prob", "--values", "0.1", "--values", "0.2"], "--values given 2 times"),
        (["--param", "clean_buffer_update_prob", "--seeds", "0"], "--seeds"),
        (["--param", "clean_buffer_update_prob", "--trainer", "nope"], "unknown trainer 'nope'"),
        (["--param", "clean_buffer_update_prob", "--executor", "cloud"], "--executor 'cloud'"),
        (["--param", "clean_buffer_update_prob", "--set", "steps=0"], "out of range"),
    ],
)
def test_bad_specs_exit_2(proj, capsys, args, message):
    assert ablate(*args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert train_calls(proj) == []


def test_grid_parallel_and_slurm_local_executors_agree(proj):
    grid = [
        "--param",
        "clean_buffer_update_prob",
        "--param",
        "clean_prob",
        "--values",
        "0.1,1.0",
        "--values",
        "clean_prob=0.1,0.5",
        "--reference",
        "clean_buffer_update_prob=0.1",
        "--reference",
        "clean_prob=0.1",
        "--no-plots",
    ]
    assert ablate(*grid, "--name", "seq") == 0
    assert ablate(*grid, "--name", "par", "--executor", "parallel", "--workers", "2") == 0
    assert ablate(*grid, "--name", "slurm", "--executor", "slurm") == 0
    seq = table(proj, "seq")
    assert seq["label"].nunique() == 4 and "clean_buffer_update_prob=1.0+clean_prob=0.5" in set(
        seq["label"]
    )
    cols = ["label", "metric", "measure", "mean", "low", "high"]
    for other in ("par", "slurm"):
        pd.testing.assert_frame_equal(seq[cols], table(proj, other)[cols])
    assert len(list((proj / "results" / "slurm" / "slurm").glob("*_result.pkl"))) == 4


def test_cache_key_covers_full_config_seed_and_base_content(proj):
    from svibench.ablate.jobs import plan
    from svibench.ablate.spec import build_spec
    from svibench.config import load_config

    base = proj / "base.bin"
    base.write_bytes(b"v1")
    cfg = load_config(proj / "svibench.toml")
    spec = build_spec(
        cfg, params=["clean_buffer_update_prob=0.1,1.0"], seeds=2, base_checkpoint=str(base)
    )
    dirs = [v.train_dir for v in plan(spec, proj / "r")]
    assert len(set(dirs)) == 4  # every value x seed has its own training
    assert dirs == [v.train_dir for v in plan(spec, proj / "r")]  # deterministic
    more = build_spec(
        cfg,
        params=["clean_buffer_update_prob=0.1,1.0"],
        seeds=2,
        base_checkpoint=str(base),
        steps=5,
    )
    assert not set(dirs) & {v.train_dir for v in plan(more, proj / "r")}
    base.write_bytes(b"v2")  # a retrained base invalidates every cached variant
    assert not set(dirs) & {v.train_dir for v in plan(spec, proj / "r")}
