import numpy as np
import pytest
import torch

from svibench.errors import MissingWeightsError
from svibench.generators.registry import GENERATORS
from svibench.generators.tiny import TinyModelGenerator
from svibench.models.tiny import ASSETS, TinyConfig, build_model, save_checkpoint
from svibench.suite import Case, Protocol
from svibench.world import World

torch.set_num_threads(1)
CASE = Case("c0", "world:3", ("a prompt",))


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt")
    cfg = TinyConfig(size=16, frames=5, hidden=32, layers=1)
    save_checkpoint(build_model(cfg, seed=0), cfg, out, {"steps": 0})
    return out


def _run(gen, proto, clips, state=None, start=0):
    ref = World(3, 32, 32).reference()
    sess = gen.start(CASE, proto, ref)
    if state is not None:
        sess.load_state_dict(state)
    out, states = [], []
    for k in range(start, clips):
        out.append(sess.next_clip(CASE.prompt(k), k, proto.seed(k)))
        states.append(sess.state_dict())
    return out, states


@pytest.mark.parametrize("m", [1, 2])
def test_chaining_resume_and_resize(ckpt, m):
    assert GENERATORS.get("tiny-model") is TinyModelGenerator
    gen = TinyModelGenerator("t", checkpoint=str(ckpt), steps=3, motion_frames=m)
    proto = Protocol(frames_per_clip=6, clips=3, width=40, height=24, motion_frames=1)
    clips, states = _run(gen, proto, 3)
    assert all(c.shape == (6, 24, 40, 3) and c.dtype == np.uint8 for c in clips)
    assert states[0]["prev"].shape == (m, 16, 16, 3)
    assert not np.array_equal(clips[0], clips[1])  # seeds and conditions differ per clip
    # a killed run resumes from the stored state with identical frames
    rest, _ = _run(
        TinyModelGenerator("t", checkpoint=str(ckpt), steps=3, motion_frames=m),
        proto,
        3,
        states[0],
        start=1,
    )
    assert all(np.array_equal(a, b) for a, b in zip(clips[1:], rest, strict=True))


def test_conditioning_uses_last_frames(ckpt):
    gen = TinyModelGenerator("t", checkpoint=str(ckpt), steps=2)
    proto = Protocol(frames_per_clip=5, clips=2, width=16, height=16, motion_frames=1)
    a, sa = _run(gen, proto, 1)
    other = dict(sa[0])
    other["prev"] = 255 - other["prev"]
    b1, _ = _run(gen, proto, 2, sa[0], start=1)
    b2, _ = _run(gen, proto, 2, other, start=1)
    assert not np.array_equal(b1[0], b2[0])


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(MissingWeightsError, match="make_tiny_checkpoints"):
        TinyModelGenerator("t", checkpoint=str(tmp_path / "nope"))


@pytest.mark.skipif(not (ASSETS / "base" / "model.safetensors").is_file(), reason="no shipped base")
def test_shipped_base_generates():
    gen = TinyModelGenerator("t", checkpoint="base", steps=2)
    proto = Protocol(frames_per_clip=gen.cfg.frames, clips=1, width=32, height=32)
    clip, _ = _run(gen, proto, 1)
    assert clip[0].shape == (gen.cfg.frames, 32, 32, 3)
    assert "weights_sha256" in gen.identity()
