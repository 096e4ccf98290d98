"""svibench's shared-feature pass vs VBench 0.1.5's per-dimension evaluation, same videos and
weights, plus the FLOP-bound time of the backbones.

    .venv/bin/python bench/metrics_vs_vbench.py --videos /tmp/vbref/videos4 \
        --weights /tmp/vbref/weights --vbench-json /work/shared/tools/vbench_ref/results_test_videos.json
    # or --run-vbench to (re)run VBench here first via shared/tools/vbench_ref/run_vbench.py

Reports, per dimension and in total:
* VBench wall time of each ``compute_<dim>`` call (from its results JSON, model load included);
* svibench wall time: decode once (PyAV), each backbone once per frame, every metric from the
  shared features; per feature time; model load time separately;
* FLOP-bound time: backbone FLOPs counted with ``torch.utils.flop_counter.FlopCounterMode``
  (a separate, untimed pass) / this machine's fp32 matmul throughput measured in the same run;
  efficiency = FLOP-bound / measured;
* peak memory (max RSS; CUDA max allocated when on a GPU).
VBench times are only comparable when measured on the same machine under the same load.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from vbench_parity import FEATURE_OF  # noqa: E402


def decode_svibench(path: Path) -> tuple:
    """Each VBench reader's frames from one PyAV decode, as replay decodes (svibench.video)."""
    from svibench.video import read_decoded

    return read_decoded(path)


def decode_cv2(path: Path) -> tuple:
    """For machines without PyAV: the machine's cv2 for every reader (VBench's cv2 4.11 and
    decord give the same frames as each other on untagged 8-bit files such as the device's
    test videos; bench/vbench_parity.py readers checks a file set)."""
    import cv2
    import numpy as np

    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
    cap.release()
    frames = np.stack(frames)
    return {"decord": frames, "cv2": frames}, float(fps)


DIMS = [
    "temporal_flickering",
    "subject_consistency",
    "background_consistency",
    "aesthetic_quality",
    "imaging_quality",
    "dynamic_degree",
    "motion_smoothness",
    "i2v_subject",
    "i2v_background",
]


def matmul_gflops(device: str, sizes: tuple[int, ...] = (2048, 3072), reps: int = 5) -> float:
    """Sustained fp32 matmul throughput: per square size the median of timed products (a
    transient load on a shared machine moves a median little), the best size wins."""
    import statistics

    import torch

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    best = 0.0
    for n in sizes:
        a = torch.randn(n, n, device=device)
        b = torch.randn(n, n, device=device)
        torch.mm(a, b)
        rates = []
        for _ in range(reps):
            sync()
            t = time.perf_counter()
            torch.mm(a, b)
            sync()
            rates.append(2 * n**3 / (time.perf_counter() - t) / 1e9)
        best = max(best, statistics.median(rates))
    return best


# imported before the load clock starts: VBench's wall_s (compute_<dim>) excludes its imports
BACKBONE_MODULES = ("open_clip", "pyiqa.archs.musiq_arch", "torchvision.models.optical_flow")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--videos", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--vbench-json")
    ap.add_argument("--run-vbench", action="store_true")
    ap.add_argument("--vbench-python", default="/tmp/vbref/venv/bin/python")
    ap.add_argument("--vbench-ref", default="/work/shared/tools/vbench_ref")
    ap.add_argument("--dims", nargs="*", default=DIMS)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--no-flops", action="store_true")
    ap.add_argument("--decoder", choices=["pyav", "cv2"], default="pyav")
    ap.add_argument("--out")
    a = ap.parse_args()

    wdir = Path(a.weights).resolve()
    if a.run_vbench:
        a.vbench_json = a.vbench_json or "/tmp/vbref/bench_out/results.json"
        subprocess.run(
            [
                a.vbench_python,
                f"{a.vbench_ref}/run_vbench.py",
                "--videos",
                a.videos,
                "--weights",
                str(wdir),
                "--out",
                a.vbench_json,
                "--dims",
                *a.dims,
            ],
            check=True,
        )
    # one location setting (torch hub + DreamSim folders derive from it) and the seeded
    # weights' own manifest: hash checks stay on
    from svibench.weights import WeightPaths, use_paths

    manifest = wdir / "MANIFEST.json"
    use_paths(
        WeightPaths(
            vbench_cache=wdir / "vbench_cache",
            manifest=manifest if manifest.is_file() else None,
            origin="bench/metrics_vs_vbench.py",
        )
    )
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from svibench.metrics.base import ClipInput, FeatureCache
    from svibench.metrics.registry import FEATURES, METRICS

    torch.set_num_threads(a.threads)
    gflops = matmul_gflops(a.device)
    t0 = time.perf_counter()
    for mod in BACKBONE_MODULES:
        importlib.import_module(mod)
    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    need = sorted({f for d in a.dims for f in FEATURE_OF[d]})
    feats = {
        f: FEATURES.get(f)(device=a.device, batch_size=a.batch_size, dtype=a.dtype) for f in need
    }
    for f in feats.values():
        f.load()
    load_s = time.perf_counter() - t0
    metrics = {d: METRICS.get(d)() for d in a.dims}
    decode = decode_svibench if a.decoder == "pyav" else decode_cv2
    values: dict[str, dict[str, float]] = {d: {} for d in a.dims}
    feat_s = dict.fromkeys(need, 0.0)
    flops = dict.fromkeys(need, 0)
    decode_s = metric_s = 0.0
    videos = sorted(Path(a.videos).glob("*.mp4"))
    t_pass = time.perf_counter()
    for v in videos:
        t = time.perf_counter()
        decoded, fps = decode(v)
        frames = decoded["decord"]
        decode_s += time.perf_counter() - t
        clip = ClipInput(frames, frames[0], v.stem, 0, fps, 0, decoded=decoded)
        cache = FeatureCache(clip, feats)
        for f in need:  # time each backbone on its own
            t = time.perf_counter()
            cache[f]
            if a.device.startswith("cuda"):
                torch.cuda.synchronize()
            feat_s[f] += time.perf_counter() - t
        t = time.perf_counter()
        for d, m in metrics.items():
            values[d][v.name] = float(m.compute(clip, cache)[d])
        metric_s += time.perf_counter() - t
    pass_s = time.perf_counter() - t_pass
    # the rate again after the pass; the higher one is used (a shared machine slowed down by
    # other work during one measurement would otherwise flatter the efficiency figures)
    gflops_before, gflops_after = gflops, matmul_gflops(a.device)
    gflops = max(gflops_before, gflops_after)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_cuda_mb = (
        torch.cuda.max_memory_allocated() / 2**20 if a.device.startswith("cuda") else None
    )
    if not a.no_flops:
        # nn.MultiheadAttention's inference fast path is one fused op that FlopCounterMode does
        # not see (CLIP's q/k/v/out projections would go uncounted): count the same math
        # through the unfused path instead
        fast = torch.backends.mha.get_fastpath_enabled()
        torch.backends.mha.set_fastpath_enabled(False)
        for v in videos:
            decoded, fps = decode(v)
            frames = decoded["decord"]
            clip = ClipInput(frames, frames[0], v.stem, 0, fps, 0, decoded=decoded)
            for f in need:
                with FlopCounterMode(display=False) as fc:
                    feats[f](clip)
                flops[f] += fc.get_total_flops()
        torch.backends.mha.set_fastpath_enabled(fast)

    ref = json.load(open(a.vbench_json))["dims"] if a.vbench_json else {}
    vb = {d: ref[d]["wall_s"] for d in a.dims if d in ref and "wall_s" in ref[d]}
    print(
        f"machine fp32 matmul: {gflops:.1f} GFLOP/s ({a.device}, {a.threads} threads; "
        f"{gflops_before:.1f} before the pass, {gflops_after:.1f} after)"
    )
    print(
        f"svibench: imports {import_s:.1f}s (not counted, as for VBench), load {load_s:.1f}s, decode {decode_s:.2f}s, pass {pass_s:.1f}s "
        f"(features {sum(feat_s.values()):.1f}s, metrics {metric_s:.2f}s), peak RSS {peak_rss_mb:.0f} MB"
        + (f", CUDA peak {peak_cuda_mb:.0f} MB" if peak_cuda_mb else "")
    )
    print(f"{'feature':18s} {'time_s':>8s} {'GFLOP':>9s} {'flop_bound_s':>12s} {'efficiency':>10s}")
    for f in need:
        fb = flops[f] / 1e9 / gflops
        eff = fb / feat_s[f] if feat_s[f] and flops[f] else float("nan")
        print(f"{f:18s} {feat_s[f]:8.2f} {flops[f] / 1e9:9.1f} {fb:12.2f} {eff:10.2f}")
    total_fb = sum(flops.values()) / 1e9 / gflops
    ours = pass_s + load_s
    print(
        f"FLOP-bound total {total_fb:.1f}s; svibench pass+load {ours:.1f}s "
        f"= {ours / total_fb if total_fb else float('nan'):.2f}x FLOP-bound"
    )
    if vb:
        vb_total = sum(vb.values())
        print(f"VBench compute_<dim> total {vb_total:.1f}s over {sorted(vb)}")
        print(
            f"speed-up svibench vs VBench: {vb_total / ours:.2f}x; "
            f"VBench = {vb_total / total_fb if total_fb else float('nan'):.2f}x FLOP-bound"
        )
        vb_load = sum(ref[d].get("model_load_s", 0.0) for d in vb)
        print(
            f"model loading: VBench {vb_load:.1f}s, svibench {load_s:.1f}s; without it "
            f"(VBench compute {vb_total - vb_load:.1f}s, svibench pass {pass_s:.1f}s): "
            f"{(vb_total - vb_load) / pass_s:.2f}x"
        )
    worst = {}
    for d in a.dims:
        if "per_video" not in ref.get(d, {}):
            continue
        diffs = []
        for name, ours_v in values[d].items():
            theirs = float(ref[d]["per_video"].get(name, float("nan")))
            if d == "imaging_quality":
                theirs /= 100.0  # VBench's per-video value is on MUSIQ's raw scale
            diffs.append(abs(ours_v - theirs))
        worst[d] = max(diffs) if diffs else float("nan")
    if worst:
        print("worst per-clip |svibench - VBench| (same run's VBench JSON; target 1e-4):")
        for d, w in worst.items():
            print(f"  {d:24s} {w:.2e}")
    if a.out:
        Path(a.out).write_text(
            json.dumps(
                {
                    "gflops": gflops,
                    "gflops_before_after": [gflops_before, gflops_after],
                    "import_s": import_s,
                    "load_s": load_s,
                    "decode_s": decode_s,
                    "pass_s": pass_s,
                    "feature_s": feat_s,
                    "flops": flops,
                    "metric_s": metric_s,
                    "vbench_wall_s": vb,
                    "peak_rss_mb": peak_rss_mb,
                    "peak_cuda_mb": peak_cuda_mb,
                    "flop_bound_s": total_fb,
                    "videos": [v.name for v in videos],
                    "device": a.device,
                    "values": values,
                    "worst_abs_diff_vs_vbench": worst,
                    "dtype": a.dtype,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
