"""``svi``: Stable Video Infinity = Wan 2.1 I2V + an SVI LoRA, conditioned as upstream.

Clip 0 is conditioned on the reference image, clip k > 0 on the last m decoded uint8 frames of
clip k − 1; the 81-frame pixel condition is those frames plus padding (film: zeros; shot and
2.0: the original reference image); the mask marks only the first latent frame; CLIP sees the
first conditioning frame squashed to 224×224 (svibench/generators/wan_sampling.py has the
details and the upstream line references). ``variant`` picks the published LoRA and its m /
padding (scripts/test/svi_film.sh, svi_shot.sh, svi_2.0.sh); any key set explicitly wins.
"""

from __future__ import annotations

from typing import Any, ClassVar

from svibench.errors import ConfigError
from svibench.generators.wan import WanChainedGenerator

SVI_REPO = "vita-video-gen/svi-model"

# variant -> (LoRA file in SVI_REPO, motion_frames m, ref_pad_num) (UPSTREAM_SVI.md §1, §3, §5)
VARIANTS: dict[str, tuple[str, int, int]] = {
    "film": ("version-1.0/svi-film.safetensors", 5, 0),
    "film-opt": ("version-1.0/svi-film-opt-10212025.safetensors", 5, 0),
    "film-transition": ("version-1.0/svi-film-transitions.safetensors", 5, 0),
    "shot": ("version-1.0/svi-shot.safetensors", 1, -1),
    "tom": ("version-1.0/svi-tom.safetensors", 1, 0),
    "2.0": ("version-2.0/SVI_Wan2.1-I2V-14B_lora_v2.0.safetensors", 5, -1),
}


class SVIGenerator(WanChainedGenerator):
    """Wan 2.1 I2V 14B 480p with an SVI LoRA (film / film-opt / film-transition / shot / 2.0)."""

    description: ClassVar[str] = (
        "Stable Video Infinity: Wan 2.1 I2V + SVI LoRA, upstream conditioning"
    )
    params: ClassVar[dict[str, Any]] = {
        **WanChainedGenerator.params,
        "variant": "film-opt",
        "lora": SVI_REPO,
        "lora_file": None,  # None = the variant's file
        "motion_frames": None,  # None = the variant's m
        "ref_pad_num": None,  # None = the variant's padding
    }

    def __init__(self, name: str, device: str = "cpu", **params: Any) -> None:
        variant = params.get("variant", self.params["variant"])
        if variant not in VARIANTS:
            raise ConfigError(
                f"[generators.{name}].variant: one of {', '.join(VARIANTS)}, got {variant!r}"
            )
        lora_file, m, pad = VARIANTS[variant]
        defaults = {"lora_file": lora_file, "motion_frames": m, "ref_pad_num": pad}
        for key, value in defaults.items():
            if params.get(key) is None:
                params[key] = value
        if not params.get("lora", self.params["lora"]):
            raise ConfigError(
                f"[generators.{name}].lora: an SVI LoRA is required (path or repo id)"
            )
        super().__init__(name, device, **params)
