"""mSSIM families against scikit-image (an independent implementation) and SSIM properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.metrics import structural_similarity

from depthbench.metrics import MetricAccumulator, MetricBatch, discover_metrics
from depthbench.metrics.core import METRICS
from depthbench.metrics.ssim import mssim, ssim_stats

LO, HI = 1e-3, 10.0


def _pair(rng: np.random.Generator, b: int = 2, h: int = 40, w: int = 56) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w]
    gt = (2 + 4 * xx / w + 2 * np.sin(yy / 5.0))[None].repeat(b, 0) + rng.uniform(0, 0.5, (b, h, w))
    pred = gt * rng.uniform(0.8, 1.2) + rng.normal(0, 0.4, gt.shape)
    return np.clip(pred, LO, HI).astype(np.float32), gt.astype(np.float32)


def _vis(d: np.ndarray) -> np.ndarray:
    return np.clip((d.astype(np.float64) - LO) / (HI - LO), 0, 1)


def test_gaussian_matches_skimage(rng):
    pred, gt = _pair(rng)
    mask = np.ones_like(gt, dtype=bool)
    ref = np.mean([structural_similarity(_vis(gt[i]), _vis(pred[i]), data_range=1.0, gaussian_weights=True,
                                         sigma=1.5, use_sample_covariance=False) for i in range(len(gt))])
    assert mssim(pred, gt, mask, LO, HI) == pytest.approx(ref, abs=1e-5)


def test_uniform7_matches_skimage_default(rng):
    pred, gt = _pair(rng)
    mask = np.ones_like(gt, dtype=bool)
    ref = np.mean([structural_similarity(_vis(gt[i]), _vis(pred[i]), data_range=1.0) for i in range(len(gt))])
    assert mssim(pred, gt, mask, LO, HI, window="uniform7") == pytest.approx(ref, abs=1e-5)


def test_rectangular_mask_equals_ssim_of_the_crop(rng):
    pred, gt = _pair(rng, b=1, h=48, w=64)
    mask = np.zeros_like(gt, dtype=bool)
    mask[:, 5:40, 7:60] = True
    ref = structural_similarity(_vis(gt[0, 5:40, 7:60]), _vis(pred[0, 5:40, 7:60]), data_range=1.0,
                                gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    assert mssim(pred, gt, mask, LO, HI) == pytest.approx(ref, abs=1e-5)


def test_windows_touching_invalid_pixels_are_excluded(rng):
    pred, gt = _pair(rng, b=1)
    mask = np.ones_like(gt, dtype=bool)
    mask[0, 20, 30] = False
    stats = ssim_stats(pred, gt, mask, LO, HI)
    h, w = gt.shape[1:]
    assert stats[0, 0] == (h - 10) * (w - 10) - 11 * 11
    # Whatever the prediction does at the invalid pixel does not change the value.
    pred2 = pred.copy()
    pred2[0, 20, 30] = 9.9
    assert ssim_stats(pred2, gt, mask, LO, HI)[0, 1] == pytest.approx(stats[0, 1], rel=1e-6)


def test_sparse_mask_is_skipped(rng):
    pred, gt = _pair(rng, b=1)
    mask = np.zeros_like(gt, dtype=bool)
    mask[0, ::3, ::3] = True
    assert ssim_stats(pred, gt, mask, LO, HI)[0, 0] == 0
    assert np.isnan(mssim(pred, gt, mask, LO, HI))


def test_identity_is_one(rng):
    _, gt = _pair(rng)
    mask = np.ones_like(gt, dtype=bool)
    assert mssim(gt, gt, mask, LO, HI) == pytest.approx(1.0, abs=1e-6)
    assert mssim(gt, gt, mask, LO, HI, window="uniform7") == pytest.approx(1.0, abs=1e-6)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_symmetric(seed):
    pred, gt = _pair(np.random.default_rng(seed), b=1)
    mask = np.ones_like(gt, dtype=bool)
    assert mssim(pred, gt, mask, LO, HI) == pytest.approx(mssim(gt, pred, mask, LO, HI), abs=1e-6)


def test_streaming_equals_one_shot_and_per_image_averaging(rng):
    discover_metrics()
    family = METRICS.get("ssim")
    assert family.averaging == "per_image"
    pred, gt = _pair(rng, b=4)
    mask = np.ones_like(gt, dtype=bool)
    params = {"min_depth": LO, "max_depth": HI}
    acc = MetricAccumulator(family)
    for i in range(0, 4, 2):
        acc.update(family.stats(MetricBatch(pred=pred[i : i + 2], gt=gt[i : i + 2], mask=mask[i : i + 2], params=params)))
    one_shot = mssim(pred, gt, mask, LO, HI)
    assert acc.compute("pooled")["mssim"] == pytest.approx(one_shot, abs=1e-9)
    assert acc.compute("per_image")["mssim"] == pytest.approx(one_shot, abs=1e-9)


def test_torch_and_numpy_inputs_agree(rng):
    pred, gt = _pair(rng)
    mask = np.ones_like(gt, dtype=bool)
    a = ssim_stats(pred, gt, mask, LO, HI)
    b = ssim_stats(torch.from_numpy(pred), torch.from_numpy(gt), torch.from_numpy(mask), LO, HI)
    np.testing.assert_array_equal(a, b)


def test_missing_cap_is_an_error(rng):
    pred, gt = _pair(rng)
    with pytest.raises(ValueError, match="max_depth"):
        discover_metrics()
        METRICS.get("ssim").stats(MetricBatch(pred=pred, gt=gt, mask=np.ones_like(gt, dtype=bool)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(rng):
    pred, gt = _pair(rng)
    mask = np.ones_like(gt, dtype=bool)
    cpu = ssim_stats(pred, gt, mask, LO, HI)
    cuda = ssim_stats(*(torch.from_numpy(a).cuda() for a in (pred, gt, mask)), LO, HI)
    np.testing.assert_allclose(cuda[:, 1] / cuda[:, 0], cpu[:, 1] / cpu[:, 0], atol=1e-5)
