"""Parity of svibench's VBench dimensions with VBench 0.1.5's own code, scored as a user
scores video files: through the ``replay`` generator (dev check, not runtime).

    # 1. held-out-style clips: photographs under camera motion, in several encodings
    .venv/bin/python bench/vbench_parity.py make --out /work/vbref/pclips
    # 2. VBench's numbers (reference venv, see shared/tools/vbench_ref/README.md)
    /work/vbref/venv/bin/python shared/tools/vbench_ref/run_vbench.py --videos /work/vbref/pclips \
        --weights /work/vbref/weights --out /work/vbref/pout/results.json --trace \
        --i2v-images /work/vbref/pclips/images --dims <the 9 dimensions>
    # 3. svibench on the same mp4 files: replay + run_suite, rows compared per clip
    .venv/bin/python bench/vbench_parity.py run --videos /work/vbref/pclips \
        --weights /work/vbref/weights --scores bench/results/vbench_parity_replay_scores.json
    .venv/bin/python bench/vbench_parity.py compare \
        --scores bench/results/vbench_parity_replay_scores.json \
        --vbench-json /work/vbref/pout/results.json --out bench/results/vbench_parity_replay.json
    # 4. the frames themselves: svibench.video's readers vs decord/cv2 of the reference venv
    .venv/bin/python bench/vbench_parity.py readers --videos /work/vbref/pclips \
        --vbench-python /work/vbref/venv/bin/python --out bench/results/vbench_readers.json

``run`` writes a project (svibench.toml + one suite per clip shape) into a temporary folder:
``[paths] vbench_cache = W/vbench_cache`` is the only location setting (torch hub and DreamSim
folders are derived from it) and ``[paths] weights_manifest = W/MANIFEST.json`` verifies the
seeded weights (hash checks stay on). Each video is one case of one clip, its conditioning
image the PNG of its first frame that VBench is given too. VBench's per-video imaging_quality
is on MUSIQ's raw scale and is divided by 100 here (svibench's per-clip scale).
"""

from __future__ import annotations

import argparse
import json
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
    "aesthetic_quality": ["clip_l14_vbench", "laion_aesthetic_head"],
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


DIMS = list(FEATURE_OF)


def _project(videos: Path, wdir: Path, tmp: Path, dims: list[str]) -> list[Path]:
    """svibench.toml + one suite per (frames, fps, H, W) group of the videos; suite paths."""
    from svibench.video import probe_video

    groups: dict[tuple, list[str]] = {}
    for v in sorted(videos.glob("*.mp4")):
        info = probe_video(v)
        # the header's count (mp4 always has one); decoding to count is slow on long clips
        frames = info.frames or sum(1 for _ in _iter(v))
        groups.setdefault((frames, info.fps, info.height, info.width), []).append(v.stem)
    (tmp / "svibench.toml").write_text(
        f'[run]\nmetrics = {json.dumps(dims)}\ngenerators = ["replay"]\nresults = "results"\n'
        f'[paths]\nvbench_cache = "{wdir / "vbench_cache"}"\n'
        f'weights_manifest = "{wdir / "MANIFEST.json"}"\n'
        f'[generators.replay]\nkind = "replay"\nroot = "{videos}"\npattern = "{{case}}.mp4"\n'
    )
    suites = []
    for i, ((n, fps, h, w), stems) in enumerate(sorted(groups.items())):
        cases = "".join(
            f'[[cases]]\nid = "{st}"\nimage = "{videos / "images" / (st + ".png")}"\n'
            f'prompts = ["{st}"]\n'
            for st in stems
        )
        suite = tmp / f"parity{i}.toml"
        suite.write_text(
            f'[suite]\nname = "parity{i}"\nversion = 1\n[protocol]\nframes_per_clip = {n}\n'
            f"fps = {int(fps)}\nclips = 1\nwidth = {w}\nheight = {h}\nmotion_frames = 1\n" + cases
        )
        suites.append(suite)
    return suites


def _iter(path: Path):
    from svibench.video import iter_frames

    return iter_frames(path)


def cmd_run(a: argparse.Namespace) -> None:
    """svibench's scores of every mp4 through replay -> --scores JSON; compared if --vbench-json."""
    import pandas as pd
    import torch

    torch.set_num_threads(a.threads)
    from svibench.config import load_config
    from svibench.runner import run_suite
    from svibench.suite import load_suite

    dims = a.dims or DIMS
    videos, wdir = Path(a.videos).resolve(), Path(a.weights).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        suites = _project(videos, wdir, tmp, dims)
        cfg = load_config(tmp / "svibench.toml")
        t0 = time.perf_counter()
        frames = []
        for suite in suites:
            root = tmp / "results" / suite.stem
            run_suite(
                load_suite(suite),
                cfg,
                cfg.generators,
                cfg.metrics,
                root,
                threads=a.threads,
                save_videos=False,
                show_progress=False,
            )
            frames += [pd.read_parquet(p) for p in (root / "rows").glob("*/*.parquet")]
        wall = time.perf_counter() - t0
    scores: dict[str, dict[str, float]] = {}
    for r in pd.concat(frames).itertuples():
        scores.setdefault(r.case, {})[r.metric] = float(r.value)
    Path(a.scores).write_text(json.dumps({"scores": scores, "wall_s": wall}, indent=2))
    print(f"svibench scored {len(scores)} mp4 files through replay in {wall:.0f} s -> {a.scores}")
    if a.vbench_json:
        a.out = a.out or None
        compare(a.scores, a.vbench_json, a.out)


def _scores(path: str) -> dict[str, dict[str, float]]:
    """svibench's scores: the --scores JSON of ``run``, or a results folder whose committed
    rows (``**/rows/**/*.parquet``) are read, e.g. of a run still going or cut short."""
    p = Path(path)
    if p.is_file():
        return json.loads(p.read_text())["scores"]
    import pandas as pd

    out: dict[str, dict[str, float]] = {}
    for f in sorted(p.rglob("rows/**/*.parquet")):
        for r in pd.read_parquet(f).itertuples():
            out.setdefault(r.case, {})[r.metric] = float(r.value)
    return out


def compare(scores_path: str, vbench_json: list[str], out: str | None) -> None:
    """Per clip and dimension |svibench - VBench|; worst per dimension and per encoding.
    Clips that svibench or VBench has not scored (yet) are listed and left out."""
    ours = _scores(scores_path)
    ref = {}
    for path in vbench_json:
        ref.update(json.load(open(path))["dims"])
    rows, worst, by_enc = [], {}, {}
    for d in DIMS:
        if "per_video" not in ref.get(d, {}):
            continue
        for video, theirs in sorted(ref[d]["per_video"].items()):
            case = Path(video).stem
            if d not in ours.get(case, {}):
                print(f"{d:24s} {case:30s} not scored by svibench (yet): left out")
                continue
            mine = ours[case][d]
            theirs = float(theirs) / (100.0 if d == "imaging_quality" else 1.0)
            row = {"dim": d, "video": case, "svibench": mine, "vbench": theirs}
            row["abs_diff"] = abs(mine - theirs)
            tr = ref[d].get("trace", {}).get(video, {})
            if d == "dynamic_degree" and "max_rad" in tr:
                mag = ours[case]["dynamic_degree_magnitude"]
                row["magnitude_abs_diff"] = abs(mag - float(np.mean(tr["max_rad"])))
            rows.append(row)
            worst[d] = max(worst.get(d, 0.0), row["abs_diff"])
            enc = by_enc.setdefault(case, {})
            enc[d] = row["abs_diff"]
            extra = f" magnitude_diff={row.get('magnitude_abs_diff', 0):.2e}" * (
                d == "dynamic_degree"
            )
            print(
                f"{d:24s} {case:30s} svibench={mine:.6f} vbench={theirs:.6f} "
                f"diff={row['abs_diff']:.2e}{extra}"
            )
    print(
        "\nworst per-clip |svibench - vbench| per dimension (target 1e-4; dynamic_degree: flags):"
    )
    for d, w in worst.items():
        print(f"  {d:24s} {w:.2e} {'OK' if w <= 1e-4 else 'FAIL'}")
    print("\n" + markdown_table(rows))
    if out:
        Path(out).write_text(
            json.dumps({"rows": rows, "worst": worst, "per_clip": by_enc}, indent=2)
        )


def markdown_table(rows: list[dict]) -> str:
    """|svibench - VBench| per dimension (rows) and clip = encoding (columns), worst last."""
    clips = sorted({r["video"] for r in rows})
    dims = list(dict.fromkeys(r["dim"] for r in rows))
    cell = {(r["dim"], r["video"]): r for r in rows}

    def fmt(r: dict | None) -> str:
        if r is None:
            return "–"
        if r["dim"] == "dynamic_degree":
            same = "flag =" if r["abs_diff"] == 0 else "**flag ≠**"
            return f"{same}, mag {r.get('magnitude_abs_diff', float('nan')):.1e}"
        return f"{r['abs_diff']:.1e}"

    head = "| dimension | " + " | ".join(clips) + " | worst |"
    lines = [head, "|" + "---|" * (len(clips) + 2)]
    for d in dims:
        worst = max(cell[(d, c)]["abs_diff"] for c in clips if (d, c) in cell)
        lines.append(
            f"| {d} | " + " | ".join(fmt(cell.get((d, c))) for c in clips) + f" | {worst:.1e} |"
        )
    return "\n".join(lines)


def cmd_compare(a: argparse.Namespace) -> None:
    compare(a.scores, a.vbench_json, a.out)


def cmd_readers(a: argparse.Namespace) -> None:
    """svibench.video's per-reader frames vs decord and cv2 of the reference venv, per clip."""
    from svibench.video import read_decoded

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for v in sorted(Path(a.videos).glob(a.glob)):
            vb = vbench_frames(a.vbench_python, v, Path(tmp))
            ours, fps = read_decoded(v)
            res = {"fps": {"svibench": fps, "cv2": vb["fps"]}}
            for r in ("decord", "cv2"):
                x, y = ours[r].astype(int), vb[r].astype(int)
                if x.shape != y.shape:
                    res[r] = {"equal": False, "shape": [list(x.shape), list(y.shape)]}
                    continue
                d = np.abs(x - y)
                res[r] = {
                    "equal": bool(d.max() == 0),
                    "max_abs": int(d.max()),
                    "frac_differ": float(np.mean(d > 0)),
                }
            out[v.name] = res
            print(v.name, json.dumps(res))
    if a.out:
        Path(a.out).write_text(json.dumps(out, indent=2))


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
    r.add_argument("--vbench-json", nargs="+")
    r.add_argument("--scores", required=True, help="where svibench's scores are written")
    r.add_argument("--dims", nargs="*")
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--out")
    c = sub.add_parser("compare")
    c.add_argument("--scores", required=True)
    c.add_argument("--vbench-json", required=True, nargs="+")
    c.add_argument("--out")
    d = sub.add_parser("readers")
    d.add_argument("--videos", required=True)
    d.add_argument("--glob", default="*.mp4")
    d.add_argument("--vbench-python", default="/work/vbref/venv/bin/python")
    d.add_argument("--out")
    a = ap.parse_args()
    {"make": cmd_make, "run": cmd_run, "compare": cmd_compare, "readers": cmd_readers}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
