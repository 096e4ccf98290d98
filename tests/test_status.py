"""`svibench status`: committed / total per unit, failures, throughput and ETA, from the folder."""

from __future__ import annotations

import json

import pytest
from conftest import keep_first_cases, run_cli

from svibench.config import load_config
from svibench.errors import SvibenchError
from svibench.runner import run_suite
from svibench.status import committed_clips, format_duration, read_status
from svibench.suite import load_suite

GENS = ("tiny-world", "tiny-world-drift")


@pytest.fixture
def project(project):
    """The tiny suite cut to its first 4 cases (the counts below are for 4 cases)."""
    keep_first_cases(project / "suites" / "tiny.toml", 4)
    return project


@pytest.fixture
def half_run(project):
    """Shard 0 of 2 of the tiny suite, run by hand: half the units committed."""
    cfg = load_config(project / "svibench.toml")
    suite = load_suite(project / "suites" / "tiny.toml")
    root = project / "results" / "tiny"
    run_suite(
        suite, cfg, GENS, ("ssim_ref",), root, threads=1, shard=(0, 2),
        save_videos=False, show_progress=False,
    )  # fmt: skip
    return root


def test_status_counts_every_unit_of_the_run(half_run):
    st = read_status(half_run)
    assert len(st.units) == 8  # all units, though only shard 0 has run (the log lists them)
    assert (st.committed, st.total) == (24, 48)
    assert sorted(u.state for u in st.units) == ["done"] * 4 + ["pending"] * 4
    for u in st.units:
        path = half_run / "rows" / u.generator / f"{u.case}.parquet"
        assert u.committed == (committed_clips(path) if path.exists() else 0)
    assert st.workers == [] and st.eta_s is None  # the worker finished: nothing running


def test_failures_throughput_and_eta_from_progress_files(half_run):
    now = 1_000_000.0
    progress = half_run / "progress"

    def worker(name, started, updated, generated, state="running", failures=()):
        (progress / f"{name}.json").write_text(
            json.dumps({"writer": name, "started": started, "updated": updated,
                        "generated": generated, "state": state, "failures": list(failures)})
        )  # fmt: skip

    pending = sorted((u.generator, u.case) for u in read_status(half_run).units if not u.committed)
    g, c = pending[0]
    fail = {"generator": g, "case": c, "error": "OutOfMemoryError: CUDA out of memory", "time": 5}
    worker("a", now - 100, now - 10, 9, failures=[fail])  # 0.1 clips/s
    worker("b", now - 200, now - 20, 18)  # 0.1 clips/s
    worker("stale", now - 9000, now - 5000, 50)  # silent for 5000 s: not counted
    worker("done", now - 100, now - 50, 40, state="done")
    st = read_status(half_run, now=now)
    assert sorted(w["writer"] for w in st.workers) == ["a", "b"]
    assert st.clips_per_s == pytest.approx(0.2)
    assert st.eta_s == pytest.approx(24 / 0.2)
    failed = [u for u in st.units if u.state == "failed"]
    assert [(u.generator, u.case, u.error) for u in failed] == [(g, c, fail["error"])]


def test_cli_status_table_and_bad_folder(half_run, project):
    proc = run_cli("status", str(half_run), cwd=project, check=True)
    assert "24/48 clips committed" in proc.stdout and "pending" in proc.stdout
    proc = run_cli("status", str(project / "suites"), cwd=project)
    assert proc.returncode == 2 and "not a svibench run" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    with pytest.raises(SvibenchError):
        read_status(project)


def test_format_duration():
    assert format_duration(None).startswith("unknown")
    assert format_duration(59) == "0m 59s"
    assert format_duration(3 * 86400 + 2 * 3600 + 5 * 60) == "3d 2h 05m"


def test_dead_local_worker_is_not_active_and_a_live_one_blocks_a_second_fanout(half_run, project):
    import os
    import socket
    import subprocess
    import sys
    import time

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    now = time.time()
    for name, pid in (("dead", gone.pid), ("live", os.getpid())):
        (half_run / "progress" / f"{name}.json").write_text(
            json.dumps({"writer": name, "host": socket.gethostname(), "pid": pid,
                        "started": now - 10, "updated": now, "generated": 1, "state": "running",
                        "failures": []})
        )  # fmt: skip
    assert [w["writer"] for w in read_status(half_run).workers] == ["live"]
    proc = run_cli("run", "suites/tiny.toml", "--executor", "local", "--no-progress", cwd=project)
    assert proc.returncode == 2 and "1 worker(s) still write to this run" in proc.stderr
