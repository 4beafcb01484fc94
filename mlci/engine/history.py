"""Results history: what earlier runs recorded on the base branch, and what it says.

Runs on the default branch record their result as a git note on the commit
they checked (:mod:`mlci.adapters.notes`). A check reads the notes of the
last ``history.depth`` first-parent commits of the base and gives each metric
its ``history`` (``[{sha, value}]``, oldest first). From that history come the
noise-aware limits (``max_regression: auto``) and the nondeterminism flag.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.adapters import git, notes
from mlci.model.fmt import is_number
from mlci.model.result import MetricDelta, Result

# plot data is left out of a note: it is large, and the commit's own files hold it
_NOT_RECORDED = ("plots",)


@dataclass(frozen=True)
class Recorded:
    """One commit's recorded result, as far as history needs it."""

    sha: str
    values: dict[str, float]  # numeric metric values at that commit
    # the same commit recorded more than once with other values (merged notes of two runs)
    others: dict[str, float] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)  # metrics file -> its stage's inputs


@dataclass(frozen=True)
class History:
    """The recorded commits of the base's first-parent line, oldest first."""

    commits: tuple[Recorded, ...] = ()
    read: int = 0  # commits looked at (recorded or not)

    def series(self, name: str) -> list[dict[str, Any]]:
        return [{"sha": c.sha, "value": c.values[name]} for c in self.commits if name in c.values]


def read(root: Path, rev: str, depth: int) -> History:
    """The notes of the last ``depth`` first-parent commits from ``rev`` (one git process)."""
    found = notes.first_parent_notes(root, rev, depth)
    commits = []
    for note in reversed(found):  # git lists newest first; history is oldest first
        if not note.text:
            continue
        recorded = parse_note(note.sha, note.text)
        if recorded is not None:
            commits.append(recorded)
    return History(tuple(commits), len(found))


def parse_note(sha: str, text: str) -> Recorded | None:
    """A note's result lines (several after two runs' notes were merged) as one record.

    A line that is not a result for this commit (hand-written, another tool's, a
    copied note) is skipped: history never guesses.
    """
    values: dict[str, float] = {}
    others: dict[str, float] = {}
    inputs: dict[str, str] = {}
    usable = False
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if not isinstance(doc, dict) or _head_sha(doc) != sha:
            continue
        usable = True
        for m in doc.get("metrics") or ():
            if not isinstance(m, dict) or not isinstance(m.get("name"), str):
                continue
            value = m.get("head")
            if not is_number(value) or not math.isfinite(float(value)):  # type: ignore[arg-type]
                continue
            name = m["name"]
            number = float(value)  # type: ignore[arg-type]
            if name not in values:
                values[name] = number
            elif values[name] != number:
                others.setdefault(name, number)
        got = doc.get("inputs")
        if isinstance(got, dict):
            inputs.update({str(k): str(v) for k, v in got.items()})
    return Recorded(sha, values, others, inputs) if usable else None


def _head_sha(doc: dict[str, Any]) -> str | None:
    head = (doc.get("context") or {}).get("head") or {}
    sha = head.get("sha") if isinstance(head, dict) else None
    return sha if isinstance(sha, str) else None


def attach(metrics: Iterable[MetricDelta], history: History) -> list[MetricDelta]:
    """Each metric with its recorded values (``history``), when the base has any."""
    out = []
    for m in metrics:
        series = history.series(m.name)
        out.append(dataclasses.replace(m, history=tuple(series)) if series else m)
    return out


# --- noise: what max_regression: auto allows -------------------------------------------

# 1.4826 x the median absolute deviation estimates a normal distribution's sigma; the changes
# between consecutive commits carry the noise of two runs, hence the further sqrt(2)
_MAD_TO_SIGMA = 1.4826
_DIFF_TO_ONE = math.sqrt(2.0)


@dataclass(frozen=True)
class Spread:
    """A metric's run-to-run noise as recorded on the base branch.

    ``sigma`` is None when fewer than ``needed`` values were recorded: an
    ``auto`` limit then falls back and says so.
    """

    sigma: float | None
    points: int
    needed: int
    branch: str  # the base branch's name, for "3 sigma of 20 main commits"


def robust_sigma(values: list[float]) -> float:
    """The noise of a series: 1.4826 x the MAD of its consecutive changes, divided by sqrt(2).

    Changes between consecutive commits rather than the values themselves: a
    real improvement that landed once shifts every later value, and would
    widen a spread of the values; it is only one change among the changes,
    which the median ignores.
    """
    if len(values) < 2:
        return 0.0
    changes = [b - a for a, b in zip(values, values[1:], strict=False)]
    centre = _median(changes)
    mad = _median([abs(c - centre) for c in changes])
    return _MAD_TO_SIGMA * mad / _DIFF_TO_ONE


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0


def spreads(history: History, min_points: int, branch: str) -> dict[str, Spread]:
    """Each recorded metric's :class:`Spread`."""
    names: dict[str, list[float]] = {}
    for commit in history.commits:
        for name, value in commit.values.items():
            names.setdefault(name, []).append(value)
    return {
        name: Spread(
            robust_sigma(values) if len(values) >= min_points else None,
            len(values),
            min_points,
            branch,
        )
        for name, values in names.items()
    }


def branch_name(ref: str | None) -> str:
    """``origin/main`` and a push's ``main@before`` are the main branch's commits."""
    name = (ref or "base").removesuffix("@before")
    for prefix in ("refs/heads/", "refs/remotes/", "origin/"):
        name = name.removeprefix(prefix)
    return name


# --- recording ----------------------------------------------------------------------


def note_text(result: Result, inputs: dict[str, str] | None = None) -> str:
    """The note for ``result``'s head commit: its JSON on one line, without plots or history."""
    doc = result.to_dict()
    for key in _NOT_RECORDED:
        doc.pop(key, None)
    for m in doc.get("metrics") or ():
        m.pop("history", None)  # each note holds its own value; history is the notes together
    if inputs:
        doc["inputs"] = inputs
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=True, sort_keys=True)


def refusal(result: Result, root: Path, *, worktree: bool) -> str | None:
    """Why ``result`` cannot be recorded as its head commit's, or None when it can.

    A note says "this commit gives these values": only true when the compared
    tree is that commit's. ``worktree``: the head compared was the work tree
    (rather than a commit read from git).
    """
    head = result.context.head.sha
    if not head:
        return "the head is not a commit"
    if not result.context.compared:
        return "nothing was compared (mlci repro): there is no result to record"
    if worktree:
        if git.resolve("HEAD", root) != head:
            return f"the work tree is not commit {head[:7]}"
        if git.has_uncommitted(root):
            return (
                "the work tree has uncommitted changes: its results are not commit "
                f"{head[:7]}'s (commit them, or pass --head)"
            )
    if result.repro.status == "failed":
        return "the pipeline failed: there are no results to record"
    if result.repro.lock_changed:
        return (
            "reproducing changed dvc.lock: the results are not what commit "
            f"{head[:7]} records (commit dvc.lock and its outputs first)"
        )
    message = result.repro.message or ""
    if result.repro.status == "skipped" and (
        "not up to date" in message or "not checked" in message or "could not be checked" in message
    ):
        return (
            f"the results were not reproduced and dvc.lock is not known to be up to date "
            f"({message})"
        )
    return None


def record(result: Result, root: Path, *, worktree: bool) -> str:
    """Write ``result`` as the note of its head commit; the sha noted. RunError with the reason."""
    from mlci.model.errors import RunError

    why = refusal(result, root, worktree=worktree)
    if why:
        raise RunError(f"not recorded: {why}")
    sha = result.context.head.sha
    assert sha is not None
    notes.write(root, sha, note_text(result))
    return sha
