"""Prepared parquet format: lossless round trip, atomic publication, offline loading."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from depthbench.data.codecs import encode_png
from depthbench.data.dataset import PreparedDataset
from depthbench.data.prepared import PreparedWriter, prepared_splits
from depthbench.errors import DataError
from depthbench.types import DepthKind, Intrinsics


def _frame(rng, h=20, w=30):
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    depth = rng.uniform(0.5, 9.0, (h, w)).astype(np.float32)
    depth[0, :4] = 0.0
    return rgb, depth


def test_png16_round_trip_is_exact_after_quantisation(tmp_path, rng):
    rgb, depth = _frame(rng)
    with PreparedWriter(tmp_path, "toy", "test", depth_storage="png16", depth_scale=1000.0) as w:
        w.add(sample_id="a", rgb=rgb, depth=depth, kind=DepthKind.METRIC, intrinsics=Intrinsics(1, 2, 3, 4))
    sample = PreparedDataset(tmp_path, "test")[0]
    np.testing.assert_array_equal(sample.image, rgb)
    np.testing.assert_array_equal(sample.depth, np.rint(depth * 1000).astype(np.uint16) / np.float32(1000))
    assert not sample.valid[0, :4].any() and sample.valid[1:].all()
    assert sample.intrinsics == Intrinsics(1, 2, 3, 4)


def test_uint16_depth_is_stored_bit_exact(tmp_path, rng):
    rgb, _ = _frame(rng)
    raw = rng.integers(0, 65535, rgb.shape[:2], dtype=np.uint16)
    with PreparedWriter(tmp_path, "toy", "test", depth_storage="png16", depth_scale=256.0) as w:
        w.add(sample_id="a", rgb=rgb, depth=raw, kind="metric")
    sample = PreparedDataset(tmp_path, "test")[0]
    np.testing.assert_array_equal((sample.depth * 256).astype(np.uint16), raw)


def test_f32_lossless_encoded_rgb_kept_and_byte_stream_split(tmp_path, rng):
    rgb, depth = _frame(rng)
    depth[3, 3] = np.nan
    encoded = encode_png(rgb)
    mask = rng.random(depth.shape) > 0.5
    with PreparedWriter(tmp_path, "toy", "train", depth_storage="f32") as w:
        w.add(sample_id="a", rgb=encoded, image_hw=rgb.shape[:2], depth=depth, valid=mask, kind="uts", extra={"k": 1})
    sample = PreparedDataset(tmp_path, "train")[0]
    np.testing.assert_array_equal(sample.depth, depth)  # NaN positions equal too
    np.testing.assert_array_equal(sample.valid, mask)
    assert sample.kind == DepthKind.UTS and sample.meta.extra == {"k": 1}
    shard = next((tmp_path / "data").glob("train-*.parquet"))
    assert pq.read_table(shard).column("rgb")[0].as_py() == encoded
    group = pq.ParquetFile(shard).metadata.row_group(0)
    columns = {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}
    assert "BYTE_STREAM_SPLIT" in columns["depth_f32.list.element"].encodings
    assert columns["depth_f32.list.element"].compression == "ZSTD"


def test_ordinal_rows(tmp_path, rng):
    rgb, _ = _frame(rng)
    pairs = np.array([[1, 2, 3, 4, 1], [5, 6, 7, 8, -1]])
    with PreparedWriter(tmp_path, "toy", "test", depth_storage="none") as w:
        w.add(sample_id="a", rgb=rgb, ordinal_pairs=pairs, kind="ordinal")
    sample = PreparedDataset(tmp_path, "test")[0]
    np.testing.assert_array_equal(sample.ordinal_pairs, pairs)
    assert sample.depth is None


def test_failed_write_publishes_nothing(tmp_path, rng):
    rgb, depth = _frame(rng)
    with pytest.raises(RuntimeError):
        with PreparedWriter(tmp_path, "toy", "test", depth_storage="f32") as w:
            for i in range(40):
                w.add(sample_id=str(i), rgb=rgb, depth=depth, kind="metric")
            raise RuntimeError("crash in the middle")
    assert list((tmp_path / "data").iterdir()) == []
    assert prepared_splits(tmp_path) == {}


def test_duplicate_ids_and_existing_split_refused(tmp_path, rng):
    rgb, depth = _frame(rng)
    with PreparedWriter(tmp_path, "toy", "test", depth_storage="f32") as w:
        w.add(sample_id="a", rgb=rgb, depth=depth, kind="metric")
        with pytest.raises(DataError, match="duplicate"):
            w.add(sample_id="a", rgb=rgb, depth=depth, kind="metric")
    with pytest.raises(DataError, match="already prepared"):
        PreparedWriter(tmp_path, "toy", "test", depth_storage="f32")


def test_sharding_and_random_access(tmp_path, rng):
    rgb, depth = _frame(rng)
    with PreparedWriter(tmp_path, "toy", "test", depth_storage="f32", shard_max_bytes=20_000) as w:
        for i in range(50):
            w.add(sample_id=f"s{i:03d}", rgb=rgb, depth=depth + i, kind="metric")
    ds = PreparedDataset(tmp_path, "test")
    assert len(ds.shards) > 1 and len(ds) == 50
    assert [s.meta.sample_id for s in ds[47:50]] == ["s047", "s048", "s049"]
    assert float(ds[-1].depth[5, 5]) == pytest.approx(float(depth[5, 5] + 49))
    assert len(ds.fingerprint) == 64


def test_corrupt_shard_is_a_data_error(tmp_path, rng):
    rgb, depth = _frame(rng)
    with PreparedWriter(tmp_path, "toy", "test", depth_storage="f32") as w:
        w.add(sample_id="a", rgb=rgb, depth=depth, kind="metric")
    shard = next((tmp_path / "data").glob("test-*.parquet"))
    shard.write_bytes(shard.read_bytes()[:100])
    with pytest.raises(DataError, match="corrupt parquet"):
        PreparedDataset(tmp_path, "test")


def test_hf_datasets_reads_the_same_files(tmp_path, rng):
    import datasets

    rgb, depth = _frame(rng)
    with PreparedWriter(tmp_path, "toy", "test", depth_storage="f32") as w:
        for i in range(3):
            w.add(sample_id=str(i), rgb=rgb, depth=depth, kind="metric")
    hf = datasets.load_dataset("parquet", data_files={"test": str(tmp_path / "data" / "test-*.parquet")},
                               split="test", cache_dir=str(tmp_path / "hf_cache"))
    assert len(hf) == 3 and hf[0]["sample_id"] == "0"
    np.testing.assert_array_equal(np.asarray(hf[1]["depth_f32"], dtype=np.float32).reshape(depth.shape), depth)
