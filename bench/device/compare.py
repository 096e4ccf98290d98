"""Speed and per-clip parity from one device run of bench/device/run.sh.

.venv/bin/python bench/device/compare.py DIR   # DIR holds vbench_cuda.json + svibench_cuda_*.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    d = Path(sys.argv[1])
    vb = json.loads((d / "vbench_cuda.json").read_text())["dims"]
    wall = sum(r["wall_s"] for r in vb.values())
    load = sum(r["model_load_s"] for r in vb.values())
    print(f"VBench compute_<dim> total {wall:.1f}s (model loading {load:.1f}s) over {len(vb)} dims")
    for f in sorted(d.glob("svibench_cuda_*.json")):
        s = json.loads(f.read_text())
        ours = s["load_s"] + s["pass_s"]
        print(
            f"svibench {s['dtype']}: load {s['load_s']:.1f}s + pass {s['pass_s']:.1f}s = {ours:.1f}s"
            f" -> {wall / ours:.2f}x faster; without model loading {(wall - load) / s['pass_s']:.2f}x"
        )
        for dim, vals in s["values"].items():
            scale = 100.0 if dim == "imaging_quality" else 1.0  # VBench's raw MUSIQ scale
            worst = max(abs(v - float(vb[dim]["per_video"][n]) / scale) for n, v in vals.items())
            print(f"  {dim:24s} worst per-clip |diff| {worst:.2e}")


if __name__ == "__main__":
    main()
