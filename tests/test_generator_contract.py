"""The generator contract (svibench/generators/base.py), checked on every built-in kind.

One battery, run against each registered generator the way diffusers' test mixins run one
pipeline battery against every pipeline: a generator is built from a ``[generators.NAME]``
table of svibench.toml exactly as the runner builds it, on a suite file read by ``load_suite``,
and must

* keep the frame contract: every clip uint8 ``(T, H, W, 3)`` with T = the protocol's frames
  per clip and (H, W) the protocol's size for the case;
* be deterministic: the same table and seeds give the same frames from a freshly built
  generator (and, where the kind uses the seed, another seed gives other frames);
* resume exactly: the state after clip k, saved and loaded through the run store as the
  runner does, makes a fresh session of a fresh generator produce clips k+1.. bit for bit;
* reject an unknown parameter with a one-line ConfigError naming the table and the key.

The Wan kinds run on the tiny random Wan of tests/tiny_wan.py (CPU, a few seconds). A new
built-in kind must be added to ``KINDS`` (test_every_builtin_kind_is_in_the_battery).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import generators_toml, suite_toml

from svibench.config import load_config
from svibench.errors import ConfigError
from svibench.generators.base import Generator
from svibench.runner import build_generator
from svibench.store import ROW_COLUMNS, RunStore
from svibench.suite import Case, Protocol, Suite, load_reference_image, load_suite

torch.set_num_threads(1)
sys.path.insert(0, str(Path(__file__).parent))

from tiny_wan import tiny_wan_dir, upstream_lora_state  # noqa: E402

PROMPTS = ["a cat runs on the grass", "the dog walks in the city", "a red ball"]
SUITE = suite_toml("contract", cases={"a": ("world:3", PROMPTS)})
TINY_WAN = {"dtype": "float32", "steps": 2, "max_sequence_length": 16, "progress": False}

# The "model" of the command kind: frames from (seed, clip), continued from the conditioning
# frames it is sent, written as a uint8 .npy.
COMMAND_MODEL = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    req = json.load(open(sys.argv[1]))
    p = req["protocol"]
    rng = np.random.default_rng([req["seed"], req["clip"]])
    frames = rng.integers(0, 256, (p["frames_per_clip"], p["height"], p["width"], 3), np.uint8)
    if req["conditioning_npy"]:
        cond = np.load(req["conditioning_npy"])
        frames[: len(cond)] = cond
    np.save(sys.argv[2], frames)
    """
)


def _random_clips(n: int, frames: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (frames, 32, 32, 3), dtype=np.uint8) for _ in range(n)]


def _world(folder: Path) -> dict:
    return {"kind": "world", "colour_drift": 0.05, "noise_drift": 0.02}


def _tiny_model(folder: Path) -> dict:
    return {"kind": "tiny-model", "checkpoint": "svi", "steps": 2}


def _replay_per_clip(folder: Path) -> dict:
    for k, clip in enumerate(_random_clips(3, 9)):
        (folder / "a").mkdir(exist_ok=True)
        np.save(folder / "a" / f"clip_{k:03d}.npy", clip)
    return {"kind": "replay", "root": str(folder), "pattern": "{case}/clip_{clip:03d}.npy"}


def _replay_per_case(folder: Path) -> dict:
    from svibench.video import write_mp4

    stitched = _random_clips(1, 3 * (9 - 1) + 1)[0]  # 3 clips of 9 frames, m = 1
    write_mp4(folder / "a.mp4", stitched, 8, lossless=True)
    return {"kind": "replay", "root": str(folder), "layout": "per_case"}


def _command(folder: Path) -> dict:
    script = folder / "model.py"
    script.write_text(COMMAND_MODEL)
    argv = [sys.executable, str(script), "{request}", "{output}"]
    return {"kind": "command", "command": argv, "output_format": "npy"}


def _wan_chained(folder: Path) -> dict:
    return {"kind": "wan-chained", "model": str(tiny_wan_dir()), **TINY_WAN}


def _svi(variant: str) -> Callable[[Path], dict]:
    def table(folder: Path) -> dict:
        from safetensors.torch import save_file

        lora = folder / "svi-tiny.safetensors"
        save_file(upstream_lora_state(), str(lora))
        return {**_wan_chained(folder), "kind": "svi", "variant": variant, "lora": str(lora)}

    return table


def _diffusers_i2v(folder: Path) -> dict:
    return {
        "kind": "diffusers-i2v",
        "model": str(tiny_wan_dir()),
        "pipeline": "WanImageToVideoPipeline",
        "dtype": "float32",
        "progress": False,
        "call_kwargs": {"num_inference_steps": 2, "max_sequence_length": 16},
    }


# label -> (kind, its svibench.toml table given a folder for the files it needs)
KINDS: dict[str, tuple[str, Callable[[Path], dict]]] = {
    "world": ("world", _world),
    "tiny-model": ("tiny-model", _tiny_model),
    "replay-per-clip": ("replay", _replay_per_clip),
    "replay-per-case": ("replay", _replay_per_case),
    "command": ("command", _command),
    "wan-chained": ("wan-chained", _wan_chained),
    "svi-film": ("svi", _svi("film")),
    "svi-shot": ("svi", _svi("shot")),
    "diffusers-i2v": ("diffusers-i2v", _diffusers_i2v),
}
SEEDLESS = {"replay-per-clip", "replay-per-case"}  # they replay files: the seed changes nothing


@dataclass
class Contract:
    """One kind's generator, its suite, and a straight run: clips and the state after each."""

    label: str
    name: str
    config: Path
    suite: Suite
    clips: list[np.ndarray]
    states: list[dict]

    @property
    def case(self) -> Case:
        return self.suite.cases[0]

    @property
    def protocol(self) -> Protocol:
        return self.suite.protocol

    def build(self, **extra: object) -> Generator:
        table = {**load_config(self.config).generator_table(self.name), **extra}
        return build_generator(self.name, table, "cpu")

    def reference(self) -> np.ndarray:
        p = self.protocol
        return load_reference_image(self.case, (p.height or 64, p.width or 64))


def _round_trip(store: RunStore, state: dict, clip: int) -> dict:
    """The state as a resumed run gets it: committed to and loaded from the run store."""
    store.commit("g", "a", clip, pd.DataFrame(columns=ROW_COLUMNS), state)
    return store.load_state("g", "a", clip)


def _generate(gen: Generator, contract: Contract, start: int = 0, state: dict | None = None):
    """Clips ``start..`` of the case from a new session (loaded with ``state`` when given),
    with the state after each clip."""
    session = gen.start(contract.case, contract.protocol, contract.reference())
    if state is not None:
        session.load_state_dict(state)
    clips, states = [], []
    for k in range(start, gen.num_clips(contract.case, contract.protocol)):
        prompt = gen.prompt(contract.case, k)
        clips.append(session.next_clip(prompt, k, contract.protocol.seed(k)))
        states.append(session.state_dict())
    session.close()
    return clips, states


@pytest.fixture(scope="module", params=list(KINDS))
def contract(request, tmp_path_factory) -> Contract:
    label = request.param
    folder = tmp_path_factory.mktemp(label)
    name = f"contract-{label}"
    config = folder / "svibench.toml"
    kind, table = KINDS[label]
    config.write_text(generators_toml({name: table(folder)}))
    assert load_config(config).generator_table(name)["kind"] == kind
    (folder / "contract.toml").write_text(SUITE)
    suite = load_suite(folder / "contract.toml")
    c = Contract(label, name, config, suite, [], [])
    gen = c.build()
    store = RunStore(folder / "run")
    c.clips, states = _generate(gen, c)
    c.states = [_round_trip(store, s, k) for k, s in enumerate(states)]
    gen.close()
    return c


def test_every_builtin_kind_is_in_the_battery():
    # In a child process: listing the kinds loads the entry points, which the registry then
    # caches for the whole process (tests that install a plug-in later would not see it).
    code = (
        "from svibench.generators.registry import GENERATORS as G\n"
        "print(' '.join(k for k in G.names() if G.source(k).startswith('svibench.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert set(out.stdout.split()) == {kind for kind, _ in KINDS.values()}, (
        "add the new kind to KINDS in this file"
    )


def test_frame_contract(contract):
    p = contract.protocol
    h, w = p.size_for(contract.reference().shape[:2])
    assert len(contract.clips) >= 2, "the battery needs at least two clips to test resume"
    for k, clip in enumerate(contract.clips):
        assert isinstance(clip, np.ndarray), f"clip {k}: {type(clip).__name__}"
        assert clip.dtype == np.uint8, f"clip {k}: {clip.dtype}"
        assert clip.shape == (p.frames_per_clip, h, w, 3), f"clip {k}: {clip.shape}"
    assert len({c.tobytes() for c in contract.clips}) == len(contract.clips), "clips repeat"


def test_state_is_flat_arrays_and_scalars(contract):
    scalar = (str, int, float, bool, type(None), np.generic, np.ndarray)
    for k, state in enumerate(contract.states):
        bad = {key: type(v).__name__ for key, v in state.items() if not isinstance(v, scalar)}
        assert not bad, f"state after clip {k}: not arrays or scalars: {bad}"


def test_same_table_and_seeds_give_the_same_frames(contract):
    gen = contract.build()
    again, _ = _generate(gen, contract)
    assert len(again) == len(contract.clips)
    for k, (a, b) in enumerate(zip(contract.clips, again, strict=True)):
        assert np.array_equal(a, b), f"clip {k} differs between two builds of the same table"
    assert gen.identity() == contract.build().identity()
    json.dumps(gen.identity())  # it goes into the run manifest
    if contract.label not in SEEDLESS:
        session = gen.start(contract.case, contract.protocol, contract.reference())
        other = session.next_clip(
            gen.prompt(contract.case, 0), 0, seed=contract.protocol.seed(0) + 7
        )
        assert not np.array_equal(other, contract.clips[0]), "the seed changes nothing"
    gen.close()


def test_resume_from_saved_state_is_exact(contract):
    gen = contract.build()
    for k, state in enumerate(contract.states[:-1]):
        rest, _ = _generate(gen, contract, start=k + 1, state=state)
        for j, clip in enumerate(rest, start=k + 1):
            assert np.array_equal(clip, contract.clips[j]), (
                f"resumed after clip {k}: clip {j} differs"
            )
    gen.close()


def test_unknown_parameter_is_a_one_line_config_error(contract):
    with pytest.raises(ConfigError) as err:
        contract.build(no_such_parameter=1)
    msg = str(err.value)
    assert "\n" not in msg
    assert f"[generators.{contract.name}]" in msg and "no_such_parameter" in msg
