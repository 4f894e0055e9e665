"""Rendering of results for the terminal (rich tables) and JSON."""

from __future__ import annotations

import json
import math
from typing import Any

from rich.console import Console
from rich.table import Table

PERCENT_METRICS = {"delta1", "delta2", "delta3", "whdr"}


def format_value(name: str, value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if name in PERCENT_METRICS:
        return f"{100 * value:.2f}%"
    return f"{value:.4f}"


def result_table(results: list[Any]) -> Table:
    """One row per result; columns = union of metric names, headline first."""
    table = Table(title="depthbench results", show_lines=False)
    table.add_column("model")
    table.add_column("dataset")
    table.add_column("align")
    names: list[str] = []
    for r in results:
        for n in r.metrics:
            if n not in names:
                names.append(n)
    for n in names:
        table.add_column(n, justify="right")
    for r in results:
        from depthbench.align import resolve_alignment
        from depthbench.types import DepthKind

        mode = resolve_alignment(r.protocol.alignment, DepthKind(r.model.output_kind))
        table.add_row(r.model.name, f"{r.dataset.name}/{r.dataset.split}", mode,
                      *[format_value(n, r.metrics.get(n, float("nan"))) for n in names])
    return table


def print_results(results: list[Any], fmt: str) -> None:
    if fmt == "json":
        payload = [json.loads(r.to_json()) for r in results]
        print(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
    else:
        Console().print(result_table(results))
