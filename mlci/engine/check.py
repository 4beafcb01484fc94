"""``mlci check``, ``mlci repro`` and ``mlci validate``: run a list of steps, then the gate.

A check is reproduction, the lock status, the data checks, the plots and the
metric comparison (:mod:`mlci.engine.step` has their one shape); ``mlci repro``
is the reproduction alone and ``mlci validate`` the data step alone. The gate
turns the steps' outcomes into the verdict. Nothing here renders or publishes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence

from mlci.adapters import git
from mlci.configfile import load
from mlci.engine import bounds, gate, project
from mlci.engine.progress import Progress
from mlci.engine.step import (
    CheckOptions,
    Run,
    Step,
    StepOutcome,
    Target,
    choose_base,
    repro_only_target,
    resolve_target,
)
from mlci.engine.validate import DataStep
from mlci.model.config import Config
from mlci.model.result import Context, EventRevisions, Repro, Result, Revision
from mlci.model.run import HostRun

__all__ = ["CheckOptions", "Target", "check_steps", "resolve_target", "run_check", "run_validate"]


def check_steps(opts: CheckOptions) -> list[Step]:
    """The steps of a check, in order; each sees the outcomes of those before it."""
    # imported here: `mlci validate` (the data step alone) does not load the others
    from mlci.engine.environment import EnvironmentStep
    from mlci.engine.lockstatus import LockStep
    from mlci.engine.metrics import MetricsStep, NestedProjectsStep, PlotsStep
    from mlci.engine.repro import ReproStep

    steps: list[Step]
    if opts.lock_status:  # the pre-push hook: no reproduction, only "is dvc.lock up to date?"
        steps = [LockStep(explicit=True)]
    else:
        # the lock status after reproduction: results not reproduced are as fresh as dvc.lock
        steps = [ReproStep(), LockStep()] if opts.compare else [ReproStep()]
    if opts.compare:
        steps += [DataStep(), PlotsStep(), MetricsStep(), EnvironmentStep(), NestedProjectsStep()]
    return steps


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
    from mlci.adapters import dvc

    started = time.monotonic()
    found = project.find(opts.cwd)
    if cfg is None:
        cfg = load(
            opts.config_path, found.root, explicit=opts.config_path is not None, project=found.label
        )
    said: tuple[str, ...] = ()
    # one DVC Repo for the lock status, the fetch check and the reading (opened when first
    # asked), whichever command runs the check: check, ci, deploy, card or the hook
    with dvc.reused_repos():
        if opts.compare:
            target, said = choose_base(resolve_target(opts, cfg, found.root, event=event), cfg)
            said = target.said + said
        else:
            target = repro_only_target(opts, cfg, found.root, event)
        env = os.environ if env is None else env
        run = Run(opts, cfg, target, env, progress or Progress(), host)
        run.outcomes.append(StepOutcome(notes=said))  # which base, before what the steps say
        result = _result(run, check_steps(opts), context, started, whole_check=True)
    if opts.commit:
        from mlci.engine import writeback

        result = writeback.to_current_branch(found.root, result, cfg)
    return result, cfg


def run_validate(
    opts: CheckOptions,
    env: Mapping[str, str] | None = None,
    *,
    context: Context | None = None,
    event: EventRevisions | None = None,
) -> tuple[Result, Config]:
    """``mlci validate``: the data step alone, same options and result format as ``check``."""
    started = time.monotonic()
    found = project.find(opts.cwd)
    cfg = load(
        opts.config_path, found.root, explicit=opts.config_path is not None, project=found.label
    )
    target = resolve_target(opts, cfg, found.root, event=event)
    run = Run(opts, cfg, target, os.environ if env is None else env)
    steps: list[Step] = [DataStep(say_when_empty=True)]
    return _result(run, steps, context, started, whole_check=False), cfg


def _result(
    run: Run,
    steps: Sequence[Step],
    context: Context | None,
    started: float,
    *,
    whole_check: bool,
) -> Result:
    """Run ``steps`` in order, then the gate; ``whole_check``: say whether the head is uncommitted."""
    for step in steps:
        run.outcomes.append(step.run(run))
    run.progress.done()
    outcomes = run.outcomes
    metrics = tuple(m for o in outcomes for m in o.metrics)
    config_file = run.cfg.repo_path(git.repo_root(run.root)) if metrics else None
    reasons = gate.judge(metrics, (r for o in outcomes for r in o.reasons), config_file)
    result = Result(
        context=_context(context, run.target, whole_check=whole_check, compared=run.opts.compare),
        verdict=gate.verdict(reasons),
        reasons=tuple(reasons),
        repro=run.repro or Repro(),
        data=tuple(d for o in outcomes for d in o.data),
        metrics=metrics,
        params=tuple(p for o in outcomes for p in o.params),
        plots=tuple(p for o in outcomes for p in o.plots),
        notes=tuple(n for o in outcomes for n in o.notes),
        duration_s=round(time.monotonic() - started, 2),
        environment=next((o.environment for o in outcomes if o.environment is not None), None),
    )
    return bounds.bound(result)  # judged in full; rendered within limits


def _context(
    given: Context | None, target: Target, *, whole_check: bool, compared: bool
) -> Context:
    """The run's context (repo, event, PR) with the revisions this check resolved."""
    given = given or Context(event="local")
    return Context(
        repo=given.repo,
        event=given.event,
        pr=given.pr,
        base=Revision(target.base_ref, target.base_sha or None),
        head=Revision(target.head_ref, target.head_sha),
        run_url=given.run_url,
        head_uncommitted=(
            whole_check
            and target.head_is_worktree
            and given.event == "local"
            and git.has_uncommitted(target.root)
        ),
        compared=compared,
    )
