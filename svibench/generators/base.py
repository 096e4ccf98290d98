"""The generator contract.

A ``Generator`` is built once per run from its ``svibench.toml`` parameters and opens one
``Session`` per case. ``Session.next_clip`` returns the next clip's frames as uint8
``(T, H, W, 3)``. ``state_dict``/``load_state_dict`` hold everything needed to continue the
video exactly (conditioning frames, latents, RNG state), so a killed run resumes with the
same numbers. States are flat dicts of numpy arrays and JSON-able scalars/strings.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from svibench.errors import ConfigError, GeneratorOutputError
from svibench.suite import Case, PromptSchedule, Protocol

State = dict[str, Any]
SCHEDULE_KEYS = ("prompt_schedule", "clip_count")


class Session(ABC):
    """Generation state of one case (one long video).

    ``motion_frames`` is m, the frames at the start of each clip k > 0 that continue the
    previous clip's last m frames: the session is its one owner (the runner stitches with it,
    scores seams with it, records it with every clip, and the report's time axis follows it).
    ``None`` (the default): the session follows the suite protocol's ``motion_frames``.
    """

    motion_frames: int | None = None

    @abstractmethod
    def next_clip(self, prompt: str, clip: int, seed: int) -> np.ndarray:
        """Frames of clip ``clip`` (uint8, T×H×W×3, T = protocol.frames_per_clip)."""

    def state_dict(self) -> State:
        """What the session needs to continue after the clip just returned."""
        return {}

    def load_state_dict(self, state: State) -> None:
        """Restore a state produced by ``state_dict`` (on a fresh session of the same case)."""

    def decoded_frames(self) -> dict[str, np.ndarray] | None:
        """Sessions that read video files (replay): the last clip's frames as each of VBench's
        readers decodes the file (svibench.video.READERS). None: the clip is what it is."""
        return None

    def close(self) -> None:
        """Release per-case resources."""


class Generator(ABC):
    """Base class. Subclasses declare ``params`` (name -> default) that svibench.toml may set."""

    params: ClassVar[dict[str, Any]] = {}
    description: ClassVar[str] = ""
    # Prompt schedule and clip-count rule (svibench.suite.PromptSchedule); every generator
    # accepts the keys ``prompt_schedule`` and ``clip_count`` in svibench.toml.
    prompt_schedule: ClassVar[str] = "cycle"
    clip_count: ClassVar[str] = "suite"
    # Parameters that change where or how fast it runs, not the frames (left out of identity()).
    runtime_params: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, name: str, device: str = "cpu", **params: Any) -> None:
        self.schedule = type(self).schedule_for(name, params)
        params = {k: v for k, v in params.items() if k not in SCHEDULE_KEYS}
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise ConfigError(
                f"[generators.{name}]: unknown parameter '{unknown[0]}' for {type(self).__name__} "
                f"(allowed: {', '.join(sorted(self.params)) or 'none'})"
            )
        self.name = name
        self.device = device
        self.config = {**self.params, **params}

    @classmethod
    def default_schedule(cls, params: dict[str, Any]) -> str:
        """The prompt schedule when svibench.toml sets none (SVI: per variant)."""
        return cls.prompt_schedule

    @classmethod
    def schedule_for(cls, name: str, table: dict[str, Any]) -> PromptSchedule:
        """The schedule a generator built from ``table`` (its svibench.toml keys) uses."""
        return PromptSchedule.parse(
            table.get("prompt_schedule") or cls.default_schedule(table),
            table.get("clip_count") or cls.clip_count,
            f"[generators.{name}].prompt_schedule / clip_count",
        )

    def prompt(self, case: Case, clip: int) -> str:
        return self.schedule.prompt(case.prompts, clip)

    def num_clips(self, case: Case, protocol: Protocol) -> int:
        return self.schedule.num_clips(len(case.prompts), protocol.clips)

    @abstractmethod
    def start(self, case: Case, protocol: Protocol, reference: np.ndarray) -> Session:
        """Open a session for ``case``; ``reference`` is the case image (uint8 H×W×3, native size)."""

    def identity(self) -> dict[str, Any]:
        """What makes this generator's output what it is: the run manifest records it and a
        resume compares it. Class, every parameter with its effective default, the prompt
        schedule where it is not the original rule; no ``runtime_params``. Cheap: it must not
        load weights (subclasses may hash weight files)."""
        config = {k: v for k, v in self.config.items() if k not in self.runtime_params}
        return {
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            **config,
            **self.schedule.changed_identity(),
        }

    def close(self) -> None:
        """Release models."""


def session_motion_frames(session: Session, protocol: Protocol) -> int:
    """The m a session uses: its own ``motion_frames``, else the protocol's (the one rule)."""
    m = session.motion_frames
    return protocol.motion_frames if m is None else int(m)


def check_frames(frames: Any, protocol: Protocol, size: tuple[int, int], where: str) -> np.ndarray:
    """Validate a clip from a generator: dtype, shape, finiteness. Raises GeneratorOutputError."""
    if not isinstance(frames, np.ndarray):
        raise GeneratorOutputError(f"{where}: expected a numpy array, got {type(frames).__name__}")
    if frames.dtype != np.uint8:
        if np.issubdtype(frames.dtype, np.floating) and not np.isfinite(frames).all():
            raise GeneratorOutputError(f"{where}: frames contain NaN or inf")
        raise GeneratorOutputError(f"{where}: frames must be uint8, got {frames.dtype}")
    expected = (protocol.frames_per_clip, size[0], size[1], 3)
    if frames.shape != expected:
        raise GeneratorOutputError(
            f"{where}: frames have shape {tuple(frames.shape)}, expected {expected} (T, H, W, 3)"
        )
    return np.ascontiguousarray(frames)
