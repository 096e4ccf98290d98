"""The tiny image-to-video model: diffusers' ``WanTransformer3DModel`` at toy size, pixel space.

Same code path as real Wan 2.1 I2V: the transformer sees ``cat([x_t, mask, y_latents])`` on the
channel axis, y = conditioning frames + padding, mask = 1 on frame 0 only (upstream SV:319-326:
only latent 0 is marked even when m = 5). The "latent" space is the RGB frame in [-1, 1] at a
small resolution (1 latent frame per video frame: no VAE, no temporal compression); there is no
text (a constant zero context of one token) and no CLIP image branch.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from svibench.atomic import atomic_write
from svibench.errors import ConfigError, MissingWeightsError
from svibench.models.flow import euler_step, shifted_sigmas

CHANNELS = 3
TEXT_DIM = 16
ASSETS = Path(__file__).resolve().parent.parent / "assets" / "tiny"


@dataclass(frozen=True)
class TinyConfig:
    """Architecture plus the data layout the model was trained on."""

    size: int = 32  # square frames
    frames: int = 17
    hidden: int = 64  # heads × 16
    layers: int = 2
    patch: int = 4
    motion_frames: int = 1  # m: film 5, shot 1
    ref_pad_num: int = -1  # 0 zeros, -1 reference image, k > 0: k reference copies then zeros

    def transformer_kwargs(self) -> dict[str, Any]:
        heads = max(1, self.hidden // 16)
        return dict(
            patch_size=(1, self.patch, self.patch),
            num_attention_heads=heads,
            attention_head_dim=16,
            in_channels=CHANNELS + 1 + CHANNELS,  # x_t, mask, y latents
            out_channels=CHANNELS,
            text_dim=TEXT_DIM,
            freq_dim=32,
            ffn_dim=4 * heads * 16,
            num_layers=self.layers,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            eps=1e-6,
            image_dim=None,
            rope_max_seq_len=256,
        )


def build_model(cfg: TinyConfig, seed: int = 0) -> torch.nn.Module:
    from diffusers import WanTransformer3DModel

    torch.manual_seed(seed)  # diffusers initialises from the global RNG
    return WanTransformer3DModel(**cfg.transformer_kwargs())


def context(batch: int, device: torch.device | str = "cpu") -> torch.Tensor:
    return torch.zeros(batch, 1, TEXT_DIM, device=device)


def forward(
    model: torch.nn.Module, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor, mask: torch.Tensor
):
    """Velocity for (B, C, F, H, W) inputs; ``y`` the conditioning latents, ``mask`` (B, 1, F, H, W)."""
    inp = torch.cat([x_t, mask.to(x_t), y.to(x_t)], dim=1)
    return model(
        inp, timestep=t, encoder_hidden_states=context(x_t.shape[0], x_t.device), return_dict=False
    )[0]


# ---------------------------------------------------------------- conditioning (train and inference)
def to_model(frames_uint8: np.ndarray, size: int) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float (3, T, size, size) in [-1, 1], bilinear resize when needed."""
    x = torch.from_numpy(np.ascontiguousarray(frames_uint8)).float().permute(3, 0, 1, 2) / 127.5 - 1
    if x.shape[-2:] != (size, size):
        x = torch.nn.functional.interpolate(
            x, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
    return x


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float (3, T, H, W) in [-1, 1] -> uint8 (T, H, W, 3) by truncation (upstream SV:366-370)."""
    img = ((x.clamp(-1, 1) + 1) * 127.5).permute(1, 2, 3, 0)
    return img.to(torch.uint8).cpu().numpy()


def condition(
    cond: torch.Tensor, pad: torch.Tensor | None, ref_pad_num: int, frames: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(y latents (3, F, H, W), mask (1, F, H, W)) from m conditioning frames (3, m, H, W).

    Padding after the m frames (upstream SV:328-349): 0 -> zeros; -1 -> ``pad`` repeated;
    k > 0 -> k copies of ``pad`` then zeros.
    """
    c, m, h, w = cond.shape
    y = torch.zeros(c, frames, h, w)
    y[:, :m] = cond[:, :frames]
    rest = frames - m
    copies = rest if ref_pad_num == -1 else min(max(ref_pad_num, 0), rest)
    if copies > 0:
        if pad is None:
            raise ValueError("ref_pad_num != 0 needs a padding image")
        y[:, m : m + copies] = pad[:, None]
    mask = torch.zeros(1, frames, h, w)
    mask[:, 0] = 1.0  # only frame 0 is marked (SV:319-323)
    return y, mask


@torch.no_grad()
def sample(
    model: torch.nn.Module,
    y: torch.Tensor,
    mask: torch.Tensor,
    seed: int,
    steps: int = 50,
    shift: float = 5.0,
) -> torch.Tensor:
    """Euler flow-matching sampling of one clip; noise from a seeded CPU generator in fp32 (SV:464)."""
    g = torch.Generator().manual_seed(int(seed) % (2**63))
    x = torch.randn((1, *y.shape), generator=g, dtype=torch.float32)
    sig = shifted_sigmas(steps, shift).tolist() + [0.0]
    yb, mb = y[None], mask[None]
    for i in range(steps):
        t = torch.tensor([sig[i] * 1000.0])
        v = forward(model, x, t, yb, mb)
        x = euler_step(x, v, sig[i], sig[i + 1])
    return x[0]


@torch.no_grad()
def sample_batch(
    model: torch.nn.Module,
    y: torch.Tensor,
    mask: torch.Tensor,
    seeds: list[int],
    steps: int = 50,
    shift: float = 5.0,
) -> torch.Tensor:
    """``sample`` for a batch (B, 3, F, H, W): sample b draws its noise from ``seeds[b]``."""
    noise = [
        torch.randn(y.shape[1:], generator=torch.Generator().manual_seed(int(s) % (2**63)))
        for s in seeds
    ]
    x = torch.stack(noise)
    sig = shifted_sigmas(steps, shift).tolist() + [0.0]
    for i in range(steps):
        t = torch.full((x.shape[0],), sig[i] * 1000.0)
        x = euler_step(x, forward(model, x, t, y, mask), sig[i], sig[i + 1])
    return x


# ---------------------------------------------------------------- checkpoints
def save_checkpoint(
    model: torch.nn.Module, cfg: TinyConfig, folder: Path, extra: dict[str, Any]
) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(folder / "model.safetensors", lambda tmp: save_file(state, str(tmp)))
    (folder / "config.json").write_text(
        json.dumps({"model": asdict(cfg), **extra}, indent=1, sort_keys=True)
    )


def resolve_checkpoint(path: str | Path) -> Path:
    """A folder path, or the name of a shipped checkpoint (``base``, ``svi``, ``control``)."""

    p = Path(path)
    if not p.is_dir() and (ASSETS / str(path)).is_dir():
        p = ASSETS / str(path)
    if not (p / "model.safetensors").is_file() or not (p / "config.json").is_file():
        shipped = sorted(d.name for d in ASSETS.iterdir() if d.is_dir()) if ASSETS.is_dir() else []
        raise MissingWeightsError(
            f"tiny checkpoint {path}: no model.safetensors + config.json there (shipped: {shipped}; "
            "rebuild with `python scripts/make_tiny_checkpoints.py`)"
        )
    return p


def read_config(path: str | Path) -> tuple[TinyConfig, dict[str, Any]]:
    """A checkpoint's architecture and data layout plus its whole config.json (no weights read)."""
    where = resolve_checkpoint(path) / "config.json"
    meta = json.loads(where.read_text())
    model = meta.get("model", {})
    unknown = sorted(set(model) - {f.name for f in fields(TinyConfig)})
    if unknown:
        hint = " (renamed motion_frames)" if unknown == ["num_motion_frames"] else ""
        raise ConfigError(f"{where}: model.{unknown[0]}: unknown key{hint}")
    return TinyConfig(**model), meta


def load_checkpoint(path: str | Path) -> tuple[torch.nn.Module, TinyConfig, dict[str, Any]]:
    from safetensors.torch import load_file

    folder = resolve_checkpoint(path)
    cfg, meta = read_config(folder)
    model = build_model(cfg)
    model.load_state_dict(load_file(str(folder / "model.safetensors")))
    return model.eval(), cfg, meta
