"""The results store of one run: per-(generator, case) shards, continuation states, manifest.

Layout under ``results/<run>/``::

    manifest.json                      config identity (suite, metrics, generators); refuses mixing
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
from pathlib import Path
from typing import Any

import numpy as np

from svibench.atomic import atomic_write, atomic_write_json
from svibench.errors import ConfigError, SvibenchError

ROW_COLUMNS = ["suite", "generator", "case", "clip", "seed", "metric", "value"]
_JSON_KEY = "__json__"


def config_hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


class RunStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # ------------------------------------------------------------------ manifest
    def claim(self, identity: dict[str, Any]) -> None:
        """Record (or check) the run's configuration.

        ``identity`` = {"suite": ..., "metrics": [...], "generators": {name: table}}. The suite
        and metric set must match an existing manifest; generators may be added, but a
        generator already in the run must keep its exact configuration.
        """
        path = self.root / "manifest.json"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise SvibenchError(
                f"results directory {self.root}: cannot create it ({e.strerror})"
            ) from None
        if path.exists():
            try:
                old = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError) as e:
                raise SvibenchError(f"{path}: unreadable manifest ({e})") from None
            for key in ("suite", "metrics"):
                if old.get(key) != identity[key]:
                    raise ConfigError(
                        f"{self.root}: this run was made with a different {key} "
                        f"(hash {config_hash(old.get(key))} vs {config_hash(identity[key])}); "
                        "use another --name or --fresh to start over"
                    )
            gens = dict(old.get("generators", {}))
            for name, table in identity["generators"].items():
                if name in gens and gens[name] != table:
                    raise ConfigError(
                        f"{self.root}: generator '{name}' was run here with a different "
                        f"configuration (hash {config_hash(gens[name])} vs {config_hash(table)}); "
                        "use another --name or --fresh to start over"
                    )
                gens[name] = table
            manifest = {**old, "generators": dict(sorted(gens.items()))}
        else:
            manifest = {**identity, "generators": dict(sorted(identity["generators"].items()))}
        manifest["config_hash"] = config_hash(
            {k: manifest[k] for k in ("suite", "metrics", "generators")}
        )
        try:
            atomic_write_json(path, manifest)
        except OSError as e:
            raise SvibenchError(
                f"results directory {self.root}: not writable ({e.strerror})"
            ) from None

    def manifest(self) -> dict[str, Any]:
        path = self.root / "manifest.json"
        if not path.exists():
            raise SvibenchError(f"{self.root}: not a svibench run (no manifest.json)")
        return json.loads(path.read_text())

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


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"state value of type {type(x).__name__} is not JSON-serialisable")
