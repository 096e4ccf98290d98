"""SVI LoRA checkpoints -> diffusers' ``WanTransformer3DModel``, merged like upstream.

Upstream's trainer saves the peft parameters under ``pipe.dit.`` (train_svi.py:1294-1304), e.g.
``pipe.dit.blocks.3.self_attn.q.lora_A.default.weight``. Its loader (model_manager.py:521-555,
lora.py:200-267) first tries the keys as they are: a leading ``diffusion_model.`` is dropped and
the token after ``lora_B``/``lora_A`` (``default``) is removed, so bare ``blocks.…`` keys load
(the SVI 2.0 file, upstream issue #96); if that fails it keeps the keys containing ``lora`` and
takes what follows ``pipe.dit.`` (``key.split("pipe.dit.")[1]``, model_manager.py:537), so any
wrapper before it (DeepSpeed's ``_forward_module.``, ``module.``) disappears. Non-LoRA tensors
are ignored. The merge is W += 1.0 · (B @ A) with no rank/alpha rescaling (test_svi.py:86-90,
lora.py:246-263).

svibench accepts the same keys plus the common other spellings of the same layers: any of the
known wrapper prefixes below, ``lora_down``/``lora_up`` for A/B, and diffusers' module names.
``alpha`` tensors are ignored, as upstream ignores them. ``classify_key`` is the one place that
reads a key; ``svibench weights inspect`` (svibench/lora_inspect.py) uses it on file headers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from svibench.errors import ConfigError

if TYPE_CHECKING:  # torch stays unimported: `svibench weights inspect` reads headers only
    import torch

# Wan (original) module name -> diffusers WanTransformer3DModel module name, inside blocks.N.
MODULES = {
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
_DIFFUSERS_NAMES = {v: v for v in MODULES.values()}
# Wrappers seen in front of ``blocks.``: DeepSpeed / DDP / Lightning (``_forward_module.``,
# ``module.``), ComfyUI / original Wan (``diffusion_model.``, ``model.``), peft
# (``base_model.model.``), DiffSynth (``dit.``), diffusers (``transformer.``).
WRAPPERS = (
    "_forward_module.",
    "module.",
    "base_model.model.",
    "model.",
    "diffusion_model.",
    "dit.",
    "transformer.",
)
_FACTOR = re.compile(
    r"^blocks\.(\d+)\.(.+)\.(lora_A|lora_B|lora_down|lora_up)(?:\.([A-Za-z0-9_]+))?\.weight$"
)
_ALPHA = re.compile(r"^blocks\.(\d+)\.(.+)\.alpha$")
_SIDE = {"lora_A": "A", "lora_down": "A", "lora_B": "B", "lora_up": "B"}


@dataclass(frozen=True)
class LoraKey:
    """What one tensor name means. ``kind``: "factor" (A or B), "alpha", "other" (not LoRA,
    ignored like upstream) or "bad" (a LoRA key svibench cannot place; ``problem`` says why)."""

    key: str
    kind: str
    prefix: str = ""  # what was stripped in front of ``blocks.``
    block: int = -1
    module: str = ""  # Wan name, e.g. "self_attn.q"
    side: str = ""  # "A" (down) or "B" (up)
    spelling: str = ""  # "lora_A/B" or "lora_down/up"
    adapter: str = ""  # peft adapter name between lora_X and weight ("default"), if any
    problem: str = ""

    @property
    def target(self) -> str:
        """diffusers parameter prefix, e.g. ``blocks.3.attn1.to_q``."""
        return f"blocks.{self.block}.{MODULES[self.module]}"


def _strip_prefix(key: str) -> tuple[str, str]:
    if "pipe.dit." in key:  # upstream: key.split("pipe.dit.")[1] (model_manager.py:537)
        cut = key.rindex("pipe.dit.") + len("pipe.dit.")
        return key[:cut], key[cut:]
    prefix, rest = "", key
    changed = True
    while changed and not rest.startswith("blocks."):
        changed = False
        for w in WRAPPERS:
            if rest.startswith(w):
                prefix, rest, changed = prefix + w, rest[len(w) :], True
                break
    return prefix, rest


def _wan_module(name: str) -> str | None:
    if name in MODULES:
        return name
    for wan, diff in MODULES.items():
        if name == diff:
            return wan
    return None


def classify_key(key: str) -> LoraKey:
    """Read one tensor name of a LoRA file (see the module docstring for the accepted forms)."""
    prefix, rest = _strip_prefix(key)
    is_lora = "lora" in key or rest.endswith(".alpha")
    if not is_lora:
        return LoraKey(key, "other", prefix)
    if not rest.startswith("blocks."):
        return LoraKey(key, "bad", prefix, problem="no 'blocks.N.' after a known prefix")
    alpha = _ALPHA.match(rest)
    if alpha is not None:
        module = _wan_module(alpha.group(2))
        if module is None:
            return LoraKey(key, "bad", prefix, problem=f"unknown module {alpha.group(2)!r}")
        return LoraKey(key, "alpha", prefix, int(alpha.group(1)), module)
    m = _FACTOR.match(rest)
    if m is None:
        return LoraKey(key, "bad", prefix, problem="not blocks.N.<module>.lora_{A,B}[.name].weight")
    block, name, factor, adapter = m.groups()
    module = _wan_module(name)
    if module is None:
        return LoraKey(key, "bad", prefix, problem=f"unknown module {name!r}")
    spelling = "lora_A/B" if factor in ("lora_A", "lora_B") else "lora_down/up"
    return LoraKey(
        key, "factor", prefix, int(block), module, _SIDE[factor], spelling, adapter or ""
    )


def convert_upstream_keys(
    state: dict[str, torch.Tensor], where: str = "lora"
) -> dict[str, torch.Tensor]:
    """Rename an SVI/Wan LoRA to diffusers' keys (``blocks.N.attn1.to_q.lora_A.weight``)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        k = classify_key(key)
        if k.kind == "bad":
            raise ConfigError(f"{where}: LoRA key {key!r}: {k.problem} (not an SVI/Wan 2.1 LoRA?)")
        if k.kind != "factor":
            continue  # alphas and non-LoRA tensors: ignored, as upstream does
        name = f"{k.target}.lora_{k.side}.weight"
        if name in out:
            raise ConfigError(f"{where}: two tensors for {name} (e.g. {key!r})")
        out[name] = value
    if not out:
        raise ConfigError(f"{where}: no LoRA weights found")
    for name in out:
        other = (
            name.replace(".lora_A.", ".lora_B.")
            if ".lora_A." in name
            else name.replace(".lora_B.", ".lora_A.")
        )
        if other not in out:
            raise ConfigError(f"{where}: {name} has no matching {other.rsplit('.', 2)[-2]}")
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
