"""Metrics: score one clip from its frames (plus shared features); drift lives in svibench.analysis.drift."""

from svibench.metrics.base import ClipInput, Feature, Metric
from svibench.metrics.registry import FEATURES, METRICS

__all__ = ["FEATURES", "METRICS", "ClipInput", "Feature", "Metric"]
