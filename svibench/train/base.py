"""The trainer contract used by ``svibench ablate``.

A trainer turns a full training config (its ``params`` with a variant's overrides) and a seed
into a checkpoint folder, resumably: calling ``train`` again on the same ``out_dir`` continues
from the last saved step (or returns at once when finished). ``generator`` says how to evaluate
the result: the ``[generators.<name>]`` table (``kind`` + parameters) that loads it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from svibench.errors import ConfigError

Progress = Callable[[int, int], None]  # (step done, total steps)


@dataclass(frozen=True)
class Param:
    """A trainer parameter that an ablation may sweep."""

    default: Any
    low: float | None = None  # inclusive bounds for numbers
    high: float | None = None
    choices: tuple[Any, ...] | None = None
    help: str = ""

    def check(self, name: str, value: Any) -> Any:
        if self.choices is not None:
            if value not in self.choices:
                raise ConfigError(f"{name}={value!r}: allowed values are {list(self.choices)}")
            return value
        if isinstance(self.default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{name}={value!r}: expected true/false")
            return value
        if isinstance(self.default, (int, float)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{name}={value!r}: expected a number")
            if (self.low is not None and value < self.low) or (
                self.high is not None and value > self.high
            ):
                raise ConfigError(f"{name}={value!r}: out of range [{self.low}, {self.high}]")
            return type(self.default)(value) if isinstance(self.default, float) else value
        return value


@dataclass(frozen=True)
class TrainResult:
    checkpoint: Path  # folder or file the generator loads
    steps: int
    metrics: dict[str, float]  # e.g. final loss, bank fill


class Trainer(ABC):
    name: ClassVar[str]
    params: ClassVar[dict[str, Param]] = {}
    # Keys a ``recipe`` preset leaves at the trainer's own default (e.g. scale-bound values of
    # a toy model). Order of precedence: Param default < recipe value < explicit config.
    recipe_skips: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, device: str = "cpu", **config: Any) -> None:
        unknown = sorted(set(config) - set(self.params))
        if unknown:
            raise ConfigError(
                f"trainer '{self.name}': unknown parameter '{unknown[0]}' "
                f"(known: {', '.join(sorted(self.params))})"
            )
        self.device = device
        self.config = {k: p.default for k, p in self.params.items()}
        if "recipe" in self.params:
            # recycling imports torch; trainers are listed without it
            from svibench.train.recycling import recipe_defaults

            self.config.update(recipe_defaults(self.params, config, self.recipe_skips))
        for key, value in config.items():
            self.config[key] = self.params[key].check(key, value)

    @abstractmethod
    def train(self, out_dir: Path, seed: int, progress: Progress | None = None) -> TrainResult:
        """Train (or resume) into ``out_dir``; idempotent once finished."""

    @abstractmethod
    def generator(self, result: TrainResult) -> dict[str, Any]:
        """The generator table (``{"kind": ..., **params}``) that evaluates ``result``."""
