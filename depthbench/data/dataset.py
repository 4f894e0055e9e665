"""Reading prepared datasets: ``load_dataset(name, split, root)`` → a sequence of ``Sample``.

Reads the parquet shards with pyarrow, one row group at a time (16 frames), decoding images lazily,
so a 50k-frame split opens instantly and iterates in constant memory. Works offline from a local
folder; ``datasets.load_dataset("parquet", data_files=...)`` reads the same files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from depthbench.catalog import DatasetManifest, default_data_root, get_manifest
from depthbench.data.codecs import decode_image
from depthbench.data.prepared import prepared_splits
from depthbench.errors import DataError
from depthbench.types import DepthKind, Intrinsics, Sample, SampleMeta


class PreparedDataset(Sequence[Sample]):
    """Random-access view of one split of a prepared folder."""

    def __init__(self, root: str | Path, split: str, manifest: DatasetManifest | None = None) -> None:
        self.root = Path(root)
        self.split = split
        self.manifest = manifest
        data_dir = self.root / "data"
        if not data_dir.is_dir():
            raise DataError(f"{self.root}: not a prepared dataset folder (no data/ inside); run `depthbench prepare`")
        self.shards = sorted(data_dir.glob(f"{split}-*-of-*.parquet"))
        if not self.shards:
            found = sorted({p.name.split("-")[0] for p in data_dir.glob("*.parquet")})
            raise DataError(f"{data_dir}: no prepared split {split!r} (found: {', '.join(found) or 'none'})")
        self.meta: dict[str, Any] = prepared_splits(self.root).get(split, {})
        self._files: list[pq.ParquetFile] = []
        self._groups: list[tuple[int, int, int]] = []  # (first row, shard index, row group index)
        total = 0
        for shard_index, path in enumerate(self.shards):
            try:
                parquet = pq.ParquetFile(path)
            except (pa.ArrowInvalid, OSError) as exc:
                raise DataError(f"{path}: corrupt parquet shard ({exc})") from exc
            self._files.append(parquet)
            for group in range(parquet.metadata.num_row_groups):
                self._groups.append((total, shard_index, group))
                total += parquet.metadata.row_group(group).num_rows
        self._length = total
        self._starts = np.array([g[0] for g in self._groups], dtype=np.int64)
        self._cached: tuple[int, list[dict[str, Any]]] | None = None

    @property
    def name(self) -> str:
        return self.manifest.name if self.manifest else str(self.meta.get("dataset", self.root.name))

    @property
    def fingerprint(self) -> str:
        return str(self.meta.get("fingerprint", ""))

    def __len__(self) -> int:
        return self._length

    def _rows_of_group(self, group_index: int) -> list[dict[str, Any]]:
        if self._cached is not None and self._cached[0] == group_index:
            return self._cached[1]
        _, shard_index, group = self._groups[group_index]
        try:
            rows = self._files[shard_index].read_row_group(group).to_pylist()
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"{self.shards[shard_index]}: corrupt parquet row group {group} ({exc})") from exc
        self._cached = (group_index, rows)
        return rows

    @overload
    def __getitem__(self, index: int) -> Sample: ...
    @overload
    def __getitem__(self, index: slice) -> list[Sample]: ...
    def __getitem__(self, index: int | slice) -> Sample | list[Sample]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        group_index = int(np.searchsorted(self._starts, index, side="right") - 1)
        row = self._rows_of_group(group_index)[index - int(self._starts[group_index])]
        return row_to_sample(row)

    def __iter__(self) -> Iterator[Sample]:
        for i in range(len(self)):
            yield self[i]


def row_to_sample(row: dict[str, Any]) -> Sample:
    """Decode one parquet row of the prepared schema into a ``Sample``."""
    sample_id = row["sample_id"]
    what = f"{row['dataset']}/{row['split']}/{sample_id}"
    image = decode_image(row["rgb"], f"{what} rgb")
    height, width = (int(v) for v in row["image_hw"])
    if image.shape[:2] != (height, width):
        raise DataError(f"{what}: rgb is {image.shape[:2]}, row says image_hw {(height, width)}")
    depth = valid = pairs = None
    if row.get("depth") is not None:
        raw = decode_image(row["depth"], f"{what} depth")
        depth = raw.astype(np.float32) / np.float32(row["depth_scale"])
    elif row.get("depth_f32") is not None:
        depth = np.asarray(row["depth_f32"], dtype=np.float32).reshape(height, width)
    if depth is not None:
        if row.get("valid_mask") is not None:
            valid = decode_image(row["valid_mask"], f"{what} valid_mask")
        else:
            valid = np.isfinite(depth) & (depth > 0)
    if row.get("ordinal_pairs") is not None:
        pairs = np.asarray(row["ordinal_pairs"], dtype=np.int32).reshape(-1, 5)
    intrinsics = Intrinsics(*row["intrinsics"]) if row.get("intrinsics") is not None else None
    extra = json.loads(row["extra"]) if row.get("extra") else {}
    meta = SampleMeta(
        dataset=row["dataset"],
        split=row["split"],
        sample_id=sample_id,
        scene_id=row.get("scene_id") or "",
        frame_id=row.get("frame_id") or "",
        source_sha256=row.get("source_sha256") or "",
        extra=extra,
    )
    return Sample(
        image=image,
        kind=DepthKind(row["kind"]),
        meta=meta,
        depth=depth,
        valid=valid,
        ordinal_pairs=pairs,
        intrinsics=intrinsics,
    )


def load_dataset(name: str, split: str | None = None, root: str | Path | None = None) -> PreparedDataset:
    """Open split ``split`` (default: the manifest's evaluation split) of prepared dataset ``name``.

    ``root`` is the prepared folder; by default the cache folder (``depthbench download`` /
    ``depthbench prepare`` put data there). Built-in datasets (``auto_prepare``) are generated on
    first use.
    """
    manifest = get_manifest(name)
    split = split or manifest.eval.split
    known = set(manifest.splits) | {f"{s}_{v}" for s in manifest.splits for v in manifest.gt_variants}
    if split not in known:
        raise DataError(f"dataset {manifest.name!r} has no split {split!r} (splits: {', '.join(sorted(known))})")
    folder = Path(root) if root is not None else default_data_root(manifest.name)
    if root is None and manifest.auto_prepare and split not in prepared_splits(folder):
        from depthbench.prepare import prepare_dataset

        prepare_dataset(manifest.name, source=None, out=folder, splits=[split])
    if not folder.exists():
        how = (
            f"`depthbench prepare {manifest.name} --out {folder}`"
            if manifest.auto_prepare
            else f"`depthbench prepare {manifest.name} --source RAW --out {folder}` or `depthbench download {manifest.name}`"
        )
        raise DataError(f"dataset {manifest.name!r}: prepared folder {folder} does not exist; run {how}")
    return PreparedDataset(folder, split, manifest)
