"""Visualisations (colour map, Sobel edges, normals, PNG files) and the evaluator's --save-visuals hook."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from scipy import ndimage

from depthbench.leaderboard.visuals import (
    VISUAL_KINDS,
    colorize,
    colormap,
    edge_map,
    normal_map,
    save_visuals,
    sobel_magnitude,
)
from depthbench.types import DepthKind, Intrinsics, Prediction, Sample, SampleMeta


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])


def test_colormap_is_monotone_in_lightness_and_clips() -> None:
    t = np.linspace(0, 1, 257)
    luma = _luma(colormap(t))
    assert np.all(np.diff(luma) >= -0.6)  # monotone up to uint8 rounding
    assert luma[-1] - luma[0] > 150
    np.testing.assert_array_equal(colormap(np.array([-1.0, 2.0, np.nan])), colormap(np.array([0.0, 1.0, 0.0])))


def test_colorize_blackens_invalid() -> None:
    values = np.array([[1.0, 2.0], [3.0, 4.0]])
    valid = np.array([[True, False], [True, True]])
    rgb = colorize(values, 1.0, 4.0, valid)
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert rgb[0, 1].tolist() == [0, 0, 0]
    assert rgb[0, 0].tolist() == colormap(np.array(0.0)).tolist()
    assert rgb[1, 1].tolist() == colormap(np.array(1.0)).tolist()


@given(st.integers(0, 2**31 - 1))
def test_sobel_matches_scipy(seed: int) -> None:
    d = np.random.default_rng(seed).uniform(0.5, 5.0, size=(7, 9))
    gx = ndimage.sobel(d, axis=1, mode="nearest")
    gy = ndimage.sobel(d, axis=0, mode="nearest")
    np.testing.assert_allclose(sobel_magnitude(d), np.hypot(gx, gy), rtol=1e-12, atol=1e-12)


def test_edge_map_finds_a_depth_step_only() -> None:
    d = np.full((10, 12), 2.0)
    d[:, 6:] = 4.0
    edges = edge_map(d)
    cols = np.nonzero(edges.any(axis=0))[0]
    assert cols.tolist() == [5, 6]
    assert set(np.unique(edges)) <= {0, 255}
    assert not edge_map(np.full((5, 5), 3.0)).any()


def test_normals_of_fronto_parallel_and_tilted_planes() -> None:
    k = Intrinsics(50.0, 50.0, 16.0, 12.0)
    flat = normal_map(np.full((24, 32), 3.0), k)
    np.testing.assert_allclose(flat[2:-2, 2:-2], np.broadcast_to([0.0, 0.0, -1.0], (20, 28, 3)), atol=1e-9)
    # Plane Y = 1 (a floor 1 m below the camera): camera-z depth z = fy / (v - cy) for v > cy;
    # its normal is ±(0, 1, 0), facing the camera → (0, -1, 0).
    v = np.arange(24, dtype=np.float64)[:, None].repeat(32, axis=1)
    rows = slice(16, 22)
    z = np.where(v > k.cy + 1, k.fy / np.maximum(v - k.cy, 1e-9), 1.0)
    n = normal_map(z, k)[rows, 2:-2]
    np.testing.assert_allclose(n, np.broadcast_to([0.0, -1.0, 0.0], n.shape), atol=1e-6)


def _sample(h: int = 24, w: int = 32, seed: int = 0) -> Sample:
    rng = np.random.default_rng(seed)
    depth = rng.uniform(1.0, 5.0, size=(h, w)).astype(np.float32)
    depth[0, 0] = 0.0
    return Sample(image=rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8), kind=DepthKind.METRIC,
                  meta=SampleMeta(dataset="synthetic-rooms", split="test", sample_id="scene/0 1"), depth=depth)


def test_save_visuals_writes_every_png(tmp_path: Path) -> None:
    s = _sample()
    pred = s.depth * 1.1  # type: ignore[operator]
    mask = s.valid.copy()  # type: ignore[union-attr]
    files = save_visuals(tmp_path, s, torch.from_numpy(pred), s.depth, mask, 10.0)
    assert list(files) == list(VISUAL_KINDS)
    for kind, rel in files.items():
        img = np.asarray(Image.open(tmp_path / rel))
        assert img.shape[:2] == (24, 32), kind
    assert all(rel.startswith("scene_0_1/") for rel in files.values())
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / files["rgb"])), s.image)
    err = np.asarray(Image.open(tmp_path / files["error"]))
    # |p - g| / g = 0.1 everywhere valid → colour at 0.1 / 0.5 of the map; invalid pixel black.
    assert err[0, 0].tolist() == [0, 0, 0]
    assert err[5, 5].tolist() == colormap(np.array(0.2)).tolist()
    gt = np.asarray(Image.open(tmp_path / files["gt"]))
    assert gt[0, 0].tolist() == [0, 0, 0]


class _Scaled:
    """A test model: predicts a constant depth of 2 m (metric)."""

    def __init__(self) -> None:
        from depthbench.models.base import ModelInfo

        self.info = ModelInfo(name="two-metres", output_kind=DepthKind.METRIC)

    def predict(self, images: torch.Tensor) -> Prediction:
        b, _, h, w = images.shape
        return Prediction(depth=torch.full((b, h, w), 2.0), kind=DepthKind.METRIC)


def test_evaluate_save_visuals_hook(tmp_path: Path) -> None:
    from depthbench.data.prepared import PreparedWriter
    from depthbench.evaluator import evaluate

    root = tmp_path / "prepared"
    with PreparedWriter(root, "synthetic-rooms", "test", depth_storage="f32") as writer:
        for i in range(3):
            s = _sample(seed=i)
            writer.add(sample_id=f"f{i}", rgb=s.image, kind="metric", depth=s.depth)
    out = tmp_path / "vis"
    result = evaluate(_Scaled(), "synthetic-rooms", root=root, save_visuals=out, visuals_limit=2, progress=False)
    index = json.loads((out / "visuals.json").read_text())
    assert [e["sample_id"] for e in index["samples"]] == ["f0", "f1"]
    assert index["protocol_hash"] == result.protocol_hash and index["model"] == "two-metres"
    for entry in index["samples"]:
        assert set(entry["files"]) == set(VISUAL_KINDS)
        assert all((out / rel).is_file() for rel in entry["files"].values())
    assert not (out / "f2").exists()
    with pytest.raises(Exception, match="visuals_limit"):
        evaluate(_Scaled(), "synthetic-rooms", root=root, save_visuals=out, visuals_limit=0, progress=False)


def test_cli_evaluate_save_visuals(tmp_path: Path) -> None:
    from depthbench.cli import main
    from depthbench.data.prepared import PreparedWriter

    root = tmp_path / "prepared"
    with PreparedWriter(root, "synthetic-rooms", "test", depth_storage="f32") as writer:
        for i in range(2):
            s = _sample(seed=i)
            writer.add(sample_id=f"f{i}", rgb=s.image, kind="metric", depth=s.depth)
    out = tmp_path / "vis"
    code = main(["evaluate", "--model", "constant", "--dataset", "synthetic-rooms", "--root", str(root),
                 "--output", str(tmp_path / "r.json"), "--save-visuals", str(out), "--visuals-limit", "1",
                 "--no-progress"])
    assert code == 0
    index = json.loads((out / "visuals.json").read_text())
    assert [e["sample_id"] for e in index["samples"]] == ["f0"]
    assert main(["evaluate", "--model", "constant", "--benchmark", "nyu-eigen", "--save-visuals", str(out)]) == 2
