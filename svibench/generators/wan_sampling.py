"""SVI conditioning and sampling on top of diffusers' ``WanImageToVideoPipeline``.

This is the ONE place where svibench departs from the stock diffusers pipeline. The stock
denoising loop, text encoding, CFG and VAE normalisation are used as they are; we override:

1. ``prepare_latents``: the 81-frame pixel condition is the m motion frames followed by padding
   (zeros, or the original reference image) instead of one image + zeros (upstream
   diffsynth/pipelines/svi_video.py:328-349, "SV" below). The mask still marks only the first
   latent frame as given, even for m = 5 (SV:319-326), exactly what the stock mask does.
2. ``encode_image``: the CLIP encoder sees the first conditioning frame squashed (bicubic, no
   crop) to its input size from [-1, 1] (wan_video_image_encoder.py:864-880); diffusers'
   ``CLIPImageProcessor`` resizes the short side and centre-crops instead.
3. The scheduler: Euler flow matching with sigmas linspace(1, 0, steps + 1)[:-1] shifted by
   ``shift`` (SV:144,461; schedulers/flow_match.py:31-64). Stock diffusers' Euler schedule
   starts from linspace(1, sigma_min) and the Wan-Diffusers repos ship UniPC with shift 3.
4. Decoding: we take the latents and decode them ourselves, so frames are truncated to uint8
   as upstream does ((x + 1) · 127.5, clip, astype; SV:366-370).

Known, deliberate differences from upstream (numerically small, documented in docs/generators.md):
the initial noise enters the first step in fp32 (upstream casts it to bf16 first; the noise
itself is identical: CPU generator, fp32 randn, SV:464-465), the DiT is diffusers' port
(its own timestep embedding and attention kernels), and the LoRA is merged by peft in the
weight dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from diffusers import FlowMatchEulerDiscreteScheduler, WanImageToVideoPipeline
from diffusers.utils.torch_utils import get_module_execution_device, randn_tensor
from PIL import Image

from svibench.errors import ConfigError
from svibench.models.wan_image import CLIP_MEAN, CLIP_STD, clip_pixels, to_unit

# Upstream test_svi.py:236 (common_negative_prompt): Wan's standard negative prompt, in English.
NEGATIVE_PROMPT = (
    "bright tones, overexposed, static, blurred details, subtitles, style, works, paintings, "
    "images, static, overall gray, worst quality, low quality, JPEG compression residue, ugly, "
    "incomplete, extra fingers, poorly drawn hands, poorly drawn faces, deformed, disfigured, "
    "misshapen limbs, fused fingers, still picture, messy background, three legs, many people "
    "in the background, walking backwards"
)


@dataclass(frozen=True)
class Conditioning:
    """What one clip is conditioned on.

    frames: uint8 (m, H, W, 3): the reference image for clip 0, else the last m frames of the
    previous clip. reference: the ORIGINAL resized reference image (H, W, 3), used as padding.
    ref_pad_num: upstream semantics: 0 zeros, -1 the reference in every padded slot, k > 0 k
    reference copies then zeros (SV:336-347).
    """

    frames: np.ndarray
    reference: np.ndarray
    ref_pad_num: int = 0


def condition_video(cond: Conditioning, num_frames: int) -> torch.Tensor:
    """The pixel condition (1, 3, num_frames, H, W): m frames then padding (SV:328-349)."""
    given = to_unit(cond.frames)
    m = given.shape[1]
    if m >= num_frames:
        raise ValueError(f"{m} conditioning frames leave no frame to generate of {num_frames}")
    pad_len = num_frames - m
    ref = to_unit(cond.reference[None])
    if cond.ref_pad_num == -1:
        pad = ref.expand(-1, pad_len, -1, -1)
    else:
        k = min(max(cond.ref_pad_num, 0), pad_len)
        zeros = torch.zeros(3, pad_len - k, *given.shape[2:])
        pad = torch.cat([ref.expand(-1, k, -1, -1), zeros], dim=1)
    return torch.cat([given, pad], dim=1)[None]


def first_latent_mask(num_latent_frames: int, h: int, w: int) -> torch.Tensor:
    """(1, 4, T_lat, h, w): 1 on the first latent frame only (SV:319-326; same as the stock mask)."""
    mask = torch.zeros(1, 4, num_latent_frames, h, w)
    mask[:, :, 0] = 1.0
    return mask


def to_uint8(video: torch.Tensor) -> np.ndarray:
    """Decoded (1, 3, T, H, W) in [-1, 1] -> uint8 (T, H, W, 3) by truncation (SV:366-370)."""
    v = ((video[0].float() + 1.0) * 127.5).clamp(0, 255)
    return v.permute(1, 2, 3, 0).cpu().numpy().astype(np.uint8)


class UpstreamFlowMatchScheduler(FlowMatchEulerDiscreteScheduler):
    """Euler flow matching with upstream's sigma grid: linspace(1, 0, n + 1)[:-1], then shifted.

    DiffSynth FlowMatchScheduler(shift=5, sigma_min=0, extra_one_step=True) (SV:144); the
    shift s' = shift·s / (1 + (shift − 1)·s) and the final step to sigma 0 are the stock ones.
    """

    def set_timesteps(
        self, num_inference_steps=None, device=None, sigmas=None, mu=None, timesteps=None
    ):
        if sigmas is None and timesteps is None and num_inference_steps is not None:
            sigmas = np.linspace(1.0, 0.0, num_inference_steps + 1)[:-1].tolist()
        return super().set_timesteps(num_inference_steps, device, sigmas, mu, timesteps)


class SVIWanPipeline(WanImageToVideoPipeline):
    """``WanImageToVideoPipeline`` with SVI conditioning (see the module docstring)."""

    _condition: Conditioning | None = None

    def encode_image(self, image, device=None):
        cond = self._condition
        if cond is None:
            return super().encode_image(image, device)
        device = device or self._execution_device
        enc = self.image_encoder
        proc = self.image_processor
        mean = tuple(getattr(proc, "image_mean", None) or CLIP_MEAN)
        std = tuple(getattr(proc, "image_std", None) or CLIP_STD)
        # CLIP sees the first conditioning frame, never the padding (SV:316-317).
        pixels = clip_pixels(cond.frames[0], int(enc.config.image_size), mean, std)
        pixels = pixels.to(get_module_execution_device(enc), dtype=enc.dtype)
        out = enc(pixel_values=pixels, output_hidden_states=True)
        return out.hidden_states[-2].to(device)  # penultimate block, like Wan's use_31_block

    def prepare_latents(
        self,
        image,
        batch_size,
        num_channels_latents=16,
        height=480,
        width=832,
        num_frames=81,
        dtype=None,
        device=None,
        generator=None,
        latents=None,
        last_image=None,
    ):
        cond = self._condition
        if cond is None:
            return super().prepare_latents(
                image, batch_size, num_channels_latents, height, width, num_frames,
                dtype, device, generator, latents, last_image,
            )  # fmt: skip
        if batch_size != 1 or last_image is not None or self.config.expand_timesteps:
            raise ValueError("SVI conditioning supports one video, no last_image, Wan 2.1 only")
        t_lat = (num_frames - 1) // self.vae_scale_factor_temporal + 1
        h, w = height // self.vae_scale_factor_spatial, width // self.vae_scale_factor_spatial
        shape = (1, num_channels_latents, t_lat, h, w)
        if latents is None:
            latents = randn_tensor(shape, generator=generator, device=device, dtype=dtype)
        else:
            latents = latents.to(device=device, dtype=dtype)
        video = condition_video(cond, num_frames)
        vae = self.vae
        video = video.to(device=get_module_execution_device(vae), dtype=vae.dtype)
        z = vae.encode(video).latent_dist.mode()  # mean latent, as upstream (SV:349)
        z = z.to(device=device, dtype=dtype)
        mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1).to(z)
        std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1).to(z)
        z = (z - mean) / std
        mask = first_latent_mask(t_lat, h, w).to(z)
        return latents, torch.cat([mask, z], dim=1)  # y = (mask 4ch, latent 16ch) (SV:350-352)

    def decode_uint8(self, latents: torch.Tensor) -> np.ndarray:
        vae = self.vae
        z = latents.to(device=get_module_execution_device(vae), dtype=vae.dtype)
        mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1).to(z)
        std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1).to(z)
        video = vae.decode(z * std + mean, return_dict=False)[0]
        return to_uint8(video)

    @torch.no_grad()
    def generate(
        self,
        cond: Conditioning,
        prompt: str,
        seed: int,
        *,
        negative_prompt: str = NEGATIVE_PROMPT,
        num_frames: int = 81,
        num_inference_steps: int = 50,
        guidance_scale: float = 5.0,
        max_sequence_length: int = 512,
    ) -> np.ndarray:
        """One clip, uint8 (num_frames, H, W, 3), at the size of ``cond.frames``."""
        height, width = cond.frames.shape[1:3]
        # Upstream draws the noise from a CPU generator in fp32 (SV:464-465); randn_tensor
        # draws on the generator's device and moves the result, giving the same numbers.
        generator = torch.Generator("cpu").manual_seed(int(seed))
        self._condition = cond
        try:
            latents = self(
                image=Image.fromarray(cond.frames[0]),  # only to satisfy check_inputs
                prompt=prompt,
                negative_prompt=negative_prompt,
                height=height,
                width=width,
                num_frames=num_frames,
                num_inference_steps=num_inference_steps,
                guidance_scale=guidance_scale,
                generator=generator,
                output_type="latent",
                max_sequence_length=max_sequence_length,
            ).frames
        finally:
            self._condition = None
        return self.decode_uint8(latents)


_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def from_pretrained(cls, *args, **kwargs):
    """``cls.from_pretrained`` without the torch_dtype/dtype rename warning of newer diffusers
    (we keep ``torch_dtype``, which every supported diffusers version accepts)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)
        return cls.from_pretrained(*args, **kwargs)


def torch_dtype(name: str, where: str) -> torch.dtype:
    if name not in _DTYPES:
        raise ConfigError(f"{where}: dtype must be one of {', '.join(_DTYPES)}, got {name!r}")
    return _DTYPES[name]


def load_svi_pipeline(
    model_dir: str,
    *,
    dtype: str = "bfloat16",
    vae_dtype: str = "float32",
    image_encoder_dtype: str = "float32",
    scheduler: str = "upstream",
    shift: float = 5.0,
    where: str = "generator",
) -> SVIWanPipeline:
    """Load the Wan 2.1 I2V components from a diffusers folder with svibench's defaults.

    ``dtype`` is for the transformer and the UMT5 encoder (upstream: bf16); the VAE and CLIP
    default to fp32, as upstream runs them (test_svi.py:317-338, SV:303-309). The pipeline
    stays on the CPU: merge LoRAs first, then call ``apply_runtime_options``.
    """
    from diffusers import AutoencoderKLWan
    from transformers import CLIPVisionModel

    vae = from_pretrained(
        AutoencoderKLWan,
        model_dir,
        subfolder="vae",
        torch_dtype=torch_dtype(vae_dtype, f"{where}.vae_dtype"),
    )
    image_encoder = from_pretrained(
        CLIPVisionModel,
        model_dir,
        subfolder="image_encoder",
        torch_dtype=torch_dtype(image_encoder_dtype, f"{where}.image_encoder_dtype"),
    )
    extra = {}
    if scheduler == "upstream":
        extra["scheduler"] = UpstreamFlowMatchScheduler(shift=float(shift))
    elif scheduler != "stock":
        raise ConfigError(f"{where}.scheduler: 'upstream' or 'stock', got {scheduler!r}")
    pipe = from_pretrained(
        SVIWanPipeline,
        model_dir,
        vae=vae,
        image_encoder=image_encoder,
        torch_dtype=torch_dtype(dtype, f"{where}.dtype"),
        **extra,
    )
    return pipe


def apply_runtime_options(
    pipe, *, device: str, offload: str, vae_tiling: bool, compile: bool, progress: bool, where: str
) -> None:
    """Placement and memory options shared by every diffusers-based generator."""

    if offload == "none":
        pipe.to(device)
    elif offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        raise ConfigError(f"{where}.offload: 'none', 'model' or 'sequential', got {offload!r}")
    if vae_tiling:
        pipe.vae.enable_tiling()  # saves memory; upstream decodes untiled (test_svi.py:186-191)
    if compile:
        pipe.transformer.compile()
    pipe.set_progress_bar_config(disable=not progress)
