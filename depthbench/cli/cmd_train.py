"""``depthbench train``: run a training recipe or config (single process or under torchrun)."""

from __future__ import annotations

from pathlib import Path

import typer

from depthbench.errors import UsageError


def train_cmd(
    recipe: str | None = typer.Option(None, "--recipe", "-r", help="Shipped recipe name (see --list)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="Training config YAML file."),
    set_: list[str] = typer.Option([], "--set", help="dotted.key=value override (repeatable), e.g. optim.lr=1e-4."),
    out: Path = typer.Option(Path("runs/train"), "--out", "-o", help="Run folder: log.jsonl, checkpoints/, best/."),
    device: str | None = typer.Option(None, "--device", help="cpu, cuda or cuda:N (default: cuda when present)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT/checkpoints/latest.json."),
    list_: bool = typer.Option(False, "--list", help="List the shipped recipes and exit."),
) -> None:
    """Train a registered model on prepared data (torchrun --nproc_per_node=N -m depthbench train ... for DDP)."""
    from depthbench.train.config import list_recipes, load_config

    if list_:
        typer.echo("\n".join(list_recipes()))
        return
    if (recipe is None) == (config is None):
        raise UsageError("give exactly one of --recipe NAME or --config FILE")
    cfg = load_config(config, recipe=recipe, overrides=set_)
    from depthbench.train.loop import train

    summary = train(cfg, out, device=device, resume=resume)
    import os

    if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 reports
        return
    if summary.get("best"):
        typer.echo(f"best: {summary['best']}")
    typer.echo(f"trained {summary['steps']} steps → {out}")


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
