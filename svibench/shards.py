"""Which (generator, case) units each of N shards runs: balanced by estimated work, deterministic.

A unit is every clip of one case through one generator (a case's clips are sequential: clip k+1
continues clip k, so a case cannot be split). Its work is clips × frames × pixels × the
generator's cost per clip (svibench.costs), so a shard of slow generators or large images gets
fewer units. Assignment is greedy longest-first onto the least-loaded shard (ties: lowest index),
from the configuration alone: ``--shard I/N`` launched by hand and ``--shards N`` agree, and a
resubmitted shard finds the same units (and resumes them from their committed clips).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from svibench.costs import CostTable
from svibench.errors import ConfigError
from svibench.generators.registry import generator_schedule
from svibench.suite import Case, Suite


@dataclass(frozen=True)
class Unit:
    generator: str
    case: str
    clips: int
    frames: int  # per clip
    height: int
    width: int
    seconds: float  # estimated seconds for all clips (generation + metrics), see costs.py

    @property
    def key(self) -> tuple[str, str]:
        return self.generator, self.case


def frame_size(suite: Suite, case: Case) -> tuple[int, int]:
    """(height, width) of the case's generated frames, reading only the image header."""
    p = suite.protocol
    if p.width is not None and p.height is not None:
        return p.height, p.width
    if case.image.startswith("world:"):
        return p.size_for((p.height or 64, p.width or 64))  # runner's size hint for world images
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(case.image) as im:  # lazy: the header only
            w, h = im.size
    except (UnidentifiedImageError, OSError) as e:
        raise ConfigError(
            f"case '{case.id}': cannot read reference image {case.image} ({e})"
        ) from None
    return p.size_for((h, w))


def plan_units(
    suite: Suite, generators: tuple[str, ...], tables: dict[str, dict[str, Any]], costs: Any
) -> list[Unit]:
    """Every (generator, case) unit of the run, in run order (generator, then case id)."""

    p = suite.protocol
    sizes = {c.id: frame_size(suite, c) for c in suite.cases}
    units = []
    for g in generators:
        schedule = generator_schedule(g, tables[g])  # the generator's clip-count rule
        for c in sorted(suite.cases, key=lambda c: c.id):
            h, w = sizes[c.id]
            clips = schedule.num_clips(len(c.prompts), p.clips)
            per_clip = costs.clip_seconds(g, tables[g], p.frames_per_clip, h, w)
            units.append(Unit(g, c.id, clips, p.frames_per_clip, h, w, clips * per_clip))
    return units


def assign(units: list[Unit], count: int) -> list[list[Unit]]:
    """Split ``units`` into ``count`` shards of near-equal work (deterministic)."""
    if count < 1:
        raise ValueError("count must be >= 1")
    order = {u.key: i for i, u in enumerate(units)}
    shards: list[list[Unit]] = [[] for _ in range(count)]
    load = [0.0] * count
    # longest first; equal work keeps run order, so equal-cost units deal out round-robin
    for u in sorted(units, key=lambda u: (-u.seconds, order[u.key])):
        i = min(range(count), key=lambda i: (load[i], i))
        shards[i].append(u)
        load[i] += u.seconds
    return [sorted(s, key=lambda u: order[u.key]) for s in shards]


def run_units(
    suite: Suite, config: Any, generators: tuple[str, ...], metrics: tuple[str, ...]
) -> list[Unit]:
    """Every unit of a run, costed with the config's [executor.seconds_per_clip] overrides."""

    costs = CostTable(config.sections.get("executor", {}).get("seconds_per_clip", {}), metrics)
    tables = {g: config.generator_table(g) for g in generators}
    return plan_units(suite, generators, tables, costs)
