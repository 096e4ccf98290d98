"""Error banks of SVI's error recycling: past model errors, binned by timestep.

Upstream train_svi.py (``latent_error_buffer`` / ``y_error_buffer``): one list per bin, the bins
being the 50 inference timesteps (``get_timesteps(50, shift=5)``) with nearest-centre binning
(``_get_timestep_grid``); at most K entries per bin (``error_buffer_k`` = 500). When a bin is
full a new error replaces a random entry, the oldest (fifo), or the entry nearest to it in L2
(``l2_batch``/``l2_similarity``). Sampling picks an entry uniformly within the bin and scales it
by a factor drawn uniformly from [1 − f, 1 + f] (``error_modulate_factor``, 0 by default).

Entries are stored detached on the CPU (optionally in a smaller dtype). The bank owns its RNG so
that a resumed run draws the same replacements and samples as an uninterrupted one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

STRATEGIES = ("random", "fifo", "l2")
_ALIASES = {"l2_batch": "l2", "l2_similarity": "l2"}  # upstream names; both replace the nearest


class ErrorBank:
    def __init__(
        self,
        centres: torch.Tensor | np.ndarray | list[float],
        capacity: int = 500,
        strategy: str = "random",
        modulate: float = 0.0,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        strategy = _ALIASES.get(strategy, strategy)
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy={strategy!r}: expected one of {STRATEGIES}")
        if capacity < 1:
            raise ValueError(f"capacity={capacity}: must be >= 1")
        if not 0.0 <= modulate <= 1.0:
            raise ValueError(f"modulate={modulate}: must be in [0, 1]")
        self.centres = torch.as_tensor(np.asarray(centres, dtype=np.float64)).double()
        self.capacity, self.strategy, self.modulate, self.dtype = (
            capacity,
            strategy,
            modulate,
            dtype,
        )
        self.bins: list[list[torch.Tensor]] = [[] for _ in range(len(self.centres))]
        self.rng = np.random.default_rng(seed)

    # ------------------------------------------------------------------ binning
    def bin_of(self, timestep: float | torch.Tensor) -> int:
        """Nearest bin centre; the timestep is clamped to [0, 999] first (train_svi.py)."""
        t = float(timestep.flatten()[0]) if isinstance(timestep, torch.Tensor) else float(timestep)
        t = min(max(t, 0.0), 999.0)
        return int(torch.argmin((self.centres - t).abs()))

    def __len__(self) -> int:
        return sum(len(b) for b in self.bins)

    def fill(self) -> float:
        """Fraction of the total capacity in use."""
        return len(self) / (self.capacity * len(self.bins))

    # ------------------------------------------------------------------ update / sample
    def add(self, error: torch.Tensor, timestep: float | torch.Tensor) -> int:
        """Store one error (one sample, no batch dim); returns its bin."""
        b = self.bin_of(timestep)
        entry = error.detach().to("cpu", self.dtype).contiguous()
        items = self.bins[b]
        if len(items) < self.capacity:
            items.append(entry)
        elif self.strategy == "random":
            items[int(self.rng.integers(len(items)))] = entry
        elif self.strategy == "fifo":
            items.pop(0)
            items.append(entry)
        else:  # l2: replace the most similar stored error (upstream l2_batch)
            flat = torch.stack(items).flatten(1).float()
            dist = torch.linalg.vector_norm(flat - entry.flatten().float(), dim=1)
            items[int(torch.argmin(dist))] = entry
        return b

    def sample(self, timestep: float | torch.Tensor) -> torch.Tensor | None:
        """A uniformly chosen entry of the timestep's bin times a modulation factor (None if empty)."""
        items = self.bins[self.bin_of(timestep)]
        if not items:
            return None
        chosen = items[int(self.rng.integers(len(items)))]
        scale = self.rng.uniform(1.0 - self.modulate, 1.0 + self.modulate)
        return chosen.float() * float(scale)

    def has(self, timestep: float | torch.Tensor) -> bool:
        return bool(self.bins[self.bin_of(timestep)])

    def sample_from_bins(self, bins: range) -> torch.Tensor | None:
        """One entry drawn uniformly from the union of ``bins`` (None if all are empty).

        train_svi.py:892-921 (``y_error_sample_from_all_grids`` / ``y_error_sample_range``):
        ``random.choice`` over all entries of those bins, so a fuller bin is drawn more often.
        """
        pool = [e for b in bins if 0 <= b < len(self.bins) for e in self.bins[b]]
        if not pool:
            return None
        chosen = pool[int(self.rng.integers(len(pool)))]
        scale = self.rng.uniform(1.0 - self.modulate, 1.0 + self.modulate)
        return chosen.float() * float(scale)

    def has_in(self, bins: range) -> bool:
        return any(self.bins[b] for b in bins if 0 <= b < len(self.bins))

    # ------------------------------------------------------------------ checkpointing
    def state_dict(self) -> dict[str, Any]:
        """Tensors per bin (in insertion order, so fifo resumes), settings and the RNG state."""
        return {
            "centres": self.centres.clone(),
            "capacity": self.capacity,
            "strategy": self.strategy,
            "modulate": self.modulate,
            "bins": [torch.stack(b) if b else None for b in self.bins],
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["bins"]) != len(self.bins) or not torch.allclose(
            state["centres"], self.centres
        ):
            raise ValueError("error bank state has different bin centres")
        self.capacity, self.strategy, self.modulate = (
            int(state["capacity"]),
            str(state["strategy"]),
            float(state["modulate"]),
        )
        self.bins = [[] if t is None else list(t.unbind(0)) for t in state["bins"]]
        self.rng.bit_generator.state = state["rng"]
