"""Frames as VBench's readers give them (svibench.video READERS), on clips made here in the
encodings users hand to VBench: H.264 yuv420p (untagged, BT.601, BT.709, BT.2020, limited and
full range), yuv422p, yuv444p (odd size), libx264rgb, MPEG-4 part 2, VP9 (full range, BT.709),
8/16/24 fps.

Checked against independent paths that need nothing but PyAV (plain ``to_ndarray``; the
decoded planes re-tagged BT.601 limited), and against decord 0.6.0 / opencv 4.11 themselves
where they are installed (VBench 0.1.5's pins; other OpenCV versions convert differently).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import av
import cv2  # noqa: F401  before any decord import: see svibench.video.reader_library
import numpy as np
import pytest

from svibench import video
from svibench.video import READERS, iter_decoded, probe_video, read_decoded, read_video, to_rgb

_X264 = {
    "bt601": "colormatrix=smpte170m:colorprim=smpte170m:transfer=smpte170m",
    "bt709": "colormatrix=bt709:colorprim=bt709:transfer=bt709",
    "bt709full": "colormatrix=bt709:colorprim=bt709:transfer=bt709:fullrange=on",
    "bt2020": "colormatrix=bt2020nc:colorprim=bt2020:transfer=bt709",
}
# name: (codec, pix_fmt, tags, H, W, fps, tagged = the tags change the matrix or range)
ENCODINGS = {
    "h264_plain": ("libx264", "yuv420p", None, 48, 64, 16, False),
    "h264_bt601": ("libx264", "yuv420p", "bt601", 48, 64, 8, False),
    "h264_bt709": ("libx264", "yuv420p", "bt709", 48, 64, 16, True),
    "h264_bt709full": ("libx264", "yuv420p", "bt709full", 48, 64, 24, True),
    "h264_bt2020": ("libx264", "yuv420p", "bt2020", 48, 64, 16, True),
    "h264_yuv422p": ("libx264", "yuv422p", None, 48, 64, 16, False),
    "h264_yuv444p_odd": ("libx264", "yuv444p", None, 33, 47, 16, False),
    "h264_yuv444p_bt709": ("libx264", "yuv444p", "bt709", 48, 64, 8, True),
    "h264rgb": ("libx264rgb", "rgb24", None, 48, 64, 16, False),
    "mpeg4": ("mpeg4", "yuv420p", None, 48, 64, 24, False),
    "vp9_full": ("libvpx-vp9", "yuv420p", "vp9full", 48, 64, 16, True),
    "vp9_bt709": ("libvpx-vp9", "yuv420p", "vp9bt709", 48, 64, 24, True),
}


def photo(n: int, h: int, w: int) -> np.ndarray:
    """A real photograph (scikit-image's astronaut) panned: chroma detail matters here."""
    skimage = pytest.importorskip("skimage")
    img = skimage.data.astronaut()[100:300, 150:400]
    return np.stack([img[2 * t : 2 * t + h, 3 * t : 3 * t + w] for t in range(n)])


def encode(path: Path, name: str, n: int = 5) -> Path:
    codec, pix_fmt, tags, h, w, fps, _ = ENCODINGS[name]
    frames = photo(n, h, w)
    with av.open(str(path), "w", format="webm" if codec == "libvpx-vp9" else "mp4") as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = w, h, pix_fmt
        if codec == "libx264":
            s.options = {"crf": "20", "preset": "ultrafast"} | (
                {"x264-params": _X264[tags]} if tags else {}
            )
        if codec == "libvpx-vp9":
            s.options = {"crf": "30", "b:v": "0", "deadline": "realtime", "cpu-used": "8"}
            s.codec_context.colorspace = 1 if tags == "vp9bt709" else 6
            s.codec_context.color_range = 2 if tags == "vp9full" else 1
        for f in frames:
            fr = av.VideoFrame.from_ndarray(f, format="rgb24")
            if pix_fmt != "rgb24":
                fr = fr.reformat(format=pix_fmt)
            for p in s.encode(fr):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("encodings")
    return {n: encode(d / f"{n}.{'webm' if 'vp9' in n else 'mp4'}", n) for n in ENCODINGS}


def _frames(path: Path) -> list:
    with av.open(str(path)) as c:
        return list(c.decode(video=0))


def retagged_bt601_limited(frame) -> np.ndarray:
    """Independent cv2 path: the decoded planes copied into a fresh frame tagged BT.601
    limited (yuvj* stay full, as swscale treats them), converted with PyAV's defaults."""
    fmt = frame.format.name
    if fmt in ("gbrp", "rgb24"):
        return frame.to_ndarray(format="rgb24")
    copy = av.VideoFrame.from_ndarray(frame.to_ndarray(), format=fmt)
    copy.colorspace = 6  # AVCOL_SPC_SMPTE170M (BT.601)
    copy.color_range = 2 if fmt.startswith("yuvj") else 1
    return copy.to_ndarray(format="rgb24")


@pytest.mark.parametrize("name", list(ENCODINGS))
def test_readers_match_independent_paths(clips, name):
    decoded = list(iter_decoded(clips[name]))
    frames = _frames(clips[name])
    assert len(decoded) == len(frames) == 5
    tagged = ENCODINGS[name][-1]
    differ = False
    for d, fr in zip(decoded, frames, strict=True):
        assert set(d) == set(READERS)
        # decord: the frame's own tags, swscale defaults == PyAV's plain conversion
        np.testing.assert_array_equal(d["decord"], fr.to_ndarray(format="rgb24"))
        np.testing.assert_array_equal(d["cv2"], retagged_bt601_limited(fr))
        differ |= not np.array_equal(d["decord"], d["cv2"])
    # the two readers differ exactly when the tags ask for another matrix or range
    assert differ == tagged


@pytest.mark.parametrize("name", list(ENCODINGS))
def test_fps_read_from_the_file(clips, name):
    assert probe_video(clips[name]).fps == float(ENCODINGS[name][5])
    decoded, fps = read_decoded(clips[name])
    assert fps == float(ENCODINGS[name][5]) and set(decoded) == set(READERS)


@pytest.mark.parametrize("name", list(ENCODINGS))
def test_decord_itself(clips, name):
    decord = pytest.importorskip("decord")
    vr = decord.VideoReader(str(clips[name]), num_threads=1)
    theirs = vr.get_batch(list(range(len(vr)))).asnumpy()
    np.testing.assert_array_equal(read_video(clips[name], "decord")[0], theirs)


@pytest.mark.parametrize("name", list(ENCODINGS))
def test_opencv_itself(clips, name):
    # cv2 is imported at the top (before decord)
    if not cv2.__version__.startswith("4.11."):
        pytest.skip(f"VBench 0.1.5 pins opencv 4.11; this is {cv2.__version__}")
    cap = cv2.VideoCapture(str(clips[name]))
    theirs = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        theirs.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
    assert cap.get(cv2.CAP_PROP_FPS) == probe_video(clips[name]).fps
    np.testing.assert_array_equal(read_video(clips[name], "cv2")[0], np.stack(theirs))


def test_unknown_reader_is_an_error(clips):
    with pytest.raises(ValueError, match="unknown frame reader"):
        to_rgb(_frames(clips["h264_plain"])[0], "ffmpeg")


def _write(path: Path, frames: np.ndarray, codec: str, pix_fmt: str, fps: int) -> Path:
    """Encode RGB frames converted to ``pix_fmt`` with PyAV's defaults (fast settings)."""
    with av.open(str(path), "w", format="webm" if path.suffix == ".webm" else "mp4") as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        s.options = (
            {"deadline": "realtime", "cpu-used": "8"}
            if codec == "libvpx-vp9"
            else {"preset": "ultrafast"}
        )
        for f in frames:
            for p in s.encode(
                av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format=pix_fmt)
            ):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def _odd_vp9(tmp_path: Path) -> Path:
    """Odd-sized VP9 4:2:0: decord's FFmpeg 4.1 scales its chroma unlike PyAV's."""
    return _write(tmp_path / "odd.webm", photo(3, 33, 47), "libvpx-vp9", "yuv420p", 8)


def _ten_bit(tmp_path: Path) -> Path:
    return _write(tmp_path / "ten.mp4", photo(3, 48, 64), "libx264", "yuv420p10le", 16)


def test_known_gaps_warn_without_the_readers(tmp_path, monkeypatch):
    """Odd-sized 4:2:0 and 10-bit files are outside the emulation's bit-exact range: without
    VBench's reader libraries, say which reader is not exact, and still decode."""
    monkeypatch.setattr(video, "reader_library", lambda reader: None)
    with pytest.warns(UserWarning, match=r"decord \(yuv420p with an odd size") as rec:
        got, _ = read_video(_odd_vp9(tmp_path))
    assert got.shape == (3, 33, 47, 3)
    assert "cv2" not in str(rec[0].message)  # cv2's FFmpeg agrees with PyAV on odd sizes
    with pytest.warns(UserWarning, match=r"decord \(yuv420p10le is 10-bit\); cv2 \("):
        read_decoded(_ten_bit(tmp_path))


def test_known_gaps_read_by_decord_itself(tmp_path, recwarn):
    """With decord installed at VBench's pin, its own frames fill the gap: bit-exact, no warning."""
    decord = pytest.importorskip("decord")
    if video.reader_library("decord") is None:
        pytest.skip(f"VBench 0.1.5 pins decord 0.6.0; this is {decord.__version__}")
    path = _odd_vp9(tmp_path)
    vr = decord.VideoReader(str(path), num_threads=1)
    theirs = vr.get_batch(list(range(len(vr)))).asnumpy()
    decoded, _ = read_decoded(path)
    np.testing.assert_array_equal(decoded["decord"], theirs)
    emulated = np.stack([to_rgb(f, "decord") for f in _frames(path)])
    assert not np.array_equal(emulated, theirs)  # the gap is real: the emulation differs here
    assert not [w for w in recwarn if "VBench" in str(w.message)]
    ten = _ten_bit(tmp_path)
    vr = decord.VideoReader(str(ten), num_threads=1)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        decoded, _ = read_decoded(ten)
    said = [str(w.message) for w in rec if "VBench" in str(w.message)]
    assert len(said) == (video.reader_library("cv2") is None)  # only cv2 can be left inexact
    assert not said or ("cv2 (" in said[0] and "decord (" not in said[0])
    np.testing.assert_array_equal(decoded["decord"], vr.get_batch(list(range(len(vr)))).asnumpy())


def test_no_warning_on_exact_encodings(clips, recwarn):
    for path in clips.values():
        read_decoded(path)
    assert not [w for w in recwarn if "VBench" in str(w.message)]


def test_reference_images_still_decode_after_decord(tmp_path):
    """decord's bundled libraries loaded before OpenCV's broke cv2's PNG decoding in-process
    (libpng: bad parameters to zlib); reader_library loads OpenCV first."""
    pytest.importorskip("decord")
    code = (
        "import sys, numpy as np\n"
        "from svibench.video import reader_library, write_png\n"
        "reader_library('decord')\n"
        "from svibench.suite import decode_image\n"
        "write_png(sys.argv[1], np.full((8, 8, 3), 7, np.uint8))\n"
        "assert (decode_image(sys.argv[1], 'x') == 7).all()\n"
    )
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", code, str(tmp_path / "a.png")], check=True)
