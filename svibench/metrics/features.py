"""Shared backbone features for the VBench dimensions: one forward per frame per backbone and
preprocessing, computed once per clip by ``FeatureCache`` and reused by every metric reading it.

A feature is keyed by (backbone, preprocessing) because VBench preprocesses differently per
dimension (CAVEATS.md): ``dino_vbench`` (subject_consistency) and ``dino_i2v`` (i2v_subject)
run the same DINO weights on different inputs; ``clip_l14_vbench`` serves both
aesthetic_quality and clip_text (identical input). Models are built once per process and
shared between features reading the same file (``_shared``).

Every feature accepts ``model=`` (an already built ``nn.Module``) so tests inject tiny random
backbones; otherwise ``load()`` resolves the weights offline via ``svibench.weights``.
fp32 on CPU. On CUDA every backbone runs in the precision VBench runs it in there: fp32, except
CLIP, which ``clip.load`` leaves in OpenAI's half-precision layout off the CPU (the
background_consistency similarities are then taken in fp16 too, see consistency.py);
``dtype="float16"|"bfloat16"`` autocasts on CUDA for speed (parity cost: bench/).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from svibench.errors import SvibenchError
from svibench.metrics.base import ClipInput, Feature
from svibench.metrics.vbench import preprocess as pp
from svibench.metrics.vbench.nets.amt_s import AMTS
from svibench.metrics.vbench.nets.dino_vit import DinoViT
from svibench.metrics.vbench.nets.dreamsim import DreamSimEnsemble, build_branch, lora_scaling
from svibench.weights import resolve

_MODELS: dict[tuple[str, str, str], Any] = {}


_INIT_FNS = (
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "ones_",
    "zeros_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
)


@contextlib.contextmanager
def no_random_init():
    """Make ``torch.nn.init`` a no-op while a model is built whose every parameter is then
    loaded strictly from a checkpoint: the random init would be overwritten anyway and costs
    seconds (5 s of CLIP L/14's 10 s load on 2 cores). Not thread-safe; loads are sequential."""
    saved = {n: getattr(nn.init, n) for n in _INIT_FNS}
    for n in _INIT_FNS:
        setattr(nn.init, n, lambda tensor, *a, **k: tensor)
    try:
        yield
    finally:
        for n, fn in saved.items():
            setattr(nn.init, n, fn)


def _shared(key: str, device: str, path: str, build: Callable[[], Any]) -> Any:
    """One model object per (weights name, file, device) in this process. ``build`` must load
    every parameter strictly (``load_state_dict(strict=True)``): it runs without random init."""
    k = (key, path, device)
    if k not in _MODELS:
        with no_random_init():
            _MODELS[k] = build()
    return _MODELS[k]


def clear_model_cache() -> None:
    _MODELS.clear()


def load_checkpoint(path: str) -> dict[str, torch.Tensor]:
    """Tensors of a checkpoint as a flat dict: safetensors, or torch.load(weights_only=True);
    unwraps ``{'state_dict': ...}`` / ``{'params': ...}``."""
    if str(path).endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(str(path))
    obj = torch.load(str(path), map_location="cpu", weights_only=True)
    for key in ("state_dict", "params"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    return dict(obj)


class _Backbone(Feature):
    """Common plumbing: injected or resolved model, batching, inference mode, dtype."""

    weights: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        device: str = "cpu",
        batch_size: int | None = None,
        model: nn.Module | None = None,
        dtype: str = "float32",
        **params: Any,
    ) -> None:
        super().__init__(device=device, batch_size=batch_size, **params)
        self.model = model
        self.dtype = dtype
        if model is not None:
            self.model = model.to(device).eval()

    def load(self) -> None:
        if self.model is None:
            r = resolve(self.weights[0])
            self.model = _shared(
                self.weights[0], self.device, str(r.path), lambda: self.build_from(r)
            )
            self.model = self.model.to(self.device).eval()

    def build_from(self, resolved: Any) -> nn.Module:
        raise NotImplementedError

    def _ensure(self) -> None:
        if self.model is None:
            self.load()

    def _autocast(self):
        if self.dtype != "float32" and str(self.device).startswith("cuda"):
            return torch.autocast("cuda", dtype=getattr(torch, self.dtype))
        return contextlib.nullcontext()

    def _batched(
        self,
        x: np.ndarray | torch.Tensor,
        fn: Callable[[torch.Tensor], torch.Tensor],
        prep: Callable[[torch.Tensor], torch.Tensor] | None = None,
        keep_dtype: bool = False,
    ) -> torch.Tensor:
        """``fn(prep(batch))`` over batches; uint8 frames are converted per batch, so memory
        stays at one batch of float frames (every transform here is per frame). Outputs are
        float32 unless ``keep_dtype`` (the model's own output precision is part of the metric)."""
        outs = []
        with torch.inference_mode(), self._autocast():
            for i in range(0, len(x), self.batch_size):
                b = x[i : i + self.batch_size]
                b = pp.to_float_tchw(b) if isinstance(b, np.ndarray) else b
                b = prep(b) if prep is not None else b
                y = fn(b.to(self.device))
                outs.append((y if keep_dtype else y.float()).cpu())
        return torch.cat(outs)


# ----------------------------------------------------------------------------- DINO
class _Dino(_Backbone):
    weights = ("dino_vitb16",)

    def build_from(self, r: Any) -> nn.Module:
        m = DinoViT()
        m.load_state_dict(load_checkpoint(str(r.path)), strict=True)
        return m


class DinoVBench(_Dino):
    """DINO ViT-B/16 CLS per frame, subject_consistency preprocessing. (T, D) float32."""

    name = "dino_vbench"

    def __call__(self, clip: ClipInput) -> torch.Tensor:
        self._ensure()
        return self._batched(clip.frames, self.model, pp.dino_vbench)


class DinoI2V(_Dino):
    """DINO CLS of the conditioning image and of every frame, i2v_subject preprocessing."""

    name = "dino_i2v"

    def __call__(self, clip: ClipInput) -> dict[str, torch.Tensor]:
        self._ensure()
        frames = self._batched(clip.frames, self.model, pp.dino_i2v_frames)
        image = self._batched(pp.dino_i2v_image(clip.reference), self.model)[0]
        return {"frames": frames, "reference": image}


# ----------------------------------------------------------------------------- CLIP
def import_open_clip():
    """open_clip for OpenAI's CLIPs. Unless transformers is loaded already, it is imported with
    transformers blocked: open_clip/hf_model.py imports it (~1 s of a 2-core process) only for
    Hugging Face text towers, which VBench's CLIPs never use (open_clip then leaves those towers
    off, as without transformers installed). transformers stays importable afterwards."""
    import sys

    if "open_clip" in sys.modules or "transformers" in sys.modules:
        import open_clip

        return open_clip
    sys.modules["transformers"] = None  # `import transformers` raises ImportError meanwhile
    try:
        import open_clip
    finally:
        del sys.modules["transformers"]
    return open_clip


def build_openai_clip(path: str, fmt: str, half: bool = False) -> nn.Module:
    """open_clip model from OpenAI's released file in the layout ``clip.load(jit=False)`` leaves
    it: build -> convert_weights (conv/linear/attention/projections fp16, LayerNorm computed in
    fp32) -> load, then ``.float()`` on CPU only (clip/clip.py load: ``if str(device) ==
    "cpu": model.float()``). ``half=True`` keeps the fp16 layout, as VBench runs CLIP on CUDA."""
    open_clip = import_open_clip()
    if str(path).endswith(".safetensors"):
        sd = load_checkpoint(path)
    else:
        # OpenAI ships TorchScript archives, which torch.load(weights_only=True) cannot read;
        # torch.jit.load deserialises tensors and TorchScript code only (no pickled Python).
        sd = torch.jit.load(str(path), map_location="cpu").state_dict()
    model = open_clip.model.build_model_from_openai_state_dict(dict(sd), quick_gelu=True)
    return model.eval() if half else model.float().eval()


def clip_input_dtype(model: nn.Module) -> torch.dtype:
    """OpenAI's encode_image casts the pixels to the model dtype (conv1's); open_clip does not."""
    return model.visual.conv1.weight.dtype


class _OpenAIClip(_Backbone):
    """An OpenAI CLIP file, in the precision ``clip.load`` gives it on this device."""

    def build_from(self, r: Any) -> nn.Module:
        return build_openai_clip(str(r.path), r.fmt, half=str(self.device).startswith("cuda"))


class _ClipImage(_OpenAIClip):
    """CLIP image embeddings per frame with VBench's clip_transform. (T, D), float32 on CPU,
    float16 on CUDA (VBench's precision there; consumers cast as VBench does)."""

    def __call__(self, clip: ClipInput) -> torch.Tensor:
        self._ensure()
        dtype = clip_input_dtype(self.model)
        return self._batched(
            clip.frames,
            lambda b: self.model.encode_image(b.to(dtype)),
            pp.clip_vbench,
            keep_dtype=dtype == torch.float16,
        )


class ClipB32VBench(_ClipImage):
    name = "clip_b32_vbench"
    weights = ("clip_vitb32",)


class ClipL14VBench(_ClipImage):
    name = "clip_l14_vbench"
    weights = ("clip_vitl14",)


class ClipL14Text(_OpenAIClip):
    """CLIP ViT-L/14 text embedding of the clip's prompt (D,), same model object as the
    image feature (shared load)."""

    name = "clip_l14_text"
    weights = ("clip_vitl14",)

    def __init__(self, *a: Any, tokenizer: Callable | None = None, **k: Any) -> None:
        super().__init__(*a, **k)
        self.tokenizer = tokenizer

    def __call__(self, clip: ClipInput) -> torch.Tensor:
        self._ensure()
        if self.tokenizer is None:
            self.tokenizer = import_open_clip().tokenize  # OpenAI's BPE, bundled (no download)
        tokens = self.tokenizer([clip.prompt])
        with torch.inference_mode(), self._autocast():
            return self.model.encode_text(tokens.to(self.device)).float().cpu()[0]


class LaionAestheticHead(_Backbone):
    """The LAION aesthetic head (``nn.Linear(768, 1)``) of aesthetic_quality. A feature only so
    that the runner loads it with the backbones, before any clip is generated; its value is
    the head itself (applied to ``clip_l14_vbench`` by the metric)."""

    name = "laion_aesthetic_head"
    weights = ("laion_aesthetic",)

    def build_from(self, r: Any) -> nn.Module:
        head = nn.Linear(768, 1)
        head.load_state_dict(load_checkpoint(str(r.path)), strict=True)
        return head

    def __call__(self, clip: ClipInput) -> nn.Module:
        self._ensure()
        return self.model


# ----------------------------------------------------------------------------- MUSIQ
class MusiqSpaq(_Backbone):
    """MUSIQ (SPAQ) score per frame on MUSIQ's raw 0..100 scale, 'longer' preprocessing."""

    name = "musiq_spaq"
    weights = ("musiq_spaq",)
    cpu_batch_size = 1  # 2 cores, 320x512: 33 % faster than 16 (multi-scale patch tensors)

    def build_from(self, r: Any) -> nn.Module:
        from pyiqa.archs.musiq_arch import MUSIQ

        m = MUSIQ(pretrained=False, num_class=1)
        m.load_state_dict(load_checkpoint(str(r.path)), strict=True)
        return m

    def __call__(self, clip: ClipInput) -> torch.Tensor:
        self._ensure()
        return self._batched(clip.frames, lambda b: self.model(b).reshape(-1), pp.musiq_longer)


# ----------------------------------------------------------------------------- RAFT
_RAFT_RULES = [
    (r"^fnet\.", "feature_encoder."),
    (r"^cnet\.", "context_encoder."),
    (r"^(\w+_encoder)\.conv1\.", r"\1.convnormrelu.0."),
    (r"^(\w+_encoder)\.norm1\.", r"\1.convnormrelu.1."),
    (r"^(\w+_encoder)\.conv2\.", r"\1.conv."),
    (r"(layer\d\.\d)\.conv1\.", r"\1.convnormrelu1.0."),
    (r"(layer\d\.\d)\.norm1\.", r"\1.convnormrelu1.1."),
    (r"(layer\d\.\d)\.conv2\.", r"\1.convnormrelu2.0."),
    (r"(layer\d\.\d)\.norm2\.", r"\1.convnormrelu2.1."),
    (r"update_block\.encoder\.convc(\d)\.", r"update_block.motion_encoder.convcorr\1.0."),
    (r"update_block\.encoder\.convf(\d)\.", r"update_block.motion_encoder.convflow\1.0."),
    (r"update_block\.encoder\.conv\.", "update_block.motion_encoder.conv.0."),
    (r"update_block\.gru\.conv([zrq])(\d)\.", r"update_block.recurrent_block.convgru\2.conv\1."),
    (r"^update_block\.mask\.0\.", "mask_predictor.convrelu.0."),
    (r"^update_block\.mask\.2\.", "mask_predictor.conv."),
]


def raft_princeton_to_torchvision(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """princeton-vl ``raft-things.pth`` keys (``module.``-prefixed) -> torchvision raft_large.

    ``layerX.Y.norm3`` is dropped: in the original it is the same module as
    ``downsample.1`` (registered twice), which torchvision stores once.
    """
    out = {}
    for k, v in sd.items():
        k = k.removeprefix("module.")
        if re.search(r"layer\d\.\d\.norm3\.", k):
            continue
        for pat, rep in _RAFT_RULES:
            k = re.sub(pat, rep, k)
        out[k] = v
    return out


def build_raft(path: str, fmt: str) -> nn.Module:
    from torchvision.models.optical_flow import raft_large

    m = raft_large(weights=None, progress=False)
    sd = load_checkpoint(path)
    if fmt == "raft_princeton" or any(k.startswith(("module.", "fnet.")) for k in sd):
        sd = raft_princeton_to_torchvision(sd)
    m.load_state_dict(sd, strict=True)
    return m


def torchvision_raft_flows(
    model: nn.Module, x: torch.Tensor, iters: int, batch_size: int
) -> Iterator[torch.Tensor]:
    """Final flow of each consecutive pair (x[i], x[i+1]) of frames in [-1, 1] padded to /8.

    torchvision's ``RAFT.forward`` (models/optical_flow/raft.py), step for step, with two
    savings that leave the final flow's computation unchanged: each frame's feature map is
    computed once instead of once per pair it is in (the feature encoder normalises per image:
    instance norm), and the convex upsampling (mask predictor + ``upsample_flow``) runs after
    the last update only, the one prediction VBench reads (RAFT ``test_mode`` returns the last
    ``flow_up``). Saves ~17 % of RAFT-large's FLOPs on 320x512 pairs.
    """
    from torchvision.models.optical_flow._utils import make_coords_grid, upsample_flow

    hidden_size = model.update_block.hidden_state_size
    last = None  # feature map of the last frame of the previous batch
    for i in range(0, len(x) - 1, batch_size):
        j = min(i + batch_size, len(x) - 1)
        new = model.feature_encoder(x[i if last is None else i + 1 : j + 1])
        fmaps = new if last is None else torch.cat([last, new])
        last = fmaps[-1:]
        model.corr_block.build_pyramid(fmaps[:-1], fmaps[1:])
        hidden, context = _split_context(model.context_encoder(x[i:j]), hidden_size)
        n, _, h, w = fmaps[:-1].shape
        coords0 = make_coords_grid(n, h, w).to(x.device)
        coords1 = make_coords_grid(n, h, w).to(x.device)
        for _ in range(iters):
            corr = model.corr_block.index_pyramid(centroids_coords=coords1)
            hidden, delta = model.update_block(hidden, context, corr, coords1 - coords0)
            coords1 = coords1 + delta
        mask = None if model.mask_predictor is None else model.mask_predictor(hidden)
        yield upsample_flow(flow=coords1 - coords0, up_mask=mask)


def _split_context(out: torch.Tensor, hidden_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Context encoder output -> (tanh hidden state, relu context), as RAFT.forward splits it."""
    hidden, context = torch.split(out, [hidden_size, out.shape[1] - hidden_size], dim=1)
    return torch.tanh(hidden), torch.relu(context)


def vbench_fps_stride(fps: float) -> int:
    """dynamic_degree keeps every max(1, round(fps/8))-th frame (vbench/dynamic_degree.py
    get_frames; Python's round, i.e. banker's rounding)."""
    return max(1, round(fps / 8))


class RaftMaxRad(_Backbone):
    """Per kept frame pair: mean of the top int(h*w*0.05) RAFT flow magnitudes on the padded
    flow (vbench/dynamic_degree.py get_score), frames subsampled to ~8 fps, 20 iterations."""

    name = "raft_maxrad"
    weights = ("raft_things",)
    cpu_batch_size = 1  # pairs per forward; 2 cores, 320x512: 13 % faster than 8

    def __init__(self, *a: Any, iters: int = 20, **k: Any) -> None:
        super().__init__(*a, **k)
        self.iters = iters

    @property
    def weights_are_torchvision(self) -> bool:
        from torchvision.models.optical_flow.raft import RAFT

        return isinstance(self.model, RAFT)

    def build_from(self, r: Any) -> nn.Module:
        return build_raft(str(r.path), r.fmt)

    def final_flows(self, x: torch.Tensor) -> Iterator[torch.Tensor]:
        """Final upsampled flow of each consecutive pair of ``x`` (0..255 float, (N,3,H,W),
        padded to /8), ``batch_size`` pairs at a time."""
        x = 2 * (x / 255.0) - 1.0  # RAFT core/raft.py forward does this inside; torchvision not
        if self.weights_are_torchvision:
            yield from torchvision_raft_flows(self.model, x, self.iters, self.batch_size)
            return
        for i in range(0, len(x) - 1, self.batch_size):  # any other RAFT-like module
            j = min(i + self.batch_size, len(x) - 1)
            yield self.model(x[i:j], x[i + 1 : j + 1], num_flow_updates=self.iters)[-1]

    def pair_scores(self, frames: np.ndarray, stride: int) -> np.ndarray:
        self._ensure()
        x = pp.to_float_tchw(frames[::stride])
        x, _ = pp.pad_replicate(x, 8)
        h, w = x.shape[-2:]
        if min(h, w) < 128 and self.weights_are_torchvision:
            # torchvision's RAFT needs 1/8-res feature maps >= 16 for its 4-level pyramid;
            # princeton RAFT (VBench) runs on smaller frames, where the two would not agree
            raise SvibenchError(
                f"dynamic_degree: frames {frames.shape[1]}x{frames.shape[2]} are too small for "
                "torchvision RAFT (both sides must be >= 128 px after padding to /8)"
            )
        k = int(h * w * 0.05)
        scores = []
        with torch.inference_mode(), self._autocast():
            for f in self.final_flows(x.to(self.device)):
                f = f.float()
                rad = torch.sqrt(f[:, 0] ** 2 + f[:, 1] ** 2).reshape(len(f), -1)
                scores.append(torch.topk(rad, k, dim=1).values.cpu().numpy())
        # numpy's float32 mean, as np.mean over the sorted array in get_score
        return np.array([np.mean(s) for s in np.concatenate(scores)], dtype=np.float64)

    def __call__(self, clip: ClipInput) -> dict[str, Any]:
        stride = vbench_fps_stride(clip.fps)
        # cv2 frames: vbench/dynamic_degree.py get_frames reads with cv2.VideoCapture
        return {"max_rad": self.pair_scores(clip.frames_as("cv2"), stride), "stride": stride}


# ----------------------------------------------------------------------------- AMT-S
class AmtVfi(_Backbone):
    """motion_smoothness ingredients: AMT-S interpolates each odd frame from its even
    neighbours; per odd frame, mean absolute difference (0..255) between the truncated uint8
    prediction and the original (vbench/motion_smoothness.py motion_score / vfi_score)."""

    name = "amt_vfi"
    weights = ("amt_s",)
    cpu_batch_size = 1  # pairs per forward; 2 cores, 320x512: 40 % faster than 16

    def build_from(self, r: Any) -> nn.Module:
        m = AMTS()
        m.load_state_dict(load_checkpoint(str(r.path)), strict=True)
        return m

    def __call__(self, clip: ClipInput) -> np.ndarray:
        self._ensure()
        frames = clip.frames_as("cv2")  # vbench/motion_smoothness.py: cv2.VideoCapture frames
        even = torch.from_numpy(np.ascontiguousarray(frames[::2])).permute(0, 3, 1, 2).float()
        even = even / 255.0  # amt utils img2tensor
        x, pad = pp.pad_replicate(even, 16)  # CPU: scale 1, padding 16 (see CAVEATS.md)
        h, w = x.shape[-2:]
        embt = torch.tensor(0.5).view(1, 1, 1, 1)
        out = []
        with torch.inference_mode(), self._autocast():
            for i in range(0, len(x) - 1, self.batch_size):
                j = min(i + self.batch_size, len(x) - 1)
                pred = self.model(
                    x[i:j].to(self.device), x[i + 1 : j + 1].to(self.device), embt.to(self.device)
                )
                pred = pred.float().cpu()[:, :, pad[2] : h - pad[3], pad[0] : w - pad[1]]
                # amt tensor2img: (x*255).clip(0,255).astype(uint8) -- truncation, numpy cast
                img = (pred.permute(0, 2, 3, 1).numpy() * 255.0).clip(0, 255)
                with np.errstate(invalid="ignore"):
                    out.append(img.astype(np.uint8))
        preds = np.concatenate(out) if out else np.zeros((0, *frames.shape[1:]), np.uint8)
        odd = frames[1::2][: len(preds)]
        diff = np.abs(preds.astype(np.int16) - odd.astype(np.int16))  # == cv2.absdiff on uint8
        return diff.reshape(len(preds), -1).mean(axis=1)


# ----------------------------------------------------------------------------- DreamSim
def dreamsim_frames(x: torch.Tensor) -> torch.Tensor:
    """i2v_background frames: Resize((224, 224), bicubic) with torchvision's default antialias
    (True) on float 0..255, then /255; no mean/std here, DreamSim normalises per branch
    (vbench2_beta_i2v/utils.py dreamsim_transform)."""
    import torchvision.transforms.functional as TF
    from torchvision.transforms import InterpolationMode

    return TF.resize(x, [224, 224], InterpolationMode.BICUBIC, antialias=True) / 255.0


def dreamsim_image(image: np.ndarray) -> torch.Tensor:
    """i2v_background conditioning image: PIL Resize((224, 224), bicubic) + ToTensor
    (vbench2_beta_i2v/utils.py dreamsim_transform_Image). Returns (1, 3, 224, 224)."""
    import torchvision.transforms.functional as TF
    from PIL import Image
    from torchvision.transforms import InterpolationMode

    pil = TF.resize(Image.fromarray(image), [224, 224], InterpolationMode.BICUBIC)
    return TF.to_tensor(pil)[None]


def build_dreamsim(paths: dict[str, Any]) -> nn.Module:
    """DreamSim ensemble from its four files (resolved ``svibench.weights`` entries)."""
    from pathlib import Path

    branches = [
        build_branch(kind, load_checkpoint(str(paths[w].path)))
        for kind, w in zip(("dino", "clip", "open_clip"), DreamSimI2V.weights[:3], strict=True)
    ]
    model = DreamSimEnsemble(*branches)
    lora = paths["dreamsim_ensemble_lora"].path
    n = model.merge_lora(load_checkpoint(str(lora)), lora_scaling(Path(lora).parent))
    if n != sum(len(b.blocks) for b in branches):
        raise SvibenchError(f"{lora}: expected LoRA on every qkv of the 3 ViTs, found {n}")
    return model.eval()


class DreamSimI2V(_Backbone):
    """DreamSim ensemble embedding of the conditioning image and of every frame,
    i2v_background preprocessing; rows already DreamSim-normalised. (T, 1792) float32."""

    name = "dreamsim_i2v"
    weights = (
        "dreamsim_dino_vitb16",
        "dreamsim_clip_vitb16",
        "dreamsim_open_clip_vitb16",
        "dreamsim_ensemble_lora",
    )

    def load(self) -> None:
        if self.model is None:
            paths = {w: resolve(w) for w in self.weights}
            key = "|".join(str(r.path) for r in paths.values())
            self.model = _shared(self.name, self.device, key, lambda: build_dreamsim(paths))
            self.model = self.model.to(self.device).eval()

    def __call__(self, clip: ClipInput) -> dict[str, torch.Tensor]:
        self._ensure()
        frames = self._batched(clip.frames, self.model, dreamsim_frames)
        image = self._batched(dreamsim_image(clip.reference), self.model)[0]
        return {"frames": frames, "reference": image}
