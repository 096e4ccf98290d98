"""WanLoraTrainer: SVI error-recycling LoRA training on diffusers' Wan 2.1 I2V.

The recipe of upstream train_svi.py on diffusers components: peft LoRA (rank 128, alpha 128,
targets q,k,v,o,ffn.0,ffn.2 = diffusers ``to_q/to_k/to_v/to_out.0/ffn.net.0.proj/ffn.net.2`` in
self- and cross-attention, not the image k/v), AdamW lr 1e-4, gradient clipping 1.0, batch 1 per
process, accelerate for multi-GPU/multi-node (``accelerate launch``; DeepSpeed ZeRO-2 through an
accelerate config), gradient checkpointing and bf16 as options. The error recycling step is
svibench.train.recycling (the same code as the tiny world).

Per sample (upstream ``training_step``): VAE latents of an ``num_frames`` clip (mean latent,
normalised), y = cat(mask, VAE(first m frames + padding)) with only latent 0 marked, CLIP of the
first conditioning frame, the T5 prompt embedding. Dataset folder: videos (``.mp4 .avi .mov
.mkv``, searched recursively) each with an optional same-stem ``.txt`` prompt (else ``prompt``).

Checkpoints: ``lora-step{N}.safetensors`` every ``save_every`` steps and ``svi_lora.safetensors``
at the end, keyed like upstream (``pipe.dit.blocks.N.self_attn.q.lora_A.default.weight``) with
the alpha/rank scale folded into B, so upstream's merge (W += B·A) and svibench's ``svi``
generator reproduce the trained model. ``train_state.pt`` (LoRA, optimizer, banks, RNGs) resumes.
Multi-GPU: during the first ``buffer_warmup_iter`` steps every process adds all processes' errors
to its banks (``Accelerator.gather``, upstream's all_gather, train_svi.py:1162-1175); afterwards
each keeps its own. ``recipe`` ("film" default, "shot") sets every value of the published
training script (svibench.train.recycling.RECIPES).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from svibench.atomic import atomic_write, atomic_write_text
from svibench.errors import ConfigError
from svibench.models.flow import FlowMatch
from svibench.models.paths import resolve_model_dir
from svibench.models.wan_image import CLIP_MEAN, CLIP_STD, clip_pixels
from svibench.train.base import Param, Progress, Trainer, TrainResult
from svibench.train.recycling import (
    RECYCLING_PARAMS,
    ErrorRecycler,
    RecyclingConfig,
    recycling_step,
)
from svibench.train.state import load_train_state, save_train_state

LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "ffn.net.0.proj", "ffn.net.2"]
VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv")
# diffusers module name -> upstream (DiffSynth / original Wan) module name
_TO_UPSTREAM = {
    "attn1.to_q": "self_attn.q",
    "attn1.to_k": "self_attn.k",
    "attn1.to_v": "self_attn.v",
    "attn1.to_out.0": "self_attn.o",
    "attn2.to_q": "cross_attn.q",
    "attn2.to_k": "cross_attn.k",
    "attn2.to_v": "cross_attn.v",
    "attn2.to_out.0": "cross_attn.o",
    "ffn.net.0.proj": "ffn.0",
    "ffn.net.2": "ffn.2",
}


class WanLoraTrainer(Trainer):
    name = "wan-lora"
    params = {
        **RECYCLING_PARAMS,
        "model": Param(
            "Wan-AI/Wan2.1-I2V-14B-480P-Diffusers", help="diffusers folder or HF id (cache only)"
        ),
        "dataset": Param("", help="folder of videos with same-stem .txt prompts"),
        "prompt": Param("", help="prompt for videos without a .txt"),
        "steps": Param(2000, 1, 10**8),
        "learning_rate": Param(1e-4, 0.0, 1.0),
        "lora_rank": Param(128, 1, 4096),
        "lora_alpha": Param(128.0, 0.0, 1e6),
        "gradient_clip_val": Param(1.0, 0.0, 1e6),
        "gradient_checkpointing": Param(True),
        "mixed_precision": Param("bf16", choices=("no", "bf16", "fp16")),
        "dtype": Param(
            "bfloat16",
            choices=("bfloat16", "float32"),
            help="frozen DiT and T5 weights (upstream bf16, TS:317-338)",
        ),
        "num_frames": Param(81, 1, 1024),
        "height": Param(480, 16, 4096),
        "width": Param(832, 16, 4096),
        "motion_frames": Param(5, 1, 81, help="film 5, shot/others 1"),
        "ref_pad_num": Param(0, -1, 81, help="film 0, shot -1"),
        "p_motion_threshold": Param(0.9, 0.0, 1.0),
        "save_every": Param(500, 1, 10**8),
        "text_len": Param(512, 1, 4096, help="T5 tokens (upstream 512)"),
    }

    # ------------------------------------------------------------------ public API
    def train(self, out_dir: Path, seed: int, progress: Progress | None = None) -> TrainResult:
        from accelerate import Accelerator

        out_dir = Path(out_dir)
        done = out_dir / "result.json"
        if done.is_file():
            meta = json.loads(done.read_text())
            return TrainResult(Path(meta["checkpoint"]), int(meta["steps"]), meta["metrics"])
        c = self.config
        videos = find_videos(c["dataset"])
        acc = Accelerator(mixed_precision=c["mixed_precision"], cpu=self.device == "cpu")
        rank_seed = seed + 1000 * acc.process_index
        comp = load_components(
            c["model"], acc.device, text_len=c["text_len"], dtype=getattr(torch, c["dtype"])
        )
        transformer = comp.transformer
        transformer.requires_grad_(False)
        if c["gradient_checkpointing"]:
            transformer.enable_gradient_checkpointing()
        from peft import LoraConfig

        torch.manual_seed(rank_seed)
        transformer.add_adapter(
            LoraConfig(
                r=c["lora_rank"],
                lora_alpha=c["lora_alpha"],
                target_modules=LORA_TARGETS,
                init_lora_weights=True,
            )
        )
        lora_params = [p for p in transformer.parameters() if p.requires_grad]
        for p in lora_params:
            p.data = p.data.float()  # train_svi.py: LoRA parameters upcast to fp32
        opt = torch.optim.AdamW(lora_params, lr=c["learning_rate"])
        transformer, opt = acc.prepare(transformer, opt)
        recycler = ErrorRecycler(RecyclingConfig.from_config(c), rank_seed)
        flow = FlowMatch(shift=5.0)
        gen = torch.Generator().manual_seed(rank_seed)
        data_rng = np.random.default_rng([seed, acc.process_index, 11])
        step, history = 0, []
        state_file = out_dir / f"train_state.rank{acc.process_index}.pt"
        if state_file.is_file():
            lora, step, history = load_train_state(state_file, "lora", opt, recycler, gen, data_rng)
            acc.unwrap_model(transformer).load_state_dict(lora, strict=False)
        out_dir.mkdir(parents=True, exist_ok=True)
        transformer.train()
        t0 = time.time()
        while step < c["steps"]:
            sample = self._sample(comp, videos, data_rng)
            with acc.accumulate(transformer), acc.autocast():

                def fwd(x_t, t, y_lat, s=sample):
                    dt = comp.dtype  # latents run in the DiT's dtype (upstream bf16)
                    inp = torch.cat([x_t, s["mask"].to(x_t), y_lat.to(x_t)], dim=1).to(dt)
                    img = s["image_embeds"]
                    return transformer(
                        inp,
                        timestep=t,
                        encoder_hidden_states=s["context"].to(dt),
                        encoder_hidden_states_image=None if img is None else img.to(dt),
                        return_dict=False,
                    )[0].float()

                loss, stats = recycling_step(
                    fwd,
                    sample["latents"],
                    sample["y_latent"],
                    flow,
                    recycler,
                    gen,
                    gather=acc.gather,
                )
                acc.backward(loss)
                if c["gradient_clip_val"] > 0 and acc.sync_gradients:
                    acc.clip_grad_norm_(lora_params, c["gradient_clip_val"])
                opt.step()
                opt.zero_grad(set_to_none=True)
            step += 1
            history.append(stats["loss"])
            if progress and acc.is_main_process:
                progress(step, c["steps"])
            if step % c["save_every"] == 0 or step == c["steps"]:
                unwrapped = acc.unwrap_model(transformer)
                if acc.is_main_process:
                    save_upstream_lora(
                        unwrapped,
                        out_dir / f"lora-step{step:06d}.safetensors",
                        c["lora_rank"],
                        c["lora_alpha"],
                    )
                if step < c["steps"]:
                    lora_sd = {
                        k: v.detach().cpu()
                        for k, v in unwrapped.state_dict().items()
                        if "lora_" in k
                    }
                    save_train_state(
                        state_file, "lora", lora_sd, opt, recycler, gen, data_rng, step, history
                    )
        acc.wait_for_everyone()
        final = out_dir / "svi_lora.safetensors"
        metrics = {
            "final_loss": float(np.mean(history[-max(1, len(history) // 5) :])),
            "noise_bank_entries": float(len(recycler.noise_bank)),
            "y_bank_entries": float(len(recycler.y_bank)),
            "seconds": time.time() - t0,
        }
        if acc.is_main_process:
            save_upstream_lora(
                acc.unwrap_model(transformer), final, c["lora_rank"], c["lora_alpha"]
            )
            meta = {
                "checkpoint": str(final),
                "steps": step,
                "metrics": metrics,
                "config": self._json_config(),
            }
            atomic_write_text(done, json.dumps(meta, indent=1))
        state_file.unlink(missing_ok=True)
        return TrainResult(final, step, metrics)

    def generator(self, result: TrainResult) -> dict[str, Any]:
        c = self.config
        return {
            "kind": "svi",
            "model": c["model"],
            "lora": str(result.checkpoint),
            "motion_frames": c["motion_frames"],
            "ref_pad_num": c["ref_pad_num"],
        }

    # ------------------------------------------------------------------ data
    def _json_config(self) -> dict[str, Any]:
        return {k: v for k, v in self.config.items() if isinstance(v, (int, float, str, bool))}

    def _sample(
        self, comp: Components, videos: list[Path], rng: np.random.Generator
    ) -> dict[str, torch.Tensor]:
        c = self.config
        for _ in range(20):  # skip videos that are too short
            path = videos[int(rng.integers(len(videos)))]
            frames = read_clip(path, c["num_frames"], c["height"], c["width"], rng)
            if frames is not None:
                break
        else:
            raise ConfigError(
                f"dataset {c['dataset']}: no video with >= {c['num_frames']} frames found in 20 tries"
            )
        prompt = _prompt_for(path, c["prompt"])
        m = c["motion_frames"]
        if m > 1 and rng.random() >= c["p_motion_threshold"]:
            m = 1  # train_svi.py: otherwise only the first frame conditions
        pad = frames[:, int(rng.integers(frames.shape[1]))]  # a random frame of the video
        cond = pixel_condition(frames[:, :m], pad, c["ref_pad_num"], c["num_frames"])
        with torch.no_grad():
            latents = comp.encode_video(frames[None])
            y_latent = comp.encode_video(cond[None])
            return {
                "latents": latents,
                "y_latent": y_latent,
                "mask": first_latent_mask(latents.shape, comp.temporal),
                "context": comp.encode_prompt(prompt),
                "image_embeds": comp.encode_image(frames[:, 0]),
            }


# ---------------------------------------------------------------------- components
class Components:
    """Transformer + frozen encoders, with the encoders as plain functions."""

    def __init__(self, transformer, vae, text=None, image=None, device="cpu", text_len=512) -> None:
        self.transformer, self.vae, self.device, self.text_len = transformer, vae, device, text_len
        self.text, self.image = text, image  # (tokenizer, encoder), (processor, encoder) or None
        self.dtype = transformer.patch_embedding.weight.dtype  # some modules stay fp32
        self.temporal = 2 ** sum(vae.config.temperal_downsample) if vae is not None else 4
        self._prompts: dict[str, torch.Tensor] = {}
        z = vae.config.z_dim
        self.mean = torch.tensor(vae.config.latents_mean).view(1, z, 1, 1, 1)
        self.std = torch.tensor(vae.config.latents_std).view(1, z, 1, 1, 1)

    def encode_video(self, video: torch.Tensor) -> torch.Tensor:
        """(B, 3, F, H, W) in [-1, 1] -> normalised mean latents (VAE in fp32, SV:349-352)."""
        z = self.vae.encode(video.to(self.device, torch.float32)).latent_dist.mode()
        return ((z - self.mean.to(z)) / self.std.to(z)).float()

    def encode_prompt(self, prompt: str) -> torch.Tensor:
        if prompt not in self._prompts:
            if self.text is None:  # tests / text-free models: a zero context
                dim = self.transformer.config.text_dim
                self._prompts[prompt] = torch.zeros(1, 8, dim, device=self.device)
            else:
                tok, enc = self.text
                ids = tok(
                    [prompt],
                    padding="max_length",
                    max_length=self.text_len,
                    truncation=True,
                    return_tensors="pt",
                )
                mask = ids.attention_mask.to(self.device)
                out = enc(ids.input_ids.to(self.device), mask).last_hidden_state
                self._prompts[prompt] = (
                    out * mask[..., None]
                ).detach()  # padding zeroed (wan_prompter.py:86-109)
        return self._prompts[prompt]

    def encode_image(self, frame: torch.Tensor) -> torch.Tensor | None:
        dim = self.transformer.config.image_dim
        if not dim:
            return None
        if self.image is None:
            return torch.zeros(1, 257, dim, device=self.device)
        proc, enc = self.image
        pixels = clip_input(frame, int(enc.config.image_size), proc)
        out = enc(pixel_values=pixels.to(self.device, enc.dtype), output_hidden_states=True)
        return out.hidden_states[-2]  # penultimate block


def load_components(
    model: str, device, text_len: int = 512, dtype: torch.dtype = torch.bfloat16
) -> Components:
    from diffusers import AutoencoderKLWan, WanTransformer3DModel

    root = resolve_model_dir(str(model), "[trainer wan-lora].model")
    transformer = WanTransformer3DModel.from_pretrained(
        root, subfolder="transformer", torch_dtype=dtype
    )
    vae = (
        AutoencoderKLWan.from_pretrained(root, subfolder="vae", torch_dtype=torch.float32)
        .to(device)
        .eval()
    )
    vae.requires_grad_(False)
    text = image = None
    if (root / "text_encoder").is_dir():
        from transformers import AutoTokenizer, UMT5EncoderModel

        enc = UMT5EncoderModel.from_pretrained(
            root, subfolder="text_encoder", torch_dtype=dtype
        ).to(device)
        text = (
            AutoTokenizer.from_pretrained(root, subfolder="tokenizer"),
            enc.eval().requires_grad_(False),
        )
    if (root / "image_encoder").is_dir():
        from transformers import CLIPImageProcessor, CLIPVisionModel

        enc = CLIPVisionModel.from_pretrained(
            root, subfolder="image_encoder", torch_dtype=torch.float32
        ).to(device)
        image = (
            CLIPImageProcessor.from_pretrained(root, subfolder="image_processor"),
            enc.eval().requires_grad_(False),
        )
    return Components(transformer, vae, text, image, device, text_len)


# ---------------------------------------------------------------------- conditioning helpers
def clip_input(frame: torch.Tensor, size: int, processor: Any) -> torch.Tensor:
    """CLIP pixels of one (3, H, W) frame in [-1, 1]: the whole frame squashed, no crop.

    The same function as inference (generators/wan_sampling.py ``clip_pixels``) and upstream
    (wan_video_image_encoder.py:864-880: bicubic to 224x224 from [-1, 1], CLIP-normalised), not
    ``CLIPImageProcessor``'s short-side resize + centre crop. The frame goes through uint8 first,
    as upstream's training frames do (uint8 PIL images, train_svi.py:1007).
    """

    mean = tuple(getattr(processor, "image_mean", None) or CLIP_MEAN)
    std = tuple(getattr(processor, "image_std", None) or CLIP_STD)
    u8 = ((frame.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return clip_pixels(u8.permute(1, 2, 0).cpu().numpy(), size, mean, std)


def pixel_condition(
    cond: torch.Tensor, pad: torch.Tensor, ref_pad_num: int, frames: int
) -> torch.Tensor:
    """(3, F, H, W): m conditioning frames then padding (SV:328-349: 0 zeros, -1 pad, k: k pads)."""
    out = torch.zeros(cond.shape[0], frames, *cond.shape[2:])
    m = min(cond.shape[1], frames)
    out[:, :m] = cond[:, :m]
    copies = frames - m if ref_pad_num == -1 else min(max(ref_pad_num, 0), frames - m)
    if copies > 0:
        out[:, m : m + copies] = pad[:, None]
    return out


def first_latent_mask(latent_shape: torch.Size, temporal: int) -> torch.Tensor:
    """(B, temporal, F_lat, h, w): 1 on latent 0 only (pixel frame 0 repeated ``temporal`` times)."""
    b, _, f, h, w = latent_shape
    mask = torch.zeros(b, temporal, f, h, w)
    mask[:, :, 0] = 1.0
    return mask


def find_videos(folder: str) -> list[Path]:
    root = Path(folder).expanduser()
    if not folder or not root.is_dir():
        raise ConfigError(f"[trainer wan-lora].dataset: folder {folder!r} does not exist")
    videos = sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_EXTS)
    if not videos:
        raise ConfigError(
            f"[trainer wan-lora].dataset: no videos ({', '.join(VIDEO_EXTS)}) under {root}"
        )
    return videos


def _prompt_for(path: Path, default: str) -> str:
    txt = path.with_suffix(".txt")
    return txt.read_text(encoding="utf-8").strip() if txt.is_file() else default


def read_clip(
    path: Path, frames: int, height: int, width: int, rng: np.random.Generator
) -> torch.Tensor | None:
    """``frames`` consecutive frames from a random start, resized, as (3, F, H, W) in [-1, 1]."""
    import av
    from PIL import Image

    with av.open(str(path)) as box:
        all_frames = [f.to_ndarray(format="rgb24") for f in box.decode(video=0)]
    if len(all_frames) < frames:
        return None
    start = int(rng.integers(0, len(all_frames) - frames + 1))
    clip = [
        np.asarray(Image.fromarray(f).resize((width, height), Image.BILINEAR))
        for f in all_frames[start : start + frames]
    ]
    x = torch.from_numpy(np.stack(clip)).float().permute(3, 0, 1, 2)
    return x / 127.5 - 1


# ---------------------------------------------------------------------- checkpoints
def upstream_lora_state(
    transformer: torch.nn.Module, rank: int, alpha: float
) -> dict[str, torch.Tensor]:
    """peft LoRA weights under upstream names, B scaled by alpha/rank (upstream merges with 1.0)."""
    out = {}
    scale = alpha / rank
    for key, value in transformer.state_dict().items():
        if "lora_" not in key:
            continue
        # blocks.N.attn1.to_q.lora_A[.default].weight
        head, side = key.split(".lora_")
        side = "A" if side.startswith("A") else "B"
        block, module = head.split(".", 2)[1], head.split(".", 2)[2]
        if module not in _TO_UPSTREAM:
            continue
        v = value.detach().float().cpu()
        if side == "B":
            v = v * scale
        out[f"pipe.dit.blocks.{block}.{_TO_UPSTREAM[module]}.lora_{side}.default.weight"] = (
            v.contiguous()
        )
    return out


def save_upstream_lora(transformer: torch.nn.Module, path: Path, rank: int, alpha: float) -> None:
    from safetensors.torch import save_file

    state = upstream_lora_state(transformer, rank, alpha)
    atomic_write(path, lambda tmp: save_file(state, str(tmp)))
