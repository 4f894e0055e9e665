"""``depthbench compare A.json B.json``: paired comparison of two results under one protocol."""

from __future__ import annotations

from pathlib import Path

import typer

from depthbench.errors import UsageError


def compare_cmd(
    result_a: Path = typer.Argument(..., help="Result JSON of model A (per-sample parquet beside it)."),
    result_b: Path = typer.Argument(..., help="Result JSON of model B, same protocol hash as A."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    n_boot: int = typer.Option(1000, "--n-boot", min=10, help="Bootstrap resamples of the paired images."),
    n_perm: int = typer.Option(1000, "--n-perm", min=10, help="Random swaps of the paired permutation test."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap and permutation test."),
) -> None:
    """Difference B − A per metric with its 95% bootstrap interval and paired permutation p-value."""
    if fmt not in ("table", "json"):
        raise UsageError(f"--format {fmt!r}: expected 'table' or 'json'")
    from depthbench.stats import compare_results

    rows = compare_results(result_a, result_b, n_boot=n_boot, n_perm=n_perm, seed=seed)
    if fmt == "json":
        import dataclasses
        import json

        payload = [dict(dataclasses.asdict(r), better=r.better) for r in rows]
        print(json.dumps({"a": str(result_a), "b": str(result_b), "differences": payload}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    from depthbench.cli.output import format_value

    table = Table(title=f"B = {result_b.name} vs A = {result_a.name} ({rows[0].images} paired images)", title_justify="left")
    for col in ("metric", "A", "B", "B − A", "CI 95%", "p", "better"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for r in rows:
        arrow = "↑" if r.higher_is_better else "↓"
        table.add_row(f"{r.metric} {arrow}", format_value(r.metric, r.a), format_value(r.metric, r.b),
                      f"{r.diff:+.4g}", f"[{r.ci_low:+.4g}, {r.ci_high:+.4g}]", f"{r.p_value:.3g}", r.better)
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command("compare")(compare_cmd)
