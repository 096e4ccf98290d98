"""The metric contract.

A ``Metric`` scores one clip: frames in, numbers out (a pure function of its inputs). Metrics
that need a neural backbone declare the ``features`` they read; the runner's ``FeatureCache``
computes each feature once per clip (one backbone forward per frame serves every metric that
reads it) and each ``Feature`` loads its model once per run.

Adding a metric is one file: subclass ``Metric``, set the class attributes, implement
``compute``, and add a line to ``svibench/metrics/registry.py`` (or an entry point in the
``svibench.metrics`` group from your own package).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np


@dataclass(frozen=True)
class ClipInput:
    """Everything a metric may look at for one clip."""

    frames: np.ndarray  # uint8 (T, H, W, 3), RGB
    reference: np.ndarray  # uint8 (H, W, 3): the case image, resized to the frame size
    prompt: str
    clip: int  # 0-based clip index within the case
    fps: int
    motion_frames: int  # m: frames of this clip that continue the previous one
    previous_tail: np.ndarray | None = None  # uint8 (m', H, W, 3): last frames of clip k-1
    # uint8 (T, H, W, 3): what an exact generator renders for this clip, where the case has a
    # ground truth (world:<seed> images); filled only for metrics with uses_ground_truth
    ground_truth: np.ndarray | None = None
    # frames as each of VBench's readers ("decord", "cv2") decodes the clip's video file, when
    # the clip was read from one (replay) and a reader differs from ``frames``
    decoded: Mapping[str, np.ndarray] | None = None

    def frames_as(self, reader: str) -> np.ndarray:
        """The frames VBench's ``reader`` would see (svibench.video.READERS); ``frames`` when
        there is no file (generated in memory) or that reader gives the same frames."""
        if self.decoded is not None and reader in self.decoded:
            return self.decoded[reader]
        return self.frames


class Metric(ABC):
    """Scores one clip. Subclasses set the class attributes and implement ``compute``."""

    name: ClassVar[str]
    columns: ClassVar[tuple[str, ...]] = ()  # output names; () means (name,)
    higher_is_better: ClassVar[bool] = True
    directions: ClassVar[dict[str, bool]] = {}  # column -> higher_is_better, where it differs
    features: ClassVar[tuple[str, ...]] = ()  # FEATURES names this metric reads
    uses_ground_truth: ClassVar[bool] = False  # reads ClipInput.ground_truth
    description: ClassVar[str] = ""
    reference: ClassVar[str] = ""  # where the formula comes from (VBench file, paper)

    def __init__(self, **params: Any) -> None:
        self.params = params

    @classmethod
    def output_columns(cls) -> tuple[str, ...]:
        return cls.columns or (cls.name,)

    @classmethod
    def higher_is_better_for(cls, column: str) -> bool:
        return cls.directions.get(column, cls.higher_is_better)

    @abstractmethod
    def compute(self, clip: ClipInput, features: Mapping[str, Any]) -> dict[str, float]:
        """Scores for this clip, keyed by ``output_columns()``. NaN means "not defined here"."""


class Feature(ABC):
    """A per-clip feature computed by a backbone (e.g. DINO CLS tokens for every frame).

    ``load`` is called once per run (weights resolved offline); ``__call__`` once per clip.
    """

    name: ClassVar[str]
    weights: ClassVar[tuple[str, ...]] = ()  # svibench.weights names it needs
    # frames (or frame pairs) per forward when the run does not set one; measured per backbone
    # with bench/metrics_vs_vbench.py (big activations favour small CPU batches)
    cpu_batch_size: ClassVar[int] = 16
    cuda_batch_size: ClassVar[int] = 16

    def __init__(self, device: str = "cpu", batch_size: int | None = None, **params: Any) -> None:
        self.device = device
        cuda = str(device).startswith("cuda")
        self.batch_size = batch_size or (self.cuda_batch_size if cuda else self.cpu_batch_size)
        self.params = params

    def load(self) -> None:
        """Build the model and load its weights (raise MissingWeightsError if absent)."""

    @abstractmethod
    def __call__(self, clip: ClipInput) -> Any:
        """Compute the feature for this clip."""


class FeatureCache(Mapping[str, Any]):
    """Lazily computes features for one clip, each at most once."""

    def __init__(self, clip: ClipInput, extractors: Mapping[str, Feature]) -> None:
        self._clip = clip
        self._extractors = extractors
        self._values: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._values:
            self._values[name] = self._extractors[name](self._clip)
        return self._values[name]

    def __iter__(self):
        return iter(self._extractors)

    def __len__(self) -> int:
        return len(self._extractors)
