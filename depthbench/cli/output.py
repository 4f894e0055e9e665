"""Rendering of results for the terminal (rich tables) and JSON."""

from __future__ import annotations

import json
import math
from typing import Any

from rich.console import Console
from rich.table import Table

PERCENT_METRICS = {"delta1", "delta2", "delta3", "whdr"}


def format_value(name: str, value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if name in PERCENT_METRICS:
        return f"{100 * value:.2f}%"
    return f"{value:.4f}"


def _arrow(result: Any, name: str) -> str:
    from depthbench.metrics import METRICS

    for family_name in result.protocol.metrics:
        family = METRICS.get(family_name)
        if name in family.higher_is_better:
            return "↑" if family.higher_is_better[name] else "↓"
    return ""


def single_result_table(result: Any) -> Table:
    """Metric / value rows for one result, with the protocol in the title."""
    p = result.protocol
    title = (
        f"{result.model.name} on {result.dataset.name}/{result.dataset.split} "
        f"({result.images_evaluated} images, crop {p.crop}, caps {p.min_depth:g}–{p.max_depth:g} m, "
        f"{p.averaging}, protocol {result.protocol_hash[:12]})"
    )
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("CI 95%", justify="right")
    for name, value in result.metrics.items():
        ci = result.intervals.get(name)
        ci_text = f"[{format_value(name, ci[0])}, {format_value(name, ci[1])}]" if ci else ""
        label = f"{name} {_arrow(result, name)}" + (" ★" if name == p.headline else "")
        table.add_row(label, format_value(name, value), ci_text)
    return table


def benchmark_table(results: list[Any]) -> Table:
    """One row per protocol: dataset, alignment, headline metric and value."""
    from depthbench.align import resolve_alignment
    from depthbench.types import DepthKind

    table = Table(title=f"{results[0].model.name}: benchmark results", title_justify="left")
    for col in ("dataset", "alignment", "headline", "value", "abs_rel", "images"):
        table.add_column(col, justify="right" if col in ("value", "abs_rel", "images") else "left")
    for r in results:
        mode = r.alignment or resolve_alignment(r.protocol.alignment, DepthKind(r.model.output_kind))
        name, value = r.headline
        table.add_row(f"{r.dataset.name}/{r.dataset.split}", mode, f"{name} {_arrow(r, name)}",
                      format_value(name, value), format_value("abs_rel", r.metrics.get("abs_rel")),
                      str(r.images_evaluated))
    return table


def print_results(results: list[Any], fmt: str) -> None:
    if fmt == "json":
        payload = [json.loads(r.to_json()) for r in results]
        print(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
        return
    console = Console()
    console.print(single_result_table(results[0]) if len(results) == 1 else benchmark_table(results))
