"""Leaderboard commands: ``depthbench leaderboard add FILE``, ``build``, ``list``."""

from __future__ import annotations

from pathlib import Path

import typer

leaderboard_app = typer.Typer(help="Results store, paper-style tables and the static leaderboard site.",
                              no_args_is_help=True)


@leaderboard_app.command("add")
def add_cmd(
    file: Path = typer.Argument(..., help="Result JSON written by `depthbench evaluate --output`."),
    results: Path | None = typer.Option(None, "--results", help="Results store (default: leaderboard/results)."),
    visuals: Path | None = typer.Option(None, "--visuals", help="A --save-visuals folder to file with the result."),
    benchmark: str | None = typer.Option(None, "--benchmark", help="Benchmark the result is for, when its protocol is in several."),
) -> None:
    """Validate a result and file it in the store (never overwrites)."""
    from depthbench.leaderboard.store import add_result

    dest = add_result(file, results, visuals=visuals, benchmark=benchmark)
    typer.echo(f"added {file} → {dest}")


@leaderboard_app.command("build")
def build_cmd(
    out: Path = typer.Option(Path("leaderboard/site"), "--out", help="Site folder (replaced)."),
    results: Path | None = typer.Option(None, "--results", help="Results store (default: leaderboard/results)."),
) -> None:
    """Render the store into tables (md, tex, csv, html) and the static site."""
    from depthbench.leaderboard.site import build_site

    path = build_site(results, out)
    pages = sorted(p.name for p in path.glob("*.html"))
    typer.echo(f"built {path} ({len(pages)} pages: {', '.join(pages)})")


@leaderboard_app.command("list")
def list_cmd(
    results: Path | None = typer.Option(None, "--results", help="Results store (default: leaderboard/results)."),
) -> None:
    """List the results in the store."""
    from rich.console import Console
    from rich.table import Table

    from depthbench.leaderboard.store import load_store

    table = Table(show_header=True)
    for col in ("group", "model", "kind", "protocol", "headline", "source"):
        table.add_column(col)
    for stored in load_store(results):
        r = stored.result
        name, value = r.headline
        source = f"{r.reported.paper}, {r.reported.table}" if r.reported else r.device
        table.add_row(stored.group, r.model.name, r.kind, r.protocol_hash[:12], f"{name} {value:.4g}", source)
    Console(width=160).print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(leaderboard_app, name="leaderboard")
