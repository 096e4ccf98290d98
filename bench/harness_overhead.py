"""Harness overhead and memory growth of `svibench run`.

Prints (1) the harness overhead: wall time minus generator and metric time, as a fraction of the
run, with and without saving mp4s; (2) the peak RSS of a 10-clip vs a 50-clip case (each in a
fresh process): streaming must keep memory flat as videos get longer.

    python bench/harness_overhead.py [--size 256] [--frames 33]

Targets (issue 3): overhead <= 2 %, RSS(50 clips) / RSS(10 clips) <= 1.1.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    from svibench.config import load_config
    from svibench.suite import load_suite
    from svibench.runner import run_suite
    suite_file, out, videos, metrics = sys.argv[1], Path(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
    cfg = load_config(sys.argv[5])
    st = load_suite(suite_file)
    r = run_suite(st, cfg, ("tiny-world-drift",), cfg.metric_set(metrics), out, threads=1,
                  save_videos=videos, show_progress=False)
    t = r.timings
    print(json.dumps({"wall": t.wall, "generate": t.generate, "metrics": t.metrics, "store": t.store,
                      "clips": t.clips, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    """
)


def suite_text(clips: int, size: int, frames: int) -> str:
    return (
        f'[suite]\nname = "bench{clips}"\n[protocol]\nframes_per_clip = {frames}\nfps = 16\n'
        f"clips = {clips}\nwidth = {size}\nheight = {size}\nmotion_frames = 1\n"
        '[[cases]]\nid = "a"\nimage = "world:5"\nprompts = ["p"]\n'
    )


def measure(tmp: Path, clips: int, size: int, frames: int, videos: bool, metrics: str) -> dict:
    suite = tmp / f"s{clips}.toml"
    suite.write_text(suite_text(clips, size, frames))
    out = Path(tempfile.mkdtemp(dir=tmp))  # a fresh run every time (never a resumed one)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(suite),
            str(out),
            "1" if videos else "0",
            metrics,
            str(ROOT / "svibench.toml"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--frames", type=int, default=33)
    ap.add_argument("--metrics", default="default")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for videos in (False, True):
            r = measure(tmp, 10, args.size, args.frames, videos, args.metrics)
            harness = r["wall"] - r["generate"] - r["metrics"]
            print(
                f"overhead ({'with' if videos else 'without'} mp4s): {harness:.3f} s of {r['wall']:.2f} s "
                f"= {100 * harness / r['wall']:.2f} % (generate {r['generate']:.2f} s, metrics {r['metrics']:.2f} s, "
                f"store {r['store']:.2f} s, {r['clips']} clips of {args.frames}x{args.size}x{args.size})"
            )
        small = measure(tmp, 10, args.size, args.frames, True, args.metrics)
        large = measure(tmp, 50, args.size, args.frames, True, args.metrics)
        print(
            f"peak RSS: 10 clips {small['maxrss_mb']:.0f} MB, 50 clips {large['maxrss_mb']:.0f} MB, "
            f"ratio {large['maxrss_mb'] / small['maxrss_mb']:.3f}"
        )


if __name__ == "__main__":
    main()
