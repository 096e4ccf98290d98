"""svibench.video: PyAV round trips, lossless exactness, odd sizes, clear errors on bad files."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from svibench.errors import SvibenchError
from svibench.video import (
    iter_frames,
    probe_video,
    read_frames_file,
    read_video,
    resize_frames,
    write_mp4,
    write_png,
)


def smooth_frames(t: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth moving gradients: compress well, so lossy error is small and meaningful."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    phase = rng.random(3) * 6.28
    out = np.empty((t, h, w, 3), np.uint8)
    for i in range(t):
        for c in range(3):
            out[i, :, :, c] = 127 + 100 * np.sin(xx / 9.0 + yy / 13.0 + phase[c] + 0.3 * i)
    return out


def noise_frames(t: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (t, h, w, 3), dtype=np.uint8)


def pix_fmt(path: Path) -> str:
    with av.open(str(path)) as c:
        return c.streams.video[0].codec_context.pix_fmt


@pytest.mark.parametrize("h,w", [(32, 48), (33, 47)])
def test_lossless_round_trip_is_exact(tmp_path, h, w):
    frames = noise_frames(7, h, w)
    path = write_mp4(tmp_path / "a.mp4", frames, 16, lossless=True)
    got, fps = read_video(path)
    assert fps == 16.0
    assert got.dtype == np.uint8 and got.shape == frames.shape
    np.testing.assert_array_equal(got, frames)


def test_lossy_round_trip_even_size_is_yuv420p_and_close(tmp_path):
    frames = smooth_frames(10, 48, 64)
    path = write_mp4(tmp_path / "b.mp4", frames, 12, crf=18)
    got, fps = read_video(path)
    assert fps == 12.0 and got.shape == frames.shape
    assert pix_fmt(path) == "yuv420p"
    # read back as VBench's decord reads it (swscale's default, nearest-neighbour chroma): the
    # frames any standard reader gives, not the closest possible to what was written
    with av.open(str(path)) as c:
        plain = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    np.testing.assert_array_equal(got, plain)
    assert np.abs(got.astype(int) - frames).mean() < 5.0


def test_odd_size_keeps_exact_size_with_yuv444p(tmp_path):
    frames = smooth_frames(5, 33, 45)
    path = write_mp4(tmp_path / "odd.mp4", frames, 8)
    got, _ = read_video(path)
    assert got.shape == (5, 33, 45, 3)
    assert pix_fmt(path) == "yuv444p"
    assert np.abs(got.astype(int) - frames).mean() < 3.0


def test_iter_frames_streams_the_same_frames(tmp_path):
    frames = noise_frames(6, 16, 16, seed=1)
    path = write_mp4(tmp_path / "s.mp4", frames, 16, lossless=True)
    it = iter_frames(path)
    first = next(it)
    np.testing.assert_array_equal(first, frames[0])
    rest = list(it)
    assert len(rest) == 5
    np.testing.assert_array_equal(np.stack(rest), frames[1:])
    info = probe_video(path)
    assert (info.frames, info.height, info.width, info.fps) == (6, 16, 16, 16.0)


def test_missing_file_is_one_line_error(tmp_path):
    with pytest.raises(SvibenchError, match=r"nope\.mp4: video file not found") as e:
        read_video(tmp_path / "nope.mp4")
    assert "\n" not in str(e.value)


def test_corrupt_file_error_names_file(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"this is not a video" * 50)
    with pytest.raises(SvibenchError, match=r"bad\.mp4: not a readable video") as e:
        read_video(bad)
    assert "\n" not in str(e.value)
    with pytest.raises(SvibenchError):
        list(iter_frames(bad))


def test_truncated_file_is_an_error(tmp_path):
    path = write_mp4(tmp_path / "t.mp4", smooth_frames(12, 32, 32), 16)
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # the index (moov) is at the end: open fails
    with pytest.raises(SvibenchError, match=r"cut\.mp4"):
        read_video(cut)


def test_truncated_faststart_file_is_an_error(tmp_path):
    # Index first (faststart), data cut off: the decoder just stops early; we must notice.
    frames = noise_frames(20, 32, 32, seed=2)
    path = tmp_path / "fs.mp4"
    with av.open(str(path), "w", format="mp4", options={"movflags": "faststart"}) as c:
        s = c.add_stream("libx264", rate=16)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        for i, x in enumerate(frames):
            fr = av.VideoFrame.from_ndarray(x, format="rgb24")
            fr.pts = i
            for p in s.encode(fr):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    data = path.read_bytes()
    cut = tmp_path / "fs_cut.mp4"
    cut.write_bytes(data[: len(data) * 6 // 10])
    assert read_video(path)[0].shape[0] == 20
    with pytest.raises(SvibenchError, match=r"fs_cut\.mp4: truncated, the header lists 20 frames"):
        read_video(cut)


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    path = write_mp4(tmp_path / "keep.mp4", noise_frames(3, 16, 16), 16, lossless=True)
    before = path.read_bytes()
    with pytest.raises(SvibenchError, match="uint8"):
        write_mp4(path, np.zeros((3, 16, 16, 3), np.float32), 16)
    with pytest.raises(SvibenchError, match=r"\(T>=1, H, W, 3\)"):
        write_mp4(path, np.zeros((16, 16, 3), np.uint8), 16)
    with pytest.raises(SvibenchError, match="fps"):
        write_mp4(path, noise_frames(2, 16, 16), 0)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.mp4"]


def test_png_and_npy_and_resize(tmp_path):
    from PIL import Image

    img = noise_frames(1, 9, 11)[0]
    p = write_png(tmp_path / "sub" / "x.png", img)
    np.testing.assert_array_equal(np.asarray(Image.open(p).convert("RGB")), img)
    arr = noise_frames(4, 8, 8)
    np.save(tmp_path / "f.npy", arr)
    np.testing.assert_array_equal(read_frames_file(tmp_path / "f.npy"), arr)
    (tmp_path / "broken.npy").write_bytes(b"nope")
    with pytest.raises(SvibenchError, match=r"broken\.npy: not a readable \.npy"):
        read_frames_file(tmp_path / "broken.npy")
    small = resize_frames(smooth_frames(2, 32, 48), (16, 24))
    assert small.shape == (2, 16, 24, 3) and small.dtype == np.uint8
