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
            if not is_number(value) or not math.isfinite(float(value)):
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
    """The noise of a series: 1.4826 x the median absolute change between consecutive
    values, divided by sqrt(2).

    Changes between consecutive commits rather than the values themselves: a
    real improvement that landed once shifts every later value, and would
    widen a spread of the values; it is only one change among the changes,
    which the median ignores. The deviation is taken from 0, the change two runs
    of one process have on average, not from the median change: a metric that
    flips between two values (a small test set, a nondeterministic stage) has
    changes of +d and -d, whose median is one of them, and deviations from it
    that are mostly 0 — an allowance of 0 for a metric that visibly moves by d.
    """
    if len(values) < 2:
        return 0.0
    changes = [abs(b - a) for a, b in zip(values, values[1:], strict=False)]
    return _MAD_TO_SIGMA * _median(changes) / _DIFF_TO_ONE


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0


def spreads(history: History, min_points: int, branch: str) -> dict[str, Spread]:
    """Each recorded metric's :class:`Spread`.

    A value recorded again on the next commit with the same inputs for its stage
    (the digests of :func:`lock_inputs`) is the same run's output carried forward:
    DVC did not re-run the stage (a docs-only commit). It is no new sample of the
    noise, and counting it would put the estimate at 0 whenever most commits on
    main leave the model alone.
    """
    names: dict[str, list[float]] = {}
    last: dict[str, tuple[float, str | None]] = {}
    for commit in history.commits:
        for name, value in commit.values.items():
            digest = commit.inputs.get(name.split(":", 1)[0])
            before = last.get(name)
            last[name] = (value, digest)
            if before is not None and digest is not None and before == (value, digest):
                continue
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


def base_spreads(
    root: Path, base_sha: str | None, depth: int, min_points: int, ref: str | None
) -> dict[str, Spread]:
    """:func:`spreads` of the history recorded on ``base_sha``'s first-parent line.

    ``mlci deploy`` holds the candidate to the champion with the same ``auto``
    numbers as its gate: the noise recorded on the gate's base branch. Without a
    readable history every ``auto`` limit falls back (or allows no regression).
    """
    if not base_sha:
        return {}
    try:
        found = read(root, base_sha, depth)
    except notes.NotesError:
        return {}
    return spreads(found, min_points, branch_name(ref))


def branch_name(ref: str | None) -> str:
    """``origin/main`` and a push's ``main@before`` are the main branch's commits; a base
    given as a full sha is named by its short one ("3 sigma of 8 1a2b3c4 commits")."""
    name = (ref or "base").removesuffix("@before")
    for prefix in ("refs/heads/", "refs/remotes/", "origin/"):
        name = name.removeprefix(prefix)
    if len(name) == 40 and all(c in "0123456789abcdef" for c in name):
        return name[:7]
    return name


# --- nondeterminism: the same inputs, another value ------------------------------------


def lock_inputs(text: bytes | str | None) -> dict[str, str]:
    """Each output ``dvc.lock`` records -> a digest of its stage's command, deps and params.

    Two commits whose digests for a metrics file are equal ran the stage that
    writes it on identical inputs (DVC's own hashes of the deps): its metrics
    should be equal too. An unreadable lock gives nothing (no flag, no guess).
    """
    if not text:
        return {}
    import hashlib

    import yaml

    try:
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return {}
    stages = doc.get("stages") if isinstance(doc, dict) else None
    if not isinstance(stages, dict):
        return {}
    out: dict[str, str] = {}
    for stage in stages.values():
        if not isinstance(stage, dict):
            continue
        deps = sorted(
            json.dumps(d, sort_keys=True, default=str)
            for d in stage.get("deps") or ()
            if isinstance(d, dict)
        )
        what = {"cmd": stage.get("cmd"), "deps": deps, "params": stage.get("params") or {}}
        digest = hashlib.sha256(
            json.dumps(what, sort_keys=True, default=str).encode("utf-8")
        ).hexdigest()[:16]
        for entry in stage.get("outs") or ():
            if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                out[entry["path"]] = digest
    return out


def head_inputs(root: Path, head_sha: str | None, worktree: bool) -> dict[str, str]:
    """:func:`lock_inputs` of the compared head: the work tree's ``dvc.lock`` or the commit's."""
    if worktree:
        lock = root / "dvc.lock"
        try:
            return lock_inputs(lock.read_bytes()) if lock.is_file() else {}
        except OSError:
            return {}
    if not head_sha:
        return {}
    return lock_inputs(git.show_file(head_sha, "dvc.lock", root))


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _disagreement(
    m: MetricDelta, history: History, inputs: dict[str, str], head_sha: str | None
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Two values of ``m`` from the same inputs: the head against the newest recorded commit
    with its inputs, else the newest such pair in the history."""
    path = m.name.split(":", 1)[0]
    first: dict[str, tuple[str, float]] = {}  # inputs digest -> the oldest (sha, value) with it
    latest: dict[str, tuple[str, float]] = {}  # ... and the newest, which the head is held to
    found = None
    for c in history.commits:
        if m.name not in c.values:
            continue
        value = c.values[m.name]
        if m.name in c.others:  # one commit, recorded twice, two values
            found = ({"sha": c.sha, "value": value}, {"sha": c.sha, "value": c.others[m.name]})
        digest = c.inputs.get(path)
        if digest is None:
            continue
        if digest in first and not _close(first[digest][1], value):
            sha, seen = first[digest]
            found = ({"sha": sha, "value": seen}, {"sha": c.sha, "value": value})
        first.setdefault(digest, (c.sha, value))
        latest[digest] = (c.sha, value)
    digest = inputs.get(path)
    head = m.head
    if digest in latest and is_number(head) and math.isfinite(float(head)):
        sha, seen = latest[digest]  # type: ignore[index]
        if not _close(seen, float(head)) and sha != head_sha:  # type: ignore[arg-type]
            return {"sha": sha, "value": seen}, {"sha": head_sha, "value": float(head)}  # type: ignore[arg-type]
    return found


def flag_nondeterministic(
    metrics: Iterable[MetricDelta],
    history: History,
    inputs: dict[str, str],
    head_sha: str | None,
) -> tuple[list[MetricDelta], list[str]]:
    """Metrics whose value changed while their stage's inputs did not; and a note for each."""
    out, notes_ = [], []
    for m in metrics:
        pair = _disagreement(m, history, inputs, head_sha)
        if pair is None:
            out.append(m)
            continue
        out.append(dataclasses.replace(m, nondeterministic=pair))
        a, b = pair
        where_b = b["sha"][:7] if b["sha"] else "the work tree"
        notes_.append(
            f"{m.name} looks nondeterministic: {a['value']:.6g} at {a['sha'][:7]} and "
            f"{b['value']:.6g} at {where_b}, from the same inputs (the command, deps and params "
            "dvc.lock records for its stage); its changes may be noise"
        )
    return out, notes_


# --- recording ----------------------------------------------------------------------


def note_text(result: Result, inputs: dict[str, str] | None = None) -> str:
    """The note for ``result``'s head commit: its JSON on one line, without plots or history."""
    doc = result.to_dict()
    for key in _NOT_RECORDED:
        doc.pop(key, None)
    for m in doc.get("metrics") or ():
        m.pop("history", None)  # each note holds its own value; history is the notes together
        m.pop("nondeterministic", None)
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
    # the reproduction's reasons first: a reproduction that changed dvc.lock also leaves the
    # work tree dirty, and "uncommitted changes" would hide why
    if result.repro.status == "failed":
        return "the pipeline failed: there are no results to record"
    if result.repro.lock_changed:
        return (
            "reproducing changed dvc.lock: the results are not what commit "
            f"{head[:7]} records (commit dvc.lock and its outputs first)"
        )
    if worktree:
        if git.resolve("HEAD", root) != head:
            return f"the work tree is not commit {head[:7]}"
        if git.has_uncommitted(root):
            return (
                "the work tree has uncommitted changes: its results are not commit "
                f"{head[:7]}'s (commit them, or pass --head)"
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
    # the commit's dvc.lock: the tree is that commit's (checked above), so they agree
    inputs = lock_inputs(git.show_file(sha, "dvc.lock", root))
    line = note_text(result, inputs)
    # another run's result for this commit stays (a push job and the deploy after it, a re-run):
    # two values from one commit are what the nondeterminism check looks for
    earlier = [x for x in (notes.read(root, sha) or "").splitlines() if x.strip()]
    if not any(_same_result(x, line) for x in earlier):
        notes.write(root, sha, "\n".join([*earlier, line]) + "\n")
    return sha


def _same_result(a: str, b: str) -> bool:
    """Two note lines that differ at most in how long the run took (a re-run of one result)."""
    try:
        x, y = json.loads(a), json.loads(b)
    except ValueError:
        return False
    if not isinstance(x, dict) or not isinstance(y, dict):
        return False
    x.pop("duration_s", None)
    y.pop("duration_s", None)
    return bool(x == y)
