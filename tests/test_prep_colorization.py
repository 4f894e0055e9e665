"""Colorization inpainting against an independent dense oracle of the same equations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from depthbench.errors import DataError, UsageError
from depthbench.prep import fill_depth_colorization, fill_depth_colorization_direct

# ../shared next to the checkout (a worktree under wt/ has it two levels up).
_SHARED = [Path(__file__).parents[1] / ".." / "shared", Path(__file__).parents[1] / ".." / ".." / "shared"]
FIXTURES = next((p for p in _SHARED if p.exists()), _SHARED[0]) / "fixtures"


def oracle_fill(rgb: np.ndarray, depth: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Dense, loop-by-loop transcription of the Levin/NYU equations (independent of the package)."""
    rgb01 = rgb / 255.0 if rgb.dtype == np.uint8 else rgb.astype(np.float64)
    gray = 0.2125 * rgb01[..., 0] + 0.7154 * rgb01[..., 1] + 0.0721 * rgb01[..., 2]
    h, w = depth.shape
    known = depth > 0
    dmax = depth.max()
    a = np.zeros((h * w, h * w))
    b = np.zeros(h * w)
    for i in range(h):
        for j in range(w):
            c = i * w + j
            nbrs = [
                (ii, jj)
                for ii in range(max(0, i - 1), min(h, i + 2))
                for jj in range(max(0, j - 1), min(w, j + 2))
                if (ii, jj) != (i, j)
            ]
            window = np.array([gray[p] for p in nbrs] + [gray[i, j]])
            var = np.mean((window - window.mean()) ** 2)
            diffs2 = np.array([(gray[p] - gray[i, j]) ** 2 for p in nbrs])
            csig = max(0.6 * var, -diffs2.min() / np.log(0.01), 2e-6)
            wts = np.exp(-diffs2 / csig)
            wts /= wts.sum()
            for (ii, jj), wt in zip(nbrs, wts):
                a[c, ii * w + jj] = -wt
            a[c, c] = 1.0 + (alpha if known[i, j] else 0.0)
            b[c] = alpha * depth[i, j] / dmax if known[i, j] else 0.0
    x = np.linalg.solve(a, b).reshape(h, w) * dmax
    return np.where(known, depth, x)


def random_frame(rng: np.random.Generator, h: int, w: int, missing: float) -> tuple[np.ndarray, np.ndarray]:
    rgb = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    depth = (1.0 + 0.1 * yy + 0.05 * xx + rng.random((h, w))).astype(np.float32)
    depth[rng.random((h, w)) < missing] = 0
    depth[h // 3 : h // 3 + 3, w // 4 : w // 4 + 4] = 0  # one solid hole
    if not (depth > 0).any():
        depth[0, 0] = 1.0
    return rgb, depth


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_dense_oracle(seed: int) -> None:
    rgb, depth = random_frame(np.random.default_rng(seed), 11, 14, 0.3)
    got = fill_depth_colorization(rgb, depth, rtol=1e-12)
    np.testing.assert_allclose(got, oracle_fill(rgb, depth), rtol=0, atol=1e-5)


def test_alpha_and_float_rgb_match_oracle() -> None:
    rgb, depth = random_frame(np.random.default_rng(5), 9, 10, 0.4)
    rgbf = rgb.astype(np.float64) / 255.0
    got = fill_depth_colorization(rgbf, depth, alpha=3.0, rtol=1e-12)
    np.testing.assert_allclose(got, oracle_fill(rgbf, depth, alpha=3.0), rtol=0, atol=1e-5)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), h=st.integers(2, 9), w=st.integers(2, 9), missing=st.floats(0.05, 0.9))
def test_property_matches_oracle(seed: int, h: int, w: int, missing: float) -> None:
    rgb, depth = random_frame(np.random.default_rng(seed), h, w, missing)
    got = fill_depth_colorization(rgb, depth, rtol=1e-12)
    np.testing.assert_allclose(got, oracle_fill(rgb, depth), rtol=0, atol=1e-5)


def test_known_pixels_preserved_exactly_and_dtype() -> None:
    rgb, depth = random_frame(np.random.default_rng(3), 30, 40, 0.5)
    got = fill_depth_colorization(rgb, depth)
    assert got.dtype == np.float32 and got.shape == depth.shape
    known = depth > 0
    assert np.array_equal(got[known], depth[known])
    assert (got[~known] > 0).all()


def test_flip_equivariance() -> None:
    rgb, depth = random_frame(np.random.default_rng(4), 25, 33, 0.4)
    base = fill_depth_colorization(rgb, depth, rtol=1e-12)
    for axis in (0, 1):
        flipped = fill_depth_colorization(np.flip(rgb, axis), np.flip(depth, axis), rtol=1e-12)
        np.testing.assert_allclose(np.flip(flipped, axis), base, rtol=0, atol=1e-5)
    transposed = fill_depth_colorization(rgb.transpose(1, 0, 2), depth.T, rtol=1e-12)
    np.testing.assert_allclose(transposed.T, base, rtol=0, atol=1e-5)


def test_nan_holes_equal_zero_holes_and_noncontiguous_input() -> None:
    rgb, depth = random_frame(np.random.default_rng(6), 20, 24, 0.3)
    base = fill_depth_colorization(rgb, depth)
    with_nan = depth.copy()
    with_nan[depth == 0] = np.nan
    np.testing.assert_array_equal(fill_depth_colorization(rgb, with_nan), base)
    big_rgb = np.zeros((40, 48, 3), np.uint8)
    big_rgb[::2, ::2] = rgb
    big_depth = np.zeros((40, 48), np.float64)
    big_depth[::2, ::2] = depth
    strided = fill_depth_colorization(big_rgb[::2, ::2], big_depth[::2, ::2])
    np.testing.assert_array_equal(strided, base)


def test_all_valid_returned_unchanged_and_all_missing_raises() -> None:
    rgb, depth = random_frame(np.random.default_rng(7), 6, 7, 0.0)
    depth[depth == 0] = 2.0
    out = fill_depth_colorization(rgb, depth)
    assert np.array_equal(out, depth) and out is not depth
    with pytest.raises(DataError, match="all pixels are missing"):
        fill_depth_colorization(rgb, np.zeros((6, 7), np.float32))
    with pytest.raises(DataError, match="negative"):
        fill_depth_colorization(rgb, -depth)
    with pytest.raises(UsageError, match="rgb"):
        fill_depth_colorization(rgb[:5], depth)
    with pytest.raises(UsageError, match=r"\[0, 1\]"):
        fill_depth_colorization(rgb.astype(np.float32), depth)


def test_direct_reference_agrees_with_fast() -> None:
    rgb, depth = random_frame(np.random.default_rng(8), 40, 50, 0.3)
    depth[5:30, 10:40] = 0  # a big hole
    np.testing.assert_allclose(
        fill_depth_colorization(rgb, depth), fill_depth_colorization_direct(rgb, depth), rtol=0, atol=1e-5
    )


def test_large_holes_use_nested_dissection_path() -> None:
    rgb, depth = random_frame(np.random.default_rng(9), 260, 330, 0.1)
    depth[20:240, 30:300] = 0  # > ND_MIN_HOLE_PIXELS hole pixels
    fast = fill_depth_colorization(rgb, depth)
    direct = fill_depth_colorization_direct(rgb, depth)
    diff = np.abs(fast.astype(np.float64) - direct)
    assert diff.mean() <= 1e-5 and diff.max() <= 1e-3


def load_nyu_raw_frame() -> tuple[np.ndarray, np.ndarray]:
    """NYU raw dump: PGM samples are little-endian Kinect disparity, 2047 invalid; toolbox
    depth_rel2depth_abs: metres = 351.3 / (1092.5 − raw)."""
    folder = FIXTURES / "nyu_raw_frame"
    if not folder.exists():
        pytest.skip("shared fixture nyu_raw_frame not present")
    from PIL import Image

    raw = np.frombuffer((folder / "NYU_depth.pgm").read_bytes()[-480 * 640 * 2 :], dtype="<u2").reshape(
        480, 640
    )
    raw = raw.astype(np.float64)
    depth = np.where(raw == 2047, 0.0, 351.3 / (1092.5 - raw)).astype(np.float32)
    rgb = np.asarray(Image.open(folder / "NYU_color.ppm").convert("RGB"))
    return rgb, depth


@pytest.mark.slow
def test_real_nyu_frame_matches_direct_solve() -> None:
    rgb, depth = load_nyu_raw_frame()
    fast = fill_depth_colorization(rgb, depth)
    direct = fill_depth_colorization_direct(rgb, depth)
    diff = np.abs(fast.astype(np.float64) - direct)
    assert diff.mean() <= 1e-4 and diff.max() <= 5e-3
