"""`depthbench evaluate --benchmark zeroshot-v1` end to end on real-format stand-ins of all five
datasets, for a metric, an up-to-scale and an affine-invariant-disparity model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from depthbench.cli import main
from depthbench.evaluator import evaluate_benchmark
from tests.zeroshot_standins import build_zeroshot_standins


@pytest.fixture(scope="module")
def standins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_zeroshot_standins(tmp_path_factory.mktemp("zeroshot"))


@pytest.mark.parametrize(
    ("model", "kind", "alignment"),
    [("constant", "metric", "none"), ("plane-prior", "uts", "median"),
     ("tests.bad_models:half_res_disparity_model", "utss", "lsq_scale_shift_disparity")],
)
def test_zeroshot_benchmark_runs_with_kind_driven_alignment(standins, model, kind, alignment):
    options = {"value": 3.0} if model == "constant" else None
    results = evaluate_benchmark(model, "zeroshot-v1", roots=standins, progress=False, model_options=options)
    assert [r.dataset.name for r in results] == ["nyu-v2", "tum-rgbd", "kitti-eigen-raw", "sintel", "diw"]
    for r in results:
        name, value = r.headline
        assert r.model.output_kind == kind and math.isfinite(value), (r.dataset.name, name)
        assert r.images_evaluated > 0
    from depthbench.align import resolve_alignment
    from depthbench.types import DepthKind

    assert resolve_alignment(results[0].protocol.alignment, DepthKind(kind)) == alignment
    assert [r.protocol.headline for r in results] == ["delta1", "delta1", "delta1", "abs_rel", "whdr"]


def test_zeroshot_cli_writes_one_result_per_protocol(standins, tmp_path, capsys):
    roots = [x for name, path in standins.items() for x in ("--root", f"{name}={path}")]
    code = main(["evaluate", "-m", "plane-prior", "--benchmark", "zeroshot-v1", *roots,
                 "--output", str(tmp_path / "zs"), "--no-progress", "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0
    assert len(json.loads(out)) == 5 and len(list((tmp_path / "zs").glob("*.json"))) == 5
