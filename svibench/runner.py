"""Runs a suite through generators clip by clip, scores each clip, and commits it to the store.

Streaming: one clip's frames are in memory at a time (plus the generator's continuation state),
so memory does not grow with video length. Every clip is committed atomically; rerunning the
same command resumes after the last committed clip of every (generator, case).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import platform
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from svibench.config import Config
from svibench.errors import ConfigError, SvibenchError
from svibench.executors import describe
from svibench.generators.base import Generator, check_frames, session_motion_frames
from svibench.generators.registry import GENERATORS, generator_schedule
from svibench.generators.world import ground_truth_clips
from svibench.log_progress import progress_display
from svibench.metrics.base import ClipInput, FeatureCache, Metric
from svibench.metrics.registry import FEATURES, METRICS
from svibench.progress import ProgressLog
from svibench.shards import assign, run_units
from svibench.store import MOTION_KEY, ROW_COLUMNS, RunStore
from svibench.suite import Case, Suite, load_reference_image
from svibench.video import write_mp4
from svibench.weights import preload

TAIL_KEY = "__runner_tail__"  # the previous clip's last frames, for seam metrics


@dataclass
class Timings:
    generate: float = 0.0
    metrics: float = 0.0
    store: float = 0.0
    clips: int = 0
    wall: float = 0.0
    skipped: int = 0  # clips already committed by an earlier run

    @property
    def overhead(self) -> float:
        return max(0.0, self.wall - self.generate - self.metrics)


@dataclass
class RunResult:
    root: Path
    timings: Timings = field(default_factory=Timings)
    failures: list[dict[str, Any]] = field(default_factory=list)  # units that failed (keep_going)


_INVOCATIONS = itertools.count()  # run_suite calls in this process (log/progress file names)


def build_generator(name: str, table: dict[str, Any], device: str) -> Generator:
    params = {k: v for k, v in table.items() if k != "kind"}
    cls = GENERATORS.get(table["kind"], where=f"[generators.{name}].kind")
    return cls(name=name, device=device, **params)  # Generator.__init__ rejects unknown parameters


def legacy_claim(name: str, table: dict[str, Any]) -> dict[str, Any]:
    """What runs made before claims held ``Generator.identity()`` recorded: the svibench.toml
    table plus a changed prompt schedule. Such a run still resumes while this is unchanged."""
    return {**table, **generator_schedule(name, table).changed_identity()}


def build_generators(
    tables: dict[str, dict[str, Any]], device: str
) -> tuple[dict[str, Generator], dict[str, Exception]]:
    """Every generator (construction is cheap: weights load on first use), and the errors of
    those that could not be built (recorded as failed units when their turn comes)."""
    built: dict[str, Generator] = {}
    errors: dict[str, Exception] = {}
    for name, table in tables.items():
        try:
            built[name] = build_generator(name, table, device)
        except Exception as e:  # noqa: BLE001 - reported per unit, like a failed clip
            errors[name] = e
    return built, errors


def build_metrics(names: tuple[str, ...]) -> list[Metric]:
    if not names:
        raise ConfigError("no metrics selected (set [run].metrics or pass --metrics)")
    metrics = [METRICS.get(n, where="metrics")() for n in names]
    return metrics


def metric_identity(metrics: list[Metric]) -> list[dict[str, Any]]:
    """What the metrics are (goes into the manifest): class, parameters and column directions."""
    return [
        {
            "name": m.name,
            "class": f"{type(m).__module__}.{type(m).__qualname__}",
            "params": m.params,
            "higher_is_better": {c: m.higher_is_better_for(c) for c in m.output_columns()},
        }
        for m in metrics
    ]


def _resize(image: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    if image.shape[:2] == hw:
        return image
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((hw[1], hw[0]), Image.BICUBIC), dtype=np.uint8)


def _package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in (
        "svibench",
        "numpy",
        "torch",
        "torchvision",
        "diffusers",
        "transformers",
        "peft",
        "open_clip_torch",
        "pyiqa",
        "pandas",
        "pyarrow",
        "scipy",
        "av",
        # VBench's own frame readers: when installed at its pins they decode the files PyAV's
        # emulation cannot reproduce (svibench.video.reader_library)
        "decord",
        "opencv-python",
        "opencv-python-headless",
    ):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def _git_revision() -> str:
    import subprocess

    try:
        here = Path(__file__).resolve().parent
        rev = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return (
            rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
            if rev.returncode == 0
            else "unknown"
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def set_threads(threads: int) -> None:
    """Pin intra-op threads for reproducible speed on small machines (torch only if loaded)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(threads)


def run_suite(
    suite: Suite,
    config: Config,
    generators: tuple[str, ...],
    metrics: tuple[str, ...],
    root: Path,
    device: str = "cpu",
    threads: int = 2,
    shard: tuple[int, int] = (0, 1),
    save_videos: bool = True,
    show_progress: bool = True,
    console: Any = None,
    keep_going: bool = False,
) -> RunResult:
    """Run shard ``shard`` = (I, N) of the (generator, case) units (svibench/shards.py).

    ``keep_going``: a unit that fails is recorded (progress/<writer>.json) and the next one runs
    (fanned-out shards); otherwise the first failure is recorded and raised.
    """
    set_threads(threads)
    store = RunStore(root)
    tables = {g: config.generator_table(g) for g in generators}
    schedules = {g: generator_schedule(g, tables[g]) for g in generators}
    metric_objs = build_metrics(metrics)
    gens, build_errors = build_generators(tables, device)
    # closed even when the claim or a unit fails: a command generator holds a temp folder
    closer = contextlib.ExitStack()
    for gen in gens.values():
        closer.callback(gen.close)
    with closer:
        store.claim(
            {
                "suite": {
                    "name": suite.name,
                    "digest": suite.digest(),
                    "protocol": suite.protocol.identity(),  # unset optional fields left out
                },
                "metrics": metric_identity(metric_objs),
                # what makes each generator's frames (not its svibench.toml text); one that
                # could not be built is still listed (its table), so the run shows it missing
                "generators": {
                    **{g: legacy_claim(g, tables[g]) for g in build_errors},
                    **{g: gen.identity() for g, gen in gens.items()},
                },
            },
            legacy={g: legacy_claim(g, tables[g]) for g in tables},
        )

        all_units = run_units(suite, config, generators, metrics)
        units = assign(all_units, shard[1])[shard[0]]
        by_id = {c.id: c for c in suite.cases}
        cases_of = {g: [by_id[u.case] for u in units if u.generator == g] for g in generators}
        cases = [
            c for c in sorted(suite.cases, key=lambda c: c.id) if any(u.case == c.id for u in units)
        ]
        feature_names = sorted({f for m in metric_objs for f in m.features})
        extractors = {
            f: FEATURES.get(f, where="metric features")(device=device, batch_size=config.batch_size)
            for f in feature_names
        }
        preload(extractors)  # every weight checked and loaded before the first clip is generated
        set_threads(threads)
        # unique per invocation: one worker process may run several shards within one second
        writer = (
            f"{time.strftime('%Y%m%dT%H%M%S')}-{socket.gethostname()}-{os.getpid()}"
            f"-{next(_INVOCATIONS)}-shard{shard[0]}of{shard[1]}"
        )
        store.log(
            writer,
            {
                "command": sys.argv,
                "host": socket.gethostname(),
                "platform": platform.platform(),
                "python": platform.python_version(),
                "device": device,
                "threads": threads,
                "shard": list(shard),
                "cases": [c.id for c in cases],
                "units": {g: [c.id for c in cases_of[g]] for g in generators},
                # every shard's: `status` totals
                "run_units": [[*u.key, u.clips] for u in all_units],
                "generators": list(generators),
                "prompt_schedules": {g: schedules[g].identity() for g in generators},
                "video_fps": suite.protocol.video_fps,
                "seeds": {
                    c.id: [suite.protocol.seed(k) for k in range(suite.protocol.clips)]
                    for c in cases
                },
                "versions": _package_versions(),
                "git": _git_revision(),
                "config_file": str(config.path),
                "suite_file": suite.source,
            },
        )
        import pandas  # noqa: F401 - imported before the clock starts: startup, not per-clip work

        if save_videos:
            import svibench.video  # noqa: F401
        result = RunResult(root)
        t_start = time.perf_counter()
        total = sum(u.clips for u in units)

        tracker = ProgressLog(root, writer, shard, [u.key for u in units])
        run = _UnitRunner(
            suite, metric_objs, extractors, store, result.timings, save_videos, tracker,
            {u.key: u.clips for u in units},
        )  # fmt: skip
        try:
            with progress_display(show_progress, console) as progress:
                overall = progress.add_task("clips", total=total)
                for gname in generators:
                    gen = gens.get(gname) or build_errors[gname]
                    run.generator(
                        gname, gen, cases_of[gname], threads, keep_going, progress, overall
                    )
        except BaseException:
            if tracker.data["state"] == "running":  # Ctrl-C, a kill: `status` must not wait for it
                tracker.finish("interrupted")
            raise
        tracker.finish("failed" if tracker.data["failures"] else "done")
        result.failures = tracker.data["failures"]
        result.timings.wall = time.perf_counter() - t_start
        return result


@dataclass
class _UnitRunner:
    """Runs one generator's (generator, case) units of a shard, recording failures."""

    suite: Suite
    metrics: list[Metric]
    extractors: dict
    store: RunStore
    timings: Timings
    save_videos: bool
    tracker: Any
    clips_of: dict[tuple[str, str], int]  # (generator, case) -> clips (the generator's rule)

    def generator(
        self, gname, gen: Generator | Exception, cases, threads, keep_going, progress, overall
    ) -> None:
        """Run ``gen``'s cases (``gen``: the error that stopped building it, if it failed)."""
        todo = [c for c in cases if self.store.done_clips(gname, c.id) < self.clips_of[gname, c.id]]
        skipped = sum(self.clips_of[gname, c.id] for c in cases if c not in todo)
        progress.advance(overall, skipped)
        self.timings.skipped += skipped
        if not todo:  # all committed: the model is never loaded just to skip its cases
            return
        if isinstance(gen, Exception):
            _unit_failed(self.tracker, gname, todo, gen, keep_going)
            return
        set_threads(threads)
        try:
            for case in todo:
                progress.update(overall, description=f"{gname} · {case.id}")

                def advance(g=gname, c=case.id) -> None:
                    progress.advance(overall)
                    self.tracker.clip(g, c, self.timings.clips)

                try:
                    _run_case(self.suite, case, gname, gen, self.metrics, self.extractors,
                              self.store, self.timings, self.save_videos, advance)  # fmt: skip
                except Exception as e:
                    _unit_failed(self.tracker, gname, [case], e, keep_going)
        finally:
            gen.close()


def _unit_failed(tracker, gname: str, cases: list[Case], exc: Exception, keep_going: bool) -> None:
    """Record a failed (generator, case) for `svibench status`; re-raise unless keep_going."""

    for case in cases:
        tracker.failed(gname, case.id, describe(exc), input_error=isinstance(exc, SvibenchError))
    if not keep_going:
        tracker.finish("failed")
        raise exc


def _run_case(
    suite,
    case: Case,
    gname: str,
    gen: Generator,
    metrics,
    extractors,
    store: RunStore,
    timings: Timings,
    save_videos: bool,
    advance,
) -> None:
    p = suite.protocol
    n_clips = gen.num_clips(case, p)  # the generator's clip-count rule (svibench.suite)
    done = store.done_clips(gname, case.id)
    if done >= n_clips:
        timings.skipped += n_clips
        for _ in range(n_clips):
            advance()
        return
    size_hint = (p.height or 64, p.width or 64)
    reference = load_reference_image(case, size_hint)
    hw = p.size_for(reference.shape[:2])
    ref_resized = _resize(reference, hw)
    t_open = time.perf_counter()
    session = gen.start(case, p, reference)  # opening a session is generator work (models, scene)
    m = session_motion_frames(session, p)  # stitching, seams and the report's time axis
    tail = None
    if done:
        state = store.load_state(gname, case.id, done - 1)
        tail = state.pop(TAIL_KEY, None)
        recorded = state.pop(MOTION_KEY, m)
        if int(recorded) != m:
            raise SvibenchError(
                f"generator '{gname}', case '{case.id}': its clips were made with m = {recorded} "
                f"motion frames, the session now uses m = {m}; use --fresh to start over"
            )
        session.load_state_dict(state)
        timings.skipped += done
        for _ in range(done):
            advance()
    timings.generate += time.perf_counter() - t_open
    # Ground truth clip k for *_gt metrics (world:<seed> cases; None elsewhere).
    truth = ground_truth_clips(case, p, hw) if any(x.uses_ground_truth for x in metrics) else None
    committer = _Committer(store, gname, case.id, save_videos, p.video_fps, timings)
    try:
        for k in range(done, n_clips):
            where = f"generator '{gname}', case '{case.id}', clip {k}"
            seed = p.seed(k)
            prompt = gen.prompt(case, k)
            t0 = time.perf_counter()
            frames = check_frames(session.next_clip(prompt, k, seed), p, hw, where)
            t1 = time.perf_counter()
            clip_input = ClipInput(
                frames=frames,
                reference=ref_resized,
                prompt=prompt,
                clip=k,
                fps=p.video_fps,  # the fps the saved video has (saved_fps)
                motion_frames=m,
                previous_tail=tail,
                ground_truth=truth(k) if truth else None,
                # replay: the frames as each of VBench's readers decodes the file
                decoded=getattr(session, "decoded_frames", lambda: None)(),
            )
            rows = [
                (suite.name, gname, case.id, k, seed, col, val)
                for col, val in _score(clip_input, metrics, extractors, where)
            ]
            t2 = time.perf_counter()
            tail = frames[-max(1, m) :].copy()
            state = {**session.state_dict(), TAIL_KEY: tail, MOTION_KEY: m}
            committer.submit(k, frames, rows, state)
            timings.generate += t1 - t0
            timings.metrics += t2 - t1
            timings.clips += 1
            advance()
        committer.finish()
    finally:
        committer.close()
        session.close()


class _Committer:
    """Writes each clip (mp4, state, rows) on one background thread, in clip order.

    Encoding and parquet writes overlap with generating the next clip. The rows file is still
    the commit point of each clip, written after its state, so a kill at any moment leaves
    whole clips only. At most one clip waits in the queue (bounded memory).
    """

    def __init__(
        self, store: RunStore, generator: str, case: str, videos: bool, fps: int, timings: Timings
    ) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.store, self.generator, self.case, self.videos, self.fps = (
            store,
            generator,
            case,
            videos,
            fps,
        )
        self.timings = timings
        self.rows = store.load_rows(generator, case).itertuples(index=False, name=None)
        self.rows = [r for r in self.rows]
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="svibench-commit")
        self.pending = None

    def _write(self, clip: int, frames: np.ndarray, rows: list, state: dict) -> None:
        import pandas as pd

        t0 = time.perf_counter()
        if self.videos:
            write_mp4(self.store.video_path(self.generator, self.case, clip), frames, self.fps)
        self.rows = [r for r in self.rows if r[3] < clip] + rows
        self.store.commit(
            self.generator, self.case, clip, pd.DataFrame(self.rows, columns=ROW_COLUMNS), state
        )
        self.timings.store += time.perf_counter() - t0

    def submit(self, clip: int, frames: np.ndarray, rows: list, state: dict) -> None:
        self.finish()  # wait for the previous clip (and surface its error) before queueing this one
        self.pending = self.pool.submit(self._write, clip, frames, rows, state)

    def finish(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def _score(
    clip: ClipInput, metrics: list[Metric], extractors, where: str
) -> list[tuple[str, float]]:
    cache = FeatureCache(clip, extractors)
    out: list[tuple[str, float]] = []
    for m in metrics:
        scores = m.compute(clip, cache)
        for col in m.output_columns():
            if col not in scores:
                raise SvibenchError(f"{where}: metric '{m.name}' did not return column '{col}'")
            value = float(scores[col])
            if np.isfinite(value):  # NaN = not defined for this clip (e.g. seam on clip 0)
                out.append((col, value))
    return sorted(out)
