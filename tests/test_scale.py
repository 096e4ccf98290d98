"""`svibench run --executor/--shards`: balanced shards, parallel + submitit runs equal to a serial
run byte for byte, a dead shard resubmitted and resumed, parallel-safe claims, --dry-run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import ROOT, keep_first_cases, run_cli

from svibench.analysis.tables import write_tables
from svibench.config import load_config
from svibench.costs import CostTable
from svibench.errors import ConfigError
from svibench.executors import ParallelExecutor, make_executor, visible_gpus
from svibench.runner import run_suite
from svibench.scale import ShardJob, plan_shards, run_scaled
from svibench.shards import Unit, assign, plan_units
from svibench.store import RunStore
from svibench.suite import load_suite

GENS = ("tiny-world", "tiny-world-drift")
METRICS = ("ssim_ref", "psnr_ref", "seam")

# a third-party generator (entry point, so spawned workers find it too) that kills its worker
# process once, at clip 3 of case "desk", and logs every clip it generates
PLUGIN = """
import os
from pathlib import Path
import numpy as np
from svibench.generators.base import Generator, Session

class _S(Session):
    def __init__(self, case, protocol, hw, marker, calls):
        self.case, self.p, self.hw, self.marker, self.calls = case, protocol, hw, marker, calls
    def next_clip(self, prompt, clip, seed):
        if self.case == "desk" and clip == 3 and not self.marker.exists():
            self.marker.write_text("crashed once")
            os._exit(1)  # the worker dies: no exception, no cleanup
        with open(self.calls, "a") as f:
            f.write(f"{self.case} {clip}\\n")
        t, (h, w) = self.p.frames_per_clip, self.hw
        return np.full((t, h, w, 3), (seed * 7 + clip * 13 + len(self.case)) % 256, np.uint8)

class Crashy(Generator):
    params = {"marker": "", "calls": ""}
    def start(self, case, protocol, reference):
        hw = protocol.size_for(reference.shape[:2])
        return _S(case.id, protocol, hw, Path(self.config["marker"]), self.config["calls"])
"""


@pytest.fixture
def project(project):
    """The tiny suite cut to its first 4 cases (the counts below are for 4 cases)."""
    keep_first_cases(project / "suites" / "tiny.toml", 4)
    return project


def _setup(project: Path):
    cfg = load_config(project / "svibench.toml")
    return cfg, load_suite(project / "suites" / "tiny.toml")


def _job(cfg, suite, root: Path, gens=GENS) -> ShardJob:
    return ShardJob(0, 1, suite, cfg, gens, METRICS, root, "cpu", 1, False)


def _serial(cfg, suite, root: Path, gens=GENS) -> dict[str, bytes]:
    run_suite(suite, cfg, gens, METRICS, root, threads=1, save_videos=False, show_progress=False)
    return _tables(root)


def _tables(root: Path) -> dict[str, bytes]:
    return {name: path.read_bytes() for name, path in write_tables(root).items()}


# ------------------------------------------------------------------------------------ planning
def _unit(g: str, c: str, seconds: float) -> Unit:
    return Unit(g, c, 10, 81, 480, 832, seconds)


def test_shards_balance_work_not_case_count():
    # one expensive generator and one cheap one: dealing cases round-robin would give one shard
    # all the expensive work; longest-first keeps the shards within one unit of each other
    units = [_unit("big", f"c{i}", 100.0) for i in range(4)]
    units += [_unit("small", f"c{i}", 1.0) for i in range(4)]
    shards = assign(units, 2)
    loads = [sum(u.seconds for u in s) for s in shards]
    assert loads == [202.0, 202.0]
    assert sorted(u.key for s in shards for u in s) == sorted(u.key for u in units)  # partition
    assert assign(list(units), 2) == shards  # deterministic
    assert assign(units, 3)[0] != [] and len(assign(units, 20)) == 20  # more shards than units ok
    with pytest.raises(ValueError):
        assign(units, 0)


def test_unit_work_follows_image_size_and_generator_cost(tmp_path):
    from PIL import Image

    for name, size in (("wide", (1664, 960)), ("small", (416, 240))):
        folder = tmp_path / "data" / name
        folder.mkdir(parents=True)
        Image.new("RGB", size).save(folder / "image.jpg")
        (folder / "prompt.txt").write_text("a prompt\nanother\n")  # svi: clips = min(2, prompts)
    (tmp_path / "s.toml").write_text(
        '[suite]\nname = "s"\n[protocol]\nclips = 2\n[dataset]\nname = "x"\n'
    )
    suite = load_suite(tmp_path / "s.toml", data=tmp_path / "data")
    tables = {"svi-film": {"kind": "svi"}, "w": {"kind": "world"}}
    units = {u.key: u for u in plan_units(suite, ("svi-film", "w"), tables, CostTable({}))}
    wide, small = units[("svi-film", "wide")], units[("svi-film", "small")]
    assert (wide.height, wide.width) == (480, 832)  # width capped at 832, as upstream
    assert (small.height, small.width) == (240, 416)  # native size, floored to /16
    assert wide.seconds == pytest.approx(4 * small.seconds)  # frames × pixels
    assert wide.seconds == pytest.approx(2 * 450.0)  # 2 clips at the svi estimate
    assert units[("w", "wide")].seconds < wide.seconds / 10  # a CPU renderer, scaled up
    over = plan_units(suite, ("svi-film",), tables, CostTable({"svi-film": 100.0}))
    assert [u.case for u in over] == ["small", "wide"]  # run order: by case id
    assert over[1].seconds == pytest.approx(200.0)  # [executor.seconds_per_clip] wins


# ------------------------------------------------------------------ fanned out == serial
def test_parallel_on_cpu_equals_serial_run(project):
    cfg, suite = _setup(project)
    serial = _serial(cfg, suite, project / "results" / "serial")
    root = project / "results" / "par"
    shards = plan_shards(suite, cfg, GENS, METRICS, 3)
    result = run_scaled(_job(cfg, suite, root), shards, ParallelExecutor(threads=1, workers=2))
    assert result.rounds == 1 and not result.incomplete and result.clips == 48
    assert _tables(root) == serial  # byte-identical merged tables
    assert RunStore(root).all_rows().equals(RunStore(project / "results" / "serial").all_rows())
    logs = [json.loads(p.read_text()) for p in (root / "log").glob("*.json")]
    assert sorted(tuple(e["shard"]) for e in logs) == [(0, 3), (1, 3), (2, 3)]
    # the shards together ran each unit exactly once
    ran = sorted((g, c) for e in logs for g, cases in e["units"].items() for c in cases)
    assert ran == sorted((g, c.id) for g in GENS for c in suite.cases)


def test_submitit_local_executor_equals_serial_run(project):
    cfg, suite = _setup(project)
    gens = ("tiny-world-drift",)
    serial = _serial(cfg, suite, project / "results" / "serial", gens)
    root = project / "results" / "slurm"
    ex = make_executor("slurm", folder=root / "slurm", slurm={"cluster": "local"})
    shards = plan_shards(suite, cfg, gens, METRICS, 2)
    result = run_scaled(_job(cfg, suite, root, gens), shards, ex)
    assert not result.incomplete and result.clips == 24
    assert _tables(root) == serial
    assert list((root / "slurm").glob("*_result.pkl"))  # it really went through submitit


def test_dead_shard_is_resubmitted_and_resumes(project, tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "crashy-0.1.dist-info").mkdir(parents=True)
    (site / "crashy.py").write_text(PLUGIN)
    (site / "crashy-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: crashy\nVersion: 0.1\n"
    )
    (site / "crashy-0.1.dist-info" / "entry_points.txt").write_text(
        "[svibench.generators]\ncrashy = crashy:Crashy\n"
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.syspath_prepend(str(site))
    calls, marker = tmp_path / "calls.txt", tmp_path / "crashed"
    with open(project / "svibench.toml", "a") as f:
        f.write(f'\n[generators.crashy]\nkind = "crashy"\nmarker = "{marker}"\ncalls = "{calls}"\n')
    cfg, suite = _setup(project)
    gens = ("crashy",)
    marker.write_text("no crash for the reference run")
    serial = _serial(cfg, suite, project / "results" / "serial", gens)
    marker.unlink()
    calls.unlink()

    root = project / "results" / "par"
    shards = plan_shards(suite, cfg, gens, METRICS, 2)
    result = run_scaled(_job(cfg, suite, root, gens), shards, ParallelExecutor(1, workers=2))
    assert marker.exists() and result.rounds == 2 and not result.incomplete
    assert _tables(root) == serial  # the resumed run equals an uninterrupted one
    generated = calls.read_text().split("\n")
    # desk clips 0 and 1 were committed before the crash (clip 2 may have been mid-write):
    # the resubmitted shard resumed after them instead of starting over
    assert generated.count("desk 0") == 1 and generated.count("desk 1") == 1
    assert generated.count("desk 5") == 1
    died = [json.loads(p.read_text()) for p in (root / "shards").glob("*.json")]
    assert all(d["outcome"] == "returned" and not d["unfinished"] for d in died)  # last round


def test_unknown_generator_kind_fails_before_any_job(project):
    # The plan needs each generator's clip-count rule, so a bad kind is a one-line input error
    # before anything is submitted (nothing to retry, no folder written).
    with open(project / "svibench.toml", "a") as f:
        f.write('\n[generators.broken]\nkind = "no-such-kind"\n')
    cfg, suite = _setup(project)
    with pytest.raises(ConfigError, match="no-such-kind"):
        plan_shards(suite, cfg, ("broken", "tiny-world"), METRICS, 2)
    assert not (project / "results" / "broken").exists()


def test_parallel_workers_are_pinned_to_the_parents_gpus(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    assert visible_gpus(2) == ["2", "5"]  # the parent's cuda:1 is physical GPU 5
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert visible_gpus(3) == ["0", "1", "2"]


# ---------------------------------------------------------------------- parallel-safe claims
def _identity(gens: dict) -> dict:
    return {"suite": {"name": "s", "digest": "d"}, "metrics": [{"name": "m"}], "generators": gens}


def test_concurrent_claims_keep_every_generator(tmp_path):
    store = RunStore(tmp_path / "run")
    errors = []

    def claim(i: int) -> None:
        try:
            RunStore(store.root).claim(_identity({f"g{i}": {"kind": "world", "i": i}}))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(store.manifest()["generators"]) == sorted(f"g{i}" for i in range(24))
    with pytest.raises(ConfigError, match="generator 'g3' was run here with a different"):
        store.claim(_identity({"g3": {"kind": "world", "i": 99}}))
    with pytest.raises(ConfigError, match="different suite"):
        store.claim({**_identity({}), "suite": {"name": "other"}})
    assert "g99" not in store.manifest()["generators"]


def test_legacy_manifest_is_read_and_extended(tmp_path):
    root = tmp_path / "run"
    root.mkdir()
    legacy = {**_identity({"old": {"kind": "world"}}), "config_hash": "x"}
    (root / "manifest.json").write_text(json.dumps(legacy))
    assert RunStore(root).manifest()["generators"] == {"old": {"kind": "world"}}
    RunStore(root).claim(_identity({"new": {"kind": "world"}}))
    assert sorted(RunStore(root).manifest()["generators"]) == ["new", "old"]
    with pytest.raises(ConfigError, match="'old' was run here"):
        RunStore(root).claim(_identity({"old": {"kind": "world", "x": 1}}))


# ----------------------------------------------------------------------------------- dry run
def test_dry_run_estimates_without_torch(project, tmp_path):
    from PIL import Image

    for i in range(3):
        folder = tmp_path / "data" / f"case{i}"
        folder.mkdir(parents=True)
        Image.new("RGB", (832, 480)).save(folder / "image.png")
        (folder / "prompt.txt").write_text("".join(f"p{i}\n" for i in range(50)))  # 50 clips
    suite = tmp_path / "big.toml"
    suite.write_text(
        (ROOT / "suites" / "50prompt_250s.toml")
        .read_text()
        .replace('subset = "creative_video_gen_longer"', f'path = "{tmp_path / "data"}"')
    )
    code = (
        "import sys; from svibench.cli import main; sys.argv = ['svibench', 'run', "
        f"'{suite}', '-g', 'svi-film,tiny-world', '--shards', '2', '--dry-run']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "3 cases × 50 clips × 81 frames = 150 clips" in out
    # 150 clips × 450 s (svi estimate) = 18.75 GPU-hours; the CPU generator adds none
    assert "18.8 GPU-hours" in out and "(CPU)" in out and "estimate" in out
    assert not (project / "results").exists()  # nothing written


def test_cli_run_parallel_and_status(project):
    proc = run_cli(
        "run", "suites/tiny.toml", "-g", "tiny-world", "-m", "ssim_ref", "--no-videos",
        "--no-progress", "--threads", "1", "--executor", "local", "--shards", "2",
        cwd=project, check=True,
    )  # fmt: skip
    assert "in 2 shards" in proc.stdout and "ssim_ref" in proc.stdout
    proc = run_cli("status", "tiny", "--json", cwd=project, check=True)
    st = json.loads(proc.stdout)
    assert (st["committed"], st["total"]) == (24, 24)
    assert {u["state"] for u in st["units"]} == {"done"}
    proc = run_cli("run", "suites/tiny.toml", "--shards", "2", "--shard", "0/2", cwd=project)
    assert proc.returncode == 2 and "--shard" in proc.stderr


def test_executor_table_is_validated(project):
    cfg = project / "svibench.toml"
    cfg.write_text(cfg.read_text() + '\n[executor]\nkind = "cloud"\n')
    proc = run_cli("run", "suites/tiny.toml", "--dry-run", cwd=project)
    assert proc.returncode == 2 and "[executor].kind" in proc.stderr and "cloud" in proc.stderr


def test_executor_table_maps_to_submitit_parameters():
    from svibench.commands.run_scale import slurm_params
    from svibench.config import executor_table

    table = executor_table(
        {"kind": "slurm", "partition": "gpu", "gpus_per_task": 1, "timeout_min": 720,
         "array_parallelism": 16, "setup": ["module load cuda"], "retries": 1, "shards": 100},
        "svibench.toml [executor]",
    )  # fmt: skip
    params = slurm_params(table)
    assert params == {"partition": "gpu", "gpus_per_node": 1, "timeout_min": 720,
                      "array_parallelism": 16, "setup": ["module load cuda"]}  # fmt: skip
    ex = make_executor("slurm", folder=Path("/tmp/unused"), slurm=params, where="[executor]")
    assert ex.params == params  # every key is one the slurm executor accepts
    with pytest.raises(ConfigError, match="timeout_min: must be >= 1"):
        executor_table({"timeout_min": 0}, "[executor]")
    with pytest.raises(ConfigError, match="seconds_per_clip.svi-film"):
        executor_table({"seconds_per_clip": {"svi-film": -1}}, "[executor]")
