"""What the view page shows for one run: stitched videos, per-clip scores, tables, plots.

Everything is read from the committed run folder; the stitched videos, reference images and
plots are written under the page's folder. Stitched videos are rebuilt only when a clip file
is newer than them, so re-viewing a finished run is quick.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from svibench.completeness import logged_suite, run_completeness
from svibench.errors import SvibenchError
from svibench.generators.replay import ReplayGenerator
from svibench.stitch import write_stitched_mp4
from svibench.store import RunStore
from svibench.suite import load_reference_image
from svibench.video import probe_video, write_png

_REPLAY = f"{ReplayGenerator.__module__}.{ReplayGenerator.__qualname__}"


def _relative(path: Path, base: Path) -> str:
    import os

    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()


def _replay_sources(table: dict, case: str, proto: dict) -> tuple[list[Path], bool]:
    """The files a ``replay`` generator read, for runs that kept no clip copies (``svibench
    score``): (files, whether the one file is already a stitched long video)."""

    conf = {**ReplayGenerator.params, **table}
    root = Path(conf["root"])

    def seed(k: int) -> int:
        return int(proto.get("seed_base", 0)) + int(proto.get("seed_stride", 0)) * k

    if conf["layout"] == "per_case":
        path = root / conf["case_pattern"].format(case=case, clip=0, seed=seed(0))
        return ([path] if path.is_file() else []), True
    clips = []
    for k in range(int(proto["clips"])):
        path = root / conf["pattern"].format(case=case, clip=k, seed=seed(k))
        if not path.is_file() or path.suffix.lower() == ".npy":
            break
        clips.append(path)
    return clips, False


def _stitch(store: RunStore, manifest: dict, gen: str, case: str, m: int, out: Path) -> dict | None:
    """Stitch the clips 0..k (consecutive from 0) of one (generator, case): the run's saved
    clip videos, else a replay generator's own files."""

    proto = manifest["suite"]["protocol"]
    fps = float(proto.get("saved_fps") or proto["fps"])
    clips, stitched = [], False
    while store.video_path(gen, case, len(clips)).is_file():
        clips.append(store.video_path(gen, case, len(clips)))
    table = manifest.get("generators", {}).get(gen, {})
    # the claim: the generator's identity ("class"), or its table in runs from before that
    if not clips and (table.get("class") == _REPLAY or table.get("kind") == "replay"):
        clips, stitched = _replay_sources(table, case, proto)
    if not clips:
        return None
    newest = max(p.stat().st_mtime for p in clips)
    if not out.is_file() or out.stat().st_mtime < newest:
        write_stitched_mp4(clips, 0 if stitched else m, out, fps)  # one stitched file: as is
    if stitched:
        return {"clips": int(proto["clips"]), "frames_per_clip": int(proto["frames_per_clip"])}
    return {"clips": len(clips), "frames_per_clip": probe_video(clips[0]).frames}


def _clip_values(rows, gen: str, case: str) -> dict[int, dict[str, float]]:
    sub = rows[(rows["generator"] == gen) & (rows["case"] == case)]
    out: dict[int, dict[str, float]] = {}
    for clip, metric, value in sub[["clip", "metric", "value"]].itertuples(index=False):
        out.setdefault(int(clip), {})[str(metric)] = float(value)
    return out


def _reference_image(case, protocol: dict, out: Path) -> bool:
    try:
        image = load_reference_image(
            case, (protocol.get("height") or 64, protocol.get("width") or 64)
        )
    except SvibenchError:
        return False
    write_png(out, image)
    return True


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def leaderboard_rows(run, incomplete: dict[str, str]) -> dict[str, Any]:
    """The run's ranking with 95 % CIs (the same numbers as leaderboard.md's first table)."""
    from svibench.analysis.tables import quality_table, ranking

    q = quality_table(run)
    qi = q.set_index(["generator", "metric"])
    rows = []
    for rank, gen in enumerate(ranking(run, q), 1):
        cells = {}
        for c in run.columns:
            if (gen, c) in qi.index:
                r = qi.loc[(gen, c)]
                cells[c] = [_finite(r["mean"]), _finite(r["low"]), _finite(r["high"]), int(r["n"])]
        rows.append({"rank": rank, "generator": gen, "cells": cells, "note": incomplete.get(gen)})
    return {"headline": run.headline, "rows": rows}


def collect_run(root: Path, page_dir: Path, name: str, log=print) -> dict[str, Any]:
    """Stitch the run's videos into ``page_dir/runs/<name>`` and return the run's page data."""
    from svibench.analysis.tables import load_run
    from svibench.render.plots import plot_curves

    root = Path(root)
    store = RunStore(root)
    manifest = store.manifest()
    run = load_run(root)
    proto = manifest["suite"]["protocol"]
    fps = float(proto.get("saved_fps") or proto["fps"])
    status = run_completeness(root)
    suite = logged_suite(root)
    cases_by_id = {c.id: c for c in suite.cases} if suite is not None else {}
    assets = page_dir / "runs" / name
    incomplete = status.incomplete_generators()
    gens = [r["generator"] for r in leaderboard_rows(run, incomplete)["rows"]]
    gens += [g for g in status.generators if g not in gens]  # no clips at all: listed last
    cases = []
    for case_id in sorted(set(run.rows["case"]) | set(status.cases)):
        entry: dict[str, Any] = {"id": case_id, "reference": None, "prompts": [], "videos": {}}
        case = cases_by_id.get(case_id)
        if case is not None:
            entry["prompts"] = [case.prompt(k) for k in range(status.clips)]
            ref = assets / "reference" / f"{case_id}.png"
            if _reference_image(case, proto, ref):
                entry["reference"] = _relative(ref, page_dir)
        for gen in gens:
            m = store.motion_frames(gen)  # recorded with its clips
            out = assets / "videos" / gen / f"{case_id}.mp4"
            info = _stitch(store, manifest, gen, case_id, m, out)
            values = _clip_values(run.rows, gen, case_id)
            if info is None and not values:
                continue
            video = {"src": _relative(out, page_dir) if info else None, "m": m, "clips": []}
            f = info["frames_per_clip"] if info else int(proto["frames_per_clip"])
            shown = sorted(set(values) | set(range(info["clips"] if info else 0)))
            for k in shown:
                # clip k owns frames [k(F-m), (k+1)(F-m)) of the stitched video; the last one all F
                start = k * (f - m)
                end = start + (f if k == shown[-1] else f - m)
                video["clips"].append(
                    {"k": k, "t0": start / fps, "t1": end / fps, "values": values.get(k, {})}
                )
            entry["videos"][gen] = video
        log(f"view: {name}/{case_id}: {len(entry['videos'])} generators")
        cases.append(entry)
    plots = plot_curves(run, assets / "plots", prefix=name)
    return {
        "name": name,
        "suite": run.suite,
        "fps": fps,
        "seconds_per_clip": run.seconds_per_clip,
        "incomplete": status.note() or None,
        "metrics": [{"name": c, "higher_is_better": run.directions[c]} for c in run.columns],
        "generators": gens,
        "leaderboard": leaderboard_rows(run, incomplete),
        "plots": {
            c: _relative(p.with_suffix(".svg"), page_dir)
            for c, p in zip(run.columns, plots, strict=True)
        },
        "cases": cases,
    }
