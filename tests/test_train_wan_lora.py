import av
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from svibench.errors import ConfigError
from svibench.generators.lora import convert_upstream_keys, merge_lora
from svibench.train.registry import TRAINERS
from svibench.train.wan_lora import (
    LORA_TARGETS,
    WanLoraTrainer,
    pixel_condition,
    upstream_lora_state,
)
from svibench.world import World

torch.set_num_threads(1)


def _transformer():
    from diffusers import WanTransformer3DModel

    torch.manual_seed(0)
    return WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=36,
        out_channels=16,
        text_dim=32,
        freq_dim=32,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
        image_dim=4,
    )


@pytest.fixture(scope="module")
def tiny_wan(tmp_path_factory):
    from diffusers import AutoencoderKLWan

    root = tmp_path_factory.mktemp("wan")
    _transformer().save_pretrained(root / "transformer")
    torch.manual_seed(0)
    AutoencoderKLWan(
        base_dim=3,
        z_dim=16,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
    ).save_pretrained(root / "vae")
    data = root / "videos"
    data.mkdir()
    for seed in (1, 2):
        with av.open(str(data / f"v{seed}.mp4"), "w") as box:
            stream = box.add_stream("mpeg4", rate=16)
            stream.width = stream.height = 32
            for frame in World(seed, 32, 32).clip(0, 12):
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    box.mux(packet)
            for packet in stream.encode():
                box.mux(packet)
        (data / f"v{seed}.txt").write_text("a test prompt")
    return root


def test_few_cpu_steps_fill_banks_and_write_loadable_lora(tiny_wan, tmp_path):
    assert TRAINERS.get("wan-lora") is WanLoraTrainer
    tr = WanLoraTrainer(
        model=str(tiny_wan),
        dataset=str(tiny_wan / "videos"),
        steps=3,
        save_every=2,
        lora_rank=4,
        lora_alpha=8.0,
        num_frames=9,
        height=32,
        width=32,
        motion_frames=5,
        ref_pad_num=0,
        mixed_precision="no",
        clean_prob=0.0,
        error_buffer_k=4,
    )
    res = tr.train(tmp_path / "run", seed=0)
    assert res.steps == 3 and np.isfinite(res.metrics["final_loss"])
    assert res.metrics["noise_bank_entries"] == 3 == res.metrics["y_bank_entries"]
    assert (tmp_path / "run" / "lora-step000002.safetensors").is_file()
    sd = load_file(str(res.checkpoint))
    assert "pipe.dit.blocks.0.self_attn.q.lora_A.default.weight" in sd
    assert "pipe.dit.blocks.1.ffn.2.lora_B.default.weight" in sd
    assert not any("k_img" in k or "v_img" in k for k in sd)
    fresh = _transformer()
    before = fresh.blocks[0].attn1.to_q.weight.clone()
    merge_lora(fresh, convert_upstream_keys(sd))
    assert not torch.equal(before, fresh.blocks[0].attn1.to_q.weight)
    gen = tr.generator(res)
    assert gen["kind"] == "svi" and gen["lora"] == str(res.checkpoint) and gen["motion_frames"] == 5


def test_saved_lora_merges_to_the_trained_model():
    from peft import LoraConfig

    model = _transformer()
    model.add_adapter(LoraConfig(r=4, lora_alpha=8, target_modules=LORA_TARGETS))
    torch.manual_seed(1)
    for name, p in model.named_parameters():
        if "lora_B" in name:
            p.data.normal_(0, 0.1)
    x = torch.randn(1, 36, 2, 4, 4)
    kw = dict(
        timestep=torch.tensor([500.0]),
        encoder_hidden_states=torch.randn(1, 3, 32),
        encoder_hidden_states_image=torch.randn(1, 2, 4),
        return_dict=False,
    )
    with torch.no_grad():
        want = model(x, **kw)[0]
        merged = _transformer()
        merge_lora(merged, convert_upstream_keys(upstream_lora_state(model, 4, 8.0)))
        got = merged(x, **kw)[0]
    assert torch.allclose(want, got, atol=1e-4)


def test_pixel_condition_padding_and_errors():
    cond, pad = torch.ones(3, 2, 4, 4), torch.full((3, 4, 4), 5.0)
    assert pixel_condition(cond, pad, 0, 6)[:, 2:].abs().sum() == 0
    assert torch.all(pixel_condition(cond, pad, -1, 6)[:, 2:] == 5.0)
    k = pixel_condition(cond, pad, 2, 6)
    assert torch.all(k[:, 2:4] == 5.0) and k[:, 4:].abs().sum() == 0
    with pytest.raises(ConfigError, match="dataset"):
        WanLoraTrainer(dataset="/nonexistent").train("/tmp/x", 0)


def test_wan_lora_takes_every_film_script_value():
    c = WanLoraTrainer().config
    assert (c["learning_rate"], c["lora_rank"], c["lora_alpha"]) == (1e-4, 128, 128.0)
    assert (c["motion_frames"], c["ref_pad_num"], c["clean_prob"], c["noise_prob"]) == (
        5,
        0,
        0.5,
        0.01,
    )
    s = WanLoraTrainer(recipe="shot").config
    assert (s["motion_frames"], s["ref_pad_num"], s["clean_prob"]) == (1, -1, 0.2)


def test_dtype_reaches_the_loaded_transformer(tiny_wan):
    from svibench.train.wan_lora import load_components

    for name in ("float32", "bfloat16"):
        comp = load_components(str(tiny_wan), "cpu", dtype=getattr(torch, name))
        assert comp.transformer.patch_embedding.weight.dtype == getattr(torch, name)


def test_trainer_clip_input_is_the_inference_squash_not_a_centre_crop(tiny_wan):
    from diffusers import AutoencoderKLWan
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    from svibench.models.wan_image import CLIP_MEAN, CLIP_STD, clip_pixels
    from svibench.train.wan_lora import Components

    torch.manual_seed(0)
    enc = CLIPVisionModel(
        CLIPVisionConfig(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=32,
            patch_size=8,
        )
    ).eval()
    proc = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    vae = AutoencoderKLWan.from_pretrained(tiny_wan / "vae")
    comp = Components(_transformer(), vae, image=(proc, enc))
    frame_u8 = World(5, 24, 48).frame(0.0)  # wide: a centre crop would drop the sides
    frame = torch.from_numpy(frame_u8).float().permute(2, 0, 1) / 127.5 - 1
    got = comp.encode_image(frame)
    squash = clip_pixels(frame_u8, 32, CLIP_MEAN, CLIP_STD)
    want = enc(pixel_values=squash, output_hidden_states=True).hidden_states[-2]
    torch.testing.assert_close(got, want)
    cropped = proc(images=frame_u8, return_tensors="pt").pixel_values
    crop = enc(pixel_values=cropped, output_hidden_states=True).hidden_states[-2]
    assert (got - crop).abs().max() > 1e-3
