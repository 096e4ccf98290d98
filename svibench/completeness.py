"""Is a run complete? What it was asked to hold (manifest + invocation logs) vs what it holds.

A run is complete when every generator of its manifest has committed every clip of every case
it was asked for. The cases come from the suite file the invocations logged (when it still
reads back with the manifest's digest), otherwise from the union of the cases the invocations
logged; shards that never ran are reported too. A run folder with no record of what it was
asked for (no logs, no suite) has nothing to compare with and counts as complete. Tables call ``run_completeness`` to mark
incomplete runs instead of ranking them as if they were whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from svibench.errors import SvibenchError
from svibench.store import RunStore
from svibench.suite import load_suite


@dataclass(frozen=True)
class Completeness:
    generators: tuple[str, ...]
    cases: tuple[str, ...]
    clips: int
    done: dict[tuple[str, str], int] = field(default_factory=dict)  # (generator, case) -> clips
    missing_shards: tuple[str, ...] = ()  # "2/4": shards of a sharded run no invocation logged

    def clips_done(self, generator: str) -> int:
        return sum(min(self.done.get((generator, c), 0), self.clips) for c in self.cases)

    @property
    def expected_per_generator(self) -> int:
        return len(self.cases) * self.clips

    def generator_complete(self, generator: str) -> bool:
        return self.clips_done(generator) >= self.expected_per_generator

    def incomplete_generators(self) -> dict[str, str]:
        """Generator -> "done/expected clips", for the generators that lack clips."""
        return {
            g: f"{self.clips_done(g)}/{self.expected_per_generator} clips"
            for g in self.generators
            if not self.generator_complete(g)
        }

    @property
    def complete(self) -> bool:
        return not self.missing_shards and all(map(self.generator_complete, self.generators))

    def note(self) -> str:
        """One line, empty when complete: which generators lack clips, which shards never ran."""
        parts = [
            f"{g} {self.clips_done(g)}/{self.expected_per_generator} clips"
            for g in self.generators
            if not self.generator_complete(g)
        ]
        if self.missing_shards:
            parts.append(f"shards never run: {', '.join(self.missing_shards)}")
        return "incomplete: " + "; ".join(parts) if parts else ""


def run_logs(root: Path) -> list[dict]:
    """The invocation logs of a run (``log/*.json``), oldest first; unreadable ones skipped."""
    logs = []
    for path in sorted((Path(root) / "log").glob("*.json")):
        try:
            logs.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    return logs


def logged_suite(root: Path):
    """The run's Suite if a logged suite file still reads back with the manifest's digest."""

    digest = RunStore(root).manifest().get("suite", {}).get("digest")
    project = Path(root).resolve().parent.parent  # results/<run> -> the project folder
    for log in reversed(run_logs(root)):
        source = log.get("suite_file")
        # relative paths were relative to where `run` was started: here, or the project folder
        found = [
            p for p in (Path(source or ""), project / (source or "")) if source and p.is_file()
        ]
        if not found:
            continue
        try:
            suite = load_suite(found[0])
        except SvibenchError:
            continue
        if suite.digest() == digest:
            return suite
    return None


def run_completeness(root: Path) -> Completeness:
    store = RunStore(root)
    manifest = store.manifest()
    logs = run_logs(root)
    suite = logged_suite(root)
    if suite is not None:
        cases = tuple(sorted(c.id for c in suite.cases))
    else:
        cases = tuple(sorted({c for log in logs for c in log.get("cases", [])}))
    missing: list[str] = []
    seen = {tuple(log["shard"]) for log in logs if len(log.get("shard") or ()) == 2}
    for count in sorted({n for _, n in seen}):
        if count > 1 and suite is None:  # without the suite, only the shards tell what is missing
            missing += [f"{i}/{count}" for i in range(count) if (i, count) not in seen]
    rows = store.all_rows()
    done: dict[tuple[str, str], int] = {}
    if not rows.empty:
        last = rows.groupby(["generator", "case"])["clip"].max()
        done = {(str(g), str(c)): int(k) + 1 for (g, c), k in last.items()}
    return Completeness(
        generators=tuple(sorted(manifest.get("generators", {}))),
        cases=cases,
        clips=int(manifest.get("suite", {}).get("protocol", {}).get("clips", 0)),
        done=done,
        missing_shards=tuple(missing),
    )
