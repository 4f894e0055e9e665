"""Preparer of ``unreal1k`` with the built-in backend: the same pipeline as
``depthbench generate unreal1k --backend builtin`` (depthbench.prep.synthetic.generator), with the
recipe's options. For real Unreal Engine scenes use ``depthbench generate unreal1k --backend unrealcv``."""

from __future__ import annotations

from pathlib import Path

from depthbench.catalog import DatasetManifest
from depthbench.errors import UsageError
from depthbench.prepare import register_preparer


@register_preparer("unreal1k-builtin")
def prepare_unreal1k_builtin(
    manifest: DatasetManifest,
    source: Path | None,
    out: Path,
    *,
    scenes: int = 16,
    objects: int = 8,
    frames_per_object: int = 12,
    sample: int = 1000,
    seed: int = 0,
    height: int = 480,
    width: int = 640,
    splits: list[str] | None = None,
) -> Path:
    """Generate the set into ``out`` (resumable per scene through ``out/plan``)."""
    from depthbench.prep.synthetic import BuiltinBackend, GeneratorConfig, generate_unreal1k
    from depthbench.prep.synthetic.writers import PreparedFrameSink

    if source is not None:
        raise UsageError("unreal1k is generated, not read: omit --source (or use `depthbench generate unreal1k`)")
    if splits is not None and splits != ["test"]:
        raise UsageError(f"unreal1k has only a test split, not {splits}")
    config = GeneratorConfig(backend="builtin", scenes=scenes, objects_per_scene=objects,
                             frames_per_object=frames_per_object, sample=sample, seed=seed,
                             height=height, width=width)
    backend = BuiltinBackend(scenes, seed=seed)
    try:
        with PreparedFrameSink(out, dataset=manifest.name) as sink:
            generate_unreal1k(backend, out, config, sink)
    finally:
        backend.close()
    return out
