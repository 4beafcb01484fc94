"""``check --lock-status``: is ``dvc.lock`` up to date, as ``dvc status`` would say?

The fast alternative to reproducing (used by the pre-push hook): instead of
running the pipeline, ask DVC whether any stage's deps, params, outs or
command differ from what ``dvc.lock`` records. If one does, the committed
results do not come from the committed code, so the report says "run
``dvc repro``" with the severity of ``repro.require_committed_lock`` (the same
rule a reproducing run applies when reproduction changes ``dvc.lock``).

The head that is compared is the one checked: the work tree, or a commit
(the pre-push hook's pushed commit, ``--head``). A commit that is not what is
checked out is read from git with DVC's brancher, never judged by the work tree.
Without ``--lock-status``, every check that does not reproduce runs this check
too (``only_if_locked``: a pipeline never reproduced has no lock to be stale).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from mlci.adapters import dvc, git
from mlci.engine.step import Run, StepOutcome
from mlci.model.result import Reason, Repro

# what `dvc status` reports that says nothing about dvc.lock being stale: outputs that
# are simply not in this work tree (never pulled or checked out), and stages that DVC
# always re-runs
_ABSENT = ("deleted", "not in cache")


def _produced(path: str, outputs: tuple[str, ...]) -> bool:
    return any(path == out or path.startswith(out.rstrip("/") + "/") for out in outputs)


def stale(status: dvc.PipelineStatus) -> tuple[dict[str, list[Any]], list[str]]:
    """The changes that mean "dvc.lock is out of date", and the outputs missing from the tree.

    Kept: changed code, params or data (deps that exist), a changed stage
    definition, outputs that differ from the lock. Set aside: outputs and
    pipeline-produced deps that are absent, which ``dvc pull``/``dvc checkout``
    restore, and ``always_changed`` stages.
    """
    kept: dict[str, list[Any]] = {}
    missing: list[str] = []
    for stage, changes in status.changes.items():
        for change in changes:
            if change == "always changed":
                continue
            if isinstance(change, str):
                kept.setdefault(stage, []).append(change)
                continue
            for kind, entries in change.items():
                left = {}
                for path, state in entries.items():
                    absent = state in _ABSENT and (
                        kind == "changed outs" or _produced(path, status.outputs)
                    )
                    if absent:
                        missing.append(path)
                    else:
                        left[path] = state
                if left:
                    kept.setdefault(stage, []).append({kind: left})
    return kept, list(dict.fromkeys(missing))


def describe(status: dict[str, Any], limit: int = 4) -> str:
    """``{"train": [{"changed deps": {"params.yaml": {"train.C": "modified"}}}]}`` as one line."""
    parts = []
    for stage, changes in status.items():
        what = []
        for change in changes:
            if isinstance(change, str):
                what.append(change)
                continue
            for kind, entries in change.items():
                items = []
                for path, state in entries.items():
                    if isinstance(state, dict):  # params: {param: state}
                        state = ", ".join(f"{k} {v}" for k, v in state.items())
                    items.append(f"{path} {state}")
                what.append(f"{kind}: {'; '.join(items)}")
        parts.append(f"{stage} ({', '.join(what)})")
    more = f" and {len(parts) - limit} more" if len(parts) > limit else ""
    return ", ".join(parts[:limit]) + more


def _has_lock(root: Any, rev: str | None) -> bool:
    """Whether ``dvc.lock`` exists in the work tree (``rev`` None) or at commit ``rev``."""
    if rev is None:
        return (root / "dvc.lock").is_file()
    # "./": relative to the project's folder, which may be a subfolder of the repository
    return git.show_file(rev, "./dvc.lock", root) is not None


def check_lock(
    root: Any,
    head_sha: str | None,
    head_is_worktree: bool,
    severity: str,
    *,
    verbose: bool = False,
    only_if_locked: bool = False,
) -> StepOutcome:
    """Reasons, notes and the repro section (``skipped``, with a one-line summary).

    The compared head is what is checked: the work tree when it is the head,
    else the commit ``head_sha``. A commit that is checked out with a clean
    work tree is asked about in the work tree (DVC can then hash the data
    too); any other commit is asked about as committed, from git.
    ``only_if_locked`` (the default check of ``--no-repro``): a project whose
    head has no ``dvc.lock`` at all was never reproduced, so nothing can be
    stale; the repro section is then None and nothing is said.
    """
    if severity == "off":
        return _said("dvc.lock not checked (repro.require_committed_lock: off)")
    if not dvc.is_dvc_repo(root):
        return _said("no DVC project: no dvc.lock to check")
    # the work tree needs no commit resolved (a check without --head: one git process less)
    checked_out = None if head_is_worktree else git.resolve("HEAD", root)
    if head_is_worktree or (head_sha == checked_out and not git.has_uncommitted(root)):
        rev = None
    elif head_sha is None:
        return _said(
            "dvc.lock not checked", notes=("dvc.lock was not checked: the head is not a commit",)
        )
    else:
        rev = head_sha
    if only_if_locked and not _has_lock(root, rev):
        return StepOutcome()
    changes, missing = stale(dvc.pipeline_status(root, rev, verbose=verbose))
    notes = []
    if rev is not None:
        why = (
            "not the commit checked out"
            if rev != checked_out
            else "checked out with uncommitted changes"
        )
        notes.append(
            f"dvc.lock was checked at {rev[:7]} as committed ({why}): code and params "
            "from git, data by the hashes DVC records, not the work tree"
        )
    if missing:
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        notes.append(
            f"pipeline outputs not in the work tree ({shown}) were not counted against "
            "dvc.lock; `dvc pull` or `dvc checkout` restores them"
        )
    if not changes:
        return _said("not reproduced; dvc.lock is up to date (dvc status)", notes=tuple(notes))
    message = (
        f"dvc.lock is not up to date: {describe(changes)}; the committed metrics are from "
        "before this change: run `dvc repro` and commit dvc.lock with its results"
    )
    return _said(
        "not reproduced; dvc.lock is not up to date",
        reasons=(Reason("repro", severity, message),),
        notes=tuple(notes),
    )


def _said(message: str, **found: Any) -> StepOutcome:
    return StepOutcome(repro=Repro(status="skipped", message=message), **found)


class LockStep:
    """Is ``dvc.lock`` up to date for the compared head (``dvc status`` of that commit)?

    Severity ``repro.require_committed_lock``. ``explicit`` (``--lock-status``, the
    pre-push hook: no reproduction) always says something. Otherwise the step runs
    when the results were not reproduced on purpose (``--no-repro``,
    ``repro.enabled: false``, ``--head COMMIT``): they are only as fresh as
    ``dvc.lock`` says; a head without ``dvc.lock`` (a pipeline never reproduced)
    leaves the result as it was.
    """

    def __init__(self, *, explicit: bool = False) -> None:
        self.explicit = explicit

    def run(self, run: Run) -> StepOutcome:
        before = run.repro
        if not self.explicit:
            left_out = not run.repro_wanted or not run.target.head_is_worktree
            if not (before is not None and before.status == "skipped" and left_out):
                return StepOutcome()
        run.progress.step("Checking that dvc.lock is up to date")
        severity = run.cfg.repro.require_committed_lock
        try:
            outcome = check_lock(
                run.root,
                run.target.head_sha,
                run.target.head_is_worktree,
                severity,
                verbose=run.verbose,
                only_if_locked=not self.explicit,
            )
        except dvc.DvcError as exc:
            if self.explicit:
                raise
            # fail closed: results that were not reproduced, with a lock nobody could check
            outcome = _said(
                "not reproduced; dvc.lock could not be checked",
                reasons=(
                    Reason("repro", severity, f"cannot tell whether dvc.lock is up to date: {exc}"),
                ),
            )
        if self.explicit:
            return outcome if outcome.repro else dataclasses.replace(outcome, repro=Repro())
        if outcome.repro is None or before is None:
            return outcome
        said = (outcome.repro.message or "").removeprefix("not reproduced; ")
        return dataclasses.replace(
            outcome, repro=Repro(status="skipped", message=f"{before.message}; {said}")
        )
