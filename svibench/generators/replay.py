"""Replay: score videos generated elsewhere.

Two layouts under ``root``:

* ``per_clip``: one file per clip, found with ``pattern`` (default
  ``{case}/clip_{clip:03d}.mp4``; ``{seed}`` is also available; ``.npy`` arrays work too).
  Each file must hold exactly ``protocol.frames_per_clip`` frames.
* ``per_case``: one stitched long video per case, found with ``case_pattern`` (default
  ``{case}.mp4``). Upstream SVI stitches N clips of F frames by dropping the last m motion frames
  of every clip but the last (test_svi.py:472-476), so the video holds ``N*(F-m)+m`` frames and
  clip k is frames ``[k*(F-m), k*(F-m)+F)``. Frames are decoded as a stream: memory holds one
  clip plus m frames, whatever the video's length.

Sizes must match the protocol size of the case (``Protocol.size_for``) unless ``resize = true``.
Sessions hold no state beyond the clip index, so resume re-reads from the files.

Frames are decoded once and converted as each of VBench's readers converts them
(svibench.video.READERS): the clip's ``frames`` are decord's, and the runner hands the
metrics that VBench reads with cv2 their own frames where the two differ
(``Session.decoded_frames``). The frame rate comes from each file: it must equal the suite's
(``protocol.saved_fps`` where the protocol has one, else ``protocol.fps``), which is the fps
every fps-dependent dimension uses (dynamic_degree's stride), or the replay stops with exit 2.
``resample_fps = true`` (per_clip only) instead picks, for frame i at the suite's rate R, the
file's frame round(i * r / R) at its rate r (nearest frame in time), an explicit change of
what is scored.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from svibench.errors import ConfigError, GeneratorOutputError, SvibenchError
from svibench.generators.base import Generator, Session, State, check_frames
from svibench.stitch import stitched_length
from svibench.suite import Case, Protocol
from svibench.video import iter_decoded, probe_video, read_decoded, resize_frames

LAYOUTS = ("per_clip", "per_case")


def _check_pattern(pattern: Any, key: str, where: str) -> str:
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError(f"{where}.{key}: a non-empty path pattern is required, got {pattern!r}")
    try:
        pattern.format(case="c", clip=0, seed=0)
    except (KeyError, IndexError, ValueError) as e:
        raise ConfigError(
            f"{where}.{key}: bad pattern {pattern!r} ({e}); placeholders: {{case}}, {{clip}}, {{seed}}"
        ) from None
    return pattern


class ReplayGenerator(Generator):
    params: ClassVar[dict[str, Any]] = {
        "root": "",
        "layout": "per_clip",
        "pattern": "{case}/clip_{clip:03d}.mp4",
        "case_pattern": "{case}.mp4",
        "resize": False,
        "resample_fps": False,
    }
    description: ClassVar[str] = (
        "videos made elsewhere: one mp4/npy per clip, or one stitched mp4 per case (PyAV)"
    )

    def __init__(self, name: str, device: str = "cpu", **params: Any) -> None:
        super().__init__(name, device, **params)
        where = f"[generators.{name}]"
        root = self.config["root"]
        if not isinstance(root, str) or not root:
            raise ConfigError(f"{where}.root: the folder holding the videos is required")
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise ConfigError(f"{where}.root: folder {self.root} does not exist")
        layout = self.config["layout"]
        if layout not in LAYOUTS:
            raise ConfigError(f"{where}.layout: got {layout!r}, allowed: {', '.join(LAYOUTS)}")
        self.layout: str = layout
        self.pattern = _check_pattern(self.config["pattern"], "pattern", where)
        self.case_pattern = _check_pattern(self.config["case_pattern"], "case_pattern", where)
        if not isinstance(self.config["resize"], bool):
            raise ConfigError(
                f"{where}.resize: must be true or false, got {self.config['resize']!r}"
            )
        self.resize: bool = self.config["resize"]
        if not isinstance(self.config["resample_fps"], bool):
            raise ConfigError(
                f"{where}.resample_fps: must be true or false, got {self.config['resample_fps']!r}"
            )
        self.resample_fps: bool = self.config["resample_fps"]
        if self.resample_fps and self.layout != "per_clip":
            raise ConfigError(f'{where}.resample_fps: works with layout = "per_clip" only')

    def start(self, case: Case, protocol: Protocol, reference: np.ndarray) -> Session:
        size = protocol.size_for(reference.shape[:2])
        if self.layout == "per_clip":
            return _ClipFilesSession(self, case, protocol, size)
        path = self.root / self.case_pattern.format(case=case.id, clip=0, seed=protocol.seed(0))
        return _StitchedSession(self, case, protocol, size, path)

    def fit(
        self, frames: np.ndarray, protocol: Protocol, size: tuple[int, int], where: str
    ) -> np.ndarray:
        """Check the frame count, resize if allowed, then the generic frame checks."""
        if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[-1] != 3:
            shape = getattr(frames, "shape", None)
            raise GeneratorOutputError(f"{where}: expected frames (T, H, W, 3), got shape {shape}")
        if frames.shape[0] != protocol.frames_per_clip:
            raise GeneratorOutputError(
                f"{where}: {frames.shape[0]} frames, expected {protocol.frames_per_clip} "
                "(protocol.frames_per_clip)"
            )
        hw = tuple(frames.shape[1:3])
        if hw != size:
            if not self.resize:
                raise GeneratorOutputError(
                    f"{where}: frames are {hw[0]}x{hw[1]} (HxW), expected {size[0]}x{size[1]} "
                    f"(protocol size); set resize = true in [generators.{self.name}] to resize"
                )
            if frames.dtype == np.uint8:
                frames = resize_frames(frames, size)
        return check_frames(frames, protocol, size, where)

    def fit_decoded(
        self, decoded: dict[str, np.ndarray], protocol: Protocol, size: tuple[int, int], where: str
    ) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
        """``fit`` for every reader's frames: (decord frames, the readers that differ or None)."""
        out = {r: self.fit(f, protocol, size, where) for r, f in decoded.items()}
        frames = out.pop("decord")
        differ = {r: f for r, f in out.items() if not np.array_equal(f, frames)}
        return frames, differ or None


def expected_fps(protocol: Protocol) -> float:
    """The fps replayed files must have: the suite's saved fps where it has one, else fps."""
    return float(getattr(protocol, "saved_fps", None) or protocol.fps)


def _fps_error(where: str, got: float, want: float, hint: str) -> GeneratorOutputError:
    return GeneratorOutputError(
        f"{where}: the file is {got:g} fps, the suite scores clips at {want:g} fps "
        f"(protocol fps; dynamic_degree strides by it); {hint}"
    )


def resample_indices(n_file: int, file_fps: float, fps: float, count: int, where: str) -> list[int]:
    """Nearest file frame in time for each of ``count`` frames at ``fps``."""
    idx = [int(np.floor(i * file_fps / fps + 0.5)) for i in range(count)]
    most = int(np.ceil(count * file_fps / fps))
    if not idx[-1] < n_file <= max(most, idx[-1] + 1):
        raise GeneratorOutputError(
            f"{where}: {n_file} frames at {file_fps:g} fps, expected {idx[-1] + 1}..{most} to "
            f"resample {count} frames at {fps:g} fps (resample_fps = true)"
        )
    return idx


class _ReplaySession(Session):
    """Replays are stateless but for the last clip served: that is the whole resume state."""

    clip: int = -1

    def state_dict(self) -> State:
        return {"clip": self.clip}

    def load_state_dict(self, state: State) -> None:
        self.clip = int(state.get("clip", -1))


class _ClipFilesSession(_ReplaySession):
    def __init__(
        self, gen: ReplayGenerator, case: Case, protocol: Protocol, size: tuple[int, int]
    ) -> None:
        self.gen, self.case, self.protocol, self.size = gen, case, protocol, size
        self.clip = -1
        self.decoded: dict[str, np.ndarray] | None = None

    def decoded_frames(self) -> dict[str, np.ndarray] | None:
        return self.decoded

    def _read(self, path: Path, where: str) -> dict[str, np.ndarray]:
        if path.suffix.lower() == ".npy":  # arrays: no file decoding, so no reader differences
            if not path.is_file():
                raise SvibenchError(f"{path}: frames file not found")
            try:
                return {"decord": np.load(path, allow_pickle=False)}
            except (OSError, ValueError, EOFError) as e:
                raise SvibenchError(f"{path}: not a readable .npy array ({e})") from None
        decoded, fps = read_decoded(path)
        want = expected_fps(self.protocol)
        if abs(fps - want) > 1e-3 * want:
            if not self.gen.resample_fps:
                raise _fps_error(
                    where,
                    fps,
                    want,
                    f"set resample_fps = true in [generators.{self.gen.name}]"
                    " to pick the nearest frames, or score with a suite at the file's fps",
                )
            n = len(decoded["decord"])
            idx = resample_indices(n, fps, want, self.protocol.frames_per_clip, where)
            decoded = {r: f[idx] for r, f in decoded.items()}
        return decoded

    def next_clip(self, prompt: str, clip: int, seed: int) -> np.ndarray:
        path = self.gen.root / self.gen.pattern.format(case=self.case.id, clip=clip, seed=seed)
        where = f"replay '{self.gen.name}' case '{self.case.id}' clip {clip}: {path}"
        try:
            decoded = self._read(path, where)
        except GeneratorOutputError:
            raise
        except SvibenchError as e:
            raise SvibenchError(
                f"replay '{self.gen.name}' case '{self.case.id}' clip {clip}: {e}"
            ) from None
        out, self.decoded = self.gen.fit_decoded(decoded, self.protocol, self.size, where)
        self.clip = clip
        return out


class _FrameCursor:
    """Forward-only access to frame ranges of one video, keeping the last ``keep`` frames
    (each frame as ``{reader: uint8 RGB}``, svibench.video.iter_decoded).

    Consecutive clips overlap by m frames, which the tail buffer serves; a jump backwards
    (or the first access after resume) re-opens the file and decodes forward to the start.
    """

    def __init__(self, path: Path, keep: int) -> None:
        self.path = path
        self._it = None
        self._pos = 0  # index of the next frame the decoder yields
        self._tail: deque[dict[str, np.ndarray]] = deque(maxlen=max(keep, 0) or None)
        self._keep = keep

    def _reopen(self) -> None:
        self.close()
        self._it = iter_decoded(self.path)
        self._pos = 0
        self._tail.clear()

    def take(self, start: int, count: int) -> list[dict[str, np.ndarray]] | int:
        """Frames ``[start, start + count)``, or the number of frames in the video if it is short."""
        tail_start = self._pos - len(self._tail)
        if self._it is None or start < tail_start:
            self._reopen()
            tail_start = 0
        out = [f for i, f in enumerate(self._tail, tail_start) if start <= i < start + count]
        while self._pos < start + count:
            try:
                frame = next(self._it)
            except StopIteration:
                return self._pos
            if self._pos >= start:
                out.append(frame)
            if self._keep > 0:
                self._tail.append(frame)
            self._pos += 1
        return out

    def close(self) -> None:
        if self._it is not None:
            self._it.close()
            self._it = None


class _StitchedSession(_ReplaySession):
    def __init__(
        self,
        gen: ReplayGenerator,
        case: Case,
        protocol: Protocol,
        size: tuple[int, int],
        path: Path,
    ) -> None:
        self.gen, self.case, self.protocol, self.size, self.path = gen, case, protocol, size, path
        self.where = f"replay '{gen.name}' case '{case.id}': {path}"
        f, m, n = protocol.frames_per_clip, protocol.motion_frames, protocol.clips
        self.expected = stitched_length(n, f, m)  # upstream stitching, test_svi.py:472-476
        self.formula = f"{n} clips x ({f} - {m}) + {m} motion frames = {self.expected}"
        try:
            info = probe_video(path)
        except SvibenchError as e:
            raise SvibenchError(f"replay '{gen.name}' case '{case.id}': {e}") from None
        want = expected_fps(protocol)
        if abs(info.fps - want) > 1e-3 * want:
            raise _fps_error(self.where, info.fps, want, "score it with a suite at the file's fps")
        if info.frames and info.frames != self.expected:
            raise GeneratorOutputError(
                f"{self.where}: {info.frames} frames, expected {self.formula} "
                "(stitched: every clip but the last drops its last m frames)"
            )
        self.cursor = _FrameCursor(path, keep=m)
        self.clip = -1
        self.decoded: dict[str, np.ndarray] | None = None

    def decoded_frames(self) -> dict[str, np.ndarray] | None:
        return self.decoded

    def next_clip(self, prompt: str, clip: int, seed: int) -> np.ndarray:
        f, m = self.protocol.frames_per_clip, self.protocol.motion_frames
        start = clip * (f - m)
        got = self.cursor.take(start, f)
        if isinstance(got, int):
            raise GeneratorOutputError(
                f"{self.where}: clip {clip} needs frames {start}..{start + f - 1} but the video "
                f"has {got} frames, expected {self.formula}"
            )
        decoded = {r: np.stack([f[r] for f in got]) for r in got[0]}
        out, self.decoded = self.gen.fit_decoded(
            decoded, self.protocol, self.size, f"{self.where} clip {clip}"
        )
        self.clip = clip
        return out

    def close(self) -> None:
        self.cursor.close()
