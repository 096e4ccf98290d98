"""Metric and feature registries (third parties: ``svibench.metrics`` / ``svibench.features``)."""

from svibench.registry import Registry

METRICS = Registry(
    "metric",
    "svibench.metrics",
    {
        # weight-free, per clip
        "temporal_flickering": "svibench.metrics.flicker:TemporalFlickering",
        "psnr_ref": "svibench.metrics.reference:PSNRToReference",
        "ssim_ref": "svibench.metrics.reference:SSIMToReference",
        "seam": "svibench.metrics.seam:SeamContinuity",
        "motion": "svibench.metrics.motion:FrameDifferenceMotion",
        "sharpness": "svibench.metrics.sharpness:Sharpness",
    },
)

FEATURES = Registry("feature", "svibench.features", {})
