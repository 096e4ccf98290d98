"""Rebuild the shipped tiny checkpoints in svibench/assets/tiny/.

    python scripts/make_tiny_checkpoints.py            # base, then the svi and control fine-tunes
    python scripts/make_tiny_checkpoints.py --only svi,control

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

from svibench.train.tiny import TinyTrainer
from svibench.train.tiny_model import ASSETS

# Stage 1: from scratch with upstream's Gaussian-bump timestep weighting. It nearly ignores the
# low-noise timesteps, which a from-scratch toy then never learns (noisy samples), so stage 2
# continues with uniform weighting. Fine-tunes use the upstream weighting.
STAGE1 = dict(
    stage="base", steps=1200, batch_size=4, learning_rate=1e-3, warmup_steps=100, save_every=100
)
STAGE2 = dict(
    stage="base",
    steps=500,
    batch_size=4,
    learning_rate=5e-4,
    save_every=100,
    timestep_weighting="uniform",
)
RECIPES = {  # name -> (trainer overrides, seed, shipped as)
    "base-stage1": (STAGE1, 0, None),
    "base": ({**STAGE2, "init_from": "{work}/base-stage1/seed0"}, 0, "base"),
    "svi": (dict(base_checkpoint=str(ASSETS / "base")), 0, "svi"),
    "control": (
        dict(base_checkpoint=str(ASSETS / "base"), use_error_recycling=False),
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


if __name__ == "__main__":
    main()
