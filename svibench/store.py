"""The results store of one run: per-(generator, case) shards, continuation states, manifest.

Layout under ``results/<run>/``::

    claims/run.json                    suite + metrics identity (created once; refuses mixing)
    claims/generators/<generator>.json each generator's exact configuration (created once)
    manifest.json                      merged view of the claims, for people (rewritten)
    log/<time>-<host>-<pid>.json       who ran what, where (device, versions, git revision, seeds)
    rows/<generator>/<case>.parquet    one row per (suite, generator, case, clip, metric)
    state/<generator>/<case>/clip_000.npz  continuation after a clip (older ones are pruned)
    videos/<generator>/<case>/clip_000.mp4

Commit order per clip: video, then state (temp + rename), then the rows file (temp + rename).
The rows file is the commit point: on resume its clips are done and the state saved after the
last of them continues the video; a state newer than the rows is ignored (its clip is redone). A killed run therefore never leaves partial rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from svibench.atomic import atomic_write, atomic_write_json
from svibench.errors import ConfigError, SvibenchError

ROW_COLUMNS = ["suite", "generator", "case", "clip", "seed", "metric", "value"]
# m (the session's motion frames), recorded by the runner in every clip's state
MOTION_KEY = "__runner_motion_frames__"
_JSON_KEY = "__json__"


def config_hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


class RunStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # ------------------------------------------------------------------ manifest
    def claim(
        self, identity: dict[str, Any], legacy: dict[str, dict[str, Any]] | None = None
    ) -> None:
        """Record (or check) the run's configuration; safe with many writers at once.

        ``identity`` = {"suite": ..., "metrics": [...], "generators": {name: identity}}. The
        suite and metric set must match an existing manifest; generators may be added, but a
        generator already in the run must keep its exact identity. ``legacy``: per generator,
        what runs from before identities were claimed recorded (their svibench.toml table);
        such an old claim (it has no "class") is compared with that instead.

        Parallel shards claim at the same moment, so nothing here is read-modify-write: the
        suite + metrics and each generator's table are files created exclusively (a hard link
        of a complete temp file: atomic, fails if the name exists, works on NFS). A writer
        that loses the race compares its claim with the winner's. ``manifest.json`` is then
        rewritten as a merged view for people; :meth:`manifest` reads the claims themselves.
        """
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise SvibenchError(
                f"results directory {self.root}: cannot create it ({e.strerror})"
            ) from None
        self._migrate_legacy()
        base = {k: identity[k] for k in ("suite", "metrics")}
        existing = self._create_once(self.root / "claims" / "run.json", base)
        for key in ("suite", "metrics"):
            if existing is not None and existing.get(key) != _plain(identity[key]):
                raise ConfigError(
                    f"{self.root}: this run was made with a different {key} "
                    f"(hash {config_hash(existing.get(key))} vs {config_hash(identity[key])}); "
                    "use another --name or --fresh to start over"
                )
        gens = sorted(identity["generators"].items())
        for create in (False, True):  # check every generator before creating any claim
            for name, table in gens:
                path = self.root / "claims" / "generators" / f"{name}.json"
                if not create and not path.exists():
                    continue
                old = self._create_once(path, table) if create else self._read(path)
                if old is not None and "class" not in old and legacy and name in legacy:
                    table = legacy[name]  # a run claimed before identities: its old form
                if old is not None and old != _plain(table):
                    raise ConfigError(
                        f"{self.root}: generator '{name}' was run here with a different "
                        f"configuration (hash {config_hash(old)} vs {config_hash(table)}); "
                        "use another --name or --fresh to start over"
                    )
        try:
            atomic_write_json(self.root / "manifest.json", self.manifest())
        except OSError as e:
            raise SvibenchError(
                f"results directory {self.root}: not writable ({e.strerror})"
            ) from None

    def _create_once(self, path: Path, obj: Any) -> Any:
        """Create ``path`` holding ``obj`` unless it exists; returns the existing content or None."""
        text = json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
                try:
                    with os.fdopen(fd, "w", encoding="utf-8") as f:
                        f.write(text)
                        f.flush()
                        os.fsync(f.fileno())
                    os.chmod(tmp, 0o644)
                    os.link(tmp, path)  # atomic and exclusive: FileExistsError if another won
                    return None
                except FileExistsError:
                    pass
                finally:
                    os.unlink(tmp)
            return json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise SvibenchError(f"{path}: unreadable run claim ({e})") from None
        except OSError as e:
            raise SvibenchError(
                f"results directory {self.root}: not writable ({e.strerror})"
            ) from None

    def _migrate_legacy(self) -> None:
        """A run made before claims/ existed: its manifest.json becomes claims (idempotent)."""
        path = self.root / "manifest.json"
        if (self.root / "claims" / "run.json").exists() or not path.exists():
            return
        old = self._read(path)
        for name, table in old.get("generators", {}).items():
            self._create_once(self.root / "claims" / "generators" / f"{name}.json", table)
        self._create_once(
            self.root / "claims" / "run.json", {k: old.get(k) for k in ("suite", "metrics")}
        )

    @staticmethod
    def _read(path: Path) -> dict[str, Any]:
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise SvibenchError(f"{path}: unreadable manifest ({e})") from None

    def manifest(self) -> dict[str, Any]:
        """The run's configuration: suite, metrics, every claimed generator, config_hash."""
        run = self.root / "claims" / "run.json"
        if not run.exists():
            path = self.root / "manifest.json"
            if not path.exists():
                raise SvibenchError(f"{self.root}: not a svibench run (no manifest.json)")
            return self._read(path)  # a run made before claims/ existed
        manifest = self._read(run)
        gens = {}
        for f in sorted((self.root / "claims" / "generators").glob("*.json")):
            gens[f.name[: -len(".json")]] = self._read(f)
        manifest["generators"] = gens
        manifest["config_hash"] = config_hash(
            {k: manifest[k] for k in ("suite", "metrics", "generators")}
        )
        return manifest

    def motion_frames(self, generator: str) -> int:
        """The m ``generator``'s sessions used: recorded with its clips (the session owns it);
        for runs from before that, its claimed ``motion_frames``, else the protocol's."""
        for path in sorted((self.root / "state" / generator).glob("*/clip_*.npz")):
            try:
                with np.load(path, allow_pickle=False) as z:
                    meta = json.loads(str(z[_JSON_KEY]))
                # older Wan / SVI runs: the session's own record of its m
                m = meta.get(MOTION_KEY, meta.get("motion_frames"))
            except (OSError, ValueError, KeyError):  # a damaged state only loses this record
                continue
            if isinstance(m, int) and not isinstance(m, bool):
                return m
        manifest = self.manifest()
        m = manifest.get("generators", {}).get(generator, {}).get("motion_frames")
        if isinstance(m, int) and not isinstance(m, bool):
            return m
        return int(manifest["suite"]["protocol"]["motion_frames"])

    def seconds_per_clip(self, generators: list[str]) -> float | dict[str, float]:
        """Video time each clip adds, (F − m) / fps with each generator's own m: one number
        when the generators share it, else {generator: seconds} (see :func:`clip_seconds`)."""
        proto = self.manifest()["suite"]["protocol"]
        spc = {
            g: (proto["frames_per_clip"] - self.motion_frames(g)) / proto["fps"] for g in generators
        }
        return shared_seconds(spc)

    def log(self, name: str, entry: dict[str, Any]) -> None:
        atomic_write_json(self.root / "log" / f"{name}.json", entry)

    # ------------------------------------------------------------------ shards
    def rows_path(self, generator: str, case: str) -> Path:
        return self.root / "rows" / generator / f"{case}.parquet"

    def state_path(self, generator: str, case: str, clip: int) -> Path:
        return self.root / "state" / generator / case / f"clip_{clip:03d}.npz"

    def video_path(self, generator: str, case: str, clip: int) -> Path:
        return self.root / "videos" / generator / case / f"clip_{clip:03d}.mp4"

    def load_rows(self, generator: str, case: str):
        import pandas as pd

        path = self.rows_path(generator, case)
        if not path.exists():
            return pd.DataFrame(columns=ROW_COLUMNS)
        try:
            return pd.read_parquet(path)
        except Exception as e:  # noqa: BLE001 - pyarrow raises many types for a damaged file
            raise SvibenchError(
                f"{path}: unreadable results shard ({e}); delete it to recompute"
            ) from None

    def done_clips(self, generator: str, case: str) -> int:
        rows = self.load_rows(generator, case)
        return 0 if rows.empty else int(rows["clip"].max()) + 1

    def load_state(self, generator: str, case: str, clip: int) -> dict[str, Any]:
        """The continuation state saved after ``clip`` (the last committed one)."""
        path = self.state_path(generator, case, clip)
        if not path.exists():
            raise SvibenchError(f"{path}: continuation state missing; rerun with --fresh")
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z[_JSON_KEY]))
                arrays = {k: z[k] for k in z.files if k != _JSON_KEY}
        except (OSError, ValueError, KeyError) as e:
            raise SvibenchError(
                f"{path}: unreadable continuation state ({e}); rerun with --fresh"
            ) from None
        return {**meta, **arrays}

    def commit(self, generator: str, case: str, clip: int, table, state: dict[str, Any]) -> None:
        """Durably record clip ``clip``: state first, then the rows file (the commit point).

        ``table`` holds every row of this (generator, case) up to and including ``clip``.
        """

        arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
        meta = {k: v for k, v in state.items() if not isinstance(v, np.ndarray)}

        def write_state(p: Path) -> None:
            with open(p, "wb") as f:
                np.savez(f, **arrays, **{_JSON_KEY: np.array(json.dumps(meta, default=_jsonable))})

        atomic_write(self.state_path(generator, case, clip), write_state)
        atomic_write(self.rows_path(generator, case), lambda p: table.to_parquet(p, index=False))
        for stale in self.state_path(generator, case, clip).parent.glob("clip_*.npz"):
            if stale.name != f"clip_{clip:03d}.npz":
                stale.unlink(missing_ok=True)

    def all_rows(self):
        """Every committed row of the run (all shards merged), in a stable order."""
        import pandas as pd

        files = sorted((self.root / "rows").glob("*/*.parquet"))
        if not files:
            return pd.DataFrame(columns=ROW_COLUMNS)
        frames = []
        for f in files:
            try:
                frames.append(pd.read_parquet(f))
            except Exception as e:  # noqa: BLE001
                raise SvibenchError(f"{f}: unreadable results shard ({e})") from None
        df = pd.concat(frames, ignore_index=True)
        return df.sort_values(
            ["generator", "case", "clip", "metric"], kind="mergesort"
        ).reset_index(drop=True)


def shared_seconds(per_generator: Mapping[str, float]) -> float | dict[str, float]:
    """A run's ``seconds_per_clip``: one number when every generator's clip is as long, else
    the mapping itself (read it back with :func:`clip_seconds`)."""
    values = set(per_generator.values())
    return values.pop() if len(values) == 1 else dict(per_generator)


def clip_seconds(seconds_per_clip: float | Mapping[str, float], generator: str) -> float:
    """Seconds per clip of ``generator`` from a run's ``seconds_per_clip`` (one for all, or
    per generator when their m differ)."""
    if isinstance(seconds_per_clip, Mapping):
        return float(seconds_per_clip[generator])
    return float(seconds_per_clip)


def _plain(obj: Any) -> Any:
    """``obj`` as it reads back from JSON (tuples become lists), for comparing claims."""
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"state value of type {type(x).__name__} is not JSON-serialisable")
