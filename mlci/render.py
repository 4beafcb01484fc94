"""Renderings of a :class:`~mlci.result.Result`: Markdown, terminal text, JSON.

All are pure functions of the result. The Markdown comes from the Jinja2
template ``report.md.j2`` (shipped in the wheel; a repository may override it
by putting its own copy in ``.mlci/templates/``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci import fmt
from mlci.result import MetricDelta, Result

MARKER = "<!-- mlci:report:{context} -->"


def marker(status_context: str) -> str:
    """The hidden first line that identifies mlci's comment for this status context."""
    return MARKER.format(context=fmt.md_text(status_context, 100))

_STATUS_ORDER = ("regressed", "improved", "changed", "new", "no_baseline", "removed", "unchanged")
_OUTCOME_RANK = {"fail": 0, "warn": 1, "pass": 2, "info": 3}


def template_dirs(root: Path | None = None) -> list[Path]:
    """Where templates are looked up: the repo's override, the wheel, the source tree."""
    here = Path(__file__).resolve().parent
    dirs = []
    if root is not None:
        dirs.append(root / ".mlci" / "templates")
    dirs += [here / "templates", here.parent / "templates"]
    return [d for d in dirs if d.is_dir()]


def _environment(root: Path | None):  # -> jinja2.Environment
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in template_dirs(root)]),
        autoescape=False,  # Markdown, escaped field by field with md_code/md_text
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(
        code=fmt.md_code, text=fmt.md_text, number=fmt.number, duration=fmt.duration,
        plural=fmt.plural, block=fmt.md_block,
    )
    return env


# --- the view: what every rendering shows ----------------------------------------


@dataclass(frozen=True)
class MetricRow:
    icon: str
    name: str
    base: str
    head: str
    change: str
    rule: str
    outcome: str
    status: str
    message: str | None


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if fmt.is_number(value):
        return fmt.number(value)
    return fmt.clip(str(value), 60)


def _rule_text(rule: dict[str, Any] | None) -> str:
    if not rule:
        return ""
    from mlci.config import MetricRule

    return MetricRule(**rule).describe()


def metric_row(m: MetricDelta) -> MetricRow:
    return MetricRow(
        icon=fmt.ICONS.get(m.outcome, ""),
        name=m.name,
        base=_cell(m.base),
        head=_cell(m.head),
        change=fmt.change(m.delta, m.delta_pct, m.status),
        rule=_rule_text(m.rule),
        outcome=m.outcome,
        status=m.status,
        message=m.message,
    )


def headline(result: Result) -> str:
    """The one line a reviewer reads first: verdict and the reason that decided it."""
    icon = fmt.VERDICT_ICONS[result.verdict]
    if result.override:
        waived = sum(1 for r in result.reasons if r.message.endswith("(overridden)"))
        by = result.override.get("by")
        return (f"{icon} mlci: gate overridden — {fmt.plural(waived, 'failure')} waived"
                + (f" by {by}" if by else ""))
    if result.verdict == "pass":
        counts = Counter(m.status for m in result.metrics)
        parts = []
        if counts["improved"]:
            parts.append(f"{counts['improved']} improved")
        checked = sum(1 for m in result.metrics if m.outcome == "pass")
        if checked:
            parts.append(f"{fmt.plural(checked, 'metric')} within {'its rule' if checked == 1 else 'their rules'}")
        if not parts and not result.metrics and result.repro.status == "ran":
            parts.append(f"pipeline reproduced ({fmt.plural(len(result.repro.stages), 'stage')})")
        if not parts:
            parts.append(fmt.plural(len(result.metrics), "metric") + " compared" if result.metrics
                         else "nothing to compare")
        return f"{icon} mlci: gate open — {', '.join(parts)}"
    severity = result.verdict
    by_section = Counter(r.section for r in result.reasons if r.severity == severity)
    phrases = []
    for section, n in by_section.items():
        if section == "metrics":
            phrases.append(fmt.plural(n, "metric") + (" failed " if severity == "fail" else " warned by ")
                           + ("its rule" if n == 1 else "their rules"))
        elif section == "data":
            phrases.append(fmt.plural(n, "data check") + (" failed" if severity == "fail" else " warned"))
        elif section == "repro":
            phrases.append(_repro_phrase(result, severity, n))
        else:
            phrases.append(f"{fmt.plural(n, 'problem')} in {section}")
    if severity == "fail":
        warnings = sum(1 for r in result.reasons if r.severity == "warn")
        if warnings:
            phrases.append(fmt.plural(warnings, "warning"))
    what = "gate closed" if severity == "fail" else "gate open with warnings"
    return f"{icon} mlci: {what} — {', '.join(phrases)}"


STAGE_STATUS_WORDS = {"cached": "restored from run-cache"}


def _repro_phrase(result: Result, severity: str, n: int) -> str:
    """The pipeline's part of the headline, from the result's structure only.

    Reason messages quote stage commands from the PR; the headline is not
    escaped field by field, so it never includes them.
    """
    failed = sum(1 for s in result.repro.stages if s.status == "failed")
    if severity == "fail" and failed:
        return f"{fmt.plural(failed, 'pipeline stage')} failed"
    messages = [r.message for r in result.reasons if r.section == "repro" and r.severity == severity]
    if result.repro.lock_changed and any("dvc.lock" in m for m in messages):
        return "reproduced results differ from the committed dvc.lock"
    if severity == "fail" and result.repro.status == "failed":
        return "the pipeline could not be reproduced"
    return f"{fmt.plural(n, 'problem')} with the pipeline"


def stage_status(status: str) -> str:
    return STAGE_STATUS_WORDS.get(status, status)


def view(result: Result, max_rows: int | None = None) -> dict[str, Any]:
    """Everything a template needs, computed once from the result.

    ``max_rows`` caps the metric rows shown (attention rows first), for
    renderings with a size limit; the cut is stated in the report.
    """
    attention = sorted(
        (m for m in result.metrics if m.outcome in ("fail", "warn")),
        key=lambda m: _OUTCOME_RANK[m.outcome],
    )
    rest = [m for m in result.metrics if m.outcome not in ("fail", "warn")]
    rest.sort(key=lambda m: _STATUS_ORDER.index(m.status) if m.status in _STATUS_ORDER else 99)
    counts = Counter(m.status for m in rest)
    rest_summary = ", ".join(
        f"{counts[s]:,} {s.replace('_', ' ')}" for s in _STATUS_ORDER if counts[s]
    )
    cut = 0
    if max_rows is not None:
        total = len(attention) + len(rest)
        attention = attention[:max_rows]
        rest = rest[: max(0, max_rows - len(attention))]
        cut = total - len(attention) - len(rest)
    params_changed = [p for p in result.params if p.status != "unchanged"]
    pcounts = Counter(p.status for p in params_changed)
    params_summary = ", ".join(f"{n} {s}" for s, n in pcounts.items())
    unchanged_params = len(result.params) - len(params_changed)
    if unchanged_params:
        params_summary = (params_summary + ", " if params_summary else "") + f"{unchanged_params:,} unchanged"
    ctx = result.context
    base_label = ctx.base.ref or (ctx.base.sha or "base")[:7]
    if ctx.pr is not None:
        head_label = "this PR"
    else:
        head_label = ctx.head.ref or (ctx.head.sha or "head")[:7]
        if head_label == base_label:
            head_label = "work tree"
    other_reasons = [r for r in result.reasons if r.section != "metrics"]
    stages = result.repro.stages
    scounts = Counter(s.status for s in stages)
    repro_summary = ", ".join(f"{n} {stage_status(s)}" for s, n in scounts.items())
    return {
        "result": result,
        "headline": headline(result),
        "attention": [metric_row(m) for m in attention],
        "rest": [metric_row(m) for m in rest],
        "rest_summary": rest_summary,
        "params_changed": params_changed,
        "params_summary": params_summary,
        "other_reasons": other_reasons,
        "base_label": base_label,
        "head_label": head_label,
        "base_short": (ctx.base.sha or "")[:7],
        "head_short": (ctx.head.sha or "")[:7],
        "repro_summary": repro_summary,
        "cut_rows": cut,
        "mlflow_url": safe_url((result.mlflow or {}).get("url")),
        "stage_status": stage_status,
        "fmt": fmt,
    }


def safe_url(url: Any) -> str | None:
    """An http(s) URL that cannot break out of a Markdown link, else None.

    A result may come from an untrusted run (the fork-safe flow), so its URLs are checked.
    """
    if isinstance(url, str) and re.fullmatch(r"https?://[^\s()<>\[\]`\\]+", url):
        return url
    return None


# --- renderers -------------------------------------------------------------------


def markdown(result: Result, *, status_context: str = "mlci", root: Path | None = None,
             template: str = "report.md.j2", max_rows: int | None = None) -> str:
    env = _environment(root)
    body = env.get_template(template).render(
        marker=marker(status_context), **view(result, max_rows)
    )
    return body.rstrip() + "\n"


def markdown_within(result: Result, limit: int, **kwargs: Any) -> str:
    """The Markdown report in at most ``limit`` characters: rows are cut, failures kept first."""
    body = markdown(result, **kwargs)
    if len(body) <= limit:
        return body
    rows = len(result.metrics)
    while rows > 0:
        rows //= 2
        body = markdown(result, max_rows=rows, **kwargs)
        if len(body) <= limit:
            return body
    return body[: limit - 80].rsplit("\n", 1)[0] + "\n\n… (report cut to fit the size limit)\n"


def json_text(result: Result) -> str:
    return result.to_json()


def text(result: Result, *, color: bool | None = None, width: int | None = None) -> str:
    """The terminal report: same sections, as tables; colour only on a terminal."""
    import io
    import os

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    v = view(result)
    buf = io.StringIO()
    no_color = bool(os.environ.get("NO_COLOR"))
    console = Console(
        file=buf, force_terminal=bool(color) and not no_color, no_color=no_color or not color,
        width=width or 100, highlight=False, emoji=False, soft_wrap=False,
    )
    style = {"fail": "bold red", "warn": "yellow", "pass": "green"}[result.verdict]
    console.print(Text(v["headline"], style=style))

    def metric_table(rows: list[MetricRow], title: str | None) -> None:
        if not rows:
            return
        table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
        table.add_column("")
        table.add_column("metric", no_wrap=True)
        table.add_column(v["base_label"], justify="right")
        table.add_column(v["head_label"], justify="right")
        table.add_column("change", justify="right")
        table.add_column("rule")
        for r in rows:
            row_style = {"fail": "red", "warn": "yellow"}.get(r.outcome)
            table.add_row(r.icon, Text(r.name), Text(r.base), Text(r.head), Text(r.change),
                          Text(r.message or r.rule), style=row_style)
        console.print(table)

    console.print()
    metric_table(v["attention"], "Needs attention")
    for reason in v["other_reasons"]:
        console.print(Text(f"{fmt.ICONS[reason.severity]} {reason.section}: {reason.message}"))
    if result.repro.stages:
        table = Table(title=f"Pipeline: {v['repro_summary']}", title_justify="left", show_edge=False)
        table.add_column("stage")
        table.add_column("status")
        table.add_column("time", justify="right")
        for s in result.repro.stages:
            took = s.duration_s if s.status in ("ran", "cached", "failed") else None
            table.add_row(Text(s.name), stage_status(s.status), fmt.duration(took))
        console.print(table)
    metric_table(v["rest"], f"Metrics: {v['rest_summary']}" if v["rest_summary"] else None)
    if v["params_changed"]:
        table = Table(title=f"Params: {v['params_summary']}", title_justify="left", show_edge=False)
        table.add_column("param", overflow="fold")
        table.add_column(v["base_label"], justify="right")
        table.add_column(v["head_label"], justify="right")
        for p in v["params_changed"]:
            table.add_row(Text(p.name), Text(_cell(p.base)), Text(_cell(p.head)))
        console.print(table)
    elif result.params:
        console.print(f"Params: {v['params_summary']}")
    for note in result.notes:
        console.print(Text(f"note: {note}", style="dim"))
    base = f"{v['base_label']} {v['base_short']}".strip()
    head = f"{v['head_label']} {v['head_short']}".strip()
    console.print(Text(f"{base} → {head} · mlci {result.tool_version}", style="dim"))
    return buf.getvalue()
