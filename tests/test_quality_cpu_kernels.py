"""The numba CPU kernels of the structure-quality families compute the same statistics as the
torch path (which CUDA tensors take), on random inputs with masks and intrinsics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from depthbench.metrics.edges import EDGE_STATS, edge_stats
from depthbench.metrics.normals import normal_stats
from depthbench.metrics.ssim import ssim_stats
from depthbench.types import Intrinsics

K = Intrinsics(fx=518.8, fy=519.5, cx=325.6, cy=253.7)


def _inputs(seed: int, b: int = 3, h: int = 120, w: int = 160) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smooth GT with depth steps, a scaled noisy prediction, a mask with a crop and random holes."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    gt = np.empty((b, h, w), dtype=np.float32)
    for i in range(b):
        g = 2.0 + 3.0 * xx / w + 1.5 * yy / h
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(10, 40)
        gt[i] = np.where((yy - cy) ** 2 + (xx - cx) ** 2 < r * r, g - rng.uniform(0.5, 1.5), g)
    pred = (gt * rng.uniform(0.9, 1.1) + rng.normal(0, 0.05, gt.shape)).clip(0.05, 10).astype(np.float32)
    mask = rng.uniform(size=gt.shape) > 0.002
    mask[:, :5] = False
    mask[:, :, -7:] = False
    return pred, gt, mask


def _assert_close(numba_stats: np.ndarray, torch_stats: np.ndarray, count_columns: list[int]) -> None:
    """Sums ≤ 1e-5 relative; a count may differ by a pixel whose value lies within float32
    rounding of a threshold (the two paths add float32 terms in different orders)."""
    assert numba_stats.shape == torch_stats.shape
    sums = [c for c in range(numba_stats.shape[1]) if c not in count_columns]
    np.testing.assert_allclose(numba_stats[:, sums], torch_stats[:, sums], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(numba_stats[:, count_columns], torch_stats[:, count_columns], rtol=0, atol=2)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("window", ["gaussian11", "uniform7"])
def test_ssim_numba_equals_torch(seed, window):
    pred, gt, mask = _inputs(seed)
    a = ssim_stats(pred, gt, mask, 0.5, 6.0, window, backend="numba")
    b = ssim_stats(pred, gt, mask, 0.5, 6.0, window, backend="torch")
    np.testing.assert_array_equal(a[:, 0], b[:, 0])  # window counts: exact (no threshold)
    np.testing.assert_allclose(a[:, 1], b[:, 1], rtol=1e-5)
    assert (a[:, 0] > 0).all()


@pytest.mark.parametrize("seed", [0, 1])
def test_edges_numba_equals_torch(seed):
    pred, gt, mask = _inputs(seed)
    a = edge_stats(pred, gt, mask, backend="numba")
    b = edge_stats(pred, gt, mask, backend="torch")
    assert a[:, 0].min() > 0 and a[:, 3].min() > 0  # some counted pixels and GT edges
    _assert_close(a, b, count_columns=list(range(len(EDGE_STATS))))
    np.testing.assert_array_equal(a[:, 0], b[:, 0])


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("intrinsics", ["all", "none", "mixed"])
def test_normals_numba_equals_torch(seed, intrinsics):
    pred, gt, mask = _inputs(seed)
    ks = {"all": [K, K, K], "none": None, "mixed": [K, None, K]}[intrinsics]
    a = normal_stats(pred, gt, mask, ks, backend="numba")
    b = normal_stats(pred, gt, mask, ks, backend="torch")
    np.testing.assert_array_equal(a[:, 0], b[:, 0])
    _assert_close(a, b, count_columns=[0, 3, 4, 5])


def test_cpu_tensors_take_the_numba_path_and_numba_needs_cpu_inputs():
    pred, gt, mask = _inputs(2, b=2)
    tensors = [torch.from_numpy(x) for x in (pred, gt, mask)]
    np.testing.assert_array_equal(normal_stats(*tensors, [K, None]), normal_stats(pred, gt, mask, [K, None], backend="numba"))
    np.testing.assert_array_equal(edge_stats(*tensors), edge_stats(pred, gt, mask, backend="numba"))
    np.testing.assert_array_equal(ssim_stats(*tensors, 0.5, 6.0), ssim_stats(pred, gt, mask, 0.5, 6.0, backend="numba"))
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="numba"):
            edge_stats(*(t.cuda() for t in tensors), backend="numba")


def test_float64_and_single_image_inputs():
    pred, gt, mask = _inputs(3, b=1)
    a = normal_stats(pred[0].astype(np.float64), gt[0], mask[0], [K])
    b = normal_stats(pred, gt, mask, [K], backend="torch")
    _assert_close(a, b, count_columns=[0, 3, 4, 5])
    tiny = np.ones((2, 6, 6), dtype=np.float32)
    assert ssim_stats(tiny, tiny, tiny > 0, 0.0, 2.0).tolist() == [[0.0, 0.0], [0.0, 0.0]]
