"""``mlci check``: compute a Result for the head against the base.

The steps (reproduce, validate, compare) each add to the result; the gate
turns their outcomes into the verdict. Nothing here renders or publishes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlci.adapters import dvc, git
from mlci.configfile import load
from mlci.engine import collect, compare, gate, history, plots, project
from mlci.engine.progress import Progress
from mlci.model.config import Config
from mlci.model.errors import RunError
from mlci.model.result import (
    Context,
    Environment,
    EventRevisions,
    Plot,
    Reason,
    Repro,
    Result,
    Revision,
)
from mlci.model.run import HostRun


@dataclass(frozen=True)
class CheckOptions:
    cwd: Path = field(default_factory=Path.cwd)
    config_path: str | None = None
    base: str | None = None
    head: str | None = None  # None: the work tree
    repro: bool | None = None  # None: as the config says
    lock_status: bool = False  # without repro: say whether dvc.lock is up to date (dvc status)
    verbose: bool = False
    compare: bool = True  # False: `mlci repro`, the repro section alone
    commit: bool = False  # `mlci repro --commit`: commit the reproduced files on this branch


@dataclass(frozen=True)
class Target:
    """The two revisions being compared, resolved."""

    root: Path
    base_ref: str
    base_sha: str
    head_ref: str | None
    head_sha: str | None
    head_rev: str  # a sha, or dvc.WORKSPACE


def resolve_target(
    opts: CheckOptions, cfg: Config, root: Path, *, event: EventRevisions | None = None
) -> Target:
    """The base, first found of: --base, the event's base, ``base:`` in config, the default branch."""
    if not git.has_commits(root):
        raise RunError("the repository has no commits yet: commit a baseline first")
    event = event or EventRevisions()
    if opts.base:
        base_ref = opts.base
    elif event.base_sha:
        base_ref = event.base_sha
    else:
        base_ref = cfg.base or git.default_base(root)
    base_sha = git.resolve(base_ref, root)
    if base_sha is None:
        hint = " (pass --base REF, or set base: in mlci.yaml)" if not opts.base else ""
        raise RunError(f"unknown base revision '{base_ref}'{hint}")
    if not opts.base and event.base_sha and event.base_ref:
        base_ref = event.base_ref  # show "main", not a sha
    if opts.head:
        head_sha = git.resolve(opts.head, root)
        if head_sha is None:
            raise RunError(f"unknown head revision '{opts.head}'")
        return Target(root, base_ref, base_sha, opts.head, head_sha, head_sha)
    if event.head_sha:  # in CI the work tree is the event's head (or GitHub's merge commit for it)
        return Target(root, base_ref, base_sha, event.head_ref, event.head_sha, dvc.WORKSPACE)
    return Target(
        root, base_ref, base_sha, git.current_branch(root), git.resolve("HEAD", root), dvc.WORKSPACE
    )


def choose_base(target: Target, cfg: Config, findings: Findings) -> Target:
    """``base_mode``: compare with the base's tip or with the merge-base; say when they differ."""
    import dataclasses

    if not target.head_sha:
        return target
    merge_base = git.merge_base(target.base_sha, target.head_sha, target.root)
    if merge_base is None or merge_base == target.base_sha:
        return target
    moved = git.count_commits(merge_base, target.base_sha, target.root)
    if not moved:  # the head is behind the base (or git cannot tell): nothing moved under it
        return target
    name = target.base_ref
    since = f"{name} moved {moved} commit{'s' if moved != 1 else ''} since this branch"
    if cfg.base_mode == "merge-base":
        findings.notes.append(
            f"{since}: compared with the merge-base {merge_base[:7]}, not {name}'s tip "
            f"{target.base_sha[:7]} (base_mode: merge-base)"
        )
        return dataclasses.replace(target, base_sha=merge_base)
    findings.notes.append(
        f"{since} (merge-base {merge_base[:7]}): compared with {name}'s tip "
        f"{target.base_sha[:7]}, so its changes since count too (base_mode: tip)"
    )
    return target


@dataclass
class Findings:
    """What the steps found, before the gate: reasons and notes in order."""

    reasons: list[Reason] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    environment: Environment | None = None


def data_step(target: Target, cfg: Config, findings: Findings, verbose: bool) -> list[dict]:
    """Validate the ``data:`` entries (GX is imported only when a result is not cached)."""
    if not cfg.data:
        return []
    from mlci.engine import validate

    outcome = validate.data_step(target, cfg, verbose=verbose)
    findings.reasons.extend(outcome.reasons)
    findings.notes.extend(outcome.notes)
    return outcome.entries


def environment_step(target: Target, cfg: Config, findings: Findings, verbose: bool) -> None:
    """The environment files that differ from the base, and unpinned requirements (if asked)."""
    from mlci.engine import environment

    head = None if target.head_rev == dvc.WORKSPACE else target.head_sha
    outcome = environment.environment_step(target.root, target.base_sha, head, cfg, verbose=verbose)
    findings.environment = outcome.environment
    findings.reasons.extend(outcome.reasons)
    findings.notes.extend(outcome.notes)


def compare_step(
    target: Target,
    cfg: Config,
    findings: Findings,
    verbose: bool,
    *,
    spreads: Mapping[str, history.Spread] | None = None,
):
    revs = [target.base_sha, target.head_rev]
    fetched = dvc.fetch_for_reading(target.root, revs, verbose=verbose)  # fresh clones
    if fetched:
        findings.notes.append(fetched)
    snaps = collect.collect(
        target.root,
        revs,
        cfg.metrics.files,
        verbose=verbose,
        plots=cfg.report.plots,
        extra_plots=cfg.metrics.plots,
    )
    base, head = snaps[target.base_sha], snaps[target.head_rev]
    head_name = "the work tree" if target.head_rev == dvc.WORKSPACE else (target.head_ref or "head")
    base_name = target.base_ref
    if cfg.report.plots:
        findings.plots = plots.build(base.plots, head.plots, head_name=head_name)
        findings.reasons += _unreadable_plots(base, head, target, base_name, head_name)
    # annotations name files as GitHub does: from the repository's top, not the project's folder
    config_file = cfg.repo_path(git.repo_root(target.root))
    unreadable = {"base": base.errors, "head": head.errors}
    for side, snap, name in (("base", base, base_name), ("head", head, head_name)):
        other = head if side == "base" else base
        where = (
            f"in {name}" if side == "head" and target.head_rev == dvc.WORKSPACE else f"at {name}"
        )
        for path, why in sorted(snap.errors.items()):
            rules = gating_rules(path, other, cfg)
            severity = cfg.metrics.unreadable if rules else "warn"
            line = rules[0].line if rules else None
            what = "DVC cannot read the pipeline" if path == dvc.PIPELINE else f"cannot read {path}"
            findings.reasons.append(
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
            findings.reasons.append(
                Reason(
                    "params",
                    "warn",
                    f"cannot read {path} {where} (its params are left out): {why}",
                    kind="unreadable",
                )
            )
    for path in sorted(head.missing - set(head.errors)):
        hint = "; run `dvc repro`" if target.head_rev == dvc.WORKSPACE else ""
        findings.reasons.append(
            Reason(
                "metrics",
                "warn",
                f"{path} is declared in dvc.yaml but was not produced in {head_name}{hint}",
                kind="absent",
            )
        )
    if not base.has_project and not cfg.metrics.files:
        findings.notes.append(f"{target.base_ref} has no DVC project: nothing to compare with")
    elif not base.metrics and head.metrics and not base.errors:
        findings.notes.append(
            f"{target.base_ref} has no metrics: every metric is without a baseline"
        )
    if not head.has_project and not cfg.metrics.files:
        findings.notes.append(
            "no DVC project (.dvc/) and no metrics.files in the config: no metrics to compare"
        )
    metrics = compare.compare_metrics(
        base.metrics, head.metrics, base.metric_files, cfg.metrics, spreads
    )
    head_where = "in the work tree" if target.head_rev == dvc.WORKSPACE else f"at {head_name}"
    metrics = [_mark_unreadable(m, unreadable, f"at {base_name}", head_where, cfg) for m in metrics]
    params = compare.compare_params(base.params, head.params)
    findings.reasons[:0] = gate.metric_reasons(metrics, config_file)
    # files whose content neither revision gave (a rule may match them once they are read)
    unknown = (
        {*base.errors, *head.errors, *base.missing, *head.missing}
        - base.metric_files
        - head.metric_files
    )
    if dvc.PIPELINE in unknown:
        unknown = {"*"}
    names = [*head.metrics, *(n for n in base.metrics if n not in head.metrics)]
    where = f"at {base_name} or {'in ' if target.head_rev == dvc.WORKSPACE else 'at '}{head_name}"
    for rule, suggestion in compare.unmatched_rules(cfg.metrics.rules, names, unknown):
        findings.reasons.append(
            Reason(
                "metrics",
                "warn",
                compare.unmatched_text(rule, suggestion, where),
                kind="unmatched",
                file=config_file if rule.line else None,
                line=rule.line,
            )
        )
    return metrics, params


def history_step(target: Target, cfg: Config, findings: Findings) -> history.History:
    """The results recorded on the base's first-parent line (git notes), when any.

    Reads what the clone has; never fetches (CI fetches the notes before the check).
    An unreadable history is an empty one: ``auto`` limits then fall back, and say so.
    """
    from mlci.adapters.notes import NotesError

    try:
        return history.read(target.root, target.base_sha, cfg.history.depth)
    except NotesError as exc:
        findings.notes.append(f"the results history could not be read: {exc}")
        return history.History()


def _unreadable_plots(
    base: collect.Snapshot, head: collect.Snapshot, target: Target, base_name: str, head_name: str
) -> list[Reason]:
    """A plot file declared but unreadable (not merely absent) is a warning in every rendering.

    Without it, a base whose plot DVC could not load would show the head's
    curve as "new", as if the base had none.
    """
    out = []
    for side, snap, name in (("base", base, base_name), ("head", head, head_name)):
        where = (
            f"in {name}" if side == "head" and target.head_rev == dvc.WORKSPACE else f"at {name}"
        )
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


def gating_rules(path: str, other: collect.Snapshot, cfg: Config) -> list:
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
    m, unreadable: dict[str, dict[str, str]], base_where: str, head_where: str, cfg: Config
):
    """A metric whose file one revision could not read is "unreadable", not new or removed.

    Its row follows ``metrics.unreadable`` when a rule gates it; the file's own
    reason (above the table) says why, so the row does not repeat it.
    """
    import dataclasses

    path = m.name.split(":", 1)[0]
    sides = [
        where
        for side, where in (("base", base_where), ("head", head_where))
        if path in unreadable[side] or dvc.PIPELINE in unreadable[side]
    ]
    if not sides:
        return m
    gated = m.rule is not None and compare.rule_gates(m.rule)
    return dataclasses.replace(
        m,
        status="unreadable",
        delta=None,
        delta_pct=None,
        outcome=cfg.metrics.unreadable if gated else "info",
        message="unreadable " + " and ".join(sides),
    )


def repro_step(
    opts: CheckOptions,
    cfg: Config,
    target: Target,
    findings: Findings,
    env: Mapping[str, str],
    host: HostRun | None = None,
) -> Repro:
    """Reproduce the work tree first, when asked (``--repro``) or configured (``repro.enabled``)."""
    wanted = opts.repro if opts.repro is not None else cfg.repro.enabled
    if not wanted:
        why = "--no-repro" if opts.repro is False else "repro.enabled is false"
        return Repro(status="skipped", message=f"not reproduced ({why})")
    if target.head_rev != dvc.WORKSPACE:
        findings.notes.append(
            f"not reproduced: --head {target.head_ref} is a commit, and mlci "
            "reproduces only the work tree (nothing else is checked out)"
        )
        return Repro(
            status="skipped", message="--head names a commit; only the work tree is reproduced"
        )
    from mlci.engine import repro

    outcome = repro.reproduce(target.root, cfg.repro, env=env, host=host, verbose=opts.verbose)
    findings.reasons.extend(outcome.reasons)
    # `mlci repro` compares nothing: it must not say what metrics are compared from
    findings.notes.extend(
        n for n in outcome.notes if opts.compare or not n.startswith("metrics and params")
    )
    return outcome.repro


def not_reproduced(opts: CheckOptions, cfg: Config, target: Target) -> bool:
    """Reproduction was left out on purpose (--no-repro, repro.enabled: false, --head COMMIT)."""
    wanted = opts.repro if opts.repro is not None else cfg.repro.enabled
    return not wanted or target.head_rev != dvc.WORKSPACE


def lock_step(
    cfg: Config,
    target: Target,
    findings: Findings,
    progress: Progress,
    verbose: bool,
    *,
    explicit: bool = False,
) -> Repro | None:
    """Is ``dvc.lock`` up to date for the compared head (``dvc status`` of that commit)?

    Severity ``repro.require_committed_lock``. ``explicit`` (``--lock-status``)
    always says something; otherwise a head without ``dvc.lock`` (a pipeline
    never reproduced) leaves the result as it was (None).
    """
    from mlci.engine import lockstatus

    progress.step("Checking that dvc.lock is up to date")
    try:
        reasons, notes, message = lockstatus.check_lock(
            target.root,
            target.head_sha,
            target.head_rev == dvc.WORKSPACE,
            cfg.repro.require_committed_lock,
            verbose=verbose,
            only_if_locked=not explicit,
        )
    except dvc.DvcError as exc:
        if explicit:
            raise
        # fail closed: results that were not reproduced, with a lock nobody could check
        findings.reasons.append(
            Reason(
                "repro",
                cfg.repro.require_committed_lock,
                f"cannot tell whether dvc.lock is up to date: {exc}",
            )
        )
        return Repro(status="skipped", message="not reproduced; dvc.lock could not be checked")
    findings.reasons += reasons
    findings.notes += notes
    return Repro(status="skipped", message=message) if message else None


def _repro_only_target(
    opts: CheckOptions, cfg: Config, root: Path, event: EventRevisions | None
) -> Target:
    """``mlci repro`` needs no base: name it in the result when it resolves."""
    try:
        return resolve_target(opts, cfg, root, event=event)
    except RunError:
        if not git.has_commits(root) or opts.head:
            raise
    base_ref = (
        opts.base or (event.base_ref if event else None) or cfg.base or git.default_base(root)
    )
    return Target(
        root, base_ref, "", git.current_branch(root), git.resolve("HEAD", root), dvc.WORKSPACE
    )


def run_check(
    opts: CheckOptions,
    env: Mapping[str, str] | None = None,
    *,
    context: Context | None = None,
    event: EventRevisions | None = None,
    cfg: Config | None = None,
    progress: Progress | None = None,
    host: HostRun | None = None,
) -> tuple[Result, Config]:
    """Compute the result of ``opts``; ``host`` holds the code host's rules for this run
    (built by the forge from the environment; None: a local run)."""
    env = os.environ if env is None else env
    progress = progress or Progress()
    started = time.monotonic()
    found = project.find(opts.cwd)
    root = found.root
    if cfg is None:
        cfg = load(
            opts.config_path, root, explicit=opts.config_path is not None, project=found.label
        )
    findings = Findings()
    if opts.compare:
        target = choose_base(resolve_target(opts, cfg, root, event=event), cfg, findings)
    else:
        target = _repro_only_target(opts, cfg, root, event)

    if opts.lock_status:  # the pre-push hook: no reproduction, only "is dvc.lock up to date?"
        repro = lock_step(cfg, target, findings, progress, opts.verbose, explicit=True) or Repro(
            status="skipped"
        )
    else:
        # no spinner while stages run: their output streams to the terminal
        repro = repro_step(opts, cfg, target, findings, env, host)
        if opts.compare and repro.status == "skipped" and not_reproduced(opts, cfg, target):
            # results that were not reproduced here are only as fresh as dvc.lock says
            locked = lock_step(cfg, target, findings, progress, opts.verbose)
            if locked is not None:
                said = (locked.message or "").removeprefix("not reproduced; ")
                repro = Repro(status="skipped", message=f"{repro.message}; {said}")
    data: list[dict] = []
    metrics, params = [], []
    if opts.compare:
        if cfg.data:
            progress.step(f"Validating {len(cfg.data)} data file(s)")
        data = data_step(target, cfg, findings, opts.verbose)
        head_desc = (
            "the work tree" if target.head_rev == dvc.WORKSPACE else (target.head_ref or "head")
        )
        progress.step(
            f"Reading metrics, params{' and plots' if cfg.report.plots else ''} at "
            f"{target.base_ref} and {head_desc}"
        )
        recorded = history_step(target, cfg, findings)
        metrics, params = compare_step(
            target,
            cfg,
            findings,
            opts.verbose,
            spreads=history.spreads(
                recorded, cfg.history.min_points, history.branch_name(target.base_ref)
            ),
        )
        metrics = history.attach(metrics, recorded)
        if recorded.commits:
            metrics, flagged = history.flag_nondeterministic(
                metrics,
                recorded,
                history.head_inputs(target.root, target.head_sha, target.head_rev == dvc.WORKSPACE),
                None if target.head_rev == dvc.WORKSPACE else target.head_sha,
            )
            findings.notes.extend(flagged)
        environment_step(target, cfg, findings, opts.verbose)
        if not cfg.metrics.files and (folders := project.nested(root)):
            # projects below, none here: "nothing to compare" would be a pass the gate cannot give
            findings.reasons.append(Reason("config", "fail", project.nested_hint(folders)))
    progress.done()

    if context is None:
        context = Context(event="local")
    context = Context(
        repo=context.repo,
        event=context.event,
        pr=context.pr,
        base=Revision(target.base_ref, target.base_sha or None),
        head=Revision(target.head_ref, target.head_sha),
        run_url=context.run_url,
        head_uncommitted=(
            target.head_rev == dvc.WORKSPACE
            and context.event == "local"
            and git.has_uncommitted(root)
        ),
        compared=opts.compare,
    )
    reasons = gate.order(findings.reasons)
    result = Result(
        context=context,
        verdict=gate.verdict(reasons),
        reasons=tuple(reasons),
        repro=repro,
        data=tuple(data),
        metrics=tuple(metrics),
        params=tuple(params),
        plots=tuple(findings.plots),
        notes=tuple(findings.notes),
        duration_s=round(time.monotonic() - started, 2),
        environment=findings.environment,
    )
    if opts.commit:
        from mlci.engine import writeback

        result = writeback.to_current_branch(root, result, cfg)
    return result, cfg
