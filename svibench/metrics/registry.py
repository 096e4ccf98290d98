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
        "sharpness_lapvar": "svibench.metrics.sharpness:LaplacianSharpness",
        "noise": "svibench.metrics.noise:NoiseLevel",
        "colour": "svibench.metrics.colour:ColourStats",
        "gt": "svibench.metrics.ground_truth:GroundTruthError",
        "lpips": "svibench.metrics.lpips_metric:Lpips",
        # VBench-exact dimensions (backbones; weights via `svibench weights`)
        "subject_consistency": "svibench.metrics.vbench.consistency:SubjectConsistency",
        "background_consistency": "svibench.metrics.vbench.consistency:BackgroundConsistency",
        "aesthetic_quality": "svibench.metrics.vbench.aesthetic:AestheticQuality",
        "imaging_quality": "svibench.metrics.vbench.imaging:ImagingQuality",
        "dynamic_degree": "svibench.metrics.vbench.dynamic:DynamicDegree",
        "motion_smoothness": "svibench.metrics.vbench.motion_smoothness:MotionSmoothness",
        "i2v_subject": "svibench.metrics.vbench.i2v:I2VSubject",
        "i2v_background": "svibench.metrics.vbench.i2v_background:I2VBackground",
        "clip_text": "svibench.metrics.vbench.clip_text:ClipText",
        "quality_score": "svibench.metrics.vbench.quality_score:QualityScore",
    },
)

FEATURES = Registry(
    "feature",
    "svibench.features",
    {
        # (backbone, preprocessing) pairs; see svibench/metrics/features.py
        "dino_vbench": "svibench.metrics.features:DinoVBench",
        "dino_i2v": "svibench.metrics.features:DinoI2V",
        "dreamsim_i2v": "svibench.metrics.features:DreamSimI2V",
        "clip_b32_vbench": "svibench.metrics.features:ClipB32VBench",
        "clip_l14_vbench": "svibench.metrics.features:ClipL14VBench",
        "clip_l14_text": "svibench.metrics.features:ClipL14Text",
        "laion_aesthetic_head": "svibench.metrics.features:LaionAestheticHead",
        "musiq_spaq": "svibench.metrics.features:MusiqSpaq",
        "raft_maxrad": "svibench.metrics.features:RaftMaxRad",
        "amt_vfi": "svibench.metrics.features:AmtVfi",
        "lpips_alex": "svibench.metrics.lpips_metric:LpipsAlex",
    },
)
