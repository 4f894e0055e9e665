"""UTS / UTSS conversions and the mixture builder."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from depthbench.errors import DataError, UsageError
from depthbench.prep.uts import build_mixture, sample_to_uts, sample_to_utss, to_uts, to_utss
from depthbench.types import DepthKind, Sample, SampleMeta


def make_sample(i: int, rng: np.random.Generator) -> Sample:
    depth = rng.uniform(0.5, 10.0, size=(6, 8)).astype(np.float32)
    depth[0, :3] = 0
    depth[1, 0] = np.nan
    meta = SampleMeta(dataset="toy", split="train", sample_id=f"s{i}", extra={"keep": 1})
    return Sample(image=np.zeros((6, 8, 3), np.uint8), kind=DepthKind.METRIC, meta=meta, depth=depth)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_uts_is_positive_scale_of_depth(seed: int) -> None:
    depth = np.random.default_rng(seed).uniform(0.5, 20, size=(5, 7)).astype(np.float32)
    depth[2, 3] = 0
    out, s = to_uts(depth, seed=seed, scale_range=(0.5, 4.0))
    assert 0.5 <= s <= 4.0
    assert out[2, 3] == 0
    mask = depth > 0
    np.testing.assert_allclose(out[mask], depth[mask].astype(np.float64) * s, rtol=1e-6)
    again, s2 = to_uts(depth, seed=seed, scale_range=(0.5, 4.0))
    assert s2 == s and np.array_equal(again, out)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_utss_is_affine_in_inverse_depth(seed: int) -> None:
    depth = np.random.default_rng(seed).uniform(0.5, 20, size=(5, 7))
    depth[0, 0] = 0
    out, s, t = to_utss(depth, seed=seed)
    mask = depth > 0
    inv = 1.0 / depth[mask]
    assert 0 <= t <= s * np.median(inv) + 1e-12
    np.testing.assert_allclose(out[mask], s * inv + t, rtol=1e-6)
    assert out[0, 0] == 0 and (out[mask] > 0).all()
    # Recovering (s, t) by least squares on 1/d gives them back.
    fit = np.linalg.lstsq(np.stack([inv, np.ones_like(inv)], 1), out[mask].astype(np.float64), rcond=None)[0]
    np.testing.assert_allclose(fit, [s, t], rtol=1e-4, atol=1e-5 * s)


def test_sample_conversion_records_kind_and_coefficients() -> None:
    sample = make_sample(0, np.random.default_rng(0))
    uts = sample_to_uts(sample, seed=7)
    assert uts.kind == DepthKind.UTS and uts.meta.extra["keep"] == 1
    assert uts.meta.extra["conversion_seed"] == [7]
    np.testing.assert_allclose(
        uts.depth[sample.valid], sample.depth[sample.valid] * uts.meta.extra["uts_scale"], rtol=1e-6
    )
    assert np.array_equal(uts.valid, sample.valid) and uts.depth[1, 0] == 0
    utss = sample_to_utss(sample, seed=[7, 1])
    assert utss.kind == DepthKind.UTSS and utss.meta.extra["conversion_seed"] == [7, 1]
    assert {"utss_scale", "utss_shift"} <= set(utss.meta.extra)
    with pytest.raises(UsageError, match="metric"):
        sample_to_uts(uts, seed=1)


def test_mixture_counts_determinism_and_independence() -> None:
    rng = np.random.default_rng(1)
    samples = [make_sample(i, rng) for i in range(20)]
    mixed = build_mixture(samples, p_uts=30, p_utss=25, seed=3)
    kinds = [s.kind for s in mixed]
    assert kinds.count(DepthKind.UTS) == 6 and kinds.count(DepthKind.UTSS) == 5
    assert kinds.count(DepthKind.METRIC) == 9
    again = build_mixture(samples, p_uts=30, p_utss=25, seed=3)
    for a, b in zip(mixed, again):
        assert a.kind == b.kind and np.array_equal(a.depth, b.depth, equal_nan=True)
    # sample i's coefficients come from rng([seed, i]) only
    for i, s in enumerate(mixed):
        if s.kind == DepthKind.UTS:
            assert s.meta.extra["uts_scale"] == to_uts(samples[i].depth, seed=[3, i])[1]
        if s.kind == DepthKind.METRIC:
            assert s is samples[i]
    assert [s.kind for s in build_mixture(samples, 0, seed=3)] == [DepthKind.METRIC] * 20
    assert [s.kind for s in build_mixture(samples, 100, seed=3)] == [DepthKind.UTS] * 20


def test_errors() -> None:
    with pytest.raises(UsageError, match="p_uts"):
        build_mixture([], 80, 30, seed=0)
    with pytest.raises(DataError, match="no valid pixel"):
        to_utss(np.zeros((3, 3)), seed=0)
    with pytest.raises(UsageError, match="scale_range"):
        to_uts(np.ones((3, 3)), seed=0, scale_range=(0.0, 1.0))
