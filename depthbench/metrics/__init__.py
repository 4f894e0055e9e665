"""Metrics: registry of metric families, Eigen metrics, ordinal WHDR, and (discovered) the
structure-quality families. ``db.metrics.eigen_metrics(pred, gt, mask, average=...)``."""

from __future__ import annotations

import importlib
import pkgutil

from depthbench.metrics.core import METRICS, MetricAccumulator, MetricBatch, MetricFamily, register_metric
from depthbench.metrics.eigen import EIGEN_OUTPUTS, eigen_metrics, eigen_stats

_discovered = False


def discover_metrics() -> list[str]:
    """Import every module of this package (each registers its families); return family names."""
    global _discovered
    if not _discovered:
        _discovered = True
        for module in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{module.name}")
    return METRICS.names()


__all__ = [
    "EIGEN_OUTPUTS",
    "METRICS",
    "MetricAccumulator",
    "MetricBatch",
    "MetricFamily",
    "discover_metrics",
    "eigen_metrics",
    "eigen_stats",
    "register_metric",
]
