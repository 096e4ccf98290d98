"""Replay generator: per-clip files, stitched per-case videos, size/count errors, resume."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from svibench.errors import ConfigError, GeneratorOutputError, SvibenchError
from svibench.generators.registry import GENERATORS
from svibench.generators.replay import ReplayGenerator
from svibench.stitch import stitch
from svibench.suite import Case, Protocol
from svibench.video import write_mp4

P = Protocol(frames_per_clip=6, fps=8, clips=3, motion_frames=2, width=48, height=32)
CASE = Case("c1", "world:0", ("a", "b"))
REF = np.zeros((32, 48, 3), np.uint8)


def clips_for(seed: int = 0, n: int = P.clips, h: int = 32, w: int = 48) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (P.frames_per_clip, h, w, 3), dtype=np.uint8) for _ in range(n)]


def run_all(gen, case=CASE, protocol=P, start=0, session=None):
    s = session or gen.start(case, protocol, REF)
    out = [s.next_clip(case.prompt(k), k, protocol.seed(k)) for k in range(start, protocol.clips)]
    s.close()
    return out


def write_per_clip(root, clips, case="c1", pattern="{case}/clip_{clip:03d}.mp4"):
    for k, c in enumerate(clips):
        write_mp4(root / pattern.format(case=case, clip=k), c, P.fps, lossless=True)


def test_registered_as_replay():
    assert GENERATORS.get("replay") is ReplayGenerator
    assert ReplayGenerator.description


def test_per_clip_replays_exact_frames(tmp_path):
    clips = clips_for()
    write_per_clip(tmp_path, clips)
    gen = ReplayGenerator("rp", root=str(tmp_path))
    s = gen.start(CASE, P, REF)
    for k, expected in enumerate(clips):
        got = s.next_clip("x", k, P.seed(k))
        np.testing.assert_array_equal(got, expected)
        assert s.state_dict() == {"clip": k}


def test_per_clip_custom_pattern_and_npy(tmp_path):
    clips = clips_for(1)
    for k, c in enumerate(clips):
        (tmp_path / "vids").mkdir(exist_ok=True)
        np.save(tmp_path / "vids" / f"c1-{k}-s{P.seed(k)}.npy", c)
    gen = ReplayGenerator("rp", root=str(tmp_path), pattern="vids/{case}-{clip}-s{seed}.npy")
    for got, exp in zip(run_all(gen), clips, strict=True):
        np.testing.assert_array_equal(got, exp)


def test_per_case_splits_stitched_video_into_clips(tmp_path):
    clips = clips_for(2)
    long = stitch(clips, P.motion_frames)
    assert len(long) == P.clips * (P.frames_per_clip - P.motion_frames) + P.motion_frames
    write_mp4(tmp_path / "c1.mp4", long, P.fps, lossless=True)
    gen = ReplayGenerator("rp", root=str(tmp_path), layout="per_case")
    got = run_all(gen)
    step = P.frames_per_clip - P.motion_frames
    for k, g in enumerate(got):
        np.testing.assert_array_equal(g, long[k * step : k * step + P.frames_per_clip])
    # the last clip is the last clip unchanged; earlier clips end with the next clip's first m
    np.testing.assert_array_equal(got[-1], clips[-1])
    np.testing.assert_array_equal(got[0][:step], clips[0][:step])
    np.testing.assert_array_equal(got[0][step:], clips[1][: P.motion_frames])


def test_per_case_resume_from_state_matches(tmp_path):
    long = stitch(clips_for(3), P.motion_frames)
    write_mp4(tmp_path / "c1.mp4", long, P.fps, lossless=True)
    gen = ReplayGenerator("rp", root=str(tmp_path), layout="per_case")
    full = run_all(gen)
    first = gen.start(CASE, P, REF)
    first.next_clip("a", 0, 0)
    state = first.state_dict()
    first.close()
    fresh = gen.start(CASE, P, REF)
    fresh.load_state_dict(state)
    resumed = run_all(gen, start=1, session=fresh)
    for a, b in zip(resumed, full[1:], strict=True):
        np.testing.assert_array_equal(a, b)


def test_per_case_streams_with_bounded_buffer(tmp_path):
    # many clips: the cursor keeps only m frames beyond the current clip
    p = Protocol(frames_per_clip=6, fps=8, clips=12, motion_frames=2, width=48, height=32)
    long = stitch(clips_for(4, n=p.clips), p.motion_frames)
    write_mp4(tmp_path / "c1.mp4", long, p.fps, lossless=True)
    gen = ReplayGenerator("rp", root=str(tmp_path), layout="per_case")
    s = gen.start(CASE, p, REF)
    for k in range(p.clips):
        s.next_clip("x", k, p.seed(k))
        assert len(s.cursor._tail) <= p.motion_frames
    s.close()


def test_per_case_wrong_total_frame_count(tmp_path):
    clips = clips_for(5)
    write_mp4(tmp_path / "c1.mp4", np.concatenate(clips), P.fps)  # plain concat: 18 frames, not 14
    gen = ReplayGenerator("rp", root=str(tmp_path), layout="per_case")
    with pytest.raises(
        GeneratorOutputError,
        match=r"c1\.mp4: 18 frames, expected 3 clips x \(6 - 2\) \+ 2 motion frames = 14",
    ):
        gen.start(CASE, P, REF)


def test_per_clip_wrong_count_and_size(tmp_path):
    write_mp4(tmp_path / "c1" / "clip_000.mp4", clips_for(6)[0][:4], P.fps)
    gen = ReplayGenerator("rp", root=str(tmp_path))
    with pytest.raises(GeneratorOutputError, match=r"clip_000\.mp4: 4 frames, expected 6"):
        gen.start(CASE, P, REF).next_clip("a", 0, 0)
    write_mp4(tmp_path / "c1" / "clip_000.mp4", clips_for(6, h=64, w=96)[0], P.fps)
    with pytest.raises(
        GeneratorOutputError, match=r"frames are 64x96 \(HxW\), expected 32x48.*resize = true"
    ):
        gen.start(CASE, P, REF).next_clip("a", 0, 0)
    resized = (
        ReplayGenerator("rp", root=str(tmp_path), resize=True)
        .start(CASE, P, REF)
        .next_clip("a", 0, 0)
    )
    assert resized.shape == (6, 32, 48, 3) and resized.dtype == np.uint8


def test_missing_corrupt_and_truncated_files(tmp_path):
    gen = ReplayGenerator("rp", root=str(tmp_path))
    with pytest.raises(
        SvibenchError, match=r"case 'c1' clip 0: .*clip_000\.mp4: video file not found"
    ):
        gen.start(CASE, P, REF).next_clip("a", 0, 0)
    (tmp_path / "c1").mkdir()
    (tmp_path / "c1" / "clip_000.mp4").write_bytes(b"\x00garbage" * 64)
    with pytest.raises(SvibenchError, match=r"clip_000\.mp4: not a readable video") as e:
        gen.start(CASE, P, REF).next_clip("a", 0, 0)
    assert "\n" not in str(e.value)
    long = stitch(clips_for(7), P.motion_frames)
    data = write_mp4(tmp_path / "full.mp4", long, P.fps, lossless=True).read_bytes()
    (tmp_path / "c1.mp4").write_bytes(data[: len(data) // 2])
    per_case = ReplayGenerator("rp", root=str(tmp_path), layout="per_case")
    with pytest.raises(SvibenchError, match=r"c1\.mp4"):
        run_all(per_case)


def test_per_case_short_video_names_clip_and_counts(tmp_path, monkeypatch):
    long = stitch(clips_for(8, n=2), P.motion_frames)  # 10 frames, the protocol wants 14
    write_mp4(tmp_path / "c1.mp4", long, P.fps, lossless=True)
    gen = ReplayGenerator("rp", root=str(tmp_path), layout="per_case")
    with pytest.raises(GeneratorOutputError, match="10 frames, expected .* = 14"):
        gen.start(CASE, P, REF)
    # a container that does not report its frame count: the shortfall shows while decoding
    from svibench.generators import replay as mod

    real = mod.probe_video
    monkeypatch.setattr(mod, "probe_video", lambda p: dataclasses.replace(real(p), frames=0))
    s = gen.start(CASE, P, REF)
    s.next_clip("a", 0, 0)
    s.next_clip("a", 1, 0)
    with pytest.raises(
        GeneratorOutputError, match=r"clip 2 needs frames 8\.\.13 but the video has 10 frames"
    ):
        s.next_clip("a", 2, 0)


def test_config_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"\[generators.rp\].root: the folder"):
        ReplayGenerator("rp")
    with pytest.raises(ConfigError, match=r"\.root: folder .*nowhere does not exist"):
        ReplayGenerator("rp", root=str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match=r"\.layout: got 'flat', allowed: per_clip, per_case"):
        ReplayGenerator("rp", root=str(tmp_path), layout="flat")
    with pytest.raises(ConfigError, match=r"\.pattern: bad pattern"):
        ReplayGenerator("rp", root=str(tmp_path), pattern="{case}/{frame}.mp4")
    with pytest.raises(ConfigError, match=r"\.resize: must be true or false"):
        ReplayGenerator("rp", root=str(tmp_path), resize="yes")


# ----------------------------------------------------------------------------- fps and readers
def _write_tagged(path, frames, fps, x264=None):
    """H.264 yuv420p, optionally with an x264 colour description (e.g. BT.709 tags)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        s.options = {"crf": "18", "preset": "ultrafast"} | ({"x264-params": x264} if x264 else {})
        for f in frames:
            for p in s.encode(
                av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p")
            ):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def test_fps_mismatch_is_a_clear_error(tmp_path):
    clips = clips_for()
    for k, c in enumerate(clips):
        write_mp4(tmp_path / "c1" / f"clip_{k:03d}.mp4", c, 24, lossless=True)
    s = ReplayGenerator("rp", root=str(tmp_path)).start(CASE, P, REF)
    with pytest.raises(
        GeneratorOutputError,
        match=r"clip_000\.mp4: the file is 24 fps, the suite scores clips at 8 fps",
    ) as e:
        s.next_clip("a", 0, 0)
    assert "resample_fps" in str(e.value) and "\n" not in str(e.value)
    f, m, n = P.frames_per_clip, P.motion_frames, P.clips
    write_mp4(tmp_path / "c1.mp4", stitch(clips, m), 24, lossless=True)
    with pytest.raises(GeneratorOutputError, match="24 fps"):
        ReplayGenerator("rp", root=str(tmp_path), layout="per_case").start(CASE, P, REF)
    with pytest.raises(ConfigError, match="per_clip"):
        ReplayGenerator("rp", root=str(tmp_path), layout="per_case", resample_fps=True)
    assert (f, n) == (6, 3)


def test_expected_fps_is_the_saved_fps_where_the_protocol_has_one(tmp_path):
    from svibench.generators.replay import expected_fps

    assert expected_fps(P) == 8.0

    @dataclasses.dataclass(frozen=True)
    class WithSaved(Protocol):
        saved_fps: int = 16

    assert expected_fps(WithSaved(fps=8)) == 16.0


def test_resample_fps_picks_the_nearest_frames_in_time(tmp_path):
    rng = np.random.default_rng(3)
    at16 = rng.integers(0, 256, (12, 32, 48, 3), dtype=np.uint8)  # 6 frames at 8 fps = 12 at 16
    write_mp4(tmp_path / "c1" / "clip_000.mp4", at16, 16, lossless=True)
    gen = ReplayGenerator("rp", root=str(tmp_path), resample_fps=True)
    got = gen.start(CASE, P, REF).next_clip("a", 0, 0)
    np.testing.assert_array_equal(got, at16[::2])
    write_mp4(tmp_path / "c1" / "clip_001.mp4", at16[:9], 16, lossless=True)  # too short
    with pytest.raises(GeneratorOutputError, match="9 frames at 16 fps, expected 11..12"):
        gen.start(CASE, P, REF).next_clip("a", 1, 42)


def test_replay_hands_each_vbench_reader_its_frames(tmp_path):
    """A BT.709-tagged clip: decord honours the tags, cv2 converts BT.601; the session keeps
    both (one decode) and the clip's frames are decord's."""
    from svibench.video import read_video

    frames = np.stack([np.roll(clips_for(4, 1)[0][0], 3 * t, axis=1) for t in range(6)])
    tagged = _write_tagged(tmp_path / "t" / "c1" / "clip_000.mp4", frames, 8, "colormatrix=bt709")
    plain = _write_tagged(tmp_path / "p" / "c1" / "clip_000.mp4", frames, 8)
    s = ReplayGenerator("rp", root=str(tmp_path / "t")).start(CASE, P, REF)
    got = s.next_clip("a", 0, 0)
    np.testing.assert_array_equal(got, read_video(tagged, "decord")[0])
    cv2_frames = s.decoded_frames()["cv2"]
    np.testing.assert_array_equal(cv2_frames, read_video(tagged, "cv2")[0])
    assert np.abs(cv2_frames.astype(int) - got).max() > 0
    s = ReplayGenerator("rp", root=str(tmp_path / "p")).start(CASE, P, REF)
    s.next_clip("a", 0, 0)
    assert s.decoded_frames() is None  # untagged: both readers give the same frames
    assert plain.is_file()


def test_runner_scores_cv2_dimensions_on_cv2_frames(tmp_path):
    """End to end: temporal_flickering of a replayed BT.709 clip is VBench's, i.e. computed on
    the frames cv2 decodes, not on decord's."""
    import pandas as pd

    from svibench.config import load_config
    from svibench.metrics.flicker import temporal_flickering
    from svibench.runner import run_suite
    from svibench.suite import load_suite
    from svibench.video import read_video, write_png

    frames = np.stack([np.roll(clips_for(5, 1)[0][0], 2 * t, axis=0) for t in range(6)])
    vid = _write_tagged(tmp_path / "v" / "c1" / "clip_000.mp4", frames, 8, "colormatrix=bt709")
    write_png(tmp_path / "ref.png", frames[0])
    (tmp_path / "suite.toml").write_text(
        '[suite]\nname = "rp"\nversion = 1\n[protocol]\nframes_per_clip = 6\nfps = 8\nclips = 1\n'
        "width = 48\nheight = 32\nmotion_frames = 1\n"
        '[[cases]]\nid = "c1"\nimage = "ref.png"\nprompts = ["x"]\n'
    )
    (tmp_path / "svibench.toml").write_text(
        '[run]\nmetrics = ["temporal_flickering"]\ngenerators = ["rp"]\n'
        f'[generators.rp]\nkind = "replay"\nroot = "{tmp_path / "v"}"\n'
    )
    cfg = load_config(tmp_path / "svibench.toml")
    run_suite(
        load_suite(tmp_path / "suite.toml"),
        cfg,
        cfg.generators,
        cfg.metrics,
        tmp_path / "out",
        threads=1,
        save_videos=False,
        show_progress=False,
    )
    rows = pd.concat(pd.read_parquet(p) for p in (tmp_path / "out" / "rows").glob("*/*.parquet"))
    got = rows.set_index("metric")["value"]["temporal_flickering"]
    assert got == temporal_flickering(read_video(vid, "cv2")[0])
    assert got != temporal_flickering(read_video(vid, "decord")[0])
