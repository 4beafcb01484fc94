"""The view model of a report: what every rendering of a :class:`~mlci.model.result.Result` shows.

Computed once from the result (:func:`view`): the headline, the metric rows,
the data lines, the labels of the two revisions, the sections' summaries. The
Markdown (:mod:`mlci.report.render`), terminal (:mod:`mlci.report.terminal`)
and HTML (:mod:`mlci.report.html`) renderers all read it; none recomputes what
it holds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from mlci.model import fmt
from mlci.model.config import MetricRule
from mlci.model.result import Environment, MetricDelta, Result, gravity
from mlci.report import charts, trend
from mlci.report.data import data_files, data_headlines, data_summary

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


def cell(value: Any) -> str:
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
        base=cell(m.base),
        head=cell(m.head),
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


def titled(text: str, status_context: str = "mlci") -> str:
    """A headline as the title of a project's report: ``✅ mlci/models/a: gate open — ...``.

    A repository with projects in subfolders gets one comment per project, each under
    its status context; the title names it, so two comments on one pull request differ
    at a glance. The root project's title stays ``mlci: ...``.
    """
    if status_context == "mlci":
        return text
    icon, sep, rest = text.partition(" mlci: ")
    return f"{icon} {status_context}: {rest}" if sep else text


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
    data_lines, data_folded = data_headlines(result)
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
        "data_attention": data_lines,
        "data_folded": data_folded,
        "data_summary": data_summary(files) if files else "",
        "attention": attention_rows,
        "rest": rest_rows,
        "rest_summary": rest_summary,
        "legend": arrow_legend([*attention_rows, *rest_rows]),
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
