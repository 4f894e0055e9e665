"""KITTI Eigen raw / annotated preparers on tiny generated raw drives and on the real fixtures."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from depthbench.crops import crop_mask
from depthbench.data.dataset import load_dataset
from depthbench.data.readers.kitti import parse_split_list
from depthbench.errors import DataError
from depthbench.evaluator import evaluate
from depthbench.prepare import prepare_dataset

DATE, DRIVE = "2011_09_26", "2011_09_26_drive_0002_sync"
H, W, FX, CX, CY = 24, 40, 50.0, 20.0, 10.0
# velodyne (x forward, y left, z up) → camera (x right, y down, z forward)
R_VELO = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])


def _fmt(values) -> str:
    return " ".join(f"{v:.12e}" for v in np.ravel(values))


def write_raw_drive(
    root: Path, frames: dict[int, np.ndarray], rng: np.random.Generator, tx: float = 0.0
) -> None:
    """A KITTI raw layout with a simple calibration: P_rect_02 = K·[I | (tx·fx, 0, 0)]."""
    date = root / DATE
    p2 = np.array([[FX, 0, CX, tx * FX], [0, FX, CY, 0], [0, 0, 1, 0]])
    (date).mkdir(parents=True, exist_ok=True)
    (date / "calib_cam_to_cam.txt").write_text(
        "calib_time: 09-Jan-2012 13:57:47\n"
        f"R_rect_00: {_fmt(np.eye(3))}\nP_rect_02: {_fmt(p2)}\nS_rect_02: {W:.6e} {H:.6e}\n"
    )
    (date / "calib_velo_to_cam.txt").write_text(f"calib_time: x\nR: {_fmt(R_VELO)}\nT: {_fmt(np.zeros(3))}\n")
    for frame, points in frames.items():
        img_dir = date / DRIVE / "image_02" / "data"
        velo_dir = date / DRIVE / "velodyne_points" / "data"
        img_dir.mkdir(parents=True, exist_ok=True)
        velo_dir.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8)).save(img_dir / f"{frame:010d}.png")
        points.astype("<f4").tofile(velo_dir / f"{frame:010d}.bin")


def oracle_depth(points: np.ndarray) -> np.ndarray:
    """Independent numpy projection: camera z, pixel floor(x+0.5), nearest point wins."""
    depth = np.zeros((H, W), np.float32)
    cam = points[:, :3].astype(np.float64) @ R_VELO.T
    for x, y, z in cam:
        if z <= 0:
            continue
        u, v = FX * x / z + CX, FX * y / z + CY
        c, r = int(np.floor(u + 0.5)), int(np.floor(v + 0.5))
        if 0 <= r < H and 0 <= c < W and (depth[r, c] == 0 or z < depth[r, c]):
            depth[r, c] = z
    return depth


def random_points(rng: np.random.Generator, n: int = 400) -> np.ndarray:
    fwd = rng.uniform(-5, 60, n)
    return np.stack([fwd, rng.uniform(-20, 20, n), rng.uniform(-3, 3, n), rng.uniform(0, 1, n)], 1).astype(
        np.float32
    )


@pytest.fixture
def raw_drive(tmp_path, rng):
    frames = {69: random_points(rng), 7: random_points(rng)}
    write_raw_drive(tmp_path / "raw", frames, rng)
    split = tmp_path / "test_files.txt"
    split.write_text(f"{DATE}/{DRIVE} 0000000069 l\n{DATE}/{DRIVE} 7 l\n")
    return tmp_path / "raw", split, frames


def test_parse_split_list_both_formats():
    refs = parse_split_list(
        f"{DATE}/{DRIVE} 0000000069 l\n{DATE}/{DRIVE} 12 r\n"
        f"{DATE}/{DRIVE}/image_02/data/0000000069.png {DATE}/{DRIVE}/image_03/data/0000000069.png\n",
        "x",
    )
    assert [(r.frame, r.cam) for r in refs] == [(69, 2), (12, 3)]  # duplicate dropped
    with pytest.raises(DataError, match="line 1"):
        parse_split_list("garbage line\n", "x")


def test_prepare_load_evaluate_round_trip(raw_drive, tmp_path):
    source, split, frames = raw_drive
    out = tmp_path / "prepared"
    prepare_dataset("kitti-eigen-raw", source, out, split_file=str(split))
    ds = load_dataset("kitti-eigen-raw", "test", out)
    assert len(ds) == 2
    for sample in ds:
        frame = int(sample.meta.frame_id)
        expected = np.round(oracle_depth(frames[frame]) * 256) / 256
        np.testing.assert_allclose(sample.depth, expected, atol=1e-6)
        assert sample.intrinsics.as_tuple() == (FX, FX, CX, CY)
        assert sample.image.shape == (H, W, 3)
    legacy = load_dataset("kitti-eigen-raw", "test_legacy_monodepth2", out)
    assert len(legacy) == 2 and legacy[0].meta.extra["gt"] == "legacy_monodepth2"
    import hashlib

    assert ds[0].meta.extra["split_list_sha256"] == hashlib.sha256(split.read_bytes()).hexdigest()
    result = evaluate("constant", "kitti-eigen-raw", root=out, model_options={"value": 5.0}, progress=False)
    # oracle: per-image mean of |5 − g| / g over the Garg crop, 1e-3 < g < 80
    per_image = []
    for sample in ds:
        g = sample.depth
        m = sample.valid & crop_mask("kitti-garg", H, W) & (g > 1e-3) & (g < 80)
        per_image.append(np.mean(np.abs(5.0 - g[m]) / g[m]))
    assert result.metrics["abs_rel"] == pytest.approx(np.mean(per_image), rel=1e-5)
    capped = evaluate(
        "constant",
        "kitti-eigen-raw",
        root=out,
        model_options={"value": 5.0},
        progress=False,
        overrides={"max_depth": 50.0},
    )
    assert capped.protocol.max_depth == 50.0


def test_rerun_skips_finished_split_and_overwrite_redoes(raw_drive, tmp_path):
    source, split, _ = raw_drive
    out = tmp_path / "prepared"
    prepare_dataset("kitti-eigen-raw", source, out, split_file=str(split))
    shard = next((out / "data").glob("test-*.parquet"))
    stamp = shard.stat().st_mtime_ns
    prepare_dataset("kitti-eigen-raw", source, out, split_file=str(split))
    assert shard.stat().st_mtime_ns == stamp
    prepare_dataset("kitti-eigen-raw", source, out, split_file=str(split), overwrite=True)
    assert next((out / "data").glob("test-*.parquet")).stat().st_mtime_ns != stamp


def test_absent_frame_and_corrupt_png_are_one_line_errors(raw_drive, tmp_path):
    source, split, _ = raw_drive
    bad_list = tmp_path / "bad.txt"
    bad_list.write_text(f"{DATE}/{DRIVE} 0000000099 l\n")
    with pytest.raises(DataError, match=r"0000000099\.png: listed in split 'test'"):
        prepare_dataset("kitti-eigen-raw", source, tmp_path / "o1", split_file=str(bad_list))
    png = source / DATE / DRIVE / "image_02" / "data" / "0000000069.png"
    png.write_bytes(png.read_bytes()[:60])
    with pytest.raises(DataError, match="0000000069.png: corrupt") as err:
        prepare_dataset("kitti-eigen-raw", source, tmp_path / "o2", split_file=str(split))
    assert "\n" not in str(err.value)
    assert not list((tmp_path / "o2" / "data").glob("test-*.parquet"))  # nothing half-written


def test_pinned_split_list_offline_is_a_clear_error(raw_drive, tmp_path, monkeypatch):
    import urllib.request

    def refuse(*args, **kwargs):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    source, _, _ = raw_drive
    with pytest.raises(DataError, match="cannot fetch split list.*split_file=PATH"):
        prepare_dataset("kitti-eigen-raw", source, tmp_path / "o")


def test_cached_split_list_checksum_mismatch(tmp_path):
    from depthbench.data.readers.common import fetch_split_list

    dest = tmp_path / "list.txt"
    dest.write_text("x\n")
    with pytest.raises(DataError, match="list.txt: sha256 .* does not match"):
        fetch_split_list("https://example.invalid/list.txt", "0" * 64, dest)


# -- real fixtures -------------------------------------------------------------------------------
def _object_calib_to_raw(calib_file: Path, date_dir: Path, hw: tuple[int, int]) -> None:
    values = {}
    for line in calib_file.read_text().splitlines():
        key, sep, rest = line.partition(":")
        if sep and rest.strip():
            values[key.strip()] = np.array([float(v) for v in rest.split()])
    tr = values["Tr_velo_to_cam"].reshape(3, 4)
    date_dir.mkdir(parents=True, exist_ok=True)
    (date_dir / "calib_cam_to_cam.txt").write_text(
        f"R_rect_00: {_fmt(values['R0_rect'])}\nP_rect_02: {_fmt(values['P2'])}\nS_rect_02: {hw[1]} {hw[0]}\n"
    )
    (date_dir / "calib_velo_to_cam.txt").write_text(f"R: {_fmt(tr[:, :3])}\nT: {_fmt(tr[:, 3])}\n")


def test_real_kitti_velodyne_fixture(fixtures_dir, tmp_path):
    from depthbench.prep.kitti import velodyne_to_depth

    fx = fixtures_dir / "kitti_object_000007"
    image = fx / "image_2" / "000007.png"
    hw = Image.open(image).size[::-1]
    raw = tmp_path / "raw"
    _object_calib_to_raw(fx / "calib" / "000007.txt", raw / DATE, hw)
    drive = raw / DATE / DRIVE
    (drive / "image_02" / "data").mkdir(parents=True)
    (drive / "velodyne_points" / "data").mkdir(parents=True)
    shutil.copy(image, drive / "image_02" / "data" / "0000000007.png")
    shutil.copy(fx / "velodyne" / "000007.bin", drive / "velodyne_points" / "data" / "0000000007.bin")
    split = tmp_path / "split.txt"
    split.write_text(f"{DATE}/{DRIVE} 7 l\n")
    out = tmp_path / "prepared"
    prepare_dataset("kitti-eigen-raw", raw, out, split_file=str(split))
    sample = load_dataset("kitti-eigen-raw", "test", out)[0]
    assert sample.image.shape == (375, 1242, 3)
    expected = velodyne_to_depth(fx / "calib" / "000007.txt", fx / "velodyne" / "000007.bin", 2, image_hw=hw)
    np.testing.assert_allclose(sample.depth, np.round(expected * 256) / 256, atol=1e-6)
    assert 10_000 < int(sample.valid.sum()) < 40_000  # one HDE-64 scan covers ~5-8% of the image
    assert sample.image.tobytes() == np.array(Image.open(image).convert("RGB")).tobytes()
    legacy = load_dataset("kitti-eigen-raw", "test_legacy_monodepth2", out)[0]
    assert legacy.valid.sum() > 10_000
    result = evaluate("constant", "kitti-eigen-raw", root=out, model_options={"value": 5.0}, progress=False)
    assert 0 < result.metrics["delta1"] < 1


def test_real_kitti_annotated_fixture(fixtures_dir, tmp_path):
    fx = fixtures_dir / "kitti_depth_annotated_0000000016"
    obj = fixtures_dir / "kitti_object_000007"
    src = tmp_path / "src"
    _object_calib_to_raw(obj / "calib" / "000007.txt", src / DATE, (375, 1242))
    img_dir = src / DATE / DRIVE / "image_02" / "data"
    gt_dir = src / "data_depth_annotated" / "val" / DRIVE / "proj_depth" / "groundtruth" / "image_02"
    img_dir.mkdir(parents=True)
    gt_dir.mkdir(parents=True)
    shutil.copy(fx / "image_0000000016.png", img_dir / "0000000016.png")
    shutil.copy(fx / "groundtruth_0000000016.png", gt_dir / "0000000016.png")
    split = tmp_path / "split.txt"
    split.write_text(f"{DATE}/{DRIVE} 0000000016 l\n{DATE}/{DRIVE} 0000000017 l\n")  # 17: no GT → skipped
    out = tmp_path / "prepared"
    prepare_dataset("kitti-eigen-annotated", src, out, split_file=str(split))
    ds = load_dataset("kitti-eigen-annotated", "test", out)
    assert len(ds) == 1
    sample = ds[0]
    raw = np.array(Image.open(fx / "groundtruth_0000000016.png")).astype(np.float64)
    np.testing.assert_array_equal(sample.depth, (raw / 256).astype(np.float32))
    assert int(sample.valid.sum()) == 90_800  # SOURCE.txt
    d = sample.depth[sample.valid]
    assert d.min() == pytest.approx(5.47, abs=0.01) and d.max() == pytest.approx(83.50, abs=0.01)
    assert d.mean() == pytest.approx(17.69, abs=0.01)
    result = evaluate(
        "constant", "kitti-eigen-annotated", root=out, model_options={"value": 5.0}, progress=False
    )
    m = sample.valid & crop_mask("kitti-garg", 375, 1242) & (sample.depth > 1e-3) & (sample.depth < 80)
    g = sample.depth[m]
    assert result.metrics["abs_rel"] == pytest.approx(np.mean(np.abs(5.0 - g) / g), rel=1e-5)


def test_kitti_eigen_benchmark_protocols_and_run(raw_drive, tmp_path):
    from depthbench.evaluator import evaluate_benchmark
    from depthbench.protocol import get_benchmark

    protocols = get_benchmark("kitti-eigen").protocols()
    assert [(p.dataset, p.crop, p.max_depth, p.averaging) for p in protocols] == [
        ("kitti-eigen-raw", "kitti-garg", 80.0, "per_image"),
        ("kitti-eigen-raw", "kitti-garg", 50.0, "per_image"),
    ]
    assert protocols[0].hash != protocols[1].hash
    source, split, _ = raw_drive
    out = tmp_path / "prepared"
    prepare_dataset("kitti-eigen-raw", source, out, split_file=str(split))
    results = evaluate_benchmark(
        "constant",
        "kitti-eigen",
        roots={"kitti-eigen-raw": out},
        model_options={"value": 5.0},
        progress=False,
    )
    assert [r.protocol.max_depth for r in results] == [80.0, 50.0]


def test_zeroshot_kitti_and_diw_entries():
    from depthbench.protocol import get_benchmark

    bench = get_benchmark("zeroshot-v1")
    entries = {e.dataset: e for e in bench.entries}
    assert set(entries) == {"nyu-v2", "tum-rgbd", "kitti-eigen-raw", "sintel", "diw"}
    assert entries["sintel"].headline == "abs_rel" and entries["diw"].headline == "whdr"
    from depthbench.protocol import default_protocol

    diw = default_protocol("diw")
    assert diw.metrics == ("whdr",) and diw.headline == "whdr"
    kitti = default_protocol("kitti-eigen-raw", **entries["kitti-eigen-raw"].overrides)
    assert kitti.crop == "kitti-garg" and kitti.alignment == "auto" and kitti.max_depth == 80.0


def test_cli_prepare_and_evaluate_legacy_variant(raw_drive, tmp_path, capsys):
    import json

    from depthbench.cli import main

    source, split, _ = raw_drive
    out = tmp_path / "prepared"
    assert (
        main(
            [
                "prepare",
                "kitti-eigen-raw",
                "--source",
                str(source),
                "--out",
                str(out),
                "--option",
                f"split_file={split}",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(
            [
                "evaluate",
                "--model",
                "constant",
                "--model-option",
                "value=5.0",
                "--dataset",
                "kitti-eigen-raw",
                "--root",
                str(out),
                "--protocol-override",
                "gt_variant=legacy_monodepth2",
                "--format",
                "json",
                "--no-progress",
            ]
        )
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    record = printed[0] if isinstance(printed, list) else printed
    assert record["dataset"]["split"] == "test_legacy_monodepth2"
    assert main(["prepare", "kitti-eigen-raw", "--source", str(tmp_path / "absent"), "--out", str(out)]) == 1


def test_annotated_generated_png16(tmp_path, rng):
    src = tmp_path / "src"
    write_raw_drive(src, {3: random_points(rng, 10), 4: random_points(rng, 10)}, rng)
    gt_dir = src / "data_depth_annotated" / "train" / DRIVE / "proj_depth" / "groundtruth" / "image_02"
    gt_dir.mkdir(parents=True)
    raw = rng.integers(0, 80 * 256, (H, W)).astype(np.uint16)
    raw[raw < 2000] = 0
    Image.fromarray(raw).save(gt_dir / "0000000003.png")
    split = tmp_path / "split.txt"
    split.write_text(f"{DATE}/{DRIVE} 3 l\n{DATE}/{DRIVE} 4 l\n")  # frame 4 has no annotated map
    out = tmp_path / "out"
    prepare_dataset("kitti-eigen-annotated", src, out, split_file=str(split))
    ds = load_dataset("kitti-eigen-annotated", "test", out)
    assert len(ds) == 1 and ds[0].meta.frame_id == "0000000003"
    np.testing.assert_array_equal(ds[0].depth, raw.astype(np.float32) / 256)
    np.testing.assert_array_equal(ds[0].valid, raw > 0)
    assert ds[0].intrinsics.as_tuple() == (FX, FX, CX, CY)
    result = evaluate("constant", "kitti-eigen-annotated", root=out, model_options={"value": 5.0}, progress=False)
    g = ds[0].depth
    m = ds[0].valid & crop_mask("kitti-garg", H, W) & (g > 1e-3) & (g < 80)
    assert result.metrics["abs_rel"] == pytest.approx(np.mean(np.abs(5.0 - g[m]) / g[m]), rel=1e-5)
    # an 8-bit map is not KITTI's format; a listed frame with GT but no RGB is an error
    Image.fromarray((raw // 256).astype(np.uint8)).save(gt_dir / "0000000003.png")
    with pytest.raises(DataError, match="0000000003.png: expected a 16-bit PNG"):
        prepare_dataset("kitti-eigen-annotated", src, tmp_path / "o2", split_file=str(split))
    Image.fromarray(raw).save(gt_dir / "0000000003.png")
    Image.fromarray(raw).save(gt_dir / "0000000004.png")
    (src / DATE / DRIVE / "image_02" / "data" / "0000000004.png").unlink()
    with pytest.raises(DataError, match="0000000004.png: listed in split 'test'"):
        prepare_dataset("kitti-eigen-annotated", src, tmp_path / "o3", split_file=str(split))
