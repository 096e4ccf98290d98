"""``tiny-model``: a tiny trained I2V checkpoint, chained clip by clip exactly like SVI.

Clip 0 is conditioned on the reference image alone; clip k > 0 on the last m frames of clip
k − 1 as uint8 frames (upstream TS:378-382, 472: decoded, truncated to uint8, re-encoded); the
padding follows ``ref_pad_num`` (-1: the original reference image every clip, TS:385; 0: zeros).
m and the padding are the checkpoint's (what it was trained with, like upstream's test scripts
repeat the training script's values), not the suite's; ``motion_frames`` / ``ref_pad_num``
override them. Each clip uses the runner's seed. The model runs at its trained square size;
outputs are resized to the protocol's size, conditioning stays at model resolution.

``teacher_forced = true`` conditions clip k > 0 on the ground truth instead of the model's own
output (``world:<seed>`` cases: the training world, svibench.exposure.world_truth): the input of
the exposure-gap measure.

svibench.toml::

    [generators.tiny-svi]
    kind = "tiny-model"
    checkpoint = "svi"        # shipped name (base | svi | control | film-base) or a folder
"""

from __future__ import annotations

from typing import Any

import numpy as np

from svibench.errors import ConfigError
from svibench.exposure import world_truth
from svibench.generators.base import Generator, Session, State
from svibench.suite import Case, Protocol


class TinyModelSession(Session):
    def __init__(self, gen: TinyModelGenerator, protocol: Protocol, reference: np.ndarray) -> None:
        # models.tiny (here and below) imports torch: only once a tiny model is used
        from svibench.models.tiny import to_model

        self.gen, self.protocol = gen, protocol
        self.size = protocol.size_for(reference.shape[:2])
        self.ref = to_model(reference[None], gen.cfg.size)[:, 0]  # (3, s, s), the padding image
        self.motion_frames = gen.motion_frames
        self.prev: np.ndarray | None = None  # last m frames of the previous clip, uint8 model size
        self.truth = None  # clip k -> ground-truth frames, when teacher-forced

    def condition_on(self, frames: np.ndarray) -> None:
        """Make the next clip continue from these frames (uint8 (T, H, W, 3); last m used)."""
        self.prev = np.ascontiguousarray(frames[-self.motion_frames :])

    def next_clip(self, prompt: str, clip: int, seed: int) -> np.ndarray:
        import torch

        from svibench.models.tiny import condition, sample, to_model, to_uint8

        g = self.gen
        if self.truth is not None and clip > 0:
            self.condition_on(self.truth(clip - 1))  # teacher forcing: the true previous tail
        if self.prev is None:
            cond = self.ref[:, None]  # clip 0: the reference image alone
        else:
            cond = to_model(self.prev, g.cfg.size)
        y, mask = condition(cond, self.ref, g.ref_pad_num, self.protocol.frames_per_clip)
        with torch.inference_mode():
            x = sample(g.model(), y, mask, seed, steps=g.config["steps"], shift=g.config["shift"])
        frames = to_uint8(x)
        self.prev = frames[-self.motion_frames :].copy()
        return _resize(frames, self.size)

    def state_dict(self) -> State:
        return {} if self.prev is None else {"prev": self.prev.copy()}

    def load_state_dict(self, state: State) -> None:
        self.prev = np.asarray(state["prev"], np.uint8).copy() if "prev" in state else None


class TinyModelGenerator(Generator):
    params = {
        "checkpoint": "svi",
        "steps": 50,
        "shift": 5.0,
        "ref_pad_num": None,
        "motion_frames": None,
        "teacher_forced": False,
        "threads": 0,
    }
    description = "tiny WanTransformer3DModel I2V checkpoint (tiny world), chained like SVI"

    runtime_params = frozenset({"threads"})  # CPU threads: speed, not the numbers

    def __init__(self, name: str, device: str = "cpu", **params: Any) -> None:
        super().__init__(name, device, **params)
        import torch  # models.tiny needs it: only when a tiny model is used

        from svibench.models.tiny import read_config

        if not isinstance(self.config["steps"], int) or self.config["steps"] < 1:
            raise ConfigError(f"[generators.{name}].steps: a positive integer is required")
        if self.config["threads"]:
            torch.set_num_threads(int(self.config["threads"]))
        # config.json only: the weights load on first use (constructing a generator is cheap)
        self.cfg, self.meta = read_config(self.config["checkpoint"])
        self._model = None
        # m and the padding: the checkpoint's (what it was trained with) unless set here
        rpn, m = self.config["ref_pad_num"], self.config["motion_frames"]
        self.ref_pad_num = self.cfg.ref_pad_num if rpn is None else int(rpn)
        self.motion_frames = self.cfg.motion_frames if m is None else int(m)

    def model(self):
        """The loaded model (toy-sized: always on the CPU, deterministic and faster there)."""
        if self._model is None:
            from svibench.models.tiny import load_checkpoint

            self._model = load_checkpoint(self.config["checkpoint"])[0]
        return self._model

    def start(self, case: Case, protocol: Protocol, reference: np.ndarray) -> Session:
        self.model()  # load now: bad weights fail before any clip is made
        session = TinyModelSession(self, protocol, reference)
        if self.config["teacher_forced"]:
            session.truth = world_truth(case, protocol, self.motion_frames, (self.cfg.size,) * 2)
            if session.truth is None:
                raise ConfigError(
                    f"[generators.{self.name}].teacher_forced: case '{case.id}' has no ground "
                    "truth (only world:<seed> cases have)"
                )
        return session

    def identity(self) -> dict[str, Any]:
        import hashlib

        from svibench.models.tiny import resolve_checkpoint

        weights = resolve_checkpoint(self.config["checkpoint"]) / "model.safetensors"
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
        ident = super().identity()
        if not ident["teacher_forced"]:  # the chained default: identities from before it stay
            del ident["teacher_forced"]
        return {
            **ident,
            "checkpoint": str(self.config["checkpoint"]),
            "motion_frames": self.motion_frames,  # effective: the checkpoint's unless set
            "ref_pad_num": self.ref_pad_num,
            "weights_sha256": digest,
        }

    def close(self) -> None:
        self._model = None


def _resize(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if frames.shape[1:3] == tuple(size):
        return np.ascontiguousarray(frames)
    from PIL import Image

    h, w = size
    return np.stack([np.asarray(Image.fromarray(f).resize((w, h), Image.BILINEAR)) for f in frames])
