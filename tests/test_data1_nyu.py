"""nyu-v2 (labeled set): a MATLAB v7.3 file written with h5py in MATLAB's layout, the official
split file, prepare → load_dataset → evaluate, and the one-line errors on bad input."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from depthbench.catalog import get_manifest
from depthbench.data.dataset import load_dataset
from depthbench.data.readers.nyu import NyuLabeledMat, read_nyu_splits
from depthbench.errors import DataError
from depthbench.evaluator import evaluate
from depthbench.prepare import prepare_dataset

H, W = 480, 640
SCENES = ["kitchen_0001", "kitchen_0001", "office_0002", "bedroom_0003", "bedroom_0003"]


def matlab_v73_header() -> bytes:
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Sat Nov 21 00:00:00 2026 HDF5 schema 1.00 ."
    return text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"


def write_labeled_mat(
    path: Path, images: np.ndarray, depths: np.ndarray, raw: np.ndarray, scenes: list[str]
) -> None:
    """MATLAB v7.3 layout: HDF5 with a 512-byte userblock; MATLAB arrays are column-major, so an
    H×W×3×N MATLAB array is the row-major (N, 3, W, H) HDF5 dataset (all axes reversed)."""
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("images", data=np.transpose(images.transpose(1, 2, 3, 0)))  # MATLAB H×W×3×N
        f.create_dataset("depths", data=np.transpose(depths.transpose(1, 2, 0)))  # MATLAB H×W×N
        f.create_dataset("rawDepths", data=np.transpose(raw.transpose(1, 2, 0)))
        refs_group = f.create_group("#refs#")
        refs = []
        for i, name in enumerate(scenes):
            ds = refs_group.create_dataset(f"s{i}", data=np.array([[ord(c)] for c in name], dtype=np.uint16))
            ds.attrs["MATLAB_class"] = np.bytes_("char")
            refs.append(ds.ref)
        f.create_dataset("scenes", data=np.array([refs], dtype=h5py.ref_dtype))  # MATLAB N×1 cell
    with open(path, "r+b") as fh:
        fh.write(matlab_v73_header())


def make_frames(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, H, W, 3), dtype=np.uint8)
    depths = rng.uniform(0.5, 9.0, size=(n, H, W)).astype(np.float32)
    raw = depths.copy()
    raw[:, ::7, ::5] = 0.0  # holes
    return images, depths, raw


@pytest.fixture
def nyu_source(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray, np.ndarray]:
    images, depths, raw = make_frames(len(SCENES))
    src = tmp_path / "nyu"
    src.mkdir()
    write_labeled_mat(src / "nyu_depth_v2_labeled.mat", images, depths, raw, SCENES)
    # 1-based column vectors, as in the official splits.mat (MATLAB v5 file).
    scipy.io.savemat(
        src / "splits.mat", {"trainNdxs": np.array([[1], [3], [4]]), "testNdxs": np.array([[2], [5]])}
    )
    return src, images, depths, raw


def test_reader_undoes_matlab_axis_order(nyu_source):
    src, images, depths, raw = nyu_source
    with open(src / "nyu_depth_v2_labeled.mat", "rb") as fh:
        assert fh.read(10) == b"MATLAB 7.3"
    with h5py.File(src / "nyu_depth_v2_labeled.mat", "r") as f:
        assert f["images"].shape == (5, 3, W, H) and f["depths"].shape == (5, W, H)
    with NyuLabeledMat(src / "nyu_depth_v2_labeled.mat") as mat:
        assert (mat.count, mat.height, mat.width) == (5, H, W)
        for i in range(5):
            np.testing.assert_array_equal(mat.image(i), images[i])
            np.testing.assert_array_equal(mat.depth(i, "filled"), depths[i])
            np.testing.assert_array_equal(mat.depth(i, "raw"), raw[i])
            assert mat.scene(i) == SCENES[i]


def test_official_splits_are_one_based(nyu_source):
    src = nyu_source[0]
    splits = read_nyu_splits(src / "splits.mat", 5)
    assert splits["train"].tolist() == [0, 2, 3] and splits["test"].tolist() == [1, 4]


def test_prepare_load_evaluate_round_trip(nyu_source, tmp_path):
    src, images, depths, raw = nyu_source
    out = tmp_path / "prepared"
    prepare_dataset("nyu-v2", src, out)
    manifest = get_manifest("nyu-v2")
    test = load_dataset("nyu-v2", "test", root=out)
    assert [s.meta.sample_id for s in test] == ["00002", "00005"]
    for sample, index in zip(test, (1, 4)):
        np.testing.assert_array_equal(sample.image, images[index])
        np.testing.assert_array_equal(sample.depth, depths[index])  # float32, lossless
        assert sample.meta.scene_id == SCENES[index]
        assert sample.intrinsics == manifest.intrinsics.to_intrinsics()
    test_raw = load_dataset("nyu-v2", "test_raw", root=out)
    np.testing.assert_array_equal(test_raw[1].depth, raw[4])
    np.testing.assert_array_equal(test_raw[1].valid, raw[4] > 0)
    assert len(load_dataset("nyu-v2", "train", root=out)) == 3

    result = evaluate("constant", "nyu-v2", root=out, model_options={"value": 2.0}, progress=False)
    # Oracle: pooled abs_rel of a constant 2 m prediction over the Eigen crop, 1e-3 < g < 10.
    gt = depths[[1, 4]][:, 45:471, 41:601].astype(np.float64)
    assert result.metrics["abs_rel"] == pytest.approx(np.mean(np.abs(2.0 - gt) / gt), rel=1e-5)
    assert result.dataset.count == 2
    raw_result = evaluate(
        "constant",
        "nyu-v2",
        root=out,
        model_options={"value": 2.0},
        progress=False,
        overrides={"gt_variant": "raw"},
    )
    g = raw[[1, 4]][:, 45:471, 41:601].astype(np.float64)
    g = g[g > 1e-3]
    assert raw_result.metrics["abs_rel"] == pytest.approx(np.mean(np.abs(2.0 - g) / g), rel=1e-5)


def test_missing_files_are_one_line_errors(nyu_source, tmp_path):
    src = nyu_source[0]
    (src / "splits.mat").unlink()
    with pytest.raises(DataError, match=r"splits\.mat: file not found"):
        prepare_dataset("nyu-v2", src, tmp_path / "out")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=r"nyu_depth_v2_labeled\.mat: file not found"):
        prepare_dataset("nyu-v2", empty, tmp_path / "out2")


def test_truncated_mat_is_a_data_error_and_writes_nothing(nyu_source, tmp_path):
    src = nyu_source[0]
    mat = src / "nyu_depth_v2_labeled.mat"
    data = mat.read_bytes()
    mat.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    with pytest.raises(DataError, match=r"nyu_depth_v2_labeled\.mat") as info:
        prepare_dataset("nyu-v2", src, out)
    assert "\n" not in str(info.value)
    assert not list(out.glob("data/*.parquet"))


def test_split_naming_absent_frame(nyu_source, tmp_path):
    src = nyu_source[0]
    scipy.io.savemat(src / "splits.mat", {"trainNdxs": np.array([[1]]), "testNdxs": np.array([[2], [9]])})
    with pytest.raises(DataError, match=r"splits\.mat: testNdxs names frame 9.*1\.\.5"):
        prepare_dataset("nyu-v2", src, tmp_path / "out")
    scipy.io.savemat(src / "splits.mat", {"trainNdxs": np.array([[1], [2]]), "testNdxs": np.array([[2]])})
    with pytest.raises(DataError, match="both trainNdxs and testNdxs"):
        prepare_dataset("nyu-v2", src, tmp_path / "out")


def test_not_a_labeled_mat(tmp_path):
    path = tmp_path / "x.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("images", data=np.zeros((1, 3, 4, 4), np.uint8))
    with pytest.raises(DataError, match="'depths' missing"):
        NyuLabeledMat(path)


def test_corrupt_splits_file(nyu_source, tmp_path):
    src = nyu_source[0]
    data = (src / "splits.mat").read_bytes()
    (src / "splits.mat").write_bytes(data[:150])
    with pytest.raises(DataError, match=r"splits\.mat: not a readable MATLAB file"):
        prepare_dataset("nyu-v2", src, tmp_path / "out")


def test_v73_splits_file_is_read_with_h5py(tmp_path):
    path = tmp_path / "splits.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("trainNdxs", data=np.array([[1.0, 2.0]]))  # MATLAB 2×1 double, transposed
        f.create_dataset("testNdxs", data=np.array([[3.0]]))
    splits = read_nyu_splits(path, 3)
    assert splits["train"].tolist() == [0, 1] and splits["test"].tolist() == [2]
