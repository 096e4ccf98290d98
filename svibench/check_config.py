"""The ``[check]`` section of ``svibench.toml`` (read by :func:`svibench.config.load_config`):
suite, baselines, generators, metrics, threads, tolerances and invariants, validated into a
:class:`CheckConfig`. See :mod:`svibench.check` for what the keys mean."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from svibench.analysis.drift import DRIFT_SIZE_MEASURES, HEADLINE_MEASURE
from svibench.config import Config
from svibench.errors import ConfigError
from svibench.tomlcheck import check_keys

RANK_KINDS = ("ranks_first", "ranks_last")
CI_KINDS = ("no_drift", "drifts")
INVARIANT_KINDS = (*RANK_KINDS, "drifts_less", "drifts_most", *CI_KINDS)
_CHECK_KEYS = {"suite", "baselines", "generators", "metrics", "threads", "tolerance", "invariants"}
_INV_KEYS = {"kind", "generator", "than", "metric", "measure", "among"}


@dataclass(frozen=True)
class Tolerance:
    abs: float
    rel: float

    def limit(self, baseline: float, scale: float = 1.0) -> float:
        return scale * (self.abs + self.rel * abs(baseline))

    def __str__(self) -> str:
        return f"±({self.abs:g} + {self.rel:g}·|b|)"


# Same machine: reruns are bit-identical, so any difference is a code change. These defaults
# absorb float noise of other CPUs/BLAS builds (see docs/check.md); drift measures are
# differences of noisy numbers, so they get more room than the means.
DEFAULT_TOLERANCES: tuple[tuple[str, Tolerance], ...] = (
    ("*.mean", Tolerance(1e-4, 1e-3)),
    ("*", Tolerance(2e-3, 1e-2)),
)


@dataclass(frozen=True)
class Invariant:
    kind: str
    generator: str
    than: str | None = None
    metric: str | None = None  # None: the run's headline (drift) metric
    measure: str = HEADLINE_MEASURE
    among: tuple[str, ...] = ()  # ranks_* / drifts_most: compare within these (default: all)

    def describe(self, headline: str) -> str:
        metric = self.metric or headline
        among = f" among {', '.join(self.among)}" if self.among else ""
        if self.kind == "no_drift":
            return f"{self.generator} shows no drift ({metric} {self.measure}: CI contains 0)"
        if self.kind == "drifts":
            return f"{self.generator} drifts ({metric} {self.measure}: CI excludes 0, worse side)"
        if self.kind == "ranks_first":
            return f"{self.generator} has the best {metric}{among}"
        if self.kind == "ranks_last":
            return f"{self.generator} has the worst {metric}{among}"
        if self.kind == "drifts_less":
            return f"{self.generator} drifts less than {self.than} ({metric} {self.measure})"
        return f"{self.generator} drifts most ({metric} {self.measure}){among}"


@dataclass(frozen=True)
class CheckConfig:
    suite: str
    baselines: Path
    generators: tuple[str, ...]
    metrics: tuple[str, ...]
    threads: int
    tolerances: tuple[tuple[str, Tolerance], ...]
    invariants: tuple[Invariant, ...]

    def tolerance(self, figure: str) -> Tolerance:
        for pattern, tol in (*self.tolerances, *DEFAULT_TOLERANCES):
            if fnmatch.fnmatchcase(figure, pattern):
                return tol
        raise AssertionError("DEFAULT_TOLERANCES ends with '*'")


# ----------------------------------------------------------------------------- configuration
def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ConfigError(f"{where}: expected a number >= 0, got {value!r}")
    return float(value)


def load_check_config(cfg: Config) -> CheckConfig:
    """Validate the ``[check]`` section of ``svibench.toml`` (every key optional)."""
    where = f"{cfg.path} [check]"
    raw = cfg.sections.get("check", {})
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table")
    check_keys(raw, _CHECK_KEYS, where)
    base = Path(cfg.path).resolve().parent
    suite = raw.get("suite", "check")
    if not isinstance(suite, str) or not suite:
        raise ConfigError(f"{where}.suite: expected a suite name or path, got {suite!r}")
    baselines = raw.get("baselines", "baselines/tiny")
    if not isinstance(baselines, str) or not baselines:
        raise ConfigError(f"{where}.baselines: expected a folder, got {baselines!r}")
    gens = _generators(raw.get("generators", ["tiny-world", "tiny-world-drift"]), cfg, where)
    metrics = _metrics(raw.get("metrics", "default"), cfg, where)
    threads = raw.get("threads", 1)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"{where}.threads: expected an integer >= 1, got {threads!r}")
    tolerances = _tolerances(raw.get("tolerance", {}), where)
    inv_raw = raw.get("invariants", [])
    if not isinstance(inv_raw, list):
        raise ConfigError(f"{where}.invariants: expected an array of tables ([[check.invariants]])")
    return CheckConfig(
        suite,
        base / baselines,
        tuple(gens),
        metrics,
        threads,
        tolerances,
        tuple(_invariant(inv, gens, f"{where}.invariants[{i}]") for i, inv in enumerate(inv_raw)),
    )


def _generators(gens: Any, cfg: Config, where: str) -> list[str]:
    if not isinstance(gens, list) or not gens or not all(isinstance(g, str) for g in gens):
        raise ConfigError(
            f"{where}.generators: expected a non-empty list of generator names, got {gens!r}"
        )
    if len(set(gens)) != len(gens):
        raise ConfigError(f"{where}.generators: duplicate names in {gens!r}")
    for g in gens:
        cfg.generator_table(g)  # raises with "did you mean"
    return gens


def _metrics(spec: Any, cfg: Config, where: str) -> tuple[str, ...]:
    """A [metric_sets] name or a non-empty list of metric names."""
    if isinstance(spec, str):
        if spec not in cfg.metric_sets:
            raise ConfigError(f"{where}.metrics: no metric set '{spec}' in [metric_sets]")
        return tuple(cfg.metric_sets[spec])
    if isinstance(spec, list) and spec and all(isinstance(m, str) for m in spec):
        return tuple(spec)
    raise ConfigError(f"{where}.metrics: expected a [metric_sets] name or a list of metric names")


def _tolerances(tol_raw: Any, where: str) -> tuple[tuple[str, Tolerance], ...]:
    """``[check.tolerance]``: glob pattern -> { abs, rel }, in file order."""
    if not isinstance(tol_raw, dict):
        raise ConfigError(
            f"{where}.tolerance: expected a table of pattern = {{ abs = .., rel = .. }}"
        )
    tolerances = []
    for pattern, t in tol_raw.items():
        tw = f'{where}.tolerance."{pattern}"'
        if not isinstance(t, dict) or set(t) - {"abs", "rel"} or not t:
            raise ConfigError(f"{tw}: expected {{ abs = <number>, rel = <number> }}, got {t!r}")
        tol = Tolerance(
            _number(t.get("abs", 0.0), f"{tw}.abs"), _number(t.get("rel", 0.0), f"{tw}.rel")
        )
        tolerances.append((pattern, tol))
    return tuple(tolerances)


def _invariant(inv: Any, gens: list[str], iw: str) -> Invariant:
    """One ``[[check.invariants]]`` table (``iw``: where it is, for messages)."""
    if not isinstance(inv, dict):
        raise ConfigError(f"{iw}: expected a table")
    extra = sorted(set(inv) - _INV_KEYS)
    if extra:
        raise ConfigError(
            f"{iw}: unknown key '{extra[0]}' (allowed: {', '.join(sorted(_INV_KEYS))})"
        )
    kind = inv.get("kind")
    if kind not in INVARIANT_KINDS:
        raise ConfigError(f"{iw}.kind: expected one of {', '.join(INVARIANT_KINDS)}, got {kind!r}")
    for key in ("generator", "than") if kind == "drifts_less" else ("generator",):
        if inv.get(key) not in gens:
            raise ConfigError(
                f"{iw}.{key}: {inv.get(key)!r} is not one of [check].generators {gens}"
            )
    measure = inv.get("measure", HEADLINE_MEASURE)
    if measure not in DRIFT_SIZE_MEASURES:
        raise ConfigError(
            f"{iw}.measure: expected one of {', '.join(DRIFT_SIZE_MEASURES)}, got {measure!r}"
        )
    among = inv.get("among", [])
    if not isinstance(among, list) or any(g not in gens for g in among):
        raise ConfigError(f"{iw}.among: expected a list of [check].generators names, got {among!r}")
    if among and inv["generator"] not in among:
        raise ConfigError(f"{iw}.among: must include the generator '{inv['generator']}'")
    return Invariant(
        kind, inv["generator"], inv.get("than"), inv.get("metric"), measure, tuple(among)
    )


def resolve_suite(spec: str, cfg: Config) -> Path:
    """A suite name (``suites/<name>.toml`` next to svibench.toml) or a path to a suite file."""
    base = Path(cfg.path).resolve().parent
    candidates = (
        [Path(spec)]
        if spec.endswith(".toml") or "/" in spec
        else [base / "suites" / f"{spec}.toml"]
    )
    for c in candidates:
        if c.is_file():
            return c
    raise ConfigError(
        f"check suite '{spec}': no file {candidates[0]} (give a suite name under suites/ or a .toml path)"
    )
