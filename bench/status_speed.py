"""How fast `svibench status` and `svibench run --dry-run` answer on a run of 2,500 clips.

Builds, under a temporary folder, the SVI benchmark layout for 50 cases (832×480 images) and a
run folder of `50prompt_250s` through one generator with every clip committed except the last
few of some cases: claims, 50 rows files of 13 metric rows per clip, 50 states, log entries,
4 worker progress files (one with a failure) and plan.json. Then times both commands as a user
runs them (a fresh `python -m svibench.cli` process, interpreter start included), best of 3.
The issue's target: under 2 s each.

    python bench/status_speed.py [--cases 50] [--clips 50] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from svibench.store import ROW_COLUMNS, RunStore  # noqa: E402

METRICS = ["quality_score", "subject_consistency", "background_consistency",
           "temporal_flickering", "motion_smoothness", "dynamic_degree", "aesthetic_quality",
           "imaging_quality", "i2v_subject", "i2v_background", "clip_text", "seam_mad",
           "ssim_ref"]  # fmt: skip


def build(base: Path, cases: int, clips: int) -> tuple[Path, Path, Path]:
    """(project folder, suite file, run folder) of a synthetic 50prompt_250s run."""
    project = base / "project"
    data = project / "data" / "svi-benchmark" / "creative_video_gen_longer"
    for i in range(cases):
        folder = data / f"case_{i:03d}"
        folder.mkdir(parents=True)
        Image.new("RGB", (832, 480), (i, 2 * i, 3 * i)).save(folder / "image.jpg")
        (folder / "prompt.txt").write_text("\n".join(f"prompt {k}" for k in range(clips)) + "\n")
    (project / "svibench.toml").write_text((ROOT / "svibench.toml").read_text())
    (project / "suites").mkdir()
    suite = project / "suites" / "50prompt_250s.toml"
    suite.write_text(
        (ROOT / "suites" / "50prompt_250s.toml")
        .read_text()
        .replace("clips = 50", f"clips = {clips}")
    )
    run = project / "results" / "50prompt_250s"
    store = RunStore(run)
    store.claim(
        {
            "suite": {
                "name": "50prompt_250s",
                "digest": "synthetic",
                "protocol": {"clips": clips, "frames_per_clip": 81},
            },  # fmt: skip
            "metrics": [{"name": m} for m in METRICS],
            "generators": {"svi-film": {"kind": "svi", "variant": "film"}},
        }
    )
    rng = np.random.default_rng(0)
    units = []
    for i in range(cases):
        case = f"case_{i:03d}"
        done = clips if i % 5 else clips - 3  # every fifth case is still running
        rows = [("50prompt_250s", "svi-film", case, k, 42 * k, m, float(rng.random()))
                for k in range(done) for m in METRICS]  # fmt: skip
        path = store.rows_path("svi-film", case)
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows, columns=ROW_COLUMNS).to_parquet(path, index=False)
        state = store.state_path("svi-film", case, done - 1)
        state.parent.mkdir(parents=True, exist_ok=True)
        np.savez(state, latent=np.zeros((4, 4), np.float32))  # status never opens states
        units.append(["svi-film", case])
    now = time.time()
    for w in range(4):
        entry = {"shard": [w, 4], "generators": ["svi-film"], "run_units": units,
                 "units": {"svi-film": [c for _, c in units[w::4]]}}  # fmt: skip
        (run / "log").mkdir(exist_ok=True)
        (run / "log" / f"w{w}.json").write_text(json.dumps(entry))
        progress = {"writer": f"w{w}", "shard": [w, 4], "started": now - 36000,
                    "updated": now - 60, "generated": 600, "state": "running",
                    "failures": [] if w else [{"generator": "svi-film", "case": "case_000",
                                               "error": "OutOfMemoryError: CUDA out of memory",
                                               "time": now - 4000}]}  # fmt: skip
        (run / "progress").mkdir(exist_ok=True)
        (run / "progress" / f"w{w}.json").write_text(json.dumps(progress))
    return project, suite, run


def timed(cmd: list[str], cwd: Path, repeat: int = 3) -> tuple[float, str]:
    best, out = float("inf"), ""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "160"}
    for _ in range(repeat):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
        best = min(best, time.perf_counter() - t0)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
        out = proc.stdout
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=50)
    ap.add_argument("--clips", type=int, default=50)
    ap.add_argument("--keep", type=Path, help="build here and keep it (default: a temp folder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        t0 = time.perf_counter()
        project, suite, run = build(base, args.cases, args.clips)
        print(f"built {args.cases} cases × {args.clips} clips in {time.perf_counter() - t0:.1f} s")
        py = [sys.executable, "-m", "svibench.cli"]
        t_help, _ = timed([*py, "--help"], project)
        t_status, out = timed([*py, "status", str(run), "--unfinished"], project)
        print(out.strip().splitlines()[-1] if out.strip() else "(no output)")
        t_dry, out = timed([*py, "run", str(suite), "-g", "svi-film", "-m", "vbench",
                            "--shards", "8", "--dry-run"], project)  # fmt: skip
        print("\n".join(out.strip().splitlines()[-2:]))
        print(f"{'command':<24}{'seconds':>9}{'target':>8}{'ratio':>8}")
        for name, t in (
            ("svibench --help", t_help),
            ("status", t_status),
            ("run --dry-run", t_dry),
        ):
            print(f"{name:<24}{t:>9.2f}{2.0:>8.1f}{t / 2.0:>8.2f}")


if __name__ == "__main__":
    main()
