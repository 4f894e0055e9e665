"""Alignment: exact recovery, invariances (hypothesis), degenerate cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from depthbench.align import ALIGN_MODES, align, align_with_info, resolve_alignment
from depthbench.types import DepthKind


def scene(seed: int, b: int = 2, h: int = 12, w: int = 15):
    rng = np.random.default_rng(seed)
    g = rng.uniform(0.5, 8.0, (b, h, w))
    m = rng.random((b, h, w)) > 0.2
    m[:, 0, 0] = True
    return g, m


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(1e-2, 1e2))
def test_median_and_lsq_invariant_to_prediction_scale(seed, scale):
    g, m = scene(seed)
    rng = np.random.default_rng(seed + 1)
    p = g * rng.uniform(0.7, 1.3, g.shape)
    for mode in ("median", "lsq_scale", "lsq_scale_shift", "uts_log"):
        a = align(p, g, m, mode)
        b = align(p * scale, g, m, mode)
        np.testing.assert_allclose(a[m], b[m], rtol=1e-5, err_msg=mode)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(1e-2, 1e2), shift=st.floats(-0.05, 5.0))
def test_disparity_mode_invariant_to_scale_and_shift(seed, scale, shift):
    g, m = scene(seed)
    rng = np.random.default_rng(seed + 2)
    disp = (1.0 / g) * rng.uniform(0.8, 1.2, g.shape)
    a = align(disp, g, m, "lsq_scale_shift_disparity", kind="utss", max_depth=10.0)
    b = align(disp * scale + shift, g, m, "lsq_scale_shift_disparity", kind="utss", max_depth=10.0)
    np.testing.assert_allclose(a[m], b[m], rtol=2e-4)


def test_exact_recovery_of_affine_disparity():
    g, m = scene(3)
    aligned, info = align_with_info(2.5 / g + 0.3, g, m, "lsq_scale_shift_disparity", kind="utss", max_depth=10)
    np.testing.assert_allclose(aligned[m], g[m], rtol=1e-5)
    np.testing.assert_allclose(info.scale, 0.4, rtol=1e-6)
    np.testing.assert_allclose(info.shift, -0.12, rtol=1e-6)


def test_median_oracle():
    g, m = scene(4)
    p = g**1.3
    aligned = align(p, g, m, "median")
    for b in range(len(g)):
        s = np.median(g[b][m[b]]) / np.median(p[b][m[b]])
        np.testing.assert_allclose(aligned[b], (p[b] * s).astype(np.float32), rtol=1e-6)


def test_lsq_scale_shift_oracle():
    g, m = scene(5)
    p = np.sqrt(g)
    aligned, info = align_with_info(p, g, m, "lsq_scale_shift")
    for b in range(len(g)):
        a = np.stack([p[b][m[b]], np.ones(m[b].sum())], 1)
        s, t = np.linalg.lstsq(a, g[b][m[b]], rcond=None)[0]
        assert info.scale[b] == pytest.approx(s, rel=1e-8)
        assert info.shift[b] == pytest.approx(t, rel=1e-8, abs=1e-10)


def test_uts_log_oracle():
    g, m = scene(6)
    p = g * np.exp(np.random.default_rng(0).normal(0, 0.1, g.shape)) * 3
    aligned = align(p, g, m, "uts_log")
    for b in range(len(g)):
        shift = np.median(np.log(g[b][m[b]]) - np.log(p[b][m[b]]))
        np.testing.assert_allclose(aligned[b], (p[b] * np.exp(shift)).astype(np.float32), rtol=1e-6)


def test_degenerate_cases_reported():
    g, m = scene(7, b=3)
    p = np.ones_like(g)
    m[2] = False
    _, info = align_with_info(p, g, m, "lsq_scale_shift")
    assert info.status == ["degenerate", "degenerate", "empty_mask"]
    _, info = align_with_info(-g, g, m, "lsq_scale")
    assert info.status[0] == "negative_scale"
    out, info = align_with_info(g, g, m, "median")
    np.testing.assert_allclose(out[2], g[2].astype(np.float32))  # empty mask: unchanged


def test_torch_input_keeps_type_and_device():
    g, m = scene(8)
    out = align(torch.from_numpy(g * 2).float(), torch.from_numpy(g).float(), torch.from_numpy(m), "median")
    assert isinstance(out, torch.Tensor) and out.shape == g.shape


def test_single_image_shape():
    g, m = scene(9, b=1)
    assert align(g[0] * 2, g[0], m[0], "median").shape == g[0].shape


def test_auto_alignment_by_kind():
    assert resolve_alignment("auto", DepthKind.METRIC) == "none"
    assert resolve_alignment("auto", DepthKind.UTS) == "median"
    assert resolve_alignment("auto", DepthKind.UTSS) == "lsq_scale_shift_disparity"
    assert set(ALIGN_MODES) >= {"none", "median", "uts_log"}
