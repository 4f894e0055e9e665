"""Surface normals against analytic normals (tilted plane, sphere) and the error statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from depthbench.metrics.normals import normal_finalize, normal_maps, normal_stats
from depthbench.types import Intrinsics

H, W = 48, 64
K = Intrinsics(fx=60.0, fy=55.0, cx=31.5, cy=23.5)


def _rays() -> tuple[np.ndarray, np.ndarray]:
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    return (u - K.cx) / K.fx, (v - K.cy) / K.fy


def _plane_depth(normal: np.ndarray, offset: float) -> np.ndarray:
    """Camera-z depth of the plane n·P = offset: z = offset / (n · (a, b, 1))."""
    a, b = _rays()
    return offset / (normal[0] * a + normal[1] * b + normal[2])


def _unit(n) -> np.ndarray:
    n = torch.stack(n).double().numpy()
    return n / np.linalg.norm(n, axis=0, keepdims=True)


def test_tilted_plane_back_projected_normal_is_exact():
    normal = np.array([0.3, -0.2, 1.0])
    normal /= np.linalg.norm(normal)
    depth = _plane_depth(normal, 3.0).astype(np.float32)
    n = _unit(tuple(c[0] for c in normal_maps(torch.from_numpy(depth)[None], [K])))
    cos = np.abs(np.einsum("chw,c->hw", n, normal))
    assert cos.min() > 1 - 1e-6


def test_sphere_normals_are_radial():
    centre, radius = np.array([0.1, -0.05, 2.0]), 0.9
    a, b = _rays()
    d = np.stack([a, b, np.ones_like(a)])  # ray directions with z = 1
    # Ray–sphere intersection t² |d|² − 2 t d·c + |c|² − r² = 0, nearest root; z = t.
    dd, dc = (d * d).sum(0), np.einsum("chw,c->hw", d, centre)
    disc = dc**2 - dd * (centre @ centre - radius**2)
    hit = disc > 0
    t = np.where(hit, (dc - np.sqrt(np.where(hit, disc, 0))) / dd, 5.0)
    n = _unit(tuple(c[0] for c in normal_maps(torch.from_numpy(t.astype(np.float32))[None], [K])))
    points = d * t
    radial = (points - centre[:, None, None]) / radius
    inner = np.zeros_like(hit)
    inner[1:-1, 1:-1] = hit[2:, 1:-1] & hit[:-2, 1:-1] & hit[1:-1, 2:] & hit[1:-1, :-2] & hit[1:-1, 1:-1]
    inner &= disc > 0.05 * dd  # away from the silhouette, where finite differences are meaningful
    cos = np.abs(np.einsum("chw,chw->hw", n, radial[:, 1:-1, 1:-1]))[inner[1:-1, 1:-1]]
    assert inner.sum() > 200
    angles = np.degrees(np.arccos(np.clip(cos, -1, 1)))
    # Central differences are second-order accurate: small errors, largest near the silhouette.
    assert np.median(angles) < 0.5 and angles.max() < 4.0


def test_image_space_normal_of_a_linear_ramp():
    v, u = np.mgrid[0:H, 0:W].astype(np.float32)
    depth = 2.0 + 0.05 * u - 0.03 * v
    nx, ny, nz = normal_maps(torch.from_numpy(depth)[None], None)
    np.testing.assert_allclose(nx[0].numpy(), -0.05, atol=1e-5)
    np.testing.assert_allclose(ny[0].numpy(), 0.03, atol=1e-5)
    assert float(nz) == 1.0


def test_error_statistics_oracle():
    """Plane at a known angle to the GT plane: every pixel's error is that angle."""
    n_gt = np.array([0.0, 0.0, 1.0])
    tilt = np.radians(15.0)
    n_pred = np.array([np.sin(tilt), 0.0, np.cos(tilt)])
    gt = _plane_depth(n_gt, 3.0).astype(np.float32)
    pred = _plane_depth(n_pred, 3.0).astype(np.float32)
    mask = np.ones_like(gt, dtype=bool)
    values = normal_finalize(normal_stats(pred, gt, mask, [K])[0])
    assert values["normal_angle_mean"] == pytest.approx(15.0, abs=1e-3)
    assert values["normal_cos_dist"] == pytest.approx(1 - np.cos(tilt), abs=1e-6)
    assert (values["normal_within_11"], values["normal_within_22"], values["normal_within_30"]) == (0.0, 1.0, 1.0)


def test_mask_excludes_pixels_next_to_invalid(rng):
    gt = rng.uniform(1, 3, (1, H, W)).astype(np.float32)
    mask = np.ones_like(gt, dtype=bool)
    mask[0, 10, 10] = False
    assert normal_stats(gt, gt, mask)[0, 0] == (H - 2) * (W - 2) - 5


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.1, 10.0))
def test_identity_and_scale_invariance_with_intrinsics(seed, scale):
    gt = np.random.default_rng(seed).uniform(1, 3, (2, 16, 20)).astype(np.float32)
    mask = np.ones_like(gt, dtype=bool)
    k = Intrinsics(20.0, 20.0, 9.5, 7.5)
    values = normal_finalize(normal_stats(gt * np.float32(scale), gt, mask, [k, k]).sum(axis=0))
    assert values["normal_angle_mean"] < 0.05
    assert values["normal_cos_dist"] == pytest.approx(0.0, abs=1e-6)
    assert values["normal_within_11"] == 1.0


def test_mixed_intrinsics_batch_uses_each_images_rule(rng):
    gt = rng.uniform(1, 3, (2, H, W)).astype(np.float32)
    pred = (gt + rng.normal(0, 0.05, gt.shape)).astype(np.float32)
    mask = np.ones_like(gt, dtype=bool)
    mixed = normal_stats(pred, gt, mask, [K, None])
    np.testing.assert_allclose(mixed[0], normal_stats(pred[:1], gt[:1], mask[:1], [K])[0], rtol=1e-5)
    np.testing.assert_allclose(mixed[1], normal_stats(pred[1:], gt[1:], mask[1:], None)[0], rtol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(rng):
    gt = rng.uniform(1, 3, (2, H, W)).astype(np.float32)
    pred = (gt + rng.normal(0, 0.05, gt.shape)).astype(np.float32)
    mask = np.ones_like(gt, dtype=bool)
    cpu = normal_stats(pred, gt, mask, [K, K])
    cuda = normal_stats(*(torch.from_numpy(a).cuda() for a in (pred, gt, mask)), [K, K])
    np.testing.assert_allclose(cuda / cuda[:, :1], cpu / cpu[:, :1], atol=1e-5)


@pytest.mark.parametrize("with_k", [True, False])
def test_row_bands_equal_one_band(rng, monkeypatch, with_k):
    """CPU row bands (cache blocking) give the same sums as one whole-image band."""
    from depthbench.metrics import filters
    from depthbench.metrics.edges import edge_stats
    from depthbench.metrics.ssim import ssim_stats

    gt = rng.uniform(1, 3, (2, H, W)).astype(np.float32)
    pred = (gt + rng.normal(0, 0.05, gt.shape)).astype(np.float32)
    mask = rng.uniform(size=gt.shape) > 0.05
    ks = [K, K] if with_k else None
    whole = [normal_stats(pred, gt, mask, ks), edge_stats(pred, gt, mask), ssim_stats(pred, gt, mask, 0.0, 4.0)]
    monkeypatch.setattr(filters, "CPU_BAND_ROWS", 7)
    banded = [normal_stats(pred, gt, mask, ks), edge_stats(pred, gt, mask), ssim_stats(pred, gt, mask, 0.0, 4.0)]
    for x, y in zip(whole, banded):
        np.testing.assert_allclose(x, y, rtol=1e-5)
