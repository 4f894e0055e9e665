"""DIW, generic-folder sets (ReDWeb, DIML indoor, MegaDepth), archives and the Hub commands."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from depthbench.data.archives import extract_archive
from depthbench.data.dataset import load_dataset
from depthbench.data.readers.generic import read_depth_file
from depthbench.errors import DataError, UsageError
from depthbench.evaluator import evaluate
from depthbench.prepare import prepare_dataset


def _jpg(path: Path, rng, hw=(12, 16)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (*hw, 3), dtype=np.uint8)).save(path)


def test_diw_csv_round_trip(tmp_path, rng):
    src = tmp_path / "diw"
    for name in ("a", "b"):
        _jpg(src / "DIW_test" / f"{name}.thumb.jpg", rng)
    (src / "DIW_test.csv").write_text(
        "./DIW_test/a.thumb.jpg\n3,4,10,16,>,12,16\n./DIW_test/b.thumb.jpg\n1,1,12,2,<,12,16\n"
    )
    out = tmp_path / "out"
    prepare_dataset("diw", src, out)
    ds = load_dataset("diw", "test", out)
    pairs = {s.meta.sample_id: s.ordinal_pairs.tolist() for s in ds}
    # 1-based CSV → 0-based; '>' (A farther) → +1, '<' → −1
    assert pairs == {"a.thumb.jpg": [[2, 3, 9, 15, 1]], "b.thumb.jpg": [[0, 0, 11, 1, -1]]}
    assert ds[0].depth is None
    result = evaluate("constant", "diw", root=out, model_options={"value": 5.0}, progress=False)
    assert result.metrics["whdr"] == 1.0  # a constant ties every pair; ties count as wrong
    (src / "DIW_test.csv").write_text("./DIW_test/a.thumb.jpg\n3,4,13,16,>,12,16\n")
    with pytest.raises(DataError, match="DIW_test.csv: pair .* outside"):
        prepare_dataset("diw", src, tmp_path / "o2")
    (src / "DIW_test.csv").write_text("./DIW_test/a.thumb.jpg\n3,4,10,16,=,12,16\n")
    with pytest.raises(DataError, match="relation '='"):
        prepare_dataset("diw", src, tmp_path / "o3")


def test_redweb_png_round_trip(tmp_path, rng):
    src = tmp_path / "ReDWeb_V1"
    rds = {}
    for name in ("x1", "x2"):
        _jpg(src / "Imgs" / f"{name}.jpg", rng)
        rd = rng.integers(0, 256, (12, 16), dtype=np.uint8)
        (src / "RDs").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rd).save(src / "RDs" / f"{name}.png")
        rds[name] = rd
    out = tmp_path / "out"
    prepare_dataset("redweb", src, out)
    ds = load_dataset("redweb", "train", out)
    assert len(ds) == 2
    for s in ds:
        np.testing.assert_array_equal(s.depth, rds[s.meta.frame_id].astype(np.float32))
        assert s.valid.all() and s.kind.value == "utss"
    # UTSS ground truth has no metres to compare with: evaluation is refused with one line.
    with pytest.raises(UsageError, match="utss"):
        evaluate("plane-prior", "redweb", root=out, progress=False)
    (src / "RDs" / "x2.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(DataError, match="x2.png: corrupt"):
        prepare_dataset("redweb", src, tmp_path / "o2")


def test_megadepth_h5_and_diml_png16(tmp_path, rng):
    src = tmp_path / "mega"
    depth = rng.uniform(1, 30, (12, 16)).astype(np.float32)
    depth[0, :5] = 0
    _jpg(src / "0001" / "dense0" / "imgs" / "p.jpg", rng)
    (src / "0001" / "dense0" / "depths").mkdir(parents=True)
    with h5py.File(src / "0001" / "dense0" / "depths" / "p.h5", "w") as fh:
        fh["depth"] = depth
    out = tmp_path / "mout"
    prepare_dataset("megadepth", src, out)
    s = load_dataset("megadepth", "train", out)[0]
    np.testing.assert_array_equal(s.depth, depth)
    np.testing.assert_array_equal(s.valid, depth > 0)
    r = evaluate("constant", "megadepth", root=out, model_options={"value": 5.0}, progress=False)
    assert np.isfinite(r.metrics["abs_rel"])

    dsrc = tmp_path / "diml"
    mm = rng.integers(0, 9000, (12, 16)).astype(np.uint16)
    _jpg(dsrc / "test" / "HR" / "s1" / "color" / "f_c.png", rng)
    (dsrc / "test" / "HR" / "s1" / "depth_filled").mkdir(parents=True)
    Image.fromarray(mm).save(dsrc / "test" / "HR" / "s1" / "depth_filled" / "f_depth_filled.png")
    dout = tmp_path / "dout"
    prepare_dataset("diml-indoor", dsrc, dout, splits=["test"])
    s = load_dataset("diml-indoor", "test", dout)[0]
    np.testing.assert_allclose(s.depth, mm / 1000.0, rtol=1e-6)
    evaluate("constant", "diml-indoor", root=dout, model_options={"value": 5.0}, progress=False)
    with pytest.raises(DataError, match="no image matches"):
        prepare_dataset("diml-indoor", dsrc, dout, splits=["train"])


def test_depth_file_formats(tmp_path, rng):
    values = rng.uniform(0, 5, (3, 4)).astype(np.float32)
    np.save(tmp_path / "d.npy", values)
    np.testing.assert_array_equal(read_depth_file(tmp_path / "d.npy", "npy"), values)
    # PFM oracle: little-endian (negative scale), rows bottom to top
    (tmp_path / "d.pfm").write_bytes(b"Pf\n4 3\n-1.0\n" + np.flipud(values).astype("<f4").tobytes())
    np.testing.assert_array_equal(read_depth_file(tmp_path / "d.pfm", "pfm"), values)
    with pytest.raises(DataError, match="missing.npy: depth .npy not found"):
        read_depth_file(tmp_path / "missing.npy", "npy")


def test_archive_extraction_refuses_traversal(tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("ok.txt", "x")
        zf.writestr("../escape.txt", "x")
    with pytest.raises(DataError, match="escape.txt.*outside"):
        extract_archive(evil, tmp_path / "t1")
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "t1").exists()
    tar_path = tmp_path / "evil.tar"
    with tarfile.open(tar_path, "w") as tf:
        info = tarfile.TarInfo("/etc/abs.txt")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(DataError, match="absolute path"):
        extract_archive(tar_path, tmp_path / "t2")
    good = tmp_path / "good.tar.gz"
    with tarfile.open(good, "w:gz") as tf:
        info = tarfile.TarInfo("DIW_test.csv")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"abc"))
    assert (extract_archive(good, tmp_path / "t3") / "DIW_test.csv").read_bytes() == b"abc"


def test_prepare_from_archive_source(tmp_path, rng):
    src = tmp_path / "diw"
    _jpg(src / "DIW_test" / "a.jpg", rng)
    (src / "DIW_test.csv").write_text("./DIW_test/a.jpg\n1,1,2,2,<,12,16\n")
    archive = tmp_path / "diw.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in src.rglob("*"):
            zf.write(p, p.relative_to(src).as_posix())
    out = tmp_path / "out"
    prepare_dataset("diw", archive, out)
    assert len(load_dataset("diw", "test", out)) == 1


@pytest.fixture
def prepared_diw(tmp_path, rng) -> Path:
    src = tmp_path / "diw"
    _jpg(src / "DIW_test" / "a.jpg", rng)
    (src / "DIW_test.csv").write_text("./DIW_test/a.jpg\n1,1,2,2,<,12,16\n")
    prepare_dataset("diw", src, tmp_path / "prepared")
    return tmp_path / "prepared"


def test_download_offline_not_cached_is_a_clear_error(tmp_path):
    from depthbench.data.hub import download_dataset

    with pytest.raises(DataError, match="not in the local cache .* HF_HUB_OFFLINE=1"):
        download_dataset("diw", local_dir=tmp_path / "nowhere")


def test_download_offline_uses_cached_folder_and_both_loaders(prepared_diw):
    from depthbench.data.hub import download_dataset

    path = download_dataset("diw", local_dir=prepared_diw)
    assert len(load_dataset("diw", "test", path)) == 1
    import datasets

    files = sorted(str(p) for p in (path / "data").glob("test-*.parquet"))
    hf = datasets.load_dataset("parquet", data_files={"test": files}, split="test")
    assert len(hf) == 1 and hf[0]["kind"] == "ordinal" and hf[0]["ordinal_pairs"] == [0, 0, 1, 1, -1]


def test_push_regenerates_card_and_uploads_folder(prepared_diw, monkeypatch):
    import huggingface_hub

    calls: list[tuple[str, dict]] = []

    class RecordingApi:  # stands in for the Hub server; records what would be sent
        def __init__(self, endpoint=None, token=None):
            pass

        def create_repo(self, repo_id, **kw):
            calls.append(("create_repo", {"repo_id": repo_id, **kw}))

        def upload_folder(self, **kw):
            calls.append(("upload_folder", kw))
            return "https://hub.invalid/commit/1"

    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    (prepared_diw / "README.md").unlink()
    from depthbench.data.hub import push_dataset

    assert push_dataset("diw", "me/diw", root=prepared_diw) == "https://hub.invalid/commit/1"
    card = (prepared_diw / "README.md").read_text()
    assert (
        "task_categories:\n- depth-estimation" in card
        and "data/test-*.parquet" in card
        and "chen2016single" in card
    )
    upload = dict(calls)["upload_folder"]
    assert (
        upload["repo_id"] == "me/diw"
        and upload["repo_type"] == "dataset"
        and upload["folder_path"] == str(prepared_diw)
    )


def test_cli_download_and_push_errors(tmp_path):
    from depthbench.cli import main

    assert main(["download", "diw", "--out", str(tmp_path / "x")]) == 1
    assert main(["push", "diw", "--repo", "me/diw", "--root", str(tmp_path / "empty")]) == 1


from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=60, deadline=None)
@given(
    coords=st.lists(st.integers(1, 5000), min_size=4, max_size=4),
    relation=st.sampled_from([">", "<"]),
    tail=st.sampled_from(["", ",640,480", ",1,2,3"]),
)
def test_diw_parse_is_one_based_to_zero_based_with_sign(coords, relation, tail):
    from depthbench.data.readers.diw import parse_diw_csv

    line = ",".join(map(str, coords)) + f",{relation}{tail}"
    [(image, pair)] = parse_diw_csv(f"./DIW_test/x.thumb\n{line}\n", "t.csv")
    assert image == "./DIW_test/x.thumb"
    assert pair.tolist() == [[c - 1 for c in coords] + [1 if relation == ">" else -1]]


@settings(max_examples=40, deadline=None)
@given(parts=st.lists(st.sampled_from(["a", "b", "..", "c.txt"]), min_size=1, max_size=4))
def test_archive_member_check_refuses_any_parent_component(parts):
    from depthbench.data.archives import _check_member

    name = "/".join(parts)
    if ".." in parts:
        with pytest.raises(DataError, match="outside"):
            _check_member(Path("x.zip"), name)
    else:
        _check_member(Path("x.zip"), name)
