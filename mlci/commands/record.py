"""Recording a result in the repository's history (git notes under ``refs/notes/mlci``).

``mlci check --record`` writes the note locally; ``mlci ci`` on a push to the
default branch and ``mlci deploy`` also push it to origin (see
:func:`record_and_push`), merging notes that another run pushed meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlci.adapters import notes
from mlci.engine import history
from mlci.model.errors import RunError
from mlci.model.result import Result


def record(result: Result, root: Path, *, worktree: bool) -> str:
    """Write the note on the result's head commit; RunError (exit 3) saying why it cannot."""
    return history.record(result, root, worktree=worktree)


def record_and_push(
    result: Result,
    root: Path,
    *,
    worktree: bool,
    info: Callable[[str], None],
    remote: str = "origin",
) -> bool:
    """Record and push the notes; a refusal or a failed push is said, never raised.

    History is a by-product of a run on the default branch: losing one note must
    not turn a passing job red.
    """
    try:
        sha = history.record(result, root, worktree=worktree)
    except RunError as exc:
        info(f"mlci: the result is {exc}")
        return False
    try:
        attempts = notes.push(root, remote)
    except RunError as exc:
        info(f"mlci: recorded on {sha[:7]} but could not push {notes.REF}: {exc}")
        return False
    merged = f" (merged another run's notes, {attempts} attempts)" if attempts > 1 else ""
    info(f"mlci: recorded the result on {sha[:7]} and pushed {notes.REF} to {remote}{merged}")
    return True
