"""Log-space quantization and depth/gradient fusion (seeds 001–003) against independent oracles."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.optimize
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from depthbench.errors import UsageError
from depthbench.prep.gradient_fusion import (
    depth_gradients,
    fuse_depth_gradients,
    fusion_objective,
    resize_gradients,
)
from depthbench.prep.quantize import (
    IGNORE_INDEX,
    LogBins,
    depth_to_labels,
    hard_max,
    labels_to_depth,
    soft_weighted_sum,
)

# ---------------------------------------------------------------- quantization


@settings(max_examples=40, deadline=None)
@given(
    k=st.integers(2, 300),
    d_min=st.floats(0.01, 2.0),
    ratio=st.floats(1.5, 200.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_quantization_round_trip_within_half_bin(k: int, d_min: float, ratio: float, seed: int) -> None:
    bins = LogBins(k, d_min, d_min * ratio)
    rng = np.random.default_rng(seed)
    depth = np.exp(rng.uniform(math.log(bins.d_min), math.log(bins.d_max), size=(7, 9)))
    labels = depth_to_labels(depth, bins)
    back = labels_to_depth(labels, bins)
    assert labels.min() >= 0 and labels.max() <= k - 1
    assert np.all(np.abs(np.log(back.astype(np.float64)) - np.log(depth)) <= bins.q / 2 + 1e-6)
    # oracle: the nearest log-space centre w_i = log d_min + q·i
    centres = math.log(d_min) + bins.q * np.arange(k)
    nearest = np.abs(np.log(depth)[..., None] - centres).argmin(-1)
    dist_ours = np.abs(np.log(depth) - centres[labels])
    dist_best = np.abs(np.log(depth) - centres[nearest])
    assert np.allclose(dist_ours, dist_best, atol=1e-9)
    torch_labels = depth_to_labels(torch.from_numpy(depth), bins)
    assert np.array_equal(torch_labels.numpy(), labels)


def test_quantization_invalid_and_out_of_range() -> None:
    bins = LogBins(10, 1.0, 10.0)
    depth = np.array([[0.0, np.nan, -1.0, 0.1, 100.0, 5.0]])
    valid = np.array([[True, True, True, True, True, False]])
    labels = depth_to_labels(depth, bins, valid)
    assert labels.tolist() == [[IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, 0, 9, IGNORE_INDEX]]
    assert labels_to_depth(labels, bins)[0, 0] == 0.0
    assert np.isclose(labels_to_depth(labels, bins)[0, 4], 10.0)
    t = depth_to_labels(torch.tensor(depth), bins, torch.tensor(valid))
    assert t.tolist() == labels.tolist()


def test_bins_reject_bad_ranges() -> None:
    with pytest.raises(UsageError):
        LogBins(1, 1.0, 2.0)
    with pytest.raises(UsageError):
        LogBins(10, 2.0, 1.0)


@pytest.mark.parametrize("k", [2, 50, 200])
def test_soft_weighted_sum_of_one_hot_is_bin_centre(k: int) -> None:
    bins = LogBins(k, 0.5, 10.0)
    eye = np.eye(k, dtype=np.float64).reshape(k, k, 1)  # "batch" k, class axis 1, width 1
    expected = np.exp(np.log(0.5) + bins.q * np.arange(k))
    assert np.allclose(soft_weighted_sum(eye, bins)[:, 0], expected, rtol=1e-6)
    assert np.allclose(soft_weighted_sum(torch.from_numpy(eye), bins)[:, 0].numpy(), expected, rtol=1e-6)
    assert np.allclose(hard_max(eye, bins)[:, 0], expected, rtol=1e-6)


def test_soft_weighted_sum_is_exp_of_expected_log_depth() -> None:
    bins = LogBins(20, 0.5, 10.0)
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 20, 3, 4))
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    w = np.log(0.5) + bins.q * np.arange(20)
    expected = np.exp(np.einsum("bkhw,k->bhw", p, w))
    assert np.allclose(soft_weighted_sum(p, bins), expected, rtol=1e-5)
    assert np.allclose(soft_weighted_sum(torch.from_numpy(p), bins).numpy(), expected, rtol=1e-10)
    assert np.allclose(hard_max(torch.from_numpy(logits), bins).numpy(), np.exp(w[logits.argmax(1)]), rtol=1e-6)
    with pytest.raises(UsageError):
        soft_weighted_sum(p, LogBins(21, 0.5, 10.0))


# ---------------------------------------------------------------- gradients and fusion


def _loop_gradients(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = d.shape
    gx = np.zeros_like(d)
    gy = np.zeros_like(d)
    for i in range(h):
        for j in range(1, w - 1):
            gx[i, j] = d[i, j + 1] - d[i, j - 1]
    for i in range(1, h - 1):
        for j in range(w):
            gy[i, j] = d[i + 1, j] - d[i - 1, j]
    return gx, gy


def test_depth_gradients_match_loop_oracle_and_mask() -> None:
    rng = np.random.default_rng(0)
    d = rng.uniform(1, 5, size=(6, 8))
    d[2, 3] = 0.0  # invalid pixel
    grad, valid = depth_gradients(torch.from_numpy(d)[None])
    gx, gy = _loop_gradients(d)
    assert not valid[0, 0, 2, 2] and not valid[0, 0, 2, 4] and not valid[0, 1, 1, 3]
    assert valid[0, 0, :, 0].sum() == 0 and valid[0, 1, 0, :].sum() == 0
    v = valid[0].numpy()
    assert np.allclose(grad[0, 0].numpy()[v[0]], gx[v[0]])
    assert np.allclose(grad[0, 1].numpy()[v[1]], gy[v[1]])
    assert np.all(grad[0].numpy()[~v] == 0)


def test_resize_gradients_rescales_to_new_grid() -> None:
    h, w = 20, 40
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    # a plane sampled at pixel centres: resizing it bilinearly keeps it a plane in the new grid
    plane = 1.0 + 0.03 * xx + 0.05 * yy
    grad, _ = depth_gradients(torch.from_numpy(plane)[None])
    small = resize_gradients(grad, (10, 20))
    assert np.allclose(small[0, 0, 2:-2, 2:-2].numpy(), 2 * 0.03 * 2, atol=1e-9)
    assert np.allclose(small[0, 1, 2:-2, 2:-2].numpy(), 2 * 0.05 * 2, atol=1e-9)


def _surface(h: int = 24, w: int = 32) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    plane = 2.0 + 0.05 * xx + 0.02 * yy
    bump = 0.5 * np.exp(-(((xx - w / 2) / 5) ** 2 + ((yy - h / 2) / 4) ** 2))
    return plane + bump


def test_fusion_recovers_surface_from_noisy_depth_and_exact_gradients() -> None:
    truth = _surface()
    gx, gy = _loop_gradients(truth)
    noisy = truth + np.random.default_rng(3).normal(0, 0.1, truth.shape)
    fused = fuse_depth_gradients(noisy, gx, gy, iterations=20)
    err_noisy = np.sqrt(np.mean((noisy - truth) ** 2))
    err_fused = np.sqrt(np.mean((fused - truth) ** 2))
    assert err_fused < err_noisy / 3
    assert fusion_objective(fused, noisy, gx, gy) < fusion_objective(noisy, noisy, gx, gy)


def test_fusion_irls_objective_never_increases() -> None:
    truth = _surface(12, 14)
    gx, gy = _loop_gradients(truth)
    rng = np.random.default_rng(5)
    noisy = truth + rng.normal(0, 0.2, truth.shape)
    gx_n, gy_n = gx + rng.normal(0, 0.05, gx.shape), gy + rng.normal(0, 0.05, gy.shape)
    values = [fusion_objective(noisy, noisy, gx_n, gy_n)]
    for it in range(1, 6):
        values.append(fusion_objective(fuse_depth_gradients(noisy, gx_n, gy_n, iterations=it, tol=0), noisy, gx_n, gy_n))
    assert all(b <= a + 1e-6 for a, b in itertools.pairwise(values))
    assert values[-1] < values[0]


def test_fusion_objective_matches_generic_optimiser() -> None:
    rng = np.random.default_rng(7)
    d_hat = rng.uniform(1, 3, size=(5, 6))
    gx, gy = rng.normal(0, 0.3, (5, 6)), rng.normal(0, 0.3, (5, 6))

    def phi(x: np.ndarray) -> np.ndarray:
        return np.sqrt(x * x + 1e-4)

    def objective(v: np.ndarray) -> float:  # written from the formula, independently of the module
        d = v.reshape(5, 6)
        rx = (d[:, 2:] - d[:, :-2]) - gx[:, 1:-1]
        ry = (d[2:, :] - d[:-2, :]) - gy[1:-1, :]
        return float(phi(d - d_hat).sum() + 10 * (phi(rx).sum() + phi(ry).sum()))

    reference = scipy.optimize.minimize(objective, d_hat.ravel(), method="L-BFGS-B", options={"maxiter": 5000}).fun
    fused = fuse_depth_gradients(d_hat, gx, gy, iterations=100, tol=1e-12)
    assert np.isclose(fusion_objective(fused, d_hat, gx, gy), objective(fused.astype(np.float64).ravel()), rtol=1e-5)
    assert objective(fused.astype(np.float64).ravel()) <= reference * (1 + 1e-3)


def test_fusion_with_invalid_depth_fills_from_gradients() -> None:
    truth = _surface(16, 20)
    gx, gy = _loop_gradients(truth)
    valid = np.ones_like(truth, dtype=bool)
    valid[5:10, 6:12] = False
    corrupted = np.where(valid, truth, 0.0)
    fused = fuse_depth_gradients(corrupted, gx, gy, depth_valid=valid, iterations=30)
    assert np.abs(fused - truth)[~valid].max() < 0.05
    with pytest.raises(UsageError):
        fuse_depth_gradients(corrupted, gx[:, :-1], gy)
