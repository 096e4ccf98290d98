"""Ablations: retrain a model for every value (× seed) of some trainer parameters, evaluate every
variant through the normal runner, and put them in one comparable table with CIs and tests.

Layout under ``results/<ablation name>/``::

    spec.json                       the ablation spec as run (params, values, seeds, trainer, ...)
    train/<hash>/                   one training per (full training config, seed); the hash covers
                                    the trainer name, its whole config (defaults included) and seed
        spec.json  status.json      what is trained here / live progress (for parallel display)
        checkpoint/                 the trainer's out_dir (the trainer resumes itself here)
        done.json | failed.json     finished (TrainResult + generator table) / last failure
    run/                            a normal run folder (``svibench leaderboard`` reads it); every
                                    variant is the generator ``<param>=<value>[+...]_s<seed>``
    ablation.md  ablation.parquet  paired.parquet  training.parquet  plots/*.png

Resuming: a training with ``done.json`` is never redone; an unfinished one is handed back to the
trainer (which continues from its own last save); evaluation resumes in the runner, clip by clip.
Statistics: the unit is a (case, seed) pair. Quality = mean over clips; drift measures come from
``svibench.drift``; mean ± bootstrap 95 % CI over units; each variant is compared with the
reference value on the same (case, seed) pairs (Wilcoxon signed-rank and paired t), Holm-corrected
over every test in the table.
"""

from __future__ import annotations

import difflib
import itertools
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from svibench.atomic import atomic_write, atomic_write_json, atomic_write_text
from svibench.config import Config
from svibench.drift import DRIFT_MEASURES, can_reach
from svibench.errors import ConfigError
from svibench.report import format_ci, save_png
from svibench.store import config_hash
from svibench.tomlcheck import check_keys

# Values swept when none are given. clean_buffer_update_prob: 1.0 before, 0.1 in the optimised
# SVI recipe (UPSTREAM_SVI.md:50), 0 = clean steps never update the banks.
DEFAULT_VALUES: dict[str, tuple[Any, ...]] = {"clean_buffer_update_prob": (0.0, 0.1, 0.5, 1.0)}
# The reference of the paired tests when none is given (else the trainer's default).
REFERENCE_VALUES: dict[str, Any] = {"clean_buffer_update_prob": 0.1}  # UPSTREAM_SVI.md:50
TESTED_MEASURES = ("mean", "rel_drop")  # quality (clip mean) and drift (relative drop)
_ABLATE_KEYS = {
    "name",
    "trainer",
    "suite",
    "seeds",
    "params",
    "train",
    "compare",
    "reference",
    "metrics",
    "executor",
    "workers",
    "device",
    "threads",
    "slurm",
    "videos",
    "steps",
    "base_checkpoint",
}
_OUTPUTS = (
    "train",
    "run",
    "status",
    "slurm",
    "plots",
    "spec.json",
    "ablation.md",
    "ablation.parquet",
    "paired.parquet",
    "training.parquet",
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=+-]*$")


# ---------------------------------------------------------------------------- values and names
def parse_value(text: str) -> Any:
    """A CLI token as a TOML-like scalar: true/false, int, float, else the string itself."""
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    for kind in (int, float):
        try:
            return kind(t)
        except ValueError:
            pass
    return t


def format_value(value: Any) -> str:
    """Stable text of a value for names and tables: 0.1, 1.0, 0.0, true, l2."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def variant_label(values: Sequence[tuple[str, Any]]) -> str:
    label = "+".join(f"{p}={format_value(v)}" for p, v in values)
    return re.sub(r"[^A-Za-z0-9._=+-]", "-", label)  # a folder name under run/rows/


# ---------------------------------------------------------------------------- the spec
@dataclass(frozen=True)
class AblationSpec:
    name: str
    trainer: str
    params: tuple[tuple[str, tuple[Any, ...]], ...]  # swept parameters in grid order
    seeds: tuple[int, ...]
    suite: Path
    train: dict[str, Any] = field(default_factory=dict)  # fixed trainer config for every variant
    compare: tuple[str, ...] = ()  # [generators] evaluated alongside (e.g. the untouched base)
    reference: tuple[tuple[str, Any], ...] = ()
    metrics: tuple[str, ...] = ()
    executor: str = "local"
    workers: int = 0
    device: str = "cpu"
    threads: int = 2
    save_videos: bool = False
    slurm: dict[str, Any] = field(default_factory=dict)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p for p, _ in self.params)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trainer": self.trainer,
            "suite": str(self.suite),
            "params": {p: list(v) for p, v in self.params},
            "seeds": list(self.seeds),
            "train": self.train,
            "compare": list(self.compare),
            "reference": dict(self.reference),
            "metrics": list(self.metrics),
            "executor": self.executor,
            "device": self.device,
            "threads": self.threads,
        }


def _trainer_class(name: str, where: str) -> Any:
    from svibench.train.registry import TRAINERS

    try:
        return TRAINERS.get(name, where=where)
    except ImportError as e:
        raise ConfigError(f"{where}: trainer '{name}' cannot be imported ({e})") from None


def _unknown_param(trainer: str, cls: Any, name: str, where: str) -> ConfigError:
    hint = difflib.get_close_matches(name, list(cls.params), n=3)
    did = f"; did you mean {', '.join(map(repr, hint))}?" if hint else ""
    return ConfigError(
        f"{where}: trainer '{trainer}' has no parameter '{name}'{did} "
        f"(known: {', '.join(sorted(cls.params))})"
    )


def _split_values(text: str) -> tuple[str | None, list[str]]:
    """'a=1,2' -> ('a', ['1', '2']); '1,2' -> (None, ['1', '2'])."""
    name = None
    if "=" in text:
        name, _, text = text.partition("=")
        name = name.strip()
    return name, [t for t in (s.strip() for s in text.split(",")) if t]


def _cli_params(params: list[str], values: list[str]) -> list[tuple[str, list[Any] | None]]:
    """--param / --values: 'p', 'p=v1,v2'; --values 'v1,v2' (in --param order) or 'p=v1,v2'."""
    out: dict[str, list[Any] | None] = {}
    for item in params:
        name, vals = _split_values(item) if "=" in item else (item.strip(), None)
        if not name:
            raise ConfigError(f"--param {item!r}: expected NAME or NAME=V1,V2")
        if name in out:
            raise ConfigError(f"--param {name}: given twice")
        out[name] = [parse_value(v) for v in vals] if vals is not None else None
        if vals is not None and not vals:
            raise ConfigError(f"--param {item!r}: empty value list")
    unnamed = []
    for item in values:
        name, vals = _split_values(item)
        if not vals:
            raise ConfigError(f"--values {item!r}: empty value list")
        parsed = [parse_value(v) for v in vals]
        if name is None:
            unnamed.append(parsed)
            continue
        if name not in out:
            raise ConfigError(
                f"--values {item!r}: '{name}' is not one of the --param names ({', '.join(out) or 'none'})"
            )
        if out[name] is not None:
            raise ConfigError(f"--values {item!r}: values for '{name}' were already given")
        out[name] = parsed
    open_slots = [p for p, v in out.items() if v is None]
    if unnamed:
        if len(unnamed) > len(open_slots):
            raise ConfigError(
                f"--values given {len(unnamed)} times but only {len(open_slots)} --param without values "
                f"({', '.join(open_slots) or 'none'}); use --values NAME=V1,V2 for grids"
            )
        for p, vals in zip(open_slots, unnamed, strict=False):
            out[p] = vals
    return list(out.items())


def build_spec(
    config: Config,
    *,
    params: list[str] | None = None,
    values: list[str] | None = None,
    seeds: int | None = None,
    suite: Path | None = None,
    trainer: str | None = None,
    steps: int | None = None,
    base_checkpoint: str | None = None,
    sets: list[str] | None = None,
    compare: list[str] | None = None,
    reference: list[str] | None = None,
    metrics: str | None = None,
    executor: str | None = None,
    workers: int | None = None,
    name: str | None = None,
    device: str | None = None,
    threads: int | None = None,
    videos: bool | None = None,
) -> AblationSpec:
    """The ablation spec: CLI values override the ``[ablate]`` table of svibench.toml."""
    from svibench.executors import EXECUTORS

    where = f"{config.path} [ablate]"
    table = config.sections.get("ablate", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table")
    check_keys(table, _ABLATE_KEYS, where)
    base = config.path.resolve().parent

    trainer_name = trainer or table.get("trainer", "tiny")
    if trainer and trainer != table.get("trainer", "tiny"):
        # [ablate] params / train / reference are written for its own trainer: not this one
        table = {
            k: v
            for k, v in table.items()
            if k not in ("params", "train", "steps", "base_checkpoint", "reference")
        }
    cls = _trainer_class(trainer_name, "--trainer" if trainer else f"{where}.trainer")

    # swept parameters
    if params:
        swept = _cli_params(params, list(values or []))
        src = "--param"
    else:
        if values:
            raise ConfigError("--values needs --param (which parameter do the values belong to?)")
        ptable = table.get("params", {})
        if not isinstance(ptable, dict):
            raise ConfigError(f"{where}.params: expected a table NAME = [values]")
        swept = []
        for p, vals in ptable.items():
            if not isinstance(vals, list):
                raise ConfigError(f"{where}.params.{p}: expected a list of values, got {vals!r}")
            swept.append((p, list(vals)))
        src = f"{where}.params"
    if not swept:
        raise ConfigError(f"no parameter to ablate: pass --param NAME (or set {where}.params)")
    checked: list[tuple[str, tuple[Any, ...]]] = []
    for p, vals in swept:
        if p not in cls.params:
            raise _unknown_param(trainer_name, cls, p, src)
        spec_p = cls.params[p]
        if vals is None:
            if p in DEFAULT_VALUES:
                vals = list(DEFAULT_VALUES[p])
            elif spec_p.choices is not None:
                vals = list(spec_p.choices)
            elif isinstance(spec_p.default, bool):
                vals = [False, True]
            else:
                raise ConfigError(f"{src} {p}: no default values to sweep; pass --values V1,V2,...")
        if not vals:
            raise ConfigError(f"{src} {p}: empty value list")
        norm = tuple(spec_p.check(p, v) for v in vals)
        if len(set(map(format_value, norm))) != len(norm):
            raise ConfigError(f"{src} {p}: duplicate values {[format_value(v) for v in norm]}")
        checked.append((p, norm))

    # fixed training config
    fixed = table.get("train", {})
    if not isinstance(fixed, dict):
        raise ConfigError(f"{where}.train: expected a table of trainer parameters")
    fixed = dict(fixed)
    for key in ("steps", "base_checkpoint"):
        if key in table:
            fixed[key] = table[key]
    for item in sets or []:
        k, eq, v = item.partition("=")
        if not eq or not k.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        fixed[k.strip()] = parse_value(v)
    for key, val, flag in (
        ("steps", steps, "--steps"),
        ("base_checkpoint", base_checkpoint, "--base"),
    ):
        if val is not None:
            if key not in cls.params:
                raise ConfigError(f"{flag}: trainer '{trainer_name}' has no '{key}' parameter")
            fixed[key] = val
    for key, val in list(fixed.items()):
        if key not in cls.params:
            raise _unknown_param(trainer_name, cls, key, f"{where}.train / --set")
        fixed[key] = cls.params[key].check(key, val)
        if key in dict(checked):
            raise ConfigError(f"'{key}' is both swept (--param) and fixed (--set / [ablate.train])")

    # reference of the paired tests
    ref_raw = reference if reference is not None else table.get("reference")
    ref: dict[str, Any] = {}
    if isinstance(ref_raw, dict):
        ref = dict(ref_raw)
    elif isinstance(ref_raw, list):
        for item in ref_raw:
            if "=" in str(item):
                k, _, v = str(item).partition("=")
                ref[k.strip()] = parse_value(v)
            elif len(checked) == 1:
                ref[checked[0][0]] = parse_value(str(item))
            else:
                raise ConfigError(f"--reference {item!r}: with several parameters use NAME=VALUE")
    elif ref_raw is not None:
        if len(checked) != 1:
            raise ConfigError(
                f"{where}.reference: with several parameters use a table NAME = VALUE"
            )
        ref[checked[0][0]] = ref_raw
    for k in ref:
        if k not in dict(checked):
            raise ConfigError(
                f"--reference {k}: not a swept parameter ({', '.join(dict(checked))})"
            )
    reference_t = []
    for p, _ in checked:
        v = ref[p] if p in ref else REFERENCE_VALUES.get(p, cls.params[p].default)
        reference_t.append((p, cls.params[p].check(p, parse_value(v) if isinstance(v, str) else v)))

    # seeds
    seeds_raw = seeds if seeds is not None else table.get("seeds", 1)
    if isinstance(seeds_raw, list):
        if not seeds_raw or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds_raw
        ):
            raise ConfigError(
                f"{where}.seeds: expected a positive count or a list of seeds >= 0, got {seeds_raw!r}"
            )
        seed_t = tuple(seeds_raw)
    else:
        if not isinstance(seeds_raw, int) or isinstance(seeds_raw, bool) or seeds_raw < 1:
            raise ConfigError(f"--seeds {seeds_raw!r}: expected a count >= 1")
        seed_t = tuple(range(seeds_raw))
    if len(set(seed_t)) != len(seed_t):
        raise ConfigError(f"seeds: duplicates in {list(seed_t)}")

    suite_path = suite or (base / table["suite"] if "suite" in table else None)
    if suite_path is None:
        raise ConfigError(f"no evaluation suite: pass --suite SUITE.toml (or set {where}.suite)")
    comp = compare if compare is not None else table.get("compare", [])
    if isinstance(comp, str):
        comp = [comp]
    comp_t = tuple(g.strip() for item in comp for g in str(item).split(",") if g.strip())
    for g in comp_t:
        config.generator_table(g)
    metrics_spec = metrics if metrics is not None else table.get("metrics")
    if isinstance(metrics_spec, list):
        metrics_t = tuple(metrics_spec)
    else:
        metrics_t = config.metric_set(metrics_spec)
    ex = executor or table.get("executor", "local")
    if ex not in EXECUTORS:
        raise ConfigError(f"--executor {ex!r}: allowed values are {', '.join(EXECUTORS)}")
    slurm = table.get("slurm", {})
    if not isinstance(slurm, dict):
        raise ConfigError(f"{where}.slurm: expected a table")
    nm = name or table.get("name") or "ablate_" + "+".join(p for p, _ in checked)
    if not _NAME.match(nm):
        raise ConfigError(f"--name {nm!r}: use letters, digits and . _ = + - (it is a folder name)")
    w = workers if workers is not None else table.get("workers", 0)
    if not isinstance(w, int) or w < 0:
        raise ConfigError(
            f"--workers {w!r}: expected an integer >= 0 (0 = as many as the cores allow)"
        )
    thr = threads or table.get("threads") or config.threads
    vid = videos if videos is not None else table.get("videos", False)
    return AblationSpec(
        name=nm,
        trainer=trainer_name,
        params=tuple(checked),
        seeds=seed_t,
        suite=Path(suite_path),
        train=fixed,
        compare=comp_t,
        reference=tuple(reference_t),
        metrics=metrics_t,
        executor=ex,
        workers=w,
        device=config.resolve_device(device or table.get("device")),
        threads=int(thr),
        save_videos=bool(vid),
        slurm=dict(slurm),
    )


# ---------------------------------------------------------------------------- variants and jobs
@dataclass(frozen=True)
class Variant:
    values: tuple[tuple[str, Any], ...]
    seed: int
    label: str  # without the seed: the table row
    generator: str  # label + _s<seed>: the run's generator name
    overrides: dict[str, Any]  # trainer config: fixed + swept values
    full_config: dict[str, Any]  # every trainer parameter (defaults included)
    train_dir: Path


def plan(spec: AblationSpec, root: Path) -> list[Variant]:
    """Every value combination × seed, in grid order, with its cache folder."""
    cls = _trainer_class(spec.trainer, "trainer")
    out = []
    for combo in itertools.product(*(vals for _, vals in spec.params)):
        values = tuple(zip(spec.param_names, combo, strict=True))
        label = variant_label(values)
        for seed in spec.seeds:
            overrides = {**spec.train, **dict(values)}
            trainer = cls(device=spec.device, **overrides)  # validates the whole config
            full = dict(trainer.config)
            inputs = {
                k: fp for k, v in full.items() if isinstance(v, str) and (fp := _fingerprint(v))
            }
            if hasattr(trainer, "fingerprint"):  # optional hook: what else the training reads
                inputs["trainer"] = trainer.fingerprint()
            digest = config_hash(
                {"trainer": spec.trainer, "config": full, "seed": seed, "inputs": inputs}
            )
            out.append(
                Variant(
                    values,
                    seed,
                    label,
                    f"{label}_s{seed}",
                    overrides,
                    full,
                    root / "train" / digest,
                )
            )
    return out


def _fingerprint(value: str) -> str:
    """Content identity of a config value that names a file or folder (e.g. a base checkpoint),
    so that retraining the base invalidates the cached variants; '' for anything else."""
    import hashlib

    try:
        p = Path(value)
        if not value or len(value) > 4096 or not p.exists():
            return ""
        files = sorted(f for f in p.rglob("*") if f.is_file())[:500] if p.is_dir() else [p]
    except (OSError, ValueError):
        return ""
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(p) if p.is_dir() else f.name}:{st.st_size}".encode())
        if st.st_size <= 64 << 20:  # small files by content; big weights by size + mtime
            h.update(hashlib.sha256(f.read_bytes()).digest())
        else:
            h.update(str(st.st_mtime_ns).encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Job:
    """One unit of work for an executor: (train if needed, then) evaluate one generator."""

    generator: str
    index: int
    total: int
    suite: Any
    config: Config
    metrics: tuple[str, ...]
    run_root: Path
    status_path: Path
    device: str
    threads: int
    save_videos: bool
    show_progress: bool
    trainer: Any = None  # trainer class (None: a comparison generator, nothing to train)
    trainer_name: str = ""
    overrides: dict[str, Any] = field(default_factory=dict)
    full_config: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    train_dir: Path | None = None
    table: dict[str, Any] | None = None


def _status(job: Job, phase: str, step: int = 0, total: int = 0) -> None:
    atomic_write_json(
        job.status_path, {"phase": phase, "step": step, "total": total, "time": time.time()}
    )


def _train(job: Job) -> tuple[dict[str, Any], bool]:
    """Train (or resume, or reuse) one variant; returns (done.json content, was cached)."""
    assert job.train_dir is not None
    done = job.train_dir / "done.json"
    if done.is_file():
        return json.loads(done.read_text()), True
    atomic_write_json(
        job.train_dir / "spec.json",
        {
            "trainer": job.trainer_name,
            "overrides": job.overrides,
            "config": job.full_config,
            "seed": job.seed,
            "generator": job.generator,
        },
    )
    trainer = job.trainer(device=job.device, **job.overrides)
    t0 = time.perf_counter()
    last = [0.0]

    def report(step: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] >= 0.5 or step >= total:  # status files for the parallel display
            last[0] = now
            _status(job, "training", step, total)
            if bar is not None:
                bar[0].update(bar[1], completed=step, total=total)

    bar = None
    if job.show_progress:
        from svibench.runner import _progress

        progress = _progress(True, None)
        with progress:
            bar = (progress, progress.add_task(f"train {job.generator}", total=None))
            result = trainer.train(job.train_dir / "checkpoint", job.seed, progress=report)
    else:
        result = trainer.train(job.train_dir / "checkpoint", job.seed, progress=report)
    meta = {
        "checkpoint": str(result.checkpoint),
        "steps": int(result.steps),
        "metrics": {k: float(v) for k, v in result.metrics.items()},
        "generator": trainer.generator(result),
        "seconds": time.perf_counter() - t0,
    }
    atomic_write_json(done, meta)
    (job.train_dir / "failed.json").unlink(missing_ok=True)
    return meta, False


def run_job(job: Job) -> dict[str, Any]:
    """Executor entry point (module level, picklable): never raises for a failing variant."""
    from svibench.executors import describe
    from svibench.runner import run_suite, set_threads

    set_threads(job.threads)
    out: dict[str, Any] = {
        "generator": job.generator,
        "status": "ok",
        "phase": "",
        "error": "",
        "cached": False,
        "train": None,
    }
    if job.show_progress:
        from rich.console import Console

        what = "train + evaluate" if job.trainer is not None else "evaluate"
        Console().print(
            f"[bold][{job.index + 1}/{job.total}][/bold] {what} [cyan]{job.generator}[/cyan]"
        )
    table = job.table
    if job.trainer is not None:
        _status(job, "training")
        try:
            meta, cached = _train(job)
        except Exception as e:  # noqa: BLE001 - one failing variant must not sink the others
            import traceback

            assert job.train_dir is not None
            atomic_write_json(
                job.train_dir / "failed.json",
                {"error": describe(e), "traceback": traceback.format_exc()},
            )
            _status(job, "failed")
            return {**out, "status": "failed", "phase": "train", "error": describe(e)}
        out.update(cached=cached, train=meta)
        table = meta["generator"]
    _status(job, "evaluating")
    try:
        cfg = replace(
            job.config, generator_tables={**job.config.generator_tables, job.generator: table}
        )
        run_suite(
            job.suite,
            cfg,
            (job.generator,),
            job.metrics,
            job.run_root,
            device=job.device,
            threads=job.threads,
            save_videos=job.save_videos,
            show_progress=job.show_progress,
        )
    except Exception as e:  # noqa: BLE001
        _status(job, "failed")
        return {
            **out,
            "status": "failed",
            "phase": "evaluate",
            "error": describe(e),
            "table": table,
        }
    _status(job, "done")
    return {**out, "table": table}


# ---------------------------------------------------------------------------- orchestration
@dataclass
class AblationResult:
    root: Path
    spec: AblationSpec
    variants: list[Variant]
    outcomes: dict[str, dict[str, Any]]  # generator -> run_job outcome
    markdown: Path | None = None
    table: Any = None  # pandas DataFrame (long)
    paired: Any = None
    headline: str = ""  # the metric the summary leads with (report.RunData.headline)

    @property
    def failed(self) -> list[str]:
        return [g for g, o in self.outcomes.items() if o["status"] != "ok"]

    @property
    def trained(self) -> list[str]:
        return [g for g, o in self.outcomes.items() if o.get("train") and not o.get("cached")]


def run_ablation(
    spec: AblationSpec,
    config: Config,
    fresh: bool = False,
    show_progress: bool = True,
    console: Any = None,
    plots: bool = True,
) -> AblationResult:
    """Train, evaluate and tabulate every variant of ``spec``; results under results/<name>/."""
    from svibench.executors import JobFailure, LocalExecutor, make_executor
    from svibench.suite import load_suite

    root = config.results / spec.name
    if fresh and root.exists():
        import shutil

        for item in _OUTPUTS:  # only what ablate writes: a README or .gitignore there survives
            path = root / item
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    suite = load_suite(spec.suite, datasets=config.datasets)
    variants = plan(spec, root)
    atomic_write_json(root / "spec.json", spec.to_json())
    cls = _trainer_class(spec.trainer, "trainer")
    executor = make_executor(
        spec.executor,
        threads=spec.threads,
        workers=spec.workers,
        device=spec.device,
        folder=root / "slurm",
        slurm=spec.slurm,
    )
    inline = isinstance(executor, LocalExecutor) and show_progress
    common = dict(
        suite=suite,
        config=config,
        metrics=spec.metrics,
        run_root=root / "run",
        device=spec.device,
        threads=spec.threads,
        save_videos=spec.save_videos,
        show_progress=inline,
    )
    total = len(spec.compare) + len(variants)
    jobs = [
        Job(
            generator=g,
            index=i,
            total=total,
            status_path=root / "status" / f"{g}.json",
            table=config.generator_table(g),
            **common,
        )
        for i, g in enumerate(spec.compare)
    ]
    jobs += [
        Job(
            generator=v.generator,
            index=len(spec.compare) + i,
            total=total,
            status_path=root / "status" / f"{v.generator}.json",
            trainer=cls,
            trainer_name=spec.trainer,
            overrides=v.overrides,
            full_config=v.full_config,
            seed=v.seed,
            train_dir=v.train_dir,
            **common,
        )
        for i, v in enumerate(variants)
    ]
    for j in jobs:
        j.status_path.unlink(missing_ok=True)
    if inline or not show_progress:
        results = executor.map(run_job, jobs)
    else:
        with _Watcher(jobs, console) as watch:
            results = executor.map(run_job, jobs, watch=watch)
    outcomes = {}
    for job, res in zip(jobs, results, strict=True):
        if isinstance(res, JobFailure):
            res = {
                "generator": job.generator,
                "status": "failed",
                "phase": "job",
                "error": res.error,
                "cached": False,
                "train": None,
            }
        outcomes[job.generator] = res
    result = AblationResult(root, spec, variants, outcomes)
    finalize(result, suite, config, plots=plots)
    return result


class _Watcher:
    """A rich display for jobs running elsewhere: one bar per job, read from its status file."""

    def __init__(self, jobs: list[Job], console: Any) -> None:
        from svibench.runner import _progress

        self.jobs = jobs
        self.progress = _progress(True, console)
        self.tasks: dict[str, Any] = {}

    def __enter__(self):
        self.progress.__enter__()
        for j in self.jobs:
            self.tasks[j.generator] = self.progress.add_task(f"queued   {j.generator}", total=None)
        return self

    def __exit__(self, *exc):
        self()
        return self.progress.__exit__(*exc)

    def __call__(self) -> None:
        for j in self.jobs:
            try:
                st = json.loads(j.status_path.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            task = self.tasks[j.generator]
            phase = st.get("phase", "")
            kw: dict[str, Any] = {"description": f"{phase:<10} {j.generator}"}
            if phase == "training" and st.get("total"):
                kw.update(completed=st["step"], total=st["total"])
            elif phase in ("done", "failed"):
                kw.update(completed=1, total=1)
            self.progress.update(task, **kw)


# ---------------------------------------------------------------------------- the table
def _units(result: AblationResult):
    """Committed rows of this ablation, relabelled: generator -> row label, case -> (case, seed) unit."""
    import pandas as pd

    from svibench.report import load_run

    ok = {g for g, o in result.outcomes.items() if o["status"] == "ok"}
    if not ok or not (result.root / "run" / "manifest.json").exists():
        return None, None
    run = load_run(result.root / "run")
    rows = run.rows[run.rows["generator"].isin(ok)].copy()
    label = {v.generator: v.label for v in result.variants}
    seed = {v.generator: v.seed for v in result.variants}
    units = [
        f"{c}@s{seed[g]}" if g in seed else c
        for g, c in zip(rows["generator"], rows["case"], strict=True)
    ]
    rows["case"] = units
    rows["generator"] = [label.get(g, g) for g in rows["generator"]]
    if isinstance(run.seconds_per_clip, dict):  # generators' m differ: the time axis per label
        spc = {label.get(g, g): s for g, s in run.seconds_per_clip.items()}
        run = replace(run, seconds_per_clip=spc)
    return run, rows.reset_index(drop=True) if len(rows) else pd.DataFrame(columns=run.rows.columns)


def _row_order(result: AblationResult) -> list[tuple[str, str]]:
    """(label, kind) in table order: grid order of the variants, then comparison generators."""
    seen: list[str] = []
    for v in result.variants:
        if v.label not in seen:
            seen.append(v.label)
    return [(lb, "variant") for lb in seen] + [(g, "compare") for g in result.spec.compare]


def build_tables(result: AblationResult):
    """(long table, paired tests, unit-level values) as pandas DataFrames."""
    import pandas as pd

    from svibench.drift import aggregate_cases, bootstrap_ci, drift_table, holm, paired_test

    run, rows = _units(result)
    spec = result.spec
    ref_label = variant_label(spec.reference)
    status: dict[str, dict[str, Any]] = {}
    for lb, kind in _row_order(result):
        gens = (
            [v.generator for v in result.variants if v.label == lb] if kind == "variant" else [lb]
        )
        outs = [result.outcomes.get(g, {"status": "failed", "error": "not run"}) for g in gens]
        n_ok = sum(o["status"] == "ok" for o in outs)
        errors = sorted(
            {f"{o.get('phase', '')}: {o['error']}".strip(": ") for o in outs if o["status"] != "ok"}
        )
        st = "ok" if n_ok == len(outs) else ("failed" if n_ok == 0 else "partial")
        values = (
            dict(result.variants[[v.label for v in result.variants].index(lb)].values)
            if kind == "variant"
            else {}
        )
        status[lb] = {
            "kind": kind,
            "status": st,
            "seeds_ok": n_ok,
            "seeds": len(outs),
            "error": "; ".join(errors),
            **values,
        }

    records, unit_values = [], []
    if rows is not None and len(rows):
        cm = rows.groupby(["generator", "case", "metric"], sort=True)["value"].mean().reset_index()
        cm["measure"] = "mean"
        dt = drift_table(rows, run.seconds_per_clip, run.directions)
        dl = dt.melt(
            id_vars=["generator", "case", "metric"],
            value_vars=list(DRIFT_MEASURES),
            var_name="measure",
        )
        unit_values = pd.concat([cm, dl], ignore_index=True)
        agg = aggregate_cases(dt, measures=DRIFT_MEASURES)
        for (lb, metric), g in cm.groupby(["generator", "metric"], sort=True):
            mean, low, high = bootstrap_ci(g["value"].to_numpy())
            records.append(
                {
                    "label": lb,
                    "metric": metric,
                    "measure": "mean",
                    "n": len(g),
                    "mean": mean,
                    "low": low,
                    "high": high,
                }
            )
        for r in agg.itertuples():
            records.append(
                {
                    "label": r.generator,
                    "metric": r.metric,
                    "measure": r.measure,
                    "n": r.n,
                    "mean": r.mean,
                    "low": r.low,
                    "high": r.high,
                }
            )
    else:
        unit_values = pd.DataFrame(columns=["generator", "case", "metric", "measure", "value"])
    long = pd.DataFrame.from_records(
        records, columns=["label", "metric", "measure", "n", "mean", "low", "high"]
    )
    meta = pd.DataFrame([{"label": lb, **s} for lb, s in status.items()])
    long = meta.merge(long, on="label", how="left")
    order = {lb: i for i, (lb, _) in enumerate(_row_order(result))}
    long = long.sort_values(
        ["label", "metric", "measure"],
        key=lambda s: s.map(order) if s.name == "label" else s,
        kind="mergesort",
    ).reset_index(drop=True)
    long["reference"] = long["label"] == ref_label

    # paired tests: each variant vs the reference on the same (case, seed) units
    tests = []
    if len(unit_values) and ref_label in set(unit_values["generator"]):
        uv = unit_values.set_index(["generator", "measure", "metric", "case"])["value"].sort_index()
        for lb, kind in _row_order(result):
            if kind != "variant" or lb == ref_label or lb not in set(unit_values["generator"]):
                continue
            for measure in TESTED_MEASURES:
                for metric in run.columns:
                    try:
                        a, b = uv.loc[(lb, measure, metric)], uv.loc[(ref_label, measure, metric)]
                    except KeyError:
                        continue
                    common = sorted(set(a.index) & set(b.index))
                    res = paired_test(a.loc[common].to_numpy(), b.loc[common].to_numpy())
                    tests.append(
                        {
                            "label": lb,
                            "reference": ref_label,
                            "metric": metric,
                            "measure": measure,
                            **res,
                        }
                    )
    paired = pd.DataFrame.from_records(
        tests,
        columns=[
            "label",
            "reference",
            "metric",
            "measure",
            "n",
            "mean_diff",
            "diff_low",
            "diff_high",
            "t_stat",
            "t_p",
            "w_stat",
            "w_p",
        ],
    )
    if len(paired):
        paired["w_p_holm"] = holm(paired["w_p"].to_numpy())  # Holm over every test in the table
        paired["t_p_holm"] = holm(paired["t_p"].to_numpy())
    else:
        paired["w_p_holm"] = paired["t_p_holm"] = []
    return run, long, paired, rows


def _headline(run: Any) -> str:
    return run.headline if run is not None else ""


def render_markdown(result: AblationResult, run: Any, long, paired, plots: list[Path]) -> str:
    spec = result.spec
    ref_label = variant_label(spec.reference)
    head = _headline(run)
    cols = list(run.columns) if run is not None else []
    arrows = {c: ("↑" if run.directions[c] else "↓") for c in cols} if run is not None else {}
    params = ", ".join(
        f"`{p}` ∈ {{{', '.join(format_value(v) for v in vals)}}}" for p, vals in spec.params
    )
    lines = [
        f"# Ablation `{spec.name}`",
        "",
        f"Trainer `{spec.trainer}` ({', '.join(f'{k}={format_value(v)}' for k, v in spec.train.items()) or 'trainer defaults'}), "
        f"swept {params}, seeds {list(spec.seeds)}, evaluated on suite `{spec.suite.name}`.",
        "",
        "Each cell: mean [bootstrap 95 % CI] over (case, seed) units; quality = mean over clips; "
        "drift = relative drop first→last clip (positive = worse) and least-squares slope per minute. "
        f"Reference for the paired tests: `{ref_label}` (marked ★). The same cases recur under every "
        "seed, so units are not fully independent: read the CIs as approximate.",
        "",
    ]
    if ref_label not in set(long["label"]):
        lines += [
            f"> Note: the reference `{ref_label}` is not among the swept values, so no paired tests were made "
            "(pass `--reference`).",
            "",
        ]
    idx = long.set_index(["label", "metric", "measure"]) if len(long) else None

    def get(lb, metric, measure, digits=4):
        key = (lb, metric, measure)
        if idx is None or key not in idx.index:
            return "–"
        r = idx.loc[key]
        return format_ci(r["mean"], r["low"], r["high"], digits)

    status = long.drop_duplicates("label").set_index("label")
    header = [
        "variant",
        "status",
        "seeds",
        *[f"{c} {arrows[c]}" for c in cols],
        f"drift {head} (rel. drop)",
        f"{head} slope / min",
    ]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for lb, kind in _row_order(result):
        s = status.loc[lb]
        mark = " ★" if lb == ref_label else (" (baseline)" if kind == "compare" else "")
        st = s["status"] if s["status"] == "ok" else f"**{s['status']}**: {s['error']}"
        lines.append(
            "| "
            + " | ".join(
                [
                    f"`{lb}`{mark}",
                    st,
                    f"{s['seeds_ok']}/{s['seeds']}",
                    *[get(lb, c, "mean") for c in cols],
                    get(lb, head, "rel_drop", 3),
                    get(lb, head, "slope_per_min", 3),
                ]
            )
            + " |"
        )
    if cols:
        lines += ["", "## Drift per metric (relative drop first→last clip, positive = worse)", ""]
        lines.append("| variant | " + " | ".join(f"{c} {arrows[c]}" for c in cols) + " |")
        lines.append("|---|" + "---|" * len(cols))
        for lb, _ in _row_order(result):
            lines.append(
                f"| `{lb}` | " + " | ".join(get(lb, c, "rel_drop", 3) for c in cols) + " |"
            )
    if len(paired):
        lines += [
            "",
            f"## Paired tests against `{ref_label}` (same cases and seeds)",
            "",
            "Difference = variant − reference. p: Wilcoxon signed-rank (two-sided), Holm-corrected over all "
            f"{len(paired)} tests below; p(t): paired t-test, Holm-corrected.",
            "",
        ]
        reach = [can_reach(int(n), len(paired)) for n in paired["n"]]
        if not all(reach):
            lines += [
                f"**{reach.count(False)} of {len(paired)} tests cannot reach p < 0.05: with "
                f"n = {int(paired['n'].min())} cases the smallest attainable Holm p is "
                f"{min(1.0, len(paired) * 2.0 / 2.0 ** int(paired['n'].min())):.3g}.**",
                "",
            ]
        lines.append("| variant | metric | measure | diff [95 % CI] | p (Holm) | p(t) (Holm) | n |")
        lines.append("|---|---|---|---|---|---|---|")
        for r in paired.itertuples():
            sig = " **" if np.isfinite(r.w_p_holm) and r.w_p_holm < 0.05 else ""
            what = "quality" if r.measure == "mean" else "drift (rel. drop)"
            lines.append(
                f"| `{r.label}` | {r.metric} {arrows.get(r.metric, '')} | {what} | "
                f"{format_ci(r.mean_diff, r.diff_low, r.diff_high)} | {sig}{format_ci(r.w_p_holm, digits=3)}{sig.strip() and '**'} | "
                f"{format_ci(r.t_p_holm, digits=3)} | {int(r.n)} |"
            )
    train_rows = []
    for v in result.variants:
        o = result.outcomes.get(v.generator, {})
        t = o.get("train") or {}
        m = t.get("metrics", {})
        train_rows.append(
            f"| `{v.generator}` | {o.get('status', '?')}{' (cached)' if o.get('cached') else ''} | "
            f"{t.get('steps', '–')} | {format_ci(m.get('final_loss', np.nan))} | "
            f"{format_ci(t.get('seconds', np.nan), digits=1)} | `{v.train_dir.name}` |"
        )
    lines += [
        "",
        "## Training",
        "",
        "| variant / seed | status | steps | final loss | train s | cache |",
        "|---|---|---|---|---|---|",
        *train_rows,
    ]
    if plots:
        lines += ["", "## Plots", ""]
        for p in plots:
            lines.append(f"![{p.stem}]({p.relative_to(result.root).as_posix()})")
    return "\n".join(lines) + "\n"


def plot_vs_value(result: AblationResult, run: Any, long, folder: Path) -> list[Path]:
    """Per metric: quality and drift (rel. drop) against the first swept parameter, 95 % CI bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spec = result.spec
    p0, vals0 = spec.params[0]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals0)
    xpos = {format_value(v): (float(v) if numeric else i) for i, v in enumerate(vals0)}
    others = spec.params[1:]
    paths = []
    for metric in run.columns:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.0), dpi=200)
        for ax, measure, title in (
            (axes[0], "mean", f"{metric} (mean over clips)"),
            (axes[1], "rel_drop", f"drift of {metric} (rel. drop, + = worse)"),
        ):
            sub = long[(long["metric"] == metric) & (long["measure"] == measure)]
            compared: list[tuple] = []
            for combo in itertools.product(*(v for _, v in others)):
                fixed = dict(zip([p for p, _ in others], combo, strict=True))
                pts = []
                for v in vals0:
                    lb = variant_label(tuple([(p0, v), *fixed.items()]))
                    r = sub[sub["label"] == lb]
                    if len(r) and np.isfinite(r["mean"].iloc[0]):
                        pts.append(
                            (
                                xpos[format_value(v)],
                                *r[["mean", "low", "high"]].iloc[0].to_numpy(dtype=float),
                            )
                        )
                if not pts:
                    continue
                x, m, lo, hi = (np.array(c) for c in zip(*pts, strict=True))
                err = np.vstack([np.nan_to_num(m - lo), np.nan_to_num(hi - m)])
                name = ", ".join(f"{k}={format_value(v)}" for k, v in fixed.items()) or "variants"
                ax.errorbar(x, m, yerr=err, marker="o", capsize=3, label=f"{name} (bars: 95 % CI)")
            for g in spec.compare:
                r = sub[sub["label"] == g]
                if len(r) and np.isfinite(r["mean"].iloc[0]):
                    line = ax.axhline(r["mean"].iloc[0], ls="--", lw=1, color="gray")
                    if np.isfinite(r["low"].iloc[0]):
                        band = ax.axhspan(
                            r["low"].iloc[0], r["high"].iloc[0], color="gray", alpha=0.15
                        )
                        line = (band, line)  # one legend entry: the line over its band
                    compared.append((line, f"{g} (mean, band: 95 % CI)"))
                    ax.annotate(
                        g,
                        (0.01, r["mean"].iloc[0]),
                        xycoords=("axes fraction", "data"),
                        fontsize=7,
                        color="gray",
                    )
            if not numeric:
                ax.set_xticks(list(xpos.values()), list(xpos))
            ax.set_xlabel(p0)
            ax.set_title(title, fontsize=9)
            ax.grid(alpha=0.3)
            handles, labels = ax.get_legend_handles_labels()
            if handles or compared:
                ax.legend(
                    handles + [h for h, _ in compared],
                    labels + [t for _, t in compared],
                    fontsize=7,
                )
        fig.suptitle(f"{spec.name}: mean and 95 % CI over (case, seed)", fontsize=9)
        fig.tight_layout()
        paths.append(save_png(fig, folder / f"{metric}_vs_{p0}.png"))
    return paths


def finalize(
    result: AblationResult, suite: Any, config: Config, plots: bool = True
) -> AblationResult:
    """The merge step: tables (Markdown + parquet) and plots (the store's claims need no repair)."""
    import pandas as pd

    from svibench.report import RunData, plot_curves

    run, long, paired, rows = build_tables(result)
    result.headline = _headline(run)
    pngs: list[Path] = []
    if plots and run is not None and rows is not None and len(rows):
        pngs += plot_vs_value(result, run, long, result.root / "plots")
        relabelled = RunData(
            result.root, result.spec.name, rows, run.directions, run.columns, run.seconds_per_clip
        )
        pngs += plot_curves(relabelled, result.root / "plots")
    root = result.root
    atomic_write(root / "ablation.parquet", lambda p: long.to_parquet(p, index=False))
    atomic_write(root / "paired.parquet", lambda p: paired.to_parquet(p, index=False))
    training = pd.DataFrame(
        [
            {
                "generator": v.generator,
                "label": v.label,
                "seed": v.seed,
                "train_dir": v.train_dir.name,
                "status": result.outcomes.get(v.generator, {}).get("status", "?"),
                "error": result.outcomes.get(v.generator, {}).get("error", ""),
                "cached": bool(result.outcomes.get(v.generator, {}).get("cached")),
                "steps": (result.outcomes.get(v.generator, {}).get("train") or {}).get("steps", -1),
                "final_loss": (result.outcomes.get(v.generator, {}).get("train") or {})
                .get("metrics", {})
                .get("final_loss", np.nan),
                "train_s": (result.outcomes.get(v.generator, {}).get("train") or {}).get(
                    "seconds", np.nan
                ),
                **{f"param:{p}": format_value(x) for p, x in v.values},
            }
            for v in result.variants
        ]
    )
    atomic_write(root / "training.parquet", lambda p: training.to_parquet(p, index=False))
    md = render_markdown(result, run, long, paired, pngs)
    result.markdown = atomic_write_text(root / "ablation.md", md)
    result.table, result.paired = long, paired
    return result


def print_summary(result: AblationResult, console: Any) -> None:
    """A compact rich table: headline quality and drift per variant, and its Holm p."""
    from rich.table import Table

    long, paired = result.table, result.paired
    if long is None:
        return
    head = result.headline
    ref = variant_label(result.spec.reference)
    t = Table(title=f"ablation {result.spec.name}: {head}, mean [95 % CI] over (case, seed)")
    t.add_column("variant", overflow="fold")
    for c in ("status", head, "drift (rel. drop)", "p vs ref (Holm)"):
        t.add_column(c)
    idx = long.set_index(["label", "metric", "measure"]) if len(long) else None
    pi = paired.set_index(["label", "metric", "measure"]) if len(paired) else None
    for lb, s in long.drop_duplicates("label").set_index("label").iterrows():

        def g(measure, lb=lb):
            key = (lb, head, measure)
            return (
                format_ci(*idx.loc[key, ["mean", "low", "high"]])
                if idx is not None and key in idx.index
                else "–"
            )

        p = (
            pi.loc[(lb, head, "mean"), "w_p_holm"]
            if pi is not None and (lb, head, "mean") in pi.index
            else np.nan
        )
        st = s["status"] if s["status"] == "ok" else f"[red]{s['status']}[/red]"
        t.add_row(
            lb + (" ★" if lb == ref else ""), st, g("mean"), g("rel_drop"), format_ci(p, digits=3)
        )
    console.print(t)
    for g, o in result.outcomes.items():
        if o["status"] != "ok":
            console.print(f"[red]failed[/red] {g} ({o.get('phase')}): {o['error']}")
    if result.markdown:
        console.print(f"wrote {result.markdown}")
