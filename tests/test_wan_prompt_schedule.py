"""Each generator's prompt stream and clip count equal upstream test_svi.py's for its variant.

``upstream_stream`` restates test_svi.py:396-401 (clip count) and :430-438 (prompt of clip k);
the per-variant flags come from upstream's scripts: svi_film.sh / svi_tom.sh (no flag),
svi_shot.sh (--use_first_prompt_only), svi_2.0.sh @c183b5a (--prompt_repeat_times 2). The
suite's ``clips`` plays upstream's ``--num_clips`` (10 by default, 50 for 250 s).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from svibench.config import load_config
from svibench.errors import ConfigError
from svibench.generators.registry import generator_schedule
from svibench.generators.svi import VARIANTS, SVIGenerator
from svibench.generators.wan import WanChainedGenerator
from svibench.runner import run_suite
from svibench.suite import Case, PromptSchedule, Protocol, load_suite

UPSTREAM_FLAGS = {  # variant -> (use_first_prompt_only, prompt_repeat_times)
    "film": (False, 1),
    "film-opt": (False, 1),
    "film-transition": (False, 1),
    "tom": (False, 1),
    "shot": (True, 1),
    "2.0": (False, 2),
}


def upstream_stream(prompts, num_clips, first_only, repeat):
    if first_only:
        n = num_clips
    else:
        n = min(num_clips, len(prompts) * repeat)
    out = []
    for chunk_idx in range(n):
        if first_only:
            out.append(prompts[0])
        else:
            out.append(prompts[(chunk_idx // repeat) % len(prompts)])
    return out


def _stream(gen, prompts, clips):
    case = Case("c", "world:0", tuple(prompts))
    n = gen.num_clips(case, Protocol(clips=clips))
    return [gen.prompt(case, k) for k in range(n)]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("n_prompts", [1, 3, 5, 10, 12, 50])
@pytest.mark.parametrize("clips", [10, 50])
def test_svi_variant_stream_equals_upstream(variant, n_prompts, clips):
    assert set(UPSTREAM_FLAGS) == set(VARIANTS)
    prompts = [f"p{i}" for i in range(n_prompts)]
    gen = SVIGenerator("g", variant=variant, lora="x.safetensors")  # nothing loads until start
    assert _stream(gen, prompts, clips) == upstream_stream(prompts, clips, *UPSTREAM_FLAGS[variant])


def test_defaults_and_overrides():
    assert SVIGenerator("s", variant="shot", lora="x").schedule == PromptSchedule(
        1, True, "upstream"
    )
    assert SVIGenerator("s", variant="2.0", lora="x").schedule.spec == "repeat:2"
    assert SVIGenerator("s", variant="film", lora="x").schedule.spec == "cycle"
    # the Wan baseline gets film's stream (cycle, upstream clip count)
    assert WanChainedGenerator("w").schedule == PromptSchedule(1, False, "upstream")
    # svibench.toml may override both keys; they are not generator parameters
    gen = SVIGenerator(
        "s", variant="shot", lora="x", prompt_schedule="repeat:3", clip_count="suite"
    )
    assert _stream(gen, ["a", "b"], 7) == ["a", "a", "a", "b", "b", "b", "a"]
    assert "prompt_schedule" not in gen.config
    assert gen.identity()["prompt_schedule"] == "repeat:3"
    for bad in ("firsts", "repeat:0", "repeat:x", "cycle:2"):
        with pytest.raises(ConfigError, match="prompt_schedule"):
            WanChainedGenerator("w", prompt_schedule=bad)
    with pytest.raises(ConfigError, match="clip_count"):
        WanChainedGenerator("w", clip_count="all")


def test_original_rule_keeps_identities():
    # generators without an upstream script keep svibench's rule (prompts[k % n], suite clips)
    # and their identity (config hash, check baselines) does not change
    from svibench.generators.world import WorldGenerator

    gen = WorldGenerator("w")
    assert gen.schedule == PromptSchedule() and "prompt_schedule" not in gen.identity()
    assert _stream(gen, ["a", "b", "c"], 7) == ["a", "b", "c", "a", "b", "c", "a"]


SUITE = """
[suite]
name = "sched"
[protocol]
frames_per_clip = 9
fps = 16
saved_fps = 24
clips = 5
width = 32
height = 32
motion_frames = 1
[[cases]]
id = "two"
image = "world:1"
prompts = ["a", "b"]
[[cases]]
id = "one"
image = "world:2"
prompts = ["z"]
"""


def test_runner_uses_schedule_and_records_it(tmp_path: Path, monkeypatch):
    import svibench.runner as runner

    (tmp_path / "s.toml").write_text(SUITE)
    cfg_text = (Path(__file__).parents[1] / "svibench.toml").read_text()
    cfg_text += (
        '\n[generators.w-rep]\nkind = "world"\nprompt_schedule = "repeat:2"\n'
        'clip_count = "upstream"\n'
    )
    (tmp_path / "svibench.toml").write_text(cfg_text)
    cfg = load_config(tmp_path / "svibench.toml")
    suite = load_suite(tmp_path / "s.toml")
    assert generator_schedule("w-rep", cfg.generator_table("w-rep")).spec == "repeat:2"
    seen: dict[tuple[str, str], list[tuple[str, int]]] = {}
    real_score = runner._score

    def spy(clip, metrics, extractors, where):
        gname, case = where.split("'")[1], where.split("'")[3]
        seen.setdefault((gname, case), []).append((clip.prompt, clip.fps))
        return real_score(clip, metrics, extractors, where)

    monkeypatch.setattr(runner, "_score", spy)
    gens = ("w-rep", "tiny-world")
    run_suite(suite, cfg, gens, ("ssim_ref",), tmp_path / "run", show_progress=False)
    prompts = {key: [p for p, _ in v] for key, v in seen.items()}
    # repeat:2 + upstream count: min(5, 2 prompts x 2) = 4 clips, min(5, 1 x 2) = 2 clips
    assert prompts[("w-rep", "two")] == ["a", "a", "b", "b"]
    assert prompts[("w-rep", "one")] == ["z", "z"]
    # svibench's original rule: the suite's 5 clips, prompts cycling
    assert prompts[("tiny-world", "two")] == ["a", "b", "a", "b", "a"]
    assert {fps for v in seen.values() for _, fps in v} == {24}  # metrics see saved_fps
    import av

    mp4s = sorted((tmp_path / "run").rglob("*.mp4"))
    assert len(mp4s) == 16
    with av.open(str(mp4s[0])) as f:
        assert f.streams.video[0].average_rate == 24  # written at saved_fps
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["generators"]["w-rep"]["prompt_schedule"] == "repeat:2"
    assert "prompt_schedule" not in manifest["generators"]["tiny-world"]
    assert manifest["suite"]["protocol"]["saved_fps"] == 24
    log = json.loads(next((tmp_path / "run" / "log").glob("*.json")).read_text())
    assert log["prompt_schedules"]["tiny-world"] == {
        "prompt_schedule": "cycle",
        "clip_count": "suite",
    }
    assert log["video_fps"] == 24
    # resuming the finished run re-generates nothing, with the per-case clip counts
    again = run_suite(suite, cfg, gens, ("ssim_ref",), tmp_path / "run", show_progress=False)
    assert again.timings.clips == 0 and again.timings.skipped == 4 + 2 + 5 + 5


def test_clip_plan_line():
    from svibench.suite import Suite, clip_plan

    cases = (Case("a", "world:1", ("x",) * 3), Case("b", "world:2", ("y",) * 12))
    suite = Suite("s", Protocol(clips=10), cases)
    assert clip_plan(suite, PromptSchedule.parse("cycle", "upstream")) == (
        "cycle, min(suite clips, prompts): 3-10 clips per case, 13 in all"
    )
    assert clip_plan(suite, PromptSchedule.parse("first", "upstream")).endswith(
        "10 clips per case, 20 in all"
    )
