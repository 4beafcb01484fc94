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

from mlci import collect, compare, dvc, gate, git, plots
from mlci.config import Config, load
from mlci.errors import RunError
from mlci.progress import Progress
from mlci.result import Context, Plot, Reason, Repro, Result, Revision


@dataclass(frozen=True)
class CheckOptions:
    cwd: Path = field(default_factory=Path.cwd)
    config_path: str | None = None
    base: str | None = None
    head: str | None = None  # None: the work tree
    repro: bool | None = None  # None: as the config says
    verbose: bool = False


@dataclass(frozen=True)
class Target:
    """The two revisions being compared, resolved."""

    root: Path
    base_ref: str
    base_sha: str
    head_ref: str | None
    head_sha: str | None
    head_rev: str  # a sha, or dvc.WORKSPACE


@dataclass(frozen=True)
class EventRevs:
    """Revisions named by a CI event (PR base and head, a push's before), for display and default."""

    base_sha: str | None = None
    base_ref: str | None = None
    head_sha: str | None = None
    head_ref: str | None = None


def resolve_target(opts: CheckOptions, cfg: Config, root: Path, *, event: EventRevs | None = None) -> Target:
    """Base per SPEC: --base, the event's base, ``base:`` in config, the default branch."""
    if not git.has_commits(root):
        raise RunError("the repository has no commits yet: commit a baseline first")
    event = event or EventRevs()
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
    return Target(root, base_ref, base_sha, git.current_branch(root), git.resolve("HEAD", root),
                  dvc.WORKSPACE)


@dataclass
class Findings:
    """What the steps found, before the gate: reasons and notes in order."""

    reasons: list[Reason] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)


def _not_yet(cfg: Config, findings: Findings) -> None:
    """Sections of SPEC that this version accepts but does not act on yet."""
    if cfg.data:
        findings.notes.append(
            f"{len(cfg.data)} data check(s) configured; data validation is not part of this "
            "mlci version yet, so they were not run"
        )


def compare_step(target: Target, cfg: Config, findings: Findings, verbose: bool):
    revs = [target.base_sha, target.head_rev]
    snaps = collect.collect(target.root, revs, cfg.metrics.files, verbose=verbose,
                            plots=cfg.report.plots, extra_plots=cfg.metrics.plots)
    base, head = snaps[target.base_sha], snaps[target.head_rev]
    head_name = "the work tree" if target.head_rev == dvc.WORKSPACE else (target.head_ref or "head")
    if cfg.report.plots:
        findings.plots = plots.build(base.plots, head.plots, head_name=head_name)
    for path, msg in sorted(head.errors.items()):
        findings.reasons.append(Reason("metrics", "warn", f"cannot read {path} in {head_name}: {msg}"))
    for path in sorted(head.missing):
        hint = "; run `dvc repro`" if target.head_rev == dvc.WORKSPACE else ""
        findings.reasons.append(Reason("metrics", "warn", f"{path} does not exist in {head_name}{hint}"))
    for path, msg in sorted(base.errors.items()):
        findings.notes.append(f"cannot read {path} at {target.base_ref}: {msg}")
    if not base.has_project and not cfg.metrics.files:
        findings.notes.append(f"{target.base_ref} has no DVC project: nothing to compare with")
    elif not base.metrics and head.metrics:
        findings.notes.append(f"{target.base_ref} has no metrics: every metric is without a baseline")
    if not head.has_project and not cfg.metrics.files:
        findings.notes.append("no DVC project (.dvc/) and no metrics.files in the config: no metrics to compare")
    metrics = compare.compare_metrics(base.metrics, head.metrics, base.metric_files, cfg.metrics)
    params = compare.compare_params(base.params, head.params)
    config_file = None
    if cfg.path:
        config_file = Path(os.path.relpath(Path.cwd() / cfg.path, target.root)).as_posix()
    findings.reasons[:0] = gate.metric_reasons(metrics, config_file)
    return metrics, params


def run_check(opts: CheckOptions, env: Mapping[str, str] | None = None,
              *, context: Context | None = None, event: EventRevs | None = None,
              cfg: Config | None = None, progress: Progress | None = None) -> tuple[Result, Config]:
    env = os.environ if env is None else env
    progress = progress or Progress()
    started = time.monotonic()
    root = git.repo_root(opts.cwd)
    if cfg is None:
        cfg = load(opts.config_path, root, explicit=opts.config_path is not None)
    target = resolve_target(opts, cfg, root, event=event)
    findings = Findings()

    repro = Repro(status="skipped", message="reproduction is not part of this mlci version yet")
    if opts.repro is None and cfg.repro.enabled or opts.repro:
        findings.notes.append("results were not reproduced (reproduction is not part of this mlci version yet)")
    _not_yet(cfg, findings)
    head_desc = "the work tree" if target.head_rev == dvc.WORKSPACE else (target.head_ref or "head")
    progress.step(f"Reading metrics, params{' and plots' if cfg.report.plots else ''} at "
                  f"{target.base_ref} and {head_desc}")
    metrics, params = compare_step(target, cfg, findings, opts.verbose)
    progress.done()

    if context is None:
        context = Context(event="local")
    context = Context(
        repo=context.repo, event=context.event, pr=context.pr,
        base=Revision(target.base_ref, target.base_sha),
        head=Revision(target.head_ref, target.head_sha),
        run_url=context.run_url,
    )
    reasons = gate.order(findings.reasons)
    result = Result(
        context=context,
        verdict=gate.verdict(reasons),
        reasons=tuple(reasons),
        repro=repro,
        metrics=tuple(metrics),
        params=tuple(params),
        plots=tuple(findings.plots),
        notes=tuple(findings.notes),
        duration_s=round(time.monotonic() - started, 2),
    )
    return result, cfg
