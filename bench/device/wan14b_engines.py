"""Real-size engine check (issue 16): svibench's Wan vs the engine upstream SVI runs on, on a GPU.

A randomly initialised full-size Wan 2.1 I2V 14B transformer in bf16 (the published config:
40 blocks, 40 heads × 128, FFN 13824, image cross-attention) is loaded into diffusers'
``WanTransformer3DModel`` (as svibench loads it: bf16 with diffusers' fp32-kept modules) and
into DiffSynth's ``WanModel`` (all bf16, as upstream's test_svi.py:337). One SVI-film clip at
480×832×81 (21×60×104 latents, 32760 tokens): svibench's ``SVIWanPipeline`` (its scheduler
grid, CFG 5, Euler, film conditioning with a random full-size Wan VAE) against upstream's loop
(tests/diffsynth_ref.py: svi_video.py:392-421 on DiffSynth's modules) from the same noise, y,
text and CLIP contexts. Both final latents are decoded by the same fp32 VAE, so the frame
difference is the DiT + loop difference only.

Prints and writes JSON: seconds per step and per clip, peak GPU memory per engine, max and mean
|diff| of the latents and of the uint8 frames. NOT RUN YET (no GPU in the session that wrote it).

On the device machine (Python 3.12, torch present, no network) carry pure-Python wheels:
    pip download --no-deps -d .whl/eng diffusers==0.42.1 diffsynth==2.1.12 einops imageio \
        modelscope ftfy
    # device command (about 10 min with --steps 5; 50 steps ≈ 8 min per engine on an H200):
    python3 -m pip install -q --no-index --no-deps --target /tmp/eng .whl/eng/*.whl && \
      PYTHONPATH=/tmp/eng:. python3 bench/device/wan14b_engines.py --steps 5 --out $OUT/engines.json
Seconds per clip are extrapolated to 50 steps from the measured seconds per step (+ VAE).
``--tiny`` runs the same code on the CPU with a tiny config (a smoke test of this script).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from diffsynth_ref import (  # noqa: E402
    CLIP_DIM,
    IMAGE_TOKENS,
    TEXT_LEN,
    diffsynth_from_diffusers,
    upstream_grid,
    upstream_sample,
)

# diffusers' Wan2.1-I2V-14B-480P-Diffusers transformer/config.json
FULL = dict(
    patch_size=(1, 2, 2), num_attention_heads=40, attention_head_dim=128, in_channels=36,
    out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=13824, num_layers=40,
    cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6, image_dim=1280,
    added_kv_proj_dim=5120, rope_max_seq_len=1024,
)  # fmt: skip
TINY = {**FULL, "num_attention_heads": 2, "attention_head_dim": 24, "text_dim": 32,
        "ffn_dim": 64, "num_layers": 2, "added_kv_proj_dim": 48}  # fmt: skip


def build_transformer(cfg: dict, device: str, seed: int):
    """Random weights, bf16, with diffusers' ``_keep_in_fp32_modules`` in fp32 as
    ``from_pretrained(torch_dtype=bf16)`` leaves them (what svibench runs)."""
    from diffusers import WanTransformer3DModel

    torch.manual_seed(seed)
    torch.set_default_dtype(torch.bfloat16)  # no fp32 copy of 14B parameters
    try:
        with torch.device(device):
            model = WanTransformer3DModel(**cfg)
    finally:
        torch.set_default_dtype(torch.float32)
    keep = model._keep_in_fp32_modules or []
    for name, p in model.named_parameters():
        if any(k in name.split(".") for k in keep):
            p.data = p.data.float()
    return model.eval()


def build_diffsynth(model, device: str):
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            return diffsynth_from_diffusers(model, torch.bfloat16)
    finally:
        torch.set_default_dtype(torch.float32)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak(device: str) -> float:
    return torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else float("nan")


def _reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def run(args) -> dict:
    from diffusers import AutoencoderKLWan

    from svibench.generators.wan_sampling import (
        Conditioning,
        SVIWanPipeline,
        UpstreamFlowMatchScheduler,
    )

    dev, cfg = args.device, (TINY if args.tiny else FULL)
    h, w, f = (64, 64, 9) if args.tiny else (480, 832, 81)
    out: dict = {"device": torch.cuda.get_device_name() if dev.startswith("cuda") else "cpu",
                 "size": [f, h, w], "steps_run": args.steps, "cfg": 5.0, "torch": torch.__version__}  # fmt: skip
    t0 = time.perf_counter()
    model = build_transformer(cfg, dev, args.seed)
    torch.manual_seed(args.seed + 1)
    vae = AutoencoderKLWan(**({"base_dim": 3, "dim_mult": [1, 1, 1, 1], "num_res_blocks": 1}
                              if args.tiny else {})).to(dev).eval()  # fmt: skip
    out["build_s"] = time.perf_counter() - t0
    pipe = SVIWanPipeline(tokenizer=None, text_encoder=None, image_encoder=None,
                          image_processor=None, transformer=model, vae=vae,
                          scheduler=UpstreamFlowMatchScheduler(shift=5.0))  # fmt: skip
    pipe.set_progress_bar_config(disable=True)
    g = torch.Generator().manual_seed(args.seed + 2)
    lat = (1, 16, (f - 1) // 4 + 1, h // 8, w // 8)
    noise = torch.randn(lat, generator=g)  # fp32 CPU noise, as upstream (SV:464)
    ctx_pos = torch.randn(1, TEXT_LEN, cfg["text_dim"], generator=g).to(dev, torch.bfloat16)
    ctx_neg = torch.randn(1, TEXT_LEN, cfg["text_dim"], generator=g).to(dev, torch.bfloat16)
    clip = torch.randn(1, IMAGE_TOKENS, CLIP_DIM, generator=g).to(dev, torch.bfloat16)
    pipe.encode_image = lambda image, device=None: clip
    ref = np.random.default_rng(args.seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    pipe._condition = Conditioning(frames=ref[None], reference=ref, ref_pad_num=0)  # film clip 0
    seen: dict = {}

    def record(module, a, kw):
        seen.setdefault("y", kw["hidden_states"][:, 16:].clone())
        _sync(dev)
        seen.setdefault("calls", []).append(time.perf_counter())

    hook = model.register_forward_pre_hook(record, with_kwargs=True)
    from PIL import Image

    _reset_peak(dev)
    t0 = time.perf_counter()
    with torch.no_grad():
        ours = pipe(image=Image.fromarray(ref), prompt_embeds=ctx_pos, negative_prompt_embeds=ctx_neg,
                    height=h, width=w, num_frames=f, num_inference_steps=args.steps,
                    guidance_scale=5.0, latents=noise.to(dev), output_type="latent").frames  # fmt: skip
    _sync(dev)
    hook.remove()
    total = time.perf_counter() - t0
    calls = seen["calls"]
    step_s = (time.perf_counter() - calls[0]) / args.steps  # 2 forwards (CFG) + Euler per step
    out["svibench"] = {"s_per_step": step_s, "vae_encode_s": total - step_s * args.steps,
                       "s_per_clip_50_steps": 50 * step_s + (total - step_s * args.steps),
                       "peak_gib": _peak(dev)}  # fmt: skip
    y = seen["y"]
    dit = build_diffsynth(model, dev)
    if args.offload_other:
        model.to("cpu")
    _reset_peak(dev)
    t0 = time.perf_counter()
    theirs = upstream_sample(dit, noise.to(dev), y, ctx_pos, ctx_neg, clip, args.steps, 5.0,
                             torch.bfloat16)  # fmt: skip
    _sync(dev)
    ds = (time.perf_counter() - t0) / args.steps
    out["diffsynth"] = {"s_per_step": ds, "s_per_clip_50_steps": 50 * ds, "peak_gib": _peak(dev)}
    del dit
    d = (ours.float() - theirs.float()).abs()
    out["latents"] = {"max_abs_diff": d.max().item(), "mean_abs_diff": d.mean().item(),
                      "max_abs": theirs.float().abs().max().item()}  # fmt: skip
    t0 = time.perf_counter()
    with torch.no_grad():
        frames = [pipe.decode_uint8(x) for x in (ours, theirs)]
    out["vae_decode_s"] = (time.perf_counter() - t0) / 2
    fd = np.abs(frames[0].astype(np.int16) - frames[1].astype(np.int16))
    out["frames_uint8"] = {"max_abs_diff": int(fd.max()), "mean_abs_diff": float(fd.mean()),
                           "share_differing": float((fd > 0).mean())}  # fmt: skip
    out["grid_timesteps"] = upstream_grid(args.steps)[1].tolist()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--tiny", action="store_true", help="tiny config on the CPU (smoke test)")
    ap.add_argument("--offload-other", action="store_true", help="move the diffusers DiT off GPU")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    res = run(args)
    text = json.dumps(res, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
