"""TinyTrainer: the SVI training recipe on the tiny world, on the CPU in minutes.

``stage="base"`` trains the tiny I2V model from scratch on clean clips (the base that is shipped
in ``svibench/assets/tiny/base``). ``stage="finetune"`` (default) starts from a base and trains
``steps`` more with error recycling (``use_error_recycling=true``, SVI) or without it (the
same-budget clean control). Data: clips of procedural worlds (svibench.world) with random seeds
(>= 100000, disjoint from suite ``world:<seed>`` cases) and start times, built like upstream's
dataset: the first m frames condition (film: with probability ``p_motion_threshold``, else only
the first frame), padding by ``ref_pad_num`` with a random frame of the same video.

Resumable: ``out_dir/train_state.pt`` (model, optimizer, banks, every RNG) every ``save_every``
steps; the final weights are ``out_dir/model.safetensors`` + ``config.json`` and ``result.json``
marks the run finished (the bulky train state is then removed).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from svibench.atomic import atomic_write_text
from svibench.errors import ConfigError
from svibench.models.flow import FlowMatch
from svibench.models.tiny import (
    TinyConfig,
    build_model,
    condition,
    forward,
    load_checkpoint,
    save_checkpoint,
)
from svibench.train.base import Param, Progress, Trainer, TrainResult
from svibench.train.recycling import (
    RECYCLING_PARAMS,
    ErrorRecycler,
    RecyclingConfig,
    recycling_step,
)
from svibench.train.state import load_train_state, save_train_state
from svibench.world import World

TRAIN_SEED_BASE = 100_000  # training worlds never collide with small suite seeds
LORA_TARGETS = [
    "to_q",
    "to_k",
    "to_v",
    "to_out.0",
    "ffn.net.0.proj",
    "ffn.net.2",
]  # upstream q,k,v,o,ffn.0,ffn.2

_TINY_PARAMS: dict[str, Param] = {
    "stage": Param("finetune", choices=("base", "finetune")),
    "base_checkpoint": Param("base", help="folder or shipped name; the start of a fine-tune"),
    "steps": Param(
        60, 1, 10**7, help="optimizer steps (base: see scripts/make_tiny_checkpoints.py)"
    ),
    "batch_size": Param(4, 1, 1024),
    "learning_rate": Param(5e-4, 0.0, 1.0),
    "warmup_steps": Param(0, 0, 10**6),
    "gradient_clip_val": Param(1.0, 0.0, 1e6, help="0 disables (upstream default 1.0)"),
    "train_architecture": Param("full", choices=("full", "lora")),
    "lora_rank": Param(16, 1, 4096),
    "lora_alpha": Param(16.0, 0.0, 1e6),
    "save_every": Param(50, 1, 10**7),
    "timestep_weighting": Param("bump", choices=("bump", "uniform"), help="bump = upstream"),
    "init_from": Param("", help="base stage: start from these weights instead of random"),
    "y_error_pool": Param(
        "", help="torch file of measured inference errors (N, 3, m, H, W) used as y errors"
    ),
    "threads": Param(
        1, 0, 1024, help="torch threads while training (0 = leave as is); 1 is fastest for this toy"
    ),
    # base-only architecture / layout (a fine-tune inherits them from its base)
    "size": Param(32, 16, 512),
    "frames": Param(17, 2, 257),
    "hidden": Param(64, 16, 4096),
    "layers": Param(2, 1, 64),
    "motion_frames": Param(1, 1, 64, help="m: film 5, shot 1"),
    "ref_pad_num": Param(-1, -1, 256, help="0 zeros, -1 reference image (shot), k>0"),
    "p_motion_threshold": Param(0.9, 0.0, 1.0, help="film: P(use m real motion frames)"),
}


class TinyTrainer(Trainer):
    name = "tiny"
    params = {**RECYCLING_PARAMS, **_TINY_PARAMS}
    # Scale-bound script values the toy keeps at its own defaults: a 1e-4 learning rate and a
    # rank-128 LoRA are sized for a 14B DiT (a rank-128 LoRA would be full rank here).
    recipe_skips = frozenset({"learning_rate", "lora_rank", "lora_alpha", "train_architecture"})

    # ------------------------------------------------------------------ public API
    def train(self, out_dir: Path, seed: int, progress: Progress | None = None) -> TrainResult:
        out_dir = Path(out_dir)
        done = out_dir / "result.json"
        if done.is_file():
            meta = json.loads(done.read_text())
            return TrainResult(out_dir, int(meta["steps"]), meta["metrics"])
        c = self.config
        before = torch.get_num_threads()
        if c["threads"]:
            torch.set_num_threads(int(c["threads"]))
        try:
            return self._train(out_dir, seed, progress)
        finally:
            torch.set_num_threads(before)

    def _train(self, out_dir: Path, seed: int, progress: Progress | None) -> TrainResult:
        c = self.config
        done = out_dir / "result.json"
        out_dir.mkdir(parents=True, exist_ok=True)
        model, tcfg = self._initial_model(seed)
        trainable = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(trainable, lr=c["learning_rate"])
        rcfg = RecyclingConfig.from_config(c)
        if c["stage"] == "base":
            rcfg.use_error_recycling = False  # the base is clean I2V training
        recycler = ErrorRecycler(rcfg, seed, dtype=torch.float16)
        if c["y_error_pool"]:  # the oracle arm of bench/tiny_svi_claim.py
            recycler.y_pool = torch.load(c["y_error_pool"], map_location="cpu", weights_only=True)
        flow = FlowMatch(shift=5.0)
        gen = torch.Generator().manual_seed(seed)
        data_rng = np.random.default_rng([seed, 7])
        step, history = 0, []
        state_file = out_dir / "train_state.pt"
        if state_file.is_file():  # resume exactly where the last save left off
            weights, step, history = load_train_state(
                state_file, "model", opt, recycler, gen, data_rng
            )
            model.load_state_dict(weights)
        model.train()
        total = int(c["steps"])
        t0 = time.time()
        while step < total:
            lr = c["learning_rate"] * min(1.0, (step + 1) / max(1, c["warmup_steps"]))
            for group in opt.param_groups:
                group["lr"] = lr
            x0, y, mask = self.batch(tcfg, data_rng, c["batch_size"], c["p_motion_threshold"])

            def fwd(x_t, t, y_err, mask=mask):
                return forward(model, x_t, t, y_err, mask)

            loss, stats = recycling_step(fwd, x0, y, flow, recycler, gen, c["timestep_weighting"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if c["gradient_clip_val"] > 0:
                torch.nn.utils.clip_grad_norm_(trainable, c["gradient_clip_val"])
            opt.step()
            step += 1
            history.append(stats["loss"])
            if progress:
                progress(step, total)
            if step % c["save_every"] == 0 and step < total:
                save_train_state(
                    state_file,
                    "model",
                    model.state_dict(),
                    opt,
                    recycler,
                    gen,
                    data_rng,
                    step,
                    history,
                )
        final = model
        if c["train_architecture"] == "lora" and hasattr(model, "merge_and_unload"):
            final = model.merge_and_unload()  # the generator loads plain weights
        tail = history[-max(1, len(history) // 5) :]
        metrics = {
            "final_loss": float(np.mean(tail)) if tail else float("nan"),
            "noise_bank_fill": recycler.noise_bank.fill(),
            "y_bank_fill": recycler.y_bank.fill(),
            "noise_bank_entries": float(len(recycler.noise_bank)),
            "seconds": time.time() - t0,
        }
        save_checkpoint(
            final, tcfg, out_dir, {"train": self._json_config(), "seed": seed, "steps": step}
        )
        atomic_write_text(
            done, json.dumps({"steps": step, "metrics": metrics, "loss_history": history})
        )
        state_file.unlink(missing_ok=True)
        return TrainResult(out_dir, step, metrics)

    def generator(self, result: TrainResult) -> dict[str, Any]:
        return {"kind": "tiny-model", "checkpoint": str(result.checkpoint)}

    # ------------------------------------------------------------------ pieces
    def _json_config(self) -> dict[str, Any]:
        return {k: v for k, v in self.config.items() if isinstance(v, (int, float, str, bool))}

    def _initial_model(self, seed: int) -> tuple[torch.nn.Module, TinyConfig]:
        c = self.config
        if c["stage"] == "base":
            tcfg = TinyConfig(
                size=c["size"],
                frames=c["frames"],
                hidden=c["hidden"],
                layers=c["layers"],
                motion_frames=c["motion_frames"],
                ref_pad_num=c["ref_pad_num"],
            )
            model = build_model(tcfg, seed)
            if c["init_from"]:
                init, icfg, _ = load_checkpoint(c["init_from"])
                if icfg != tcfg:
                    raise ConfigError(
                        f"init_from={c['init_from']!r}: architecture {icfg} != {tcfg}"
                    )
                model.load_state_dict(init.state_dict())
        else:
            model, tcfg, _ = load_checkpoint(c["base_checkpoint"])
        model.requires_grad_(True)
        if c["train_architecture"] == "lora":
            from peft import LoraConfig, inject_adapter_in_model

            model.requires_grad_(False)
            torch.manual_seed(seed)  # LoRA init draws from the global RNG
            lcfg = LoraConfig(
                r=c["lora_rank"], lora_alpha=c["lora_alpha"], target_modules=LORA_TARGETS
            )
            model = inject_adapter_in_model(lcfg, model)
            _PeftMerge.attach(model, tcfg)
        return model, tcfg

    @staticmethod
    def batch(
        tcfg: TinyConfig, rng: np.random.Generator, batch: int, p_motion: float = 0.9
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x0, y latents, mask), each (B, C, F, H, W), from fresh procedural clips."""
        xs, ys, masks = [], [], []
        for _ in range(batch):
            world = World(int(rng.integers(TRAIN_SEED_BASE, 2**31 - 1)), tcfg.size, tcfg.size)
            start = float(rng.uniform(0, 200))
            clip = _clip(world, start, tcfg.frames)
            m = tcfg.motion_frames
            if m > 1 and rng.random() >= p_motion:
                m = 1  # train_svi.py: otherwise condition on the first frame only
            pad = _clip(world, float(rng.uniform(0, 200)), 1)[:, 0]  # a random frame of the video
            y, mask = condition(clip[:, :m], pad, tcfg.ref_pad_num, tcfg.frames)
            xs.append(clip)
            ys.append(y)
            masks.append(mask)
        return torch.stack(xs), torch.stack(ys), torch.stack(masks)


def _clip(world: World, start: float, frames: int) -> torch.Tensor:
    """uint8-quantised world frames as float (3, F, H, W) in [-1, 1] (what a generator would see)."""
    arr = world.clip(start, frames)
    return torch.from_numpy(arr).float().permute(3, 0, 1, 2) / 127.5 - 1


class _PeftMerge:
    """``inject_adapter_in_model`` gives no merge helper; fold LoRA deltas into the base weights."""

    @staticmethod
    def attach(model: torch.nn.Module, tcfg: TinyConfig) -> None:
        def merge_and_unload() -> torch.nn.Module:
            from peft.tuners.lora import LoraLayer

            for _name, module in list(model.named_modules()):
                if isinstance(module, LoraLayer):
                    module.merge()
            plain = {
                k.replace(".base_layer", ""): v
                for k, v in model.state_dict().items()
                if "lora_" not in k
            }
            fresh = build_model(tcfg)
            fresh.load_state_dict(plain)
            return fresh

        model.merge_and_unload = merge_and_unload  # type: ignore[attr-defined]
