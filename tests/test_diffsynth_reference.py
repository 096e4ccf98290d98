"""svibench's Wan (diffusers' transformer + svibench's sampling loop) against the engine upstream
SVI runs (DiffSynth's WanModel driven as diffsynth/pipelines/svi_video.py drives it).

Same random tiny I2V weights in both engines; same x_t, timestep, text context, CLIP features
and conditioning latents y. Needs the engine from the ``dev`` extra (``pip install -e .[dev]``);
skipped without it unless SVIBENCH_REQUIRE_REFERENCE=1 (CI sets it, so CI cannot skip it).

Tolerances (measured max |diff| in the comments, CPU, torch 2.14, diffusers 0.42.1,
diffsynth 2.1.12; outputs are O(1)):
- fp32 forward: 1e-4 (measured 2.7e-6: float rounding of different kernels);
- fp32 4-step CFG-5 Euler run through svibench's pipeline: 1e-4;
- bf16 forward: the engines may differ by bf16 rounding only: |diffusers − DiffSynth| must stay
  within 2x the error DiffSynth itself makes against the fp32 result (measured 0.0156 vs 0.0157).
"""

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(2)
sys.path.insert(0, str(Path(__file__).parent))

if not os.environ.get("SVIBENCH_REQUIRE_REFERENCE"):
    pytest.importorskip(
        "diffsynth.models.wan_video_dit", reason="diffsynth missing: pip install -e .[dev]"
    )

from diffsynth_ref import (  # noqa: E402
    CLIP_DIM,
    IMAGE_TOKENS,
    TEXT_LEN,
    TINY,
    diffsynth_from_diffusers,
    diffusers_transformer,
    upstream_forward,
    upstream_grid,
    upstream_sample,
)

STEPS, CFG = 4, 5.0
FORWARD_TOL = 1e-4
SAMPLE_TOL = 1e-4


def _inputs(seed: int = 3, frames: int = 3, hw: int = 8):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 16, frames, hw, hw, generator=g)
    y = torch.randn(1, 20, frames, hw, hw, generator=g)
    ctx = torch.randn(1, TEXT_LEN, TINY["text_dim"], generator=g)
    clip = torch.randn(1, IMAGE_TOKENS, CLIP_DIM, generator=g)
    return x, y, ctx, clip


@pytest.fixture(scope="module")
def engines():
    model = diffusers_transformer(seed=0)
    return model, diffsynth_from_diffusers(model)


def _diffusers_forward(model, x, y, t, ctx, clip):
    with torch.no_grad():
        return model(
            hidden_states=torch.cat([x, y], 1), timestep=t, encoder_hidden_states=ctx,
            encoder_hidden_states_image=clip, return_dict=False,
        )[0]  # fmt: skip


def test_forward_matches_diffsynth_fp32(engines):
    model, dit = engines
    x, y, ctx, clip = _inputs()
    # every timestep of upstream's 50-step grid hits the time embedding differently
    for t in upstream_grid(50)[1][::7]:
        ts = t.unsqueeze(0)
        ours = _diffusers_forward(model, x, y, ts, ctx, clip)
        ref = upstream_forward(dit, x, ts, ctx, clip, y)
        assert ref.abs().max() > 0.5  # a real signal, not zeros
        diff = (ours - ref).abs().max().item()
        assert diff < FORWARD_TOL, f"t={t.item():.2f}: max |diff| {diff:.3g}"


def test_forward_bf16_differs_by_rounding_only(engines, tmp_path):
    from diffusers import WanTransformer3DModel

    model, _ = engines
    model.save_pretrained(tmp_path)
    # as svibench loads it: bf16 with diffusers' fp32-kept modules (time embedder, norms, tables)
    ours_bf16 = WanTransformer3DModel.from_pretrained(tmp_path, torch_dtype=torch.bfloat16)
    dit_bf16 = diffsynth_from_diffusers(model, torch.bfloat16)  # upstream: all bf16
    x, y, ctx, clip = _inputs()
    ts = torch.tensor([937.5])
    exact = _diffusers_forward(model, x, y, ts, ctx, clip)
    bf = [v.to(torch.bfloat16) for v in (x, y, ctx, clip)]
    ours = _diffusers_forward(ours_bf16.eval(), *bf[:2], ts, *bf[2:]).float()
    ref = upstream_forward(dit_bf16, bf[0], ts, bf[2], bf[3], bf[1]).float()
    gap = (ours - ref).abs().max().item()
    ref_err = (ref - exact).abs().max().item()
    assert 0 < ref_err < 0.1
    assert gap <= 2 * ref_err, f"engines differ by {gap:.3g}, bf16 rounding is {ref_err:.3g}"


def test_sampling_loop_matches_upstream(engines):
    """svibench's SVIWanPipeline loop (its scheduler grid, CFG, Euler, dtype handling) with the
    diffusers transformer vs upstream's loop on DiffSynth: same noise, y, contexts."""
    from diffusers import WanTransformer3DModel
    from PIL import Image
    from tiny_wan import tiny_wan_dir

    from svibench.generators.wan_sampling import Conditioning, load_svi_pipeline

    model, dit = engines
    pipe = load_svi_pipeline(str(tiny_wan_dir()), dtype="float32", shift=5.0)
    assert isinstance(model, WanTransformer3DModel)
    pipe.transformer = model
    pipe.set_progress_bar_config(disable=True)
    x, _, ctx_pos, clip = _inputs(seed=5, frames=3, hw=8)
    ctx_neg = _inputs(seed=6)[2]
    pipe.encode_image = lambda image, device=None: clip  # CLIP is checked elsewhere
    seen = {}

    def record(module, args, kwargs):
        seen.setdefault("y", kwargs["hidden_states"][:, 16:].clone())
        seen.setdefault("t", []).append(float(kwargs["timestep"][0]))

    hook = model.register_forward_pre_hook(record, with_kwargs=True)
    ref_img = np.full((64, 64, 3), 100, np.uint8)
    pipe._condition = Conditioning(frames=ref_img[None], reference=ref_img, ref_pad_num=0)
    try:
        ours = pipe(
            image=Image.fromarray(ref_img), prompt_embeds=ctx_pos,
            negative_prompt_embeds=ctx_neg, height=64, width=64, num_frames=9,
            num_inference_steps=STEPS, guidance_scale=CFG, latents=x, output_type="latent",
        ).frames  # fmt: skip
    finally:
        hook.remove()
        pipe._condition = None
    timesteps = upstream_grid(STEPS)[1]
    assert np.allclose(seen["t"][::2], timesteps.numpy(), atol=1e-3)  # cond + uncond per step
    ref = upstream_sample(dit, x, seen["y"], ctx_pos, ctx_neg, clip, STEPS, CFG, torch.float32)
    assert (ref - x).abs().max() > 0.5  # the loop moved the latents
    diff = (ours.float() - ref).abs().max().item()
    assert diff < SAMPLE_TOL, f"max |diff| after {STEPS} steps: {diff:.3g}"
