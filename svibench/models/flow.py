"""Flow matching with a shifted sigma schedule, as in SVI's DiffSynth scheduler.

Upstream ``diffsynth/schedulers/flow_match.py`` (Wan: shift 5, sigma_min 0, extra_one_step):
sigmas = linspace(1, 0, n + 1)[:-1], shifted s' = shift·s / (1 + (shift − 1)·s), timestep =
1000·s'. Training uses the same grid with n = 1000 and weights each timestep by a Gaussian bump
(``set_timesteps(training=True)``). Noising is x_t = (1 − σ)·x0 + σ·ε and the target is the
velocity v* = ε − x0.
"""

from __future__ import annotations

import torch

NUM_TRAIN_TIMESTEPS = 1000


def shifted_sigmas(steps: int, shift: float = 5.0) -> torch.Tensor:
    """The ``steps`` sigmas of an Euler run, from 1 down (the final 0 is implicit)."""
    s = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)[
        :-1
    ]  # flow_match.py:38 extra_one_step
    return (shift * s / (1 + (shift - 1) * s)).float()  # flow_match.py:43


def timesteps_for(steps: int, shift: float = 5.0) -> torch.Tensor:
    """Model timesteps (0..1000) of a ``steps``-step run; the error-bank bin centres for 50."""
    return shifted_sigmas(steps, shift) * NUM_TRAIN_TIMESTEPS


class FlowMatch:
    """Training-side schedule: 1000 shifted timesteps with their Gaussian-bump weights."""

    def __init__(self, shift: float = 5.0) -> None:
        self.shift = shift
        self.sigmas = shifted_sigmas(NUM_TRAIN_TIMESTEPS, shift)
        self.timesteps = self.sigmas * NUM_TRAIN_TIMESTEPS
        # flow_match.py:47-51: y = exp(-2((t - n/2)/n)^2), shifted to min 0, normalised to mean 1
        n = NUM_TRAIN_TIMESTEPS
        bump = torch.exp(-2 * ((self.timesteps.double() - n / 2) / n) ** 2)
        bump = bump - bump.min()
        self.weights = (bump * (n / bump.sum())).float()

    def sample_index(self, generator: torch.Generator, batch: int) -> torch.Tensor:
        """Uniform timestep ids (train_svi.py: randint(0, num_train_timesteps))."""
        return torch.randint(0, NUM_TRAIN_TIMESTEPS, (batch,), generator=generator)

    @staticmethod
    def add_noise(x0: torch.Tensor, noise: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """x_t = (1 − σ)·x0 + σ·ε (flow_match.py add_noise); ``sigma`` broadcasts per sample."""
        s = _bcast(sigma, x0)
        return (1 - s) * x0 + s * noise

    @staticmethod
    def target(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """v* = ε − x0 (flow_match.py training_target); SVI passes the *clean* x0 here."""
        return noise - x0


def bidirectional_errors(
    v_pred: torch.Tensor, v_target: torch.Tensor, sigma: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One-step integration errors to both ends of the path (train_svi.py training_step).

    Noise end (σ → 1): x_t + (1 − σ)·v̂ vs the same with v*, error (1 − σ)(v̂ − v*).
    Clean end (σ → 0): x_t − σ·v̂ vs the same with v*, error σ(v* − v̂).
    Returns (noise_error, clean_error); the first feeds the noise bank, the second the y bank.
    """
    s = _bcast(sigma, v_pred)
    diff = v_pred - v_target
    return (1 - s) * diff, -s * diff


def euler_step(x: torch.Tensor, v: torch.Tensor, sigma: float, sigma_next: float) -> torch.Tensor:
    """x_{next} = x + v·(σ_next − σ) (flow_match.py step)."""
    return x + v * (sigma_next - sigma)


def _bcast(sigma: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    sigma = torch.as_tensor(sigma, dtype=like.dtype, device=like.device)
    return sigma.reshape(-1, *([1] * (like.dim() - 1))) if sigma.dim() else sigma
