"""Synthetic generators with ground truth: the embedded tiny world, with or without known drift.

Clip k covers world time [k·(F−m), k·(F−m)+F) so consecutive clips overlap by the m motion
frames, like SVI's chaining; the first m frames of clip k are the stored last m frames of clip
k−1 (the continuation state). A drifting variant degrades frames with a severity equal to the
clip position (time / (F−m)), so drift grows linearly and is known exactly.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from svibench.generators.base import Generator, Session, State
from svibench.suite import Case, Protocol
from svibench.world import Degradation, World, degrade, to_uint8


class WorldSession(Session):
    def __init__(self, world: World, protocol: Protocol, drift: Degradation) -> None:
        self.world, self.protocol, self.drift = world, protocol, drift
        self.tail: np.ndarray | None = None  # last m frames of the previous clip
        self.clips_done = 0

    def next_clip(self, prompt: str, clip: int, seed: int) -> np.ndarray:
        p = self.protocol
        step = p.frames_per_clip - p.motion_frames
        rng = np.random.default_rng(seed)
        frames = []
        for i in range(p.frames_per_clip):
            t = clip * step + i
            img = degrade(self.world.frame_float(t), t / step, self.drift, rng)
            frames.append(to_uint8(img))
        out = np.stack(frames)
        if clip > 0 and p.motion_frames and self.tail is not None:
            out[: p.motion_frames] = self.tail  # continue exactly from the previous clip's tail
        self.tail = out[out.shape[0] - p.motion_frames :].copy() if p.motion_frames else None
        self.clips_done = clip + 1
        return out

    def state_dict(self) -> State:
        state: State = {"clips_done": self.clips_done}
        if self.tail is not None:
            state["tail"] = self.tail
        return state

    def load_state_dict(self, state: State) -> None:
        self.clips_done = int(state["clips_done"])
        self.tail = state.get("tail")


class WorldGenerator(Generator):
    """Renders the embedded tiny world, continuing from the case's reference image."""

    description = "embedded procedural world (sprites, camera pan) with a configurable, known drift"
    params = {
        "colour_drift": 0.0,  # mean colour shift per clip (0..1 units)
        "blur_drift": 0.0,  # Gaussian sigma (px) per clip
        "noise_drift": 0.0,  # noise std per clip (0..1 units)
        "texture_drift": 0.0,  # blend toward the mean colour per clip
        "sprites": 3,
        "pan_speed": 0.08,
        "sprite_speed": 1.2,
    }

    def start(self, case: Case, protocol: Protocol, reference: np.ndarray) -> Session:
        h, w = protocol.size_for(reference.shape[:2])
        kw: dict[str, Any] = {
            "height": h,
            "width": w,
            "sprites": int(self.config["sprites"]),
            "pan_speed": float(self.config["pan_speed"]),
            "sprite_speed": float(self.config["sprite_speed"]),
        }
        if case.image.startswith("world:"):
            world = World(seed=int(case.image.split(":", 1)[1]), **kw)
        else:  # any image: it becomes the background the camera pans over
            world = World(seed=zlib.crc32(case.id.encode()), background=reference, **kw)
        drift = Degradation(
            colour=float(self.config["colour_drift"]),
            blur=float(self.config["blur_drift"]),
            noise=float(self.config["noise_drift"]),
            texture=float(self.config["texture_drift"]),
        )
        return WorldSession(world, protocol, drift)


def ground_truth_clips(
    case: Case, protocol: Protocol, hw: tuple[int, int]
) -> Callable[[int], np.ndarray] | None:
    """Clip k as the drift-free ``tiny-world`` renders it, for ``world:<seed>`` cases; else None.

    The world is closed-form in time, so clip k is rendered directly (no chaining): frames at
    world times ``k (F - m) + i``, which is exactly what ``WorldSession`` produces without drift
    (its copied tail frames are the same instants).
    """
    if not case.image.startswith("world:"):
        return None
    d = WorldGenerator.params
    h, w = hw
    world = World(
        seed=int(case.image.split(":", 1)[1]),
        height=h,
        width=w,
        sprites=int(d["sprites"]),
        pan_speed=float(d["pan_speed"]),
        sprite_speed=float(d["sprite_speed"]),
    )
    step = protocol.frames_per_clip - protocol.motion_frames
    return lambda k: world.clip(float(k * step), protocol.frames_per_clip)
