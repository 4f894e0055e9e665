"""Preparer of ``diw``: Depth in the Wild (Chen et al., NIPS 2016), one ordinal point pair per image.

CSV format of the official release (``DIW_test.csv``, ``DIW_train_val.csv``): two lines per sample,

    ./DIW_test/0a1b...thumb                      image path (relative to the CSV / the source folder)
    143,50,127,264,>,212,320                     yA, xA, yB, xB, relation, then the image size

Coordinates in the CSV are 1-based (row y, column x); they are stored 0-based (value − 1) and
checked against the image. Relation ``>`` means depth(A) > depth(B) (A is farther) and ``<`` means
A is closer; stored as rel = +1 when A is farther than B, −1 when closer (depthbench.types'
convention used by WHDR). Any other relation is an error. Fields after the fifth are ignored.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from depthbench.catalog import DatasetManifest
from depthbench.data.archives import resolve_source
from depthbench.data.card import write_dataset_card
from depthbench.data.prepared import PreparedWriter
from depthbench.data.readers.common import read_bytes, read_rgb, sha256_bytes, split_is_done
from depthbench.errors import DataError, UsageError
from depthbench.prepare import register_preparer
from depthbench.types import DepthKind

_RELATIONS = {">": 1, "<": -1}


def parse_diw_csv(text: str, where: str) -> list[tuple[str, np.ndarray]]:
    """(image path, 1×5 int32 pair (ya, xa, yb, xb, rel), 0-based) per sample of a DIW CSV."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) % 2:
        raise DataError(
            f"{where}: odd number of non-empty lines ({len(lines)}); expected image/pair line pairs"
        )
    out = []
    for i in range(0, len(lines), 2):
        image, fields = lines[i], [f.strip() for f in lines[i + 1].split(",")]
        if len(fields) < 5:
            raise DataError(
                f"{where}: line {i + 2}: expected 'yA,xA,yB,xB,>|<,...', got {lines[i + 1][:60]!r}"
            )
        try:
            ya, xa, yb, xb = (int(float(v)) - 1 for v in fields[:4])
        except ValueError as exc:
            raise DataError(
                f"{where}: line {i + 2}: coordinates are not numbers: {lines[i + 1][:60]!r}"
            ) from exc
        if fields[4] not in _RELATIONS:
            raise DataError(f"{where}: line {i + 2}: relation {fields[4]!r}, expected '>' or '<'")
        out.append((image, np.array([[ya, xa, yb, xb, _RELATIONS[fields[4]]]], dtype=np.int32)))
    if not out:
        raise DataError(f"{where}: no samples")
    return out


def _find_image(name: str, source: Path, csv_dir: Path) -> Path:
    relative = name[2:] if name.startswith("./") else name.lstrip("/")
    for base in (source, csv_dir):
        if (base / relative).is_file():
            return base / relative
    raise DataError(f"{source / relative}: image listed in the DIW CSV not found")


@register_preparer("diw")
def prepare_diw(
    manifest: DatasetManifest,
    source: Path | None,
    out: Path,
    *,
    csv: dict[str, str] | None = None,
    splits: list[str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write each split of ``csv`` (split → CSV path relative to ``--source``): the image bytes as
    they are and one ordinal pair per image; depth storage ``none``."""
    root = resolve_source(source, out)
    if root is None:
        raise UsageError(
            f"dataset {manifest.name!r} needs --source (folder with the DIW CSV files and images)"
        )
    csv = csv or {"test": "DIW_test.csv"}
    for split in splits or list(csv):
        if split not in csv:
            raise UsageError(f"split {split!r}: no CSV given for it (option csv: {csv})")
        if split_is_done(out, split, overwrite):
            print(
                f"{manifest.name}: split {split} already prepared (overwrite=true to redo)", file=sys.stderr
            )
            continue
        csv_path = root / csv[split]
        samples = parse_diw_csv(
            read_bytes(csv_path, "DIW CSV").decode("utf-8", errors="replace"), str(csv_path)
        )
        with PreparedWriter(out, manifest.name, split, depth_storage="none", overwrite=True) as writer:
            for name, pair in tqdm(samples, desc=f"{manifest.name}/{split}", unit="img", leave=False):
                path = _find_image(name, root, csv_path.parent)
                rgb, (h, w) = read_rgb(path)
                ys, xs = pair[0, [0, 2]], pair[0, [1, 3]]
                if ys.min() < 0 or xs.min() < 0 or ys.max() >= h or xs.max() >= w:
                    raise DataError(
                        f"{csv_path}: pair {pair[0, :4].tolist()} (0-based) lies outside {path} ({h}×{w})"
                    )
                stem = Path(name).name
                writer.add(
                    sample_id=stem,
                    rgb=rgb,
                    image_hw=(h, w),
                    kind=DepthKind.ORDINAL,
                    ordinal_pairs=pair,
                    frame_id=stem,
                    source_sha256=sha256_bytes(rgb),
                    extra={"csv_image": name},
                )
    write_dataset_card(out, manifest)
    return out
