"""Project configuration (``svibench.toml``): named generators, metric sets, paths, device.

Every key is validated when the file is read; errors name the file, the key and what is
allowed. Generator parameters are checked against the generator class when it is built.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from svibench.errors import ConfigError
from svibench.tomlcheck import check_keys, read_toml
from svibench.weights import CATALOGUE, WeightPaths, use_paths

DEFAULT_CONFIG = "svibench.toml"
DEVICES = ("cpu", "cuda", "auto")
_TOP = {"run", "paths", "metric_sets", "generators", "ablate", "check", "executor"}
_RUN = {"results", "device", "threads", "generators", "metrics", "batch_size", "save_videos"}
_PATHS = {
    "weights",
    "datasets",
    "cache",
    "vbench_cache",
    "torch_home",
    "dreamsim_cache",
    "weights_manifest",
}


@dataclass(frozen=True)
class Config:
    path: Path
    results: Path
    device: str = "cpu"
    threads: int = 2
    generators: tuple[str, ...] = ()  # the default set that `run` uses
    metrics: tuple[str, ...] = ()  # the default metric set (resolved names)
    batch_size: int | None = None  # None: each backbone's tuned default per device
    save_videos: bool = True
    weights_dir: Path | None = None
    weight_paths: WeightPaths = field(default_factory=WeightPaths)
    datasets: dict[str, str] = field(default_factory=dict)
    metric_sets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    generator_tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    sections: dict[str, Any] = field(
        default_factory=dict
    )  # [ablate], [check]: read by their commands

    def generator_table(self, name: str) -> dict[str, Any]:
        if name not in self.generator_tables:
            import difflib

            hint = difflib.get_close_matches(name, list(self.generator_tables), n=3)
            did = f"; did you mean {', '.join(map(repr, hint))}?" if hint else ""
            raise ConfigError(
                f"{self.path}: no generator named '{name}' in [generators]{did} "
                f"(configured: {', '.join(sorted(self.generator_tables))})"
            )
        return self.generator_tables[name]

    def metric_set(self, spec: str | None) -> tuple[str, ...]:
        """A set name from [metric_sets] or a comma-separated list of metric names."""
        if not spec:
            return self.metrics
        if spec in self.metric_sets:
            return self.metric_sets[spec]
        return tuple(s.strip() for s in spec.split(",") if s.strip())

    def resolve_device(self, device: str | None = None) -> str:
        dev = device or self.device
        if dev == "auto":
            import torch

            return "cuda" if torch.cuda.is_available() else "cpu"
        if dev.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise ConfigError(
                    f"device '{dev}' requested but CUDA is not available on this machine"
                )
        elif dev != "cpu":
            raise ConfigError(f"device '{dev}': allowed values are cpu, cuda, cuda:N, auto")
        return dev


def _expect(value: Any, kind: type | tuple, where: str, what: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {what}, got {value!r}")
    return value


def _names(value: Any, where: str) -> tuple[str, ...]:
    _expect(value, list, where, "a list of names")
    for v in value:
        _expect(v, str, where, "a list of names")
    return tuple(value)


def load_config(path: str | Path | None = None) -> Config:
    """Read ``svibench.toml`` (``path``, ``$SVIBENCH_CONFIG`` or ./svibench.toml)."""
    path = Path(path or os.environ.get("SVIBENCH_CONFIG", DEFAULT_CONFIG))
    raw = read_toml(path)
    where = str(path)
    check_keys(raw, _TOP, where)
    run = _expect(raw.get("run", {}), dict, f"{where} [run]", "a table")
    check_keys(run, _RUN, f"{where} [run]")
    paths = _expect(raw.get("paths", {}), dict, f"{where} [paths]", "a table")
    check_keys(paths, _PATHS, f"{where} [paths]")

    base = path.resolve().parent
    results = base / _expect(run.get("results", "results"), str, f"{where} [run].results", "a path")
    device = _expect(run.get("device", "cpu"), str, f"{where} [run].device", "a string")
    if device not in DEVICES and not device.startswith("cuda:"):
        raise ConfigError(
            f"{where} [run].device: allowed values are cpu, cuda, cuda:N, auto; got {device!r}"
        )
    threads = _expect(run.get("threads", 2), int, f"{where} [run].threads", "an integer >= 1")
    if threads < 1:
        raise ConfigError(f"{where} [run].threads: must be >= 1, got {threads}")
    batch = run.get("batch_size", "auto")
    if batch == "auto":
        batch = None
    else:
        batch = _expect(batch, int, f"{where} [run].batch_size", 'an integer >= 1 or "auto"')
        if batch < 1:
            raise ConfigError(f'{where} [run].batch_size: must be >= 1 or "auto", got {batch}')
    save_videos = _expect(
        run.get("save_videos", True), bool, f"{where} [run].save_videos", "true/false"
    )

    metric_sets = {}
    for name, names in _expect(
        raw.get("metric_sets", {}), dict, f"{where} [metric_sets]", "a table"
    ).items():
        metric_sets[name] = _names(names, f"{where} [metric_sets].{name}")
    metrics_spec = run.get("metrics", "default")
    if isinstance(metrics_spec, list):
        metrics = _names(metrics_spec, f"{where} [run].metrics")
    else:
        _expect(metrics_spec, str, f"{where} [run].metrics", "a metric set name or a list")
        if metrics_spec not in metric_sets:
            raise ConfigError(
                f"{where} [run].metrics: no metric set '{metrics_spec}' in [metric_sets] "
                f"(defined: {', '.join(sorted(metric_sets)) or 'none'})"
            )
        metrics = metric_sets[metrics_spec]

    tables: dict[str, dict[str, Any]] = {}
    for name, table in _expect(
        raw.get("generators", {}), dict, f"{where} [generators]", "a table"
    ).items():
        gw = f"{where} [generators.{name}]"
        _expect(table, dict, gw, "a table")
        if "kind" not in table:
            raise ConfigError(
                f"{gw}: missing key 'kind' (the registered generator kind, e.g. 'world')"
            )
        _expect(table["kind"], str, f"{gw}.kind", "a string")
        tables[name] = dict(table)
    generators = _names(run.get("generators", sorted(tables)), f"{where} [run].generators")
    for g in generators:
        if g not in tables:
            raise ConfigError(f"{where} [run].generators: '{g}' is not defined under [generators]")

    datasets = _expect(paths.get("datasets", {}), dict, f"{where} [paths].datasets", "a table")
    datasets = {k: str(base / v) for k, v in datasets.items() if v}
    weight_paths = _weight_paths(paths, base, where)
    use_paths(weight_paths)  # every weights lookup of this process reads this file's [paths]
    cfg = Config(
        path=path,
        results=results,
        device=device,
        threads=threads,
        generators=generators,
        metrics=metrics,
        batch_size=batch,
        save_videos=save_videos,
        weights_dir=weight_paths.folder,
        weight_paths=weight_paths,
        datasets=datasets,
        metric_sets=metric_sets,
        generator_tables=tables,
        sections={
            **{k: raw[k] for k in ("ablate", "check") if k in raw},
            "executor": executor_table(raw.get("executor", {}), f"{where} [executor]"),
        },
    )
    return cfg


_FILE_KEYS = {"path", "sha256", "format"}


def _weight_file(value: Any, base: Path, where: str) -> Any:
    """One ``[paths.weights] NAME = "file"`` or ``{ path, sha256, format }`` entry."""
    if isinstance(value, str) and value:
        return base / Path(value).expanduser()
    if isinstance(value, dict):
        check_keys(value, _FILE_KEYS, where)
        path = _expect(value.get("path"), str, f"{where}.path", "a file path")
        sha = value.get("sha256")
        if sha is not None and (
            not isinstance(sha, str)
            or len(sha) != 64
            or not all(c in "0123456789abcdef" for c in sha.lower())
        ):
            raise ConfigError(f"{where}.sha256: expected 64 hex digits, got {sha!r}")
        out = {"path": base / Path(path).expanduser()}
        if sha is not None:
            out["sha256"] = sha.lower()
        if "format" in value:
            out["format"] = _expect(value["format"], str, f"{where}.format", "a format name")
        return out
    raise ConfigError(
        f'{where}: expected a file path or {{ path = "...", sha256 = "..." }}, got {value!r}'
    )


def _weight_paths(paths: dict[str, Any], base: Path, where: str) -> WeightPaths:
    """``[paths]`` weights settings; relative paths are relative to the config file.

    ``weights`` is either a folder (``weights = "DIR"``, searched first) or a table
    ``[paths.weights]`` of catalogue names (``NAME = "file"`` / ``{ path, sha256 }``) plus an
    optional ``dir = "DIR"``; an empty string means unset.
    """

    def folder(key: str) -> Path | None:
        v = _expect(paths.get(key, ""), str, f"{where} [paths].{key}", "a folder path")
        return base / Path(v).expanduser() if v else None

    weights = paths.get("weights", "")
    files: dict[str, Any] = {}
    flat: Path | None = None
    if isinstance(weights, dict):
        for name, value in weights.items():
            w = f"{where} [paths.weights].{name}"
            if name == "dir":
                v = _expect(value, str, w, "a folder path")
                flat = base / Path(v).expanduser() if v else None
                continue
            if name not in CATALOGUE:
                raise ConfigError(
                    f"{w}: unknown weights name (known: dir, {', '.join(sorted(CATALOGUE))})"
                )
            files[name] = _weight_file(value, base, w)
    else:
        flat = folder("weights")
    manifest = paths.get("weights_manifest", "")
    manifest = _expect(manifest, str, f"{where} [paths].weights_manifest", "a file path")
    return WeightPaths(
        files=files,
        folder=flat,
        vbench_cache=folder("vbench_cache"),
        torch_home=folder("torch_home"),
        dreamsim_cache=folder("dreamsim_cache"),
        manifest=base / Path(manifest).expanduser() if manifest else None,
        origin=where,
    )


# [executor]: how `svibench run --executor ...` fans a suite out (svibench/commands/run_scale.py)
_EXECUTOR_INT = {"shards", "workers", "retries", "gpus_per_task", "cpus_per_task", "mem_gb",
                 "timeout_min", "array_parallelism"}  # fmt: skip
_EXECUTOR_STR = {"kind", "cluster", "partition", "account", "qos", "constraint"}
_EXECUTOR_CHOICES = {"kind": ("local", "parallel", "slurm"), "cluster": ("slurm", "local", "debug")}


def executor_table(table: Any, where: str) -> dict[str, Any]:
    """Validate [executor]; returns it with [executor.seconds_per_clip] as floats."""
    _expect(table, dict, where, "a table")
    check_keys(table, _EXECUTOR_INT | _EXECUTOR_STR | {"setup", "seconds_per_clip"}, where)
    out = dict(table)
    for key in _EXECUTOR_INT & set(table):
        value = _expect(table[key], int, f"{where}.{key}", "an integer")
        if value < (0 if key == "retries" else 1):
            raise ConfigError(
                f"{where}.{key}: must be >= {0 if key == 'retries' else 1}, got {value}"
            )
    for key in _EXECUTOR_STR & set(table):
        _expect(table[key], str, f"{where}.{key}", "a string")
        allowed = _EXECUTOR_CHOICES.get(key)
        if allowed and table[key] not in allowed:
            raise ConfigError(
                f"{where}.{key}: allowed values are {', '.join(allowed)}; got {table[key]!r}"
            )
    if "setup" in table:
        _names(table["setup"], f"{where}.setup")  # shell lines run before each SLURM job
    spc = _expect(table.get("seconds_per_clip", {}), dict, f"{where}.seconds_per_clip", "a table")
    for key, value in spc.items():
        ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
        if not ok:
            raise ConfigError(
                f"{where}.seconds_per_clip.{key}: expected seconds > 0, got {value!r}"
            )
    out["seconds_per_clip"] = {k: float(v) for k, v in spc.items()}
    return out
