"""The metrics and plots steps: compare the base's metrics, params and plots with the head's.

Both read the two revisions once (:meth:`mlci.engine.step.Run.snapshots`). The metric
comparison under the rules is :mod:`mlci.engine.compare`; the gate turns the metric rows
that fail or warn into its reasons (:func:`mlci.engine.gate.judge`), so this step reports
only what no row says: files that could not be read or were not produced, and rules that
match no metric.
"""

from __future__ import annotations

import dataclasses

from mlci.adapters import dvc, git
from mlci.engine import compare, history, plots, project
from mlci.engine.collect import Snapshot
from mlci.engine.step import Findings, Run, StepOutcome, Target
from mlci.model.config import Config, MetricRule
from mlci.model.result import MetricDelta, Reason


class PlotsStep:
    """The plots of both revisions as data every rendering can draw (``report.plots``)."""

    def run(self, run: Run) -> StepOutcome:
        if not run.cfg.report.plots:
            return StepOutcome()
        snaps, _ = run.snapshots()
        target = run.target
        base, head = snaps[target.base_sha], snaps[target.head_rev]
        return StepOutcome(
            reasons=tuple(_unreadable_plots(base, head, target)),
            plots=tuple(plots.build(base.plots, head.plots, head_name=target.head_name)),
        )


class MetricsStep:
    """Metrics and params of the head against the base, judged by ``metrics.rules``."""

    def run(self, run: Run) -> StepOutcome:
        target, cfg = run.target, run.cfg
        found = Findings()
        recorded = _history(run, found)
        snaps, fetched = run.snapshots()
        if fetched:
            found.notes.append(fetched)
        base, head = snaps[target.base_sha], snaps[target.head_rev]
        head_name, base_name = target.head_name, target.base_ref
        # annotations name files as GitHub does: from the repository's top, not the project's folder
        config_file = cfg.repo_path(git.repo_root(target.root))
        unreadable = {"base": base.errors, "head": head.errors}
        for side, snap, name in (("base", base, base_name), ("head", head, head_name)):
            other = head if side == "base" else base
            where = f"in {name}" if side == "head" and target.head_is_worktree else f"at {name}"
            for path, why in sorted(snap.errors.items()):
                rules = gating_rules(path, other, cfg)
                severity = cfg.metrics.unreadable if rules else "warn"
                line = rules[0].line if rules else None
                what = (
                    "DVC cannot read the pipeline"
                    if path == dvc.PIPELINE
                    else f"cannot read {path}"
                )
                found.reasons.append(
                    Reason(
                        "metrics",
                        severity,
                        f"{what} {where}: {why}",
                        kind="unreadable",
                        file=config_file if line else None,
                        line=line,
                    )
                )
            for path, why in sorted(snap.param_errors.items()):
                found.reasons.append(
                    Reason(
                        "params",
                        "warn",
                        f"cannot read {path} {where} (its params are left out): {why}",
                        kind="unreadable",
                    )
                )
        for path in sorted(head.missing - set(head.errors)):
            hint = "; run `dvc repro`" if target.head_is_worktree else ""
            found.reasons.append(
                Reason(
                    "metrics",
                    "warn",
                    f"{path} is declared in dvc.yaml but was not produced in {head_name}{hint}",
                    kind="absent",
                )
            )
        if not base.has_project and not cfg.metrics.files:
            found.notes.append(f"{target.base_ref} has no DVC project: nothing to compare with")
        elif not base.metrics and head.metrics and not base.errors:
            found.notes.append(
                f"{target.base_ref} has no metrics: every metric is without a baseline"
            )
        if not head.has_project and not cfg.metrics.files:
            found.notes.append(
                "no DVC project (.dvc/) and no metrics.files in the config: no metrics to compare"
            )
        found.notes.extend(recorded.problems())
        spreads = history.spreads(
            recorded, cfg.history.min_points, history.branch_name(target.base_ref)
        )
        metrics = compare.compare_metrics(
            base.metrics, head.metrics, base.metric_files, cfg.metrics, spreads
        )
        head_where = "in the work tree" if target.head_is_worktree else f"at {head_name}"
        metrics = history.attach(
            [_mark_unreadable(m, unreadable, f"at {base_name}", head_where, cfg) for m in metrics],
            recorded,
        )
        if recorded.commits:
            metrics, flagged = history.flag_nondeterministic(
                metrics,
                recorded,
                history.head_inputs(target.root, target.head_sha, target.head_is_worktree),
                None if target.head_is_worktree else target.head_sha,
            )
            found.notes.extend(flagged)
        params = compare.compare_params(base.params, head.params)
        # files whose content neither revision gave (a rule may match them once they are read)
        unknown = (
            {*base.errors, *head.errors, *base.missing, *head.missing}
            - base.metric_files
            - head.metric_files
        )
        if dvc.PIPELINE in unknown:
            unknown = {"*"}
        names = [*head.metrics, *(n for n in base.metrics if n not in head.metrics)]
        where = f"at {base_name} or {'in ' if target.head_is_worktree else 'at '}{head_name}"
        for rule, suggestion in compare.unmatched_rules(cfg.metrics.rules, names, unknown):
            found.reasons.append(
                Reason(
                    "metrics",
                    "warn",
                    compare.unmatched_text(rule, suggestion, where),
                    kind="unmatched",
                    file=config_file if rule.line else None,
                    line=rule.line,
                )
            )
        return found.outcome(metrics=tuple(metrics), params=tuple(params))


class NestedProjectsStep:
    """DVC projects in folders below and none here: "nothing to compare" would be a pass the
    gate cannot give, so the check fails and names them."""

    def run(self, run: Run) -> StepOutcome:
        if run.cfg.metrics.files or not (folders := project.nested(run.root)):
            return StepOutcome()
        return StepOutcome(reasons=(Reason("config", "fail", project.nested_hint(folders)),))


def _history(run: Run, found: Findings) -> history.History:
    """The results recorded on the base's first-parent line (git notes), when any.

    Reads what the clone has; never fetches (CI fetches the notes before the check).
    An unreadable history is an empty one: ``auto`` limits then fall back, and say so.
    """
    from mlci.adapters.notes import NotesError

    try:
        return history.read(run.root, run.target.base_sha, run.cfg.history.depth)
    except NotesError as exc:
        found.notes.append(f"the results history could not be read: {exc}")
        return history.History()


def _unreadable_plots(base: Snapshot, head: Snapshot, target: Target) -> list[Reason]:
    """A plot file declared but unreadable (not merely absent) is a warning in every rendering.

    Without it, a base whose plot DVC could not load would show the head's
    curve as "new", as if the base had none.
    """
    out = []
    for side, snap, name in (("base", base, target.base_ref), ("head", head, target.head_name)):
        where = f"in {name}" if side == "head" and target.head_is_worktree else f"at {name}"
        seen: set[str] = set()
        for source in snap.plots.values():
            for path, why in sorted(getattr(source, "errors", {}).items()):
                if why == "file not found" or path in seen:
                    continue
                seen.add(path)
                out.append(
                    Reason(
                        "plots",
                        "warn",
                        f"cannot read plot {path} {where}: {why}",
                        kind="unreadable",
                    )
                )
    return out


def gating_rules(path: str, other: Snapshot, cfg: Config) -> list[MetricRule]:
    """The rules that would gate a metric of ``path``, a file one revision could not read.

    The other revision's metrics of that file say which names it holds; when it
    has none either, any gating rule whose pattern can reach the file counts
    (a key-only pattern reaches every file): unknown content fails closed.
    """
    whole = path == dvc.PIPELINE  # the pipeline itself: every metric of the revision
    names = [n for n in other.metrics if whole or n == path or n.startswith(path + ":")]
    if names:
        found = (compare.match_rule(n, cfg.metrics.rules) for n in names)
        return list(dict.fromkeys(r for r in found if r is not None and r.gates))
    return [
        r for r in cfg.metrics.rules if r.gates and (whole or compare.rule_reaches_file(r, path))
    ]


def _mark_unreadable(
    m: MetricDelta,
    unreadable: dict[str, dict[str, str]],
    base_where: str,
    head_where: str,
    cfg: Config,
) -> MetricDelta:
    """A metric whose file one revision could not read is "unreadable", not new or removed.

    Its row follows ``metrics.unreadable`` when a rule gates it; the file's own
    reason (above the table) says why, so the row does not repeat it.
    """
    path = m.name.split(":", 1)[0]
    sides = [
        where
        for side, where in (("base", base_where), ("head", head_where))
        if path in unreadable[side] or dvc.PIPELINE in unreadable[side]
    ]
    if not sides:
        return m
    rule = MetricRule.from_dict(m.rule)
    gated = rule is not None and rule.gates
    return dataclasses.replace(
        m,
        status="unreadable",
        delta=None,
        delta_pct=None,
        outcome=cfg.metrics.unreadable if gated else "info",
        message="unreadable " + " and ".join(sides),
    )
