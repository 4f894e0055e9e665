"""Core commands: evaluate, list, prepare."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from depthbench.errors import UsageError


def _parse_pairs(values: list[str], what: str) -> dict[str, object]:
    from depthbench.protocol import parse_override

    out: dict[str, object] = {}
    for text in values:
        try:
            key, value = parse_override(text)
        except UsageError as exc:
            raise UsageError(str(exc).replace("--protocol-override", what)) from exc
        out[key] = value
    return out


def evaluate_cmd(
    model: str = typer.Option(..., "--model", "-m", help="Registered name, hf:REPO, ckpt:PATH or module:callable."),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Dataset name (see `depthbench list datasets`)."),
    benchmark: Optional[str] = typer.Option(None, "--benchmark", "-b", help="Benchmark suite name."),
    root: list[str] = typer.Option([], "--root", help="Prepared data folder; for a benchmark: DATASET=DIR (repeatable)."),
    split: Optional[str] = typer.Option(None, "--split", help="Split (default: the protocol's)."),
    protocol_override: list[str] = typer.Option([], "--protocol-override", "-p", help="key=value protocol field (repeatable)."),
    model_option: list[str] = typer.Option([], "--model-option", help="key=value option for the model factory (repeatable)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Result JSON (per-sample parquet beside it); a folder for --benchmark."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda or cuda:N (default: cuda when present)."),
    batch_size: int = typer.Option(4, "--batch-size", min=1),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Evaluate the first N frames only."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    ci: bool = typer.Option(True, "--ci/--no-ci", help="95% bootstrap confidence intervals (resampling images)."),
    n_boot: int = typer.Option(1000, "--n-boot", min=10, help="Bootstrap resamples for --ci."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
    save_visuals: Optional[Path] = typer.Option(None, "--save-visuals", help="Folder for PNG visualisations (RGB, GT, prediction, error, edges, normals) for leaderboard galleries."),
    visuals_limit: int = typer.Option(8, "--visuals-limit", min=1, help="Visualise the first N samples."),
) -> None:
    """Evaluate a model on a dataset (its default protocol) or on a benchmark suite."""
    if fmt not in ("table", "json"):
        raise UsageError(f"--format {fmt!r}: expected 'table' or 'json'")
    if (dataset is None) == (benchmark is None):
        raise UsageError("give exactly one of --dataset or --benchmark")
    overrides = _parse_pairs(protocol_override, "--protocol-override")
    if split:
        overrides["split"] = split
    options = _parse_pairs(model_option, "--model-option")
    from depthbench.cli.output import print_results
    from depthbench.evaluator import evaluate, evaluate_benchmark

    common = dict(batch_size=batch_size, device=device, limit=limit, progress=progress, model_options=options,
                  intervals=ci, n_boot=n_boot, seed=seed)
    if dataset is not None:
        if len(root) > 1 or (root and "=" in root[0] and not Path(root[0]).exists()):
            raise UsageError("--root: give one folder with --dataset")
        result = evaluate(model, dataset, root=root[0] if root else None, overrides=overrides, output=output,
                          save_visuals=save_visuals, visuals_limit=visuals_limit, **common)
        results = [result]
    else:
        if save_visuals is not None:
            raise UsageError("--save-visuals applies to --dataset runs")
        if overrides:
            raise UsageError("--protocol-override applies to --dataset runs; benchmarks fix their protocols")
        roots = {}
        for item in root:
            name, sep, folder = item.partition("=")
            if not sep:
                raise UsageError(f"--root {item!r}: with --benchmark give DATASET=DIR")
            roots[name] = folder
        results = evaluate_benchmark(model, benchmark, roots=roots, output_dir=output, **common)  # type: ignore[arg-type]
    print_results(results, fmt)


def list_cmd(what: str = typer.Argument(..., help="datasets, models, benchmarks or metrics.")) -> None:
    """List registered datasets, models, benchmarks or metrics."""
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=True)
    if what == "datasets":
        from depthbench.catalog import get_manifest, list_datasets

        for col in ("name", "kind", "splits", "title"):
            table.add_column(col)
        for name in list_datasets():
            m = get_manifest(name)
            table.add_row(name, m.kind.value, ", ".join(m.splits), m.title)
    elif what == "models":
        from depthbench.models import MODELS, list_models

        table.add_column("name")
        table.add_column("aliases")
        for name in list_models():
            table.add_row(name, ", ".join(MODELS.aliases_of(name)))
    elif what == "benchmarks":
        from depthbench.protocol import get_benchmark, list_benchmarks

        for col in ("name", "version", "datasets", "title"):
            table.add_column(col)
        for name in list_benchmarks():
            b = get_benchmark(name)
            table.add_row(name, str(b.version), ", ".join(e.dataset for e in b.entries), b.title)
    elif what == "metrics":
        from depthbench.metrics import METRICS, discover_metrics

        table.add_column("family")
        table.add_column("metrics")
        table.add_column("description")
        for name in discover_metrics():
            fam = METRICS.get(name)
            table.add_row(name, ", ".join(fam.outputs), fam.description)
    else:
        raise UsageError(f"cannot list {what!r}: expected datasets, models, benchmarks or metrics")
    Console().print(table)


def prepare_cmd(
    dataset: str = typer.Argument(..., help="Dataset name."),
    source: Optional[Path] = typer.Option(None, "--source", help="Folder with the official raw files."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: the cache)."),
    option: list[str] = typer.Option([], "--option", help="key=value preparation option overriding the recipe."),
) -> None:
    """Prepare a dataset from its raw files into the standard parquet format."""
    from depthbench.catalog import default_data_root
    from depthbench.prepare import prepare_dataset

    folder = out if out is not None else default_data_root(dataset)
    path = prepare_dataset(dataset, source, folder, **_parse_pairs(option, "--option"))
    typer.echo(f"prepared {dataset} → {path}")


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate_cmd)
    app.command("list")(list_cmd)
    app.command("prepare")(prepare_cmd)
