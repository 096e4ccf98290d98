"""SVI's per-step error injection and bank updates, shared by every trainer.

Upstream train_svi.py ``training_step``: four coin flips per step (noise, y, latent, clean, in
that order). With ``clean_prob`` all injections are off for the step. Otherwise

* noise:  ε̃ = ε + e, e from the noise bank (``_sample_noise_error_from_noise_buffer``),
* y:      the first ``y_error_num`` conditioning latents get a ``y_error_num``-frame window of a
  clean-end error (``_sample_y_error_from_latent_buffer``, random window start),
* latent: x̃0 = x0 + e, e from the y (clean-end) bank, but only if the *noise* bank has data for
  the bin (upstream tests ``has_latent_buffer_data`` for both noise and latent injection).

The model sees x_t = (1 − σ)x̃0 + σε̃ and learns the target ε̃ − x0 (clean x0). Both banks are
then updated with the step's bidirectional errors; on clean steps only with probability
``clean_buffer_update_prob`` (the 10-21 fix; 1.0 reproduces the earlier behaviour).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch

from svibench.train.base import Param
from svibench.train.error_bank import ErrorBank
from svibench.train.flow import FlowMatch, bidirectional_errors, timesteps_for

# Trainer parameters every recycling trainer exposes (upstream flag names and defaults, §6).
RECYCLING_PARAMS: dict[str, Param] = {
    "use_error_recycling": Param(True, help="False = same-budget clean fine-tune (the control)"),
    "noise_prob": Param(0.9, 0.0, 1.0, help="P(inject a noise-bank error into ε)"),
    "y_prob": Param(
        0.9, 0.0, 1.0, help="P(inject a clean-end error into the conditioning latents y)"
    ),
    "latent_prob": Param(0.9, 0.0, 1.0, help="P(inject a clean-end error into x0)"),
    "clean_prob": Param(0.1, 0.0, 1.0, help="P(error-free step); film scripts 0.5, others 0.2"),
    "clean_buffer_update_prob": Param(
        0.1, 0.0, 1.0, help="P(bank update on an error-free step); 0.1 optimised SVI, 1.0 before"
    ),
    "y_error_num": Param(3, 1, 64, help="conditioning latents that receive a y error"),
    "error_buffer_k": Param(500, 1, 100000, help="entries per timestep bin"),
    "num_grids": Param(50, 1, 1000, help="timestep bins (the inference timesteps)"),
    "buffer_replacement_strategy": Param("l2", choices=("random", "fifo", "l2")),
    "error_modulate_factor": Param(0.0, 0.0, 1.0, help="errors scaled by U[1-f, 1+f]"),
}


@dataclass
class RecyclingConfig:
    use_error_recycling: bool = True
    noise_prob: float = 0.9
    y_prob: float = 0.9
    latent_prob: float = 0.9
    clean_prob: float = 0.1
    clean_buffer_update_prob: float = 0.1
    y_error_num: int = 3
    error_buffer_k: int = 500
    num_grids: int = 50
    buffer_replacement_strategy: str = "l2"
    error_modulate_factor: float = 0.0

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RecyclingConfig:
        return cls(**{f.name: config[f.name] for f in fields(cls) if f.name in config})


@dataclass(frozen=True)
class Plan:
    noise: bool
    y: bool
    latent: bool
    clean: bool


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

    def plan(self) -> Plan:
        c = self.cfg
        if not c.use_error_recycling:
            return Plan(False, False, False, True)
        noise, y, latent, clean = self.rng.random(4)  # same order as upstream
        if clean < c.clean_prob:
            return Plan(False, False, False, True)
        return Plan(noise < c.noise_prob, y < c.y_prob, latent < c.latent_prob, False)

    def inject(
        self,
        x0: torch.Tensor,
        noise: torch.Tensor,
        y_latent: torch.Tensor,
        timestep: float,
        plan: Plan,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Corrupt one sample's (x0, ε, y latents), each (C, F, H, W); returns new tensors."""
        has_noise = self.noise_bank.has(timestep)
        if plan.noise and has_noise:
            noise = noise + self.noise_bank.sample(timestep).to(noise)
        if plan.y and self.y_bank.has(timestep):
            err = self.y_bank.sample(timestep).to(y_latent)
            n = min(self.cfg.y_error_num, y_latent.shape[1], err.shape[1])
            start = int(self.rng.integers(0, max(0, err.shape[1] - n) + 1))  # random window
            y_latent = y_latent.clone()
            y_latent[:, :n] += err[:, start : start + n]
        if plan.latent and has_noise and self.y_bank.has(timestep):
            x0 = x0 + self.y_bank.sample(timestep).to(x0)
        return x0, noise, y_latent

    def record(
        self, noise_error: torch.Tensor, clean_error: torch.Tensor, timestep: float, plan: Plan
    ) -> bool:
        """Bank update after the step; returns whether it happened."""
        if not self.cfg.use_error_recycling:
            return False
        if plan.clean and self.rng.random() >= self.cfg.clean_buffer_update_prob:
            return False
        self.noise_bank.add(noise_error, timestep)
        self.y_bank.add(clean_error, timestep)
        return True

    def state_dict(self) -> dict[str, Any]:
        return {
            "config": asdict(self.cfg),
            "noise_bank": self.noise_bank.state_dict(),
            "y_bank": self.y_bank.state_dict(),
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.noise_bank.load_state_dict(state["noise_bank"])
        self.y_bank.load_state_dict(state["y_bank"])
        self.rng.bit_generator.state = state["rng"]


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
) -> tuple[torch.Tensor, dict[str, float]]:
    """One SVI training step on a batch; returns the weighted loss and stats.

    Each sample draws its own timestep and coin flips (upstream: batch 1 per GPU).
    """
    batch = x0.shape[0]
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
        for b in range(batch):
            updated += recycler.record(n_err[b], c_err[b], float(timesteps[b]), plans[b])
    stats = {
        "loss": float(loss.detach()),
        "injected": float(sum(not p.clean for p in plans)) / batch,
        "bank_updates": float(updated),
    }
    return loss, stats
