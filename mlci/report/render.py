"""Renderings of a :class:`~mlci.result.Result`: Markdown, terminal text, JSON.

All are pure functions of the result. The Markdown comes from the Jinja2
template ``report.md.j2`` (shipped in the wheel; a repository may override it
by putting its own copy in ``.mlci/templates/``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci.model import fmt
from mlci.model.config import MetricRule
from mlci.model.data import ExpectationResult
from mlci.model.result import Environment, MetricDelta, Result, gravity
from mlci.report import charts, trend

MARKER = "<!-- mlci:report:{context} -->"


def marker(status_context: str) -> str:
    """The hidden first line that identifies mlci's comment for this status context."""
    return MARKER.format(context=fmt.md_text(status_context, 100))


_STATUS_ORDER = (
    "unreadable",
    "regressed",
    "improved",
    "changed",
    "new",
    "no_baseline",
    "removed",
    "unchanged",
)


def template_dirs(root: Path | None = None) -> list[Path]:
    """Where templates are looked up: the repo's override, the wheel, the source tree."""
    here = Path(__file__).resolve().parent.parent  # the package: mlci/templates in a wheel
    dirs = []
    if root is not None:
        dirs.append(root / ".mlci" / "templates")
    dirs += [here / "templates", here.parent / "templates"]
    return [d for d in dirs if d.is_dir()]


def sandboxed_environment(root: Path | None, **options: Any):  # -> jinja2.Environment
    """A sandboxed Jinja2 environment: a template (even a repository's override) cannot run code.

    The sandbox only stops ``_private`` attributes; anything reachable through a
    public attribute (a module's, a function's) is still reachable. So the
    template's globals are emptied (``cycler``, ``lipsum``, ``namespace``,
    ``dict``, ``joiner``, ``range`` are objects with a way out) and its values
    are plain data only (see :func:`plain`): nothing but filters can call code.
    """
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader([str(d) for d in template_dirs(root)]),
        undefined=jinja2.StrictUndefined,
        **options,
    )
    env.globals.clear()
    return env


_PLAIN_TYPES = (str, int, float, bool, type(None))


def plain(value: Any) -> Any:
    """``value`` as dicts, lists, strings, numbers, booleans and None: what a template may see.

    Dataclasses become dicts of their fields. Anything else (a module, a class,
    a function, a bound method) is a bug in mlci and raises ``TypeError``: a
    template given an object can walk from it to ``os``.
    """
    import dataclasses

    if type(value) in _PLAIN_TYPES:
        return value
    if isinstance(value, str):  # Markup and other str subclasses: their methods stay behind
        return str(value)
    if isinstance(value, (int, float)) and not callable(value):
        return (
            bool(value)
            if isinstance(value, bool)
            else (int(value) if isinstance(value, int) else float(value))
        )
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    raise TypeError(f"a template may only see plain data, not {type(value).__name__}")


def template_values(v: dict[str, Any]) -> dict[str, Any]:
    """The view for a template: plain data; ``result`` as its JSON form plus ``tool_version``."""
    out = {k: val for k, val in v.items() if k != "result"}
    result: Result = v["result"]
    doc = result.to_dict()
    doc["tool_version"] = result.tool_version
    out["result"] = doc
    out["icons"] = dict(fmt.ICONS)
    return plain(out)


def markdown_environment(root: Path | None):  # -> jinja2.Environment
    """The Jinja2 set-up of mlci's Markdown templates (the report, the model card, ``mlci init``'s
    files): a repository's override in ``.mlci/templates/`` first, sandboxed, with the filters
    that escape each value for Markdown."""
    env = sandboxed_environment(
        root,
        autoescape=False,  # Markdown, escaped field by field with md_code/md_text
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        code=fmt.md_code,
        text=fmt.md_text,
        number=fmt.number,
        duration=fmt.duration,
        plural=fmt.plural,
        block=fmt.md_block,
        stage_status=stage_status,
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
    trend: str = ""  # the base's recorded values and the head's, as a sparkline ("" without)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if fmt.is_number(value):
        return fmt.number(value)
    return fmt.clip(str(value), 60)


def _rule_text(rule: dict[str, Any] | None) -> str:
    judged_by = MetricRule.from_dict(rule)
    if judged_by is None:
        return ""
    resolved = (rule or {}).get("resolved")
    try:
        return judged_by.describe(resolved if isinstance(resolved, dict) else None)
    except (TypeError, ValueError):  # a result file from elsewhere with values of unknown types
        return ""


WARN_ONLY = "warn only"


def metric_row(m: MetricDelta) -> MetricRow:
    judged_by = MetricRule.from_dict(m.rule)
    rule = _rule_text(m.rule)
    if judged_by and judged_by.severity == "warn" and judged_by.gates:
        rule += f" ({WARN_ONLY})"  # a reader must see that this rule can never block the merge
    return MetricRow(
        icon=fmt.ICONS.get(m.outcome, ""),
        name=m.name,
        base=_cell(m.base),
        head=_cell(m.head),
        change=fmt.change(m.delta, m.delta_pct, m.status),
        rule=rule,
        outcome=m.outcome,
        status=m.status,
        message=m.message,
        trend=trend.sparkline(m),
    )


ARROW_LEGEND = "▲ better, ▼ worse (by the rule's direction; the sign is the value's change)"


def arrow_legend(rows: list[MetricRow]) -> str:
    """The legend for ▲/▼ when a shown row has one: they mean better/worse, not up/down."""
    return ARROW_LEGEND if any(r.change[:1] in ("▲", "▼") for r in rows) else ""


def headline(result: Result) -> str:
    """The one line a reviewer reads first: verdict and the reason that decided it."""
    icon = fmt.VERDICT_ICONS[result.verdict]
    if result.override:
        waived = sum(1 for r in result.reasons if r.message.endswith("(overridden)"))
        by = result.override.get("by")
        return f"{icon} mlci: gate overridden — {fmt.plural(waived, 'failure')} waived" + (
            f" by {by}" if by else ""
        )
    absent = sum(1 for r in result.reasons if r.kind == "absent")
    if (
        not result.metrics
        and absent
        and not any(r.kind == "unreadable" for r in result.reasons)
        and result.verdict != "fail"
    ):
        # the first check after `mlci init`: say why there is nothing to compare
        return (
            f"{icon} mlci: nothing to compare yet — {fmt.plural(absent, 'declared metrics file')} "
            "not produced: run dvc repro first"
        )
    if result.verdict == "pass":
        counts = Counter(m.status for m in result.metrics)
        parts = []
        if counts["improved"]:
            parts.append(f"{counts['improved']} improved")
        checked = sum(1 for m in result.metrics if m.outcome == "pass")
        if checked:
            parts.append(
                f"{fmt.plural(checked, 'metric')} within {'its rule' if checked == 1 else 'their rules'}"
            )
        if not parts and not result.metrics and result.repro.status == "ran":
            parts.append(f"pipeline reproduced ({fmt.plural(len(result.repro.stages), 'stage')})")
        if result.data:
            parts.append(fmt.plural(len(result.data), "data file") + " valid")
        if not parts and not compared(result):
            parts.append(
                "nothing reproduced" if result.repro.status != "ran" else "pipeline reproduced"
            )
        if not parts:
            parts.append(
                fmt.plural(len(result.metrics), "metric") + " compared"
                if result.metrics
                else "nothing to compare"
            )
        return f"{icon} mlci: gate open — {', '.join(parts)}"
    severity = result.verdict
    by_section = Counter(
        (r.section, r.kind) if r.kind else r.section
        for r in result.reasons
        if r.severity == severity
    )
    phrases = []
    for section, n in by_section.items():
        if isinstance(section, tuple):
            phrases.append(_kind_phrase(result, severity, *section, n))
        elif section == "metrics":
            phrases.append(
                fmt.plural(n, "metric")
                + (" failed " if severity == "fail" else " warned by ")
                + ("its rule" if n == 1 else "their rules")
            )
        elif section == "data":
            phrases.append(
                fmt.plural(n, "data check") + (" failed" if severity == "fail" else " warned")
            )
        elif section == "repro":
            phrases.append(_repro_phrase(result, severity, n))
        elif section == "environment":
            phrases.append(f"{fmt.plural(n, 'requirement')} not pinned to one version")
        elif section == "verification":  # the fork-safe check: first thing a reviewer must know
            phrases.insert(
                0, "the uploaded result does not match the pull request's committed files"
            )
        else:
            phrases.append(f"{fmt.plural(n, 'problem')} in {section}")
    if severity == "fail":
        warnings = sum(1 for r in result.reasons if r.severity == "warn")
        if warnings:
            phrases.append(fmt.plural(warnings, "warning"))
    what = "gate closed" if severity == "fail" else "gate open with warnings"
    return f"{icon} mlci: {what} — {', '.join(phrases)}"


def _kind_phrase(result: Result, severity: str, section: str, kind: str, n: int) -> str:
    """The headline's words for findings that are no metric row's (see :attr:`Reason.kind`).

    Built from the result's structure and mlci's own wording only: never from a
    path or a message of the PR (the headline is not escaped field by field).
    """
    messages = [
        r.message
        for r in result.reasons
        if r.severity == severity and r.section == section and r.kind == kind
    ]
    if kind == "unreadable":
        where = _where(result, messages)
        pipeline = sum(1 for m in messages if m.startswith("DVC cannot read the pipeline"))
        phrases = []
        if pipeline:
            phrases.append("DVC could not read the pipeline")
        if n - pipeline:
            noun = {"metrics": "metrics file", "params": "params file", "plots": "plot file"}.get(
                section, f"{section} file"
            )
            phrases.append(f"{fmt.plural(n - pipeline, noun)} could not be read")
        return " and ".join(phrases) + where
    if kind == "absent":
        return f"{fmt.plural(n, 'declared metrics file')} not produced"
    if kind == "unmatched":
        return f"{fmt.plural(n, 'rule')} {'matches' if n == 1 else 'match'} no metric"
    return f"{fmt.plural(n, 'problem')} in {section}"


def _where(result: Result, messages: list[str]) -> str:
    """`` at main`` / `` in the work tree`` when every finding is about the same revision."""
    base, head = result.context.base.ref, result.context.head.ref
    sides = set()
    for m in messages:
        if base and f" at {base}: " in m:
            sides.add(f" at {base}")
        elif " in the work tree: " in m:
            sides.add(" in the work tree")
        elif head and f" at {head}: " in m:
            sides.add(f" at {head}")
        else:
            return ""
    return sides.pop() if len(sides) == 1 else " at both revisions"


def compared(result: Result) -> bool:
    """False for `mlci repro`'s result: it reproduced the work tree and compared nothing."""
    return result.context.compared


STAGE_STATUS_WORDS = {
    "cached": "restored from run-cache",
    "restored": "restored from the DVC cache",
}


def _repro_phrase(result: Result, severity: str, n: int) -> str:
    """The pipeline's part of the headline, from the result's structure only.

    Reason messages quote stage commands from the PR; the headline is not
    escaped field by field, so it never includes them.
    """
    failed = sum(1 for s in result.repro.stages if s.status == "failed")
    if severity == "fail" and failed:
        return f"{fmt.plural(failed, 'pipeline stage')} failed"
    messages = [
        r.message for r in result.reasons if r.section == "repro" and r.severity == severity
    ]
    if result.repro.lock_changed and any("dvc.lock" in m for m in messages):
        return "reproduced results differ from the committed dvc.lock"
    if result.repro.status == "skipped" and any(
        m.startswith("dvc.lock is not up to date") for m in messages
    ):
        return "dvc.lock is not up to date: metrics are from before this change"
    if severity == "fail" and result.repro.status == "failed":
        return "the pipeline could not be reproduced"
    return f"{fmt.plural(n, 'problem')} with the pipeline"


def stage_status(status: str) -> str:
    return STAGE_STATUS_WORDS.get(status, status)


@dataclass(frozen=True)
class ExpectationRow:
    icon: str
    label: str
    args: str
    unexpected: str
    sample: str


@dataclass(frozen=True)
class DataFile:
    icon: str
    path: str
    stats: str
    message: str | None
    expectations: list[ExpectationRow]
    diff: str


def _expectation_row(e: ExpectationResult) -> ExpectationRow:
    kwargs = {
        k: v
        for k, v in (e.kwargs if isinstance(e.kwargs, dict) else {}).items()
        if k not in ("column", "column_A", "column_B", "column_list")
    }
    args = ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in kwargs.items())
    count, pct = e.unexpected_count, e.unexpected_percent
    if e.exception:
        unexpected = "error: " + str(e.exception)
    elif isinstance(count, int):
        unexpected = f"{count:,}" + (
            f" ({fmt.number(round(pct, 2))} %)" if isinstance(pct, (int, float)) else ""
        )
    elif e.observed_value is not None:
        unexpected = f"observed {fmt.clip(str(e.observed_value), 60)}"
    else:
        unexpected = "—"
    sample = ", ".join(
        (f"row {s.row}: " if s.row is not None else "") + fmt.clip(str(s.value), 40)
        for s in e.sample
    )
    return ExpectationRow(
        icon=fmt.ICONS["pass"] if e.success else fmt.ICONS["fail"],
        label=e.label,
        args=fmt.clip(args, 80),
        unexpected=unexpected,
        sample=sample,
    )


def data_files(result: Result) -> list[DataFile]:
    """One row per ``data:`` entry: its expectations and its diff with the base, failures first."""
    from mlci.report.data import diff_summary

    out = []
    for d in result.data:
        parts = []
        if d.statistics.rows is not None:
            parts.append(f"{d.statistics.rows:,} rows × {d.statistics.columns or 0} columns")
        exps = d.expectations
        if exps:
            failed = len(d.failed_expectations)
            parts.append(
                fmt.plural(len(exps), "expectation")
                + (f", {failed} failed" if failed else " passed")
            )
        icon = (
            fmt.ICONS["pass"]
            if d.success and not d.diff.drifted
            else fmt.ICONS.get(d.severity, fmt.ICONS["fail"])
        )
        rows = sorted(
            (_expectation_row(e) for e in exps), key=lambda r: r.icon == fmt.ICONS["pass"]
        )
        out.append(
            DataFile(
                icon=icon,
                path=str(d.path),
                stats=", ".join(parts),
                message=d.message,
                expectations=rows,
                diff=diff_summary(d.diff),
            )
        )
    out.sort(key=lambda f: f.icon == fmt.ICONS["pass"])
    return out


@dataclass(frozen=True)
class DataLine:
    """One data finding for the top of the report: ``❌ `path`: `expectation` failed on …``."""

    icon: str
    path: str
    label: str | None
    text: str
    severity: str


def data_attention(result: Result) -> list[DataLine]:
    """The failing and warning data findings, in the words of the gate's reasons."""
    out = []
    for d in result.data:
        path, severity = str(d.path), d.severity
        icon = fmt.ICONS.get(severity, "")
        if d.status in ("missing", "error"):
            message = str(d.message or d.status)
            text = message[len(path) :].lstrip(": ") if message.startswith(path) else message
            out.append(DataLine(icon, path, None, text, severity))
        for e in d.failed_expectations:
            message = e.message(path, d.statistics.rows)
            rest = message[len(f"{path}: {e.label}") :].strip()
            out.append(DataLine(icon, path, e.label, rest, severity))
        limit = d.diff.max_psi_limit
        for name in d.diff.drifted:
            psi = d.diff.column(name).get("psi")
            psi_text = f"PSI {psi:.3f}" if fmt.is_number(psi) else "PSI"
            limit_text = f" > {limit:g}" if fmt.is_number(limit) else ""
            out.append(
                DataLine(
                    icon,
                    path,
                    None,
                    f"column {name} drifted: {psi_text}{limit_text} (drift.max_psi)",
                    severity,
                )
            )
    out.sort(key=lambda line: -gravity(line.severity))
    return out


def data_summary(files: list[DataFile]) -> str:
    counts = Counter(f.icon for f in files)
    parts = [
        f"{counts[fmt.ICONS[k]]} {word}"
        for k, word in (("fail", "failed"), ("warn", "warned"), ("pass", "passed"))
        if counts[fmt.ICONS[k]]
    ]
    return f"{fmt.plural(len(files), 'file')} — {', '.join(parts)}"


FOLD_CAP = 200  # rows in the folded metric table; beyond it only changed rows are listed


def view(
    result: Result, max_rows: int | None = None, fold_cap: int | None = FOLD_CAP
) -> dict[str, Any]:
    """Everything a template needs, computed once from the result.

    ``max_rows`` caps the metric rows shown (attention rows first), for
    renderings with a size limit; the cut is stated in the report.
    ``fold_cap``: when more rows than this would be folded, the folded table
    lists only changed rows, at most this many, and counts the rest (at
    thousands of metrics the unchanged ones are noise; the result file and
    the HTML report have them all). ``None`` lists every row.
    """
    attention = sorted(
        (m for m in result.metrics if m.outcome in ("fail", "warn")),
        key=lambda m: -gravity(m.outcome),
    )
    rest = [m for m in result.metrics if m.outcome not in ("fail", "warn")]
    rest.sort(key=lambda m: _STATUS_ORDER.index(m.status) if m.status in _STATUS_ORDER else 99)
    counts = Counter(m.status for m in rest)
    rest_summary = ", ".join(
        f"{counts[s]:,} {s.replace('_', ' ')}" for s in _STATUS_ORDER if counts[s]
    )
    folded_out = 0
    if fold_cap is not None and len(rest) > fold_cap:
        listed = [m for m in rest if m.status != "unchanged"][:fold_cap]
        folded_out = len(rest) - len(listed)
        rest = listed
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
        # the tables list changed params only: the count of the others says they are not shown
        params_summary = (
            params_summary + "; " if params_summary else ""
        ) + f"{unchanged_params:,} unchanged, not listed"
    ctx = result.context
    base_label = ctx.base.ref or (ctx.base.sha or "base")[:7]
    if ctx.pr is not None:
        head_label = "this PR"
    elif ctx.head_uncommitted or not compared(result):
        head_label = (
            "work tree"  # uncommitted changes (or reproduced files): no commit holds these values
        )
    else:
        head_label = ctx.head.ref or (ctx.head.sha or "head")[:7]
        if head_label == base_label:  # one name for both (`--head main --base main`)
            head_label = "head"
    # data findings are shown from the data entries (with code spans), not as plain reasons
    # findings of no metric row (an unreadable file, a rule that matches nothing) are listed too
    other_reasons = [
        r
        for r in result.reasons
        if (r.section != "metrics" or r.kind)
        and not (r.section == "data" and result.data)
        and r.section != "verification"
    ]
    # the fork-safe check's findings go first, above every table (mlci/verify.py)
    verification = [r for r in result.reasons if r.section == "verification"]
    stages = result.repro.stages
    scounts = Counter(s.status for s in stages)
    repro_summary = ", ".join(f"{n} {stage_status(s)}" for s, n in scounts.items())
    files = data_files(result)
    plot_views = charts.markdown_views(
        result.plots,
        fmt.md_text(base_label),
        fmt.md_text(head_label),
        artifacts=ctx.run_url is not None,
    )
    attention_rows = [metric_row(m) for m in attention]
    rest_rows = [metric_row(m) for m in rest]
    trends = any(r.trend for r in (*attention_rows, *rest_rows))
    return {
        "result": result,
        "headline": headline(result),
        "trends": trends,
        "trend_legend": trend_legend(base_label, head_label) if trends else "",
        "trend_charts": [
            {"name": m.name, "chart": trend.mermaid_chart(m, base_label, head_label)}
            for m in attention
            if m.history
        ],
        "data_files": files,
        "data_attention": data_attention(result),
        "data_summary": data_summary(files) if files else "",
        "attention": attention_rows,
        "rest": rest_rows,
        "rest_summary": rest_summary,
        "legend": arrow_legend([metric_row(m) for m in (*attention, *rest)]),
        "table_summary": table_summary(attention, rest),
        "params_changed": params_changed,
        "params_summary": params_summary,
        "other_reasons": other_reasons,
        "verification": verification,
        "unreadable": sum(
            1 for r in result.reasons if r.kind == "unreadable" and r.section == "metrics"
        ),
        "base_label": base_label,
        "head_label": head_label,
        "compared": compared(result),
        "base_short": (ctx.base.sha or "")[:7],
        # the commit the work tree is on is not what was measured when it has changes
        "head_short": "" if ctx.head_uncommitted else (ctx.head.sha or "")[:7],
        "repro_summary": repro_summary,
        "cut_rows": cut,
        "run_url": safe_url(ctx.run_url),
        "mlflow_url": safe_url((result.mlflow or {}).get("url")),
        "folded_out": folded_out,
        "plots": plot_views,
        "plots_summary": charts.summary_line(result.plots),
        "environment": environment_view(result.environment),
        "writeback": writeback_view(result),
    }


_WRITEBACK_SEVERITY = {"pushed": "pass", "committed": "pass", "nothing": "info"}


def writeback_view(result: Result) -> dict[str, Any] | None:
    """The write-back line: what was committed back, or why not."""
    wb = result.writeback
    if wb is None:
        return None
    icon = fmt.ICONS[_WRITEBACK_SEVERITY.get(wb.status, "warn")]
    return {"status": wb.status, "icon": icon, "message": wb.message, "sha": wb.sha}


def environment_view(env: Environment | None) -> dict[str, Any] | None:
    """The environment section: package rows and a summary line made of counts only."""
    if env is None:
        return None
    files = {p.file for p in env.packages}
    if env.packages:
        summary = (
            f"{fmt.plural(len(env.packages), 'package')} changed in "
            f"{fmt.plural(len(files), 'file')}"
        )
    else:
        summary = f"{fmt.plural(len(env.files), 'file')} changed, no package"
    if env.stages:
        summary += (
            f"; {fmt.plural(len(env.stages), 'stage')} "
            f"{'depends' if len(env.stages) == 1 else 'depend'} on "
            f"{'it' if len(env.files) == 1 else 'them'}"
        )
    return {
        "summary": summary,
        "files": list(env.files),
        "unchanged_files": [f for f in env.files if f not in files],
        "packages": [
            {"file": p.file, "name": p.name, "status": p.status, "base": p.base, "head": p.head}
            for p in env.packages
        ],
        "stages": [{"name": s.name, "files": list(s.files)} for s in env.stages],
        "problems": list(env.problems),
    }


def trend_legend(base_label: str, head_label: str) -> str:
    return (
        f"trend: the values recorded on {base_label}, oldest first, {trend.HEAD_MARK} {head_label}"
    )


def table_summary(attention: list[MetricDelta], rest: list[MetricDelta]) -> str:
    """Counts of every row of one table (the HTML's), so they add up to the rows it shows."""
    outcomes = Counter(m.outcome for m in attention)
    parts = [
        f"{outcomes[o]:,} {w}" for o, w in (("fail", "failed"), ("warn", "warned")) if outcomes[o]
    ]
    counts = Counter(m.status for m in rest)
    parts += [f"{counts[s]:,} {s.replace('_', ' ')}" for s in _STATUS_ORDER if counts[s]]
    return ", ".join(parts)


safe_url = fmt.safe_url  # a result may come from an untrusted run: its URLs are checked


# --- renderers -------------------------------------------------------------------


def markdown(
    result: Result,
    *,
    status_context: str = "mlci",
    root: Path | None = None,
    template: str = "report.md.j2",
    max_rows: int | None = None,
) -> str:
    env = markdown_environment(root)
    body = render_template(
        env, template, marker=marker(status_context), **template_values(view(result, max_rows))
    )
    from mlci.report import sweep  # `mlci sweep`'s table, after the report ('' otherwise)

    return body.rstrip() + "\n" + ("\n" + sweep.markdown(result) if result.experiments else "")


def render_template(env: Any, name: str, **values: Any) -> str:
    """Render one template; a broken or unsafe template (say, a repository's override) is exit 2.

    ``values`` must be plain data (:func:`plain`); this is checked, not assumed.
    """
    import jinja2
    from jinja2.sandbox import SecurityError

    from mlci.model.errors import ConfigError

    values = plain(values)
    try:
        template = env.get_template(name)
        return str(template.render(**values))
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(
            f"template syntax error: {exc.message}", file=exc.filename or name, line=exc.lineno
        ) from exc
    except SecurityError as exc:
        raise ConfigError(f"the template tried something unsafe: {exc}", file=name) from exc
    except jinja2.UndefinedError as exc:
        raise ConfigError(
            f"the template uses something mlci does not give templates: {exc.message}", file=name
        ) from exc
    except jinja2.TemplateError as exc:
        raise ConfigError(f"the template failed: {exc.message}", file=name) from exc


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


def for_stdout(
    result: Result,
    fmt_name: str,
    *,
    status_context: str = "mlci",
    root: Path | None = None,
    color: bool = False,
    width: int | None = None,
) -> str:
    """The report in the format asked for on the command line: json, markdown or text.

    ``width``: the terminal's, for text on a terminal; None keeps the fixed width of 100.
    """
    if fmt_name == "json":
        return json_text(result)  # control characters are escaped in JSON strings
    if fmt_name == "markdown":
        return fmt.terminal_text(markdown(result, status_context=status_context, root=root))
    return text(result, color=color, width=width)


def json_text(result: Result) -> str:
    return result.to_json()


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
            table.add_row(Text(p.name), Text(_cell(p.base)), Text(_cell(p.head)))
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
    from mlci.report import sweep  # `mlci sweep`'s table ('' otherwise)

    out = buf.getvalue() + sweep.text(result, width=width)
    return fmt.terminal_text(out, keep_colours=coloured)


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
