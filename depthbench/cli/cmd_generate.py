"""``depthbench generate``: build synthetic test sets (Unreal-1k) with perfect depth."""

from __future__ import annotations

from pathlib import Path

import typer

from depthbench.errors import UsageError

generate_app = typer.Typer(help="Generate synthetic datasets with perfect depth.", no_args_is_help=True)


@generate_app.command("unreal1k")
def unreal1k_cmd(
    backend: str = typer.Option("builtin", "--backend", help="builtin (procedural rooms, ray cast) or unrealcv (running Unreal Engine)."),
    scenes: int | None = typer.Option(None, "--scenes", help="Number of scenes (builtin: procedural, default 32; unrealcv: first N of --level, default all)."),
    objects: int = typer.Option(40, "--objects", help="Objects of interest per scene (a seeded choice)."),
    frames_per_object: int = typer.Option(16, "--frames-per-object", help="Fly-around frames per object."),
    sample: int = typer.Option(1000, "--sample", help="Frames sampled uniformly into the test set."),
    out: Path = typer.Option(..., "--out", help="Output folder (prepared parquet + plan/ for resuming)."),
    seed: int = typer.Option(0, "--seed", help="Seed of scenes, trajectories and the sample."),
    height: int = typer.Option(480, "--height", help="Image height."),
    width: int = typer.Option(640, "--width", help="Image width."),
    host: str = typer.Option("127.0.0.1", "--host", help="UnrealCV server host."),
    port: int = typer.Option(9000, "--port", help="UnrealCV server port."),
    timeout: float = typer.Option(10.0, "--timeout", help="UnrealCV connect/reply timeout in seconds."),
    level: list[str] = typer.Option([], "--level", help="UnrealCV level to load (repeatable); none: the running level."),
    object_filter: list[str] = typer.Option([], "--object-filter", help="UnrealCV: keep objects whose name contains this (repeatable)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Fly a camera around objects of interest, render RGB + depth, sample N frames (resumable)."""
    from depthbench.prep.synthetic.generator import GeneratorConfig, generate_unreal1k
    from depthbench.prep.synthetic.writers import PreparedFrameSink

    for name, value in (("--scenes", 1 if scenes is None else scenes), ("--objects", objects), ("--frames-per-object", frames_per_object),
                        ("--sample", sample), ("--height", height), ("--width", width)):
        if value <= 0:
            raise UsageError(f"{name}: expected a positive integer, got {value}")
    if backend == "builtin":
        from depthbench.prep.synthetic.backends import BuiltinBackend

        scenes = 32 if scenes is None else scenes
        scene_backend = BuiltinBackend(scenes, seed=seed)
    elif backend == "unrealcv":
        from depthbench.prep.synthetic.unrealcv import UnrealCVBackend

        scene_backend = UnrealCVBackend(host, port, timeout=timeout, levels=level or None, object_pattern=tuple(object_filter) or None)
        scenes = len(scene_backend.list_scenes()) if scenes is None else scenes
    else:
        raise UsageError(f"--backend: expected 'builtin' or 'unrealcv', got {backend!r}")
    config = GeneratorConfig(backend=backend, scenes=scenes, objects_per_scene=objects, frames_per_object=frames_per_object,
                             sample=sample, seed=seed, height=height, width=width)
    try:
        with PreparedFrameSink(out) as sink:
            written = generate_unreal1k(scene_backend, out, config, sink, progress=progress)
    finally:
        scene_backend.close()
    typer.echo(f"generated unreal1k: {written} frames ({height}×{width}) → {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(generate_app, name="generate")
