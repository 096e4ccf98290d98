"""`svibench score DIR`: a folder of videos scored without TOML, through replay + the runner."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli

from svibench.metrics.base import ClipInput
from svibench.metrics.flicker import TemporalFlickering
from svibench.metrics.reference import PSNRToReference
from svibench.stitch import stitch
from svibench.video import probe_video, write_mp4, write_png

F, M, N, FPS = 9, 2, 3, 8


def _clips(seed: int) -> list[np.ndarray]:
    """N clips of F frames where clip k+1 starts with clip k's last M frames (as SVI chains)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (1, 32, 48, 3)).astype(np.float64)
    clips, prev = [], None
    for k in range(N):
        frames = np.clip(base + rng.normal(0, 6 + 4 * k, (F, 32, 48, 3)), 0, 255).astype(np.uint8)
        if prev is not None:
            frames[:M] = prev[-M:]
        clips.append(frames)
        prev = frames
    return clips


def _expected(clips, reference) -> dict[tuple[int, str], float]:
    out = {}
    for k, frames in enumerate(clips):
        clip = ClipInput(frames, reference, "", k, FPS, M)
        for metric in (PSNRToReference(), TemporalFlickering()):
            out.update({(k, c): v for c, v in metric.compute(clip, {}).items()})
    return out


def _scored(root) -> dict[tuple[str, int, str], float]:
    rows = pd.concat([pd.read_parquet(p) for p in (root / "rows").glob("*/*.parquet")])
    return {(r.case, int(r.clip), r.metric): r.value for r in rows.itertuples()}


@pytest.mark.parametrize("layout", ["per_case", "per_clip"])
def test_score_folder_matches_direct_metrics(tmp_path, layout):
    videos = tmp_path / "videos"
    videos.mkdir()
    truth = {}
    for i, case in enumerate(("alpha", "beta")):
        clips = _clips(i)
        reference = clips[0][0]
        truth[case] = _expected(clips, reference)
        if layout == "per_case":  # one stitched video per case, N·(F−m)+m frames
            write_mp4(videos / f"{case}.mp4", stitch(clips, M), FPS, lossless=True)
            write_png(videos / f"{case}.png", reference)
        else:  # one folder of numbered clips per case, SVI-benchmark style frame.png
            for k, frames in enumerate(clips):
                write_mp4(videos / case / f"clip_{k:03d}.mp4", frames, FPS, lossless=True)
            write_png(videos / case / "frame.png", reference)
    extra = ["--frames-per-clip", str(F)] if layout == "per_case" else []
    proc = run_cli(
        "score", str(videos), "-m", "psnr_ref,temporal_flickering", "--motion-frames", str(M),
        "--results", str(tmp_path / "results"), "--no-progress", *extra, cwd=tmp_path, check=True,
    )  # fmt: skip
    assert "first frame stands in" not in proc.stdout
    root = tmp_path / "results" / "score-videos"
    got = _scored(root)
    want = {(case, k, c): v for case, t in truth.items() for (k, c), v in t.items()}
    assert set(got) == set(want)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
    assert (root / "suite.toml").is_file()
    again = run_cli("score", str(videos), "-m", "psnr_ref,temporal_flickering", "--motion-frames",
                    str(M), "--results", str(tmp_path / "results"), "--no-progress", *extra,
                    cwd=tmp_path, check=True)  # fmt: skip
    assert f"0 clips ({2 * N} resumed)" in again.stdout  # the generated suite is stable: resume
    # the page plays the scored videos themselves (no clip copies were kept)
    run_cli("view", str(root), cwd=tmp_path, check=True)
    text = (root / "view" / "data.js").read_text()
    (run,) = json.loads(text[text.index("=") + 1 : text.rindex(";")])["runs"]
    for case in run["cases"]:
        assert case["reference"] and case["prompts"] == ["(no prompt given)"] * N
        video = case["videos"]["videos"]
        assert probe_video(root / "view" / video["src"]).frames == N * (F - M) + M
        assert [c["t0"] for c in video["clips"]] == [k * (F - M) / FPS for k in range(N)]


def test_score_without_reference_or_prompts(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    clips = _clips(3)
    write_mp4(videos / "solo.mp4", stitch(clips, M), FPS, lossless=True)
    proc = run_cli("score", str(videos), "-m", "psnr_ref", "--results", str(tmp_path / "r"),
                   "--no-progress", cwd=tmp_path, check=True)  # fmt: skip
    assert "first frame stands in" in proc.stdout
    # one clip (the whole video) compared with its own first frame
    (value,) = _scored(tmp_path / "r" / "score-videos").values()
    whole = stitch(clips, M)
    expect = PSNRToReference().compute(ClipInput(whole, whole[0], "", 0, FPS, 0), {})["psnr_ref"]
    assert value == pytest.approx(expect, rel=1e-9)
    # a prompt metric without prompts is refused in one line, and leaves no stub run folder
    bad = run_cli("score", str(videos), "-m", "clip_text", "--results", str(tmp_path / "r2"),
                  cwd=tmp_path)  # fmt: skip
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "prompt" in bad.stderr
    assert not (tmp_path / "r2" / "score-videos").exists()


def test_score_rejects_lengths_that_are_not_stitched_clips(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    write_mp4(videos / "a.mp4", stitch(_clips(0), M), FPS, lossless=True)  # 23 frames
    proc = run_cli("score", str(videos), "--frames-per-clip", "10", "--motion-frames", "2",
                   "--results", str(tmp_path / "r"), cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2
    assert "N·(F−m)+m" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_cli("score", str(empty), cwd=tmp_path)
    assert proc.returncode == 2 and "no videos" in proc.stderr
