"""Rebuild the shipped tiny checkpoints in svibench/assets/tiny/.

    python scripts/make_tiny_checkpoints.py            # base, then the svi and control fine-tunes
    python scripts/make_tiny_checkpoints.py --only svi,control
    python scripts/make_tiny_checkpoints.py --only film-base --gate   # the film world that drifts

``film-base``: the film world (issue 14): 16x16, 1.2 M parameters, film layout (m = 5, zero
padding, the film recipe), 700 clean steps from scratch. ``--gate`` then measures its exposure
gap (svibench.exposure) on held-out worlds and fails (exit 1) unless the 95 % t-interval over
worlds of the late-clip gap (chained − teacher-forced error) lies above 0.

``base``: clean I2V training from scratch (the expensive part, ~15-25 min on 2 CPU cores).
``svi``: the default TinyTrainer fine-tune (error recycling) from the base, seed 0.
``control``: the same fine-tune with ``use_error_recycling=false`` (same budget).
Work folders go to --work/<name>/seed0 (resumable; bench/tiny_svi_claim.py uses the same
layout, so its seed-0 runs are reused); only model.safetensors + config.json are copied.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from svibench.models.tiny import ASSETS
from svibench.train.tiny import TinyTrainer

# Stage 1: from scratch with upstream's Gaussian-bump timestep weighting. It nearly ignores the
# low-noise timesteps, which a from-scratch toy then never learns (noisy samples), so stage 2
# continues with uniform weighting. Fine-tunes use the upstream weighting.
# The shot-mode checkpoints predate the recipes: they pin the values they were built with.
LEGACY_SHOT = dict(
    recipe="argparse",
    use_error_recycling=True,
    y_error_num=3,
    error_buffer_k=8,
    buffer_replacement_strategy="l2",
    motion_frames=1,
    ref_pad_num=-1,
)
STAGE1 = dict(
    **LEGACY_SHOT,
    stage="base",
    steps=1200,
    batch_size=4,
    learning_rate=1e-3,
    warmup_steps=100,
    save_every=100,
)
STAGE2 = dict(
    **LEGACY_SHOT,
    stage="base",
    steps=500,
    batch_size=4,
    learning_rate=5e-4,
    save_every=100,
    timestep_weighting="uniform",
)
FILM_BASE = dict(
    stage="base",
    recipe="film",  # m = 5, zero padding (svi_film.sh:19,24)
    size=16,
    frames=17,
    hidden=128,
    layers=4,
    steps=700,
    batch_size=4,
    learning_rate=1e-3,
    warmup_steps=50,
    save_every=50,
    timestep_weighting="uniform",  # from scratch: see STAGE1/STAGE2 above
)
RECIPES = {  # name -> (trainer overrides, seed, shipped as)
    "film-base": (FILM_BASE, 0, "film-base"),
    "base-stage1": (STAGE1, 0, None),
    "base": ({**STAGE2, "init_from": "{work}/base-stage1/seed0"}, 0, "base"),
    "svi": (dict(LEGACY_SHOT, base_checkpoint=str(ASSETS / "base")), 0, "svi"),
    "control": (
        dict(LEGACY_SHOT, base_checkpoint=str(ASSETS / "base"), use_error_recycling=False),
        0,
        "control",
    ),
}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--only", default="base-stage1,base,svi,control")
    ap.add_argument("--work", default="results/tiny_checkpoints")
    ap.add_argument("--gate", action="store_true", help="check film-base's exposure gap")
    ap.add_argument("--gate-worlds", type=int, default=8, help="held-out worlds 1..N")
    ap.add_argument("--gate-clips", type=int, default=8)
    ap.add_argument("--gate-steps", type=int, default=10, help="sampling steps (as the bench)")
    args = ap.parse_args()
    for name in args.only.split(","):
        overrides, seed, shipped = RECIPES[name]
        overrides = {
            k: v.format(work=args.work) if isinstance(v, str) else v for k, v in overrides.items()
        }
        trainer = TinyTrainer(**overrides)
        work = Path(args.work) / name / f"seed{seed}"  # same layout as bench/tiny_svi_claim.py
        cols = [
            TextColumn(name),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        ]
        with Progress(*cols) as bar:
            task = bar.add_task(name, total=trainer.config["steps"])
            result = trainer.train(
                work, seed, lambda s, n, task=task: bar.update(task, completed=s)
            )
        if shipped is None:
            continue
        dest = ASSETS / shipped
        dest.mkdir(parents=True, exist_ok=True)
        for f in ("model.safetensors", "config.json"):
            shutil.copy2(work / f, dest / f)
        print(name, result.steps, "steps", {k: round(v, 4) for k, v in result.metrics.items()})
    if args.gate:
        raise SystemExit(0 if gate(str(ASSETS / "film-base"), args) else 1)


def gate(checkpoint: str, args: argparse.Namespace) -> bool:
    """Late-clip exposure gap of ``checkpoint`` with a 95 % t-interval over worlds."""
    import numpy as np
    from scipy import stats

    from svibench.exposure import tiny_exposure_rows

    worlds = list(range(1, args.gate_worlds + 1))
    rows = tiny_exposure_rows(checkpoint, worlds, args.gate_clips, steps=args.gate_steps)
    late = args.gate_clips // 2
    per_world = {
        key: np.array(
            [
                np.mean([r[key] for r in rows if r["case"] == f"world:{w}" and r["clip"] >= late])
                for w in worlds
            ]
        )
        for key in ("chained", "teacher_forced", "gap")
    }
    gap = per_world["gap"]
    half = stats.t.ppf(0.975, len(gap) - 1) * gap.std(ddof=1) / np.sqrt(len(gap))
    ok = bool(gap.mean() - half > 0)
    print(
        f"gate ({len(worlds)} worlds, clips {late}..{args.gate_clips - 1}): chained "
        f"{per_world['chained'].mean():.4f}, teacher-forced {per_world['teacher_forced'].mean():.4f}, "
        f"gap {gap.mean():.4f} [95% CI {gap.mean() - half:.4f}, {gap.mean() + half:.4f}] -> "
        f"{'PASS' if ok else 'FAIL'}"
    )
    for k in range(args.gate_clips):
        c = np.mean([r["chained"] for r in rows if r["clip"] == k])
        t = np.mean([r["teacher_forced"] for r in rows if r["clip"] == k])
        print(f"  clip {k}: chained {c:.4f}  teacher-forced {t:.4f}")
    return ok


if __name__ == "__main__":
    main()
