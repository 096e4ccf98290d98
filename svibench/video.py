"""Video files in and out (PyAV): clip mp4s for viewing/replay, PNG stills.

Frames are always uint8 RGB ``(T, H, W, 3)``.

Encoding choices:

* default: H.264 (``libx264``) ``yuv420p``, the format every player understands. yuv420p
  subsamples chroma by 2 in both directions, so it needs even height and width; odd sizes fall
  back to ``yuv444p`` (full-resolution chroma, no padding, the exact size is kept) which most
  players still decode.
* ``lossless=True``: ``libx264rgb`` at ``qp 0`` stores RGB losslessly, so reading the file back
  gives the very frames written (replaying our own outputs is then exact).

Decoding gives the frames exactly as VBench 0.1.5's two readers give them (``READERS``),
converted from one decode of each frame (``iter_decoded``):

* ``"decord"`` (``vbench.utils.load_video``: subject/background consistency, aesthetic and
  imaging quality, i2v_*): decord 0.6.0 converts through an FFmpeg filter graph, which takes
  the YCbCr matrix and range from the frame's tags (BT.601 limited when untagged) and
  swscale's default bilinear chroma. This is also PyAV's plain ``to_ndarray("rgb24")``, the
  frames every other svibench metric reads (``frames``).
* ``"cv2"`` (``cv2.VideoCapture``: temporal_flickering, dynamic_degree, motion_smoothness):
  OpenCV 4.11 calls ``sws_getCachedContext(..., SWS_BICUBIC)`` without colour details, so it
  always converts with BT.601 at limited range (full for the ``yuvj*`` formats) whatever the
  tags say.

Measured bit-identical to decord 0.6.0 and opencv-python 4.11.0.86 (VBench's pins) on H.264
yuv420p/yuv422p/yuv444p (untagged, BT.601, BT.709, BT.2020 tags, limited and full range),
libx264rgb, MPEG-4 part 2 and VP9 (tagged, full range), 8/16/24 fps: ``tests/test_video.py``
and docs/metrics.md. Where the readers' older FFmpeg differs (``vbench_gap``: odd-sized 4:2:0
for decord, >8-bit input for both), the frames come from VBench's reader library itself when it
is installed at VBench's pin (``reader_library``; ``pip install "svibench[readers]"``), else
from the emulation with a one-line warning. One MPEG-4 clip had a 3x3 block off by 1 level (a
decoder change no reader setting reproduces).

Writes are atomic (svibench.atomic: a temporary file in the destination folder, then a rename). A killed
process never leaves a half-written mp4 under the final name.

Every failure (missing, corrupt, truncated file, no video stream, no frames) raises
``SvibenchError`` with one line naming the file and the problem; PyAV errors never escape.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from svibench.atomic import atomic_write
from svibench.errors import SvibenchError

__all__ = [
    "READERS",
    "VideoInfo",
    "iter_decoded",
    "iter_frames",
    "probe_video",
    "read_frames_file",
    "read_video",
    "resize_frames",
    "write_mp4",
    "write_png",
]


def _av():
    # PyAV is imported lazily so that `svibench --help` stays fast.
    import av

    return av


def _av_errors() -> tuple[type[BaseException], ...]:
    av = _av()
    base = getattr(av, "FFmpegError", None) or av.error.FFmpegError
    return (base, OSError, ValueError, EOFError)


def _sws_flags():
    # swscale's defaults round inexactly and subsample chroma crudely: a yuv420p round trip
    # shifts colours by ~1.5 levels. Accurate rounding + full chroma interpolation removes
    # the bias (mean error 0.6 levels on smooth content, measured in tests/test_video.py).
    from av.video.reformatter import Interpolation as Sws

    return Sws.BICUBIC | Sws.ACCURATE_RND | Sws.FULL_CHR_H_INT | Sws.FULL_CHR_H_INP


def _as_fraction(fps: float | int | Fraction) -> Fraction:
    rate = Fraction(fps).limit_denominator(1001000)
    if rate <= 0:
        raise SvibenchError(f"fps must be > 0, got {fps!r}")
    return rate


def _check_array(frames: np.ndarray, path: Path) -> np.ndarray:
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8:
        kind = getattr(frames, "dtype", type(frames).__name__)
        raise SvibenchError(f"{path}: frames to write must be a uint8 numpy array, got {kind}")
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 1:
        raise SvibenchError(
            f"{path}: frames to write must have shape (T>=1, H, W, 3), got {tuple(frames.shape)}"
        )
    return np.ascontiguousarray(frames)


def write_mp4(
    path: str | Path,
    frames: np.ndarray,
    fps: float | int | Fraction,
    *,
    crf: int = 18,
    lossless: bool = False,
    preset: str = "veryfast",
) -> Path:
    """Write uint8 RGB frames ``(T, H, W, 3)`` to an H.264 mp4, atomically.

    ``crf`` sets the quality of the default lossy yuv420p/yuv444p encoding (0-51, lower is
    better; 18 is visually lossless; ``preset`` trades speed for size). ``lossless=True`` uses libx264rgb at qp 0 instead, so that
    ``read_video`` returns exactly ``frames``. Returns the path written.
    """
    path = Path(path)
    frames = _check_array(frames, path)
    _, h, w, _ = frames.shape
    rate = _as_fraction(fps)
    av = _av()
    flags = _sws_flags()
    if lossless:
        codec, pix_fmt, options = "libx264rgb", "rgb24", {"qp": "0", "preset": preset}
    else:
        # yuv420p halves chroma resolution, so it needs even sizes; yuv444p keeps odd sizes exact.
        pix_fmt = "yuv420p" if h % 2 == 0 and w % 2 == 0 else "yuv444p"
        codec, options = "libx264", {"crf": str(int(crf)), "preset": preset}

    def encode(tmp: Path) -> None:
        try:
            with av.open(str(tmp), mode="w", format="mp4") as container:
                stream = container.add_stream(codec, rate=rate, options=options)
                stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
                stream.time_base = 1 / rate
                for i, img in enumerate(frames):
                    frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                    if not lossless:
                        frame = frame.reformat(format=pix_fmt, interpolation=flags)
                    frame.pts = i
                    for packet in stream.encode(frame):
                        container.mux(packet)
                for packet in stream.encode():  # flush delayed frames
                    container.mux(packet)
        except _av_errors() as e:
            raise SvibenchError(f"{path}: cannot write video ({_one_line(e)})") from None

    try:
        atomic_write(path, encode)
    except OSError as e:
        raise SvibenchError(f"{path}: cannot write video ({e.strerror or e})") from None
    return path


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """Write one uint8 RGB image ``(H, W, 3)`` as PNG, atomically."""
    from PIL import Image

    path = Path(path)
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3:
        raise SvibenchError(f"{path}: image to write must be uint8 (H, W, 3)")
    try:
        atomic_write(
            path, lambda tmp: Image.fromarray(np.ascontiguousarray(image)).save(tmp, format="PNG")
        )
    except OSError as e:
        raise SvibenchError(f"{path}: cannot write image ({e.strerror or e})") from None
    return path


@dataclass(frozen=True)
class VideoInfo:
    frames: int  # as stored in the container header; 0 when the container does not say
    fps: float
    height: int
    width: int


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[-1] if text else type(e).__name__


def _open(path: Path):
    if not path.is_file():
        raise SvibenchError(f"{path}: video file not found")
    av = _av()
    try:
        container = av.open(str(path), mode="r")
    except _av_errors() as e:
        raise SvibenchError(
            f"{path}: not a readable video, corrupt or truncated ({_one_line(e)})"
        ) from None
    if not container.streams.video:
        container.close()
        raise SvibenchError(f"{path}: the file holds no video stream")
    return container


def _fps(stream) -> float:
    # avg_frame_rate first, as cv2.CAP_PROP_FPS (opencv cap_ffmpeg_impl.hpp get_fps), which
    # is the fps VBench's dynamic_degree strides by
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


def probe_video(path: str | Path) -> VideoInfo:
    """Header facts (frame count, fps, size) without decoding."""
    path = Path(path)
    container = _open(path)
    try:
        s = container.streams.video[0]
        return VideoInfo(
            int(s.frames or 0), _fps(s), int(s.codec_context.height), int(s.codec_context.width)
        )
    finally:
        container.close()


READERS = ("decord", "cv2")  # VBench 0.1.5's frame readers


def to_rgb(frame, reader: str = "decord") -> np.ndarray:
    """One decoded PyAV frame as uint8 RGB, converted as VBench's ``reader`` converts it."""
    if reader == "decord":
        # decord video_reader.cc: FFmpeg filter graph to rgb24; vf_scale's in_color_matrix
        # "auto" and the frame's range, i.e. the frame's own tags (BT.601 when untagged)
        return frame.reformat(format="rgb24").to_ndarray()
    if reader == "cv2":
        # opencv cap_ffmpeg_impl.hpp retrieveFrame: sws_getCachedContext(.., AV_PIX_FMT_BGR24,
        # SWS_BICUBIC, ..) and no sws_setColorspaceDetails: swscale's BT.601 limited default
        # (yuvj* stay full); BGR -> RGB is exact (vbench/dynamic_degree.py, motion_smoothness.py)
        return frame.reformat(
            format="rgb24", src_colorspace="ITU601", src_color_range="MPEG", interpolation="BICUBIC"
        ).to_ndarray()
    raise ValueError(f"unknown frame reader {reader!r} (known: {', '.join(READERS)})")


def vbench_gap(frame, reader: str = "decord") -> str | None:
    """Why ``to_rgb(frame, reader)`` is not bit-exact to VBench's ``reader`` (docs/metrics.md), or
    None. decord's FFmpeg 4.1 scales odd-sized 4:2:0 chroma differently from PyAV's (cv2's 5.1
    agrees with PyAV there); both readers' older FFmpegs dither >8-bit input differently."""
    fmt = frame.format
    depth = max(c.bits for c in fmt.components)
    if depth > 8:
        return f"{fmt.name} is {depth}-bit"
    sub = fmt.name.startswith(("yuv420", "yuvj420", "nv12", "nv21"))
    if reader == "decord" and sub and (frame.width % 2 or frame.height % 2):
        return f"{fmt.name} with an odd size ({frame.height}x{frame.width}, HxW)"
    return None


# VBench 0.1.5's reader libraries at its pins (decord==0.6.0; opencv 4.11, whose bundled FFmpeg
# fixes cv2's conversion): where the PyAV emulation is not exact (vbench_gap), the frames come
# from the library itself when it is installed (`pip install "svibench[readers]"`).
READER_PINS = {"decord": ("decord", "0.6.0"), "cv2": ("cv2", "4.11.")}


def reader_library(reader: str):
    """VBench's own ``reader`` module when installed at VBench's pinned version, else None."""
    import importlib

    module, pin = READER_PINS[reader]
    try:
        # cv2 first: decord's bundled libraries, loaded before OpenCV's, break cv2's PNG
        # decoding in the same process ("libpng error: bad parameters to zlib"), which reads
        # every reference image (svibench.suite.decode_image)
        importlib.import_module("cv2")
        lib = importlib.import_module(module)
    except ImportError:
        return None
    version = getattr(lib, "__version__", "")
    return lib if version == pin or (pin.endswith(".") and version.startswith(pin)) else None


def _library_frames(path: Path, reader: str, lib) -> Iterator[np.ndarray]:
    """Frames as VBench reads them with the library itself (uint8 RGB, one at a time)."""
    try:
        yield from _library_frames_raw(path, reader, lib)
    except SvibenchError:
        raise
    except Exception as e:  # decord.DECORDError, cv2.error: one line, no traceback
        raise SvibenchError(f"{path}: {reader} cannot decode the file ({_one_line(e)})") from None


def _library_frames_raw(path: Path, reader: str, lib) -> Iterator[np.ndarray]:
    if reader == "decord":
        vr = lib.VideoReader(str(path), num_threads=1)  # vbench/utils.py load_video
        for i in range(len(vr)):
            yield vr[i].asnumpy()
        return
    cap = lib.VideoCapture(str(path))  # vbench/dynamic_degree.py, motion_smoothness.py
    try:
        while True:
            ok, bgr = cap.read()
            if not ok:
                return
            yield np.ascontiguousarray(bgr[..., ::-1])  # cv2.COLOR_BGR2RGB is this exact swap
    finally:
        cap.release()


def _exact_sources(path: Path, frame, readers: tuple[str, ...]) -> dict[str, Iterator[np.ndarray]]:
    """Per reader that the emulation cannot reproduce on this file: the library's frames.
    Warns once, naming what is not exact, for the readers whose library is not installed."""
    sources: dict[str, Iterator[np.ndarray]] = {}
    missing: list[str] = []
    for r in readers:
        gap = vbench_gap(frame, r)
        if gap is None:
            continue
        lib = reader_library(r)
        if lib is None:
            missing.append(f"{r} ({gap})")
        else:
            sources[r] = _library_frames(path, r, lib)
    if missing:
        warnings.warn(
            f"{path}: {'; '.join(missing)}: VBench's reader converts this differently from PyAV"
            " and is not installed at VBench's pin, so these frames are not bit-exact to VBench"
            " (docs/metrics.md). For exact frames: pip install 'svibench[readers]' (decord 0.6.0,"
            " opencv 4.11), or re-encode to 8-bit, even-sized yuv420p",
            stacklevel=3,
        )
    return sources


def iter_decoded(
    path: str | Path, readers: tuple[str, ...] = READERS
) -> Iterator[dict[str, np.ndarray]]:
    """Decode once, convert each frame for every reader: ``{reader: uint8 RGB (H, W, 3)}``.

    Memory does not grow with length. Raises SvibenchError if the file cannot be opened or
    decoding fails midway (truncated or corrupt data). The container is closed when the
    iterator is exhausted or closed.
    """
    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        count = 0
        exact: dict[str, Iterator[np.ndarray]] = {}
        try:
            for frame in container.decode(stream):
                count += 1
                if count == 1:
                    exact = _exact_sources(path, frame, readers)
                yield {
                    r: _next_exact(exact[r], path, count) if r in exact else to_rgb(frame, r)
                    for r in readers
                }
        except _av_errors() as e:
            raise SvibenchError(
                f"{path}: decoding failed after {count} frames, corrupt or truncated ({_one_line(e)})"
            ) from None
        if count == 0:
            raise SvibenchError(f"{path}: the video holds no decodable frames (empty or truncated)")
        if stream.frames and count < stream.frames:
            # mp4 with the index first (faststart) and the data cut off: decoding just stops early.
            raise SvibenchError(
                f"{path}: truncated, the header lists {stream.frames} frames but only {count} decode"
            )
        for r, it in exact.items():
            if next(it, None) is not None:
                raise SvibenchError(f"{path}: {r} decodes more frames than PyAV's {count}")
    finally:
        container.close()


def _next_exact(frames: Iterator[np.ndarray], path: Path, index: int) -> np.ndarray:
    frame = next(frames, None)
    if frame is None:
        raise SvibenchError(
            f"{path}: VBench's reader library decodes fewer frames than PyAV ({index - 1})"
        )
    return frame


def iter_frames(path: str | Path, reader: str = "decord") -> Iterator[np.ndarray]:
    """Decode frames one at a time (uint8 RGB ``(H, W, 3)``) as ``reader`` gives them."""
    it = iter_decoded(path, (reader,))
    try:
        for d in it:
            yield d[reader]
    finally:
        it.close()


def read_video(path: str | Path, reader: str = "decord") -> tuple[np.ndarray, float]:
    """All frames of a video as uint8 RGB ``(T, H, W, 3)`` plus its frame rate."""
    path = Path(path)
    fps = probe_video(path).fps
    frames = list(iter_frames(path, reader))
    return np.stack(frames), fps


def read_decoded(path: str | Path) -> tuple[dict[str, np.ndarray], float]:
    """Every reader's frames of a video from one decode, plus its frame rate."""
    path = Path(path)
    fps = probe_video(path).fps
    per: dict[str, list[np.ndarray]] = {r: [] for r in READERS}
    for d in iter_decoded(path):
        for r, f in d.items():
            per[r].append(f)
    return {r: np.stack(f) for r, f in per.items()}, fps


def read_frames_file(path: str | Path) -> np.ndarray:
    """Frames from an ``.npy`` array (T, H, W, 3) or any video PyAV decodes."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        if not path.is_file():
            raise SvibenchError(f"{path}: frames file not found")
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as e:
            raise SvibenchError(f"{path}: not a readable .npy array ({_one_line(e)})") from None
    return read_video(path)[0]


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize uint8 frames ``(T, H, W, 3)`` to ``size`` = (height, width), no crop.

    PIL bicubic, as upstream SVI resizes its reference image (utils/image_process.py:39-70).
    """
    from PIL import Image

    h, w = size
    if frames.shape[1:3] == (h, w):
        return frames
    out = np.empty((frames.shape[0], h, w, 3), np.uint8)
    for i, img in enumerate(frames):
        out[i] = np.asarray(Image.fromarray(img).resize((w, h), Image.BICUBIC))
    return out
