"""Shared test fixtures: a CLI runner that uses the installed console script, tiny suites."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SVIBENCH = [sys.executable, "-m", "svibench.cli"]

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


def run_cli(
    *args: str, cwd: Path | None = None, env: dict | None = None, check: bool = False
) -> subprocess.CompletedProcess:
    """Run ``svibench ARGS`` in a subprocess (the real console entry point)."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    proc = subprocess.run(
        [*SVIBENCH, *args],
        cwd=cwd or ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"svibench {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with svibench.toml (results inside tmp) and the tiny suite."""
    cfg = (ROOT / "svibench.toml").read_text()
    (tmp_path / "svibench.toml").write_text(cfg)
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "tiny.toml").write_text((ROOT / "suites" / "tiny.toml").read_text())
    return tmp_path
