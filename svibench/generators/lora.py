"""SVI LoRA checkpoints -> diffusers' ``WanTransformer3DModel``, merged like upstream.

Upstream's trainer saves the peft parameters under ``pipe.dit.`` (train_svi.py:1294-1304), e.g.
``pipe.dit.blocks.3.self_attn.q.lora_A.default.weight``; its loader strips ``pipe.dit.``,
``diffusion_model.`` and ``default`` (model_manager.py:535-538, lora.py:205-218) and merges
W += 1.0 · (B @ A) with no rank/alpha rescaling (test_svi.py:86-90, lora.py:246-263).

We rename the keys to diffusers' module names and hand them to peft through
``load_lora_adapter`` without alphas, which diffusers treats as alpha = rank (scale 1, i.e.
W + B @ A), then fuse with ``scale`` and drop the peft layers.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from svibench.errors import ConfigError

# Wan (original) module name -> diffusers WanTransformer3DModel module name, inside blocks.N.
_MODULES = {
    "self_attn.q": "attn1.to_q",
    "self_attn.k": "attn1.to_k",
    "self_attn.v": "attn1.to_v",
    "self_attn.o": "attn1.to_out.0",
    "cross_attn.q": "attn2.to_q",
    "cross_attn.k": "attn2.to_k",
    "cross_attn.v": "attn2.to_v",
    "cross_attn.o": "attn2.to_out.0",
    "cross_attn.k_img": "attn2.add_k_proj",
    "cross_attn.v_img": "attn2.add_v_proj",
    "ffn.0": "ffn.net.0.proj",
    "ffn.2": "ffn.net.2",
}
_PREFIXES = ("pipe.dit.", "diffusion_model.", "model.diffusion_model.", "dit.", "transformer.")
_KEY = re.compile(r"^blocks\.(\d+)\.(.+)\.(lora_A|lora_B|lora_down|lora_up)\.weight$")
_SIDE = {"lora_A": "lora_A", "lora_down": "lora_A", "lora_B": "lora_B", "lora_up": "lora_B"}


def convert_upstream_keys(
    state: dict[str, torch.Tensor], where: str = "lora"
) -> dict[str, torch.Tensor]:
    """Rename upstream SVI/Wan LoRA keys to diffusers' (``blocks.N.attn1.to_q.lora_A.weight``)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        k = key
        for p in _PREFIXES:
            if k.startswith(p):
                k = k[len(p) :]
                break
        k = k.replace(".default.", ".")
        if k.endswith(".alpha"):
            # Upstream ignores alphas (merge scale lora_alpha=1, no r/alpha); so do we.
            continue
        match = _KEY.match(k)
        if match is None or match.group(2) not in _MODULES:
            raise ConfigError(f"{where}: unexpected LoRA key {key!r} (not an SVI/Wan 2.1 LoRA?)")
        block, module, side = match.groups()
        out[f"blocks.{block}.{_MODULES[module]}.{_SIDE[side]}.weight"] = value
    if not out:
        raise ConfigError(f"{where}: no LoRA weights found")
    return out


def load_upstream_lora(path: str | Path, where: str = "lora") -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return convert_upstream_keys(load_file(str(path)), where=f"{where} ({path})")


def merge_lora(
    transformer, state: dict[str, torch.Tensor], scale: float = 1.0, name: str = "svi"
) -> None:
    """Load a converted LoRA through peft and merge it into the weights: W += scale · B @ A."""
    param = next(transformer.parameters())
    state = {k: v.to(dtype=param.dtype) for k, v in state.items()}
    transformer.load_lora_adapter(state, prefix=None, adapter_name=name)
    transformer.fuse_lora(lora_scale=float(scale), adapter_names=[name])
    transformer.unload_lora()  # keep the merged base weights, drop the peft wrappers
