"""Eigen metrics against an independent numpy oracle written from the formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from depthbench.metrics import MetricAccumulator, METRICS, eigen_metrics, eigen_stats
from depthbench.metrics.ordinal import whdr


def oracle_one(p: np.ndarray, g: np.ndarray) -> dict[str, float]:
    """Eigen et al. 2014 metrics over the given valid pixels (float64)."""
    p = p.astype(np.float64)
    g = g.astype(np.float64)
    thresh = np.maximum(p / g, g / p)
    d = np.log(p) - np.log(g)
    return {
        "abs_rel": np.mean(np.abs(p - g) / g),
        "sq_rel": np.mean((p - g) ** 2 / g),
        "rmse": math.sqrt(np.mean((p - g) ** 2)),
        "rmse_log": math.sqrt(np.mean(d**2)),
        "log10": np.mean(np.abs(np.log10(p) - np.log10(g))),
        "silog": 100 * math.sqrt(np.mean(d**2) - np.mean(d) ** 2),
        "delta1": np.mean(thresh < 1.25),
        "delta2": np.mean(thresh < 1.25**2),
        "delta3": np.mean(thresh < 1.25**3),
    }


def make_batch(rng: np.random.Generator, b: int = 3, h: int = 37, w: int = 53, dtype=np.float32):
    g = rng.uniform(0.3, 12.0, (b, h, w)).astype(dtype)
    p = (g * rng.uniform(0.6, 1.6, (b, h, w))).astype(dtype)
    m = rng.random((b, h, w)) > 0.35
    return p, g, m


def test_pooled_matches_oracle(rng):
    p, g, m = make_batch(rng)
    got = eigen_metrics(p, g, m, average="pooled")
    want = oracle_one(p[m], g[m])
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-6, abs=1e-9), k


def test_per_image_matches_oracle(rng):
    p, g, m = make_batch(rng)
    got = eigen_metrics(p, g, m, average="per_image")
    per = [oracle_one(p[i][m[i]], g[i][m[i]]) for i in range(len(p))]
    for k in got:
        assert got[k] == pytest.approx(np.mean([x[k] for x in per]), rel=1e-6, abs=1e-9), k


def test_pooled_differs_from_per_image_with_unequal_masks(rng):
    p, g, m = make_batch(rng)
    m[0, :30] = False  # images with very different pixel counts weigh differently
    assert eigen_metrics(p, g, m, average="pooled")["abs_rel"] != pytest.approx(
        eigen_metrics(p, g, m, average="per_image")["abs_rel"], rel=1e-6
    )


def test_float64_and_torch_inputs_agree(rng):
    p, g, m = make_batch(rng)
    ref = eigen_metrics(p, g, m)
    as64 = eigen_metrics(p.astype(np.float64), g.astype(np.float64), m)
    as_torch = eigen_metrics(torch.from_numpy(p), torch.from_numpy(g), torch.from_numpy(m))
    torch_backend = eigen_metrics(torch.from_numpy(p), torch.from_numpy(g), torch.from_numpy(m), backend="torch")
    for k in ref:
        assert as64[k] == pytest.approx(ref[k], rel=1e-6)
        assert as_torch[k] == pytest.approx(ref[k], rel=1e-12)
        assert torch_backend[k] == pytest.approx(ref[k], rel=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(rng):
    p, g, m = make_batch(rng)
    ref = eigen_metrics(p, g, m)
    got = eigen_metrics(torch.from_numpy(p).cuda(), torch.from_numpy(g).cuda(), torch.from_numpy(m).cuda())
    for k in ref:
        assert got[k] == pytest.approx(ref[k], rel=1e-5)


def test_single_image_and_default_mask(rng):
    p, g, _ = make_batch(rng, b=1)
    g[0, :5] = 0.0
    g[0, 5, :3] = np.nan
    valid = np.isfinite(g[0]) & (g[0] > 0)
    got = eigen_metrics(p[0], g[0])
    want = oracle_one(p[0][valid], g[0][valid])
    assert got["rmse"] == pytest.approx(want["rmse"], rel=1e-6)


def test_delta_threshold_is_strict():
    g = np.ones((1, 4), dtype=np.float32)
    p = np.array([[1.25, 1.0, 1 / 1.25, 2.0]], dtype=np.float32)
    got = eigen_metrics(p, g, np.ones_like(g, dtype=bool))
    ratio = np.maximum(p / g, g / p)
    assert got["delta1"] == pytest.approx(np.mean(ratio < 1.25))


def test_identity_gives_perfect_scores(rng):
    _, g, m = make_batch(rng)
    got = eigen_metrics(g, g, m)
    assert got["abs_rel"] == 0 and got["rmse"] == 0 and got["delta1"] == 1.0
    assert got["silog"] == pytest.approx(0.0, abs=1e-4)


def test_streaming_equals_one_shot_and_merges(rng):
    p, g, m = make_batch(rng, b=6)
    family = METRICS.get("eigen")
    a, b = MetricAccumulator(family), MetricAccumulator(family)
    a.update(eigen_stats(p[:2], g[:2], m[:2]))
    b.update(eigen_stats(p[2:], g[2:], m[2:]))
    summed = MetricAccumulator(family)
    summed.load_state(a.state + b.state)  # what an all_reduce of states gives
    for averaging in ("pooled", "per_image"):
        one_shot = eigen_metrics(p, g, m, average=averaging)
        for k, v in summed.compute(averaging).items():
            assert v == pytest.approx(one_shot[k], rel=1e-12), (averaging, k)


def test_empty_image_is_skipped(rng):
    p, g, m = make_batch(rng, b=2)
    m[1] = False
    got = eigen_metrics(p, g, m, average="per_image")
    assert got["rmse"] == pytest.approx(oracle_one(p[0][m[0]], g[0][m[0]])["rmse"], rel=1e-6)


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(0.05, 20.0), seed=st.integers(0, 1000))
def test_scale_invariant_metrics_under_global_scale(scale, seed):
    """silog depends on log-differences minus their mean: invariant to a global scale of pred."""
    rng = np.random.default_rng(seed)
    p, g, m = make_batch(rng, b=1, h=9, w=11, dtype=np.float64)
    base = eigen_metrics(p, g, m)["silog"]
    scaled = eigen_metrics(p * scale, g, m)["silog"]
    assert scaled == pytest.approx(base, rel=1e-6, abs=1e-6)


def test_whdr_oracle():
    pred = np.arange(12, dtype=np.float32).reshape(3, 4)  # depth grows along rows
    pairs = np.array([[0, 0, 2, 3, -1], [2, 3, 0, 0, 1], [1, 1, 1, 1, 1], [0, 1, 0, 2, 1]], dtype=np.int32)
    # pair 1: A closer than B, rel -1 → correct; pair 2 correct; pair 3 tie → wrong; pair 4 wrong.
    assert whdr(pred, pairs, "metric") == pytest.approx(0.5)
    # As disparity, the ordering flips: pairs 1, 2 wrong, 4 correct, 3 still a tie.
    assert whdr(pred, pairs, "utss") == pytest.approx(0.75)
