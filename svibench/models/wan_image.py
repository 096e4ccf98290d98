"""Wan 2.1 I2V image preprocessing shared by the SVI sampler (generators) and the LoRA trainer:
pixels to [-1, 1] and the CLIP image-encoder input (upstream test_svi.py / wan_video.py)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

# OpenAI CLIP normalisation (used when the pipeline has no image_processor to read it from).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def to_unit(frames_uint8: np.ndarray) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float32 (3, T, H, W) in [-1, 1] (upstream preprocess_image: x·2/255 − 1)."""
    x = torch.from_numpy(np.array(frames_uint8, dtype=np.uint8)).to(torch.float32)
    return (x * (2.0 / 255.0) - 1.0).permute(3, 0, 1, 2)


def clip_pixels(frame_uint8: np.ndarray, size: int, mean, std) -> torch.Tensor:
    """CLIP input from one frame: squash (bicubic, no crop) from [-1, 1], then CLIP-normalise."""
    x = to_unit(frame_uint8[None])[:, 0][None]  # (1, 3, H, W)
    x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False)
    x = x * 0.5 + 0.5
    mean_t = torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean_t) / std_t
