"""CPU speed of svibench's VBench dimensions vs VBench 0.1.5's own code, one process per
dimension, imports and model loading included (issue 13: "no dimension slower than VBench at
480x832 on 2 cores"). Dev check, not runtime; needs shared/tools/vbench_ref's venv + weights.

    # one 480x832 16 fps H.264 clip of a photograph under camera motion (33 frames; --frames)
    .venv/bin/python bench/vbench_speed.py make --out /work/vbref/speed_clips
    # alternate VBench / svibench per dimension, --repeats times; the minimum wall per side counts
    .venv/bin/python bench/vbench_speed.py run --videos /work/vbref/speed_clips \
        --weights /work/vbref/weights --vbench-python /work/vbref/venv/bin/python \
        --out bench/results/vbench_speed_cpu.json

Both sides are fresh processes timed from outside: VBench's worker (run_vbench.py's
``subprocess_s``: interpreter start, imports, model loading, ``compute_<dim>``, its JSON) and
``bench/vbench_parity.py run --dims <dim>`` (interpreter start, imports, a temporary project,
``run_suite`` through ``replay``: decode, load, score, write rows; the score dump). Both sides get the same
torch thread count. Scores are compared too (parity must hold at the measured speed).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RUN_VBENCH = REPO.parent / "shared" / "tools" / "vbench_ref" / "run_vbench.py"


def _parity_module():
    spec = importlib.util.spec_from_file_location("vbench_parity", HERE / "vbench_parity.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def cmd_make(a: argparse.Namespace) -> None:
    from svibench.video import read_video, write_png

    parity = _parity_module()
    out = Path(a.out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    name = f"h264_yuv420p_480x832_16fps_{a.frames}f"
    path = out / f"{name}.mp4"
    frames = parity.photo_frames("coffee", 480, 832, a.frames, seed=0)
    parity.write_video(path, frames, 16, "libx264", "yuv420p", None)
    write_png(out / "images" / f"{name}.png", read_video(path)[0][0])
    print(path, frames.shape)


def _vbench(a: argparse.Namespace, dim: str, tmp: Path) -> tuple[float, float, dict]:
    """VBench's worker process for ``dim``: (its wall from outside, its in-process time, scores)."""
    out = tmp / f"vb_{dim}.json"
    cmd = [
        a.vbench_python,
        str(RUN_VBENCH),
        "--videos",
        a.videos,
        "--weights",
        a.weights,
        "--out",
        str(out),
        "--dims",
        dim,
        "--i2v-images",
        str(Path(a.videos) / "images"),
    ]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    d = json.loads(out.read_text())["dims"][dim]
    # subprocess_s: run_vbench.py's parent times the fresh worker (interpreter start, imports,
    # loading, compute_<dim>, its JSON), the same span svibench's side is timed over
    return d["subprocess_s"], d["process_s"], d["per_video"]


def _svibench(a: argparse.Namespace, dim: str, tmp: Path) -> tuple[float, dict]:
    out = tmp / f"sv_{dim}.json"
    cmd = [
        sys.executable,
        str(HERE / "vbench_parity.py"),
        "run",
        "--videos",
        a.videos,
        "--weights",
        a.weights,
        "--scores",
        str(out),
        "--dims",
        dim,
        "--threads",
        str(a.threads),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - t0
    return wall, json.loads(out.read_text())["scores"]


def _load() -> float:
    return os.getloadavg()[0]


def cmd_run(a: argparse.Namespace) -> None:
    parity = _parity_module()
    dims = a.dims or parity.DIMS
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for rep in range(a.repeats):
            for dim in dims:
                load0 = _load()
                vb_wall, vb_proc, vb_scores = _vbench(a, dim, tmp)
                sv_wall, sv_scores = _svibench(a, dim, tmp)
                # VBench's per-video imaging_quality is MUSIQ's raw 0..100, svibench's per clip /100
                scale = 100.0 if dim == "imaging_quality" else 1.0
                diff = max(
                    abs(sv_scores[Path(v).stem][dim] - float(score) / scale)
                    for v, score in vb_scores.items()
                )
                rec = {
                    "repeat": rep,
                    "dim": dim,
                    "vbench_process_s": vb_proc,
                    "vbench_subprocess_s": vb_wall,
                    "svibench_subprocess_s": sv_wall,
                    "max_abs_diff": diff,
                    "load_before": load0,
                    "load_after": _load(),
                }
                records.append(rec)
                print(
                    f"{rep} {dim:24s} VBench {vb_wall:7.1f} s  svibench {sv_wall:7.1f} s  "
                    f"x{vb_wall / sv_wall:5.2f}  |d| {diff:.1e}  load {load0:.1f}",
                    flush=True,
                )
    summary = {}
    for dim in dims:
        rs = [r for r in records if r["dim"] == dim]
        vb = min(r["vbench_subprocess_s"] for r in rs)
        sv = min(r["svibench_subprocess_s"] for r in rs)
        summary[dim] = {
            "vbench_s": vb,
            "svibench_s": sv,
            "speedup": vb / sv,
            "max_abs_diff": max(r["max_abs_diff"] for r in rs),
        }
    print("\n| dimension | VBench (s) | svibench (s) | svibench speed-up | max abs diff |")
    print("|---|---|---|---|---|")
    for dim, s in summary.items():
        print(
            f"| {dim} | {s['vbench_s']:.1f} | {s['svibench_s']:.1f} | {s['speedup']:.2f}× | "
            f"{s['max_abs_diff']:.1e} |"
        )
    if a.out:
        Path(a.out).write_text(
            json.dumps(
                {
                    "videos": a.videos,
                    "threads": a.threads,
                    "cpu_count": os.cpu_count(),
                    "records": records,
                    "summary": summary,
                },
                indent=1,
            )
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--out", required=True)
    m.add_argument("--frames", type=int, default=33)
    r = sub.add_parser("run")
    r.add_argument("--videos", required=True)
    r.add_argument("--weights", required=True)
    r.add_argument("--vbench-python", default="/work/vbref/venv/bin/python")
    r.add_argument("--dims", nargs="*")
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--repeats", type=int, default=2)
    r.add_argument("--out")
    a = ap.parse_args()
    {"make": cmd_make, "run": cmd_run}[a.cmd](a)


if __name__ == "__main__":
    main()
