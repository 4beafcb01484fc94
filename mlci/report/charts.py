"""Drawings of plots for the renderers, pure functions of a :class:`~mlci.model.result.Plot`.

A line plot becomes a Mermaid ``xychart-beta`` block (GitHub draws those
natively, so nothing is uploaded anywhere) or terminal sparklines, a confusion
matrix a table with the change per cell, a bar plot a table of categories. A
plot that cannot be drawn says why (:class:`NotDrawable`), and the report shows
the reason in its place. The plot entries themselves are built by
:mod:`mlci.engine.plots`.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlci.model import fmt
from mlci.model.result import NotDrawable, Plot

__all__ = ["NotDrawable"]

CHART_POINTS = 50  # per series in a Mermaid chart: enough for a curve's shape, small in a comment
MAX_CHARTS = 12  # Mermaid charts per comment; the others are listed by name
MAX_BARS = 30  # rows of a bar plot's table in the comment; the HTML report draws every bar
BASE_COLOUR, HEAD_COLOUR = "#9e9e9e", "#1f77b4"
COLOUR_NAMES = ("grey", "blue")


@dataclass(frozen=True)
class BarRow:
    """One category of a bar plot at base and head."""

    name: str
    base: float | None
    head: float | None


def bar_rows(plot: Plot) -> list[BarRow]:
    """Every category of a bar plot, largest head value first (as ``bar_horizontal_sorted`` shows)."""
    base = {str(n): float(v) for n, v in plot.base or ()}
    head = {str(n): float(v) for n, v in plot.head or ()}
    names = list(dict.fromkeys([*head, *base]))
    rows = [BarRow(n, base.get(n), head.get(n)) for n in names]
    return sorted(rows, key=lambda r: -(r.head if r.head is not None else float("-inf")))


def bar_change(row: BarRow) -> str:
    if row.base is None or row.head is None:
        return "new" if row.base is None else "removed"
    d = row.head - row.base
    return "0" if d == 0 else f"{'+' if d > 0 else fmt.MINUS}{fmt.number(abs(d))}"


_UNSAFE = re.compile(r"[^\w .,:/()+\-=]", re.UNICODE)


def mermaid_text(text: Any, limit: int = 80) -> str:
    """A label that is safe inside a quoted Mermaid string inside a Markdown code fence.

    Only letters, digits and a few punctuation marks survive: no quote can
    end the string, no backtick can end the fence, no ``%%`` can start a
    directive, no ``;`` or newline can start a statement.
    """
    cleaned = _UNSAFE.sub(" ", str(text))
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    return fmt.clip(cleaned, limit) or "?"


def _num(value: float) -> str:
    """A number Mermaid's grammar reads: plain decimal, no exponent."""
    if value == 0:
        return "0"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = f"{value:.6g}"
    if "e" in text:
        text = f"{value:.12f}".rstrip("0").rstrip(".")
        if text in ("", "-0", "0", "-"):
            return "0"
    return text


def _interpolate(points: list[list[float]], grid: list[float]) -> list[float]:
    """Values of a polyline at ``grid``; flat beyond its ends; at a repeated x, the last value."""
    pts = sorted(points, key=lambda p: p[0])  # stable: repeated x keep their order (ROC steps)
    xs = [p[0] for p in pts]
    out = []
    for g in grid:
        hi = bisect_left(xs, g)
        if hi < len(xs) and xs[hi] == g:
            out.append(pts[bisect_right(xs, g) - 1][1])
        elif hi == 0:
            out.append(pts[0][1])
        elif hi == len(xs):
            out.append(pts[-1][1])
        else:
            (x0, y0), (x1, y1) = pts[hi - 1], pts[hi]
            out.append(y0 + (y1 - y0) * (g - x0) / (x1 - x0))
    return out


def shared_grid(plot: Plot, n: int = CHART_POINTS) -> tuple[list[float], list[list[float]]]:
    """``n`` x values spanning both series, and each present series on them (base first)."""
    series = [s for s in (plot.base, plot.head) if s]
    xs = [p[0] for s in series for p in s]
    lo, hi = min(xs), max(xs)
    if hi == lo:
        raise NotDrawable("every point has the same x value")
    grid = [lo + (hi - lo) * i / (n - 1) for i in range(n)]
    return grid, [_interpolate(s, grid) for s in series]


def mermaid_chart(plot: Plot, base_label: str, head_label: str, n: int = CHART_POINTS) -> str:
    """A line plot as a Mermaid ``xychart-beta`` block (fenced): base grey, head blue.

    Raises :class:`NotDrawable` when it cannot be drawn.
    """
    if plot.kind != "line" or not (plot.base or plot.head):
        raise NotDrawable("no line data")
    grid, values = shared_grid(plot, n)
    ys = [v for s in values for v in s]
    y_lo, y_hi = min(ys), max(ys)
    if y_lo == y_hi:
        y_lo, y_hi = y_lo - 1, y_hi + 1
    colours = ([BASE_COLOUR] if plot.base else []) + ([HEAD_COLOUR] if plot.head else [])
    title = mermaid_text(plot.title or plot.id)
    lines = [
        "```mermaid",
        '%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "'
        + ", ".join(colours)
        + '"}}}}%%',
        "xychart-beta",
        f'    title "{title}"',
        f'    x-axis "{mermaid_text(plot.x or "x", 40)}" {_num(grid[0])} --> {_num(grid[-1])}',
        f'    y-axis "{mermaid_text(plot.y or "y", 40)}" {_num(y_lo)} --> {_num(y_hi)}',
    ]
    # 4 significant digits of the plotted range: finer is invisible, and it keeps the comment short
    decimals = max(0, 4 - math.floor(math.log10(y_hi - y_lo)))
    for series in values:
        lines.append("    line [" + ", ".join(_num(round(v, decimals)) for v in series) + "]")
    lines.append("```")
    return "\n".join(lines)


def legend(plot: Plot, base_label: str, head_label: str) -> str:
    parts = []
    if plot.base:
        parts.append(f"{COLOUR_NAMES[0]}: {base_label}")
    if plot.head:
        parts.append(f"{COLOUR_NAMES[1]}: {head_label}")
    return " · ".join(parts)


@dataclass(frozen=True)
class ConfusionTable:
    """A confusion matrix, head counts with the change from base per cell (rows actual)."""

    labels: list[Any]
    cells: dict[
        tuple[Any, Any], tuple[int | None, int | None]
    ]  # (actual, predicted) -> (base, head)


def confusion_table(plot: Plot) -> ConfusionTable:
    base = {(a, p): n for a, p, n in plot.base or ()}
    head = {(a, p): n for a, p, n in plot.head or ()}
    labels = list(dict.fromkeys(v for key in [*head, *base] for v in key))
    numeric = all(fmt.is_number(v) for v in labels)
    labels.sort(key=(lambda v: v) if numeric else (lambda v: str(v)))
    cells = {(a, p): (base.get((a, p)), head.get((a, p))) for a in labels for p in labels}
    return ConfusionTable(labels, cells)


def cell_text(base: int | None, head: int | None) -> str:
    """``50 (+2)``: head count with the change; ``0`` where neither has a count."""
    h = head or 0
    if base is None and head is None:
        return "0"
    d = h - (base or 0)
    return f"{h:,}" if d == 0 else f"{h:,} ({'+' if d > 0 else fmt.MINUS}{abs(d):,})"


def size_text(info: Mapping[str, Any] | None) -> str:
    if not info:
        return "—"
    size = float(info["size"])
    for unit in ("B", "kB", "MB"):
        if size < 1000 or unit == "MB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1000
    return "—"  # pragma: no cover


def _short_hash(info: Mapping[str, Any] | None) -> str:
    digest = str((info or {}).get("sha256") or "")
    return f"`{digest[:7]}`" if re.fullmatch(r"[0-9a-f]{7,64}", digest) else "—"


def summary(plots: tuple[Plot, ...] | list[Plot]) -> str:
    counts = Counter(p.status if p.kind != "none" else "not drawn" for p in plots)
    order = ("changed", "new", "removed", "unchanged", "not drawn")
    return ", ".join(f"{counts[s]} {s}" for s in order if counts[s])


# --- the Markdown view -------------------------------------------------------------------


def _heading(plot: Plot) -> str:
    title = f"**{fmt.md_text(plot.title, 120)}** — " if plot.title else ""
    return title + fmt.md_code(plot.id)


def _confusion_markdown(plot: Plot, table: ConfusionTable) -> str:
    actual, predicted = fmt.md_text(plot.x or "actual", 60), fmt.md_text(plot.y or "predicted", 60)
    lines = [
        f"| {actual} ↓ {predicted} → | "
        + " | ".join(fmt.md_code(v, 40) for v in table.labels)
        + " |",
        "|---|" + "---:|" * len(table.labels),
    ]
    for a in table.labels:
        cells = [cell_text(*table.cells[(a, p)]) for p in table.labels]
        lines.append(f"| {fmt.md_code(a, 40)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _bar_markdown(plot: Plot, rows: list[BarRow], base_label: str, head_label: str) -> str:
    """A bar plot as a table: category, base, head, change; the largest bars first."""
    lines = [
        f"| {fmt.md_text(plot.y or 'category', 60)} | {base_label} | {head_label} | change |",
        "|---|---:|---:|---:|",
    ]
    for row in rows[:MAX_BARS]:
        cells = ["—" if v is None else fmt.number(v) for v in (row.base, row.head)]
        lines.append(
            f"| {fmt.md_code(row.name, 60)} | {cells[0]} | {cells[1]} | {bar_change(row)} |"
        )
    if len(rows) > MAX_BARS:
        lines.append(f"| … {len(rows) - MAX_BARS} more (see the HTML report) | | | |")
    return "\n".join(lines)


def markdown_views(
    plots: tuple[Plot, ...] | list[Plot],
    base_label: str,
    head_label: str,
    max_charts: int = MAX_CHARTS,
    artifacts: bool = False,
) -> list[dict[str, str]]:
    """Per plot: an escaped heading and, where it can be drawn, a chart or table (Markdown).

    ``base_label``/``head_label`` are already escaped. Changed plots are drawn
    (up to ``max_charts``); unchanged ones are named, which keeps the comment short.
    """
    views = []
    charts = 0
    for plot in plots:
        view = {"heading": _heading(plot), "chart": "", "legend": "", "table": "", "text": ""}
        if plot.kind == "none":
            view["text"] = "not drawn: " + fmt.md_text(plot.reason or "unknown reason", 300)
        elif plot.status == "unchanged":
            view["text"] = "unchanged"
        elif plot.kind == "image":
            view["text"] = (
                f"{plot.status}: {size_text(plot.base)} → {size_text(plot.head)}, "
                f"sha256 {_short_hash(plot.base)} → {_short_hash(plot.head)}"
                + (" (in the workflow run's artifacts)" if plot.head and artifacts else "")
            )
        elif charts >= max_charts:
            view["text"] = (
                f"{plot.status}; not drawn here to keep the comment short (see the HTML report)"
            )
        elif plot.kind == "line":
            try:
                view["chart"] = mermaid_chart(plot, base_label, head_label)
                view["legend"] = (
                    legend(plot, base_label, head_label)
                    + f" · {fmt.md_text(plot.y)} against {fmt.md_text(plot.x)}"
                )
                charts += 1
            except NotDrawable as exc:
                view["text"] = "not drawn: " + fmt.md_text(str(exc), 300)
            except (TypeError, ValueError):  # a result file from elsewhere with malformed points
                view["text"] = "not drawn: the plot data is malformed"
        elif plot.kind == "bar":
            try:
                view["table"] = _bar_markdown(plot, bar_rows(plot), base_label, head_label)
            except (TypeError, ValueError):
                view["text"] = "not drawn: the plot data is malformed"
            else:
                view["text"] = (
                    f"{fmt.md_text(plot.x or 'value', 60)} by {fmt.md_text(plot.y or 'category', 60)}"
                )
        elif plot.kind == "confusion":
            try:
                view["table"] = _confusion_markdown(plot, confusion_table(plot))
            except (TypeError, ValueError):
                view["text"] = "not drawn: the plot data is malformed"
            else:
                view["text"] = (
                    f"rows: {fmt.md_text(plot.x or 'actual', 60)}, columns: "
                    f"{fmt.md_text(plot.y or 'predicted', 60)}; {head_label} with the change "
                    f"from {base_label}"
                )
                charts += 1
        views.append(view)
    return views


def summary_line(plots: tuple[Plot, ...] | list[Plot]) -> str:
    """What the folded section's summary says: the titles when few, else counts."""
    if 0 < len(plots) <= 4:
        return ", ".join(fmt.md_text(p.title or p.id, 60) for p in plots)
    return summary(plots)


_BARS = "▁▂▃▄▅▆▇█"


def sparklines(plot: Plot, width: int = 32) -> list[tuple[str, str]]:
    """A line plot as one sparkline per series on a shared grid and scale, for the terminal."""
    _, values = shared_grid(plot, width)
    ys = [v for s in values for v in s]
    lo, hi = min(ys), max(ys)
    span = (hi - lo) or 1.0
    names = (["base"] if plot.base else []) + (["head"] if plot.head else [])
    return [
        (name, "".join(_BARS[min(7, int((v - lo) / span * 8))] for v in series))
        for name, series in zip(names, values, strict=False)
    ]
