"""wan-chained and svi generators on tiny random Wan components (CPU, no downloads)."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)
sys.path.insert(0, str(Path(__file__).parent))

from tiny_wan import reference_image, tiny_wan_dir, upstream_lora_state  # noqa: E402

from svibench.errors import ConfigError, SvibenchError  # noqa: E402
from svibench.generators.registry import GENERATORS  # noqa: E402
from svibench.stitch import stitch, stitched_length  # noqa: E402
from svibench.suite import Case, Protocol  # noqa: E402

F, H, W = 9, 32, 32
PROTOCOL = Protocol(frames_per_clip=F, clips=3, width=W, height=H)
CASE = Case("c0", "world:0", ("a cat runs on the grass", "the dog walks in the city"))
TINY = {"dtype": "float32", "steps": 2, "max_sequence_length": 16, "progress": False}


@pytest.fixture(scope="module")
def lora_file(tmp_path_factory):
    from safetensors.torch import save_file

    path = tmp_path_factory.mktemp("lora") / "svi-tiny.safetensors"
    save_file(upstream_lora_state(), str(path))
    return path


def make(kind, **params):
    return GENERATORS.get(kind)(
        name=f"tiny-{kind}", device="cpu", model=str(tiny_wan_dir()), **TINY, **params
    )


def spy(gen):
    """Record the Conditioning and seed of every clip the pipeline generates."""
    calls = []
    pipe = gen.pipeline
    original = pipe.generate

    def wrapped(cond, prompt, seed, **kw):
        calls.append((cond, prompt, seed))
        return original(cond, prompt, seed, **kw)

    pipe.generate = wrapped
    return calls


def run(gen, clips=3, reference=None):
    ref = reference_image() if reference is None else reference
    session = gen.start(CASE, PROTOCOL, ref)
    return session, [session.next_clip(CASE.prompt(k), k, PROTOCOL.seed(k)) for k in range(clips)]


@pytest.mark.parametrize(
    ("kind", "params", "m", "pad"),
    [
        ("wan-chained", {}, 1, 0),
        ("svi", {"variant": "film"}, 5, 0),
        ("svi", {"variant": "shot"}, 1, -1),
    ],
)
def test_chaining_shapes_stitching_and_motion_frames(kind, params, m, pad, lora_file):
    if kind == "svi":
        params = {**params, "lora": str(lora_file)}
    gen = make(kind, **params)
    assert gen.motion_frames == m
    calls = spy(gen)
    session, clips = run(gen)
    assert all(c.shape == (F, H, W, 3) and c.dtype == np.uint8 for c in clips)
    assert len(stitch(clips, m)) == stitched_length(3, F, m) == 3 * (F - m) + m
    assert [seed for _, _, seed in calls] == [0, 42, 84]  # upstream 42·k, given by the runner
    assert [p for _, p, _ in calls] == [CASE.prompt(k) for k in range(3)]
    ref = session.reference
    assert calls[0][0].frames.shape == (1, H, W, 3) and np.array_equal(calls[0][0].frames[0], ref)
    for k in (1, 2):  # clip k is conditioned on exactly the last m frames of clip k-1
        cond = calls[k][0]
        assert np.array_equal(cond.frames, clips[k - 1][-m:])
        assert np.array_equal(cond.reference, ref) and cond.ref_pad_num == pad
    assert np.array_equal(session.state_dict()["motion"], clips[-1][-m:])


def test_determinism_and_seed_dependence():
    gen = make("wan-chained")
    _, a = run(gen, clips=2)
    _, b = run(gen, clips=2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    session = gen.start(CASE, PROTOCOL, reference_image())
    other = session.next_clip(CASE.prompt(0), 0, seed=7)
    assert not np.array_equal(other, a[0])


def test_resume_from_state_dict_reproduces_next_clips(tmp_path, lora_file):
    gen = make("svi", variant="film", lora=str(lora_file))
    _, straight = run(gen)
    first = gen.start(CASE, PROTOCOL, reference_image())
    clip0 = first.next_clip(CASE.prompt(0), 0, PROTOCOL.seed(0))
    # the runner's round trip: numpy savez + JSON scalars
    state = first.state_dict()
    np.savez(tmp_path / "state.npz", **{k: np.asarray(v) for k, v in state.items()})
    del first
    loaded = dict(np.load(tmp_path / "state.npz"))
    fresh_gen = make("svi", variant="film", lora=str(lora_file))
    resumed = fresh_gen.start(CASE, PROTOCOL, reference_image())
    resumed.load_state_dict(loaded)
    rest = [resumed.next_clip(CASE.prompt(k), k, PROTOCOL.seed(k)) for k in (1, 2)]
    assert np.array_equal(clip0, straight[0])
    assert np.array_equal(rest[0], straight[1]) and np.array_equal(rest[1], straight[2])


def test_out_of_order_clip_and_bad_config():
    gen = make("wan-chained")
    session = gen.start(CASE, PROTOCOL, reference_image())
    with pytest.raises(SvibenchError, match="session is at clip 0"):
        session.next_clip("a cat", 1, 42)
    with pytest.raises(ConfigError, match="4k\\+1"):
        gen.start(CASE, Protocol(frames_per_clip=10, width=W, height=H), reference_image())
    with pytest.raises(ConfigError, match="unknown parameter 'stepz'"):
        make("wan-chained", stepz=3)
    with pytest.raises(ConfigError, match="variant"):
        make("svi", variant="movie")


def test_reference_is_resized_to_protocol_size():
    gen = make("wan-chained")
    proto = Protocol(frames_per_clip=F, max_width=32)  # 40x48 image -> width 32, height 26 -> 16
    session = gen.start(CASE, proto, reference_image(40, 48))
    assert session.reference.shape == (16, 32, 3)
    assert session.next_clip("a cat", 0, 0).shape == (F, 16, 32, 3)
