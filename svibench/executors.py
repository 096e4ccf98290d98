"""Where the jobs of an ablation run: in this process, in local worker processes, or on SLURM.

Every executor takes a picklable module-level function and a list of jobs and returns one
outcome per job, in job order. A job that raises becomes a :class:`JobFailure` (its message is
kept) so the other jobs still finish; Ctrl-C / a kill stops everything, and rerunning resumes
because jobs write their results to disk themselves. ``watch`` is called about once a second
while jobs run so the caller can refresh a progress display from the jobs' status files.

* ``local``    sequential, in this process (the job may draw its own rich progress).
* ``parallel`` ``concurrent.futures.ProcessPoolExecutor`` (spawn) with one worker per
  ``threads`` CPU cores, or one per visible GPU (each worker pinned with CUDA_VISIBLE_DEVICES).
* ``slurm``    submitit: one job per item (``cluster="slurm"``); ``cluster="local"`` /
  ``"debug"`` run the same code path on this machine (used by the tests).
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from svibench.errors import ConfigError

EXECUTORS = ("local", "parallel", "slurm")
SLURM_KEYS = {
    "cluster",  # slurm (default) | local | debug
    "partition",
    "timeout_min",
    "gpus_per_node",
    "cpus_per_task",
    "mem_gb",
    "account",
    "qos",
    "constraint",
    "array_parallelism",
    "setup",  # shell lines run at the start of every job (module load, conda activate)
}


@dataclass(frozen=True)
class JobFailure:
    """A job that raised (or whose worker died): ``error`` is one line for the report."""

    error: str


def describe(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {msg[-1] if msg else ''}".strip().rstrip(":")


class Executor(ABC):
    name: str = ""

    @abstractmethod
    def map(
        self,
        fn: Callable[[Any], Any],
        jobs: Sequence[Any],
        watch: Callable[[], None] | None = None,
    ) -> list[Any]:
        """``[fn(job) or JobFailure]`` in job order."""


class LocalExecutor(Executor):
    name = "local"

    def map(self, fn, jobs, watch=None):
        out = []
        for job in jobs:
            try:
                out.append(fn(job))
            except Exception as e:  # noqa: BLE001 - a failed job is reported, the others go on
                out.append(JobFailure(describe(e)))
            if watch:
                watch()
        return out


def visible_gpus(count: int) -> list[str]:
    """The ids to put in CUDA_VISIBLE_DEVICES for GPU 0..count-1 *as this process sees them*.

    With CUDA_VISIBLE_DEVICES=2,5 set for the parent, its cuda:1 is physical GPU 5: a worker
    pinned to "1" would land on physical GPU 1, which may belong to someone else.
    """
    parent = [g.strip() for g in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if g.strip()]
    return [parent[i] if i < len(parent) else str(i) for i in range(count)]


def _init_worker(threads: int, gpus: Any) -> None:
    """Runs first in every spawned worker: pin threads (and one GPU) before torch is imported.

    The worker then sees exactly one GPU, as cuda:0.
    """
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    if gpus is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpus.get())


@dataclass
class ParallelExecutor(Executor):
    """Local worker processes; ``workers=0`` = as many as the cores (or GPUs) allow."""

    threads: int = 1
    workers: int = 0
    gpus: int = 0  # > 0: one worker per GPU
    name: str = field(default="parallel", init=False)

    def n_workers(self, n_jobs: int) -> int:
        if self.gpus:
            cap = self.gpus
        else:
            cap = max(1, (os.cpu_count() or 1) // max(1, self.threads))
        return max(1, min(n_jobs, self.workers or cap, cap))  # never more than the cores / GPUs

    def map(self, fn, jobs, watch=None):
        import multiprocessing as mp
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool

        if not jobs:
            return []
        ctx = mp.get_context("spawn")  # fork after torch threads start can deadlock
        n = self.n_workers(len(jobs))
        queue = None
        if self.gpus:
            queue = ctx.Manager().Queue()
            ids = visible_gpus(self.gpus)
            for i in range(n):
                queue.put(ids[i % self.gpus])
        out: list[Any] = [None] * len(jobs)
        with ProcessPoolExecutor(
            n, mp_context=ctx, initializer=_init_worker, initargs=(self.threads, queue)
        ) as pool:
            futures = {pool.submit(fn, job): i for i, job in enumerate(jobs)}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                for f in done:
                    try:
                        out[futures[f]] = f.result()
                    except BrokenProcessPool:
                        out[futures[f]] = JobFailure(
                            "worker process died (killed or out of memory)"
                        )
                    except Exception as e:  # noqa: BLE001
                        out[futures[f]] = JobFailure(describe(e))
                if watch:
                    watch()
        return out


@dataclass
class SlurmExecutor(Executor):
    """One submitit job per item; this process waits and returns the outcomes (the merge)."""

    folder: Path
    params: dict[str, Any] = field(default_factory=dict)
    where: str = "[ablate.slurm]"  # the config table the params came from, for messages
    name: str = field(default="slurm", init=False)

    def _executor(self):
        import submitit

        params = dict(self.params)
        cluster = params.pop("cluster", "slurm")
        if cluster not in ("slurm", "local", "debug"):
            raise ConfigError(
                f"{self.where}.cluster: allowed values are slurm, local, debug; got {cluster!r}"
            )
        try:
            ex = submitit.AutoExecutor(folder=self.folder, cluster=cluster)
        except RuntimeError as e:  # e.g. no srun on this machine
            raise ConfigError(
                f'--executor slurm: {e} (set {self.where}.cluster = "local" to run the jobs here)'
            ) from None
        mapping = {
            "partition": "slurm_partition",
            "account": "slurm_account",
            "qos": "slurm_qos",
            "constraint": "slurm_constraint",
            "array_parallelism": "slurm_array_parallelism",
            "setup": "slurm_setup",
        }
        kw = {mapping.get(k, k): v for k, v in params.items()}
        if cluster != "slurm":  # slurm-only keys mean nothing to the local executors
            kw = {k: v for k, v in kw.items() if not k.startswith("slurm_")}
        ex.update_parameters(**kw)
        return ex

    def map(self, fn, jobs, watch=None):
        if not jobs:
            return []
        ex = self._executor()
        with ex.batch():  # one job array: array_parallelism caps how many run at once
            submitted = [ex.submit(fn, job) for job in jobs]
        while not all(j.done() for j in submitted):
            if watch:
                watch()
            time.sleep(1.0)
        out = []
        for j in submitted:
            try:
                out.append(j.result())
            except Exception as e:  # noqa: BLE001 - submitit wraps the job's error
                out.append(JobFailure(describe(e)))
        if watch:
            watch()
        return out


def make_executor(
    kind: str,
    threads: int = 1,
    workers: int = 0,
    device: str = "cpu",
    folder: Path | None = None,
    slurm: dict[str, Any] | None = None,
    where: str = "[ablate.slurm]",
) -> Executor:
    """The executor named ``kind`` (``local`` | ``parallel`` | ``slurm``)."""
    if kind == "local":
        return LocalExecutor()
    if kind == "parallel":
        gpus = 0
        if device.startswith("cuda"):
            import torch

            gpus = torch.cuda.device_count()
        return ParallelExecutor(threads=threads, workers=workers, gpus=gpus)
    if kind == "slurm":
        unknown = sorted(set(slurm or {}) - SLURM_KEYS)
        if unknown:
            raise ConfigError(
                f"{where}: unknown key '{unknown[0]}' (allowed: {', '.join(sorted(SLURM_KEYS))})"
            )
        if folder is None:
            raise ConfigError("slurm executor: no log folder given")
        return SlurmExecutor(Path(folder), dict(slurm or {}), where)
    raise ConfigError(f"--executor {kind!r}: allowed values are {', '.join(EXECUTORS)}")
