"""Parity of svibench's VBench dimensions with VBench 0.1.5's own code (dev check, not runtime).

    # 1. videos of our own making (PyAV: H.264 / MPEG-4 Part 2, even and odd sizes, 8-24 fps)
    .venv/bin/python bench/vbench_parity.py make --out /tmp/vbref/pvideos
    # 2. VBench's numbers (reference venv, see shared/tools/vbench_ref/README.md)
    /tmp/vbref/venv/bin/python shared/tools/vbench_ref/run_vbench.py --videos /tmp/vbref/pvideos \
        --weights /tmp/vbref/weights --out /tmp/vbref/pout/results.json --trace --dims ...
    # 3. svibench on the same files and weights, compared per dimension and per clip
    .venv/bin/python bench/vbench_parity.py run --videos /tmp/vbref/pvideos \
        --weights /tmp/vbref/weights --vbench-json /tmp/vbref/pout/results.json

Frames: svibench metrics take decoded frames, VBench decodes itself (decord for
subject/background/aesthetic/imaging/i2v, cv2 for dynamic_degree/motion_smoothness). The run
step asks the reference venv to dump both decoders' frames, reports whether PyAV's decode
equals them, and scores the frames VBench read (so a decoder difference cannot hide or fake a
formula difference). Weights are VBench's seeded random files (make_weights.py,
make_dreamsim_weights.py for i2v_background: run_vbench.py with ``--dims i2v_background``
creates them), so hash checks are off (SVIBENCH_VERIFY_WEIGHTS=0). Several results files can
be given (``--vbench-json a.json b.json``): their dimensions are merged.
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

DECORD_DIMS = {
    "subject_consistency",
    "background_consistency",
    "aesthetic_quality",
    "imaging_quality",
    "i2v_subject",
    "i2v_background",
    "temporal_flickering_decord",
}
CV2_DIMS = {"dynamic_degree", "motion_smoothness", "temporal_flickering"}
FEATURE_OF = {
    "subject_consistency": ["dino_vbench"],
    "background_consistency": ["clip_b32_vbench"],
    "aesthetic_quality": ["clip_l14_vbench"],
    "imaging_quality": ["musiq_spaq"],
    "dynamic_degree": ["raft_maxrad"],
    "motion_smoothness": ["amt_vfi"],
    "i2v_subject": ["dino_i2v"],
    "i2v_background": ["dreamsim_i2v"],
    "temporal_flickering": [],
}

# Held-out-style clips: real photographs (scikit-image's bundled data) under a camera pan and
# zoom, in the encodings users hand to VBench. (name, image, codec, pix_fmt, tags, H, W,
# frames, fps). tags: x264/VUI colour description; VP9 and MPEG-4 go into .mp4 containers
# (shared/tools/vbench_ref/run_vbench.py reads *.mp4 only).
SPECS = [
    ("h264_yuv420p_480x832_16fps", "coffee", "libx264", "yuv420p", None, 480, 832, 17, 16),
    ("h264_yuv420p_272x464_24fps", "astronaut", "libx264", "yuv420p", None, 272, 464, 17, 24),
    ("h264_bt709_272x464_16fps", "rocket", "libx264", "yuv420p", "bt709", 272, 464, 9, 16),
    ("h264_bt709full_272x464_8fps", "chelsea", "libx264", "yuv420p", "bt709full", 272, 464, 9, 8),
    (
        "h264_yuv444p_251x373_16fps",
        "hubble_deep_field",
        "libx264",
        "yuv444p",
        None,
        251,
        373,
        9,
        16,
    ),
    ("mpeg4_272x464_24fps", "immunohistochemistry", "mpeg4", "yuv420p", None, 272, 464, 13, 24),
    ("vp9_full_272x464_16fps", "astronaut", "libvpx-vp9", "yuv420p", "bt601full", 272, 464, 9, 16),
    ("vp9_yuv420p_251x373_8fps", "coffee", "libvpx-vp9", "yuv420p", None, 251, 373, 9, 8),
]


def photo_frames(image: str, h: int, w: int, n: int, seed: int) -> np.ndarray:
    """A real photograph seen by a camera that pans and zooms in: uint8 (n, h, w, 3)."""
    from PIL import Image
    from skimage import data

    img = getattr(data, image)()
    img = np.stack([img] * 3, -1) if img.ndim == 2 else img[..., :3]
    big = Image.fromarray(img).resize((int(w * 1.6), int(h * 1.6)), Image.BICUBIC)
    rng = np.random.default_rng(seed)
    dy, dx = rng.uniform(1.5, 4.0, 2) * rng.choice([-1, 1], 2)
    out = np.empty((n, h, w, 3), np.uint8)
    for t in range(n):
        s = 1 + 0.015 * t
        ch, cw = int(h / s), int(w / s)
        y0 = int(h * 0.3 + dy * t)
        x0 = int(w * 0.3 + dx * t)
        out[t] = np.asarray(big.crop((x0, y0, x0 + cw, y0 + ch)).resize((w, h), Image.BICUBIC))
    return out


_X264_TAGS = {
    "bt709": ("colormatrix=bt709:colorprim=bt709:transfer=bt709", "ITU709", "MPEG"),
    "bt709full": (
        "colormatrix=bt709:colorprim=bt709:transfer=bt709:fullrange=on",
        "ITU709",
        "JPEG",
    ),
}


def write_video(
    path: Path, frames: np.ndarray, fps: int, codec: str, pix_fmt: str, tags: str | None
) -> None:
    """Encode with PyAV; RGB -> YUV with the matrix/range the stream is tagged with."""
    import av

    src_cs, src_range = "ITU601", "MPEG"
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        if codec == "libx264":
            s.options = {"crf": "18", "preset": "medium"}
            if tags:
                s.options = {**s.options, "x264-params": _X264_TAGS[tags][0]}
                src_cs, src_range = _X264_TAGS[tags][1:]
        elif codec == "libvpx-vp9":
            s.options = {"crf": "24", "b:v": "0", "deadline": "good", "cpu-used": "4"}
            if tags == "bt601full":  # VP9 signals range in the bitstream; no yuvj formats
                s.codec_context.colorspace, s.codec_context.color_range = 6, 2
                src_range = "JPEG"
        for f in frames:
            fr = av.VideoFrame.from_ndarray(f, format="rgb24")
            fr = fr.reformat(format=pix_fmt, dst_colorspace=src_cs, dst_color_range=src_range)
            for pkt in s.encode(fr):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)


def decode_pyav(path: Path) -> tuple[np.ndarray, float]:
    import av

    with av.open(str(path)) as c:
        st = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(st)]
        fps = float(st.average_rate)
    return np.stack(frames), fps


_DUMP = r"""
import sys, numpy as np, cv2, decord
src, dst = sys.argv[1], sys.argv[2]
vr = decord.VideoReader(src, num_threads=1)
dec = vr.get_batch(range(len(vr))).asnumpy()
cap = cv2.VideoCapture(src); fps = cap.get(cv2.CAP_PROP_FPS); fr = []
while cap.isOpened():
    ok, f = cap.read()
    if not ok: break
    fr.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
np.savez(dst, decord=dec, cv2=np.stack(fr), fps=np.array(fps))
"""


def vbench_frames(vbench_python: str, path: Path, tmp: Path) -> dict[str, np.ndarray]:
    out = tmp / (path.stem + ".npz")
    subprocess.run([vbench_python, "-c", _DUMP, str(path), str(out)], check=True)
    z = np.load(out)
    return {"decord": z["decord"], "cv2": z["cv2"], "fps": float(z["fps"])}


def cmd_make(a: argparse.Namespace) -> None:
    """The clips, plus each clip's first frame as the i2v conditioning image (decoded as
    VBench's decord reader decodes it: run_vbench.py --i2v-images uses the same PNGs)."""
    from svibench.video import read_video, write_png

    out = Path(a.out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    for i, (name, image, codec, pix_fmt, tags, h, w, n, fps) in enumerate(SPECS):
        path = out / f"{name}.mp4"
        write_video(path, photo_frames(image, h, w, n, seed=i), fps, codec, pix_fmt, tags)
        write_png(out / "images" / f"{name}.png", read_video(path)[0][0])
        print(path, f"{h}x{w}", n, "frames", fps, "fps", codec, pix_fmt, tags or "untagged")


def cmd_run(a: argparse.Namespace) -> None:
    wdir = Path(a.weights).resolve()
    os.environ["VBENCH_CACHE_DIR"] = str(wdir / "vbench_cache")
    os.environ["TORCH_HOME"] = str(wdir / "torch_home")
    os.environ["SVIBENCH_VERIFY_WEIGHTS"] = "0"
    # make_dreamsim_weights.py layout (VBench's dreamsim reads it as cwd-relative ./models)
    os.environ["SVIBENCH_DREAMSIM_DIR"] = str(wdir / "dreamsim_models")
    import torch

    torch.set_num_threads(a.threads)
    from svibench.metrics.base import ClipInput, FeatureCache
    from svibench.metrics.registry import FEATURES, METRICS

    ref = {}
    for path in a.vbench_json:
        ref.update(json.load(open(path))["dims"])
    dims = [d for d in (a.dims or list(ref)) if d in FEATURE_OF and "per_video" in ref.get(d, {})]
    feats = {}
    for d in dims:
        for f in FEATURE_OF[d]:
            if f not in feats:
                feats[f] = FEATURES.get(f)(batch_size=a.batch_size)
                feats[f].load()
    metrics = {d: METRICS.get(d)() for d in dims}
    videos = sorted(Path(a.videos).glob("*.mp4"))
    rows, decode = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for v in videos:
            pyav, pyav_fps = decode_pyav(v)
            vb = vbench_frames(a.vbench_python, v, Path(tmp))
            decode[v.name] = {
                k: {
                    "equal": bool(pyav.shape == vb[k].shape and np.array_equal(pyav, vb[k])),
                    "max_abs": int(np.abs(pyav.astype(int) - vb[k].astype(int)).max())
                    if pyav.shape == vb[k].shape
                    else None,
                }
                for k in ("decord", "cv2")
            }
            decode[v.name]["fps"] = {"pyav": pyav_fps, "cv2": vb["fps"]}
            for d in dims:
                frames = vb["cv2"] if d in CV2_DIMS else vb["decord"]
                clip = ClipInput(
                    frames=frames,
                    reference=vb["decord"][0],
                    prompt=v.stem,
                    clip=0,
                    fps=vb["fps"],
                    motion_frames=0,
                )
                cache = FeatureCache(clip, {f: feats[f] for f in FEATURE_OF[d]})
                t = time.perf_counter()
                ours = metrics[d].compute(clip, cache)
                secs = time.perf_counter() - t
                theirs = ref[d]["per_video"][v.name]
                if d == "imaging_quality":
                    theirs = theirs / 100.0  # VBench's per-video value is on MUSIQ's raw scale
                row = {
                    "dim": d,
                    "video": v.name,
                    "svibench": ours[d],
                    "vbench": float(theirs),
                    "abs_diff": abs(ours[d] - float(theirs)),
                    "s": secs,
                }
                tr = ref[d].get("trace", {}).get(v.name, {})
                if d == "dynamic_degree" and "max_rad" in tr:
                    mine = cache["raft_maxrad"]["max_rad"]
                    row["max_rad_max_abs_diff"] = float(
                        np.max(np.abs(np.array(mine) - tr["max_rad"]))
                    )
                    row["svibench_magnitude"] = ours["dynamic_degree_magnitude"]
                if d == "motion_smoothness" and "vfi_score" in tr:
                    row["vfi_abs_diff"] = abs(float(np.mean(cache["amt_vfi"])) - tr["vfi_score"])
                rows.append(row)
                print(
                    f"{d:24s} {v.name:28s} svibench={ours[d]:.6f} vbench={float(theirs):.6f} "
                    f"diff={row['abs_diff']:.2e}"
                    + "".join(
                        f" {k}={row[k]:.2e}"
                        for k in ("max_rad_max_abs_diff", "vfi_abs_diff")
                        if k in row
                    )
                )
    worst = {}
    for r in rows:
        worst[r["dim"]] = max(worst.get(r["dim"], 0.0), r["abs_diff"])
    print("\nworst |svibench - vbench| per dimension (target 1e-4):")
    for d, w in worst.items():
        print(f"  {d:24s} {w:.2e} {'OK' if w <= 1e-4 else 'FAIL'}")
    print("decoders (PyAV == VBench's):", json.dumps(decode))
    if a.out:
        Path(a.out).write_text(
            json.dumps({"rows": rows, "worst": worst, "decode": decode}, indent=2)
        )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--out", required=True)
    r = sub.add_parser("run")
    r.add_argument("--videos", required=True)
    r.add_argument("--weights", required=True)
    r.add_argument("--vbench-json", required=True, nargs="+")
    r.add_argument("--vbench-python", default="/tmp/vbref/venv/bin/python")
    r.add_argument("--dims", nargs="*")
    r.add_argument("--batch-size", type=int, default=None)
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--out")
    a = ap.parse_args()
    {"make": cmd_make, "run": cmd_run}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
