"""``diffusers-i2v``: any diffusers image-to-video pipeline, chained by the last frame.

Configured from svibench.toml only, e.g. Wan 2.2 TI2V 5B or CogVideoX I2V::

    [generators.wan22-5b]
    kind = "diffusers-i2v"
    model = "Wan-AI/Wan2.2-TI2V-5B-Diffusers"
    pipeline = "WanImageToVideoPipeline"          # or "auto" (model_index.json) or "pkg.mod:Class"
    call_kwargs = { num_inference_steps = 50, guidance_scale = 5.0 }

Clip 0 starts from the resized reference image, clip k from the last frame of clip k − 1
(m = 1). The pipeline is called stock (its own conditioning, scheduler and CLIP preprocessing);
frames come back as floats in [0, 1] and are rounded to uint8 (diffusers' export convention).
Resume state: next clip index + the last frame; every clip is seeded on its own.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import numpy as np

from svibench.errors import ConfigError, GeneratorOutputError, SvibenchError
from svibench.generators.base import Generator, Session, State
from svibench.generators.wan import resize_reference
from svibench.models.paths import resolve_model_dir
from svibench.suite import Case, Protocol


def pipeline_class(spec: str, where: str):
    """'auto' -> DiffusionPipeline; 'Name' -> diffusers.Name; 'pkg.mod:Class' -> that class."""
    import diffusers

    if spec == "auto":
        return diffusers.DiffusionPipeline
    module, _, attr = spec.rpartition(":") if ":" in spec else ("diffusers", "", spec)
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        raise ConfigError(f"{where}.pipeline: no pipeline class {spec!r}") from None


def frames_to_uint8(frames: Any, where: str) -> np.ndarray:
    """A pipeline's ``.frames[0]`` (np floats in [0, 1], a tensor, or PIL images) -> uint8 T×H×W×3."""
    if isinstance(frames, list):
        return np.stack([np.asarray(f.convert("RGB"), dtype=np.uint8) for f in frames])
    if hasattr(frames, "detach"):  # torch tensor (T, C, H, W) in [0, 1]
        frames = frames.detach().float().cpu().permute(0, 2, 3, 1).numpy()
    arr = np.asarray(frames)
    if arr.dtype == np.uint8:
        return arr
    if not np.isfinite(arr).all():
        raise GeneratorOutputError(f"{where}: the pipeline returned NaN or inf frames")
    return np.clip(np.round(arr * 255.0), 0, 255).astype(np.uint8)


class DiffusersI2VGenerator(Generator):
    """Stock diffusers I2V pipeline, clip k+1 from the last frame of clip k."""

    description: ClassVar[str] = "any diffusers image-to-video pipeline, chained by last frame"
    clip_count: ClassVar[str] = "upstream"  # same prompt stream as wan-chained and svi film
    params: ClassVar[dict[str, Any]] = {
        "model": "",  # HF repo id (cache only) or local folder
        "pipeline": "auto",
        "dtype": "bfloat16",
        "call_kwargs": {},  # passed to pipe(...) as they are
        "negative_prompt": None,  # None = not passed
        "image_arg": "image",
        "frames_arg": "num_frames",  # "" = do not pass the frame count
        "pass_size": True,  # pass height= / width=
        "offload": "none",
        "vae_tiling": False,
        "compile": False,
        "progress": True,
    }

    # placement and speed: they do not change the numbers
    runtime_params: ClassVar[frozenset[str]] = frozenset({"progress", "offload", "compile"})

    def __init__(self, name: str, device: str = "cpu", **params: Any) -> None:
        super().__init__(name, device, **params)
        if not self.config["model"]:
            raise ConfigError(
                f"[generators.{name}].model: a HF repo id or a local folder is required"
            )
        if not isinstance(self.config["call_kwargs"], dict):
            raise ConfigError(f"[generators.{name}].call_kwargs: a table is required")
        self._pipe = None

    @property
    def pipeline(self):
        if self._pipe is None:
            # wan_sampling imports diffusers and torch: only when the pipeline is built
            from svibench.generators.wan_sampling import (
                apply_runtime_options,
                from_pretrained,
                torch_dtype,
            )

            c, where = self.config, f"[generators.{self.name}]"
            folder = resolve_model_dir(str(c["model"]), f"{where}.model")
            cls = pipeline_class(str(c["pipeline"]), where)
            pipe = from_pretrained(
                cls, str(folder), torch_dtype=torch_dtype(c["dtype"], f"{where}.dtype")
            )
            apply_runtime_options(pipe, device=self.device, offload=c["offload"],
                                  vae_tiling=c["vae_tiling"], compile=c["compile"],
                                  progress=c["progress"], where=where)  # fmt: skip
            self._pipe = pipe
        return self._pipe

    def start(self, case: Case, protocol: Protocol, reference: np.ndarray) -> Session:
        _ = self.pipeline  # load now: a missing model fails before any clip is made
        size = protocol.size_for(reference.shape[:2])
        return LastFrameSession(self, case, protocol, resize_reference(reference, size))

    def close(self) -> None:
        self._pipe = None


class LastFrameSession(Session):
    motion_frames = 1  # clip k+1 continues from the last frame of clip k

    def __init__(
        self, gen: DiffusersI2VGenerator, case: Case, protocol: Protocol, reference: np.ndarray
    ) -> None:
        self.gen = gen
        self.case = case
        self.protocol = protocol
        self.reference = reference
        self.next_index = 0
        self.last: np.ndarray | None = None

    def next_clip(self, prompt: str, clip: int, seed: int) -> np.ndarray:
        import torch
        from PIL import Image

        if clip != self.next_index:
            raise SvibenchError(
                f"case '{self.case.id}': asked for clip {clip} but the session is at clip "
                f"{self.next_index} (load the saved state first)"
            )
        c = self.gen.config
        start = self.reference if clip == 0 else self.last
        h, w = start.shape[:2]
        kwargs: dict[str, Any] = {c["image_arg"]: Image.fromarray(start), "prompt": prompt}
        if c["frames_arg"]:
            kwargs[c["frames_arg"]] = self.protocol.frames_per_clip
        if c["pass_size"]:
            kwargs.update(height=h, width=w)
        if c["negative_prompt"] is not None:
            kwargs["negative_prompt"] = c["negative_prompt"]
        kwargs["generator"] = torch.Generator("cpu").manual_seed(int(seed))
        kwargs["output_type"] = "np"
        kwargs.update(c["call_kwargs"])
        out = self.gen.pipeline(**kwargs)
        frames = frames_to_uint8(out.frames[0], f"generator '{self.gen.name}'")
        self.last = frames[-1].copy()
        self.next_index = clip + 1
        return frames

    def state_dict(self) -> State:
        state: State = {"next_clip": self.next_index}
        if self.last is not None:
            state["last_frame"] = self.last
        return state

    def load_state_dict(self, state: State) -> None:
        self.next_index = int(state["next_clip"])
        last = state.get("last_frame")
        self.last = None if last is None else np.asarray(last, dtype=np.uint8).copy()
        if self.next_index > 0 and self.last is None:
            raise SvibenchError(f"case '{self.case.id}': saved state lacks the last frame")
