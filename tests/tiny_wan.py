"""Tiny random Wan 2.1 I2V components, built offline and saved in the diffusers folder layout.

Sizes follow diffusers' tests/pipelines/wan/test_wan_image_to_video.py (2 blocks, 2 heads of 12,
a 3-channel-base VAE); the UMT5 encoder, CLIP vision tower and word-level tokenizer are built
locally so nothing is downloaded. Frames must be 4k+1 long and 16-pixel aligned.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

WORDS = (
    "a the cat dog runs walks sits on in grass sky city street bright tones overexposed static "
    "blurred details subtitles style works paintings images overall gray worst quality low "
    "jpeg compression residue ugly incomplete extra fingers poorly drawn hands faces deformed "
    "disfigured misshapen limbs fused still picture messy background three legs many people "
    "walking backwards camera moves slowly sunset red blue ball"
).split()
TEXT_DIM = 32
CLIP_DIM = 4


def _tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for w in WORDS:
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", 1)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    ), len(vocab)


def build_tiny_wan(root: Path) -> Path:
    """Build and save a tiny random WanImageToVideoPipeline under ``root``; returns ``root``."""
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanImageToVideoPipeline,
        WanTransformer3DModel,
    )
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        CLIPVisionModel,
        UMT5Config,
        UMT5EncoderModel,
    )

    tokenizer, vocab_size = _tokenizer()
    torch.manual_seed(0)
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
        temperal_downsample=[False, True, True],
    )  # fmt: skip
    torch.manual_seed(0)
    text_encoder = UMT5EncoderModel(
        UMT5Config(
            vocab_size=vocab_size, d_model=TEXT_DIM, d_kv=8, d_ff=32, num_layers=2, num_heads=4,
            relative_attention_num_buckets=8, relative_attention_max_distance=16,
            pad_token_id=0, eos_token_id=1,
        )
    )  # fmt: skip
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=36,
        out_channels=16, text_dim=TEXT_DIM, freq_dim=256, ffn_dim=32, num_layers=2,
        cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32,
        image_dim=CLIP_DIM,
    )  # fmt: skip
    torch.manual_seed(0)
    image_encoder = CLIPVisionModel(
        CLIPVisionConfig(
            hidden_size=CLIP_DIM, projection_dim=CLIP_DIM, num_hidden_layers=2,
            num_attention_heads=2, image_size=32, intermediate_size=16, patch_size=4,
        )
    )  # fmt: skip
    pipe = WanImageToVideoPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0),
        image_processor=CLIPImageProcessor(crop_size=32, size=32),
        image_encoder=image_encoder,
        transformer=transformer,
    )
    pipe.save_pretrained(root)
    return root


@functools.cache
def tiny_wan_dir() -> Path:
    """One tiny model folder per test process (removed at exit)."""
    root = Path(tempfile.mkdtemp(prefix="svibench-tiny-wan-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return build_tiny_wan(root / "tiny-wan")


def upstream_lora_state(
    num_blocks: int = 2, rank: int = 4, seed: int = 0
) -> dict[str, torch.Tensor]:
    """A random LoRA in upstream SVI's key format (``pipe.dit.blocks.N....lora_A.default.weight``)."""
    g = torch.Generator().manual_seed(seed)
    inner, ffn = 24, 32  # 2 heads x 12; ffn_dim
    shapes = {f"{a}.{p}": (inner, inner) for a in ("self_attn", "cross_attn") for p in "qkvo"}
    shapes["ffn.0"] = (inner, ffn)  # (in, out)
    shapes["ffn.2"] = (ffn, inner)
    state = {}
    for n in range(num_blocks):
        for mod, (fan_in, fan_out) in shapes.items():
            base = f"pipe.dit.blocks.{n}.{mod}"
            state[f"{base}.lora_A.default.weight"] = torch.randn(rank, fan_in, generator=g) * 0.5
            state[f"{base}.lora_B.default.weight"] = torch.randn(fan_out, rank, generator=g) * 0.5
    return state


def reference_image(h: int = 40, w: int = 48, seed: int = 0) -> np.ndarray:
    """A smooth random uint8 image (native size, not 16-aligned, so resizing is exercised)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(xx * 5) % 256, (yy * 6) % 256, ((xx + yy) * 3) % 256], axis=-1)
    return np.clip(img + rng.integers(0, 30, size=img.shape), 0, 255).astype(np.uint8)
