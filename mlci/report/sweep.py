"""The sweep table: one row per experiment of ``mlci sweep``, the same in every rendering.

A row holds the params that vary across the grid, each gated metric with its
value and its change against the base, and the verdict; the best experiment
(``sweep.objective``) is marked. :func:`sweep_view` is plain data (the HTML
template draws it); :func:`markdown` and :func:`text` are the comment's and
the terminal's forms. Names and values come from the pull request: escaped.
"""

from __future__ import annotations

from typing import Any

from mlci.model import fmt
from mlci.model.config import MetricRule
from mlci.model.result import Experiment, Result

BEST = "★"


def _varying(experiments: tuple[Experiment, ...]) -> list[str]:
    """The params whose value differs between experiments (all of them for a one-row grid)."""
    names = list(dict.fromkeys(k for e in experiments for k in e.params))
    varying = [n for n in names if len({repr(e.params.get(n)) for e in experiments}) > 1]
    return varying or names


def _gated(experiments: tuple[Experiment, ...]) -> list[str]:
    """The metrics a rule gates, in the order the experiments list them."""
    out: dict[str, None] = {}
    for e in experiments:
        for m in e.metrics:
            rule = MetricRule.from_dict(m.rule)
            if rule is not None and rule.gates:
                out[m.name] = None
    return list(out)


def sweep_view(result: Result) -> dict[str, Any] | None:
    """The table as plain data, or None when the result is not a sweep's."""
    if result.experiments is None:
        return None
    exps = result.experiments
    params, metrics = _varying(exps), _gated(exps)
    rows = []
    for e in exps:
        by_name = {m.name: m for m in e.metrics}
        cells = []
        for name in metrics:
            m = by_name.get(name)
            if m is None:
                cells.append({"value": "—", "change": "", "outcome": "info"})
                continue
            cells.append(
                {
                    "value": "—" if m.head is None else fmt.number(m.head),
                    "change": fmt.change(m.delta, m.delta_pct, m.status),
                    "outcome": m.outcome,
                }
            )
        first = next((r.message for r in e.reasons if r.severity == e.verdict), "")
        rows.append(
            {
                "name": e.name,
                "best": e.name == result.best,
                "params": ["—" if n not in e.params else fmt.number(e.params[n]) for n in params],
                "metrics": cells,
                "verdict": e.verdict,
                "icon": fmt.VERDICT_ICONS.get(e.verdict, ""),
                "reason": first,
            }
        )
    passing = sum(1 for e in exps if e.verdict != "fail")
    return {
        "params": params,
        "metrics": metrics,
        "rows": rows,
        "best": result.best,
        "summary": (
            f"{fmt.plural(len(exps), 'experiment')}, {passing} pass"
            + (f"; best: {result.best}" if result.best else "")
        ),
        "base": result.context.base.ref or (result.context.base.sha or "base")[:7],
    }


def markdown(result: Result) -> str:
    """The sweep section of the Markdown report ('' for a result that is not a sweep's)."""
    v = sweep_view(result)
    if v is None:
        return ""
    base = fmt.md_text(v["base"], 60)
    head = ["", "experiment", *(fmt.md_code(p, 80) for p in v["params"])]
    head += [f"{fmt.md_code(m, 80)} (vs {base})" for m in v["metrics"]]
    head.append("why")
    lines = [
        f"### mlci sweep: {fmt.md_text(v['summary'], 300)}",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in v["rows"]:
        name = fmt.md_code(r["name"], 80) + (f" {BEST} best" if r["best"] else "")
        cells = [r["icon"], name, *(fmt.md_text(p, 80) for p in r["params"])]
        cells += [
            fmt.md_text(f"{c['value']} {c['change']}".strip(), 120) + _icon(c["outcome"])
            for c in r["metrics"]
        ]
        cells.append(fmt.md_text(r["reason"], 200) if r["verdict"] != "pass" else "")
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"<sub>each experiment ran as `dvc exp run --temp` on the head and was judged "
        f"against {base} by the same rules; {BEST} marks the best passing one by "
        "`sweep.objective`. A writer can reply `/mlci adopt <experiment>` to commit one.</sub>",
    ]
    return "\n".join(lines) + "\n"


def _icon(outcome: str) -> str:
    icon = fmt.ICONS.get(outcome, "")
    return f" {icon}" if icon and outcome != "pass" else ""


def text(result: Result, *, width: int | None = None) -> str:
    """The sweep table for the terminal ('' for a result that is not a sweep's)."""
    import io

    from rich.console import Console
    from rich.table import Table

    v = sweep_view(result)
    if v is None:
        return ""
    buf = io.StringIO()
    console = Console(
        file=buf, no_color=True, width=width or 100, highlight=False, emoji=False, soft_wrap=False
    )
    table = Table(title=f"Sweep: {v['summary']}", title_justify="left")
    for col in ["", "experiment", *v["params"], *(f"{m} (vs {v['base']})" for m in v["metrics"])]:
        table.add_column(fmt.terminal_text(col))
    table.add_column("verdict")
    for r in v["rows"]:
        table.add_row(
            BEST if r["best"] else "",
            fmt.terminal_text(r["name"]),
            *(fmt.terminal_text(p) for p in r["params"]),
            *(fmt.terminal_text(f"{c['value']} {c['change']}".strip()) for c in r["metrics"]),
            r["verdict"],
        )
    console.print(table)
    for r in v["rows"]:
        if r["verdict"] != "pass" and r["reason"]:
            console.print(fmt.terminal_text(f"{r['name']}: {r['reason']}"))
    return buf.getvalue()
