"""Comparison tables in the layout of the papers, rendered to Markdown, LaTeX, CSV and HTML.

- Eigen table (Eigen et al. 2014 Table 1 layout as used by DenseDepth Tables 1–2 and seeds
  001–002): δ1 δ2 δ3 ↑ then rel, sq rel, rms, rms log, log10 ↓ (only columns some row has);
- quality table (DenseDepth's structure measures): mSSIM ↑, edge F1 ↑, mean normal error ↓;
- zero-shot table (MiDaS / seed 004 layout): one headline metric per benchmark dataset and the
  mean rank over those columns.

Marks: per column, the best displayed value is **bold** and the second best underlined (ties
share the mark; ranks use the values as displayed, so what looks equal is marked equal). Reported
rows (numbers copied from papers) carry a † and a numbered footnote with paper, table and
protocol notes; measured rows are what depthbench computed. Confidence intervals, when a result
has them, are shown as ``[low, high]`` after the value.
"""

from __future__ import annotations

import csv
import html
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from depthbench.leaderboard.store import StoredResult

REPORTED_MARK = "†"

# (metric key, column label, LaTeX label)
EIGEN_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("delta1", "δ1", r"$\delta_1$"),
    ("delta2", "δ2", r"$\delta_2$"),
    ("delta3", "δ3", r"$\delta_3$"),
    ("abs_rel", "rel", "rel"),
    ("sq_rel", "sq rel", "sq rel"),
    ("rmse", "rms", "rms"),
    ("rmse_log", "rms log", "rms log"),
    ("log10", "log10", r"$\log_{10}$"),
    ("whdr", "WHDR", "WHDR"),
)
# Quality measures of DenseDepth (seed 000); each column accepts the first key a result has.
QUALITY_COLUMNS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("mssim", "ssim"), "mSSIM", "mSSIM"),
    (("edge_f1", "f1", "edges_f1"), "F1 (edges)", "F1 (edges)"),
    (("mne", "normal_error", "mean_normal_error"), "mne", "mne"),
)
_HIGHER_IS_BETTER = {"delta1": True, "delta2": True, "delta3": True, "mssim": True, "ssim": True,
                     "edge_f1": True, "f1": True, "edges_f1": True}


def metric_label(metric: str) -> str:
    """Short column label of ``metric`` (the papers' names: δ1, rel, rms, ...)."""
    for key, label, _ in EIGEN_COLUMNS:
        if key == metric:
            return label
    return metric


def higher_is_better(metric: str) -> bool:
    """Direction of ``metric``: the registered metric family's when known, else the table above
    (accuracies and similarities up, errors down)."""
    from depthbench.metrics import METRICS, discover_metrics

    discover_metrics()
    for name in METRICS.names():
        family = METRICS.get(name)
        if metric in family.higher_is_better:
            return family.higher_is_better[metric]
    return _HIGHER_IS_BETTER.get(metric, False)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    latex: str
    higher_is_better: bool
    percent: bool = False
    decimals: int = 3

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"

    def display(self, value: float) -> float:
        """The value as shown (rounded, ×100 for percentages); ranks compare these."""
        return round(100.0 * value if self.percent else value, self.decimals)

    def text(self, value: float) -> str:
        return f"{self.display(value):.{self.decimals}f}"


@dataclass
class Cell:
    value: float | None
    interval: tuple[float, float] | None = None
    mark: str = ""  # "best", "second" or ""


@dataclass
class TableRow:
    label: str
    kind: str
    family: str
    output_kind: str
    protocol_id: str
    entry_id: str
    cells: dict[str, Cell]
    footnote: int | None = None
    parameters: int | None = None
    fps: float | None = None  # measured images per second (evaluation throughput on its device)


@dataclass
class LeaderTable:
    key: str
    title: str
    columns: list[Column]
    rows: list[TableRow]
    footnotes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def legend(self) -> list[str]:
        lines = ["↑ higher is better, ↓ lower is better; bold: best, underlined: second best per column."]
        if any(r.kind == "reported" for r in self.rows):
            lines.append(f"{REPORTED_MARK} reported in the paper (transcribed, not measured by depthbench); "
                         "other rows are measured. Rows with different protocol ids are not strictly comparable.")
        if any(c.interval for r in self.rows for c in r.cells.values()):
            lines.append("[low, high]: confidence interval of the measured value.")
        return lines + self.notes


def _finite(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def rank_marks(values: Sequence[float | None], higher: bool) -> list[str]:
    """'best' for every row with the best value, 'second' for the next distinct value; missing
    values (None/NaN) get no mark."""
    present = sorted({v for v in values if _finite(v)}, reverse=higher)  # type: ignore[type-var]
    best = present[0] if present else None
    second = present[1] if len(present) > 1 else None
    return ["best" if _finite(v) and v == best else "second" if _finite(v) and v == second else "" for v in values]


def competition_ranks(values: Sequence[float | None], higher: bool) -> list[float | None]:
    """1 + the number of rows strictly better (ties share the better rank); None stays None."""
    out: list[float | None] = []
    for v in values:
        if not _finite(v):
            out.append(None)
            continue
        better = sum(1 for w in values if _finite(w) and (w > v if higher else w < v))  # type: ignore[operator]
        out.append(float(1 + better))
    return out


def _apply_marks(table: LeaderTable) -> None:
    for col in table.columns:
        shown = [col.display(r.cells[col.key].value) if _finite(r.cells[col.key].value) else None  # type: ignore[arg-type]
                 for r in table.rows]
        for row, mark in zip(table.rows, rank_marks(shown, col.higher_is_better)):
            row.cells[col.key].mark = mark


def _family(stored: StoredResult) -> str:
    info = stored.result.model.info
    return str(info.get("family") or stored.result.model.name.split("-")[0])


def _row(stored: StoredResult, cells: dict[str, Cell], footnotes: list[str]) -> TableRow:
    r = stored.result
    label = str(r.model.info.get("label") or r.model.name) + (f" ({r.model.revision})" if r.model.revision else "")
    footnote = None
    if r.kind == "reported" and r.reported is not None:
        footnotes.append(f"{label}: {r.reported.paper}, {r.reported.table}"
                         + (f"; {r.reported.notes}" if r.reported.notes else ""))
        footnote = len(footnotes)
    return TableRow(label=label, kind=r.kind, family=_family(stored), output_kind=r.model.output_kind,
                    protocol_id=r.protocol_hash[:8], entry_id=stored.entry_id, cells=cells,
                    footnote=footnote, parameters=r.model.parameters,
                    fps=r.images_evaluated / r.runtime_s if r.kind == "measured" and r.runtime_s > 0 else None)


def _sort_key(table_columns: list[Column], row: TableRow) -> tuple:
    keys = []
    for col in table_columns:
        v = row.cells[col.key].value
        keys.append(math.inf if not _finite(v) else (-v if col.higher_is_better else v))  # type: ignore[operator]
    return (*keys, row.label, row.entry_id)


def other_metrics(results: Sequence[StoredResult]) -> list[str]:
    """Metric names of ``results`` shown by neither the Eigen nor the quality table (silog, the
    Eigen family's extra output, excluded), sorted."""
    from depthbench.metrics import EIGEN_OUTPUTS

    shown = {k for k, _, _ in EIGEN_COLUMNS} | {k for keys, _, _ in QUALITY_COLUMNS for k in keys}
    names = {m for s in results for m in s.result.metrics}
    return sorted(names - shown - set(EIGEN_OUTPUTS))


def metric_table(key: str, title: str, results: Sequence[StoredResult], quality: bool = False,
                 metrics: Sequence[str] | None = None) -> LeaderTable | None:
    """Eigen table (or, with ``quality``, the quality table; with ``metrics``, a table of exactly
    those metrics) of ``results``; None when no result has any of its metrics. Rows are ordered by
    the first column (δ1 when present), then the next."""
    columns: list[Column] = []
    if metrics is not None:
        specs: tuple[tuple[tuple[str, ...], str, str], ...] = tuple(((m,), m, _latex_escape(m)) for m in metrics)
    elif quality:
        specs = QUALITY_COLUMNS
    else:
        specs = tuple(((k,), label, tex) for k, label, tex in EIGEN_COLUMNS)
    for keys, label, tex in specs:
        found = next((k for k in keys if any(k in s.result.metrics for s in results)), None)
        if found is not None:
            columns.append(Column(key=found, label=label, latex=tex, higher_is_better=higher_is_better(found)))
    if not columns:
        return None
    rows_with = [s for s in results if any(c.key in s.result.metrics for c in columns)]
    footnotes: list[str] = []
    rows = []
    for stored in sorted(rows_with, key=lambda s: (s.result.kind, s.entry_id)):
        cells = {c.key: Cell(stored.result.metrics.get(c.key), _interval(stored, c.key)) for c in columns}
        rows.append(_row(stored, cells, footnotes))
    rows.sort(key=lambda row: _sort_key(columns, row))
    _renumber(rows, footnotes)
    table = LeaderTable(key=key, title=title, columns=columns, rows=rows, footnotes=footnotes)
    _apply_marks(table)
    return table


def _interval(stored: StoredResult, key: str) -> tuple[float, float] | None:
    ci = stored.result.intervals.get(key)
    return (float(ci[0]), float(ci[1])) if ci else None


def _renumber(rows: list[TableRow], footnotes: list[str]) -> None:
    """Footnotes numbered in display order."""
    old = list(footnotes)
    footnotes.clear()
    for row in rows:
        if row.footnote is not None:
            footnotes.append(old[row.footnote - 1])
            row.footnote = len(footnotes)


@dataclass(frozen=True)
class ZeroShotColumn:
    """One benchmark dataset: its label, the protocol hash results must have, its headline metric."""

    dataset: str
    protocol_hash: str
    headline: str
    label: str = ""  # column label (default: the dataset name)


def zeroshot_table(key: str, title: str, columns: Sequence[ZeroShotColumn],
                   results: Sequence[StoredResult]) -> LeaderTable | None:
    """Headline metric per dataset (results matched by exact protocol hash) plus the mean rank over
    the datasets a model has (lower is better). δ and WHDR are shown in %. Ordered by mean rank."""
    cols = []
    for z in columns:
        percent = z.headline.startswith("delta") or z.headline == "whdr"
        label = f"{z.label or z.dataset} {metric_label(z.headline)}" + (" %" if percent else "")
        cols.append(Column(key=f"{z.dataset}:{z.protocol_hash[:8]}:{z.headline}", label=label, latex=_latex_escape(label),
                           higher_is_better=higher_is_better(z.headline), percent=percent,
                           decimals=2 if percent else 3))
    by_model: dict[tuple[str, str, str], dict[str, StoredResult]] = {}
    for stored in results:
        r = stored.result
        for z, col in zip(columns, cols):
            if r.protocol_hash == z.protocol_hash and z.headline in r.metrics:
                by_model.setdefault((r.kind, r.model.name, r.model.revision), {})[col.key] = stored
    if not by_model:
        return None
    footnotes: list[str] = []
    rows = []
    for (_, _, _), entries in sorted(by_model.items()):
        first = next(iter(entries.values()))
        cells = {}
        for z, col in zip(columns, cols):
            stored = entries.get(col.key)
            cells[col.key] = Cell(stored.result.metrics[z.headline] if stored else None,
                                  _interval(stored, z.headline) if stored else None)
        row = _row(first, cells, footnotes)
        row.entry_id = ",".join(sorted(s.entry_id for s in entries.values()))
        row.protocol_id = "per column"
        rows.append(row)
    ranks_per_col = []
    for col in cols:
        shown = [col.display(r.cells[col.key].value) if _finite(r.cells[col.key].value) else None for r in rows]  # type: ignore[arg-type]
        ranks_per_col.append(competition_ranks(shown, col.higher_is_better))
    rank_col = Column(key="mean_rank", label="mean rank", latex="mean rank", higher_is_better=False, decimals=2)
    for i, row in enumerate(rows):
        got = [ranks[i] for ranks in ranks_per_col if ranks[i] is not None]
        row.cells[rank_col.key] = Cell(sum(got) / len(got) if got else None)  # type: ignore[arg-type]
    all_cols = [*cols, rank_col]
    rows.sort(key=lambda row: _sort_key([rank_col], row))
    _renumber(rows, footnotes)
    notes = ["Protocols per column: " + "; ".join(f"{z.label or z.dataset} {z.protocol_hash[:8]}" for z in columns)
             + ". Mean rank over the columns a model has (ties share the better rank)."]
    table = LeaderTable(key=key, title=title, columns=all_cols, rows=rows, footnotes=footnotes, notes=notes)
    _apply_marks(table)
    return table


# ----------------------------------------------------------------------------------- rendering


def _label(row: TableRow) -> str:
    return row.label + (f" {REPORTED_MARK}{row.footnote}" if row.kind == "reported" else "")


def _value_text(col: Column, cell: Cell) -> str:
    if not _finite(cell.value):
        return "–"
    return col.text(cell.value)  # type: ignore[arg-type]


def _interval_text(col: Column, cell: Cell) -> str:
    if cell.interval is None or not _finite(cell.value):
        return ""
    return f"[{col.text(cell.interval[0])}, {col.text(cell.interval[1])}]"


def to_markdown(table: LeaderTable) -> str:
    header = ["model", "kind", "protocol", *[f"{c.label} {c.arrow}" for c in table.columns]]
    lines = [f"### {table.title}", "", "| " + " | ".join(header) + " |",
             "|" + "|".join([":---", ":---", ":---"] + ["---:"] * len(table.columns)) + "|"]
    for row in table.rows:
        cells = []
        for col in table.columns:
            cell = row.cells[col.key]
            text = _value_text(col, cell)
            text = f"**{text}**" if cell.mark == "best" else f"<u>{text}</u>" if cell.mark == "second" else text
            ci = _interval_text(col, cell)
            cells.append(text + (f" {ci}" if ci else ""))
        lines.append("| " + " | ".join([_label(row).replace("|", "\\|"), row.kind, f"`{row.protocol_id}`", *cells]) + " |")
    lines.append("")
    lines += [f"{line}  " for line in table.legend]
    lines += [f"{REPORTED_MARK}{i}: {note}  " for i, note in enumerate(table.footnotes, 1)]
    return "\n".join(lines).rstrip() + "\n"


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "†": r"$^\dagger$", "–": "--", "δ": r"$\delta$", "↑": r"$\uparrow$", "↓": r"$\downarrow$"}


def _latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def to_latex(table: LeaderTable) -> str:
    """A ``table`` environment with booktabs rules (\\usepackage{booktabs})."""
    arrow = {True: r"$\uparrow$", False: r"$\downarrow$"}
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             r"\begin{tabular}{ll" + "r" * len(table.columns) + "}", r"\toprule",
             " & ".join(["Method", "Kind", *[f"{c.latex} {arrow[c.higher_is_better]}" for c in table.columns]]) + r" \\",
             r"\midrule"]
    for row in table.rows:
        cells = []
        for col in table.columns:
            cell = row.cells[col.key]
            text = _value_text(col, cell)
            text = "--" if text == "–" else text
            if cell.mark == "best":
                text = rf"\textbf{{{text}}}"
            elif cell.mark == "second":
                text = rf"\underline{{{text}}}"
            ci = _interval_text(col, cell)
            cells.append(text + (rf" {{\scriptsize {ci}}}" if ci else ""))
        name = _latex_escape(row.label) + (rf"$^{{\dagger{row.footnote}}}$" if row.kind == "reported" else "")
        lines.append(" & ".join([name, row.kind, *cells]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    caption = " ".join([_latex_escape(table.title) + "."] + [_latex_escape(x) for x in table.legend]
                       + [rf"$^{{\dagger{i}}}$ {_latex_escape(n)}." for i, n in enumerate(table.footnotes, 1)])
    lines += [rf"\caption{{{caption}}}", rf"\label{{tab:{_latex_escape(table.key)}}}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def to_csv(table: LeaderTable) -> str:
    """Raw values (not rounded) with interval bounds; reported rows name their source."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["model", "kind", "family", "output_kind", "protocol", "entry", "source"]
    for col in table.columns:
        header += [col.key, f"{col.key}_ci_low", f"{col.key}_ci_high"]
    writer.writerow(header)
    for row in table.rows:
        source = table.footnotes[row.footnote - 1] if row.footnote else ""
        values: list[str] = [row.label, row.kind, row.family, row.output_kind, row.protocol_id, row.entry_id, source]
        for col in table.columns:
            cell = row.cells[col.key]
            values.append(repr(float(cell.value)) if _finite(cell.value) else "")
            values += [repr(float(x)) for x in cell.interval] if cell.interval else ["", ""]
        writer.writerow(values)
    return buffer.getvalue()


def to_html(table: LeaderTable) -> str:
    """A sortable ``<table>`` (the site's script sorts on header click by ``data-value``)."""
    esc = html.escape
    out = [f'<table class="board" id="t-{esc(table.key)}" data-table="{esc(table.key)}">',
           f"<caption>{esc(table.title)}</caption>", "<thead><tr>",
           ('<th data-col="model" data-type="text">model</th><th data-col="kind" data-type="text">kind</th>'
            '<th data-col="protocol" data-type="text">protocol</th>')]
    for col in table.columns:
        direction = "up" if col.higher_is_better else "down"
        out.append(f'<th data-col="{esc(col.key)}" data-type="num" data-dir="{direction}">'
                   f"{esc(col.label)} {col.arrow}</th>")
    out.append("</tr></thead><tbody>")
    for row in table.rows:
        out.append(f'<tr data-kind="{esc(row.kind)}" data-family="{esc(row.family)}" '
                   f'data-output="{esc(row.output_kind)}" data-entry="{esc(row.entry_id)}">')
        mark = f'<sup class="rep">{REPORTED_MARK}{row.footnote}</sup>' if row.kind == "reported" else ""
        out.append(f'<td data-value="{esc(row.label)}">{esc(row.label)}{mark}</td>'
                   f'<td data-value="{esc(row.kind)}">{esc(row.kind)}</td>'
                   f'<td data-value="{esc(row.protocol_id)}"><code>{esc(row.protocol_id)}</code></td>')
        for col in table.columns:
            cell = row.cells[col.key]
            text = esc(_value_text(col, cell))
            if cell.mark == "best":
                text = f"<strong>{text}</strong>"
            elif cell.mark == "second":
                text = f"<u>{text}</u>"
            ci = _interval_text(col, cell)
            if ci:
                text += f' <span class="ci">{esc(ci)}</span>'
            value = repr(col.display(cell.value)) if _finite(cell.value) else ""  # type: ignore[arg-type]
            out.append(f'<td class="num" data-value="{value}">{text}</td>')
        out.append("</tr>")
    out.append("</tbody></table>")
    out.append('<div class="legend">' + "".join(f"<p>{esc(line)}</p>" for line in table.legend)
               + "".join(f"<p>{REPORTED_MARK}{i}: {esc(n)}</p>" for i, n in enumerate(table.footnotes, 1)) + "</div>")
    return "\n".join(out) + "\n"


RENDERERS = {"md": to_markdown, "tex": to_latex, "csv": to_csv, "html": to_html}
