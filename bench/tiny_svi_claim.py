"""Does error recycling reduce late-clip drift in the tiny SVI world?

Trains, from the shipped tiny base, the SVI fine-tune (error recycling) and the same-budget clean
fine-tune (control) for several seeds, then generates chained long videos (clip k conditioned on
the last m frames of clip k − 1, exactly like the ``tiny-model`` generator) for held-out worlds
and measures drift per frame as the colour-statistics error against the reference image:

    err(frame) = mean_c |mean_c(frame) − mean_c(ref)| + mean_c |std_c(frame) − std_c(ref)|   ([0, 1] units)

(the scene is a static textured background under a slow pan, so its colour statistics should
stay those of the reference; drift shows up as colour shift, contrast loss or blow-up). Per video:
the last-quarter mean error and the slope of the per-clip mean error (per clip). Per seed: the
mean over worlds; reported: mean per variant and the paired difference SVI − control with a 95 %
t-interval over seeds.

    python bench/tiny_svi_claim.py --seeds 3 --worlds 4 --clips 6 --out results/tiny_checkpoints
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np


def colour_error(frames: np.ndarray, ref: np.ndarray) -> np.ndarray:
    f = frames.astype(np.float32) / 255.0
    r = ref.astype(np.float32) / 255.0
    dm = np.abs(f.mean(axis=(1, 2)) - r.mean(axis=(0, 1))).mean(-1)
    ds = np.abs(f.std(axis=(1, 2)) - r.std(axis=(0, 1))).mean(-1)
    return dm + ds


def long_video(
    checkpoint: str, world: int, clips: int, frames: int, m: int, steps: int
) -> tuple[np.ndarray, np.ndarray]:
    from svibench.generators.tiny import TinyModelGenerator
    from svibench.suite import Case, Protocol
    from svibench.world import World

    gen = TinyModelGenerator("claim", checkpoint=checkpoint, steps=steps)
    size = gen.cfg.size
    proto = Protocol(frames_per_clip=frames, clips=clips, width=size, height=size, motion_frames=m)
    ref = World(world, size, size).reference()
    sess = gen.start(Case(f"w{world}", f"world:{world}", ("-",)), proto, ref)
    out = [sess.next_clip("-", k, proto.seed(k)) for k in range(clips)]
    return np.stack(out), ref  # (clips, T, H, W, 3)


def drift(video: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    per_clip = np.array([colour_error(c, ref).mean() for c in video])
    n = len(per_clip)
    q = max(1, n // 4)
    slope = float(np.polyfit(np.arange(n), per_clip, 1)[0]) if n > 1 else 0.0
    return {
        "last_quarter": float(per_clip[-q:].mean()),
        "slope": slope,
        "first_clip": float(per_clip[0]),
        "per_clip": per_clip.tolist(),
    }


def t_interval(x: np.ndarray) -> tuple[float, float, float]:
    from scipy import stats

    mean = float(x.mean())
    if len(x) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return mean, mean - half, mean + half


def _train(job: tuple) -> dict[str, float]:
    import torch

    from svibench.train.tiny import TinyTrainer

    torch.set_num_threads(1)
    name, seed, base, steps, out = job
    extra = {"steps": steps} if steps else {}
    trainer = TinyTrainer(base_checkpoint=base, use_error_recycling=name == "svi", **extra)
    return trainer.train(Path(out) / name / f"seed{seed}", seed).metrics


def _evaluate(job: tuple) -> dict:
    import torch

    torch.set_num_threads(1)
    (name, seed, ckpt), world, args = job
    video, ref = long_video(
        ckpt, world, args.clips, args.frames, args.motion_frames, args.sample_steps
    )
    return {"variant": name, "seed": seed, "world": world, **drift(video, ref)}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--worlds", type=int, default=4, help="held-out worlds: world:1 .. world:N")
    ap.add_argument("--clips", type=int, default=6)
    ap.add_argument("--frames", type=int, default=17)
    ap.add_argument("--motion-frames", type=int, default=1)
    ap.add_argument("--sample-steps", type=int, default=25)
    ap.add_argument(
        "--steps", type=int, default=None, help="fine-tune steps (default: the trainer's)"
    )
    ap.add_argument("--base", default="base")
    ap.add_argument("--jobs", type=int, default=2, help="parallel worker processes")
    ap.add_argument("--out", default="results/tiny_checkpoints")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    out = Path(args.out)
    worlds = list(range(1, args.worlds + 1))
    t0 = time.time()
    runs = [(name, seed) for seed in range(args.seeds) for name in ("control", "svi")]
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        trained = dict(
            zip(
                runs,
                pool.map(_train, [(n, s, args.base, args.steps, str(out)) for n, s in runs]),
                strict=True,
            )
        )
        for (name, seed), metrics in trained.items():
            print(f"[{time.time() - t0:6.0f}s] trained {name} seed {seed}: {metrics}", flush=True)
        models = [("base", -1, args.base)] + [(n, s, str(out / n / f"seed{s}")) for n, s in runs]
        jobs = [(m, w, args) for m in models for w in worlds]
        rows = list(pool.map(_evaluate, jobs))
    print(f"[{time.time() - t0:6.0f}s] evaluated {len(rows)} videos", flush=True)
    (out / "rows.json").write_text(json.dumps(rows, indent=1))

    def per_seed(variant: str, key: str) -> np.ndarray:
        return np.array(
            [
                np.mean([r[key] for r in rows if r["variant"] == variant and r["seed"] == s])
                for s in range(args.seeds)
            ]
        )

    lines = [
        f"tiny SVI claim: {args.seeds} seeds x {args.worlds} worlds x {args.clips} clips of {args.frames} frames (m={args.motion_frames}, {args.sample_steps} sampling steps)"
    ]
    base_lq = np.mean([r["last_quarter"] for r in rows if r["variant"] == "base"])
    lines.append(f"base (no fine-tune): last-quarter colour error {base_lq:.4f}")
    for key in ("last_quarter", "slope"):
        c, s = per_seed("control", key), per_seed("svi", key)
        mean, lo, hi = t_interval(s - c)
        rel = mean / c.mean() if c.mean() else float("nan")
        lines.append(
            f"{key:12s} control {c.mean():.4f}  svi {s.mean():.4f}  diff svi-control {mean:+.4f} "
            f"[95% CI {lo:+.4f}, {hi:+.4f}]  relative {rel:+.1%}  per-seed diffs {np.round(s - c, 4).tolist()}"
        )
    lines.append(f"total {time.time() - t0:.0f}s")
    text = "\n".join(lines)
    (out / "summary.txt").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
