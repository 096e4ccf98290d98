"""Stitch the clips of one long video.

Upstream test_svi.py:472-476: every clip but the last drops its final m frames (they are
regenerated as the first m frames of the next clip); the last clip keeps all of them, so N
clips of F frames give N·(F − m) + m frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from svibench.atomic import atomic_write
from svibench.errors import SvibenchError
from svibench.video import iter_frames


def stitch(clips: Sequence[np.ndarray], m: int) -> np.ndarray:
    """Concatenate clips (each T×H×W×3) dropping the last ``m`` frames of all but the last."""
    if not clips:
        raise ValueError("stitch: no clips")
    if m < 0 or any(m >= len(c) for c in clips):
        raise ValueError(f"stitch: m={m} must be >= 0 and smaller than every clip length")
    parts = [c[: len(c) - m] for c in clips[:-1]] + [clips[-1]]
    return np.concatenate(parts, axis=0)


def stitched_length(num_clips: int, frames_per_clip: int, m: int) -> int:
    """N·(F − m) + m."""
    return num_clips * (frames_per_clip - m) + m


def clip_start_frames(num_clips: int, frames_per_clip: int, m: int) -> list[int]:
    """First frame of clip k in the stitched video: k·(F − m) (same stitching as above)."""
    return [k * (frames_per_clip - m) for k in range(num_clips)]


def write_stitched_mp4(
    clip_paths: Sequence[Path], m: int, out: Path, fps: float, crf: int = 20
) -> int:
    """Stitch clip videos into one browser-playable mp4, streaming (one frame in memory).

    Clips 0..N-2 drop their last ``m`` frames (upstream test_svi.py:472-476). The output is
    H.264 yuv420p with the index at the front (``+faststart``) so a browser can play and seek
    before the whole file has loaded; yuv420p needs even sizes, so an odd last row/column is
    cropped. Written atomically. Returns the number of frames written.
    """
    import av
    from av.video.reformatter import Interpolation

    if not clip_paths:
        raise SvibenchError(f"{out}: no clips to stitch")
    rate = Fraction(fps).limit_denominator(1001000)
    # Accurate rounding and full chroma interpolation, as svibench.video's writer uses.
    flags = Interpolation.BICUBIC | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
    count = 0

    def encode(tmp: Path) -> None:
        nonlocal count
        container = av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"})
        stream = None
        try:
            for k, path in enumerate(clip_paths):
                frames = list(iter_frames(path))
                keep = len(frames) if k == len(clip_paths) - 1 else len(frames) - m
                if keep <= 0:
                    raise SvibenchError(f"{path}: {len(frames)} frames, fewer than m + 1 = {m + 1}")
                for img in frames[:keep]:
                    h, w = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2
                    if stream is None:
                        stream = container.add_stream(
                            "libx264", rate=rate, options={"crf": str(crf), "preset": "veryfast"}
                        )
                        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
                        stream.time_base = 1 / rate
                    frame = av.VideoFrame.from_ndarray(
                        np.ascontiguousarray(img[:h, :w]), format="rgb24"
                    )
                    frame = frame.reformat(format="yuv420p", interpolation=flags)
                    frame.pts = count
                    for packet in stream.encode(frame):
                        container.mux(packet)
                    count += 1
            for packet in stream.encode():  # flush delayed frames
                container.mux(packet)
        finally:
            container.close()

    count = 0
    atomic_write(out, encode)
    return count
