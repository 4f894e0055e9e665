"""Hub commands: ``download`` (prepared dataset repo → local cache) and ``push`` (prepared folder →
dataset repo, with a regenerated dataset card)."""

from __future__ import annotations

from pathlib import Path

import typer


def download_cmd(
    dataset: str = typer.Argument(..., help="Dataset name."),
    revision: str | None = typer.Option(None, "--revision", help="Branch, tag or commit of the Hub repo."),
    repo: str | None = typer.Option(
        None, "--repo", help="Hub dataset repo ORG/NAME (default: the manifest's)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Target folder (default: the cache)."),
) -> None:
    """Download a prepared dataset from the Hugging Face Hub into the cache (HF_HUB_OFFLINE=1: cache only)."""
    from depthbench.data.hub import download_dataset

    path = download_dataset(dataset, repo=repo, revision=revision, local_dir=out)
    typer.echo(f"downloaded {dataset} → {path}")


def push_cmd(
    dataset: str = typer.Argument(..., help="Dataset name."),
    repo: str = typer.Option(..., "--repo", help="Hub dataset repo ORG/NAME."),
    root: Path | None = typer.Option(None, "--root", help="Prepared folder (default: the cache)."),
    revision: str | None = typer.Option(None, "--revision", help="Branch to push to."),
    private: bool = typer.Option(False, "--private", help="Create the repo as private."),
) -> None:
    """Upload a prepared dataset folder to a Hub dataset repo with a regenerated dataset card."""
    from depthbench.data.hub import push_dataset

    url = push_dataset(dataset, repo, root=root, revision=revision, private=private)
    typer.echo(f"pushed {dataset} → {url}")


def register(app: typer.Typer) -> None:
    app.command("download")(download_cmd)
    app.command("push")(push_cmd)
