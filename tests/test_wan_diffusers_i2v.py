"""diffusers-i2v: a stock diffusers I2V pipeline chained by last frame (tiny Wan, CPU)."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)
sys.path.insert(0, str(Path(__file__).parent))

from tiny_wan import reference_image, tiny_wan_dir  # noqa: E402

from svibench.errors import ConfigError  # noqa: E402
from svibench.generators.diffusers_i2v import frames_to_uint8  # noqa: E402
from svibench.generators.registry import GENERATORS  # noqa: E402
from svibench.suite import Case, Protocol  # noqa: E402

PROTOCOL = Protocol(frames_per_clip=9, width=32, height=32)
CASE = Case("c0", "world:0", ("a cat runs", "the dog walks"))


def make(**params):
    kw = {
        "model": str(tiny_wan_dir()),
        "pipeline": "WanImageToVideoPipeline",
        "dtype": "float32",
        "progress": False,
        "call_kwargs": {"num_inference_steps": 2, "max_sequence_length": 16},
        **params,
    }
    return GENERATORS.get("diffusers-i2v")(name="tiny-i2v", **kw)


def test_chained_by_last_frame_and_resumable():
    gen = make(negative_prompt="ugly")
    pipe, calls = gen.pipeline, []

    def spy(**kw):  # stands in for the loaded pipeline, records what each clip starts from
        calls.append(kw)
        return pipe(**kw)

    gen._pipe = spy
    session = gen.start(CASE, PROTOCOL, reference_image())
    clips = [session.next_clip(CASE.prompt(k), k, PROTOCOL.seed(k)) for k in range(3)]
    assert all(c.shape == (9, 32, 32, 3) and c.dtype == np.uint8 for c in clips)
    images = [np.asarray(c["image"]) for c in calls]
    assert np.array_equal(images[0], session.reference)
    assert np.array_equal(images[1], clips[0][-1]) and np.array_equal(images[2], clips[1][-1])
    assert calls[0]["num_frames"] == 9 and calls[0]["negative_prompt"] == "ugly"
    assert calls[1]["generator"].initial_seed() == 42
    assert session.state_dict()["next_clip"] == 3
    # resume: a fresh session given clip 1's state makes clip 2 again, bit for bit
    fresh = gen.start(CASE, PROTOCOL, reference_image())
    fresh.load_state_dict({"next_clip": 2, "last_frame": clips[1][-1]})
    assert np.array_equal(fresh.next_clip(CASE.prompt(2), 2, PROTOCOL.seed(2)), clips[2])


def test_frames_to_uint8_and_config_errors():
    out = frames_to_uint8(np.array([[[[0.0, 0.5, 1.0]]]]), "x")
    assert out.dtype == np.uint8 and out.ravel().tolist() == [0, 128, 255]
    with pytest.raises(ConfigError, match="model"):
        GENERATORS.get("diffusers-i2v")(name="x")
    with pytest.raises(ConfigError, match="unknown parameter"):
        make(steps=3)
    with pytest.raises(ConfigError, match="no pipeline class"):
        _ = make(pipeline="NoSuchPipeline").pipeline
