"""sintel: .dpt/.cam files in the real format (TAG_FLOAT header), prepare → load → evaluate."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from depthbench.data.dataset import load_dataset
from depthbench.data.readers.sintel import read_cam, read_dpt
from depthbench.errors import DataError
from depthbench.evaluator import evaluate
from depthbench.prepare import prepare_dataset

H, W = 12, 20


def dpt_bytes(depth: np.ndarray) -> bytes:
    """Independent writer: struct-packed header ('PIEH' == float32 202021.25), then float32 rows."""
    header = struct.pack("<fii", 202021.25, depth.shape[1], depth.shape[0])
    assert header[:4] == b"PIEH"
    return header + depth.astype("<f4").tobytes()


def cam_bytes(m: np.ndarray, n: np.ndarray) -> bytes:
    return struct.pack("<f", 202021.25) + struct.pack("<9d", *m.ravel()) + struct.pack("<12d", *n.ravel())


def make_sintel(root: Path, scenes: dict[str, int], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    depths = {}
    for scene, count in scenes.items():
        for sub in ("depth", "camdata_left", "clean", "final"):
            (root / "training" / sub / scene).mkdir(parents=True)
        for i in range(1, count + 1):
            stem = f"frame_{i:04d}"
            depth = rng.uniform(0.5, 100.0, size=(H, W)).astype(np.float32)  # some beyond the 72 m cap
            depths[f"{scene}/{stem}"] = depth
            (root / "training" / "depth" / scene / f"{stem}.dpt").write_bytes(dpt_bytes(depth))
            m = np.array([[300.0 + i, 0, W / 2], [0, 301.0 + i, H / 2], [0, 0, 1]])
            n = np.hstack([np.eye(3), np.array([[0.1], [0.2], [float(i)]])])
            (root / "training" / "camdata_left" / scene / f"{stem}.cam").write_bytes(cam_bytes(m, n))
            for render_pass, shade in (("clean", 10), ("final", 200)):
                image = np.full((H, W, 3), shade + i, np.uint8)
                Image.fromarray(image).save(root / "training" / render_pass / scene / f"{stem}.png")
    return depths


def test_dpt_and_cam_readers(tmp_path):
    depth = np.arange(H * W, dtype=np.float32).reshape(H, W) / 7
    (tmp_path / "a.dpt").write_bytes(dpt_bytes(depth))
    np.testing.assert_array_equal(read_dpt(tmp_path / "a.dpt"), depth)
    m = np.array([[1.0, 0, 3], [0, 2, 4], [0, 0, 1]])
    n = np.arange(12, dtype=np.float64).reshape(3, 4)
    (tmp_path / "a.cam").write_bytes(cam_bytes(m, n))
    m2, n2 = read_cam(tmp_path / "a.cam")
    np.testing.assert_array_equal(m2, m)
    np.testing.assert_array_equal(n2, n)


def test_bad_dpt_files(tmp_path):
    depth = np.ones((H, W), np.float32)
    good = dpt_bytes(depth)
    (tmp_path / "trunc.dpt").write_bytes(good[:-5])
    with pytest.raises(DataError, match=r"trunc\.dpt: .*truncated"):
        read_dpt(tmp_path / "trunc.dpt")
    (tmp_path / "magic.dpt").write_bytes(b"XXXX" + good[4:])
    with pytest.raises(DataError, match=r"magic\.dpt: not a Sintel"):
        read_dpt(tmp_path / "magic.dpt")
    with pytest.raises(DataError, match=r"none\.dpt: file not found"):
        read_dpt(tmp_path / "none.dpt")
    (tmp_path / "short.cam").write_bytes(struct.pack("<f", 202021.25) + b"\0" * 10)
    with pytest.raises(DataError, match=r"short\.cam"):
        read_cam(tmp_path / "short.cam")


def test_prepare_load_evaluate_round_trip(tmp_path):
    src = tmp_path / "sintel"
    depths = make_sintel(src, {"alley_1": 2, "market_2": 1})
    out = tmp_path / "prepared"
    prepare_dataset("sintel", src, out)
    final = load_dataset("sintel", "test", root=out)
    clean = load_dataset("sintel", "test_clean", root=out)
    assert [s.meta.sample_id for s in final] == [
        "alley_1/frame_0001",
        "alley_1/frame_0002",
        "market_2/frame_0001",
    ]
    for s_final, s_clean in zip(final, clean):
        np.testing.assert_array_equal(s_final.depth, depths[s_final.meta.sample_id])
        np.testing.assert_array_equal(s_clean.depth, s_final.depth)
        i = int(s_final.meta.frame_id[-4:])
        assert s_final.image[0, 0, 0] == 200 + i and s_clean.image[0, 0, 0] == 10 + i
        assert s_final.intrinsics.as_tuple() == (300.0 + i, 301.0 + i, W / 2, H / 2)
        assert s_final.meta.extra["extrinsic"][2][3] == float(i)

    result = evaluate("constant", "sintel", root=out, model_options={"value": 2.0}, progress=False)
    # Oracle: per-image mean abs_rel over 1e-3 < g < 72 (MiDaS's Sintel cap), then the mean.
    per_image = []
    for key in sorted(depths):
        g = depths[key].astype(np.float64)
        g = g[(g > 1e-3) & (g < 72.0)]
        per_image.append(np.mean(np.abs(2.0 - g) / g))
    assert result.protocol.headline == "abs_rel"
    assert result.metrics["abs_rel"] == pytest.approx(np.mean(per_image), rel=1e-5)


def test_prepare_missing_image_is_one_line_error(tmp_path):
    src = tmp_path / "sintel"
    make_sintel(src, {"alley_1": 1})
    (src / "training" / "final" / "alley_1" / "frame_0001.png").unlink()
    out = tmp_path / "out"
    with pytest.raises(DataError, match=r"final/alley_1/frame_0001\.png: file not found"):
        prepare_dataset("sintel", src, out)
    assert not list(out.glob("data/test-*.parquet"))
    with pytest.raises(DataError, match="scene.*nowhere_9 not found"):
        prepare_dataset("sintel", src, out, scenes=["nowhere_9"])
    with pytest.raises(DataError, match=r"training/depth: folder not found"):
        prepare_dataset("sintel", tmp_path, out)


def test_cli_prepare_and_one_line_error(tmp_path, capsys):
    from depthbench.cli import main

    src = tmp_path / "sintel"
    make_sintel(src, {"alley_1": 1})
    out = tmp_path / "prepared"
    assert (
        main(["prepare", "sintel", "--source", str(src), "--out", str(out), "--option", "passes=[final]"])
        == 0
    )
    assert len(load_dataset("sintel", "test", root=out)) == 1
    assert not list((out / "data").glob("test_clean-*"))
    (src / "training" / "depth" / "alley_1" / "frame_0001.dpt").write_bytes(b"PIEH")
    capsys.readouterr()
    assert main(["prepare", "sintel", "--source", str(src), "--out", str(tmp_path / "o2")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "frame_0001.dpt" in err and "\n" not in err
