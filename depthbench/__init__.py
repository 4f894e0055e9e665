"""depthbench: monocular depth estimation benchmark.

    import depthbench as db
    db.list_datasets(); db.list_models(); db.list_benchmarks()
    ds = db.load_dataset("nyu-v2", split="test", root=PATH)
    db.metrics.eigen_metrics(pred, gt, mask, average="pooled")
    db.align.align(pred, gt, mask, mode="median")
    result = db.evaluate(model="constant", dataset="synthetic-rooms")

Heavy submodules (torch models, evaluator) are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from depthbench.catalog import get_manifest, list_datasets  # noqa: E402
from depthbench.errors import ConfigError, DataError, DepthbenchError, UsageError  # noqa: E402
from depthbench.types import DepthKind, Intrinsics, Prediction, Sample, SampleMeta  # noqa: E402

_LAZY = {
    "load_dataset": ("depthbench.data.dataset", "load_dataset"),
    "evaluate": ("depthbench.evaluator", "evaluate"),
    "evaluate_benchmark": ("depthbench.evaluator", "evaluate_benchmark"),
    "create_model": ("depthbench.models", "create_model"),
    "list_models": ("depthbench.models", "list_models"),
    "list_benchmarks": ("depthbench.protocol", "list_benchmarks"),
    "default_protocol": ("depthbench.protocol", "default_protocol"),
    "EvalProtocol": ("depthbench.protocol", "EvalProtocol"),
    "Result": ("depthbench.results", "Result"),
    "prepare_dataset": ("depthbench.prepare", "prepare_dataset"),
    "metrics": ("depthbench.metrics", None),
    "align": ("depthbench.align", None),
    "prep": ("depthbench.prep", None),
}

__all__ = [
    "ConfigError", "DataError", "DepthKind", "DepthbenchError", "Intrinsics", "Prediction", "Sample",
    "SampleMeta", "UsageError", "__version__", "get_manifest", "list_datasets", *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'depthbench' has no attribute {name!r}")
    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value
