"""DreamSim 0.2.1 "ensemble" embedding (ssundaram21/dreamsim), the backbone VBench-I2V's
``i2v_background`` reads (vbench2_beta_i2v/i2v_background.py, ``dreamsim(pretrained=True)``).

Written here instead of depending on the ``dreamsim`` package: that package builds its DINO
branch with ``torch.hub.load('facebookresearch/dino:main')`` (code fetched from GitHub at run
time) and reads everything from a cwd-relative ``./models``. This module loads the same files:

* DINO ViT-B/16 backbone ``dino_vitbase16_pretrain.pth`` (DreamSim sets the torch hub dir to
  its cache, so it lands in ``<cache>/checkpoints/``); feature = CLS token of the **last block's
  output, before the final norm** (dreamsim model.py ``_extract_cls``: a forward hook on
  ``blocks[11]``);
* ``clip_vitb16_pretrain.pth.tar`` / ``open_clip_vitb16_pretrain.pth.tar``: CLIP ViT-B/16 stored
  as DINO-style ViTs (``{'state_dict': sd}``, ``pos_drop`` = CLIP's ``ln_pre``, ``proj`` 768x512);
  LayerNorm eps 1e-5, QuickGELU for OpenAI CLIP, GELU for OpenCLIP (dreamsim
  feature_extraction/load_clip_as_dino.py, load_open_clip_as_dino.py); feature =
  ``norm(x)[:, 0] @ proj`` (extractor.py ``forward(is_proj=True)``);
* ``ensemble_lora/adapter_model.safetensors``: peft LoRA on every ``qkv`` of the three ViTs,
  ``scaling = lora_alpha / r`` (r 16, alpha 0.5 in DreamSim's adapter_config.json), merged
  into the qkv weights here (peft ``merge``: W + scaling * B @ A; eval mode, dropout off).

Per-backbone input normalisation happens inside (dreamsim model.py ``_preprocess``), so the
ensemble takes RGB in 0..1 at 224x224; output = concat(768 + 512 + 512) minus its mean, divided
by its norm (model.py ``normalize_embedding``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from torch import nn

from svibench.metrics.vbench.nets.dino_vit import DinoViT

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # dreamsim constants.py
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
BRANCHES = ("dino", "clip", "open_clip")  # ensemble order: dreamsim config.py model_type
_LORA_KEY = re.compile(r"extractor_list\.(\d+)\.model\.(blocks\.\d+\.attn\.qkv)\.lora_([AB])\.")


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class DreamSimViT(DinoViT):
    """One ensemble branch: ``kind`` = "dino" (pre-norm CLS) or "clip"/"open_clip" (CLS after
    ``ln_pre`` ... ``norm``, projected)."""

    def __init__(self, kind: str, proj_dim: int = 512, **vit: float) -> None:
        super().__init__(**vit)
        if kind not in BRANCHES:
            raise ValueError(f"unknown DreamSim branch {kind!r}")
        self.kind = kind
        dim = self.pos_embed.shape[-1]
        if kind != "dino":
            self.pos_drop = nn.LayerNorm(dim)  # CLIP ln_pre
            self.proj = nn.Parameter(torch.zeros(dim, proj_dim))
            for m in self.modules():
                if isinstance(m, nn.LayerNorm):
                    m.eps = 1e-5
            if kind == "clip":
                for blk in self.blocks:
                    blk.mlp.act = QuickGELU()
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if kind == "dino" else (CLIP_MEAN, CLIP_STD)
        self.mean, self.std = mean, std

    @property
    def out_dim(self) -> int:
        return self.pos_embed.shape[-1] if self.kind == "dino" else self.proj.shape[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = TF.normalize(x, self.mean, self.std)
        b, _, h, w = x.shape
        tokens = torch.cat((self.cls_token.expand(b, -1, -1), self.patch_embed(x)), dim=1)
        tokens = tokens + self._pos(tokens.shape[1] - 1, h, w)
        if self.kind != "dino":
            tokens = self.pos_drop(tokens)
        for blk in self.blocks[:-1]:
            tokens = blk(tokens)
        cls = _cls_only_block(self.blocks[-1], tokens)
        if self.kind == "dino":
            return cls  # hook on blocks[11]: no final norm
        # LayerNorm is per token, so normalising the CLS token alone equals norm(x)[:, 0]
        return self.norm(cls) @ self.proj


def _cls_only_block(blk: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The last block's output at the CLS token only: every branch reads nothing else, so the
    queries, attention output, projection and MLP of the 196 patch tokens are skipped (keys
    and values still use all tokens). Same maths as ``blk(x)[:, 0]``, ~7 % fewer FLOPs."""
    b, n, c = x.shape
    heads = blk.attn.heads
    y = blk.norm1(x)
    w, bias = blk.attn.qkv.weight, blk.attn.qkv.bias
    q = F.linear(y[:, :1], w[:c], bias[:c]).reshape(b, 1, heads, c // heads).transpose(1, 2)
    kv = F.linear(y, w[c:], bias[c:]).reshape(b, n, 2, heads, c // heads).permute(2, 0, 3, 1, 4)
    a = F.scaled_dot_product_attention(q, kv[0], kv[1]).transpose(1, 2).reshape(b, c)
    x0 = x[:, 0] + blk.attn.proj(a)
    return x0 + blk.mlp(blk.norm2(x0))


class DreamSimEnsemble(nn.Module):
    """Embedding (B, 1792) of RGB 0..1 images (B, 3, 224, 224), DreamSim-normalised."""

    def __init__(self, dino: DreamSimViT, clip: DreamSimViT, open_clip: DreamSimViT) -> None:
        super().__init__()
        self.branches = nn.ModuleList([dino, clip, open_clip])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = torch.cat([b(x) for b in self.branches], dim=-1)
        # model.py normalize_embedding: minus the per-row mean, divided by the row norm
        e = e - e.mean(dim=1, keepdim=True)
        return e / torch.linalg.vector_norm(e, dim=1, keepdim=True)

    @torch.no_grad()
    def merge_lora(self, sd: dict[str, torch.Tensor], scaling: float) -> int:
        """Fold peft LoRA tensors (keys ``...extractor_list.<i>.model.blocks.<j>.attn.qkv.
        lora_{A,B}[.default].weight``) into the qkv weights; returns how many were merged."""
        pairs: dict[tuple[int, str], dict[str, torch.Tensor]] = {}
        for k, v in sd.items():
            m = _LORA_KEY.search(k)
            if m is None:
                raise ValueError(f"unexpected key in DreamSim LoRA file: {k}")
            pairs.setdefault((int(m[1]), m[2]), {})[m[3]] = v
        for (i, name), ab in pairs.items():
            lin = self.branches[i].get_submodule(name)
            delta = ab["B"].float() @ ab["A"].float()
            lin.weight += scaling * delta
        return len(pairs)


def lora_scaling(adapter_dir: Path) -> float:
    """lora_alpha / r from ``adapter_config.json`` next to the adapter (DreamSim's published
    ensemble: 0.5 / 16); the published values when the file is absent."""
    cfg_path = Path(adapter_dir) / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text()) if cfg_path.is_file() else {}
    alpha, r = float(cfg.get("lora_alpha", 0.5)), int(cfg.get("r", 16))
    if cfg.get("use_rslora"):
        return alpha / r**0.5
    return alpha / r


def vit_config(sd: dict[str, torch.Tensor]) -> dict[str, int]:
    """ViT size from a checkpoint's shapes (ViT-B/16 for DreamSim's files; tiny in tests).
    Heads are not stored: 64-wide heads, as every DINO/CLIP ViT-B uses."""
    dim, _, patch, _ = sd["patch_embed.proj.weight"].shape
    depth = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks."))
    n = sd["pos_embed"].shape[1] - 1
    return {
        "patch_size": patch,
        "embed_dim": dim,
        "depth": depth,
        "num_heads": max(1, dim // 64),
        "mlp_ratio": sd["blocks.0.mlp.fc1.weight"].shape[0] / dim,
        "img_size": round(n**0.5) * patch,
    }


def build_branch(kind: str, sd: dict[str, torch.Tensor]) -> DreamSimViT:
    proj_dim = sd["proj"].shape[1] if "proj" in sd else 512
    m = DreamSimViT(kind, proj_dim=proj_dim, **vit_config(sd))
    if kind == "dino":  # the DINO checkpoint may carry head keys; the backbone is strict
        sd = {k: v for k, v in sd.items() if not k.startswith("head.")}
    m.load_state_dict(sd, strict=True)
    return m.eval()
