"""The exposure gap: the drift that comes from a model conditioning on its own output.

A chained generator conditions clip k on the last m frames it produced for clip k − 1; a
teacher-forced run of the same generator (same seeds) conditions clip k on the *true* last m
frames instead. Both runs score each clip against the ground truth; the difference

    gap_k = error_k(chained) − error_k(teacher-forced)

is the error that accumulates through the chain (exposure bias), separated from single-clip
quality (the teacher-forced error). It is what SVI's error recycling is meant to shrink: the
model learns on inputs corrupted by its own past errors.

Ground truth exists for ``world:<seed>`` cases: the embedded world rendered at the world defaults
(``World(seed, h, w)``, what svibench.train.tiny trains on), clip k at world times
k·(F − m) + i with the generator's m, so consecutive clips share their m boundary frames.

Error: colour statistics. Per frame and channel the mean and standard deviation in [0, 1]; the
error of a clip is the mean absolute difference of these 6 numbers over its new frames (m..F−1).
They are insensitive to where a sprite is (a sampled clip may place it anywhere its start
allows) and sensitive to what drift does to a chain: colour shifts, washed-out or noisy frames.

Teacher forcing needs a session with ``condition_on(frames)`` (the next clip continues from these
frames); ``tiny-model`` has it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from svibench.errors import ConfigError
from svibench.generators.base import session_motion_frames
from svibench.suite import Case, Protocol, load_reference_image
from svibench.world import World

Truth = Callable[[int], np.ndarray]


def world_truth(case: Case, protocol: Protocol, m: int, hw: tuple[int, int]) -> Truth | None:
    """Clip k of a ``world:<seed>`` case as uint8 (F, H, W, 3) at ``hw``; None for other cases."""
    if not case.image.startswith("world:"):
        return None

    world = World(int(case.image.split(":", 1)[1]), hw[0], hw[1])  # the training world
    step = protocol.frames_per_clip - m
    return lambda k: world.clip(float(k * step), protocol.frames_per_clip)


def colour_stats(frames: np.ndarray) -> np.ndarray:
    """(T, 6): per frame, channel means then channel standard deviations, in [0, 1] units."""
    x = np.asarray(frames, np.float64).reshape(frames.shape[0], -1, 3) / 255.0
    return np.concatenate([x.mean(axis=1), x.std(axis=1)], axis=1)


def colour_error(frames: np.ndarray, truth: np.ndarray, skip: int = 0) -> float:
    """Mean |colour-statistics difference| over frames ``skip``.. (the clip's new frames)."""
    if frames.shape != truth.shape:
        raise ValueError(f"frames {frames.shape} vs ground truth {truth.shape}")
    return float(np.abs(colour_stats(frames[skip:]) - colour_stats(truth[skip:])).mean())


def _errors(gen: Any, case: Case, protocol: Protocol, forced: bool) -> list[float]:
    """Per clip: the colour error of ``gen``'s clip vs the ground truth (world at its m)."""
    reference = load_reference_image(case, (protocol.height or 64, protocol.width or 64))
    session = gen.start(case, protocol, reference)
    m = session_motion_frames(session, protocol)
    truth = world_truth(case, protocol, m, protocol.size_for(reference.shape[:2]))
    if truth is None:
        session.close()
        raise ConfigError(f"case '{case.id}': the exposure gap needs a world:<seed> case")
    if forced and not hasattr(session, "condition_on"):
        raise ConfigError(
            f"generator '{gen.name}' cannot be teacher-forced (its session has no condition_on)"
        )
    out = []
    try:
        for k in range(protocol.clips):
            if forced and k > 0:
                session.condition_on(truth(k - 1))
            frames = session.next_clip(case.prompt(k), k, protocol.seed(k))
            out.append(colour_error(frames, truth(k), skip=m if k > 0 else 1))
    finally:
        session.close()
    return out


def exposure_rows(gen: Any, cases: list[Case], protocol: Protocol) -> list[dict[str, Any]]:
    """Per (case, clip): chained error, teacher-forced error and their gap."""
    rows = []
    for case in cases:
        chained = _errors(gen, case, protocol, forced=False)
        forced = _errors(gen, case, protocol, forced=True)
        for k, (c, f) in enumerate(zip(chained, forced, strict=True)):
            rows.append(
                {"case": case.id, "clip": k, "chained": c, "teacher_forced": f, "gap": c - f}
            )
    return rows


def late_mean(rows: list[dict[str, Any]], column: str, first_late_clip: int) -> float:
    """Mean of ``column`` over clips >= ``first_late_clip`` (all cases)."""
    vals = [r[column] for r in rows if r["clip"] >= first_late_clip]
    if not vals:
        raise ValueError(f"no clips >= {first_late_clip}")
    return float(np.mean(vals))


def tiny_rollouts(
    checkpoint: str,
    worlds: list[int],
    clips: int,
    steps: int = 50,
    seed_stride: int = 42,
    forced_clips: list[int] | None = None,
    chunk: int = 32,
) -> dict[str, Any]:
    """Chained and teacher-forced clips of a tiny checkpoint on ``world:<seed>`` worlds.

    The same conditioning and seeds (clip k: k·``seed_stride``) as the ``tiny-model`` generator
    run case by case, at the model's own size and frame count, batched over worlds (float
    rounding may move a uint8 level here and there). ``forced_clips``: the clips (> 0) run
    teacher-forced (default all). Returns ``{"chained", "forced", "truth", "m"}``: lists per
    world of uint8 clips, ``forced`` a dict (world index, clip) -> clip.
    """
    import torch

    # models.tiny imports torch: exposure rows of other generators do without it
    from svibench.models.tiny import condition, load_checkpoint, sample_batch, to_model
    from svibench.models.tiny import to_uint8 as model_to_uint8

    model, cfg, _ = load_checkpoint(checkpoint)
    f, m, s = cfg.frames, cfg.motion_frames, cfg.size
    scenes = [World(w, s, s) for w in worlds]
    truth = [[sc.clip(float(k * (f - m)), f) for k in range(clips)] for sc in scenes]
    refs = [to_model(sc.reference()[None], s)[:, 0] for sc in scenes]

    def run(conds: list[torch.Tensor], refs_: list[torch.Tensor], seeds: list[int]) -> list:
        out = []
        for i in range(0, len(conds), chunk):
            pairs = [
                condition(c, r, cfg.ref_pad_num, f)
                for c, r in zip(conds[i : i + chunk], refs_[i : i + chunk], strict=True)
            ]
            y = torch.stack([p[0] for p in pairs])
            mask = torch.stack([p[1] for p in pairs])
            x = sample_batch(model, y, mask, seeds[i : i + chunk], steps)
            out += [model_to_uint8(v) for v in x]
        return out

    with torch.inference_mode():
        chained: list[list[np.ndarray]] = [[] for _ in worlds]
        for k in range(clips):
            conds = [
                r[:, None] if k == 0 else to_model(chained[i][-1][-m:], s)
                for i, r in enumerate(refs)
            ]
            for i, frames in enumerate(run(conds, refs, [k * seed_stride] * len(worlds))):
                chained[i].append(frames)
        wanted = [k for k in (forced_clips or range(1, clips)) if 0 < k < clips]
        jobs = [(i, k) for i in range(len(worlds)) for k in wanted]
        forced_out = run(
            [to_model(truth[i][k - 1][-m:], s) for i, k in jobs],
            [refs[i] for i, _ in jobs],
            [k * seed_stride for _, k in jobs],
        )
    forced = dict(zip(jobs, forced_out, strict=True))
    return {"chained": chained, "forced": forced, "truth": truth, "m": m}


def tiny_exposure_rows(
    checkpoint: str,
    worlds: list[int],
    clips: int,
    steps: int = 50,
    seed_stride: int = 42,
    forced_clips: list[int] | None = None,
    chunk: int = 32,
) -> list[dict[str, Any]]:
    """``exposure_rows`` for a tiny checkpoint (``tiny_rollouts``); clips that were not run
    teacher-forced get NaN for ``teacher_forced`` and ``gap`` (clip 0: both runs are one)."""
    r = tiny_rollouts(checkpoint, worlds, clips, steps, seed_stride, forced_clips, chunk)
    m, rows = r["m"], []
    for i, w in enumerate(worlds):
        for k in range(clips):
            skip = m if k > 0 else 1
            c = colour_error(r["chained"][i][k], r["truth"][i][k], skip)
            tf = c if k == 0 else float("nan")
            if (i, k) in r["forced"]:
                tf = colour_error(r["forced"][(i, k)], r["truth"][i][k], skip)
            rows.append(
                {"case": f"world:{w}", "clip": k, "chained": c, "teacher_forced": tf, "gap": c - tf}
            )
    return rows
