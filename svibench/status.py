"""``svibench status RUN``: how far a run is, read from its folder only (safe while jobs run).

Units (generator × case) come from plan.json (a fanned-out run), the workers' log entries and
the rows files; committed clips from each rows file's parquet footer (no data read); failures
and throughput from the workers' progress files (svibench/progress.py) and the coordinator's
shards/*.json. Nothing here imports torch.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from svibench.errors import SvibenchError

STALE_S = 900.0  # a running worker silent for longer (and 3 clips' time) is reported as stale


@dataclass
class UnitStatus:
    generator: str
    case: str
    committed: int
    total: int
    error: str = ""  # the last one-line error, if the unit is not finished

    @property
    def state(self) -> str:
        if self.committed >= self.total:
            return "done"
        return "failed" if self.error else ("started" if self.committed else "pending")


@dataclass
class RunStatus:
    root: Path
    suite: str
    units: list[UnitStatus]
    workers: list[dict[str, Any]] = field(default_factory=list)  # active ones
    clips_per_s: float = 0.0  # all active workers together

    @property
    def committed(self) -> int:
        return sum(min(u.committed, u.total) for u in self.units)

    @property
    def total(self) -> int:
        return sum(u.total for u in self.units)

    @property
    def eta_s(self) -> float | None:
        left = self.total - self.committed
        if left == 0:
            return 0.0
        return left / self.clips_per_s if self.clips_per_s > 0 else None


def committed_clips(path: Path) -> int:
    """Clips committed in a rows file: max(clip) + 1 from the parquet footer statistics."""
    import pyarrow.parquet as pq

    try:
        md = pq.read_metadata(path)
        if md.num_rows == 0:
            return 0
        col = md.schema.names.index("clip")
        stats = [md.row_group(i).column(col).statistics for i in range(md.num_row_groups)]
        if all(s is not None and s.has_min_max for s in stats):
            return int(max(s.max for s in stats if s.max is not None)) + 1
        return int(pq.read_table(path, columns=["clip"]).column("clip").to_pylist()[-1]) + 1
    except Exception as e:  # noqa: BLE001 - pyarrow raises many types for a damaged file
        raise SvibenchError(
            f"{path}: unreadable results shard ({e}); delete it to recompute"
        ) from None


def _alive(worker: dict[str, Any]) -> bool:
    """False for a worker of this host whose process is gone (killed without a word)."""
    if worker.get("host") != socket.gethostname() or not worker.get("pid"):
        return True  # another node: only staleness tells
    try:
        os.kill(int(worker["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, ValueError):
        return True
    return True


def _json_files(folder: Path) -> list[dict[str, Any]]:
    out = []
    for f in sorted(folder.glob("*.json")):
        try:
            out.append(json.loads(f.read_text()))
        except (OSError, json.JSONDecodeError):
            continue  # being replaced right now (atomic rename) or foreign: skip
    return out


def _unit_clips(logs: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Clips per (generator, case) as planned (the generator's clip-count rule), where logged."""
    return {(u[0], u[1]): int(u[2]) for e in logs for u in e.get("run_units", []) if len(u) > 2}


def _known_units(root: Path, logs: list[dict[str, Any]]) -> set[tuple[str, str]]:
    units: set[tuple[str, str]] = set()
    plan = root / "plan.json"
    if plan.exists():
        try:
            units |= {(u["generator"], u["case"]) for u in json.loads(plan.read_text())["units"]}
        except (OSError, json.JSONDecodeError, KeyError):
            pass
    for entry in logs:
        units |= {(u[0], u[1]) for u in entry.get("run_units", [])}
        if isinstance(entry.get("units"), dict):
            units |= {(g, c) for g, cases in entry["units"].items() for c in cases}
        else:  # older log entries: every listed generator ran every listed case
            units |= {(g, c) for g in entry.get("generators", []) for c in entry.get("cases", [])}
    units |= {(f.parent.name, f.stem) for f in (root / "rows").glob("*/*.parquet")}
    return units


def read_status(root: Path, now: float | None = None) -> RunStatus:
    """The status of the run folder ``root``."""
    # store imports numpy: `svibench status` and --help stay light without it
    from svibench.store import RunStore

    root = Path(root)
    manifest = RunStore(root).manifest()  # raises the one-line "not a svibench run"
    clips = int(manifest["suite"]["protocol"]["clips"])
    now = time.time() if now is None else now
    logs = _json_files(root / "log")
    errors: dict[tuple[str, str], tuple[float, str]] = {}
    for shard in _json_files(root / "shards"):
        if shard.get("error"):
            for g, c in shard.get("unfinished", []):
                errors[(g, c)] = (shard.get("time", 0.0), shard["error"])
    workers = []
    rate = 0.0
    for w in _json_files(root / "progress"):
        for f in w.get("failures", []):
            key = (f["generator"], f["case"])
            if f.get("time", 0.0) >= errors.get(key, (-1.0, ""))[0]:
                errors[key] = (f.get("time", 0.0), f["error"])
        busy = w.get("updated", 0.0) - w.get("started", 0.0)
        speed = w.get("generated", 0) / busy if busy > 0 and w.get("generated") else 0.0
        stale = max(STALE_S, 3.0 / speed) if speed else STALE_S
        if w.get("state") == "running" and now - w.get("updated", 0.0) < stale and _alive(w):
            workers.append({**w, "clips_per_s": speed})
            rate += speed
    planned = _unit_clips(logs)
    units = []
    for g, c in sorted(_known_units(root, logs)):
        path = root / "rows" / g / f"{c}.parquet"
        done = committed_clips(path) if path.exists() else 0
        units.append(
            UnitStatus(g, c, done, planned.get((g, c), clips), errors.get((g, c), (0.0, ""))[1])
        )
    return RunStatus(root, manifest["suite"]["name"], units, workers, rate)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown (no worker running)"
    seconds = int(round(seconds))
    d, rem = divmod(seconds, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    return (f"{d}d " if d else "") + (f"{h}h {m:02d}m" if d or h else f"{m}m {s:02d}s")


def render(status: RunStatus, console: Any, all_units: bool = True) -> None:
    """Rich table: one row per generator × case, then the totals, throughput and ETA."""
    from rich.table import Table

    t = Table("generator", "case", "clips", "state", "error", title=f"{status.root}")
    for u in status.units:
        if all_units or u.state != "done":
            colour = {"done": "green", "failed": "red", "started": "yellow"}.get(u.state, "")
            t.add_row(
                u.generator,
                u.case,
                f"{u.committed}/{u.total}",
                f"[{colour}]{u.state}[/{colour}]" if colour else u.state,
                u.error if u.state != "done" else "",
            )
    console.print(t)
    pct = 100.0 * status.committed / status.total if status.total else 100.0
    failed = sum(u.state == "failed" for u in status.units)
    console.print(
        f"suite {status.suite}: {status.committed}/{status.total} clips committed ({pct:.1f} %), "
        f"{failed} unit(s) failed, {len(status.workers)} worker(s) active, "
        f"{status.clips_per_s * 3600:.1f} clips/h, ETA {format_duration(status.eta_s)}"
    )


def to_json(status: RunStatus) -> dict[str, Any]:
    return {
        "root": str(status.root),
        "suite": status.suite,
        "committed": status.committed,
        "total": status.total,
        "clips_per_hour": status.clips_per_s * 3600,
        "eta_s": status.eta_s,
        "workers": [w.get("writer") for w in status.workers],
        "units": [
            {
                "generator": u.generator,
                "case": u.case,
                "committed": u.committed,
                "total": u.total,
                "state": u.state,
                "error": u.error,
            }  # fmt: skip
            for u in status.units
        ],
    }
