"""``wan-chained``: plain Wan 2.1 I2V, clip k+1 starts from the last frame of clip k.

The baseline runs the same loop as SVI (svibench/generators/svi.py) without a LoRA and with
m = 1 and zero padding, which is exactly Wan 2.1's own I2V conditioning (one image, 80 zero
frames, mask on the first latent frame): the two systems differ only where SVI differs.

Resume: a session's state is the next clip index and the last m uint8 frames of the clip just
made. Every clip is sampled from its own seed (a fresh CPU generator per clip, upstream
test_svi.py:411,425), so no RNG stream has to be saved: a fresh session that loads the state
makes the next clip bit-identically (on the same device, dtype and library versions).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from svibench.errors import ConfigError, SvibenchError
from svibench.generators.base import Generator, Session, State
from svibench.generators.lora import load_upstream_lora, merge_lora
from svibench.models.paths import resolve_file, resolve_model_dir
from svibench.suite import Case, Protocol

WAN_I2V_480P = "Wan-AI/Wan2.1-I2V-14B-480P-Diffusers"


def resize_reference(reference: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize (no crop) to (H, W) with PIL's default resampling, as upstream (test_svi.py:378)."""
    from PIL import Image

    h, w = size
    if reference.shape[:2] == (h, w):
        return np.ascontiguousarray(reference[..., :3])
    return np.asarray(Image.fromarray(reference[..., :3]).resize((w, h)), dtype=np.uint8)


class WanChainedGenerator(Generator):
    """Wan 2.1 I2V chained clip by clip (see the module docstring for the conditioning)."""

    description: ClassVar[str] = "Wan 2.1 I2V 14B 480p, clip k+1 from the last frame of clip k"
    # The baseline gets film's prompt stream and upstream's clip count (test_svi.py:399-401), so
    # SVI and its baseline see the same prompts; svibench.toml may override both.
    clip_count: ClassVar[str] = "upstream"
    params: ClassVar[dict[str, Any]] = {
        "model": WAN_I2V_480P,  # HF repo id (cache only) or a local diffusers folder
        "lora": "",  # SVI LoRA: a .safetensors path, a folder or an HF repo id ("" = none)
        "lora_file": "",  # file inside the folder / repo
        "lora_scale": 1.0,  # upstream --lora_alpha: W += scale * B @ A
        "motion_frames": 1,  # m
        "ref_pad_num": 0,  # 0 zeros, -1 reference image everywhere, k reference copies
        "steps": 50,
        "guidance_scale": 5.0,
        "shift": 5.0,
        "scheduler": "upstream",  # "upstream" Euler grid, or "stock" (the model folder's own)
        "negative_prompt": None,  # None = upstream's English Wan negative prompt
        "max_sequence_length": 512,
        "dtype": "bfloat16",  # transformer + UMT5 (upstream bf16)
        "vae_dtype": "float32",  # safe default; bf16 VAE adds artefacts (seed DevLog)
        "image_encoder_dtype": "float32",
        "offload": "none",  # "none" | "model" | "sequential"
        "vae_tiling": False,
        "compile": False,
        "progress": True,
    }

    # placement and speed: they do not change the numbers
    runtime_params: ClassVar[frozenset[str]] = frozenset({"progress", "offload", "compile"})

    def __init__(self, name: str, device: str = "cpu", **params: Any) -> None:
        super().__init__(name, device, **params)
        self._pipe = None
        m = self.config["motion_frames"]
        if not isinstance(m, int) or m < 1:
            raise ConfigError(f"[generators.{name}].motion_frames: an integer >= 1, got {m!r}")
        r = self.config["ref_pad_num"]
        if not isinstance(r, int) or r < -1:
            raise ConfigError(f"[generators.{name}].ref_pad_num: -1, 0 or k > 0, got {r!r}")

    @property
    def motion_frames(self) -> int:
        """m: frames carried from clip to clip; the runner stitches with it (N·(F−m)+m)."""
        return int(self.config["motion_frames"])

    @property
    def pipeline(self):
        """The loaded ``SVIWanPipeline`` (built on first use)."""
        if self._pipe is None:
            self._pipe = self._load()
        return self._pipe

    def _load(self):
        # wan_sampling (here and below) imports diffusers and torch: only with the model
        from svibench.generators.wan_sampling import apply_runtime_options, load_svi_pipeline

        c, where = self.config, f"[generators.{self.name}]"
        model_dir = resolve_model_dir(str(c["model"]), f"{where}.model")
        lora_path = None
        if c["lora"]:
            lora_path = resolve_file(str(c["lora"]), str(c["lora_file"]), f"{where}.lora")
        pipe = load_svi_pipeline(
            str(model_dir),
            dtype=c["dtype"],
            vae_dtype=c["vae_dtype"],
            image_encoder_dtype=c["image_encoder_dtype"],
            scheduler=c["scheduler"],
            shift=c["shift"],
            where=where,
        )
        if lora_path is not None:
            if c["offload"] == "none":
                pipe.transformer.to(self.device)  # merge on the accelerator, not in host RAM
            merge_lora(pipe.transformer, load_upstream_lora(lora_path, where), c["lora_scale"])
        apply_runtime_options(
            pipe,
            device=self.device,
            offload=c["offload"],
            vae_tiling=c["vae_tiling"],
            compile=c["compile"],
            progress=c["progress"],
            where=where,
        )
        return pipe

    def start(self, case: Case, protocol: Protocol, reference: np.ndarray) -> Session:
        f = protocol.frames_per_clip
        if (f - 1) % 4 != 0:
            raise ConfigError(
                f"generator '{self.name}': frames_per_clip must be 4k+1 for Wan (81, 33, 9...), got {f}"
            )
        if self.motion_frames >= f:
            raise ConfigError(f"generator '{self.name}': motion_frames must be < frames_per_clip")
        _ = self.pipeline  # load now: a missing model fails before any clip is made
        size = protocol.size_for(reference.shape[:2])
        return WanSession(self, case, protocol, resize_reference(reference, size))

    def close(self) -> None:
        self._pipe = None


class WanSession(Session):
    """One long video: clip 0 from the reference, clip k from the last m frames of clip k−1."""

    def __init__(
        self, gen: WanChainedGenerator, case: Case, protocol: Protocol, reference: np.ndarray
    ) -> None:
        self.gen = gen
        self.case = case
        self.protocol = protocol
        self.reference = reference  # resized original reference (H, W, 3)
        self.next_index = 0
        self.motion: np.ndarray | None = None  # last m uint8 frames of the previous clip

    @property
    def motion_frames(self) -> int:  # the generator's resolved m (svi: the variant's)
        return self.gen.motion_frames

    def conditioning(self, clip: int):
        from svibench.generators.wan_sampling import Conditioning

        if clip != self.next_index:
            raise SvibenchError(
                f"case '{self.case.id}': asked for clip {clip} but the session is at clip "
                f"{self.next_index} (load the saved state first)"
            )
        # Clip 0: the resized reference alone (test_svi.py:378-382); clip k: last m frames (:472).
        frames = self.reference[None] if clip == 0 else self.motion
        return Conditioning(frames=frames, reference=self.reference,
                            ref_pad_num=int(self.gen.config["ref_pad_num"]))  # fmt: skip

    def next_clip(self, prompt: str, clip: int, seed: int) -> np.ndarray:
        from svibench.generators.wan_sampling import NEGATIVE_PROMPT

        c = self.gen.config
        cond = self.conditioning(clip)
        frames = self.gen.pipeline.generate(
            cond,
            prompt,
            seed,
            negative_prompt=c["negative_prompt"]
            if c["negative_prompt"] is not None
            else NEGATIVE_PROMPT,
            num_frames=self.protocol.frames_per_clip,
            num_inference_steps=int(c["steps"]),
            guidance_scale=float(c["guidance_scale"]),
            max_sequence_length=int(c["max_sequence_length"]),
        )
        self.motion = frames[-self.motion_frames :].copy()
        self.next_index = clip + 1
        return frames

    def state_dict(self) -> State:
        state: State = {"next_clip": self.next_index, "motion_frames": self.motion_frames}
        if self.motion is not None:
            state["motion"] = self.motion
        return state

    def load_state_dict(self, state: State) -> None:
        m = int(state["motion_frames"])
        if m != self.motion_frames:
            raise SvibenchError(
                f"case '{self.case.id}': saved state has m={m}, generator '{self.gen.name}' uses "
                f"m={self.motion_frames}"
            )
        self.next_index = int(state["next_clip"])
        motion = state.get("motion")
        self.motion = None if motion is None else np.asarray(motion, dtype=np.uint8).copy()
        if self.next_index > 0 and (self.motion is None or self.motion.shape[0] != m):
            raise SvibenchError(f"case '{self.case.id}': saved state lacks the last {m} frames")
