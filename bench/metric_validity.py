"""Validity bench: do the drift measures stay at 0 without degradation and move with it?

Known, graded degradations (svibench/degradations.py) are applied to clean videos with a strength
that grows with the clip index (0 on clip 0, ``level / 4`` on the last clip; levels 0..4). Two
kinds of clean video, both with a moving camera, so content moves while nothing degrades at
level 0:

* ``world``: the embedded tiny world (svibench/world.py) at held-out seeds 101.. (the suites use
  1..12), camera pan 0.35 px/frame plus moving sprites;
* ``photo``: real photographs shipped inside scikit-image (local files, no download) with a
  seeded camera pan and zoom (in or out, per case).

Every weight-free per-clip metric of the registry is computed per clip, exactly as the runner
would (previous tail for seams, ground-truth clip k for ``*_gt``), then each per-case series is
summarised (svibench.analysis.drift) and, per measure x degradation x level, tested across the cases:

* false drift at level 0: the exact 95 % signed-rank CI (Hodges-Lehmann) of the drift contains 0;
* sensitivity: Spearman rho between level (0..4) and per-case drift;
* smallest detected level: the lowest level whose exact Wilcoxon p < 0.05 (n = cases);
* blind spots: degradations with no detected level.

A measure passes (may be a default drift measure) when its level-0 CI contains 0 on both worlds
and it detects at least one degradation. ``--lpips`` adds LPIPS rows with a *random* AlexNet
trunk (mechanics only: whether the plumbing moves, not what the real network measures).

    nice -n 10 python bench/metric_validity.py               # ~3-5 min on 2 cores
    python bench/metric_validity.py --cases 6 --quick         # smoke run

Writes results/validity/{per_case.parquet, summary.csv, summary.md, seconds.txt}.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from svibench import degradations as D
from svibench.analysis.drift import DRIFT_SUMMARIES, summarise_series
from svibench.metrics.base import ClipInput, FeatureCache
from svibench.metrics.registry import METRICS
from svibench.world import World, to_uint8

LEVELS = 4
CLIPS, FRAMES, MOTION = 6, 17, 1
STEP = FRAMES - MOTION
FPS = 16
SIZE = 64
WEIGHT_FREE = (
    "psnr_ref",
    "ssim_ref",
    "temporal_flickering",
    "seam",
    "motion",
    "sharpness",
    "sharpness_lapvar",
    "noise",
    "colour",
    "gt",
)
PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "retina.jpg",
)
ALPHA = 0.05


class PhotoScene:
    """A photograph seen by a camera that pans and zooms (closed-form in time)."""

    def __init__(self, name: str, seed: int, size: int = SIZE) -> None:
        from importlib.resources import files

        from PIL import Image

        path = files("skimage") / "data" / name
        with Image.open(str(path)) as im:
            im = im.convert("RGB")
            scale = 2.5 * size / min(im.size)  # anti-aliased once; the camera then samples ~1:1
            im = im.resize((round(im.size[0] * scale), round(im.size[1] * scale)), Image.LANCZOS)
            self.img = np.asarray(im, np.float32) / 255.0
        rng = np.random.default_rng(seed)
        self.size = size
        angle = rng.uniform(0, 2 * np.pi)
        self.vel = 0.35 * np.array([np.sin(angle), np.cos(angle)])
        self.zoom_rate = rng.choice([-1.0, 1.0]) * 0.003  # zoom in or out, ~1.33x over the video
        self.centre = np.array(self.img.shape[:2], np.float64) / 2
        self.crop0 = 1.3 * size

    def frame_float(self, t: float) -> np.ndarray:
        from scipy import ndimage

        crop = self.crop0 * np.exp(-self.zoom_rate * t)
        h, w = self.img.shape[:2]
        lo = np.array([crop / 2, crop / 2])
        hi = np.array([h - crop / 2, w - crop / 2])
        span = hi - lo
        y = np.mod(self.centre + self.vel * t - lo, 2 * span)
        c = lo + np.where(y > span, 2 * span - y, y)  # bounce off the borders
        grid = (np.arange(self.size) + 0.5) / self.size * crop - crop / 2
        yy, xx = np.meshgrid(c[0] + grid, c[1] + grid, indexing="ij")
        return np.stack(
            [ndimage.map_coordinates(self.img[..., ch], [yy, xx], order=1) for ch in range(3)],
            axis=-1,
        ).astype(np.float32)


def scenes(world: str, n: int) -> list[tuple[object, object]]:
    """(scene, other scene for 'swap') per case."""
    if world == "world":
        return [(World(101 + i, SIZE, SIZE), World(601 + i, SIZE, SIZE)) for i in range(n)]
    out = []
    for i in range(n):
        out.append(
            (
                PhotoScene(PHOTOS[i % len(PHOTOS)], seed=i),
                PhotoScene(PHOTOS[(i + 3) % len(PHOTOS)], seed=100 + i),
            )
        )
    return out


def render_video(scene, other, degradation: str, level: int, seed: int) -> list[np.ndarray]:
    """The degraded clips (uint8) of one case; clip k strength grows with k."""
    rng = np.random.default_rng(seed)
    clips = []
    for k in range(CLIPS):
        s = D.clip_strength(level, LEVELS, k, CLIPS)
        times = D.time_warp(degradation, k * STEP, FRAMES, s)
        frames = []
        for t in times:
            f = scene.frame_float(float(t))
            o = other.frame_float(float(t)) if degradation == "swap" and s > 0 else None
            frames.append(to_uint8(D.apply(degradation, f, s, rng, o)))
        clip = np.stack(frames)
        if k > 0:
            clip[:MOTION] = clips[-1][-MOTION:]  # chained like a generator (and the tiny world)
        clips.append(clip)
    return clips


def truth_clips(scene) -> list[np.ndarray]:
    return [
        np.stack([to_uint8(scene.frame_float(k * STEP + i)) for i in range(FRAMES)])
        for k in range(CLIPS)
    ]


def score_video(clips, truth, metrics, extractors, directions) -> dict[str, list[float]]:
    """Per-clip series of every metric column."""
    series: dict[str, list[float]] = {c: [] for c in directions}
    ref = truth[0][0]
    tail = None
    for k, clip in enumerate(clips):
        ci = ClipInput(clip, ref, "", k, FPS, MOTION, tail, truth[k])
        cache = FeatureCache(ci, extractors)
        for m in metrics:
            for col, v in m.compute(ci, cache).items():
                series[col].append(float(v))
        tail = clip[-MOTION:]
    return series


def lpips_feature():
    """LPIPS with a seeded random AlexNet trunk and the calibrated linear layers that ship in the
    lpips wheel (non-negative, so distances stay >= 0); mechanics only, no download."""
    import torch

    from svibench.metrics.lpips_metric import LpipsAlex, build_lpips_alex

    torch.set_num_threads(1)
    torch.manual_seed(0)
    return LpipsAlex(model=build_lpips_alex(random=False))


def measure_world(world: str, args) -> list[tuple]:
    """Per-case drift of every measure and summary, for every condition of one world."""
    metrics = [METRICS.get(n)() for n in WEIGHT_FREE]
    extractors, with_lpips = {}, list(metrics)
    if args.lpips:  # mechanics only and slow on a CPU: levels 0 and LEVELS only
        with_lpips.append(METRICS.get("lpips")())
        extractors["lpips_alex"] = lpips_feature()
    hib = {c: m.higher_is_better_for(c) for m in with_lpips for c in m.output_columns()}
    levels = (2, LEVELS) if args.quick else range(1, LEVELS + 1)
    conditions = [("clean", 0)] + [(d, lv) for d in D.DEGRADATIONS for lv in levels]
    spc = STEP / FPS
    records = []
    t0 = time.perf_counter()
    cases = scenes(world, args.cases)
    truths = [truth_clips(s) for s, _ in cases]
    for deg, level in conditions:
        ms = with_lpips if level in (0, LEVELS) else metrics
        cols = {c: hib[c] for m in ms for c in m.output_columns()}
        for i, (scene, other) in enumerate(cases):
            clips = render_video(
                scene, other, deg if level else "colour", level, seed=1000 * i + level
            )
            series = score_video(clips, truths[i], ms, extractors, cols)
            for col, vals in series.items():
                s = summarise_series(vals, spc, hib[col])
                records += [(world, deg, level, i, col, summ, s[summ]) for summ in DRIFT_SUMMARIES]
        print(
            f"{world} {deg} L{level}: {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True
        )
    return records


def measure_all(args) -> pd.DataFrame:
    worlds = ("world", "photo") if args.world == "both" else (args.world,)
    if args.jobs > 1 and len(worlds) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(min(args.jobs, len(worlds))) as pool:
            parts = list(pool.map(measure_world, worlds, [args] * len(worlds)))
    else:
        parts = [measure_world(w, args) for w in worlds]
    df = pd.DataFrame.from_records(
        [r for p in parts for r in p],
        columns=["world", "degradation", "level", "case", "measure", "summary", "drift"],
    )
    # level 0 is the same clean video for every degradation: one copy per degradation
    zero = df[df["level"] == 0]
    df = pd.concat([df[df["level"] != 0]] + [zero.assign(degradation=d) for d in D.DEGRADATIONS])
    return df.sort_values(["world", "measure", "summary", "degradation", "level", "case"])


def _first_level(g: pd.DataFrame, worse: bool | None) -> int:
    """Lowest level whose drift differs from 0 at ALPHA (exact Wilcoxon over the cases) on the
    worse side (worse=True), the better side (False) or either (None); 0 if none."""
    from svibench.analysis.stats import one_sample_p

    for lv in range(1, LEVELS + 1):
        v = g[g["level"] == lv]["drift"].to_numpy()
        if not np.isfinite(v).any() or not one_sample_p(v) < ALPHA:
            continue
        m = np.nanmean(v)
        if (worse is None and m != 0) or (worse is True and m > 0) or (worse is False and m < 0):
            return lv
    return 0


def _orient_delta(df: pd.DataFrame) -> pd.DataFrame:
    """delta is stored with the metric's raw sign; flip it for higher-is-better measures so
    that positive = worse for every summary."""
    hib = {c: h for n in METRICS.names() for c, h in _directions(n).items()}
    flip = (df["summary"] == "delta") & df["measure"].map(hib).fillna(False).astype(bool)
    return df.assign(drift=np.where(flip, -df["drift"], df["drift"]))


def _directions(name: str) -> dict[str, bool]:
    try:
        cls = METRICS.get(name)
    except Exception:  # noqa: BLE001 - a plug-in that fails to import has no rows here
        return {}
    return {c: cls.higher_is_better_for(c) for c in cls.output_columns()}


def analyse(df: pd.DataFrame) -> pd.DataFrame:
    from scipy import stats

    from svibench.analysis.drift import TWO_SIDED
    from svibench.analysis.stats import signed_rank_ci

    df = _orient_delta(df)
    rows = []
    for (world, measure, summ, deg), g in df.groupby(
        ["world", "measure", "summary", "degradation"], sort=True
    ):
        zero = g[g["level"] == 0]["drift"].to_numpy()
        m0, lo0, hi0, _ = signed_rank_ci(zero, 0.95)  # the leaderboard's exact interval
        ok0 = bool(lo0 <= 0 <= hi0)
        fin = g[np.isfinite(g["drift"])]
        rho = (
            float(stats.spearmanr(fin["level"], fin["drift"]).statistic)
            if fin["drift"].nunique() > 1
            else float("nan")
        )
        two_sided = measure in TWO_SIDED
        detected = _first_level(g, None if two_sided else True)
        fooled = 0 if two_sided else _first_level(g, False)
        top = g[g["level"] == LEVELS]["drift"].to_numpy()
        rows.append(
            {
                "world": world,
                "measure": measure,
                "summary": summ,
                "degradation": deg,
                "level0_mean": m0,
                "level0_low": lo0,
                "level0_high": hi0,
                "level0_ok": ok0,
                "spearman_rho": rho,
                "detected_level": detected,
                "fooled_level": fooled,
                "level4_mean": float(np.nanmean(top)) if np.isfinite(top).any() else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def verdicts(summary: pd.DataFrame, summ: str) -> pd.DataFrame:
    """Per measure: level-0 OK on both worlds, degradations detected on the worse side on both
    worlds, blind spots, and degradations that make it report an *improvement* on both worlds.

    Passes: level 0 OK on both worlds, detects at least one degradation, and is not fooled by
    noise (the failure the old Laplacian sharpness had: a noisier video scored better). Other
    better-side responses are listed, not disqualifying: some are physical (blur does lower the
    noise level and the step across a seam).
    """
    s = summary[summary["summary"] == summ]
    out = []
    for measure, g in s.groupby("measure", sort=True):
        ok0 = bool(g["level0_ok"].all())
        det = g.groupby("degradation")["detected_level"].apply(lambda x: (x > 0).all())
        fool = g.groupby("degradation")["fooled_level"].apply(lambda x: (x > 0).all())
        found = sorted(det[det].index)
        fooled = sorted(fool[fool].index)
        blind = sorted(set(det[~det].index) - set(fooled))
        out.append(
            {
                "measure": measure,
                "level0_ok": ok0,
                "detects": ", ".join(found) or "–",
                "fooled_by": ", ".join(fooled) or "–",
                "blind_to": ", ".join(blind) or "–",
                "passes": ok0 and bool(found) and "noise" not in fooled,
            }
        )
    return pd.DataFrame(out)


def markdown(summary: pd.DataFrame, summ: str, n: int, seconds: float) -> str:
    s = summary[summary["summary"] == summ]
    v = verdicts(summary, summ)
    lines = [
        f"# Metric validity ({summ}; {n} cases per world, levels 0..{LEVELS}, {seconds:.0f} s)",
        "",
        "Generated by `python bench/metric_validity.py`; regenerate rather than edit.",
        "",
        "## Verdict per measure (both worlds)",
        "",
        "Detects: drift on the worse side at p < 0.05 on both worlds (saturation, contrast: either "
        "side). Fooled by: a significant *improvement* on both worlds. Blind to: neither.",
        "",
        "| measure | level 0 CI contains 0 | detects | fooled by | blind to | passes |",
        "|---|---|---|---|---|---|",
    ]
    for r in v.itertuples(index=False):
        lines.append(
            f"| {r.measure} | {'yes' if r.level0_ok else '**no**'} | {r.detects} | {r.fooled_by} | "
            f"{r.blind_to} | {'**yes**' if r.passes else 'no'} |"
        )
    for world in sorted(set(s["world"]), reverse=True):
        w = s[s["world"] == world]
        lines += [
            "",
            f"## {world}: level-0 drift [95 % CI], and per degradation rho / smallest detected level",
            "",
            "Cell: Spearman rho (level vs drift, positive = worse) / smallest level detected on the "
            "worse side at p < 0.05 (– = none; a level in *italics*: significant on the better "
            "side instead).",
            "",
        ]
        degs = list(D.DEGRADATIONS)
        lines.append("| measure | level 0 | " + " | ".join(degs) + " |")
        lines.append("|---|---|" + "---|" * len(degs))
        for measure, g in w.groupby("measure", sort=True):
            g = g.set_index("degradation")
            z = g.iloc[0]
            zero = f"{z.level0_mean:.3g} [{z.level0_low:.3g}, {z.level0_high:.3g}]"
            if not z.level0_ok:
                zero = f"**{zero}**"
            cells = []
            for d in degs:
                r = g.loc[d]
                lv, fl = int(r.detected_level), int(r.fooled_level)
                mark = str(lv) if lv else (f"*{fl}*" if fl else "–")
                cells.append(f"{r.spearman_rho:.2f} / {mark}")
            lines.append(f"| {measure} | {zero} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=12, help="cases per world (the tiny suite's 12)")
    ap.add_argument("--quick", action="store_true", help="levels 2 and 4 only")
    ap.add_argument("--lpips", action="store_true", help="add LPIPS rows (random AlexNet)")
    ap.add_argument("--out", default="results/validity")
    ap.add_argument("--world", choices=("world", "photo", "both"), default="both")
    ap.add_argument("--jobs", type=int, default=2, help="processes (one per world)")
    ap.add_argument(
        "--report-only", action="store_true", help="rewrite summary.* from <out>/per_case.parquet"
    )
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    out = Path(args.out)
    t0 = time.perf_counter()
    if args.report_only:
        df = pd.read_parquet(out / "per_case.parquet")
        args.cases = int(df["case"].nunique())
    else:
        df = measure_all(args)
    summary = analyse(df)
    seconds = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    if args.report_only and (out / "seconds.txt").is_file():
        seconds = float((out / "seconds.txt").read_text())
    if not args.report_only:
        df.to_parquet(out / "per_case.parquet", index=False)
        (out / "seconds.txt").write_text(f"{seconds:.0f}\n")
    summary.to_csv(out / "summary.csv", index=False, float_format="%.6g")
    text = "\n".join(markdown(summary, s, args.cases, seconds) for s in DRIFT_SUMMARIES)
    (out / "summary.md").write_text(text)
    print(markdown(summary, "worse_per_min", args.cases, seconds))


if __name__ == "__main__":
    main()
