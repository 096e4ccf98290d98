"""``svi``: Stable Video Infinity = Wan 2.1 I2V + an SVI LoRA, conditioned as upstream.

Clip 0 is conditioned on the reference image, clip k > 0 on the last m decoded uint8 frames of
clip k − 1; the 81-frame pixel condition is those frames plus padding (film: zeros; shot and
2.0: the original reference image); the mask marks only the first latent frame; CLIP sees the
first conditioning frame squashed to 224×224 (svibench/generators/wan_sampling.py has the
details and the upstream line references). ``variant`` picks the published LoRA and its m /
padding and prompt schedule (scripts/test/svi_film.sh, svi_shot.sh, svi_2.0.sh); any key set
explicitly wins. Clip counts follow upstream's rule (``clip_count = "upstream"``, see
svibench.suite.PromptSchedule) with the suite's ``clips`` as ``--num_clips``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from svibench.errors import ConfigError
from svibench.generators.wan import WanChainedGenerator

SVI_REPO = "vita-video-gen/svi-model"

# variant -> (LoRA file in SVI_REPO, motion_frames m, ref_pad_num, prompt schedule), from the
# upstream test scripts: scripts/test/svi_film.sh (m 5, pad 0), svi_shot.sh (m 1, pad -1,
# --use_first_prompt_only), svi_tom.sh (m 1, pad 0), svi_2.0.sh @c183b5a (m 5, pad -1,
# --prompt_repeat_times 2); film-transition uses the film script with its own LoRA.
VARIANTS: dict[str, tuple[str, int, int, str]] = {
    "film": ("version-1.0/svi-film.safetensors", 5, 0, "cycle"),
    "film-opt": ("version-1.0/svi-film-opt-10212025.safetensors", 5, 0, "cycle"),
    "film-transition": ("version-1.0/svi-film-transitions.safetensors", 5, 0, "cycle"),
    "shot": ("version-1.0/svi-shot.safetensors", 1, -1, "first"),
    "tom": ("version-1.0/svi-tom.safetensors", 1, 0, "cycle"),
    "2.0": ("version-2.0/SVI_Wan2.1-I2V-14B_lora_v2.0.safetensors", 5, -1, "repeat:2"),
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
        lora_file, m, pad, _ = VARIANTS[variant]
        defaults = {"lora_file": lora_file, "motion_frames": m, "ref_pad_num": pad}
        for key, value in defaults.items():
            if params.get(key) is None:
                params[key] = value
        if not params.get("lora", self.params["lora"]):
            raise ConfigError(
                f"[generators.{name}].lora: an SVI LoRA is required (path or repo id)"
            )
        super().__init__(name, device, **params)

    @classmethod
    def default_schedule(cls, params: dict[str, Any]) -> str:
        """The variant's upstream prompt schedule (shot: first prompt; 2.0: each prompt twice)."""
        variant = params.get("variant", cls.params["variant"])
        return VARIANTS[variant][3] if variant in VARIANTS else cls.prompt_schedule
