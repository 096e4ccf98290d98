"""The reference engine: upstream SVI's denoising step run on DiffSynth-Studio's ``WanModel``.

Upstream SVI samples with its vendored DiffSynth (vita-epfl/Stable-Video-Infinity @34e4c50):
``diffsynth/pipelines/svi_video.py`` ("SV") calls ``model_fn_wan_video`` (SV:74-135), not
``WanModel.forward``; the Euler loop is SV:392-421 with ``schedulers/flow_match.py:31-64``.
PyPI ``diffsynth`` 2.x ships the same ``WanModel`` sub-modules (self/cross attention, RoPE,
RMSNorm, modulation, head: identical code for the I2V path; its forward is not what upstream
calls, so ``upstream_forward`` below composes the modules as SV:92-135 does) and its own
diffusers -> DiffSynth key converter (``WanVideoDiTFromDiffusers``), used here.

Test- and bench-only: ``diffsynth`` is the ``reference`` extra, never a runtime dependency.
"""

from __future__ import annotations

import torch

# One tiny I2V config for both engines. DiffSynth hard-codes CLIP width 1280 and 257 image
# tokens (MLP(1280, dim), y[:, :257]); diffusers hard-codes 512 text tokens
# (transformer_wan.py: image_context_length = len - 512); so those sizes are the real ones.
TINY = dict(dim=48, heads=2, ffn=64, layers=2, text_dim=32, freq_dim=256)
TEXT_LEN, IMAGE_TOKENS, CLIP_DIM = 512, 257, 1280


def diffusers_transformer(seed: int = 0, cfg: dict = TINY):
    """A random diffusers ``WanTransformer3DModel`` shaped like Wan 2.1 I2V (image cross-attn)."""
    from diffusers import WanTransformer3DModel

    torch.manual_seed(seed)
    model = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=cfg["heads"],
        attention_head_dim=cfg["dim"] // cfg["heads"], in_channels=36, out_channels=16,
        text_dim=cfg["text_dim"], freq_dim=cfg["freq_dim"], ffn_dim=cfg["ffn"],
        num_layers=cfg["layers"], cross_attn_norm=True, qk_norm="rms_norm_across_heads",
        eps=1e-6, image_dim=CLIP_DIM, added_kv_proj_dim=cfg["dim"], rope_max_seq_len=1024,
    )  # fmt: skip
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # non-trivial biases, norm gains and modulation tables
        for name, p in model.named_parameters():
            if p.ndim == 1 or "scale_shift_table" in name:
                p.add_(0.1 * torch.randn(p.shape, generator=g))
    return model.eval()


def diffsynth_from_diffusers(model, dtype: torch.dtype = torch.float32):
    """The same tensors in DiffSynth's ``WanModel`` (every key mapped, strict load)."""
    from diffsynth.models.wan_video_dit import WanModel
    from diffsynth.utils.state_dict_converters.wan_video_dit import WanVideoDiTFromDiffusers

    c = model.config
    dit = WanModel(
        dim=c.num_attention_heads * c.attention_head_dim, in_dim=c.in_channels,
        ffn_dim=c.ffn_dim, out_dim=c.out_channels, text_dim=c.text_dim, freq_dim=c.freq_dim,
        eps=c.eps, patch_size=tuple(c.patch_size), num_heads=c.num_attention_heads,
        num_layers=c.num_layers, has_image_input=True,
    )  # fmt: skip
    dit = dit.to(device=model.device, dtype=dtype)
    state = WanVideoDiTFromDiffusers(model.state_dict())
    dit.load_state_dict(state, strict=True)  # copies (and casts) into DiffSynth's tensors
    return dit.eval()


@torch.no_grad()
def upstream_forward(dit, x, timestep, context, clip_feature, y):
    """``model_fn_wan_video`` of SV:74-135 without TeaCache / sequence parallel."""
    from diffsynth.models.wan_video_dit import sinusoidal_embedding_1d
    from einops import rearrange

    t = dit.time_embedding(sinusoidal_embedding_1d(dit.freq_dim, timestep).to(dtype=x.dtype))
    t_mod = dit.time_projection(t).unflatten(1, (6, dit.dim))
    context = dit.text_embedding(context)
    x = torch.cat([x, y], dim=1)
    context = torch.cat([dit.img_emb(clip_feature), context], dim=1)
    x = dit.patch_embedding(x)
    f, h, w = x.shape[2:]
    x = rearrange(x, "b c f h w -> b (f h w) c").contiguous()
    freqs = torch.cat([
        dit.freqs[0][:f].view(f, 1, 1, -1).expand(f, h, w, -1),
        dit.freqs[1][:h].view(1, h, 1, -1).expand(f, h, w, -1),
        dit.freqs[2][:w].view(1, 1, w, -1).expand(f, h, w, -1),
    ], dim=-1).reshape(f * h * w, 1, -1).to(x.device)  # fmt: skip
    for block in dit.blocks:
        x = block(x, context, t_mod, freqs)
    return dit.unpatchify(dit.head(x, t), (f, h, w))


def upstream_grid(steps: int, shift: float = 5.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(sigmas, timesteps): DiffSynth's Wan grid, linspace(1, 0, steps + 1)[:-1] shifted (SV:144)."""
    from diffsynth.diffusion.flow_match import FlowMatchScheduler

    return FlowMatchScheduler.set_timesteps_wan(steps, 1.0, shift)


@torch.no_grad()
def upstream_sample(dit, noise, y, ctx_pos, ctx_neg, clip, steps: int, cfg: float, dtype):
    """SV:392-421 + SV:464-465: noise cast to the DiT dtype, CFG u + s·(c − u), Euler
    x += v·(σ_next − σ) with σ_next = 0 after the last step (flow_match.py:54-64)."""
    sigmas, timesteps = upstream_grid(steps)
    latents = noise.to(dtype)
    y, ctx_pos, ctx_neg, clip = (t.to(dtype) for t in (y, ctx_pos, ctx_neg, clip))
    for i, t in enumerate(timesteps):
        ts = t.unsqueeze(0).to(noise.device)  # SV:397
        cond = upstream_forward(dit, latents, ts, ctx_pos, clip, y)
        uncond = upstream_forward(dit, latents, ts, ctx_neg, clip, y)
        v = uncond + cfg * (cond - uncond)
        nxt = sigmas[i + 1] if i + 1 < len(sigmas) else 0
        latents = latents + v * (nxt - sigmas[i])
    return latents
