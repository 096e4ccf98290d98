"""The embedded tiny world: procedural videos with a known ground truth.

A textured static background (a canvas larger than the view), a camera that pans across it and
sprites (soft discs) that move and bounce. Everything is a closed-form function of the seed and
the frame time, so any frame can be re-rendered exactly; that gives the synthetic generators a
drift-free reference and the tiny SVI world its training data.

Degradations (colour shift, blur, noise, texture loss) are applied with a severity that grows
with time, which is how the drifting generators get a *known* drift.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _smooth_noise(rng: np.random.Generator, h: int, w: int, octaves: int = 4) -> np.ndarray:
    """Value noise in [0, 1]: sum of bilinearly upsampled random grids."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = 2 ** (o + 2)
        grid = rng.random((cells + 1, cells + 1), dtype=np.float32)
        ys = np.linspace(0, cells, h, dtype=np.float32)
        xs = np.linspace(0, cells, w, dtype=np.float32)
        y0 = np.minimum(ys.astype(int), cells - 1)
        x0 = np.minimum(xs.astype(int), cells - 1)
        fy = (ys - y0)[:, None]
        fx = (xs - x0)[None, :]
        g00 = grid[y0][:, x0]
        g01 = grid[y0][:, x0 + 1]
        g10 = grid[y0 + 1][:, x0]
        g11 = grid[y0 + 1][:, x0 + 1]
        out += amp * ((g00 * (1 - fx) + g01 * fx) * (1 - fy) + (g10 * (1 - fx) + g11 * fx) * fy)
        total += amp
        amp *= 0.55
    return out / total


def _bounce(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Reflect x into [lo, hi] (a triangle wave): motion that bounces off the walls."""
    span = hi - lo
    y = np.mod(x - lo, 2 * span)
    return lo + np.where(y > span, 2 * span - y, y)


@dataclass(frozen=True)
class Degradation:
    """Per-unit-severity strengths of the known drift."""

    colour: float = 0.0  # mean shift in [0, 1] units per unit severity
    blur: float = 0.0  # Gaussian sigma in pixels per unit severity
    noise: float = 0.0  # noise std in [0, 1] units per unit severity
    texture: float = 0.0  # blend toward the frame mean per unit severity (0..1)

    @property
    def active(self) -> bool:
        return any((self.colour, self.blur, self.noise, self.texture))


def gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 1e-3:
        return img
    radius = max(1, int(3 * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float32)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    k /= k.sum()
    pad = np.pad(img, ((radius, radius), (radius, radius), (0, 0)), mode="reflect")
    tmp = sum(k[i] * pad[i : i + img.shape[0]] for i in range(len(k)))
    return sum(k[i] * tmp[:, i : i + img.shape[1]] for i in range(len(k)))


def degrade(
    frame: np.ndarray, severity: float, d: Degradation, rng: np.random.Generator
) -> np.ndarray:
    """Apply the drift model to a float frame in [0, 1] (H, W, 3)."""
    if severity <= 0 or not d.active:
        return frame
    out = gaussian_blur(frame, d.blur * severity)
    if d.texture:
        t = min(1.0, d.texture * severity)
        out = (1 - t) * out + t * out.mean(axis=(0, 1), keepdims=True)
    if d.colour:
        out = out + d.colour * severity * np.array([1.0, -0.5, 0.3], np.float32)
    if d.noise:
        out = out + rng.normal(0, d.noise * severity, out.shape).astype(np.float32)
    return out


class World:
    """A seeded scene. ``frame(t)`` renders frame time ``t`` (float, in frames) as uint8 H×W×3."""

    def __init__(
        self,
        seed: int,
        height: int = 64,
        width: int = 64,
        sprites: int = 3,
        background: np.ndarray | None = None,
        pan_speed: float = 0.35,
        sprite_speed: float = 1.2,
    ) -> None:
        self.seed, self.height, self.width = seed, height, width
        rng = np.random.default_rng(seed)
        ch, cw = int(height * 1.5), int(width * 1.5)
        if background is None:
            base = rng.random(3, dtype=np.float32) * 0.6 + 0.2
            tex = np.stack([_smooth_noise(rng, ch, cw) for _ in range(3)], axis=-1)
            stripes = 0.5 + 0.5 * np.sin(np.arange(cw, dtype=np.float32) / (3 + 5 * rng.random()))
            canvas = 0.55 * base + 0.35 * tex + 0.1 * stripes[None, :, None]
        else:
            # A user's reference image becomes the canvas (reflect-padded around the view).
            from PIL import Image

            img = Image.fromarray(background).resize((width, height), Image.BICUBIC)
            view = np.asarray(img, np.float32) / 255.0
            py, px = (ch - height) // 2, (cw - width) // 2
            canvas = np.pad(
                view, ((py, ch - height - py), (px, cw - width - px), (0, 0)), mode="reflect"
            )
        self.canvas = np.clip(canvas, 0, 1).astype(np.float32)
        self.origin = np.array([(ch - height) / 2, (cw - width) / 2], np.float32)
        angle = rng.random() * 2 * np.pi
        self.pan = pan_speed * np.array([np.sin(angle), np.cos(angle)], np.float32)
        self.sprite_pos = rng.random((sprites, 2)).astype(np.float32) * [height, width]
        self.sprite_vel = (rng.random((sprites, 2)).astype(np.float32) - 0.5) * 2 * sprite_speed
        self.sprite_rgb = rng.random((sprites, 3)).astype(np.float32)
        self.sprite_r = (0.08 + 0.06 * rng.random(sprites)).astype(np.float32) * min(height, width)
        self._yy, self._xx = np.mgrid[0:height, 0:width].astype(np.float32)

    def frame_float(self, t: float) -> np.ndarray:
        """Frame at time t as float32 in [0, 1]."""
        ch, cw = self.canvas.shape[:2]
        oy, ox = _bounce(
            self.origin + self.pan * t, np.zeros(2), np.array([ch - self.height, cw - self.width])
        )
        iy, ix = int(oy), int(ox)
        fy, fx = oy - iy, ox - ix  # sub-pixel camera: bilinear between neighbouring crops
        iy2, ix2 = min(iy + 1, ch - self.height), min(ix + 1, cw - self.width)
        c = self.canvas
        h, w = self.height, self.width
        img = (
            (1 - fy) * (1 - fx) * c[iy : iy + h, ix : ix + w]
            + (1 - fy) * fx * c[iy : iy + h, ix2 : ix2 + w]
            + fy * (1 - fx) * c[iy2 : iy2 + h, ix : ix + w]
            + fy * fx * c[iy2 : iy2 + h, ix2 : ix2 + w]
        )
        pos = _bounce(self.sprite_pos + self.sprite_vel * t, np.zeros(2), np.array([h - 1, w - 1]))
        for (py, px), rgb, r in zip(pos, self.sprite_rgb, self.sprite_r, strict=True):
            d2 = (self._yy - py) ** 2 + (self._xx - px) ** 2
            alpha = np.clip(r - np.sqrt(d2) + 0.5, 0, 1)[..., None]  # anti-aliased disc
            img = (1 - alpha) * img + alpha * rgb
        return img.astype(np.float32)

    def frame(self, t: float) -> np.ndarray:
        return to_uint8(self.frame_float(t))

    def reference(self) -> np.ndarray:
        return self.frame(0.0)

    def clip(self, start: float, frames: int) -> np.ndarray:
        return np.stack([self.frame(start + i) for i in range(frames)])


def to_uint8(img: np.ndarray) -> np.ndarray:
    """[0, 1] float -> uint8 by rounding (clipped)."""
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
