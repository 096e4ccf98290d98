"""``svibench run --executor local|parallel|slurm --shards N``: one job per shard, retried.

Each shard job is an ordinary resumable ``run_suite`` over its units (svibench/shards.py), with
``keep_going``: a failing (generator, case) is recorded in the worker's progress file and the
shard goes on. After every round the coordinator reads the store; a shard whose units are not
all committed is resubmitted (at most ``retries`` times) and resumes from its committed clips.
A failure that is bad input (a SvibenchError) is not retried: it would only fail again. On
SLURM, a job killed at its time limit or preempted is requeued by submitit (``checkpoint``)
without counting as a retry. The run folder merges by reading, as for hand-launched shards.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from svibench.atomic import atomic_write_json
from svibench.config import Config
from svibench.errors import SvibenchError
from svibench.executors import JobFailure
from svibench.runner import run_suite, set_threads
from svibench.shards import Unit, assign, run_units
from svibench.store import RunStore
from svibench.suite import Suite


@dataclass(frozen=True)
class ShardJob:
    """Everything a worker needs (picklable: it travels to processes and SLURM nodes)."""

    index: int
    count: int
    suite: Suite
    config: Config
    generators: tuple[str, ...]
    metrics: tuple[str, ...]
    root: Path
    device: str  # resolved in the worker: a SLURM login node may have no GPU
    threads: int
    save_videos: bool
    attempt: int = 0


class ShardWorker:
    """Executor entry point. A callable object so that submitit can requeue it (checkpoint)."""

    def __call__(self, job: ShardJob) -> dict[str, Any]:
        set_threads(job.threads)
        try:
            device = job.config.resolve_device(job.device)
            result = run_suite(
                job.suite,
                job.config,
                job.generators,
                job.metrics,
                job.root,
                device=device,
                threads=job.threads,
                shard=(job.index, job.count),
                save_videos=job.save_videos,
                show_progress=False,
                keep_going=True,
            )
        except SvibenchError as e:  # bad input before any unit ran (e.g. a manifest mismatch)
            return {"shard": job.index, "input_error": str(e), "failures": []}
        t = result.timings
        return {
            "shard": job.index,
            "clips": t.clips,
            "skipped": t.skipped,
            "wall": t.wall,
            "failures": result.failures,
        }

    def checkpoint(self, job: ShardJob) -> Any:
        """submitit calls this on timeout / preemption: resubmit the same shard (it resumes)."""
        import submitit

        return submitit.helpers.DelayedSubmission(self, job)


@dataclass
class ScaleResult:
    root: Path
    shards: list[list[Unit]]
    rounds: int = 0
    incomplete: list[tuple[str, str, str]] = field(default_factory=list)  # gen, case, last error
    clips: int = 0


def committed(root: Path, unit: Unit) -> int:
    return RunStore(root).done_clips(unit.generator, unit.case)


def plan_shards(
    suite: Suite, config: Config, generators: tuple[str, ...], metrics: tuple[str, ...], n: int
) -> list[list[Unit]]:
    return assign(run_units(suite, config, generators, metrics), n)


def write_plan(root: Path, shards: list[list[Unit]]) -> None:
    """plan.json: which shard runs which unit and its estimated seconds (read by `status`)."""
    atomic_write_json(
        root / "plan.json",
        {
            "shards": len(shards),
            "units": [
                {
                    "shard": i,
                    "generator": u.generator,
                    "case": u.case,
                    "clips": u.clips,
                    "frames": u.frames,
                    "height": u.height,
                    "width": u.width,
                    "seconds": round(u.seconds, 3),
                }  # fmt: skip
                for i, s in enumerate(shards)
                for u in s
            ],
        },
    )


def run_scaled(
    template: ShardJob,
    shards: list[list[Unit]],
    executor: Any,
    retries: int = 2,
    watch: Any = None,
) -> ScaleResult:
    """Run every shard with unfinished units on ``executor``; resubmit failed shards."""

    root = template.root
    root.mkdir(parents=True, exist_ok=True)
    write_plan(root, shards)
    result = ScaleResult(root, shards)
    clips = template.suite.protocol.clips
    worker = ShardWorker()
    todo = [i for i, s in enumerate(shards) if any(committed(root, u) < clips for u in s)]
    errors: dict[tuple[str, str], str] = {}
    for attempt in range(retries + 1):
        if not todo:
            break
        jobs = [replace(template, index=i, count=len(shards), attempt=attempt) for i in todo]
        outcomes = executor.map(worker, jobs, watch=watch)
        result.rounds += 1
        retry = []
        for job, out in zip(jobs, outcomes, strict=True):
            unfinished = [u for u in shards[job.index] if committed(root, u) < clips]
            if isinstance(out, JobFailure):
                error, retryable = out.error, True
            elif out.get("input_error"):
                error, retryable = out["input_error"], False
            else:
                result.clips += out["clips"]
                failed = {(f["generator"], f["case"]): f for f in out["failures"]}
                for key, f in failed.items():
                    errors[key] = f["error"]
                error = ""
                retryable = any(
                    not failed.get(u.key, {}).get("input_error", False) for u in unfinished
                )
            for u in unfinished:
                errors.setdefault(u.key, error or "not finished")
                if error:
                    errors[u.key] = error
            _record_shard(root, job, out, unfinished)
            if unfinished and retryable:
                retry.append(job.index)
        todo = retry
    for s in shards:
        for u in s:
            if committed(root, u) < clips:
                result.incomplete.append((u.generator, u.case, errors.get(u.key, "not finished")))
    return result


def _record_shard(root: Path, job: ShardJob, out: Any, unfinished: list[Unit]) -> None:
    """shards/shard_<i>.json: the last outcome of each shard (e.g. a worker that died)."""

    path = root / "shards" / f"shard_{job.index:03d}.json"
    atomic_write_json(
        path,
        {
            "shard": [job.index, job.count],
            "attempt": job.attempt,
            "time": time.time(),
            "outcome": "died" if isinstance(out, JobFailure) else "returned",
            "error": out.error if isinstance(out, JobFailure) else out.get("input_error", ""),
            "unfinished": [list(u.key) for u in unfinished],
        },
    )
