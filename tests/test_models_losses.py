"""Losses of seeds 000 (DenseDepth) and 004 (scale-invariant / shift-and-scale-invariant) against
independent oracles written here: O(N²) pair sums in numpy, skimage's SSIM, the formulas by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from depthbench.errors import UnknownNameError, UsageError
from depthbench.losses import get_loss, list_losses
from depthbench.losses.densedepth_loss import densedepth_loss, ssim_map
from depthbench.losses.scale_invariant import (
    scale_invariant_pairwise_loss,
    shift_scale_invariant_loss,
    uts_utss_mixture_loss,
)


def si_oracle(pred_log: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """Eq. 1 literally: mean over unordered pairs of distinct valid pixels, per image, then batch mean."""
    losses = []
    for p, t, m in zip(pred_log, target, mask):
        a = p[m].astype(np.float64)
        b = np.log(t[m].astype(np.float64))
        n = a.size
        if n < 2:
            continue
        total = 0.0
        for i in range(n):
            for j in range(i + 1, n):
                total += abs((a[i] - a[j]) - (b[i] - b[j]))
        losses.append(total / (n * (n - 1) / 2))
    return float(np.mean(losses)) if losses else 0.0


def ssi_oracle(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    losses = []
    for p, t, m in zip(pred, target, mask):
        a = p[m].astype(np.float64)
        b = t[m].astype(np.float64)
        if a.size < 2:
            continue
        an = (a - a.mean()) / np.sqrt(a.var() + 1e-8)
        bn = (b - b.mean()) / np.sqrt(b.var() + 1e-8)
        losses.append(np.abs(an - bn).mean())
    return float(np.mean(losses)) if losses else 0.0


def test_registry_lists_the_losses() -> None:
    names = list_losses()
    for name in ("densedepth", "scale-invariant-pairwise", "shift-scale-invariant", "uts-utss-mixture"):
        assert name in names
    assert get_loss("si-pairwise") is scale_invariant_pairwise_loss
    with pytest.raises(UnknownNameError):
        get_loss("scale-invariant-pairwize-typo")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_si_pairwise_equals_quadratic_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    b, h, w = 3, 5, 7
    pred = rng.normal(size=(b, h, w)).astype(np.float32)
    target = rng.uniform(0.5, 20.0, size=(b, h, w)).astype(np.float32)
    mask = rng.random((b, h, w)) > 0.3
    mask[2] = False
    mask[2, 0, 0] = True  # one valid pixel: no pairs, sample excluded
    got = scale_invariant_pairwise_loss(
        torch.from_numpy(pred), torch.from_numpy(target), torch.from_numpy(mask)
    )
    assert float(got) == pytest.approx(si_oracle(pred, target, mask), rel=1e-5, abs=1e-6)


@settings(max_examples=30, deadline=None)
@given(
    data=st.lists(st.floats(-3, 3, allow_nan=False, width=32), min_size=2, max_size=40),
    scale=st.floats(0.01, 100.0),
    seed=st.integers(0, 2**16),
)
def test_si_pairwise_property_matches_oracle_and_is_scale_invariant(
    data: list[float], scale: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    pred = np.array(data, dtype=np.float32).reshape(1, 1, -1)
    target = rng.uniform(0.1, 10.0, size=pred.shape).astype(np.float32)
    mask = rng.random(pred.shape) > 0.2
    mask[0, 0, :2] = True
    t_pred, t_target, t_mask = map(torch.from_numpy, (pred, target, mask))
    base = float(scale_invariant_pairwise_loss(t_pred, t_target, t_mask))
    assert base == pytest.approx(si_oracle(pred, target, mask), rel=1e-4, abs=1e-5)
    scaled = float(scale_invariant_pairwise_loss(t_pred, t_target * scale, t_mask))
    assert scaled == pytest.approx(base, rel=1e-3, abs=1e-4)


def test_si_pairwise_gradient_matches_quadratic_autograd() -> None:
    torch.manual_seed(0)
    pred = torch.randn(2, 4, 5, dtype=torch.float64, requires_grad=True)
    target = torch.rand(2, 4, 5, dtype=torch.float64) + 0.5
    mask = torch.rand(2, 4, 5) > 0.25
    scale_invariant_pairwise_loss(pred, target, mask).backward()
    fast_grad = pred.grad.clone()

    pred2 = pred.detach().clone().requires_grad_(True)
    per = []
    for p, t, m in zip(pred2, target, mask):
        r = (p - torch.log(t))[m]
        diff = (r[:, None] - r[None, :]).abs()
        n = r.numel()
        per.append(diff.sum() / 2 / (n * (n - 1) / 2))
    torch.stack(per).mean().backward()
    assert torch.allclose(fast_grad, pred2.grad, atol=1e-12)
    assert fast_grad[~mask].abs().max() == 0


def test_si_pairwise_zero_for_scaled_prediction_and_empty_mask() -> None:
    target = torch.rand(2, 6, 6) + 0.2
    assert float(scale_invariant_pairwise_loss(torch.log(target * 3.7), target)) == pytest.approx(
        0.0, abs=1e-6
    )
    pred = torch.zeros(2, 6, 6, requires_grad=True)
    out = scale_invariant_pairwise_loss(pred, target, torch.zeros(2, 6, 6, dtype=torch.bool))
    assert float(out.detach()) == 0.0
    out.backward()  # still differentiable


def test_ssi_matches_oracle_and_invariances() -> None:
    rng = np.random.default_rng(3)
    pred = rng.normal(size=(3, 8, 9)).astype(np.float32)
    target = rng.uniform(0, 2, size=(3, 8, 9)).astype(np.float32)
    mask = rng.random((3, 8, 9)) > 0.4
    t = [torch.from_numpy(a) for a in (pred, target, mask)]
    got = float(shift_scale_invariant_loss(*t))
    assert got == pytest.approx(ssi_oracle(pred, target, mask), rel=1e-5)
    moved = float(shift_scale_invariant_loss(t[0] * 4.0 + 2.5, t[1] * 0.3 - 1.0, t[2]))
    assert moved == pytest.approx(got, rel=1e-4)
    assert float(shift_scale_invariant_loss(t[1] * 2 + 1, t[1], t[2])) == pytest.approx(0.0, abs=1e-5)


def test_mixture_is_si_plus_ssi_per_sample() -> None:
    rng = np.random.default_rng(5)
    pred = rng.normal(size=(2, 6, 7)).astype(np.float32)
    depth = rng.uniform(0.5, 8.0, size=(2, 6, 7)).astype(np.float32)
    disparity_utss = (3.0 / depth + 0.7).astype(np.float32)
    target = np.stack([depth[0], disparity_utss[1]])
    mask = rng.random((2, 6, 7)) > 0.2
    is_uts = torch.tensor([True, False])
    got = float(
        uts_utss_mixture_loss(
            torch.from_numpy(pred), torch.from_numpy(target), torch.from_numpy(mask), is_uts
        )
    )
    inv_pred = np.exp(-pred.astype(np.float64))
    s0 = si_oracle(pred[:1], depth[:1], mask[:1]) + ssi_oracle(inv_pred[:1], 1.0 / depth[:1], mask[:1])
    s1 = ssi_oracle(inv_pred[1:], disparity_utss[1:], mask[1:])
    assert got == pytest.approx((s0 + s1) / 2, rel=1e-4)
    with pytest.raises(UsageError):
        uts_utss_mixture_loss(torch.from_numpy(pred), torch.from_numpy(target), None, torch.tensor([True]))


def test_ssim_map_matches_skimage() -> None:
    skimage_metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(7)
    x = rng.uniform(1, 25, size=(32, 40))
    y = np.clip(x + rng.normal(scale=2.0, size=x.shape), 1, 25)
    ref = skimage_metrics.structural_similarity(
        x, y, data_range=25.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    ours = ssim_map(torch.from_numpy(x)[None], torch.from_numpy(y)[None], data_range=25.0).mean()
    assert float(ours) == pytest.approx(ref, rel=1e-6)


def densedepth_oracle(pred: np.ndarray, depth: np.ndarray, data_range: float) -> float:
    """Full-mask DenseDepth loss, from the formula, with skimage's SSIM (mean over the batch)."""
    from skimage.metrics import structural_similarity

    target = 10.0 / np.clip(depth, 0.4, 10.0)
    l_depth = np.abs(pred - target).mean()
    gx = np.abs(np.diff(pred, axis=2) - np.diff(target, axis=2)).mean()
    gy = np.abs(np.diff(pred, axis=1) - np.diff(target, axis=1)).mean()
    ssim = np.mean(
        [
            structural_similarity(
                p, t, data_range=data_range, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
            )
            for p, t in zip(pred, target)
        ]
    )
    return 0.1 * l_depth + gx + gy + np.clip((1 - ssim) / 2, 0, 1)


def test_densedepth_loss_matches_formula() -> None:
    pytest.importorskip("skimage")
    rng = np.random.default_rng(11)
    depth = rng.uniform(0.1, 12.0, size=(2, 24, 30))
    pred = rng.uniform(1.0, 25.0, size=(2, 24, 30))
    got = densedepth_loss(torch.from_numpy(pred), torch.from_numpy(depth), ssim_data_range=100.0)
    assert float(got) == pytest.approx(densedepth_oracle(pred, depth, 100.0), rel=1e-6)


def test_densedepth_loss_mask_and_gradient() -> None:
    rng = np.random.default_rng(12)
    depth = torch.from_numpy(rng.uniform(0.5, 9.0, size=(2, 20, 20)).astype(np.float32))
    target = 10.0 / depth
    assert float(densedepth_loss(target.clone(), depth)) == pytest.approx(0.0, abs=1e-6)
    # garbage at masked pixels is ignored by the L1 and gradient terms; the SSIM term only sees valid centres
    mask = torch.ones_like(depth, dtype=torch.bool)
    mask[:, :, :3] = False
    depth_bad = depth.clone()
    depth_bad[~mask] = 0.0
    pred = target.clone().requires_grad_(True)
    loss = densedepth_loss(pred, depth_bad, mask)
    loss.backward()
    assert torch.isfinite(pred.grad).all()
    assert float(loss.detach()) < 0.02
    with pytest.raises(UsageError):
        densedepth_loss(pred, depth[0])
