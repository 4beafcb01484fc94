"""The terminal report: the view's sections as rich tables, colour only on a terminal."""

from __future__ import annotations

from typing import Any

from mlci.model import fmt
from mlci.model.result import Result
from mlci.report import charts
from mlci.report.view import WARN_ONLY, MetricRow, cell, stage_status, view


def text(result: Result, *, color: bool | None = None, width: int | None = None) -> str:
    """The terminal report: same sections, as tables; colour only on a terminal."""
    import io
    import os

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    no_color = bool(os.environ.get("NO_COLOR"))
    coloured = bool(color) and not no_color
    if coloured:  # PR text is cleaned before it is coloured, so only mlci's colours survive below
        result = _without_controls(result)
    v = view(result)
    buf = io.StringIO()
    console = Console(
        file=buf,
        force_terminal=bool(color) and not no_color,
        no_color=no_color or not color,
        width=width or 100,
        highlight=False,
        emoji=False,
        soft_wrap=False,
    )
    style = {"fail": "bold red", "warn": "yellow", "pass": "green"}[result.verdict]
    console.print(Text(v["headline"], style=style))

    def metric_table(rows: list[MetricRow], title: str | None) -> None:
        if not rows:
            return
        table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
        table.add_column("")
        table.add_column("metric", no_wrap=True)
        table.add_column(Text(v["base_label"]), justify="right")
        table.add_column(Text(v["head_label"]), justify="right")
        table.add_column("change", justify="right")
        if v["trends"]:
            table.add_column("trend", no_wrap=True)
        table.add_column("rule")
        for r in rows:
            row_style = {"fail": "red", "warn": "yellow"}.get(r.outcome)
            judged = r.message or r.rule
            if r.message and r.rule.endswith(f"({WARN_ONLY})"):
                judged = f"{WARN_ONLY}: {judged}"
            cells: list[str | Text] = [r.icon, Text(r.name), Text(r.base), Text(r.head)]
            cells.append(Text(r.change))
            if v["trends"]:
                cells.append(Text(r.trend))
            table.add_row(*cells, Text(judged), style=row_style)
        console.print(table)

    for reason in v["verification"]:
        console.print(Text(f"{fmt.ICONS[reason.severity]} {reason.message}", style="bold red"))
    console.print()
    metric_table(v["attention"], "Needs attention")
    for line in v["data_attention"]:
        what = f"{line.label} {line.text}" if line.label else line.text
        console.print(Text(f"{line.icon} data: {line.path}: {what}"))
    for reason in v["other_reasons"]:
        console.print(Text(f"{fmt.ICONS[reason.severity]} {reason.section}: {reason.message}"))
    if v["writeback"]:
        wb = v["writeback"]
        console.print(Text(f"{wb['icon']} write-back: {wb['message']}".strip()))
    for f in v["data_files"]:
        console.print(
            Text(f"{f.icon} {f.path}: {f.stats}" + (f" ({f.message})" if f.message else ""))
        )
        if f.expectations:
            table = Table(show_edge=False, pad_edge=False, box=None)
            table.add_column("")
            table.add_column("expectation", no_wrap=True)
            table.add_column("args", overflow="fold")
            table.add_column("unexpected", justify="right")
            table.add_column("sample", overflow="fold")
            for e in f.expectations:
                table.add_row(
                    e.icon, Text(e.label), Text(e.args), Text(e.unexpected), Text(e.sample)
                )
            console.print(table)
        if f.diff:
            console.print(Text(f"  vs {v['base_label']}: {f.diff}"))
    if result.repro.stages:
        table = Table(
            title=f"Pipeline: {v['repro_summary']}", title_justify="left", show_edge=False
        )
        table.add_column("stage")
        table.add_column("status")
        table.add_column("time", justify="right")
        for s in result.repro.stages:
            took = s.duration_s if s.status in ("ran", "cached", "restored", "failed") else None
            table.add_row(Text(s.name), stage_status(s.status), fmt.duration(took))
        console.print(table)
    metric_table(v["rest"], f"Metrics: {v['rest_summary']}" if v["rest_summary"] else None)
    if v["params_changed"]:
        table = Table(title=f"Params: {v['params_summary']}", title_justify="left", show_edge=False)
        table.add_column("param", overflow="fold")
        table.add_column(Text(v["base_label"]), justify="right")
        table.add_column(Text(v["head_label"]), justify="right")
        for p in v["params_changed"]:
            table.add_row(Text(p.name), Text(cell(p.base)), Text(cell(p.head)))
        console.print(table)
    elif result.params:
        console.print(f"Params: {v['params_summary']}")
    if v["environment"]:
        _text_environment(console, v)
    if result.plots:
        _text_plots(console, result, v)
    if v["legend"]:
        console.print(Text(v["legend"], style="dim"))
    if v["trend_legend"]:
        console.print(Text(v["trend_legend"], style="dim"))
    for note in result.notes:
        console.print(Text(f"note: {note}", style="dim"))
    base = f"{v['base_label']} {v['base_short']}".strip()
    head = f"{v['head_label']} {v['head_short']}".strip()
    revisions = f"{base} → {head}" if v["compared"] else f"{head} (reproduced; nothing compared)"
    console.print(Text(f"{revisions} · mlci {result.tool_version}", style="dim"))
    return fmt.terminal_text(buf.getvalue(), keep_colours=coloured)


def _text_plots(console: Any, result: Result, v: dict[str, Any]) -> None:
    """Plots on the terminal: sparklines for curves, the confusion matrix as a table."""
    from rich.table import Table
    from rich.text import Text

    console.print(
        Text(
            f"Plots: {charts.summary(result.plots)} ({v['base_label']} vs {v['head_label']})",
            style="bold",
        )
    )
    for plot in result.plots:
        name = f"{plot.title} — {plot.id}" if plot.title else plot.id
        if plot.kind == "none":
            console.print(Text(f"  {name}: not drawn: {plot.reason}", style="yellow"))
        elif plot.kind == "image":
            console.print(
                Text(
                    f"  {name}: {plot.status}, {charts.size_text(plot.base)} → "
                    f"{charts.size_text(plot.head)}"
                )
            )
        elif plot.status == "unchanged":
            console.print(Text(f"  {name}: unchanged", style="dim"))
        elif plot.kind == "line":
            console.print(Text(f"  {name}: {plot.y} against {plot.x}"))
            try:
                lines = charts.sparklines(plot)
            except charts.NotDrawable as exc:
                console.print(Text(f"    not drawn: {exc}", style="yellow"))
                continue
            for series, line in lines:
                label = v["base_label"] if series == "base" else v["head_label"]
                console.print(
                    Text(f"    {label:>12.12} ", style="dim")
                    + Text(line, style="bright_black" if series == "base" else "blue")
                )
        elif plot.kind == "bar":
            console.print(Text(f"  {name}: {plot.x} by {plot.y}"))
            table = Table(show_edge=False, padding=(0, 1, 0, 4))
            for column in ("", v["base_label"], v["head_label"], "change"):
                table.add_column(Text(column), justify="left" if not column else "right")
            rows = charts.bar_rows(plot)
            for row in rows[: charts.MAX_BARS]:
                table.add_row(
                    Text(row.name),
                    *(Text("—" if x is None else fmt.number(x)) for x in (row.base, row.head)),
                    Text(charts.bar_change(row)),
                )
            console.print(table)
        elif plot.kind == "confusion":
            cm = charts.confusion_table(plot)
            console.print(Text(f"  {name}: rows {plot.x}, columns {plot.y}"))
            table = Table(show_edge=False, padding=(0, 1, 0, 4))
            table.add_column("")
            for label in cm.labels:
                table.add_column(Text(str(label)), justify="right")
            for a in cm.labels:
                table.add_row(
                    Text(str(a)), *(Text(charts.cell_text(*cm.cells[(a, p)])) for p in cm.labels)
                )
            console.print(table)


def _text_environment(console: Any, v: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    env = v["environment"]
    # a line of its own, not the table's title: rich would wrap it to the table's width
    console.print(Text(f"Environment: {env['summary']}"))
    if env["packages"]:
        table = Table(show_edge=False)
        table.add_column("file", overflow="fold")
        table.add_column("package", overflow="fold")
        table.add_column(Text(v["base_label"]))
        table.add_column(Text(v["head_label"]))
        for p in env["packages"]:
            table.add_row(
                Text(p["file"]), Text(p["name"]), Text(p["base"] or "—"), Text(p["head"] or "—")
            )
        console.print(table)
    if env["unchanged_files"]:
        console.print(
            Text(f"  changed without a package change: {', '.join(env['unchanged_files'])}")
        )
    for s in env["stages"]:
        console.print(Text(f"  stage {s['name']} depends on {', '.join(s['files'])}"))
    for problem in env["problems"]:
        console.print(Text(f"  {problem}"))


def _without_controls(result: Result) -> Result:
    """``result`` with every string in it passed through :func:`fmt.terminal_text`."""

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return fmt.terminal_text(value)
        if isinstance(value, dict):
            return {clean(k): clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return Result.from_dict(clean(result.to_dict()))
