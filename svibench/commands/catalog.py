"""Built-in metrics described without importing them, so `svibench list metrics` stays fast.

The metric modules import torch (and backbones) at the top; listing 16 names should not take
seconds and hundreds of MB. This table is checked against the classes themselves by
tests/test_cli_errors.py::test_metric_catalog_matches_the_classes; after changing a metric,
regenerate it with ``python -m svibench.commands.catalog``. Plug-in metrics (entry points)
are not in it and are imported to be described.
"""

from __future__ import annotations

from typing import Any

BUILTIN_METRICS: dict[str, dict[str, Any]] = {
    "aesthetic_quality": {
        "source": "svibench.metrics.vbench.aesthetic:AestheticQuality",
        "columns": ("aesthetic_quality",),
        "higher_is_better": (True,),
        "features": ("clip_l14_vbench", "laion_aesthetic_head"),
        "description": "LAION aesthetic head on CLIP ViT-L/14, /10, mean over frames (VBench)",
    },
    "background_consistency": {
        "source": "svibench.metrics.vbench.consistency:BackgroundConsistency",
        "columns": ("background_consistency",),
        "higher_is_better": (True,),
        "features": ("clip_b32_vbench",),
        "description": "CLIP ViT-B/32 image-embedding cosine to previous and first frame (VBench)",
    },
    "clip_text": {
        "source": "svibench.metrics.vbench.clip_text:ClipText",
        "columns": ("clip_text",),
        "higher_is_better": (True,),
        "features": ("clip_l14_vbench", "clip_l14_text"),
        "description": "CLIP ViT-L/14 cosine between frames and this clip's prompt, mean over frames",
    },
    "colour": {
        "source": "svibench.metrics.colour:ColourStats",
        "columns": ("saturation", "contrast", "colour_cast", "brightness_flicker"),
        "higher_is_better": (True, True, False, False),
        "features": (),
        "description": "saturation = mean (max - min) of RGB; contrast = std of luma; colour_cast = distance of the mean RGB from grey; brightness_flicker = mean |change of mean luma| between frames.",
    },
    "dynamic_degree": {
        "source": "svibench.metrics.vbench.dynamic:DynamicDegree",
        "columns": ("dynamic_degree", "dynamic_degree_magnitude"),
        "higher_is_better": (True, True),
        "features": ("raft_maxrad",),
        "description": "RAFT flow: 1 if enough ~8 fps pairs move beyond 6*min(H,W)/256 (VBench); magnitude = mean max_rad (px)",
    },
    "gt": {
        "source": "svibench.metrics.ground_truth:GroundTruthError",
        "columns": ("mae_gt", "psnr_gt", "ssim_gt", "colour_gt"),
        "higher_is_better": (False, True, True, False),
        "features": (),
        "description": "Against the ground-truth clip k (world:<seed> cases): mean |difference| / 255, mean PSNR (dB, capped), mean SSIM, mean |per-frame mean RGB difference| / 255. NaN without one.",
    },
    "i2v_background": {
        "source": "svibench.metrics.vbench.i2v_background:I2VBackground",
        "columns": ("i2v_background",),
        "higher_is_better": (True,),
        "features": ("dreamsim_i2v",),
        "description": "DreamSim: 0.4 max sim to the image + 0.3 mean + 0.3 min consecutive sim (VBench-I2V)",
    },
    "i2v_subject": {
        "source": "svibench.metrics.vbench.i2v:I2VSubject",
        "columns": ("i2v_subject",),
        "higher_is_better": (True,),
        "features": ("dino_i2v",),
        "description": "DINO: 0.4 max sim to the image + 0.3 mean + 0.3 min consecutive sim (VBench-I2V)",
    },
    "imaging_quality": {
        "source": "svibench.metrics.vbench.imaging:ImagingQuality",
        "columns": ("imaging_quality",),
        "higher_is_better": (True,),
        "features": ("musiq_spaq",),
        "description": "MUSIQ-SPAQ per frame (longer side <= 512), mean / 100 (VBench)",
    },
    "lpips": {
        "source": "svibench.metrics.lpips_metric:Lpips",
        "columns": ("lpips_gt", "lpips_ref", "lpips_seam"),
        "higher_is_better": (False, False, False),
        "features": ("lpips_alex",),
        "description": "LPIPS v0.1 (AlexNet): lpips_gt vs the ground-truth clip k, lpips_ref vs the reference, lpips_seam across the join from clip k-1 (lower = more similar).",
    },
    "motion": {
        "source": "svibench.metrics.motion:FrameDifferenceMotion",
        "columns": ("motion",),
        "higher_is_better": (True,),
        "features": (),
        "description": "Mean consecutive-frame |difference| / 255 (descriptive amount of motion).",
    },
    "motion_smoothness": {
        "source": "svibench.metrics.vbench.motion_smoothness:MotionSmoothness",
        "columns": ("motion_smoothness",),
        "higher_is_better": (True,),
        "features": ("amt_vfi",),
        "description": "AMT-S frame interpolation error on odd frames, (255 - MAE)/255 (VBench)",
    },
    "noise": {
        "source": "svibench.metrics.noise:NoiseLevel",
        "columns": ("noise",),
        "higher_is_better": (False,),
        "features": (),
        "description": "Robust noise std of the luma (grey levels): median |finest Haar HH| / 0.6745.",
    },
    "psnr_ref": {
        "source": "svibench.metrics.reference:PSNRToReference",
        "columns": ("psnr_ref",),
        "higher_is_better": (True,),
        "features": (),
        "description": "Mean PSNR (dB, range 255, capped at 100) of frames vs the reference.",
    },
    "quality_score": {
        "source": "svibench.metrics.vbench.quality_score:QualityScore",
        "columns": ("quality_score",),
        "higher_is_better": (True,),
        "features": (
            "dino_vbench",
            "clip_b32_vbench",
            "clip_l14_vbench",
            "laion_aesthetic_head",
            "musiq_spaq",
            "raft_maxrad",
            "amt_vfi",
        ),
        "description": "VBench Quality Score: 100*sum_d w_d*(x_d-Min_d)/(Max_d-Min_d)/6.5 over subject/background consistency, temporal flickering, motion smoothness, aesthetic, imaging (w=1) and dynamic degree (w=0.5); constants from VBench scripts/constant.py (baselines/README.md)",
    },
    "seam": {
        "source": "svibench.metrics.seam:SeamContinuity",
        "columns": ("seam_mad", "seam_ratio"),
        "higher_is_better": (False, False),
        "features": (),
        "description": "Join from clip k-1 into clip k: seam_mad = mean |last old - first new frame| / 255; seam_ratio = seam step / typical in-clip step (1 = invisible). NaN for clip 0.",
    },
    "sharpness": {
        "source": "svibench.metrics.sharpness:Sharpness",
        "columns": ("sharpness",),
        "higher_is_better": (True,),
        "features": (),
        "description": "Share of the luma's 1-px-scale gradient energy lost at the 2-px scale, noise energy removed (1 - E2 / E1); higher = sharper; not moved by noise.",
    },
    "sharpness_lapvar": {
        "source": "svibench.metrics.sharpness:LaplacianSharpness",
        "columns": ("sharpness_lapvar",),
        "higher_is_better": (True,),
        "features": (),
        "description": "Mean variance of the Laplacian of the luminance (0..255 scale); rises with noise.",
    },
    "ssim_ref": {
        "source": "svibench.metrics.reference:SSIMToReference",
        "columns": ("ssim_ref",),
        "higher_is_better": (True,),
        "features": (),
        "description": "Mean SSIM (luminance, Gaussian 11x11 sigma 1.5) of frames vs the reference.",
    },
    "subject_consistency": {
        "source": "svibench.metrics.vbench.consistency:SubjectConsistency",
        "columns": ("subject_consistency",),
        "higher_is_better": (True,),
        "features": ("dino_vbench",),
        "description": "DINO ViT-B/16 CLS cosine to previous and first frame, mean (VBench)",
    },
    "temporal_flickering": {
        "source": "svibench.metrics.flicker:TemporalFlickering",
        "columns": ("temporal_flickering",),
        "higher_is_better": (True,),
        "features": (),
        "description": "VBench temporal flickering: 1 - mean consecutive-frame |difference| / 255.",
    },
}


def describe(name: str) -> dict[str, Any]:
    """What ``list metrics`` shows for one registered metric (the class, if not built in)."""
    # the metric registry imports numpy (here and below): `svibench --help` stays light
    from svibench.metrics.registry import METRICS

    entry = BUILTIN_METRICS.get(name)
    if entry is not None and entry["source"] == METRICS.source(name):
        return entry
    return describe_class(name)


def describe_class(name: str) -> dict[str, Any]:
    from svibench.metrics.registry import METRICS

    cls = METRICS.get(name)
    cols = tuple(cls.output_columns())
    return {
        "source": METRICS.source(name),
        "columns": cols,
        "higher_is_better": tuple(cls.higher_is_better_for(c) for c in cols),
        "features": tuple(cls.features),
        "description": cls.description,
    }


def _regenerate() -> str:
    from svibench.metrics.registry import METRICS

    rows = "\n".join(
        f"    {n!r}: {describe_class(n)!r}," for n in METRICS.names() if n in _builtin_names()
    )
    return rows


def _builtin_names() -> set[str]:
    from svibench.metrics.registry import METRICS

    return {
        n
        for n in METRICS.names()
        if ":" in METRICS.source(n) and "entry point" not in METRICS.source(n)
    }


if __name__ == "__main__":
    import re
    from pathlib import Path

    path = Path(__file__)
    text = path.read_text()
    new = re.sub(
        r"(BUILTIN_METRICS: dict\[str, dict\[str, Any\]\] = \{\n).*?(\n\})",
        lambda m: m.group(1) + _regenerate() + m.group(2),
        text,
        flags=re.S,
    )
    path.write_text(new)
    print(f"rewrote {path}; run `ruff format {path}`")
