"""A run killed with SIGKILL at any moment resumes exactly: byte-identical tables."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from conftest import suite_toml

SUITE = suite_toml(
    "slow",
    cases={"a": ("world:11", ["one", "two"]), "b": ("world:12", ["three"])},
    frames_per_clip=17, fps=16, clips=8, width=160, height=160, motion_frames=2,
)  # fmt: skip


def _run(project, name, kill_after=None):
    cmd = [
        sys.executable,
        "-m",
        "svibench.cli",
        "run",
        "suites/slow.toml",
        "--no-progress",
        "--name",
        name,
        "-g",
        "tiny-world-drift",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen(cmd, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if kill_after is None:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
        return True
    time.sleep(kill_after)
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
        p.wait()
        return False
    p.communicate()
    return p.returncode == 0


def test_sigkill_and_resume_is_byte_identical(project):
    (project / "suites" / "slow.toml").write_text(SUITE)
    _run(project, "clean")
    killed = 0
    # kill at increasing moments (during import, model setup, mid-clip, between commits)
    for delay in (0.5, 1.8, 2.3, 2.9, 3.4, 4.0, 4.6):
        if _run(project, "killed", kill_after=delay):
            break
        killed += 1
    assert killed >= 2, "the run finished before it could be killed; make the suite slower"
    _run(project, "killed")  # finish
    for table in ("quality", "drift", "curves"):
        a = (project / "results" / "clean" / "tables" / f"{table}.csv").read_bytes()
        b = (project / "results" / "killed" / "tables" / f"{table}.csv").read_bytes()
        assert a == b, table
    # the committed rows are identical too, and no temp files are left behind under final names
    from svibench.store import RunStore

    assert (
        RunStore(project / "results" / "clean")
        .all_rows()
        .equals(RunStore(project / "results" / "killed").all_rows())
    )
    assert not list((project / "results" / "killed" / "rows").rglob("*.parquet.tmp"))
