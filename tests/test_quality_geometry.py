"""Boundary (DBE), Chamfer and planarity families against scipy/skimage/numpy oracles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage
from scipy.spatial import cKDTree
from skimage import feature

from depthbench.metrics import MetricAccumulator, MetricBatch, discover_metrics
from depthbench.metrics.boundary import boundary_finalize, boundary_stats, canny, capped_distance, normalise
from depthbench.metrics.core import METRICS
from depthbench.metrics.filters import back_project
from depthbench.metrics.planarity import planarity_finalize, planarity_stats
from depthbench.metrics.pointcloud import chamfer_finalize, chamfer_stats
from depthbench.types import Intrinsics

H, W = 48, 64
K = Intrinsics(60.0, 60.0, 31.5, 23.5)


def _room() -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    d = np.full((H, W), 5.0, dtype=np.float32)
    d[(yy - 24) ** 2 + (xx - 30) ** 2 < 150] = 2.0
    d[:, 50:] = 8.0
    return d


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), density=st.floats(0.001, 0.05))
def test_capped_distance_matches_scipy_edt(seed, density):
    edges = np.random.default_rng(seed).uniform(size=(1, 30, 40)) < density
    ours = capped_distance(torch.from_numpy(edges))[0].numpy()
    ref = np.minimum(ndimage.distance_transform_edt(~edges[0]), 10.0) if edges.any() else np.full((30, 40), 10.0)
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_canny_close_to_skimage():
    d = _room()
    mask = np.ones_like(d, dtype=bool)
    ours = canny(normalise(torch.from_numpy(d)[None], torch.from_numpy(mask)[None]), torch.from_numpy(mask)[None])[0].numpy()
    ref = feature.canny((d - d.min()) / (d.max() - d.min()), sigma=np.sqrt(2), low_threshold=0.1, high_threshold=0.2)
    # Same edges up to the NMS variant (quantised here, interpolated in skimage): within 1 px.
    assert ours.sum() > 50
    assert (ndimage.distance_transform_edt(~ref)[ours] <= 1.0).mean() > 0.95
    assert (ndimage.distance_transform_edt(~ours)[ref] <= 1.0).mean() > 0.95


def test_boundary_oracle_from_edges():
    """DBE from the family equals the iBims formulas applied with scipy to the same edge maps."""
    gt = _room()
    pred = np.roll(gt, 3, axis=1)
    mask = np.ones_like(gt, dtype=bool)
    stats = boundary_stats(pred, gt, mask)[0]
    m = torch.from_numpy(mask)[None]
    e_pred = canny(normalise(torch.from_numpy(pred)[None], m), m)[0].numpy()
    e_gt = canny(normalise(torch.from_numpy(gt)[None], m), m)[0].numpy()
    d_gt = ndimage.distance_transform_edt(~e_gt)
    d_pred = np.minimum(ndimage.distance_transform_edt(~e_pred), 10.0)
    near = e_pred & (d_gt < 10)
    assert stats[0] == 1
    assert stats[1] == pytest.approx(d_gt[near].mean(), abs=1e-5)
    assert stats[2] == pytest.approx(d_pred[e_gt].mean(), abs=1e-5)


def test_boundary_identity_missing_edges_and_skip():
    gt = _room()[None]
    mask = np.ones_like(gt, dtype=bool)
    assert boundary_finalize(boundary_stats(gt, gt, mask)[0]) == {"dbe_acc": 0.0, "dbe_comp": 0.0}
    flat = np.full_like(gt, 4.0)
    assert boundary_finalize(boundary_stats(flat, gt, mask)[0]) == {"dbe_acc": 10.0, "dbe_comp": 10.0}
    assert boundary_stats(gt, flat, mask)[0, 0] == 0  # no GT edge: skipped


def _clouds(depth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    k = torch.tensor([[K.fx, K.fy, K.cx, K.cy]], dtype=torch.float64)
    p = back_project(torch.from_numpy(depth)[None], k)[0].double().numpy()
    return p[:, mask].T


def test_chamfer_matches_kdtree_oracle(rng):
    gt = (3 + rng.uniform(0, 1, (1, H, W))).astype(np.float32)
    pred = (gt * 1.05 + rng.normal(0, 0.05, gt.shape)).astype(np.float32)
    mask = rng.uniform(size=gt.shape) > 0.3
    stats = chamfer_stats(pred, gt, mask, [K], max_points=10**6)[0]
    a, g = _clouds(pred[0], mask[0]), _clouds(gt[0], mask[0])
    acc, comp = cKDTree(g).query(a)[0].mean(), cKDTree(a).query(g)[0].mean()
    values = chamfer_finalize(stats)
    assert values["chamfer_acc"] == pytest.approx(acc, rel=1e-5)
    assert values["chamfer_comp"] == pytest.approx(comp, rel=1e-5)
    assert values["chamfer"] == pytest.approx(0.5 * (acc + comp), rel=1e-5)


def test_chamfer_identity_subsampling_and_skip(rng):
    gt = (3 + rng.uniform(0, 1, (2, H, W))).astype(np.float32)
    mask = np.ones_like(gt, dtype=bool)
    assert chamfer_finalize(chamfer_stats(gt, gt, mask, [K, K], max_points=500).sum(0))["chamfer"] == 0.0
    stats = chamfer_stats(gt, gt, mask, [K, None])
    assert stats[1, 0] == 0 and stats[0, 0] == 1
    assert not chamfer_stats(gt, gt, mask, None)[:, 0].any()


def test_planarity_orientation_and_flatness_oracle():
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    a, b = (u - K.cx) / K.fx, (v - K.cy) / K.fy
    n_gt, n_pred = np.array([0.0, 0.0, 1.0]), np.array([0.0, np.sin(0.2), np.cos(0.2)])
    gt = (3.0 / (n_gt[0] * a + n_gt[1] * b + n_gt[2])).astype(np.float32)
    pred = (3.0 / (n_pred[0] * a + n_pred[1] * b + n_pred[2])).astype(np.float32)
    bumpy = pred + np.float32(0.01) * ((np.arange(W) % 2) * 2 - 1)[None, :].astype(np.float32)
    mask = np.ones_like(gt, dtype=bool)
    planes = np.zeros((2, H, W), dtype=bool)
    planes[0, :, :32] = True
    planes[1, :, 32:] = True
    values = planarity_finalize(planarity_stats(pred, gt, mask, [K], [planes])[0])
    assert values["plane_orientation_deg"] == pytest.approx(np.degrees(0.2), abs=1e-3)
    assert values["plane_flatness_cm"] == pytest.approx(0.0, abs=1e-3)
    # Oracle for flatness: RMS residual of a numpy SVD plane fit of each predicted cloud.
    expected = []
    for plane in planes:
        pts = _clouds(bumpy, plane)
        centred = pts - pts.mean(0)
        expected.append(100 * np.sqrt(np.linalg.svd(centred, compute_uv=False)[-1] ** 2 / len(pts)))
    bumpy_values = planarity_finalize(planarity_stats(bumpy, gt, mask, [K], [planes])[0])
    assert bumpy_values["plane_flatness_cm"] == pytest.approx(np.mean(expected), rel=1e-3)


def test_planarity_skips_without_annotation(rng):
    gt = (3 + rng.uniform(0, 1, (2, H, W))).astype(np.float32)
    mask = np.ones_like(gt, dtype=bool)
    assert not planarity_stats(gt, gt, mask, [K, K], None)[:, 0].any()
    assert not planarity_stats(gt, gt, mask, None, [np.ones((1, H, W), bool)] * 2)[:, 0].any()
    discover_metrics()
    family = METRICS.get("planarity")
    acc = MetricAccumulator(family)
    acc.update(family.stats(MetricBatch(pred=gt, gt=gt, mask=mask, intrinsics=[K, K])))
    assert acc.images == 0


def test_families_registered_with_one_arithmetic():
    names = discover_metrics()
    for name in ("ssim", "ssim_uniform7", "edge_f1", "normals", "boundary", "chamfer", "planarity"):
        family = METRICS.get(name)
        assert name in names and family.target == "dense"
        assert set(family.higher_is_better) == set(family.outputs)
    assert METRICS.get("normals").averaging == "either"
    assert all(METRICS.get(n).averaging == "per_image" for n in ("ssim", "edge_f1", "boundary", "chamfer", "planarity"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    gt = _room()[None]
    pred = np.roll(gt, 2, axis=1) * np.float32(1.1)
    mask = np.ones_like(gt, dtype=bool)
    cuda = [torch.from_numpy(x).cuda() for x in (pred, gt, mask)]
    np.testing.assert_allclose(boundary_stats(*cuda), boundary_stats(pred, gt, mask), atol=1e-5)
    np.testing.assert_allclose(chamfer_stats(*cuda, [K]), chamfer_stats(pred, gt, mask, [K]), atol=1e-5)
