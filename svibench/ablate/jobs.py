"""Ablation jobs: plan every value combination x seed, train each variant (or reuse its cached
training), evaluate it through the normal runner, and hand the rows to the ablation tables.

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
Parallel jobs write one run folder: the store's per-writer claim files make that safe without a
repair step. Statistics: svibench.ablate.tables.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from svibench.ablate.spec import AblationSpec, trainer_class, variant_label
from svibench.ablate.tables import finalize
from svibench.atomic import atomic_write_json
from svibench.config import Config
from svibench.executors import JobFailure, LocalExecutor, describe, make_executor
from svibench.log_progress import progress_display
from svibench.runner import run_suite, set_threads
from svibench.store import config_hash
from svibench.suite import load_suite

OUTPUTS = (  # what ablate writes under its folder (--fresh deletes only these)
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
    cls = trainer_class(spec.trainer, "trainer")
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
    with progress_display(job.show_progress, None) as progress:
        task = progress.add_task(f"train {job.generator}", total=None)

        def report(step: int, total: int) -> None:
            now = time.perf_counter()
            if now - last[0] >= 0.5 or step >= total:  # status files for the parallel display
                last[0] = now
                _status(job, "training", step, total)
                progress.update(task, completed=step, total=total)

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


def _outcome_of(generator: str) -> dict[str, Any]:
    """A job's outcome before anything went wrong (run_job fills in training and failures)."""
    return {
        "generator": generator,
        "status": "ok",
        "phase": "",
        "error": "",
        "cached": False,
        "train": None,
    }


def _failed(
    job: Job, out: dict[str, Any], phase: str, error: Exception, **extra: Any
) -> dict[str, Any]:
    """The outcome of a job that failed in ``phase`` (its status file says so too)."""
    _status(job, "failed")
    return {**out, "status": "failed", "phase": phase, "error": describe(error), **extra}


def run_job(job: Job) -> dict[str, Any]:
    """Executor entry point (module level, picklable): never raises for a failing variant."""
    set_threads(job.threads)
    out = _outcome_of(job.generator)
    if job.show_progress:
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
            assert job.train_dir is not None
            atomic_write_json(
                job.train_dir / "failed.json",
                {"error": describe(e), "traceback": traceback.format_exc()},
            )
            return _failed(job, out, "train", e)
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
        return _failed(job, out, "evaluate", e, table=table)
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
    headline: str = ""  # the metric the summary leads with (tables.RunData.headline)

    @property
    def failed(self) -> list[str]:
        return [g for g, o in self.outcomes.items() if o["status"] != "ok"]

    @property
    def trained(self) -> list[str]:
        return [g for g, o in self.outcomes.items() if o.get("train") and not o.get("cached")]

    @property
    def reference_label(self) -> str:
        """The table row the paired tests compare every variant with."""
        return variant_label(self.spec.reference)

    def row_order(self) -> list[tuple[str, str]]:
        """(label, kind) in table order: grid order of the variants, then comparison generators."""
        seen: list[str] = []
        for v in self.variants:
            if v.label not in seen:
                seen.append(v.label)
        return [(lb, "variant") for lb in seen] + [(g, "compare") for g in self.spec.compare]


def _clear(root: Path) -> None:
    """--fresh: delete only what ablate writes (a README or .gitignore there survives)."""
    for item in OUTPUTS:
        path = root / item
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _jobs(
    spec: AblationSpec, config: Config, root: Path, variants: list[Variant], common: dict
) -> list[Job]:
    """The comparison generators' jobs, then one per variant (train + evaluate)."""
    cls = trainer_class(spec.trainer, "trainer")
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
    return jobs


def _outcome(job: Job, res: Any) -> dict[str, Any]:
    """run_job's outcome; a job the executor lost (crash, cancelled) as a failed one."""
    if not isinstance(res, JobFailure):
        return res
    return {**_outcome_of(job.generator), "status": "failed", "phase": "job", "error": res.error}


def run_ablation(
    spec: AblationSpec,
    config: Config,
    fresh: bool = False,
    show_progress: bool = True,
    console: Any = None,
    plots: bool = True,
) -> AblationResult:
    """Train, evaluate and tabulate every variant of ``spec``; results under results/<name>/."""
    root = config.results / spec.name
    if fresh and root.exists():
        _clear(root)
    suite = load_suite(spec.suite, datasets=config.datasets)
    variants = plan(spec, root)
    atomic_write_json(root / "spec.json", spec.to_json())
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
    jobs = _jobs(spec, config, root, variants, common)
    if inline or not show_progress:
        results = executor.map(run_job, jobs)
    else:
        with Watcher(jobs, console) as watch:
            results = executor.map(run_job, jobs, watch=watch)
    outcomes = {job.generator: _outcome(job, res) for job, res in zip(jobs, results, strict=True)}
    return finalize(AblationResult(root, spec, variants, outcomes), plots=plots)


class Watcher:
    """A rich display for jobs running elsewhere: one bar per job, read from its status file."""

    def __init__(self, jobs: list[Job], console: Any) -> None:
        self.jobs = jobs
        self.progress = progress_display(True, console)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> Watcher:
        self.progress.__enter__()
        for j in self.jobs:
            self.tasks[j.generator] = self.progress.add_task(f"queued   {j.generator}", total=None)
        return self

    def __exit__(self, *exc: object) -> Any:
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
