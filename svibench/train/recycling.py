"""SVI's per-step error injection and bank updates, shared by every trainer.

Upstream train_svi.py ``training_step``: four coin flips per step (noise, y, latent, clean, in
that order). With ``clean_prob`` all injections are off for the step. Otherwise

* noise:  ε̃ = ε + e, e from the noise bank (``_sample_noise_error_from_noise_buffer``),
* y:      the first ``y_error_num`` conditioning latents get a ``y_error_num``-frame window of a
  clean-end error (``_sample_y_error_from_latent_buffer``, random window start), drawn from the
  current timestep's bin, from every bin (``y_error_sample_from_all_grids``, both published
  scripts) or from a bin range (``y_error_sample_range``),
* latent: x̃0 = x0 + e, e from the y (clean-end) bank, but only if the *noise* bank has data for
  the bin (upstream tests ``has_latent_buffer_data`` for both noise and latent injection).

The model sees x_t = (1 − σ)x̃0 + σε̃ and learns the target ε̃ − x0 (clean x0). Both banks are
then updated with the step's bidirectional errors; on clean steps only with probability
``clean_buffer_update_prob`` (the 10-21 fix; 1.0 reproduces the earlier behaviour). During the
first ``buffer_warmup_iter`` steps a distributed run adds every rank's errors to every rank's
banks (all-gather); afterwards each rank keeps its own.

``recipe`` selects the values of a published training script (``RECIPES``); argparse defaults
of train_svi.py apply only where the script passes nothing. Keys set explicitly win.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch

from svibench.errors import ConfigError
from svibench.models.flow import FlowMatch, bidirectional_errors, timesteps_for
from svibench.train.base import Param
from svibench.train.error_bank import ErrorBank

# Every value the published training scripts pass to train_svi.py, by script and line
# (upstream scripts/train/svi_film.sh and svi_shot.sh, main @34e4c50). "argparse" = the parser's
# defaults (train_svi.py:20-365), the values a run gets without a script.
_SCRIPT_COMMON: dict[str, Any] = {
    "learning_rate": 1e-4,  # svi_film.sh:2, svi_shot.sh:2
    "lora_rank": 128,  # :3
    "lora_alpha": 128.0,  # :4
    "train_architecture": "lora",  # :11
    "use_error_recycling": True,  # :16
    "error_buffer_k": 500,  # :17
    "y_error_num": 3,  # :18
    "buffer_warmup_iter": 50,  # :20
    "buffer_replacement_strategy": "l2",  # :21 l2_batch (error_bank.py: same rule)
    "y_error_sample_from_all_grids": True,  # :22
    "num_grids": 50,  # :23
    "noise_prob": 0.01,  # :25
    "y_prob": 0.9,  # :26
    "latent_prob": 0.9,  # :27
    "clean_buffer_update_prob": 0.1,  # :29
}
RECIPES: dict[str, dict[str, Any]] = {
    "film": {
        **_SCRIPT_COMMON,
        "motion_frames": 5,  # svi_film.sh:19
        "ref_pad_num": 0,  # svi_film.sh:24
        "clean_prob": 0.5,  # svi_film.sh:28
    },
    "shot": {
        **_SCRIPT_COMMON,
        "motion_frames": 1,  # svi_shot.sh:19
        "ref_pad_num": -1,  # svi_shot.sh:24
        "clean_prob": 0.2,  # svi_shot.sh:28
    },
    "argparse": {},  # the Param defaults below are train_svi.py's argparse defaults
}
# Neither script passes these; train_svi.py's argparse defaults apply to every recipe:
# p_motion_threshold 0.9 (:282-287), error_modulate_factor 0.0 (:258-263), gradient_clip_val
# 1.0 (:270-275), y_error_sample_range None (:301-306), timestep_grid_size 25 (:233-238).
TIMESTEP_GRID_SIZE = 25  # train_svi.py:688, only used to read y_error_sample_range

# Trainer parameters every recycling trainer exposes (upstream flag names, argparse defaults).
RECYCLING_PARAMS: dict[str, Param] = {
    "recipe": Param(
        "film", choices=tuple(RECIPES), help="published script whose values are the defaults"
    ),
    "use_error_recycling": Param(False, help="False = same-budget clean fine-tune (the control)"),
    "noise_prob": Param(0.9, 0.0, 1.0, help="P(inject a noise-bank error into ε); scripts 0.01"),
    "y_prob": Param(
        0.9, 0.0, 1.0, help="P(inject a clean-end error into the conditioning latents y)"
    ),
    "latent_prob": Param(0.9, 0.0, 1.0, help="P(inject a clean-end error into x0)"),
    "clean_prob": Param(0.1, 0.0, 1.0, help="P(error-free step); film script 0.5, shot 0.2"),
    "clean_buffer_update_prob": Param(
        0.1, 0.0, 1.0, help="P(bank update on an error-free step); 0.1 optimised SVI, 1.0 before"
    ),
    "y_error_num": Param(1, 1, 64, help="conditioning latents that receive a y error; scripts 3"),
    "y_error_sample_from_all_grids": Param(
        False, help="draw y errors from every timestep bin (scripts: true)"
    ),
    "y_error_sample_range": Param(
        "", help="'start,end' timesteps: draw y errors from bins start//25..end//25"
    ),
    "buffer_warmup_iter": Param(
        50, 0, 10**9, help="first steps whose errors are all-gathered across ranks"
    ),
    "error_buffer_k": Param(500, 1, 100000, help="entries per timestep bin"),
    "num_grids": Param(50, 1, 1000, help="timestep bins (the inference timesteps)"),
    "buffer_replacement_strategy": Param("random", choices=("random", "fifo", "l2")),
    "error_modulate_factor": Param(0.0, 0.0, 1.0, help="errors scaled by U[1-f, 1+f]"),
}


def recipe_defaults(
    params: dict[str, Param], config: dict[str, Any], keep: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The chosen recipe's values for the keys a trainer has (minus ``keep``), checked.

    ``config`` is what the user passed; its ``recipe`` (else the trainer's default) decides.
    """

    name = config.get("recipe", params["recipe"].default)
    if name not in RECIPES:
        raise ConfigError(f"recipe={name!r}: allowed values are {list(RECIPES)}")
    return {
        k: params[k].check(k, v) for k, v in RECIPES[name].items() if k in params and k not in keep
    }


def y_error_bins(spec: str, num_grids: int) -> range | None:
    """Bins named by ``y_error_sample_range`` ('start,end' timesteps), None when unset.

    Upstream converts with ``ts // timestep_grid_size`` (train_svi.py:710-725) although the bins
    are the inference timesteps (bin 0 = t near 1000): reproduced as is, start..end inclusive.
    """

    if not spec:
        return None
    parts = spec.split(",")
    try:
        start, end = (int(p) for p in parts)
    except ValueError:
        raise ConfigError(
            f"y_error_sample_range={spec!r}: expected 'start,end' (integer timesteps)"
        ) from None
    lo, hi = start // TIMESTEP_GRID_SIZE, end // TIMESTEP_GRID_SIZE
    return range(lo, min(hi + 1, num_grids))


@dataclass
class RecyclingConfig:
    """Recycling settings; the defaults are the film recipe (``RECIPES["film"]``)."""

    use_error_recycling: bool = True
    noise_prob: float = 0.01
    y_prob: float = 0.9
    latent_prob: float = 0.9
    clean_prob: float = 0.5
    clean_buffer_update_prob: float = 0.1
    y_error_num: int = 3
    y_error_sample_from_all_grids: bool = True
    y_error_sample_range: str = ""
    buffer_warmup_iter: int = 50
    error_buffer_k: int = 500
    num_grids: int = 50
    buffer_replacement_strategy: str = "l2"
    error_modulate_factor: float = 0.0

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RecyclingConfig:
        return cls(**{f.name: config[f.name] for f in fields(cls) if f.name in config})

    @classmethod
    def recipe(cls, name: str = "film", **overrides: Any) -> RecyclingConfig:
        """A recipe's recycling values (plus overrides), e.g. ``RecyclingConfig.recipe("film")``."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in {**RECIPES[name], **overrides}.items() if k in names})


@dataclass(frozen=True)
class Plan:
    noise: bool
    y: bool
    latent: bool
    clean: bool


# Concatenates a tensor over the ranks of a distributed run along dim 0 (accelerate's
# ``Accelerator.gather``); the identity in a single process.
Gather = Callable[[torch.Tensor], torch.Tensor]


class ErrorRecycler:
    """The two banks plus the coin flips; owns its RNG (saved in ``state_dict``)."""

    def __init__(
        self,
        cfg: RecyclingConfig,
        seed: int,
        shift: float = 5.0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.cfg = cfg
        centres = timesteps_for(
            cfg.num_grids, shift
        )  # train_svi.py: get_timesteps(num_grids, shift=5)
        kw = dict(
            capacity=cfg.error_buffer_k,
            strategy=cfg.buffer_replacement_strategy,
            modulate=cfg.error_modulate_factor,
            dtype=dtype,
        )
        self.noise_bank = ErrorBank(
            centres, seed=seed * 3 + 1, **kw
        )  # upstream latent_error_buffer
        self.y_bank = ErrorBank(centres, seed=seed * 3 + 2, **kw)  # upstream y_error_buffer
        self.rng = np.random.default_rng(seed * 3)
        self.y_bins = y_error_bins(cfg.y_error_sample_range, cfg.num_grids)
        if self.y_bins is None and cfg.y_error_sample_from_all_grids:
            self.y_bins = range(cfg.num_grids)  # the range wins over all grids (train_svi.py:894)
        self.iteration = 0  # training steps seen (upstream iteration_count)
        # Oracle arm (bench/tiny_svi_claim.py): y errors drawn from these measured inference
        # errors (N, C, F, H, W) instead of the y bank. Not saved: the caller sets it again.
        self.y_pool: torch.Tensor | None = None

    def plan(self) -> Plan:
        c = self.cfg
        if not c.use_error_recycling:
            return Plan(False, False, False, True)
        noise, y, latent, clean = self.rng.random(4)  # same order as upstream
        if clean < c.clean_prob:
            return Plan(False, False, False, True)
        return Plan(noise < c.noise_prob, y < c.y_prob, latent < c.latent_prob, False)

    def _y_error(self, timestep: float) -> torch.Tensor | None:
        """A clean-end error for the conditioning latents (train_svi.py:892-930)."""
        if self.y_pool is not None:
            return self.y_pool[int(self.rng.integers(len(self.y_pool)))].float()
        if self.y_bins is not None:
            return self.y_bank.sample_from_bins(self.y_bins)
        return self.y_bank.sample(timestep)

    def inject(
        self,
        x0: torch.Tensor,
        noise: torch.Tensor,
        y_latent: torch.Tensor,
        timestep: float,
        plan: Plan,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Corrupt one sample's (x0, ε, y latents), each (C, F, H, W); returns new tensors."""
        has_noise = self.noise_bank.has(timestep)  # has_latent_buffer_data (train_svi.py:1072)
        if plan.noise and has_noise:
            noise = noise + self.noise_bank.sample(timestep).to(noise)
        err = self._y_error(timestep) if plan.y else None
        if err is not None:
            err = err.to(y_latent)
            n = min(self.cfg.y_error_num, y_latent.shape[1], err.shape[1])
            start = int(self.rng.integers(0, max(0, err.shape[1] - n) + 1))  # random window
            y_latent = y_latent.clone()
            y_latent[:, :n] += err[:, start : start + n]  # train_svi.py:1119-1130
        if plan.latent and has_noise and self.y_bank.has(timestep):
            x0 = x0 + self.y_bank.sample(timestep).to(x0)  # current bin only (:1133-1135)
        return x0, noise, y_latent

    def in_warmup(self) -> bool:
        """Upstream counts the step before the test: steps 1..buffer_warmup_iter (:1066, :1163)."""
        return self.iteration <= self.cfg.buffer_warmup_iter

    def record(
        self, noise_error: torch.Tensor, clean_error: torch.Tensor, timestep: float, plan: Plan
    ) -> bool:
        """Bank update after one sample's step; returns whether it happened."""
        return self.record_many(noise_error[None], clean_error[None], [timestep], plan)

    def record_many(
        self,
        noise_errors: torch.Tensor,
        clean_errors: torch.Tensor,
        timesteps: list[float],
        plan: Plan,
    ) -> bool:
        """Add errors (N, ...) as one update decided by this rank's ``plan`` (one coin flip)."""
        if not self.cfg.use_error_recycling:
            return False
        if plan.clean and self.rng.random() >= self.cfg.clean_buffer_update_prob:
            return False
        for n_err, c_err, t in zip(noise_errors, clean_errors, timesteps, strict=True):
            self.noise_bank.add(n_err, t)
            self.y_bank.add(c_err, t)
        return True

    def state_dict(self) -> dict[str, Any]:
        return {
            "config": asdict(self.cfg),
            "noise_bank": self.noise_bank.state_dict(),
            "y_bank": self.y_bank.state_dict(),
            "rng": self.rng.bit_generator.state,
            "iteration": self.iteration,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.noise_bank.load_state_dict(state["noise_bank"])
        self.y_bank.load_state_dict(state["y_bank"])
        self.rng.bit_generator.state = state["rng"]
        self.iteration = int(state.get("iteration", 0))


# (x_t, timesteps (B,), y_latents) -> predicted velocity, all (B, C, F, H, W)
Forward = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def recycling_step(
    forward: Forward,
    x0: torch.Tensor,
    y_latent: torch.Tensor,
    flow: FlowMatch,
    recycler: ErrorRecycler,
    generator: torch.Generator,
    weighting: str = "bump",
    gather: Gather | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """One SVI training step on a batch; returns the weighted loss and stats.

    Each sample draws its own timestep and coin flips (upstream: batch 1 per GPU). ``gather``
    (distributed runs) shares the errors of all ranks during the bank warm-up.
    """
    batch = x0.shape[0]
    recycler.iteration += 1
    ids = flow.sample_index(generator, batch)
    sigmas, timesteps = flow.sigmas[ids], flow.timesteps[ids]
    noise = torch.randn(x0.shape, generator=generator, dtype=torch.float32).to(x0)
    plans, xs, eps, ys = [], [], [], []
    for b in range(batch):
        plan = recycler.plan()
        x_b, e_b, y_b = recycler.inject(x0[b], noise[b], y_latent[b], float(timesteps[b]), plan)
        plans.append(plan)
        xs.append(x_b)
        eps.append(e_b)
        ys.append(y_b)
    x0_err, noise_err, y_err = torch.stack(xs), torch.stack(eps), torch.stack(ys)
    sig = sigmas.to(x0)
    x_t = FlowMatch.add_noise(x0_err, noise_err, sig)
    target = FlowMatch.target(x0, noise_err)  # clean x0: the self-correcting target
    v_pred = forward(x_t, timesteps.to(x0.device), y_err)
    per_sample = (v_pred.float() - target.float()).pow(2).flatten(1).mean(1)
    w = (
        flow.weights[ids] if weighting == "bump" else torch.ones(batch)
    )  # flow_match.py training_weight
    loss = (per_sample * w.to(per_sample)).mean()
    updated = 0
    if recycler.cfg.use_error_recycling:
        with torch.no_grad():
            n_err, c_err = bidirectional_errors(
                v_pred.detach().float(), target.float(), sig.float()
            )
        updated = _update_banks(recycler, n_err, c_err, timesteps.float(), plans, gather)
    stats = {
        "loss": float(loss.detach()),
        "injected": float(sum(not p.clean for p in plans)) / batch,
        "bank_updates": float(updated),
    }
    return loss, stats


def _update_banks(
    recycler: ErrorRecycler,
    n_err: torch.Tensor,
    c_err: torch.Tensor,
    timesteps: torch.Tensor,
    plans: list[Plan],
    gather: Gather | None,
) -> int:
    """Bank updates of one step; returns how many samples' errors were added.

    Warm-up with ``gather`` (train_svi.py:1162-1175): every rank gathers every rank's errors
    and timesteps and adds all of them, its own clean-step coin deciding; afterwards only the
    local errors (:1176-1184). All ranks call ``gather`` the same number of times.
    """
    if gather is not None and recycler.in_warmup():
        ts = gather(timesteps.to(n_err.device)).cpu()
        n_all, c_all = gather(n_err), gather(c_err)
        per_rank = n_err.shape[0]
        added = 0
        for b, plan in enumerate(plans):  # sample b of every rank (upstream: batch 1 per rank)
            rows = range(b, n_all.shape[0], per_rank)
            times = [float(ts[i]) for i in rows]
            idx = list(rows)
            added += len(idx) * recycler.record_many(n_all[idx], c_all[idx], times, plan)
        return added
    return sum(
        recycler.record(n_err[b], c_err[b], float(timesteps[b]), plan)
        for b, plan in enumerate(plans)
    )
