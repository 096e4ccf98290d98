"""Per-clip vs VBench-Long-style evaluation windows.

Default (``window_s=None``): a clip is scored on all its own frames, as VBench scores one video.
With ``window_s=2.0`` a clip is cut into consecutive windows of ``round(window_s * fps)``
frames (the last, shorter one is kept if it has >= 2 frames) and the dimension is the mean of
the per-window scores, like VBench-Long, which splits long videos into short clips and
averages. VBench-Long cuts at detected scene changes first; svibench cuts at fixed lengths
only (generated clips have no scene cuts by construction). Window features are slices of the
clip's per-frame features, so windows cost no extra forward passes.
"""

from __future__ import annotations

from typing import Any


def window_slices(
    n_frames: int, fps: float, window_s: float | None, min_len: int = 2
) -> list[slice]:
    """Frame slices to score separately; one slice covering everything when window_s is None."""
    if window_s is None:
        return [slice(0, n_frames)]
    if window_s <= 0:
        raise ValueError(f"window_s must be > 0, got {window_s}")
    size = max(min_len, round(window_s * fps))
    out = [slice(s, min(s + size, n_frames)) for s in range(0, n_frames, size)]
    return [s for s in out if s.stop - s.start >= min_len] or [slice(0, n_frames)]


def window_param(params: dict[str, Any]) -> float | None:
    w = params.get("window_s")
    return None if w is None else float(w)
