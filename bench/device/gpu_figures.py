"""Generation figures on a GPU: random-init full-size Wan 2.1 I2V 14B through svibench's own
``wan21-chained`` and ``svi-film`` code paths (bf16 transformer + UMT5, fp32 VAE + CLIP, as the
generators default), at 480×832×81 with CFG.

Weights are random (none can be downloaded on the device machine); the cost of a forward pass
does not depend on their values. Loading is replaced, nothing else: ``load_svi_pipeline`` returns
the in-memory random pipeline, the model/LoRA paths resolve to placeholders, and the LoRA is a
random one of the upstream key format (rank --lora-rank), so the generators' own conditioning,
LoRA merge, runtime options (offload, compile) and sampling loop run unchanged.

Per phase: time to the first clip (load + runtime options + LoRA merge), then one clip each at
2 and 4 denoising steps: s/step = (t4 − t2) / 2, fixed cost per clip (text + image encoders, VAE
encode + decode) = t2 − 2·s/step, s/clip at 50 steps = fixed + 50·s/step (derived, not a
50-step run: one such clip is ≈ 8 min of the 15 the device lends). Peak memory per phase.
Phases run in priority order while ``--budget`` seconds allow (each phase's expected length is
its predecessor's), and the JSON is rewritten after every phase, so a timeout keeps the rest.

    python bench/device/gpu_figures.py --out $OUT/generation.json --budget 520   # on the device
    python bench/device/gpu_figures.py --tiny --device cpu --out /tmp/g.json      # plumbing test

``--tiny`` builds diffusers' test-sized components so the whole script runs on a CPU in seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

# Wan 2.1 I2V 14B 480P (diffusers layout; scripts/convert_wan_to_diffusers.py "Wan-I2V-14B-480p")
FULL = {
    "transformer": dict(patch_size=(1, 2, 2), num_attention_heads=40, attention_head_dim=128,
                        in_channels=36, out_channels=16, text_dim=4096, freq_dim=256,
                        ffn_dim=13824, num_layers=40, cross_attn_norm=True,
                        qk_norm="rms_norm_across_heads", eps=1e-6, image_dim=1280,
                        added_kv_proj_dim=5120, rope_max_seq_len=1024),
    # umt5-xxl encoder; CLIP ViT-H/14 vision tower (open-clip-xlm-roberta-large-vit-huge-14)
    "text": dict(vocab_size=256384, d_model=4096, d_kv=64, d_ff=10240, num_layers=24,
                 num_heads=64, relative_attention_num_buckets=32,
                 relative_attention_max_distance=128, feed_forward_proj="gated-gelu"),
    "clip": dict(hidden_size=1280, intermediate_size=5120, projection_dim=1024,
                 num_hidden_layers=32, num_attention_heads=16, image_size=224, patch_size=14,
                 hidden_act="gelu"),
    "vae": {},  # AutoencoderKLWan defaults are Wan 2.1's VAE
    "image_size": 224, "height": 480, "width": 832, "frames": 81,
}  # fmt: skip
TINY = {  # diffusers' tests/pipelines/wan/test_wan_image_to_video.py sizes
    "transformer": dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12,
                        in_channels=36, out_channels=16, text_dim=32, freq_dim=256, ffn_dim=32,
                        num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
                        image_dim=4, rope_max_seq_len=32),
    "text": dict(vocab_size=64, d_model=32, d_kv=8, d_ff=32, num_layers=2, num_heads=4,
                 relative_attention_num_buckets=8, relative_attention_max_distance=16),
    "clip": dict(hidden_size=4, projection_dim=4, num_hidden_layers=2, num_attention_heads=2,
                 image_size=32, intermediate_size=16, patch_size=4),
    "vae": dict(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                temperal_downsample=[False, True, True]),
    "image_size": 32, "height": 32, "width": 48, "frames": 9,
}  # fmt: skip


def _tokenizer(vocab_size: int):
    """A word-level tokenizer (the UMT5 vocabulary cannot be downloaded there); the prompt
    still pads to 512 tokens, so the encoder does the same work."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for i in range(3, min(vocab_size, 64)):
        vocab[f"w{i}"] = i
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", 1)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )


def build_pipeline(size: dict, device: str):
    """The random pipeline, built directly on ``device`` in the generators' default dtypes."""
    import torch
    from diffusers import AutoencoderKLWan, WanTransformer3DModel
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        CLIPVisionModel,
        UMT5Config,
        UMT5EncoderModel,
    )

    from svibench.generators.wan_sampling import SVIWanPipeline, UpstreamFlowMatchScheduler

    torch.manual_seed(0)
    with torch.device(device):
        torch.set_default_dtype(torch.bfloat16)
        transformer = WanTransformer3DModel(**size["transformer"]).eval()
        text = UMT5EncoderModel(UMT5Config(pad_token_id=0, eos_token_id=1, **size["text"])).eval()
        torch.set_default_dtype(torch.float32)
        vae = AutoencoderKLWan(**size["vae"]).eval()
        clip = CLIPVisionModel(CLIPVisionConfig(**size["clip"])).eval()
    s = size["image_size"]
    return SVIWanPipeline(
        tokenizer=_tokenizer(size["text"]["vocab_size"]),
        text_encoder=text,
        vae=vae,
        scheduler=UpstreamFlowMatchScheduler(shift=5.0),
        image_processor=CLIPImageProcessor(crop_size=s, size=s),
        image_encoder=clip,
        transformer=transformer,
    )


def random_lora(size: dict, rank: int) -> dict:
    """A random LoRA on every attention and FFN linear, in upstream SVI's key format."""
    import torch

    t = size["transformer"]
    inner, ffn = t["num_attention_heads"] * t["attention_head_dim"], t["ffn_dim"]
    shapes = {f"{a}.{p}": (inner, inner) for a in ("self_attn", "cross_attn") for p in "qkvo"}
    shapes.update({"ffn.0": (inner, ffn), "ffn.2": (ffn, inner)})
    g = torch.Generator().manual_seed(0)
    state = {}
    for n in range(t["num_layers"]):
        for mod, (fan_in, fan_out) in shapes.items():
            base = f"pipe.dit.blocks.{n}.{mod}"
            a = torch.randn(rank, fan_in, generator=g, dtype=torch.bfloat16) * 1e-3
            state[f"{base}.lora_A.default.weight"] = a
            state[f"{base}.lora_B.default.weight"] = torch.zeros(fan_out, rank, dtype=a.dtype)
    return state


def use_random_weights(pipe, lora_state: dict) -> None:
    """Replace file loading (and only that) in the generators' code path."""
    import svibench.generators.lora as lora
    import svibench.generators.wan_sampling as sampling
    import svibench.models.paths as paths

    sampling.load_svi_pipeline = lambda *a, **k: pipe
    paths.resolve_model_dir = lambda ref, where: Path(ref)
    paths.resolve_file = lambda ref, filename, where: Path(ref) / filename
    lora.load_upstream_lora = lambda path, where="lora": lora.convert_upstream_keys(lora_state)


class Bench:
    def __init__(self, size: dict, device: str, out: Path, budget: float) -> None:
        from svibench.suite import Case, Protocol

        self.size, self.device, self.out, self.budget = size, device, out, budget
        self.t0 = time.monotonic()
        self.protocol = Protocol(frames_per_clip=size["frames"], fps=16, clips=2,
                                 height=size["height"], width=size["width"])  # fmt: skip
        self.case = Case("bench", "world:1", ("a cat walks over a desk in the sun",))
        yy, xx = np.mgrid[0 : size["height"], 0 : size["width"]]
        self.reference = np.stack([xx % 256, yy % 256, (xx + yy) % 256], -1).astype(np.uint8)
        self.results: dict = {"device": device, "size": "full" if size is FULL else "tiny",
                              "clip": [size["frames"], size["height"], size["width"]],
                              "phases": {}, "skipped": []}  # fmt: skip

    def left(self) -> float:
        return self.budget - (time.monotonic() - self.t0)

    def sync(self) -> None:
        import torch

        if self.device.startswith("cuda"):
            torch.cuda.synchronize()

    def save(self) -> None:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text(json.dumps(self.results, indent=2) + "\n")

    def clip(self, cls, name: str, steps: int, **params) -> tuple[float, float]:
        """(seconds to open the session: load + options + LoRA, seconds for clip 0)."""
        gen = cls(name, device=self.device, model="random", steps=steps, progress=False, **params)
        self.sync()
        t0 = time.perf_counter()
        session = gen.start(self.case, self.protocol, self.reference)
        self.sync()
        t1 = time.perf_counter()
        frames = session.next_clip(self.case.prompt(0), 0, 0)
        self.sync()
        assert frames.shape == (self.size["frames"], self.size["height"], self.size["width"], 3)
        return t1 - t0, time.perf_counter() - t1

    def phase(self, key: str, cls, name: str, warmup: bool, **params) -> None:
        import torch

        if self.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        rec: dict = {"generator": name, **{k: v for k, v in params.items() if k != "lora"}}
        if warmup:  # first CUDA work (kernels, autotune; torch.compile's compilation) at 1 step
            rec["open_s"], rec["warmup_clip_1step_s"] = self.clip(cls, name, 1, **params)
        o2, t2 = self.clip(cls, name, 2, **params)
        _, t4 = self.clip(cls, name, 4, **params)
        per_step = (t4 - t2) / 2
        fixed = t2 - 2 * per_step
        rec.update(open_s=rec.get("open_s", o2), clip_2steps_s=t2, clip_4steps_s=t4,
                   s_per_step=per_step, fixed_s_per_clip=fixed,
                   s_per_clip_50steps=fixed + 50 * per_step, derived="fixed + 50 * s_per_step",
                   phase_s=time.perf_counter() - started)  # fmt: skip
        if self.device.startswith("cuda"):
            rec["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
        # what the --dry-run table needs: GPU-hours per case and for the suites (generation only)
        h = rec["s_per_clip_50steps"] / 3600
        rec["gpu_hours"] = {"10prompt_50s per case (10 clips)": 10 * h,
                            "50prompt_250s per case (50 clips)": 50 * h,
                            "50prompt_250s, 50 cases (2,500 clips)": 2500 * h}  # fmt: skip
        self.results["phases"][key] = rec
        self.save()
        print(json.dumps({key: rec}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--budget", type=float, default=520.0, help="seconds for the whole script")
    ap.add_argument("--tiny", action="store_true", help="test-sized components (plumbing check)")
    ap.add_argument("--phases", default="wan21,svi,offload,compile")
    ap.add_argument("--lora-rank", type=int, default=128)
    args = ap.parse_args()
    import torch

    from svibench.generators.svi import SVIGenerator
    from svibench.generators.wan import WanChainedGenerator

    size = TINY if args.tiny else FULL
    bench = Bench(size, args.device, args.out, args.budget)
    if args.device.startswith("cuda"):
        bench.results["gpu"] = torch.cuda.get_device_name()
    bench.results["torch"] = torch.__version__
    t = time.perf_counter()
    pipe = build_pipeline(size, args.device)
    use_random_weights(pipe, random_lora(size, args.lora_rank))
    bench.results["build_s"] = time.perf_counter() - t
    bench.results["params_b"] = sum(p.numel() for p in pipe.transformer.parameters()) / 1e9
    bench.save()
    svi = dict(variant="film", lora="random-lora")
    plan = {
        "wan21": lambda: bench.phase("wan21-chained", WanChainedGenerator, "wan21-chained", True),
        "svi": lambda: bench.phase("svi-film", SVIGenerator, "svi-film", False, **svi),
        "offload": lambda: bench.phase(
            "wan21-chained+offload", WanChainedGenerator, "wan21-chained", True, offload="model"
        ),
        "compile": lambda: _compiled(bench, pipe, WanChainedGenerator),
    }
    last = 0.0
    for key in args.phases.split(","):
        if bench.left() < 1.2 * last:
            bench.results["skipped"].append(key)
            bench.save()
            continue
        t = time.perf_counter()
        plan[key]()
        last = time.perf_counter() - t
    print(f"done in {time.monotonic() - bench.t0:.0f} s; skipped: {bench.results['skipped']}")


def _compiled(bench: Bench, pipe, cls) -> None:
    """torch.compile on the transformer (the generators' compile=true), offload hooks removed."""
    pipe.remove_all_hooks()
    pipe.to(bench.device)
    bench.phase("wan21-chained+compile", cls, "wan21-chained", True, compile=True)


if __name__ == "__main__":
    main()
