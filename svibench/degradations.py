"""Known, graded degradations for validating drift measures (bench/metric_validity.py).

Each degradation maps a clean float frame in [0, 1] (H, W, 3) and a strength ``s`` in [0, 1] to
a degraded frame; ``s = 0`` returns the frame unchanged (bit for bit) and the visible effect grows
monotonically with ``s``. The validity bench applies strength ``level / LEVELS * k / (K - 1)`` to
clip k of K, so every degraded video starts clean and degrades steadily, like a drifting
generator. ``frozen`` acts on time instead of pixels (see ``time_warp``); ``swap`` blends toward
a second scene supplied by the caller.

Maximum strengths (``s = 1``) are chosen to be clearly visible at 64x64, not tuned to any metric.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from svibench.world import gaussian_blur

# Colour cast direction (RGB), the same as the tiny world's known drift.
CAST = np.array([1.0, -0.5, 0.3], np.float32)
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)

MAX_COLOUR = 0.12  # mean shift along CAST, 0..1 units
MAX_SATURATION = 1.0  # chroma gain - 1
MAX_CONTRAST = 0.8  # luma contrast gain - 1 (about the frame mean)
MAX_BLUR = 1.6  # Gaussian sigma, pixels
MAX_NOISE = 0.06  # i.i.d. Gaussian std, 0..1 units
MAX_TEXTURE = 0.7  # blend toward a heavily blurred (flat) version
MAX_FLICKER = 0.10  # per-frame brightness jitter amplitude, 0..1 units
MAX_SWAP = 0.7  # blend weight toward another scene
MAX_FREEZE = 0.9  # fraction of the clip's motion removed

PIXEL = ("colour", "saturation", "contrast", "blur", "noise", "texture", "flicker")
DEGRADATIONS = (*PIXEL, "frozen", "swap")


def _colour(f: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    return f + MAX_COLOUR * s * CAST


def _saturation(f: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    grey = (f @ _LUMA)[..., None]
    return grey + (1.0 + MAX_SATURATION * s) * (f - grey)


def _contrast(f: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    mean = f.mean(axis=(0, 1), keepdims=True)
    return mean + (1.0 + MAX_CONTRAST * s) * (f - mean)


def _blur(f: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    return gaussian_blur(f, MAX_BLUR * s)


def _noise(f: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    return f + rng.normal(0.0, MAX_NOISE * s, f.shape).astype(np.float32)


def _texture(f: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    flat = gaussian_blur(f, 4.0)  # keeps the layout (no colour/identity change), drops the detail
    t = MAX_TEXTURE * s
    return (1.0 - t) * f + t * flat


def _flicker(f: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    return f + MAX_FLICKER * s * rng.uniform(-1.0, 1.0)  # one random brightness offset per frame


_PIXEL_FNS: dict[str, Callable[[np.ndarray, float, np.random.Generator], np.ndarray]] = {
    "colour": _colour,
    "saturation": _saturation,
    "contrast": _contrast,
    "blur": _blur,
    "noise": _noise,
    "texture": _texture,
    "flicker": _flicker,
}


def apply(
    name: str,
    frame: np.ndarray,
    strength: float,
    rng: np.random.Generator,
    other: np.ndarray | None = None,
) -> np.ndarray:
    """Degrade one float frame; strength 0 returns ``frame`` itself. Output is not clipped.

    ``swap`` needs ``other`` (the same instant of a different scene); ``frozen`` is a time warp
    and leaves pixels alone here.
    """
    if name not in DEGRADATIONS:
        raise ValueError(f"unknown degradation {name!r} (known: {', '.join(DEGRADATIONS)})")
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength: expected 0..1, got {strength}")
    if strength == 0.0 or name == "frozen":
        return frame
    if name == "swap":
        if other is None:
            raise ValueError("swap: needs the other scene's frame")
        w = MAX_SWAP * strength
        return (1.0 - w) * frame + w * other
    return _PIXEL_FNS[name](frame, strength, rng).astype(np.float32)


def time_warp(name: str, start: float, frames: int, strength: float) -> np.ndarray:
    """Scene times of one clip's frames: ``start + i``, or slowed toward a still for ``frozen``."""
    i = np.arange(frames, dtype=np.float64)
    if name == "frozen":
        return start + i * (1.0 - MAX_FREEZE * strength)
    return start + i


def clip_strength(level: int, levels: int, clip: int, clips: int) -> float:
    """Strength of clip ``clip`` of ``clips`` at ``level`` of ``levels``: 0 on clip 0 and level 0,
    growing linearly to ``level / levels`` on the last clip."""
    if clips < 2:
        return 0.0
    return (level / levels) * (clip / (clips - 1))
