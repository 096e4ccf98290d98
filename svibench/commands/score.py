"""``svibench score DIR``: score a folder of videos without writing TOML (like VBench's
custom-input mode), through the same ``replay`` generator and runner as ``svibench run``.

Layouts (detected):

* one video per case: ``DIR/<case>.mp4`` (any PyAV-readable video), optional reference image
  ``DIR/<case>.png|jpg`` and prompts ``DIR/<case>.txt``. Without ``--frames-per-clip`` each
  video is one clip; with it, a video is N stitched clips of F frames overlapping by m
  (N·(F−m)+m frames, upstream test_svi.py:472-476).
* one folder per case of clip videos: ``DIR/<case>/<prefix><k><ext>`` numbered from 0, with
  the SVI benchmark's ``frame.jpg``/``frame.png`` and ``prompt.txt`` as optional extras.

A generated suite file (``<run>/suite.toml``) records what was scored, so reruns resume and
``svibench view`` finds the reference images. A missing reference image is replaced by the
video's first frame, and said so: reference metrics then measure change from the start.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated

import typer

from svibench.errors import ConfigError

# svibench's own modules are imported inside the commands: `svibench --help` imports every
# command module, and config/weights/registries alone would double its start-up time.

VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp")
# svibench.toml's "default" set (weight-free): used when there is no svibench.toml
DEFAULT_METRICS = ("ssim_ref", "psnr_ref", "temporal_flickering", "seam", "motion", "sharpness")
TEXT_FEATURE = "clip_l14_text"  # the feature that reads the prompt (clip_text)


@dataclass(frozen=True)
class Found:
    case: str
    videos: tuple[Path, ...]  # one stitched video, or the clips in order
    image: Path | None
    prompt_file: Path | None


def _first(folder: Path, names: list[str]) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_file()), None)


def _clip_pattern(case_dir: Path) -> tuple[str, tuple[Path, ...]]:
    """``{case}/<prefix>{clip:0Nd}<ext>`` from the clip files of one case folder (0..N-1)."""
    files = sorted(p for p in case_dir.iterdir() if p.suffix.lower() in VIDEO_EXTS)
    parsed = [re.fullmatch(r"(.*?)(\d+)(\.\w+)", p.name) for p in files]
    if not files or not all(parsed):
        raise ConfigError(f"{case_dir}: clip files must be numbered from 0, e.g. clip_000.mp4")
    prefixes = {(m.group(1), m.group(3)) for m in parsed}
    widths = {len(m.group(2)) for m in parsed}
    index = sorted(int(m.group(2)) for m in parsed)
    if len(prefixes) > 1 or index != list(range(len(files))):
        raise ConfigError(
            f"{case_dir}: clip files must share one name pattern numbered 0..N-1, got "
            f"{', '.join(p.name for p in files[:4])}"
        )
    prefix, ext = prefixes.pop()
    width = widths.pop() if len(widths) == 1 else 1
    digits = f":0{width}d" if width > 1 else ""  # zero-padded names: clip_000; else 0, 1, ..., 10
    pattern = (
        "{case}/" + prefix.replace("{", "{{").replace("}", "}}") + "{clip" + digits + "}" + ext
    )
    ordered = tuple(sorted(files, key=lambda p: int(re.fullmatch(r".*?(\d+)\.\w+", p.name)[1])))
    return pattern, ordered


def discover(folder: Path) -> tuple[str, str, list[Found]]:
    """(layout, pattern, cases) of a folder of videos; ConfigError if it holds none."""
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTS)
    dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if files:
        exts = {p.suffix for p in files}
        if len(exts) > 1:
            raise ConfigError(f"{folder}: videos with different extensions {sorted(exts)}; use one")
        cases = [
            Found(
                p.stem,
                (p,),
                _first(folder, [p.stem + e for e in IMAGE_EXTS]),
                _first(folder, [p.stem + ".txt"]),
            )
            for p in files
        ]
        return "per_case", "{case}" + exts.pop(), cases
    cases, patterns = [], set()
    for d in dirs:
        if not any(p.suffix.lower() in VIDEO_EXTS for p in d.iterdir()):
            continue
        pattern, clips = _clip_pattern(d)
        patterns.add(pattern)
        image = _first(d, ["frame.jpg", "frame.png"] + [f"reference{e}" for e in IMAGE_EXTS])
        cases.append(Found(d.name, clips, image, _first(d, ["prompt.txt"])))
    if not cases:
        raise ConfigError(
            f"{folder}: no videos (expected <case>.mp4 files, or <case>/clip_000.mp4 folders)"
        )
    if len(patterns) > 1:
        raise ConfigError(
            f"{folder}: case folders name their clips differently: {sorted(patterns)}"
        )
    return "per_clip", patterns.pop(), cases


def _protocol_for(layout: str, cases: list[Found], frames: int | None, m: int) -> dict:
    """frames_per_clip, clips, fps, height, width shared by every case (or a ConfigError)."""
    from svibench.video import probe_video

    infos = {c.case: [probe_video(v) for v in c.videos] for c in cases}
    sizes = {(i.height, i.width) for v in infos.values() for i in v}
    if len(sizes) > 1:
        raise ConfigError(f"videos differ in size ({sorted(sizes)}); score each size separately")
    fps = {round(i.fps, 3) for v in infos.values() for i in v}
    lengths = {c: [i.frames for i in v] for c, v in infos.items()}
    if layout == "per_clip":
        f = {n for v in lengths.values() for n in v}
        counts = {len(v) for v in lengths.values()}
        if len(f) > 1 or len(counts) > 1:
            raise ConfigError(f"clips must all have one length and every case as many: {lengths}")
        frames_per_clip, clips = f.pop(), counts.pop()
    else:
        if m and not frames:
            raise ConfigError("--motion-frames needs --frames-per-clip for one video per case")
        total = {c: v[0] for c, v in lengths.items()}
        frames_per_clip = frames or next(iter(total.values()))
        per = {c: (t - m) / (frames_per_clip - m) for c, t in total.items()}
        bad = {c: t for c, t in total.items() if per[c] != int(per[c]) or per[c] < 1}
        if bad or len(set(per.values())) > 1:
            raise ConfigError(
                f"video lengths {total} are not all N·(F−m)+m frames for one N with F = "
                f"{frames_per_clip}, m = {m}; pass --frames-per-clip and --motion-frames"
            )
        clips = int(next(iter(per.values())))
    ((height, width),) = sizes
    if m >= frames_per_clip:
        raise ConfigError(f"--motion-frames {m} must be smaller than a clip ({frames_per_clip})")
    return {
        "frames_per_clip": int(frames_per_clip),
        "clips": int(clips),
        "fps": max(1, round(min(fps))),
        "height": int(height),
        "width": int(width),
        "motion_frames": m,
    }


def _reference(found: Found, inputs: Path) -> tuple[Path, bool]:
    """The case's reference image, or its first frame written under ``inputs`` (and False)."""
    if found.image is not None:
        return found.image, True
    from svibench.video import iter_frames, write_png

    frames = iter_frames(found.videos[0])
    try:
        first = next(frames)
    finally:
        frames.close()
    return write_png(inputs / f"{found.case}.png", first), False


def write_score_suite(folder: Path, root: Path, frames: int | None, m: int) -> tuple[Path, dict]:
    """Write ``root/suite.toml`` for the videos under ``folder``; returns it and facts to print."""
    from svibench.atomic import atomic_write_text
    from svibench.suite import parse_prompt_text

    layout, pattern, cases = discover(folder)
    proto = _protocol_for(layout, cases, frames, m)
    toml = json.dumps  # a JSON string is a valid TOML basic string
    lines = [
        f"# Written by `svibench score {folder}`; rerunning that command resumes from here.",
        "[suite]",
        f"name = {toml(re.sub(r'[^A-Za-z0-9_-]', '_', folder.resolve().name) or 'videos')}",
        f"description = {toml(f'{len(cases)} videos from {folder.resolve()} ({layout})')}",
        "",
        "[protocol]",
        *[f"{k} = {v}" for k, v in proto.items()],
        "seed_base = 0",
        "seed_stride = 0",
    ]
    stand_in, no_prompt = [], []
    for c in cases:
        image, real = _reference(c, root / "inputs")
        if not real:
            stand_in.append(c.case)
        if c.prompt_file is not None:
            prompts = parse_prompt_text(
                c.prompt_file.read_text(encoding="utf-8"), str(c.prompt_file)
            )
        else:
            prompts, _ = ["(no prompt given)"], no_prompt.append(c.case)
        lines += [
            "",
            "[[cases]]",
            f"id = {toml(c.case)}",
            f"image = {toml(os.path.relpath(image.resolve(), root.resolve()))}",
            f"prompts = [{', '.join(toml(p) for p in prompts)}]",
        ]
    path = atomic_write_text(root / "suite.toml", "\n".join(lines) + "\n")
    facts = {"layout": layout, "pattern": pattern, "stand_in": stand_in, "no_prompt": no_prompt}
    return path, facts | proto


def score(
    folder: Annotated[
        Path, typer.Argument(help="Folder of videos: <case>.mp4 or <case>/clip_000.mp4.")
    ],
    metrics: Annotated[
        str | None,
        typer.Option("--metrics", "-m", help="Metric set name or comma-separated metric names."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Run name (default: score-<folder name>).")
    ] = None,
    results: Annotated[
        Path | None, typer.Option("--results", help="Results directory (default [run].results).")
    ] = None,
    frames_per_clip: Annotated[
        int | None,
        typer.Option(
            "--frames-per-clip", min=2, help="Cut each long video into clips of F frames."
        ),
    ] = None,
    motion_frames: Annotated[
        int, typer.Option("--motion-frames", min=0, help="Overlap m between stitched clips.")
    ] = 0,
    generator: Annotated[
        str | None, typer.Option("--generator", "-g", help="Name in the tables (default: folder).")
    ] = None,
    keep_videos: Annotated[
        bool,
        typer.Option("--videos/--no-videos", help="Also keep a copy of every clip in the run."),
    ] = False,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="svibench.toml (optional here).")
    ] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="cpu, cuda, cuda:N or auto.")
    ] = None,
    threads: Annotated[int | None, typer.Option("--threads", min=1)] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
) -> None:
    """Score a folder of videos with a metric set; no suite or svibench.toml needed."""
    from rich.console import Console

    from svibench.config import Config, load_config
    from svibench.render.console import print_summary
    from svibench.runner import run_suite
    from svibench.suite import load_suite

    cfg_path = config or Path(os.environ.get("SVIBENCH_CONFIG", "svibench.toml"))
    if cfg_path.exists():
        cfg = load_config(cfg_path)
    else:
        cfg = Config(path=cfg_path, results=Path("results"), metrics=DEFAULT_METRICS)
    folder = Path(folder)
    gen = generator or re.sub(r"[^A-Za-z0-9_.-]", "_", folder.resolve().name)
    root = (results or cfg.results) / (name or f"score-{folder.resolve().name}")
    metric_names = cfg.metric_set(metrics)
    created = not root.exists()
    try:
        suite_path, facts = write_score_suite(folder, root, frames_per_clip, motion_frames)
        _check_prompts(metric_names, facts["no_prompt"])
        table = {
            "kind": "replay",
            "root": str(folder.resolve()),
            "layout": facts["layout"],
            ("case_pattern" if facts["layout"] == "per_case" else "pattern"): facts["pattern"],
        }
        cfg = replace(cfg, generator_tables={**cfg.generator_tables, gen: table})
        suite = load_suite(suite_path)
        console = Console()
        _say_facts(console, facts)
        result = run_suite(
            suite,
            cfg,
            (gen,),
            metric_names,
            root,
            device=cfg.resolve_device(device),
            threads=threads or cfg.threads,
            save_videos=keep_videos,
            show_progress=progress,
        )
    except BaseException:
        if created and not (root / "rows").exists():  # nothing scored: leave no stub folder
            import shutil

            shutil.rmtree(root, ignore_errors=True)
        raise
    t = result.timings
    console.print(f"scored {t.clips} clips ({t.skipped} resumed) in {t.wall:.1f} s -> {root}")
    print_summary(root, console)


def _check_prompts(metric_names: tuple[str, ...], no_prompt: list[str]) -> None:
    from svibench.metrics.registry import METRICS

    if not no_prompt:
        return
    for n in metric_names:
        if TEXT_FEATURE in getattr(METRICS.get(n, where="--metrics"), "features", ()):
            raise ConfigError(
                f"metric '{n}' compares frames with the prompt, but case '{no_prompt[0]}' has "
                "none: add <case>.txt (or <case>/prompt.txt) or leave the metric out"
            )


def _say_facts(console, facts: dict) -> None:
    console.print(
        f"{facts['layout']}: {facts['clips']} clip(s) × {facts['frames_per_clip']} frames at "
        f"{facts['fps']} fps, {facts['height']}×{facts['width']}, m = {facts['motion_frames']}"
    )
    if facts["stand_in"]:
        console.print(
            f"note: no reference image for {len(facts['stand_in'])} case(s) "
            f"({', '.join(facts['stand_in'][:5])}): their first frame stands in, so reference "
            "metrics measure change from the start"
        )
