"""Seconds per clip, for shard balancing and the ``run --dry-run`` GPU-hour estimate.

Every figure says whether it was measured, derived from a measurement, or estimated, and from
what. No generation figure has been measured on a GPU yet: the Wan 2.1 14B numbers are a
compute-bound estimate (bench/device/gpu_figures.py measures them; replace them here and in
docs/scaling.md when it has run). Override any of them per generator name or kind in
``svibench.toml``::

    [executor.seconds_per_clip]
    svi-film = 420.0          # a generator name or a kind; seconds per clip at its reference size

A clip of another size is scaled linearly by frames × pixels (attention is quadratic in tokens,
so this under-estimates larger clips; the SVI suites use the reference size itself).
Importing this module imports nothing heavy (``--dry-run`` must answer before anything loads).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MEASURED, DERIVED, ESTIMATE, OVERRIDE = "measured", "derived", "estimate", "svibench.toml"


@dataclass(frozen=True)
class Cost:
    seconds: float  # per clip of `frames` frames at height × width
    status: str  # measured | derived | estimate | svibench.toml
    source: str
    frames: int = 81
    height: int = 480
    width: int = 832
    gpu: bool = True  # counts towards GPU-hours

    def per_clip(self, frames: int, height: int, width: int) -> float:
        return self.seconds * (frames * height * width) / (self.frames * self.height * self.width)


# Wan 2.1 I2V 14B, 50 steps with CFG (2 forwards/step), 480×832×81 (32,760 tokens), bf16:
# ≈ 2 × 12e9 params × 32,760 tokens + 40 layers × 4 × 32,760² × 5,120 ≈ 1.67e15 FLOP/forward,
# × 100 forwards = 1.67e17 FLOP/clip; at 40 % of an H100/H200's 989 bf16 TFLOP/s ≈ 420 s,
# + ≈ 30 s of VAE encode/decode. Cross-check, a different model: SVI's Wan 2.2 5B preview takes
# "about 10 min per 1-min video on 1 H100" (shared/UPSTREAM_SVI.md:35, SVI DevLog.md:2-10).
_WAN14B = Cost(
    450.0,
    ESTIMATE,
    "compute-bound estimate (1.67e17 FLOP/clip at 40 % of 989 TFLOP/s + 30 s VAE); "
    "not measured: run bench/device/gpu_figures.py",
)
GENERATORS: dict[str, Cost] = {
    "wan-chained": _WAN14B,
    # same transformer and token count (m = 5 motion frames sit inside the 81); the LoRA is
    # merged into the weights at load (generators/lora.py), so no per-step cost of its own
    "svi": _WAN14B,
    "diffusers-i2v": Cost(450.0, ESTIMATE, "as wan-chained (a Wan-size model assumed)"),
    # CPU generators: measured here, 2 shared cores, suites/tiny.toml (17 frames at 64×64),
    # default metric set included (svibench run --no-videos, wall / clips)
    "world": Cost(  # tiny-world: 24 clips in 0.9 s
        0.04, MEASURED, "2-core CPU, suites/tiny.toml, 2026-12-01", 17, 64, 64, gpu=False
    ),
    "tiny-model": Cost(  # tiny-base: 24 clips in 72.7 s (threads 1, a shared machine)
        3.0, MEASURED, "2-core CPU, suites/tiny.toml, 2026-12-01", 17, 64, 64, gpu=False
    ),
    "replay": Cost(0.05, ESTIMATE, "decoding only; as world", 17, 64, 64, gpu=False),
}
UNKNOWN = Cost(450.0, ESTIMATE, "unknown generator kind: assumed as costly as Wan 2.1 14B")

# The VBench metric pass per 81-frame 480×832 clip on an H200: derived from the measured pass
# (bench/results/h200_2026-11-26: 9.3 s of scoring for 9 clips ≈ 195 frames at 480×832
# equivalent), linear in frames. The light default metrics cost well under a second.
HEAVY_METRICS = frozenset(
    {
        "quality_score",
        "subject_consistency",
        "background_consistency",
        "motion_smoothness",
        "dynamic_degree",
        "aesthetic_quality",
        "imaging_quality",
        "i2v_subject",
        "i2v_background",
        "clip_text",
    }
)
VBENCH_PASS = Cost(3.9, DERIVED, "H200 2026-11-26 scoring, 9.3 s / 195 frames × 81 frames")


@dataclass
class CostTable:
    """Seconds per clip for each generator of a run, with [executor.seconds_per_clip] applied."""

    overrides: dict[str, float]
    metrics: tuple[str, ...] = ()

    def cost(self, name: str, table: dict[str, Any]) -> Cost:
        kind = str(table.get("kind", ""))
        base = GENERATORS.get(kind, UNKNOWN)
        for key in (name, kind):
            if key in self.overrides:
                return Cost(
                    float(self.overrides[key]),
                    OVERRIDE,
                    f"[executor.seconds_per_clip].{key}",
                    base.frames,
                    base.height,
                    base.width,
                    base.gpu,
                )
        return base

    def metric_seconds(self, frames: int, height: int, width: int, gpu: bool) -> float:
        if not gpu or not HEAVY_METRICS.intersection(self.metrics):
            return 0.0  # light metrics are inside the CPU measurements / negligible on a GPU
        return VBENCH_PASS.per_clip(frames, height, width)

    def clip_seconds(self, name: str, table: dict[str, Any], frames: int, h: int, w: int) -> float:
        c = self.cost(name, table)
        return c.per_clip(frames, h, w) + self.metric_seconds(frames, h, w, c.gpu)
