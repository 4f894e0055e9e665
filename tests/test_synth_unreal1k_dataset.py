"""`unreal1k` as a catalogued dataset: prepare (built-in backend) → load → evaluate."""

from __future__ import annotations

import numpy as np
import pytest

from depthbench.data.dataset import load_dataset
from depthbench.errors import UsageError
from depthbench.evaluator import evaluate
from depthbench.prepare import prepare_dataset


def test_prepare_load_evaluate_unreal1k(tmp_path):
    out = prepare_dataset("unreal1k", None, tmp_path / "u1k", scenes=1, objects=2, frames_per_object=3,
                          sample=4, height=48, width=64, seed=3)
    data = load_dataset("unreal1k", "test", root=out)
    assert len(data) == 4
    for sample in data:
        assert sample.image.shape == (48, 64, 3) and sample.intrinsics is not None
        assert np.all(sample.depth > 0) and len(sample.meta.extra["pose_c2w"]) in (4, 16)
    result = evaluate("constant", "unreal1k", root=out, model_options={"value": 2.0}, progress=False)
    assert result.protocol.min_depth == 0.4 and result.protocol.max_depth == 10.0
    assert 0 <= result.metrics["delta1"] <= 1 and (out / "README.md").exists()


def test_unreal1k_refuses_a_source(tmp_path):
    with pytest.raises(UsageError, match="omit --source"):
        prepare_dataset("unreal1k", tmp_path, tmp_path / "out")
