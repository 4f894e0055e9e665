"""Storage of generated Unreal-1k frames in depthbench's prepared parquet format.

The dataset is ``unreal1k``, split ``test``, float32 depth (camera-z metres, lossless), kind
``metric``, per-frame intrinsics; ``extra`` carries the camera-to-world pose (row-major 16 numbers),
the object of interest and the backend. The dataset card is written when the catalog knows
``unreal1k`` (loaders/unreal1k.yaml).
"""

from __future__ import annotations

from pathlib import Path

from depthbench.data.prepared import PreparedWriter
from depthbench.errors import UnknownNameError
from depthbench.prep.synthetic.generator import GeneratedFrame

DATASET = "unreal1k"
SPLIT = "test"


class PreparedFrameSink:
    """Callable sink (``sink(frame)``) over a :class:`PreparedWriter`; use as a context manager."""

    def __init__(self, out_dir: str | Path, dataset: str = DATASET, split: str = SPLIT) -> None:
        self.out_dir = Path(out_dir)
        self.dataset = dataset
        self.writer = PreparedWriter(self.out_dir, dataset, split, depth_storage="f32", overwrite=True)

    def __call__(self, frame: GeneratedFrame) -> None:
        self.writer.add(
            sample_id=frame.sample_id,
            rgb=frame.rgb,
            depth=frame.depth,
            kind="metric",
            intrinsics=frame.intrinsics,
            scene_id=frame.scene_id,
            frame_id=frame.frame_id,
            extra=frame.extra,
        )

    def __enter__(self) -> PreparedFrameSink:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.writer.abort()
            return
        self.writer.close()
        try:
            from depthbench.catalog import get_manifest
            from depthbench.data.card import write_dataset_card

            write_dataset_card(self.out_dir, get_manifest(self.dataset))
        except UnknownNameError:
            pass  # no manifest yet: the parquet data and meta are complete without the card
