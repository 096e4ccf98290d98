"""i2v_background: DreamSim ensemble at tiny size with random weights (no downloads)."""

import copy

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from safetensors.torch import save_file
from torch import nn

from svibench.errors import MissingWeightsError
from svibench.metrics.base import ClipInput, FeatureCache
from svibench.metrics.features import DreamSimI2V, clear_model_cache
from svibench.metrics.registry import FEATURES, METRICS
from svibench.metrics.vbench.i2v_background import I2VBackground
from svibench.metrics.vbench.nets.dreamsim import DreamSimEnsemble, DreamSimViT

torch.set_num_threads(1)
TINY = {"patch_size": 16, "embed_dim": 64, "depth": 2, "num_heads": 1, "img_size": 224}


def _rand_(m: nn.Module, seed: int) -> nn.Module:
    """Every parameter random (LayerNorms too), so each branch path matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / max(1, p.shape[-1]) ** 0.5)
    return m


def _branches(seed=0):
    return [
        _rand_(DreamSimViT(k, proj_dim=16, **TINY), seed + i).eval()
        for i, k in enumerate(("dino", "clip", "open_clip"))
    ]


def _lora(branches, r=4, seed=9):
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for i, b in enumerate(branches):
        for j, blk in enumerate(b.blocks):
            out_f, in_f = blk.attn.qkv.weight.shape
            pre = f"base_model.model.extractor_list.{i}.model.blocks.{j}.attn.qkv"
            sd[f"{pre}.lora_A.weight"] = torch.randn(r, in_f, generator=g)
            sd[f"{pre}.lora_B.weight"] = torch.randn(out_f, r, generator=g)
    return sd


class _PeftQkv(nn.Module):
    """peft lora.Linear semantics (eval): base(x) + B(A(x)) * scaling, unmerged."""

    def __init__(self, base, a, b, scaling):
        super().__init__()
        self.base, self.a, self.b, self.s = base, a, b, scaling

    def forward(self, x):
        return self.base(x) + (x @ self.a.T @ self.b.T) * self.s


def _reference_embed(branches, x):
    """Plain DreamSim maths: every block on every token (peft-wrapped qkv allowed), DINO CLS
    before the final norm, CLIP CLS after it @ proj, concat, minus mean, / norm."""
    out = []
    for b in branches:
        t = TF.normalize(x, b.mean, b.std)
        t = torch.cat((b.cls_token.expand(len(x), -1, -1), b.patch_embed(t)), 1) + b.pos_embed
        t = t if b.kind == "dino" else b.pos_drop(t)
        for blk in b.blocks:
            t = blk(t)
        out.append(t[:, 0] if b.kind == "dino" else b.norm(t)[:, 0] @ b.proj)
    e = torch.cat(out, -1)
    e = e - e.mean(1, keepdim=True)
    return e / e.norm(dim=1, keepdim=True)


def _frames(n, size=224, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_lora_merge_equals_peft_and_embedding_normalised():
    br = _branches()
    sd, s = _lora(br), 0.5 / 4
    ref = DreamSimEnsemble(*copy.deepcopy(br))
    for key in [k for k in sd if k.endswith("lora_A.weight")]:
        i, j = int(key.split(".")[3]), int(key.split(".")[6])
        blk = ref.branches[i].blocks[j]
        blk.attn.qkv = _PeftQkv(blk.attn.qkv, sd[key], sd[key.replace("_A.", "_B.")], s)
    merged = DreamSimEnsemble(*br)
    assert merged.merge_lora(sd, s) == 6
    x = torch.rand(3, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b, plain = (
            merged(x),
            _reference_embed(ref.branches, x),
            DreamSimEnsemble(*_branches())(x),
        )
    assert a.shape == (3, 64 + 16 + 16)
    torch.testing.assert_close(a, b, atol=2e-6, rtol=0)
    assert (a - plain).abs().max() > 1e-3  # the adapter is not a no-op
    torch.testing.assert_close(a.mean(1), torch.zeros(3), atol=1e-6, rtol=0)
    torch.testing.assert_close(a.norm(dim=1), torch.ones(3), atol=1e-6, rtol=0)


def test_branch_kinds_dino_prenorm_clip_quickgelu():
    dino, clip, oclip = _branches()
    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        d0, c0 = dino(x), clip(x)
        dino.norm.weight.mul_(3.0)  # DreamSim's DINO feature is taken before the final norm
        clip.norm.weight.mul_(3.0)
        assert torch.equal(dino(x), d0) and not torch.allclose(clip(x), c0)
        # the OpenAI-CLIP branch differs from OpenCLIP only by QuickGELU
        oclip.load_state_dict(clip.state_dict())
        assert not torch.allclose(oclip(x), clip(x), atol=1e-4)
    assert clip.blocks[0].norm1.eps == 1e-5 and dino.blocks[0].norm1.eps == 1e-6


def test_metric_identical_frames_and_hard_cut():
    model = DreamSimEnsemble(*_branches())
    feat = DreamSimI2V(model=model, batch_size=2)
    a = _frames(1, seed=3)[0]
    same = ClipInput(np.stack([a] * 4), a, "p", 0, 16, 0)
    f = feat(same)
    assert f["frames"].shape == (4, 96) and f["reference"].shape == (96,)
    # 224x224 frames: neither resize changes them, so the image equals every frame
    got = I2VBackground().compute(same, {"dreamsim_i2v": f})["i2v_background"]
    assert got == pytest.approx(1.0, abs=1e-6)
    b = np.zeros_like(a)
    b[:, 112:] = 255  # half black, half white: far from the noise frame
    cut = ClipInput(np.stack([a, a, b, b, b]), a, "p", 0, 16, 0)
    fc = feat(cut)
    c = max(0.0, float(torch.nn.functional.cosine_similarity(fc["frames"][0], fc["frames"][-1], 0)))
    want = 0.4 * 1.0 + 0.3 * (3 + c) / 4 + 0.3 * c
    got = I2VBackground().compute(cut, FeatureCache(cut, {"dreamsim_i2v": feat}))
    assert got["i2v_background"] == pytest.approx(want, abs=1e-6) and c < 0.999
    # windows: 2 frames per window at 1 fps*2 s -> [a,a], [b,b], [b]: both windows score 0.4*x+0.6
    w = I2VBackground(window_s=2.0).compute(
        ClipInput(cut.frames, a, "p", 0, 1, 0), {"dreamsim_i2v": fc}
    )["i2v_background"]
    assert w == pytest.approx((1.0 + 0.4 * c + 0.6) / 2, abs=1e-6)


def test_files_load_from_dreamsim_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SVIBENCH_DREAMSIM_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(tmp_path / "vb"))
    monkeypatch.setenv("SVIBENCH_VERIFY_WEIGHTS", "0")
    monkeypatch.chdir(tmp_path)
    clear_model_cache()
    with pytest.raises(MissingWeightsError, match="dino_vitbase16_pretrain.pth"):
        DreamSimI2V().load()
    br = _branches(seed=5)
    d = tmp_path / "models"
    (d / "checkpoints").mkdir(parents=True)
    (d / "ensemble_lora").mkdir()
    torch.save(br[0].state_dict(), d / "checkpoints" / "dino_vitbase16_pretrain.pth")
    for b, name in zip(br[1:], ("clip", "open_clip"), strict=True):
        torch.save({"state_dict": b.state_dict()}, d / f"{name}_vitb16_pretrain.pth.tar")
    sd = _lora(br, r=4)
    save_file(sd, str(d / "ensemble_lora" / "adapter_model.safetensors"))
    (d / "ensemble_lora" / "adapter_config.json").write_text('{"r": 4, "lora_alpha": 2.0}')
    feat = FEATURES.get("dreamsim_i2v")()
    feat.load()
    want = DreamSimEnsemble(*br)
    want.merge_lora(sd, 2.0 / 4)
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        torch.testing.assert_close(feat.model(x), want(x), atol=1e-6, rtol=0)
    assert METRICS.get("i2v_background").features == ("dreamsim_i2v",)
    clear_model_cache()
