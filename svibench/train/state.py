"""A trainer's exact-resume state: one file per (run, rank) holding the trained weights, the
optimizer, the error-recycling banks and both RNG streams, written atomically at each save and
read back so that a killed run continues bit for bit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from svibench.atomic import atomic_write


def save_train_state(
    path: Path,
    weights_key: str,
    weights: dict[str, torch.Tensor],
    opt: torch.optim.Optimizer,
    recycler: Any,
    gen: torch.Generator,
    data_rng: np.random.Generator,
    step: int,
    history: list[float],
) -> None:
    state = {
        weights_key: weights,
        "optimizer": opt.state_dict(),
        "recycler": recycler.state_dict(),
        "torch_rng": gen.get_state(),
        "data_rng": data_rng.bit_generator.state,
        "step": step,
        "history": history,
    }
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_train_state(
    path: Path,
    weights_key: str,
    opt: torch.optim.Optimizer,
    recycler: Any,
    gen: torch.Generator,
    data_rng: np.random.Generator,
) -> tuple[dict[str, torch.Tensor], int, list[float]]:
    """Restore optimizer, banks and RNGs in place; return (weights, step, history)."""
    # our own file (optimizer state and RNG objects are not plain tensors)
    st = torch.load(path, map_location="cpu", weights_only=False)
    opt.load_state_dict(st["optimizer"])
    recycler.load_state_dict(st["recycler"])
    gen.set_state(st["torch_rng"])
    data_rng.bit_generator.state = st["data_rng"]
    return st[weights_key], int(st["step"]), list(st["history"])
