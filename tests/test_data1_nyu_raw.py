"""nyu-v2-raw: PGM/PPM readers (byte order, truncation), disparity → metres, the projection into
the RGB camera against an oracle written from the toolbox's formulation, frame synchronisation,
the real fixture frame, and prepare → load → evaluate through the resumable shard executor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from depthbench.crops import crop_mask
from depthbench.data.dataset import load_dataset
from depthbench.data.readers import nyu_raw_prep
from depthbench.data.readers.nyu_raw import (
    KinectCalibration,
    decode_pnm,
    project_depth_to_rgb,
    raw_to_metres,
    read_pnm,
    read_raw_depth,
    scan_scene,
    synchronise,
)
from depthbench.errors import DataError, UsageError
from depthbench.evaluator import evaluate
from depthbench.prepare import prepare_dataset
from depthbench.types import Intrinsics

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


def pnm_bytes(array: np.ndarray, byte_order: str = ">", comment: bool = False) -> bytes:
    magic = b"P6" if array.ndim == 3 else b"P5"
    maxval = 255 if array.dtype == np.uint8 else 65535
    header = (
        magic
        + b"\n"
        + (b"# a comment\n" if comment else b"")
        + f"{array.shape[1]} {array.shape[0]}\n{maxval}\n".encode()
    )
    dtype = np.uint8 if maxval == 255 else np.dtype(f"{byte_order}u2")
    return header + array.astype(dtype).tobytes()


# -- readers ----------------------------------------------------------------------------------------
def test_pnm_reader(tmp_path, rng):
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    (tmp_path / "a.ppm").write_bytes(pnm_bytes(rgb, comment=True))
    np.testing.assert_array_equal(read_pnm(tmp_path / "a.ppm"), rgb)
    gray16 = rng.integers(0, 65536, (5, 7), dtype=np.uint16)
    (tmp_path / "b.pgm").write_bytes(pnm_bytes(gray16, ">"))
    np.testing.assert_array_equal(read_pnm(tmp_path / "b.pgm"), gray16)
    (tmp_path / "c.pgm").write_bytes(pnm_bytes(gray16, ">")[:-3])
    with pytest.raises(DataError, match=r"c\.pgm: truncated"):
        read_pnm(tmp_path / "c.pgm")
    with pytest.raises(DataError, match=r"x\.pgm: not a binary PGM/PPM"):
        decode_pnm(b"P2\n1 1\n255\n0\n", Path("x.pgm"))


def test_raw_depth_byte_order(tmp_path, rng):
    raw = rng.integers(600, 1090, (6, 8)).astype(np.uint16)
    raw[0, 0] = 2047
    (tmp_path / "le.pgm").write_bytes(pnm_bytes(raw, "<"))  # what the NYU dumps hold
    (tmp_path / "be.pgm").write_bytes(pnm_bytes(raw, ">"))  # what the PGM standard says
    np.testing.assert_array_equal(read_raw_depth(tmp_path / "le.pgm"), raw)
    np.testing.assert_array_equal(read_raw_depth(tmp_path / "be.pgm"), raw)
    np.testing.assert_array_equal(read_raw_depth(tmp_path / "le.pgm", "little"), raw)
    (tmp_path / "bad.pgm").write_bytes(pnm_bytes(np.full((2, 2), 0x0909, np.uint16)))
    with pytest.raises(DataError, match=r"bad\.pgm: 16-bit samples exceed 2047"):
        read_raw_depth(tmp_path / "bad.pgm")


def test_raw_to_metres():
    raw = np.array([[839, 1040, 2047, 1092, 1093, 1000]], dtype=np.uint16)
    expected = [351.3 / (1092.5 - 839), 351.3 / (1092.5 - 1040), 0.0, 10.0, 0.0, 351.3 / 92.5]
    np.testing.assert_allclose(raw_to_metres(raw)[0], expected, rtol=1e-6)


# -- projection -------------------------------------------------------------------------------------
def toolbox_projection_oracle(depth_m: np.ndarray, calib: KinectCalibration) -> np.ndarray:
    """Oracle in the toolbox's own terms: R_tb = inv(−Aᵀ), T_tb = [t_x, t_z, t_y], X/Z division,
    per-pixel minimum of the RGB-camera z (0-based pixels; no undistortion)."""
    a = (
        np.array(
            [
                9.9997798940829263e-01,
                5.0518419386157446e-03,
                4.3011152014118693e-03,
                -5.0359919480810989e-03,
                9.9998051861143999e-01,
                -3.6879781309514218e-03,
                -4.3196624923060242e-03,
                3.6662365748484798e-03,
                9.9998394948385538e-01,
            ]
        )
        .reshape(3, 3)
        .T
    )
    r_tb = np.linalg.inv(-a.T)
    t_tb = np.array([2.5031875059141302e-02, 6.6238747008330102e-04, -2.9342312935846411e-04])[[0, 2, 1]]
    out = np.zeros_like(depth_m, dtype=np.float64)
    best: dict[tuple[int, int], float] = {}
    for v, u in zip(*np.nonzero(depth_m > 0)):
        z = float(depth_m[v, u])
        p = np.array(
            [(u - calib.depth.cx) * z / calib.depth.fx, (v - calib.depth.cy) * z / calib.depth.fy, z]
        )
        q = r_tb @ p + t_tb
        col = int(np.rint(q[0] * calib.rgb.fx / q[2] + calib.rgb.cx))
        row = int(np.rint(q[1] * calib.rgb.fy / q[2] + calib.rgb.cy))
        if 0 <= row < depth_m.shape[0] and 0 <= col < depth_m.shape[1]:
            z_rgb = -q[2]  # the toolbox's points sit at negative z; the RGB-camera depth is −q_z
            best[(row, col)] = min(best.get((row, col), np.inf), z_rgb)
    for (row, col), z in best.items():
        out[row, col] = z
    return out


def test_projection_matches_toolbox_formulation(rng):
    calib = KinectCalibration()
    depth = np.zeros((480, 640), np.float32)
    window = rng.uniform(0.8, 6.0, (40, 60)).astype(np.float32)  # rough surface: occlusions happen
    depth[200:240, 300:360] = window
    depth[100:110, 50:70] = 1.5
    got = project_depth_to_rgb(depth, calib, undistort=False)
    expected = toolbox_projection_oracle(depth, calib)
    np.testing.assert_array_equal(got > 0, expected > 0)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_projection_identity_calibration_is_identity(rng):
    intr = Intrinsics(500.0, 500.0, 319.5, 239.5)
    calib = KinectCalibration(rgb=intr, depth=intr, rotation=np.eye(3), translation=(0.0, 0.0, 0.0))
    depth = rng.uniform(0.5, 8.0, (480, 640)).astype(np.float32)
    depth[rng.random((480, 640)) < 0.2] = 0
    np.testing.assert_allclose(project_depth_to_rgb(depth, calib, undistort=False), depth, rtol=1e-6)


def test_calibration_is_a_rotation_with_a_2_5_cm_baseline():
    calib = KinectCalibration()
    np.testing.assert_allclose(calib.rotation @ calib.rotation.T, np.eye(3), atol=1e-6)
    assert np.linalg.det(calib.rotation) == pytest.approx(1.0, abs=1e-6)
    assert np.linalg.norm(calib.translation) == pytest.approx(0.02504, abs=1e-4)


# -- synchronisation ----------------------------------------------------------------------------------
stamps = st.lists(st.floats(0, 10, allow_nan=False), min_size=1, max_size=20, unique=True)


@settings(max_examples=200, deadline=None)
@given(stamps, stamps)
def test_synchronise_pairs_every_depth_frame_with_nearest_rgb(t_rgb, t_depth):
    rgb = [(t, f"r{i}") for i, t in enumerate(t_rgb)]
    depth = [(t, f"d{i}") for i, t in enumerate(t_depth)]
    pairs = synchronise(rgb, depth, "depth")
    assert sorted(j for _, j in pairs) == list(range(len(t_depth)))
    for i, j in pairs:
        assert abs(t_rgb[i] - t_depth[j]) == min(abs(t - t_depth[j]) for t in t_rgb)
    pairs_rgb = synchronise(rgb, depth, "rgb")
    assert sorted(i for i, _ in pairs_rgb) == list(range(len(t_rgb)))


# -- the real fixture frame ---------------------------------------------------------------------------
def test_real_fixture_frame(real_fixtures):
    frame = real_fixtures / "nyu_raw_frame"
    raw = read_raw_depth(frame / "NYU_depth.pgm")
    # SOURCE.txt: samples stored little-endian; values 839..1040 and 2047 on 7.2 % of pixels.
    assert raw.shape == (480, 640)
    valid = raw != 2047
    assert raw[valid].min() == 839 and raw[valid].max() == 1040
    assert (~valid).mean() == pytest.approx(0.072, abs=0.001)
    metres = raw_to_metres(raw)
    assert metres[valid].min() == pytest.approx(1.386, abs=1e-3) and metres[valid].max() == pytest.approx(
        6.691, abs=1e-3
    )
    assert np.median(metres[valid]) == pytest.approx(3.27, abs=0.01)
    rgb = read_pnm(frame / "NYU_color.ppm")
    assert rgb.shape == (480, 640, 3) and rgb.dtype == np.uint8
    projected = project_depth_to_rgb(metres)
    inside = crop_mask("nyu-eigen", 480, 640)
    # The Eigen crop is the area the projection covers: most of it is filled, little outside.
    assert (projected[inside] > 0).mean() > 0.9 and (projected[~inside] > 0).mean() < 0.15
    # A 2.5 cm baseline moves points by under 10 cm of depth: compare depth ranges.
    assert projected[projected > 0].min() == pytest.approx(metres[valid].min(), abs=0.05)


# -- preparation ------------------------------------------------------------------------------------------
def plane_raw(value: int, hole_every: int = 9) -> np.ndarray:
    raw = np.full((480, 640), value, np.uint16)
    raw += (np.arange(640, dtype=np.uint16) // 64)[None, :]  # gentle slope
    raw[::hole_every, ::hole_every] = 2047
    return raw


def write_scene(
    root: Path, name: str, values: list[int], rng: np.random.Generator, t0: float = 1315403270.0
) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "INDEX.txt").write_text("index\n")
    for k, value in enumerate(values):
        t = t0 + k / 10
        (folder / f"d-{t:.6f}-{1000 + k}.pgm").write_bytes(pnm_bytes(plane_raw(value), "<"))
        (folder / f"r-{t + 0.013:.6f}-{2000 + k}.ppm").write_bytes(
            pnm_bytes(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8))
        )
        (folder / f"a-{t:.6f}-{3000 + k}.dump").write_bytes(b"\0" * 16)


@pytest.fixture
def raw_source(tmp_path, rng):
    src = tmp_path / "raw"
    write_scene(src / "part1", "kitchen_0001", [900, 950], rng)
    write_scene(src, "office_0002", [1000], rng)
    (tmp_path / "test_scenes.txt").write_text("office_0002\n")
    return src, tmp_path / "test_scenes.txt"


def test_scan_scene_synchronises(raw_source):
    src = raw_source[0]
    frames = scan_scene(src / "part1" / "kitchen_0001")
    assert [f.depth_file.split("-")[-1] for f in frames] == ["1000.pgm", "1001.pgm"]
    assert all(abs(f.rgb_time - f.depth_time - 0.013) < 1e-5 for f in frames)


def test_prepare_load_evaluate_round_trip(raw_source, tmp_path):
    src, scenes_file = raw_source
    out = tmp_path / "prepared"
    prepare_dataset(
        "nyu-v2-raw",
        src,
        out,
        splits=["train", "test"],
        test_scenes_file=str(scenes_file),
        workers=0,
        shard_size=1,
    )
    train = load_dataset("nyu-v2-raw", "train", root=out)
    train_raw = load_dataset("nyu-v2-raw", "train_raw", root=out)
    test = load_dataset("nyu-v2-raw", "test", root=out)
    assert [s.meta.scene_id for s in train] == ["kitchen_0001", "kitchen_0001"] and len(test) == 1
    assert not (out / ".work").exists()
    for filled, raw in zip(train, train_raw):
        assert filled.image.shape == (426, 560, 3) and filled.intrinsics.cx == pytest.approx(
            325.58244941119034 - 41
        )
        assert filled.valid.all() and not raw.valid.all() and raw.valid.mean() > 0.8
        np.testing.assert_array_equal(
            filled.depth[raw.valid], raw.depth[raw.valid]
        )  # known pixels kept exactly
        np.testing.assert_array_equal(filled.image, raw.image)
    # The projected plane keeps its depth: raw 900 → 351.3 / (1092.5 − 900) ≈ 1.82 m (plus the slope).
    assert np.median(train_raw[0].depth[train_raw[0].valid]) == pytest.approx(
        351.3 / (1092.5 - 904), rel=0.01
    )
    result = evaluate("constant", "nyu-v2-raw", root=out, model_options={"value": 2.0}, progress=False)
    g = test[0].depth.astype(np.float64)
    assert result.metrics["abs_rel"] == pytest.approx(np.mean(np.abs(2.0 - g) / g), rel=1e-5)


def test_corrupt_frames_are_skipped_with_a_count(raw_source, tmp_path):
    src, scenes_file = raw_source
    pgm = sorted((src / "part1" / "kitchen_0001").glob("d-*.pgm"))[1]
    pgm.write_bytes(pgm.read_bytes()[:1000])
    out = tmp_path / "prepared"
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable frame.*truncated"):
        prepare_dataset(
            "nyu-v2-raw", src, out, test_scenes_file=str(scenes_file), gt_variants=["raw"], workers=0
        )
    assert len(load_dataset("nyu-v2-raw", "train_raw", root=out)) == 1


def test_resume_after_interruption(raw_source, tmp_path, monkeypatch):
    src, scenes_file = raw_source
    out = tmp_path / "prepared"
    calls: list[str] = []
    original = nyu_raw_prep._frame_arrays

    def failing(item, options):
        calls.append(item[5])
        if len(calls) == 2:
            raise RuntimeError("killed")
        return original(item, options)

    monkeypatch.setattr(nyu_raw_prep, "_frame_arrays", failing)
    options = {
        "test_scenes_file": str(scenes_file),
        "gt_variants": ["raw", "filled"],
        "workers": 0,
        "shard_size": 1,
    }
    with pytest.raises(RuntimeError, match="killed"):
        prepare_dataset("nyu-v2-raw", src, out, **options)
    assert not list(out.glob("data/train*.parquet"))  # nothing published from an unfinished split
    calls.clear()
    prepare_dataset("nyu-v2-raw", src, out, **options)
    assert len(calls) == 1  # the first shard was finished before the interruption and is kept
    assert len(load_dataset("nyu-v2-raw", "train_raw", root=out)) == 2
    assert len(load_dataset("nyu-v2-raw", "train", root=out)) == 2


def test_stride_and_process_pool(raw_source, tmp_path):
    src, scenes_file = raw_source
    out = tmp_path / "prepared"
    prepare_dataset(
        "nyu-v2-raw", src, out, test_scenes_file=str(scenes_file), gt_variants=["raw"], stride=2, workers=1
    )
    data = load_dataset("nyu-v2-raw", "train_raw", root=out)
    assert [s.meta.sample_id.split("-")[-1] for s in data] == ["1000"]


def test_split_inputs_are_checked(raw_source, tmp_path):
    src, scenes_file = raw_source
    with pytest.raises(UsageError, match="labeled_dir.*test_scenes_file"):
        prepare_dataset("nyu-v2-raw", src, tmp_path / "o")
    with pytest.raises(DataError, match=r"missing\.txt: test scene list not found"):
        prepare_dataset("nyu-v2-raw", src, tmp_path / "o", test_scenes_file=str(tmp_path / "missing.txt"))
    with pytest.raises(DataError, match="bathroom_0099 not found"):
        prepare_dataset(
            "nyu-v2-raw", src, tmp_path / "o", test_scenes_file=str(scenes_file), scenes=["bathroom_0099"]
        )
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no NYU raw scene folders"):
        prepare_dataset("nyu-v2-raw", empty, tmp_path / "o", test_scenes_file=str(scenes_file))


def test_real_fixture_frame_prepared(real_fixtures, tmp_path):
    """The real frame as a one-frame scene: prepare with the default recipe (project, crop, fill)."""
    import shutil

    frame = real_fixtures / "nyu_raw_frame"
    scene = tmp_path / "raw" / "living_room_0001"
    scene.mkdir(parents=True)
    shutil.copy(frame / "NYU_depth.pgm", scene / "d-1315403270.612296-3850931981.pgm")
    shutil.copy(frame / "NYU_color.ppm", scene / "r-1315403270.630000-3851931981.ppm")
    (tmp_path / "test_scenes.txt").write_text("bedroom_0001\n")
    out = tmp_path / "prepared"
    prepare_dataset(
        "nyu-v2-raw", tmp_path / "raw", out, test_scenes_file=str(tmp_path / "test_scenes.txt"), workers=0
    )
    filled = load_dataset("nyu-v2-raw", "train", root=out)[0]
    raw = load_dataset("nyu-v2-raw", "train_raw", root=out)[0]
    assert (
        filled.image.shape == (426, 560, 3)
        and filled.meta.sample_id == "living_room_0001/d-1315403270.612296-3850931981"
    )
    assert raw.valid.mean() > 0.9 and filled.valid.all()
    np.testing.assert_array_equal(filled.depth[raw.valid], raw.depth[raw.valid])
    # Filled values stay within the measured range (colorization interpolates, it does not extrapolate far).
    assert (
        raw.depth[raw.valid].min() - 0.05 <= filled.depth.min()
        and filled.depth.max() <= raw.depth.max() + 0.05
    )
