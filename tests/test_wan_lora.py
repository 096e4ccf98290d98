"""SVI LoRA in upstream's key format: conversion, loading through peft, merge scale."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)
sys.path.insert(0, str(Path(__file__).parent))

from tiny_wan import reference_image, tiny_wan_dir, upstream_lora_state  # noqa: E402

from svibench.errors import ConfigError  # noqa: E402
from svibench.generators.lora import convert_upstream_keys, merge_lora  # noqa: E402
from svibench.generators.svi import SVIGenerator  # noqa: E402
from svibench.generators.wan import WanChainedGenerator  # noqa: E402
from svibench.suite import Case, Protocol  # noqa: E402

PROTOCOL = Protocol(frames_per_clip=9, width=32, height=32)
CASE = Case("c0", "world:0", ("a cat runs",))
TINY = {"dtype": "float32", "steps": 2, "max_sequence_length": 16, "progress": False}


def test_key_conversion():
    state = upstream_lora_state(num_blocks=1, rank=2)
    out = convert_upstream_keys(state)
    assert len(out) == len(state) == 20
    assert (
        out["blocks.0.attn1.to_q.lora_A.weight"]
        is state["pipe.dit.blocks.0.self_attn.q.lora_A.default.weight"]
    )
    assert "blocks.0.attn2.to_out.0.lora_B.weight" in out
    assert (
        "blocks.0.ffn.net.0.proj.lora_A.weight" in out and "blocks.0.ffn.net.2.lora_B.weight" in out
    )
    alt = convert_upstream_keys(
        {
            "diffusion_model.blocks.3.cross_attn.k_img.lora_down.weight": torch.zeros(1, 2),
            "diffusion_model.blocks.3.cross_attn.k_img.lora_up.weight": torch.zeros(2, 1),
            "diffusion_model.blocks.3.cross_attn.k_img.alpha": torch.tensor(1.0),
        }
    )
    assert sorted(alt) == [
        "blocks.3.attn2.add_k_proj.lora_A.weight",
        "blocks.3.attn2.add_k_proj.lora_B.weight",
    ]
    with pytest.raises(ConfigError, match="unknown module 'norm3'"):
        convert_upstream_keys({"pipe.dit.blocks.0.norm3.lora_A.default.weight": torch.zeros(1)})
    with pytest.raises(ConfigError, match="no matching lora_B"):
        convert_upstream_keys({"blocks.0.ffn.0.lora_A.default.weight": torch.zeros(1, 2)})


def test_merge_is_w_plus_b_at_a():
    from diffusers import WanTransformer3DModel

    model = WanTransformer3DModel.from_pretrained(tiny_wan_dir(), subfolder="transformer")
    before = model.blocks[0].attn1.to_q.weight.detach().clone()
    state = convert_upstream_keys(upstream_lora_state(rank=4))
    merge_lora(model, state, scale=1.0)
    a, b = state["blocks.0.attn1.to_q.lora_A.weight"], state["blocks.0.attn1.to_q.lora_B.weight"]
    after = model.blocks[0].attn1.to_q.weight.detach()
    torch.testing.assert_close(after, before + b @ a, rtol=1e-5, atol=1e-5)  # no r/alpha rescale
    assert type(model.blocks[0].attn1.to_q) is torch.nn.Linear  # peft wrappers removed


def _clip0(gen):
    return gen.start(CASE, PROTOCOL, reference_image()).next_clip(CASE.prompt(0), 0, 0)


def test_lora_changes_output_and_scale_zero_is_base(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "svi-film.safetensors"
    save_file(upstream_lora_state(), str(path))
    model = str(tiny_wan_dir())
    # m = 1 and zero padding so the base is exactly the wan-chained baseline
    common = dict(model=model, variant="film", motion_frames=1, **TINY)
    base = _clip0(WanChainedGenerator("base", model=model, **TINY))
    with_lora = _clip0(SVIGenerator("lora", lora=str(path), **common))
    zero = _clip0(SVIGenerator("zero", lora=str(path), lora_scale=0.0, **common))
    assert not np.array_equal(with_lora, base)
    assert np.array_equal(zero, base)
