"""tum-rgbd: timestamp association (against a brute-force oracle), a sequence in the real format
(rgb.txt, depth.txt, 8-bit RGB PNGs, 16-bit depth PNGs / 5000), prepare → load → evaluate, the real
fixture frame, and the one-line errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from depthbench.data.dataset import load_dataset
from depthbench.data.readers.tum import TUM_INTRINSICS, associate, read_tum_depth
from depthbench.errors import DataError, UsageError
from depthbench.evaluator import evaluate
from depthbench.prepare import prepare_dataset

H, W = 24, 32
SEQ = "rgbd_dataset_freiburg3_walking_xyz"

_SHARED_CANDIDATES = [
    Path(__file__).resolve().parents[1].parent / "shared",
    Path(__file__).resolve().parents[1].parents[1] / "shared",
]


@pytest.fixture
def real_fixtures() -> Path:
    """../shared/fixtures of the checkout (or of the worktree's parent); skip when absent."""
    for candidate in _SHARED_CANDIDATES:
        if (candidate / "fixtures").is_dir():
            return candidate / "fixtures"
    pytest.skip("../shared/fixtures is absent")


def brute_force_associate(t1: list[float], t2: list[float], max_difference: float) -> list[tuple[int, int]]:
    """Oracle: all pairs under the threshold sorted by difference, greedy one-to-one, sorted by t1."""
    pairs = sorted(
        (abs(a - b), i, j) for i, a in enumerate(t1) for j, b in enumerate(t2) if abs(a - b) < max_difference
    )
    used_i, used_j, out = set(), set(), []
    for _, i, j in pairs:
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            out.append((i, j))
    return sorted(out, key=lambda p: (t1[p[0]], p[0]))


times = st.lists(st.floats(0, 2, allow_nan=False).map(lambda x: round(x, 3)), max_size=25)


@settings(max_examples=200, deadline=None)
@given(times, times)
def test_associate_matches_brute_force(t1, t2):
    first = [(t, f"a{i}") for i, t in enumerate(t1)]
    second = [(t, f"b{j}") for j, t in enumerate(t2)]
    got = associate(first, second, 0.02)
    assert got == brute_force_associate(t1, t2, 0.02)
    assert len({i for i, _ in got}) == len(got) == len({j for _, j in got})


def write_sequence(folder: Path, n: int, seed: int = 0, *, depth_offset: float = 0.011) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    (folder / "rgb").mkdir(parents=True)
    (folder / "depth").mkdir()
    rgb_lines = ["# color images", "# file: 'test'", "# timestamp filename"]
    depth_lines = ["# depth maps", "# file: 'test'", "# timestamp filename"]
    depths = []
    for i in range(n):
        t = 1305031102.175304 + i / 30
        rgb_name = f"rgb/{t:.6f}.png"
        Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8)).save(folder / rgb_name)
        raw = rng.integers(5000, 40000, (H, W)).astype(np.uint16)
        raw[::3, ::4] = 0
        depths.append(raw)
        td = t + depth_offset
        depth_name = f"depth/{td:.6f}.png"
        Image.fromarray(raw).save(folder / depth_name)
        rgb_lines.append(f"{t:.6f} {rgb_name}")
        depth_lines.append(f"{td:.6f} {depth_name}")
    # One extra depth frame far from any RGB frame: must not be associated.
    Image.fromarray(depths[0]).save(folder / "depth" / "9999999999.000000.png")
    depth_lines.append("9999999999.000000 depth/9999999999.000000.png")
    (folder / "rgb.txt").write_text("\n".join(rgb_lines) + "\n")
    (folder / "depth.txt").write_text("\n".join(depth_lines) + "\n")
    return depths


def test_prepare_load_evaluate_round_trip(tmp_path):
    src = tmp_path / "tum"
    depths = write_sequence(src / SEQ, 4)
    out = tmp_path / "prepared"
    prepare_dataset("tum-rgbd", src, out, sequences={"test": [SEQ]}, sequence_lists=None)
    data = load_dataset("tum-rgbd", "test", root=out)
    assert len(data) == 4
    for sample, raw in zip(data, depths):
        np.testing.assert_array_equal(sample.depth, raw.astype(np.float32) / np.float32(5000))
        np.testing.assert_array_equal(sample.valid, raw > 0)
        assert sample.intrinsics == TUM_INTRINSICS["freiburg3"]
        assert sample.meta.extra["depth_timestamp"] - sample.meta.extra["rgb_timestamp"] == pytest.approx(
            0.011, abs=3e-6
        )
    result = evaluate("constant", "tum-rgbd", root=out, model_options={"value": 2.0}, progress=False)
    per_image = []
    for raw in depths:
        g = raw.astype(np.float64) / 5000
        g = g[(g > 1e-3) & (g < 10.0)]
        per_image.append(np.mean(np.abs(2.0 - g) / g))
    assert result.metrics["abs_rel"] == pytest.approx(np.mean(per_image), rel=1e-5)


def test_stride_and_threshold(tmp_path):
    src = tmp_path / "tum"
    write_sequence(src / SEQ, 5, depth_offset=0.011)
    out = tmp_path / "a"
    prepare_dataset("tum-rgbd", src, out, sequences={"test": [SEQ]}, stride=2)
    assert len(load_dataset("tum-rgbd", "test", root=out)) == 3
    with pytest.raises(DataError, match="no frames were added"):
        prepare_dataset("tum-rgbd", src, tmp_path / "b", sequences={"test": [SEQ]}, max_difference=0.01)


def test_errors_name_the_file(tmp_path):
    src = tmp_path / "tum"
    write_sequence(src / SEQ, 3)
    out = tmp_path / "out"
    with pytest.raises(DataError, match=r"rgbd_dataset_freiburg3_sitting_xyz: sequence folder not found"):
        prepare_dataset("tum-rgbd", src, out, sequences={"test": ["rgbd_dataset_freiburg3_sitting_xyz"]})
    bad = sorted((src / SEQ / "depth").glob("1305*.png"))[1]
    bad.write_bytes(bad.read_bytes()[:40])
    with pytest.raises(DataError, match=rf"{bad.name}: corrupt PNG"):
        prepare_dataset("tum-rgbd", src, out, sequences={"test": [SEQ]})
    assert not list(out.glob("data/*.parquet"))
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        prepare_dataset("tum-rgbd", src, out, sequences={"test": [SEQ]}, skip_corrupt=True)
    assert len(load_dataset("tum-rgbd", "test", root=out)) == 2
    (src / SEQ / "depth.txt").unlink()
    with pytest.raises(DataError, match=r"depth\.txt: file not found"):
        prepare_dataset("tum-rgbd", src, out, sequences={"test": [SEQ]})
    with pytest.raises(UsageError, match="split 'train'"):
        prepare_dataset("tum-rgbd", src, out, sequences={"train": [SEQ]})


def test_recipe_uses_the_shipped_sequence_list(tmp_path):
    with pytest.raises(
        DataError, match=r"rgbd_dataset_freiburg2_desk_with_person: sequence folder not found"
    ):
        prepare_dataset("tum-rgbd", tmp_path, tmp_path / "out")


def test_real_fixture_frame(real_fixtures, tmp_path):
    fixture = real_fixtures / "tum_rgbd_frame"
    depth = read_tum_depth(fixture / "TUM_depth.png")
    metres = depth / 5000.0
    valid = metres > 0
    assert depth.shape == (480, 640)
    assert valid.mean() == pytest.approx(0.808, abs=0.001)  # SOURCE.txt: 80.8 % valid, 1.464–9.331 m
    assert metres[valid].min() == pytest.approx(1.464, abs=1e-3) and metres[valid].max() == pytest.approx(
        9.331, abs=1e-3
    )
    seq = tmp_path / "src" / SEQ
    (seq / "rgb").mkdir(parents=True)
    (seq / "depth").mkdir()
    shutil.copy(fixture / "TUM_color.png", seq / "rgb" / "1.000000.png")
    shutil.copy(fixture / "TUM_depth.png", seq / "depth" / "1.010000.png")
    (seq / "rgb.txt").write_text("1.000000 rgb/1.000000.png\n")
    (seq / "depth.txt").write_text("1.010000 depth/1.010000.png\n")
    out = tmp_path / "out"
    prepare_dataset("tum-rgbd", tmp_path / "src", out, sequences={"test": [SEQ]})
    sample = load_dataset("tum-rgbd", "test", root=out)[0]
    np.testing.assert_array_equal(sample.depth, depth.astype(np.float32) / np.float32(5000))
    with Image.open(fixture / "TUM_color.png") as image:
        np.testing.assert_array_equal(sample.image, np.array(image.convert("RGB")))
    result = evaluate("constant", "tum-rgbd", root=out, model_options={"value": 2.0}, progress=False)
    g = metres[(metres > 1e-3) & (metres < 10)]
    assert result.metrics["abs_rel"] == pytest.approx(np.mean(np.abs(2 - g) / g), rel=1e-5)
