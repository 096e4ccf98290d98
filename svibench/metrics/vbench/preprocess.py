"""VBench 0.1.5's per-dimension frame preprocessing, reproduced op for op.

Frames arrive as uint8 (T, H, W, 3) RGB; VBench's ``load_video`` hands its transforms a float32
(T, C, H, W) tensor in 0..255 (``torch.Tensor(frames)``), so every resize below runs on float
0..255 values before the /255 (vbench/utils.py ``load_video``, ``clip_transform``,
``dino_transform``). See ``shared/tools/vbench_ref/CAVEATS.md`` for the list of differences.
"""

from __future__ import annotations

import numpy as np
import torch
import torchvision.transforms.functional as TF
from torchvision.transforms import InterpolationMode

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def to_float_tchw(frames: np.ndarray) -> torch.Tensor:
    """uint8 (T,H,W,3) -> float32 (T,3,H,W) in 0..255, as VBench's load_video returns."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()


def dino_vbench(x: torch.Tensor) -> torch.Tensor:
    """subject_consistency: Resize(224) short side, bilinear, antialias=False, no crop
    (vbench/utils.py dino_transform)."""
    x = TF.resize(x, 224, InterpolationMode.BILINEAR, antialias=False)
    return TF.normalize(x / 255.0, IMAGENET_MEAN, IMAGENET_STD)


def clip_vbench(x: torch.Tensor) -> torch.Tensor:
    """background_consistency / aesthetic_quality: Resize(224, bicubic, antialias=False) +
    CenterCrop(224), not clamped (vbench/utils.py clip_transform)."""
    x = TF.resize(x, 224, InterpolationMode.BICUBIC, antialias=False)
    x = TF.center_crop(x, 224)
    return TF.normalize(x / 255.0, CLIP_MEAN, CLIP_STD)


def dino_i2v_frames(x: torch.Tensor) -> torch.Tensor:
    """i2v_subject frames: Resize(256, bicubic) with torchvision's default antialias (True)
    + CenterCrop(224) (vbench2_beta_i2v/utils.py dino_transform_internet)."""
    x = TF.resize(x, 256, InterpolationMode.BICUBIC, antialias=True)
    x = TF.center_crop(x, 224)
    return TF.normalize(x / 255.0, IMAGENET_MEAN, IMAGENET_STD)


def dino_i2v_image(image: np.ndarray) -> torch.Tensor:
    """i2v_subject conditioning image: the PIL path (PIL bicubic resize, crop, ToTensor)
    (vbench2_beta_i2v/utils.py dino_transform_Image_internet). Returns (1,3,224,224)."""
    from PIL import Image

    pil = TF.resize(Image.fromarray(image), 256, InterpolationMode.BICUBIC)
    x = TF.to_tensor(TF.center_crop(pil, 224))
    return TF.normalize(x, IMAGENET_MEAN, IMAGENET_STD)[None]


def musiq_longer(x: torch.Tensor) -> torch.Tensor:
    """imaging_quality mode 'longer': only if max(h,w) > 512, resize to (int(s*h), int(s*w)),
    s = 512/max, bilinear antialias=False; then /255 (vbench/imaging_quality.py transform)."""
    h, w = x.shape[-2:]
    if max(h, w) > 512:
        s = 512.0 / max(h, w)
        x = TF.resize(x, [int(s * h), int(s * w)], InterpolationMode.BILINEAR, antialias=False)
    return x / 255.0


def pad_replicate(x: torch.Tensor, divisor: int) -> tuple[torch.Tensor, list[int]]:
    """Centred replicate padding to a multiple of ``divisor`` (RAFT 'sintel' InputPadder,
    AMT InputPadder). Returns the padded tensor and [left, right, top, bottom]."""
    h, w = x.shape[-2:]
    ph = (((h // divisor) + 1) * divisor - h) % divisor
    pw = (((w // divisor) + 1) * divisor - w) % divisor
    pad = [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2]
    return torch.nn.functional.pad(x, pad, mode="replicate"), pad
