"""Shared test fixtures: a CLI runner that uses the installed console script, tiny suites."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SVIBENCH = [sys.executable, "-m", "svibench.cli"]

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
# verified weight digests persist between runs (svibench.weights.hash_cache_file): never in the
# user's ~/.cache from tests
os.environ["SVIBENCH_HASH_CACHE"] = str(Path(tempfile.mkdtemp(prefix="svibench-hash-")) / "s.json")


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


def keep_first_cases(suite_file: Path, n: int) -> None:
    """Cut a suite TOML to its first ``n`` [[cases]]: tests of mechanics (sharding, status)
    need a few cases, not the statistics the full tiny suite is sized for."""
    head, *cases = suite_file.read_text().split("\n[[cases]]")
    suite_file.write_text("\n[[cases]]".join([head, *cases[:n]]) + "\n")


# ---------------------------------------------------------------- TOML fixtures
# Most tests need a small suite (world:N cases at 32x32, 9-frame clips) and a few
# [generators.*] tables; these builders write them one way instead of a string per test file.


def toml_value(v: object) -> str:
    """A Python value as a TOML value (str, bool, int, float, list, inline table)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str | Path):
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"no TOML form for {type(v).__name__}")


def toml_table(header: str, values: dict) -> str:
    return f"\n[{header}]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in values.items())


MICRO_PROTOCOL = {
    "frames_per_clip": 9,
    "fps": 8,
    "clips": 3,
    "width": 32,
    "height": 32,
    "motion_frames": 1,
}


def suite_toml(
    name: str = "micro",
    cases: dict[str, tuple[str, list[str]]] | None = None,
    **protocol: object,
) -> str:
    """A suite file: ``cases`` maps id -> (image, prompts); ``protocol`` overrides the micro
    protocol (9 frames per clip at 32x32, 3 clips, m = 1)."""
    cases = cases or {"a": ("world:1", ["a ball rolls", "the camera pans"])}
    text = toml_table("suite", {"name": name, "version": 1})
    text += toml_table("protocol", {**MICRO_PROTOCOL, **protocol})
    for cid, (image, prompts) in cases.items():
        text += toml_table("[cases]", {"id": cid, "image": image, "prompts": prompts})
    return text


def generators_toml(tables: dict[str, dict], run: dict | None = None) -> str:
    """A svibench.toml: one ``[generators.NAME]`` table each, and ``[run]`` (results in ./results,
    one weight-free metric) updated with ``run``."""
    text = toml_table("run", {"results": "results", "metrics": ["psnr_ref"], **(run or {})})
    for name, table in tables.items():
        text += toml_table(f"generators.{name}", table)
    return text


@pytest.fixture
def micro_suite(tmp_path: Path):
    """Write a micro suite (see ``suite_toml``) under tmp_path; returns a writer taking the
    same arguments as ``suite_toml`` and returning the file's path."""

    def write(name: str = "micro", **kw: object) -> Path:
        path = tmp_path / f"{name}.toml"
        path.write_text(suite_toml(name, **kw))
        return path

    return write
