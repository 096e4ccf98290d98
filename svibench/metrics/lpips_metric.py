"""LPIPS (Zhang et al., CVPR 2018) against the ground-truth clip, the reference, and across seams.

``lpips_alex`` is the feature: the ``lpips`` package's LPIPS v0.1 with the AlexNet trunk. The
calibrated linear layers ship inside the ``lpips`` wheel; the AlexNet trunk is torchvision's
ImageNet file (``svibench weights`` entry ``alexnet``, resolved offline from the torch cache; a
missing file is a clear error). Tests inject a random model (``pretrained=False,
pnet_rand=True``). Frames go in as RGB scaled to [-1, 1], as ``lpips.im2tensor`` does.

Columns (lower = more similar): ``lpips_gt`` mean over frames vs the ground-truth clip k (NaN
without one; 0 for an exact renderer); ``lpips_ref`` mean over frames vs the reference image
(falls with camera motion: a quality/similarity figure, not a drift measure); ``lpips_seam``
between the previous clip's last frame and this clip's first new frame (NaN on clip 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from svibench.metrics.base import ClipInput, Feature, Metric
from svibench.weights import resolve

NAN = float("nan")
# lpips/pretrained_networks.py alexnet: features[0:2], [2:5], [5:8], [8:10], [10:12]
_ALEX_SLICES = (
    (1, range(0, 2)),
    (2, range(2, 5)),
    (3, range(5, 8)),
    (4, range(8, 10)),
    (5, range(10, 12)),
)


def build_lpips_alex(trunk_state: Mapping[str, Any] | None = None, random: bool = False):
    """LPIPS(net='alex', v0.1). ``random``: random trunk and linear layers (tests); else the
    package's linear layers plus the given torchvision AlexNet state dict (keys features.N.*)."""
    import warnings

    import lpips

    with warnings.catch_warnings():  # torchvision's 'pretrained' deprecation, inside lpips
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(
            pretrained=not random, net="alex", pnet_rand=True, verbose=False, version="0.1"
        )
    if trunk_state is not None:
        sd = {}
        for key, value in trunk_state.items():
            if not key.startswith("features."):
                continue  # the classifier head is not part of LPIPS
            idx, param = key.split(".", 2)[1:]
            s = next(s for s, r in _ALEX_SLICES if int(idx) in r)
            sd[f"slice{s}.{idx}.{param}"] = value
        model.net.load_state_dict(sd, strict=True)
    return model.eval()


def _to_tensor(frames: np.ndarray, device: str):
    import torch

    x = torch.from_numpy(np.array(frames, dtype=np.uint8)).to(device).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1.0


class LpipsAlex(Feature):
    name = "lpips_alex"
    weights: ClassVar[tuple[str, ...]] = ("alexnet",)

    def __init__(self, device: str = "cpu", batch_size: int | None = None, model=None, **params):
        super().__init__(device=device, batch_size=batch_size, **params)
        self.model = model.to(device).eval() if model is not None else None

    def load(self) -> None:
        if self.model is None:
            # features imports torch: only when the metric runs
            from svibench.metrics.features import load_checkpoint

            r = resolve("alexnet")
            self.model = build_lpips_alex(load_checkpoint(str(r.path))).to(self.device).eval()

    def distances(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """LPIPS of frame pairs a[i], b[i] (uint8 (N, H, W, 3) each), batched."""
        import torch

        self.load()
        out = []
        with torch.inference_mode():
            for i in range(0, len(a), self.batch_size):
                d = self.model(
                    _to_tensor(a[i : i + self.batch_size], self.device),
                    _to_tensor(b[i : i + self.batch_size], self.device),
                )
                out.append(d.reshape(-1).float().cpu().numpy())
        return np.concatenate(out).astype(np.float64)

    def __call__(self, clip: ClipInput) -> dict[str, float]:
        f = clip.frames
        ref = np.broadcast_to(clip.reference, f.shape)
        out = {"lpips_ref": float(self.distances(f, ref).mean())}
        gt = clip.ground_truth
        out["lpips_gt"] = float(self.distances(f, gt).mean()) if gt is not None else NAN
        if clip.previous_tail is not None and len(clip.previous_tail):
            first_new = min(max(clip.motion_frames, 0), len(f) - 1)
            seam = self.distances(clip.previous_tail[-1:], f[first_new : first_new + 1])
            out["lpips_seam"] = float(seam[0])
        else:
            out["lpips_seam"] = NAN
        return out


class Lpips(Metric):
    name = "lpips"
    columns = ("lpips_gt", "lpips_ref", "lpips_seam")
    higher_is_better = False
    features = ("lpips_alex",)
    uses_ground_truth = True
    description = (
        "LPIPS v0.1 (AlexNet): lpips_gt vs the ground-truth clip k, lpips_ref vs the reference, "
        "lpips_seam across the join from clip k-1 (lower = more similar)."
    )
    reference = "Zhang et al., CVPR 2018; the `lpips` package (LPIPS v0.1, net='alex')"

    def compute(self, clip: ClipInput, features: Mapping[str, Any]) -> dict[str, float]:
        return dict(features["lpips_alex"])
