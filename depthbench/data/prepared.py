"""Writer of the prepared format (DESIGN.md §3): Hugging Face ``datasets``-compatible parquet.

Layout of a prepared dataset folder::

    ROOT/data/{split}-{i:05d}-of-{n:05d}.parquet   one row per frame
    ROOT/meta/{split}.json                         count, fingerprint, storage, versions
    ROOT/README.md                                 dataset card (``configs:`` for the Hub)

Lossless: integer-native depth is a 16-bit PNG with ``depth_scale`` (metres = value / scale);
float-native depth is a float32 list column written with zstd + BYTE_STREAM_SPLIT (pyarrow
directly: ``Dataset.to_parquet`` ignores these settings). RGB bytes from the source are stored as
they are. Shards are written under temporary names and renamed only when the split is complete,
so a crash never leaves a half-written split that looks finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from depthbench import __version__
from depthbench.data.codecs import encode_png, json_dumps, quantize_depth
from depthbench.errors import DataError, UsageError
from depthbench.types import DepthKind, Intrinsics

SCHEMA = pa.schema(
    [
        ("sample_id", pa.string()),
        ("dataset", pa.string()),
        ("split", pa.string()),
        ("scene_id", pa.string()),
        ("frame_id", pa.string()),
        ("rgb", pa.binary()),
        ("depth", pa.binary()),
        ("depth_f32", pa.list_(pa.float32())),
        ("depth_scale", pa.float32()),
        ("valid_mask", pa.binary()),
        ("kind", pa.string()),
        ("intrinsics", pa.list_(pa.float64(), 4)),
        ("image_hw", pa.list_(pa.int32(), 2)),
        ("ordinal_pairs", pa.list_(pa.int32())),
        ("source_sha256", pa.string()),
        ("extra", pa.string()),
    ]
)
SHARD_MAX_BYTES = 500 * 1024 * 1024
ROWS_PER_ROW_GROUP = 16
_WRITE_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "use_dictionary": ["dataset", "split", "scene_id", "kind"],
    "column_encoding": {"depth_f32.list.element": "BYTE_STREAM_SPLIT"},
}


def shard_name(split: str, index: int, total: int) -> str:
    return f"{split}-{index:05d}-of-{total:05d}.parquet"


class PreparedWriter:
    """Streams frames of one split into parquet shards; ``close()`` publishes them atomically.

    ``depth_storage``: ``"png16"`` (needs ``depth_scale``), ``"f32"``, or ``"none"`` (ordinal data).
    Use as a context manager; an exception inside the block discards the partial split.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike[str],
        dataset: str,
        split: str,
        *,
        depth_storage: str,
        depth_scale: float | None = None,
        overwrite: bool = False,
        shard_max_bytes: int = SHARD_MAX_BYTES,
    ) -> None:
        if depth_storage not in ("png16", "f32", "none"):
            raise UsageError(f"depth_storage {depth_storage!r}: expected 'png16', 'f32' or 'none'")
        if depth_storage == "png16" and not depth_scale:
            raise UsageError("depth_storage 'png16' needs depth_scale (metres = value / depth_scale)")
        self.root = Path(out_dir)
        self.dataset, self.split = dataset, split
        self.depth_storage, self.depth_scale = depth_storage, depth_scale
        self.shard_max_bytes = shard_max_bytes
        self.data_dir = self.root / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        existing = sorted(self.data_dir.glob(f"{split}-*.parquet"))
        if existing and not overwrite:
            raise DataError(f"{self.data_dir}: split {split!r} already prepared ({len(existing)} shards); pass overwrite=True")
        for stale in self.data_dir.glob(f".{split}-*.tmp"):
            stale.unlink()
        self._replaced = existing
        self._rows: list[dict[str, Any]] = []
        self._temp_shards: list[Path] = []
        self._writer: pq.ParquetWriter | None = None
        self._shard_bytes = 0
        self._ids: set[str] = set()
        self._hash = hashlib.sha256()
        self.count = 0

    # -- adding frames -------------------------------------------------------------------------
    def add(
        self,
        *,
        sample_id: str,
        rgb: np.ndarray | bytes,
        kind: DepthKind | str,
        depth: np.ndarray | None = None,
        valid: np.ndarray | None = None,
        ordinal_pairs: np.ndarray | None = None,
        intrinsics: Intrinsics | None = None,
        scene_id: str = "",
        frame_id: str = "",
        source_sha256: str = "",
        image_hw: tuple[int, int] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Add one frame. ``rgb``: uint8 H×W×3 (stored as PNG) or already-encoded bytes (stored
        as is; then give ``image_hw``). ``depth``: float metres (0/NaN invalid) or uint16 raw values
        already multiplied by ``depth_scale``. ``valid``: only when not derivable from depth > 0."""
        if sample_id in self._ids:
            raise DataError(f"{self.dataset}/{self.split}: duplicate sample_id {sample_id!r}")
        what = f"{self.dataset}/{self.split}/{sample_id}"
        if isinstance(rgb, np.ndarray):
            if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
                raise DataError(f"{what}: rgb must be uint8 H×W×3, got {rgb.dtype} {rgb.shape}")
            image_hw = (int(rgb.shape[0]), int(rgb.shape[1]))
            rgb_bytes = encode_png(rgb)
        else:
            if image_hw is None:
                raise UsageError(f"{what}: encoded rgb bytes need image_hw")
            rgb_bytes = bytes(rgb)
        row: dict[str, Any] = {
            "sample_id": sample_id,
            "dataset": self.dataset,
            "split": self.split,
            "scene_id": scene_id,
            "frame_id": frame_id,
            "rgb": rgb_bytes,
            "depth": None,
            "depth_f32": None,
            "depth_scale": None,
            "valid_mask": None,
            "kind": DepthKind(kind).value,
            "intrinsics": list(intrinsics.as_tuple()) if intrinsics is not None else None,
            "image_hw": list(image_hw),
            "ordinal_pairs": None,
            "source_sha256": source_sha256,
            "extra": json_dumps(dict(extra or {})),
        }
        if depth is not None:
            if tuple(depth.shape) != tuple(image_hw):
                raise DataError(f"{what}: depth shape {depth.shape} != image shape {tuple(image_hw)}")
            if self.depth_storage == "png16":
                raw = depth if depth.dtype == np.uint16 else quantize_depth(depth, float(self.depth_scale or 1), what)
                row["depth"] = encode_png(raw)
                row["depth_scale"] = float(self.depth_scale or 1)
            elif self.depth_storage == "f32":
                row["depth_f32"] = np.ascontiguousarray(depth, dtype=np.float32).ravel()
            else:
                raise UsageError(f"{what}: depth given but depth_storage is 'none'")
            if valid is not None:
                row["valid_mask"] = encode_png(np.asarray(valid, dtype=bool))
        if ordinal_pairs is not None:
            pairs = np.asarray(ordinal_pairs, dtype=np.int32)
            if pairs.ndim != 2 or pairs.shape[1] != 5:
                raise DataError(f"{what}: ordinal_pairs must be N×5 (ya, xa, yb, xb, rel)")
            row["ordinal_pairs"] = pairs.ravel()
        if depth is None and ordinal_pairs is None:
            raise DataError(f"{what}: a frame needs depth or ordinal_pairs")
        self._ids.add(sample_id)
        # The fingerprint covers the id, the source checksum (or the RGB bytes) and the target as
        # stored (depth bytes and scale, mask, ordinal pairs): a changed ground truth changes it.
        target = hashlib.sha256()
        for part in (row["depth"], row["valid_mask"], str(row["depth_scale"]).encode()):
            target.update(part or b"")
        for array in (row["depth_f32"], row["ordinal_pairs"]):
            if array is not None:
                target.update(np.ascontiguousarray(array).tobytes())
        source = source_sha256 or hashlib.sha256(rgb_bytes).hexdigest()
        self._hash.update(f"{sample_id}\0{source}\0{target.hexdigest()}\n".encode())
        self._rows.append(row)
        self.count += 1
        if len(self._rows) >= ROWS_PER_ROW_GROUP:
            self._flush()

    # -- shards ------------------------------------------------------------------------------
    def _flush(self) -> None:
        if not self._rows:
            return
        table = pa.Table.from_pylist(self._rows, schema=SCHEMA)
        self._rows = []
        if self._writer is not None and self._shard_bytes + table.nbytes > self.shard_max_bytes:
            self._writer.close()
            self._writer = None
        if self._writer is None:
            path = self.data_dir / f".{self.split}-{len(self._temp_shards):05d}.tmp"
            self._temp_shards.append(path)
            self._writer = pq.ParquetWriter(path, SCHEMA, **_WRITE_OPTIONS)
            self._shard_bytes = 0
        self._writer.write_table(table, row_group_size=ROWS_PER_ROW_GROUP)
        self._shard_bytes += table.nbytes

    @property
    def fingerprint(self) -> str:
        """sha256 over (sample_id, source checksum, target checksum) in write order: identifies the
        split's content, ground truth included."""
        return self._hash.hexdigest()

    def close(self) -> Path:
        """Finish the split: publish shards under their final names, write meta and the card."""
        self._flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self.count == 0:
            raise DataError(f"{self.dataset}/{self.split}: no frames were added")
        # Drop the old meta first: a crash while shards are renamed then leaves a split without
        # meta (not listed as finished, so it is prepared again), never new shards with old meta.
        (self.root / "meta" / f"{self.split}.json").unlink(missing_ok=True)
        for old in self._replaced:
            old.unlink(missing_ok=True)
        total = len(self._temp_shards)
        for index, temp in enumerate(self._temp_shards):
            os.replace(temp, self.data_dir / shard_name(self.split, index, total))
        meta = {
            "dataset": self.dataset,
            "split": self.split,
            "count": self.count,
            "fingerprint": self.fingerprint,
            "depth_storage": self.depth_storage,
            "depth_scale": self.depth_scale,
            "shards": total,
            "depthbench_version": __version__,
        }
        write_json_atomic(self.root / "meta" / f"{self.split}.json", meta)
        return self.root

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for temp in self._temp_shards:
            temp.unlink(missing_ok=True)

    def __enter__(self) -> PreparedWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_json_atomic(path: Path, value: Any) -> None:
    """Write JSON to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(temp, path)


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


def prepared_splits(root: Path) -> dict[str, dict[str, Any]]:
    """Split name → meta of every finished split in a prepared folder."""
    meta_dir = Path(root) / "meta"
    if not meta_dir.is_dir():
        return {}
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(meta_dir.glob("*.json"))}


def copy_prepared(src: Path, dst: Path) -> None:
    """Copy a prepared folder (for the Hub stand-in and cache population) atomically."""
    temp = dst.with_name(f".{dst.name}.partial")
    shutil.rmtree(temp, ignore_errors=True)
    shutil.copytree(src, temp)
    if dst.exists():
        shutil.rmtree(dst)
    os.replace(temp, dst)
