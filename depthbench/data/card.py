"""Dataset card (README.md) of a prepared folder, in the Hugging Face Hub's format: YAML front
matter with ``configs:`` mapping each split to its parquet files, ``task_categories``, license,
then provenance, citation, depth units/kind and the evaluation protocol."""

from __future__ import annotations

from pathlib import Path

import yaml

from depthbench.catalog import DatasetManifest
from depthbench.data.prepared import prepared_splits, write_text_atomic

_HUB_LICENSES = {
    "cc-by-4.0", "cc-by-nc-4.0", "cc-by-nc-sa-4.0", "cc-by-sa-4.0", "cc-by-3.0", "cc-by-nc-3.0", "cc-by-nc-sa-3.0",
    "cc-by-sa-3.0", "mit", "apache-2.0", "cc0-1.0", "other",
}


def render_dataset_card(root: Path, manifest: DatasetManifest) -> str:
    splits = prepared_splits(root)
    license_id = manifest.license.lower() if manifest.license.lower() in _HUB_LICENSES else "other"
    front = {
        "license": license_id,
        "task_categories": ["depth-estimation"],
        "pretty_name": manifest.title,
        "tags": ["depth-estimation", "depthbench", manifest.kind.value],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": s, "path": f"data/{s}-*.parquet"} for s in sorted(splits)],
            }
        ],
    }
    storage = manifest.depth
    depth_line = (
        f"16-bit PNG in column `depth`; metres = value / `depth_scale` ({storage.scale:g})"
        if storage.storage == "png16"
        else "float32 list in column `depth_f32` (row-major, `image_hw`)"
        if storage.storage == "f32"
        else "no dense depth (ordinal pairs in `ordinal_pairs`: ya, xa, yb, xb, rel)"
    )
    lines = [
        "---",
        yaml.safe_dump(front, sort_keys=False).rstrip(),
        "---",
        f"# {manifest.title}",
        "",
        manifest.description.strip(),
        "",
        "Prepared with [depthbench](https://pypi.org/project/depthbench/) "
        f"(`depthbench prepare {manifest.name}`). License of the source data: {manifest.license}.",
        "",
        "## Contents",
        "",
        "| split | frames | fingerprint |",
        "| --- | --- | --- |",
        *[f"| {s} | {m['count']} | `{m['fingerprint'][:16]}` |" for s, m in sorted(splits.items())],
        "",
        f"- depth kind: `{manifest.kind.value}` ({storage.units}); {depth_line}",
        f"- source: {manifest.source.homepage}",
        f"- evaluation: crop `{manifest.eval.crop}`, caps {manifest.eval.min_depth:g}–{manifest.eval.max_depth:g} m, "
        f"{manifest.eval.averaging} averaging, headline `{manifest.eval.headline}`",
        "",
        "## Citation",
        "",
        "```bibtex",
        manifest.citation.strip(),
        "```",
        "",
    ]
    return "\n".join(lines)


def write_dataset_card(root: Path, manifest: DatasetManifest) -> Path:
    path = Path(root) / "README.md"
    write_text_atomic(path, render_dataset_card(Path(root), manifest))
    return path
