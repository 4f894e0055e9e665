"""Sobel-edge F1 against a direct numpy Sobel / F1 oracle, and its properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from depthbench.align import align
from depthbench.metrics import MetricAccumulator, MetricBatch, discover_metrics
from depthbench.metrics.core import METRICS
from depthbench.metrics.edges import edge_finalize, edge_stats


def _numpy_sobel_magnitude(d: np.ndarray) -> np.ndarray:
    """Interior (H−2)×(W−2) Sobel magnitude written out term by term."""
    d = d.astype(np.float64)
    c = lambda dy, dx: d[1 + dy : d.shape[0] - 1 + dy, 1 + dx : d.shape[1] - 1 + dx]
    gx = (c(-1, 1) + 2 * c(0, 1) + c(1, 1)) - (c(-1, -1) + 2 * c(0, -1) + c(1, -1))
    gy = (c(1, -1) + 2 * c(1, 0) + c(1, 1)) - (c(-1, -1) + 2 * c(-1, 0) + c(-1, 1))
    return np.sqrt(gx**2 + gy**2)


def _oracle(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, t: float) -> tuple[float, float, float]:
    inner = np.ones((mask.shape[0] - 2, mask.shape[1] - 2), dtype=bool)
    for dy in range(3):
        for dx in range(3):
            inner &= mask[dy : dy + inner.shape[0], dx : dx + inner.shape[1]]
    ep = (_numpy_sobel_magnitude(pred) > t) & inner
    eg = (_numpy_sobel_magnitude(gt) > t) & inner
    tp = (ep & eg).sum()
    p = tp / ep.sum() if ep.sum() else 1.0
    r = tp / eg.sum() if eg.sum() else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _scene(rng: np.random.Generator, b: int = 3, h: int = 40, w: int = 50) -> tuple[np.ndarray, ...]:
    yy, xx = np.mgrid[0:h, 0:w]
    gts, preds = [], []
    for _ in range(b):
        g = 3 + 0.02 * xx + np.where((yy - rng.uniform(10, 30)) ** 2 + (xx - rng.uniform(10, 40)) ** 2 < 90, -1.0, 0.0)
        gts.append(g)
        preds.append(np.roll(g, int(rng.integers(0, 3)), axis=1) + rng.normal(0, 0.03, g.shape))
    mask = rng.uniform(size=(b, h, w)) > 0.02
    return np.stack(preds).astype(np.float32), np.stack(gts).astype(np.float32), mask


def test_matches_numpy_oracle(rng):
    pred, gt, mask = _scene(rng)
    stats = edge_stats(pred, gt, mask)
    for i in range(len(gt)):
        values = edge_finalize(stats[i])
        p, r, f = _oracle(pred[i], gt[i], mask[i], 0.5)
        assert values["edge_precision"] == pytest.approx(p)
        assert values["edge_recall"] == pytest.approx(r)
        assert values["edge_f1"] == pytest.approx(f)
        assert values["edge_f1_025"] == pytest.approx(_oracle(pred[i], gt[i], mask[i], 0.25)[2])
        assert values["edge_f1_100"] == pytest.approx(_oracle(pred[i], gt[i], mask[i], 1.0)[2])


def test_identity_is_perfect(rng):
    _, gt, mask = _scene(rng)
    for row in edge_stats(gt, gt, mask):
        assert row[1] > 0  # the scene has edges
        assert all(v == 1.0 for v in edge_finalize(row).values())


def test_empty_edge_conventions():
    flat = np.full((1, 10, 10), 2.0, dtype=np.float32)
    step = flat.copy()
    step[:, :, 5:] = 4.0
    mask = np.ones_like(flat, dtype=bool)
    assert edge_finalize(edge_stats(flat, flat, mask)[0])["edge_f1"] == 1.0
    missed = edge_finalize(edge_stats(flat, step, mask)[0])
    assert missed["edge_precision"] == 1.0 and missed["edge_recall"] == 0.0 and missed["edge_f1"] == 0.0


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.2, 5.0))
def test_invariant_to_median_alignment(seed, scale):
    """A prediction off by a global scale scores perfectly after the protocol's median alignment."""
    _, gt, mask = _scene(np.random.default_rng(seed), b=2)
    aligned = align(gt * np.float32(scale), gt, mask, mode="median")
    values = edge_finalize(edge_stats(aligned, gt, mask)[0])
    assert values["edge_f1"] == pytest.approx(1.0)


def test_streaming_equals_one_shot(rng):
    discover_metrics()
    family = METRICS.get("edge_f1")
    pred, gt, mask = _scene(rng, b=4)
    acc = MetricAccumulator(family)
    acc.update(family.stats(MetricBatch(pred=pred[:1], gt=gt[:1], mask=mask[:1])))
    acc.update(family.stats(MetricBatch(pred=torch.from_numpy(pred[1:]), gt=torch.from_numpy(gt[1:]), mask=torch.from_numpy(mask[1:]))))
    expected = np.mean([_oracle(pred[i], gt[i], mask[i], 0.5)[2] for i in range(4)])
    assert acc.compute("pooled")["edge_f1"] == pytest.approx(expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(rng):
    pred, gt, mask = _scene(rng)
    cuda = edge_stats(*(torch.from_numpy(a).cuda() for a in (pred, gt, mask)))
    np.testing.assert_allclose(cuda, edge_stats(pred, gt, mask), atol=1e-5)
