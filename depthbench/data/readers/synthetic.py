"""Preparer of ``synthetic-rooms``: the built-in procedurally generated indoor scenes, ray cast
with exact depth (depthbench.prep.synthetic). Needs no download; deterministic for a seed."""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from depthbench.catalog import DatasetManifest
from depthbench.data.card import write_dataset_card
from depthbench.data.prepared import PreparedWriter
from depthbench.prepare import register_preparer


@register_preparer("synthetic-rooms")
def prepare_synthetic_rooms(
    manifest: DatasetManifest,
    source: Path | None,
    out: Path,
    *,
    frames: dict[str, int] | None = None,
    splits: list[str] | None = None,
    height: int = 240,
    width: int = 320,
    seed: int = 0,
) -> Path:
    """Render each split (``frames``: split → frame count; train and test use disjoint scenes).
    ``splits`` restricts the work to some splits (auto-preparation renders only what is asked)."""
    from depthbench.prep.synthetic import synthetic_rooms_frames

    counts = frames or {name: int(spec.count or 0) for name, spec in manifest.splits.items()}
    if splits is not None:
        counts = {name: counts[name] for name in splits}
    for split, count in counts.items():
        with PreparedWriter(out, manifest.name, split, depth_storage="f32", overwrite=True) as writer:
            for frame in tqdm(synthetic_rooms_frames(split, count, height=height, width=width, seed=seed),
                              total=count, desc=f"rendering {manifest.name}/{split}", unit="frame", leave=False):
                writer.add(
                    sample_id=frame.frame_id,
                    rgb=frame.rgb,
                    depth=frame.depth,
                    kind=manifest.kind,
                    intrinsics=frame.intrinsics,
                    scene_id=frame.scene_id,
                    frame_id=frame.frame_id,
                    extra={"pose_c2w": frame.pose.tolist(), "seed": seed},
                )
    write_dataset_card(out, manifest)
    return out
