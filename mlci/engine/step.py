"""The one shape of a check's steps: a :class:`Step` runs on a :class:`Run` and returns a
:class:`StepOutcome`.

Reproduction, the lock status, the data checks, the plots and the metric comparison are each
a step; ``mlci check`` runs a list of them and the gate (:func:`mlci.engine.gate.judge`) turns
their outcomes into the verdict. A step sees the options, the config, the two revisions and
the outcomes of the steps before it; it adds to the result only through its outcome.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mlci.adapters import dvc, git
from mlci.engine.progress import Progress
from mlci.model.config import Config
from mlci.model.data import DataEntry
from mlci.model.errors import RunError
from mlci.model.result import (
    Environment,
    EventRevisions,
    MetricDelta,
    ParamDelta,
    Plot,
    Reason,
    Repro,
)
from mlci.model.run import HostRun

if TYPE_CHECKING:
    from mlci.engine.collect import Snapshot


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
    said: tuple[str, ...] = ()  # how the revisions were found, when it needs saying

    @property
    def head_is_worktree(self) -> bool:
        return self.head_rev == dvc.WORKSPACE

    @property
    def head_name(self) -> str:
        """How messages name the head: ``the work tree``, or its ref."""
        return "the work tree" if self.head_is_worktree else (self.head_ref or "head")


def resolve_target(
    opts: CheckOptions, cfg: Config, root: Path, *, event: EventRevisions | None = None
) -> Target:
    """The base, first found of: --base, the event's base, ``base:`` in config, the default branch."""
    checked_out = git.resolve("HEAD", root)
    if checked_out is None:
        raise RunError("the repository has no commits yet: commit a baseline first")
    event = event or EventRevisions()
    if opts.base:
        base_ref = opts.base
    elif event.base_sha:
        base_ref = event.base_sha
    else:
        base_ref = cfg.base or git.default_base(root)
    base_sha = git.resolve(base_ref, root)
    said: tuple[str, ...] = ()
    if base_sha is None and (on_remote := git.resolve_on_remotes(base_ref, root)):
        # a CI clone or `git clone -b feature` has origin/main but no main: DVC takes it
        said = (
            f"no local branch '{base_ref}': compared with {on_remote[0]}, as DVC resolves "
            f"'{base_ref}'",
        )
        base_ref, base_sha = on_remote
    if base_sha is None:
        hint = " (pass --base REF, or set base: in mlci.yaml)" if not opts.base else ""
        raise RunError(f"unknown base revision '{base_ref}'{hint}")
    if not opts.base and event.base_sha and event.base_ref:
        base_ref = event.base_ref  # show "main", not a sha
    if opts.head:
        head_sha = git.resolve(opts.head, root)
        if head_sha is None:
            raise RunError(f"unknown head revision '{opts.head}'")
        return Target(root, base_ref, base_sha, opts.head, head_sha, head_sha, said)
    if event.head_sha:  # in CI the work tree is the event's head (or GitHub's merge commit for it)
        return Target(root, base_ref, base_sha, event.head_ref, event.head_sha, dvc.WORKSPACE, said)
    return Target(
        root,
        base_ref,
        base_sha,
        git.current_branch(root),
        checked_out,
        dvc.WORKSPACE,
        said,
    )


def choose_base(target: Target, cfg: Config) -> tuple[Target, tuple[str, ...]]:
    """``base_mode``: compare with the base's tip or with the merge-base; say when they differ."""
    if not target.head_sha:
        return target, ()
    merge_base = git.merge_base(target.base_sha, target.head_sha, target.root)
    if merge_base is None or merge_base == target.base_sha:
        return target, ()
    moved = git.count_commits(merge_base, target.base_sha, target.root)
    if not moved:  # the head is behind the base (or git cannot tell): nothing moved under it
        return target, ()
    name = target.base_ref
    since = f"{name} moved {moved} commit{'s' if moved != 1 else ''} since this branch"
    if cfg.base_mode == "merge-base":
        said = (
            f"{since}: compared with the merge-base {merge_base[:7]}, not {name}'s tip "
            f"{target.base_sha[:7]} (base_mode: merge-base)"
        )
        return dataclasses.replace(target, base_sha=merge_base), (said,)
    said = (
        f"{since} (merge-base {merge_base[:7]}): compared with {name}'s tip "
        f"{target.base_sha[:7]}, so its changes since count too (base_mode: tip)"
    )
    return target, (said,)


def repro_only_target(
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


@dataclass(frozen=True)
class StepOutcome:
    """What one step adds to the result: findings for the gate, and its section's rows.

    ``repro``, when set, is the result's repro section as this step leaves it (a later
    step may restate it: the lock status adds to "not reproduced").
    """

    reasons: tuple[Reason, ...] = ()
    notes: tuple[str, ...] = ()
    repro: Repro | None = None
    data: tuple[DataEntry, ...] = ()
    metrics: tuple[MetricDelta, ...] = ()
    params: tuple[ParamDelta, ...] = ()
    plots: tuple[Plot, ...] = ()
    environment: Environment | None = None


@dataclass
class Findings:
    """A step's reasons and notes while it works; :meth:`outcome` freezes them."""

    reasons: list[Reason] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def outcome(self, **sections: Any) -> StepOutcome:
        return StepOutcome(tuple(self.reasons), tuple(self.notes), **sections)


@dataclass
class Run:
    """One check in progress: its inputs, and the outcomes of the steps run so far."""

    opts: CheckOptions
    cfg: Config
    target: Target
    env: Mapping[str, str]
    progress: Progress = field(default_factory=Progress)
    host: HostRun | None = None  # the code host's rules for this run (None: a local run)
    outcomes: list[StepOutcome] = field(default_factory=list)
    _snapshots: tuple[dict[str, Snapshot], str | None] | None = None

    @property
    def root(self) -> Path:
        return self.target.root

    @property
    def verbose(self) -> bool:
        return self.opts.verbose

    @property
    def repro_wanted(self) -> bool:
        """Whether reproduction is asked for (``--repro``/``--no-repro``, else ``repro.enabled``)."""
        return self.opts.repro if self.opts.repro is not None else self.cfg.repro.enabled

    @property
    def repro(self) -> Repro | None:
        """The repro section as the steps so far left it (None: no step said anything)."""
        return next((o.repro for o in reversed(self.outcomes) if o.repro is not None), None)

    def snapshots(self) -> tuple[dict[str, Snapshot], str | None]:
        """Metrics, params and plots of the base and the head, read once for every step.

        Also what fetching them from the DVC remote did, as a note (None: nothing fetched).
        """
        if self._snapshots is None:
            from mlci.engine import collect

            target, cfg = self.target, self.cfg
            self.progress.step(
                f"Reading metrics, params{' and plots' if cfg.report.plots else ''} at "
                f"{target.base_ref} and {target.head_name}"
            )
            revs = [target.base_sha, target.head_rev]
            fetched = dvc.fetch_for_reading(target.root, revs, verbose=self.verbose)
            snaps = collect.collect(
                target.root,
                revs,
                cfg.metrics.files,
                verbose=self.verbose,
                plots=cfg.report.plots,
                extra_plots=cfg.metrics.plots,
            )
            self._snapshots = (snaps, fetched or None)
        return self._snapshots


class Step(Protocol):
    """A part of a check: reads the run, returns what it found; never renders or publishes."""

    def run(self, run: Run) -> StepOutcome: ...
