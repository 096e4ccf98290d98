"""Features with tiny random backbones injected (no weights on disk, no downloads)."""

import numpy as np
import pytest
import torch
from torch import nn

from svibench.metrics.base import ClipInput, FeatureCache
from svibench.metrics.features import (
    AmtVfi,
    ClipB32VBench,
    ClipL14Text,
    ClipL14VBench,
    DinoI2V,
    DinoVBench,
    MusiqSpaq,
    RaftMaxRad,
    raft_princeton_to_torchvision,
)
from svibench.metrics.vbench.aesthetic import AestheticQuality
from svibench.metrics.vbench.clip_text import ClipText
from svibench.metrics.vbench.consistency import BackgroundConsistency, SubjectConsistency
from svibench.metrics.vbench.dynamic import DynamicDegree
from svibench.metrics.vbench.i2v import I2VSubject
from svibench.metrics.vbench.imaging import ImagingQuality
from svibench.metrics.vbench.motion_smoothness import MotionSmoothness
from svibench.metrics.vbench.nets.amt_s import AMTS
from svibench.metrics.vbench.nets.dino_vit import DinoViT

torch.set_num_threads(1)


def _clip(frames, fps=16, ref=None):
    return ClipInput(frames, frames[0] if ref is None else ref, "a red square", 0, fps, 0)


def _texture(h, w, seed):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def tiny_dino():
    torch.manual_seed(0)
    return DinoViT(patch_size=16, embed_dim=48, depth=2, num_heads=3)


@pytest.fixture(scope="module")
def tiny_clip():
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

    torch.manual_seed(0)
    return CLIP(
        embed_dim=16,
        vision_cfg=CLIPVisionCfg(layers=1, width=32, head_width=16, patch_size=32, image_size=224),
        text_cfg=CLIPTextCfg(context_length=77, vocab_size=49408, width=32, heads=2, layers=1),
        quick_gelu=True,
    ).eval()


def test_dino_identical_frames_and_hard_cut(tiny_dino):
    a, b = _texture(48, 80, 1), _texture(48, 80, 2)  # non-square: pos-embed resampling path
    feat = DinoVBench(model=tiny_dino, batch_size=3)
    same = _clip(np.stack([a] * 5))
    f = feat(same)
    assert f.shape == (5, 48)
    assert SubjectConsistency().compute(same, {"dino_vbench": f})[
        "subject_consistency"
    ] == pytest.approx(1.0, abs=1e-6)
    t, k = 7, 3
    cut = _clip(np.stack([a] * k + [b] * (t - k)))
    fc = feat(cut)
    c = max(0.0, float(torch.nn.functional.cosine_similarity(fc[0], fc[-1], dim=0)))
    want = ((k - 1) + c + (t - 1 - k) * (1 + c) / 2) / (t - 1)
    got = SubjectConsistency().compute(cut, {"dino_vbench": fc})["subject_consistency"]
    assert got == pytest.approx(want, abs=1e-6)
    assert got < 1.0 - 1e-3


def test_dino_i2v_reference_path(tiny_dino):
    a = _texture(64, 64, 3)
    clip = _clip(np.stack([a] * 4))
    d = DinoI2V(model=tiny_dino)(clip)
    assert d["frames"].shape == (4, 48) and d["reference"].shape == (48,)
    # PIL (image) and tensor (frames) bicubic paths differ slightly: high but not exactly 1
    s = I2VSubject().compute(clip, {"dino_i2v": d})["i2v_subject"]
    assert 0.95 < s <= 1.0 + 1e-9


def test_clip_features_shared_forward_and_aesthetic(tiny_clip):
    frames = np.stack([_texture(40, 56, i) for i in range(5)])
    clip = _clip(frames)
    calls = {"n": 0}
    img = ClipL14VBench(model=tiny_clip, batch_size=8)
    real = tiny_clip.encode_image

    def counting(x):
        calls["n"] += 1
        return real(x)

    img.model.encode_image = counting
    txt = ClipL14Text(model=tiny_clip)
    cache = FeatureCache(clip, {"clip_l14_vbench": img, "clip_l14_text": txt})
    head = nn.Linear(16, 1)
    nn.init.zeros_(head.weight)
    nn.init.constant_(head.bias, 5.0)
    aes = AestheticQuality(head=head).compute(clip, cache)["aesthetic_quality"]
    ct = ClipText().compute(clip, cache)["clip_text"]
    assert calls["n"] == 1  # one forward serves both dimensions
    assert aes == pytest.approx(0.5)
    assert -1.0 <= ct <= 1.0
    del img.model.encode_image


def test_openai_clip_file_builds_without_random_init(tmp_path):
    """build_openai_clip skips nn.init (strict load overwrites it): same weights and outputs
    as the plain build, in fp32 (CPU layout) and in OpenAI's fp16 layout (CUDA layout)."""
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg, convert_weights_to_fp16
    from safetensors.torch import save_file

    from svibench.metrics.features import _shared, build_openai_clip, clear_model_cache

    torch.manual_seed(0)  # OpenAI layout: 64-wide heads (the builder derives heads = width/64)
    ref = CLIP(
        embed_dim=16,
        vision_cfg=CLIPVisionCfg(layers=1, width=64, patch_size=32, image_size=224),
        text_cfg=CLIPTextCfg(context_length=77, vocab_size=49408, width=64, heads=1, layers=1),
        quick_gelu=True,
    ).eval()
    convert_weights_to_fp16(ref)  # what OpenAI's released files hold
    sd = {k: v.contiguous() for k, v in ref.state_dict().items()}
    path = tmp_path / "ViT-tiny.safetensors"
    save_file(sd, str(path))
    clear_model_cache()
    torch.manual_seed(123)
    m = _shared("clip_tiny", "cpu", str(path), lambda: build_openai_clip(str(path), "safetensors"))
    half = build_openai_clip(str(path), "safetensors", half=True)
    clear_model_cache()
    for k, v in m.state_dict().items():
        assert torch.equal(v, sd[k].float()), k
    assert half.visual.conv1.weight.dtype == torch.float16
    assert half.visual.ln_pre.weight.dtype == torch.float32  # LayerNorm stays fp32, as OpenAI's
    x = torch.rand(2, 3, 224, 224)
    with torch.inference_mode():
        want = ref.float().encode_image(x)
        torch.testing.assert_close(m.encode_image(x), want, rtol=0, atol=1e-5)
    assert nn.init.normal_ is torch.nn.init.normal_ and nn.init.normal_.__name__ == "normal_"


def test_batch_size_defaults_per_backbone_and_device(tmp_path):
    from svibench.config import load_config

    assert MusiqSpaq().batch_size == 1 and RaftMaxRad().batch_size == 1  # measured CPU defaults
    assert MusiqSpaq(device="cuda").batch_size == 16 and DinoVBench().batch_size == 16
    assert MusiqSpaq(batch_size=5).batch_size == 5  # an explicit [run].batch_size wins
    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    assert load_config(root / "svibench.toml").batch_size is None  # "auto"


def test_background_consistency_identical_frames(tiny_clip):
    clip = _clip(np.stack([_texture(40, 56, 0)] * 4))
    f = ClipB32VBench(model=tiny_clip)(clip)
    v = BackgroundConsistency().compute(clip, {"clip_b32_vbench": f})["background_consistency"]
    assert v == pytest.approx(1.0, abs=1e-6)


def test_musiq_tiny_batch_invariant():
    from pyiqa.archs.musiq_arch import MUSIQ

    torch.manual_seed(0)
    m = MUSIQ(
        pretrained=False,
        num_class=1,
        hidden_size=32,
        mlp_dim=64,
        num_heads=2,
        num_layers=1,
        longer_side_lengths=[64, 96],
    )  # small scales: this tests batching, not MUSIQ
    frames = np.stack([_texture(40, 48, i) for i in range(3)])
    clip = _clip(frames)
    batched = MusiqSpaq(model=m, batch_size=3)(clip)
    single = MusiqSpaq(model=m, batch_size=1)(clip)
    assert batched.shape == (3,)
    torch.testing.assert_close(batched, single, atol=1e-4, rtol=1e-5)
    q = ImagingQuality().compute(clip, {"musiq_spaq": batched})["imaging_quality"]
    assert q == pytest.approx(float(batched.double().mean()) / 100)


class _ShiftFlow(nn.Module):
    """Stub RAFT: global translation im1 -> im2 by phase correlation, returned as a constant
    flow (torchvision API: a list of flows, the last one final)."""

    def forward(self, im1, im2, num_flow_updates=20):
        assert im1.min() >= -1.0 and im1.max() <= 1.0  # RAFT's own 2*(x/255)-1 was applied
        flows = []
        for a, b in zip(im1.mean(1), im2.mean(1), strict=True):
            fa, fb = torch.fft.fft2(a.double()), torch.fft.fft2(b.double())
            r = fb * fa.conj()
            peak = torch.fft.ifft2(r / r.abs().clamp(min=1e-12)).real
            h, w = peak.shape
            dy, dx = divmod(int(peak.argmax()), w)
            dy, dx = (dy + h // 2) % h - h // 2, (dx + w // 2) % w - w // 2
            f = torch.zeros(2, h, w)
            f[0], f[1] = dx, dy
            flows.append(f)
        return [torch.stack(flows)]


@pytest.mark.parametrize("shift,dynamic", [((3, 4), 0.0), ((6, 8), 1.0)])
def test_pure_translation_known_flow(shift, dynamic):
    base = _texture(64, 64, 5)
    base = np.kron(base[:16, :16], np.ones((4, 4, 1), np.uint8))  # 4x4 blocks: unambiguous
    frames = np.stack([np.roll(base, (t * shift[0], t * shift[1]), axis=(0, 1)) for t in range(13)])
    clip = _clip(frames, fps=24)  # stride round(24/8) = 3 -> kept frames 0,3,6,9,12
    feat = RaftMaxRad(model=_ShiftFlow(), iters=2)
    out = feat(clip)
    assert out["stride"] == 3 and len(out["max_rad"]) == 4
    expect = 3 * float(np.hypot(*shift))  # 3 frames apart
    np.testing.assert_allclose(out["max_rad"], expect, rtol=1e-6)
    # threshold 6*64/256 = 1.5 px: scale frames' meaning via a 256-px clip instead
    big = ClipInput(np.zeros((13, 256, 256, 3), np.uint8), base, "", 0, 24, 0)
    res = DynamicDegree().compute(
        big, {"raft_maxrad": {"max_rad": out["max_rad"] / 3, "stride": 3}}
    )
    assert res["dynamic_degree"] == dynamic
    assert res["dynamic_degree_magnitude"] == pytest.approx(np.hypot(*shift))


def test_raft_key_conversion_and_real_torchvision_raft():
    sd = {
        "module.fnet.conv1.weight": 1,
        "module.cnet.norm1.running_mean": 2,
        "module.fnet.layer2.0.norm3.weight": 3,
        "module.cnet.layer2.0.downsample.1.weight": 4,
        "module.cnet.layer1.1.norm2.bias": 5,
        "module.update_block.encoder.convc2.weight": 6,
        "module.update_block.gru.convq2.bias": 7,
        "module.update_block.mask.2.weight": 8,
        "module.update_block.flow_head.conv1.weight": 9,
    }
    assert raft_princeton_to_torchvision(sd) == {
        "feature_encoder.convnormrelu.0.weight": 1,
        "context_encoder.convnormrelu.1.running_mean": 2,
        "context_encoder.layer2.0.downsample.1.weight": 4,
        "context_encoder.layer1.1.convnormrelu2.1.bias": 5,
        "update_block.motion_encoder.convcorr2.0.weight": 6,
        "update_block.recurrent_block.convgru2.convq.bias": 7,
        "mask_predictor.conv.weight": 8,
        "update_block.flow_head.conv1.weight": 9,
    }
    from torchvision.models.optical_flow import raft_small

    torch.manual_seed(0)
    feat = RaftMaxRad(model=raft_small(weights=None), iters=1)
    frames = np.stack([_texture(130, 131, 0)] * 3)  # padded to 136x136
    r = feat(_clip(frames, fps=8))["max_rad"]
    assert r.shape == (2,) and np.isfinite(r).all()


@pytest.mark.parametrize("arch,batch", [("raft_small", 1), ("raft_small", 3), ("raft_large", 2)])
def test_raft_shared_feature_maps_equal_torchvision_forward(arch, batch):
    """Each frame's feature map once + convex upsampling after the last update only: the same
    final flow as torchvision's RAFT.forward on every pair."""
    import torchvision.models.optical_flow as of

    from svibench.metrics.features import torchvision_raft_flows

    torch.manual_seed(0)
    model = getattr(of, arch)(weights=None).eval()
    x = torch.rand(4, 3, 128, 136) * 2 - 1
    with torch.inference_mode():
        ours = torch.cat(list(torchvision_raft_flows(model, x, 3, batch)))
        want = torch.cat(
            [model(x[i : i + 1], x[i + 1 : i + 2], num_flow_updates=3)[-1] for i in range(3)]
        )
    assert ours.shape == (3, 2, 128, 136)
    torch.testing.assert_close(ours, want, rtol=0, atol=1e-4)


class _Average(nn.Module):
    def __init__(self, bias=0.0):
        super().__init__()
        self.bias = bias

    def forward(self, a, b, embt):
        return ((a + b) / 2 + self.bias).clamp(0, 1)


def test_amt_vfi_formula_and_truncation():
    ramp = np.stack([np.full((20, 24, 3), 10 * t, np.uint8) for t in range(7)])
    clip = _clip(ramp)
    d = AmtVfi(model=_Average())(clip)
    assert d.shape == (3,) and np.all(d == 0)
    assert MotionSmoothness().compute(clip, {"amt_vfi": d})["motion_smoothness"] == 1.0
    # +0.9/255 is truncated away by the uint8 cast, as VBench's tensor2img does
    const = np.full((5, 20, 24, 3), 100, np.uint8)
    assert np.all(AmtVfi(model=_Average(0.9 / 255))(_clip(const)) == 0)
    alt = np.stack([np.full((20, 24, 3), 100 * (t % 2), np.uint8) for t in range(6)])
    d = AmtVfi(model=_Average())(_clip(alt))  # 3 even frames -> 2 interpolated
    np.testing.assert_allclose(d, [100.0, 100.0])


def test_amt_s_architecture_round_trip():
    torch.manual_seed(0)
    m = AMTS().eval()
    m2 = AMTS()
    m2.load_state_dict(m.state_dict(), strict=True)
    n_params = sum(p.numel() for p in m.parameters())
    assert 2_000_000 < n_params < 4_000_000  # AMT-S is ~2.99M parameters
    frames = np.stack([_texture(60, 50, i) for i in range(3)])  # padded to 64x64 (/16)
    d = AmtVfi(model=m)(_clip(frames))
    assert d.shape == (1,)


def test_raft_small_frames_clear_error():
    from torchvision.models.optical_flow import raft_small

    from svibench.errors import SvibenchError

    feat = RaftMaxRad(model=raft_small(weights=None), iters=1)
    with pytest.raises(SvibenchError, match="too small"):
        feat(_clip(np.stack([_texture(64, 200, 0)] * 3), fps=8))


def test_cv2_dimensions_read_the_cv2_frames():
    """dynamic_degree and motion_smoothness read the frames VBench's cv2 reader decodes
    (ClipInput.decoded["cv2"]) when a file's two readers differ; the rest read ``frames``."""
    ramp = np.stack([np.full((20, 24, 3), 10 * t, np.uint8) for t in range(7)])
    alt = np.stack([np.full((20, 24, 3), 100 * (t % 2), np.uint8) for t in range(7)])
    clip = ClipInput(ramp, ramp[0], "", 0, 16, 0, decoded={"cv2": alt})
    assert clip.frames_as("cv2") is alt and clip.frames_as("decord") is ramp
    np.testing.assert_array_equal(
        AmtVfi(model=_Average())(clip), AmtVfi(model=_Average())(_clip(alt))
    )
    assert not np.array_equal(AmtVfi(model=_Average())(clip), AmtVfi(model=_Average())(_clip(ramp)))
    base = np.kron(_texture(16, 16, 5), np.ones((4, 4, 1), np.uint8))
    moving = np.stack([np.roll(base, (3 * t, 4 * t), axis=(0, 1)) for t in range(5)])
    still = np.stack([base] * 5)
    got = RaftMaxRad(model=_ShiftFlow(), iters=2)(
        ClipInput(still, base, "", 0, 8, 0, decoded={"cv2": moving})
    )
    np.testing.assert_allclose(got["max_rad"], 5.0, rtol=1e-6)


def test_open_clip_without_transformers_leaves_transformers_importable():
    """import_open_clip skips open_clip's Hugging Face towers (transformers, ~1 s) in a fresh
    process; transformers still imports afterwards and OpenAI CLIPs still build."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from svibench.metrics.features import import_open_clip\n"
        "oc = import_open_clip()\n"
        "assert 'transformers' not in sys.modules\n"
        "import transformers\n"
        "assert oc.tokenize(['a cat']).shape == (1, 77)\n"
        "assert callable(oc.model.build_model_from_openai_state_dict)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
