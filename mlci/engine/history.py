"""Results history: what earlier runs recorded on the base branch, and what it says.

Runs on the default branch record their result as a git note on the commit
they checked (:mod:`mlci.adapters.notes`). A check reads the notes of the
last ``history.depth`` first-parent commits of the base and gives each metric
its ``history`` (``[{sha, value}]``, oldest first). From that history come the
noise-aware limits (``max_regression: auto``, the model is in
:mod:`mlci.engine.noise`) and the nondeterminism flag.

A note is data anyone with push access to ``refs/notes/mlci`` can write, so each
recorded value is checked against what its commit holds (the metrics file in git,
or the DVC object its ``dvc.lock`` records) and left out, and counted, when they
disagree. What a commit's ``dvc.lock`` says decides the rest:

* **Which commits are runs.** The stage writing a metric (a file output, a file
  inside an output folder such as dvclive's ``eval/``, a top-level ``metrics:``
  entry inside an output, a ``foreach``/``matrix`` stage, a project in a
  subfolder) ran at a commit when its lock entry differs from the parent
  commit's, or when the recording run executed it (a forced re-run). Otherwise
  the commit carried the value forward: it is no sample of the noise.
* **Which runs had the same inputs.** Everything upstream of that stage that the
  pipeline does not produce: the commands, params and deps of the stage and of
  every stage upstream (code, ``dvc add``-ed data, imports). Intermediate
  outputs (a model) are not part of it: they differ exactly when an upstream
  stage is nondeterministic. Two runs with the same identity and different
  values flag the metric as nondeterministic.
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
from mlci.engine import noise
from mlci.engine.lockview import (
    LockView,
    StageRecord,
    dvc_content,
    inside_project,
    lock_view,
)
from mlci.engine.noise import Spread
from mlci.model.fmt import is_number
from mlci.model.result import MetricDelta


@dataclass(frozen=True)
class Recorded:
    """One commit's recorded result, as far as history needs it."""

    sha: str
    values: dict[str, float]  # numeric metric values at that commit (checked against it)
    # the same commit recorded more than once with other values (merged notes of two runs)
    others: dict[str, float] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)  # notes before 0.2: output -> digest
    ran: frozenset[str] = frozenset()  # stages the recording run executed (a forced re-run)
    stages: dict[str, StageRecord] = field(default_factory=dict)  # metrics file -> its stage
    parent_entries: dict[str, str] = field(default_factory=dict)  # ... its entry at the parent
    # metrics files no stage writes (kept in git): whether the commit changed them
    changed: dict[str, bool] = field(default_factory=dict)
    runs: dict[str, dict[str, str]] = field(default_factory=dict)  # the note's own "runs"


@dataclass(frozen=True)
class History:
    """The recorded commits of the base's first-parent line, oldest first."""

    commits: tuple[Recorded, ...] = ()
    read: int = 0  # commits looked at (recorded or not)
    skipped: int = 0  # note lines that were no usable result (malformed, another commit's)
    # metric -> recorded values left out because they disagree with what their commit holds
    disagree: dict[str, int] = field(default_factory=dict)
    # metric -> recorded values left out because their commit's file could not be read
    unchecked: dict[str, int] = field(default_factory=dict)

    def series(self, name: str) -> list[dict[str, Any]]:
        return [{"sha": c.sha, "value": c.values[name]} for c in self.commits if name in c.values]

    def problems(self) -> list[str]:
        """One line for what reading the notes left out, when it left anything out."""
        out = []
        if self.skipped:
            out.append(
                f"the results history: {self.skipped} note line{'s' if self.skipped > 1 else ''} "
                "skipped (not a result of its commit, malformed or not finite)"
            )
        bad = sum(self.disagree.values())
        if bad:
            out.append(
                f"the results history: {bad} recorded value{'s' if bad > 1 else ''} disagree"
                f"{'s' if bad == 1 else ''} with what their commits hold and "
                f"{'were' if bad > 1 else 'was'} left out"
            )
        lost = sum(self.unchecked.values())
        if lost:
            whose = "their commits" if lost > 1 else "its commit"
            out.append(
                f"the results history: {lost} recorded value{'s' if lost > 1 else ''} left out: "
                f"the metrics file of {whose} could not be read (not in git, the DVC cache "
                "or the DVC remote)"
            )
        return out


def read(root: Path, rev: str, depth: int, *, verify: bool = True) -> History:
    """The notes of the last ``depth`` first-parent commits from ``rev`` (one git process),
    each recorded value checked against what its commit holds (:func:`_check`)."""
    found = notes.first_parent_notes(root, rev, depth)
    commits = []
    skipped = 0
    for note in reversed(found):  # git lists newest first; history is oldest first
        if not note.text:
            continue
        recorded, bad = parse_note(note.sha, note.text)
        skipped += bad
        if recorded is not None:
            commits.append(recorded)
    if not verify or not commits:
        return History(tuple(commits), len(found), skipped)
    checked, disagree, unchecked = _check(root, commits)
    return History(tuple(checked), len(found), skipped, disagree, unchecked)


# a note is data someone pushed: bounded before it is parsed
_MAX_LINE = 2_000_000


def parse_note(sha: str, text: str) -> tuple[Recorded | None, int]:
    """A note's result lines (several after two runs' notes were merged) as one record, and
    how many lines were skipped.

    A line that is not a result for this commit (hand-written, another tool's, a
    copied note, malformed, a value that is no finite number) is skipped: history
    never guesses, and never stops a check.
    """
    values: dict[str, float] = {}
    others: dict[str, float] = {}
    inputs: dict[str, str] = {}
    runs: dict[str, dict[str, str]] = {}
    ran: set[str] = set()
    usable = False
    skipped = 0
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if not line.startswith("{") or len(line) > _MAX_LINE:
            skipped += 1
            continue
        try:
            doc = json.loads(line)
        except (ValueError, RecursionError):
            skipped += 1
            continue
        if not isinstance(doc, dict) or _head_sha(doc) != sha:
            skipped += 1
            continue
        metrics = doc.get("metrics")
        if not isinstance(metrics, list):
            skipped += 1
            continue
        usable = True
        for m in metrics:
            if not isinstance(m, dict) or not isinstance(m.get("name"), str):
                continue
            number = _finite(m.get("head"))
            if number is None:
                if m.get("head") is not None and is_number(m.get("head")):
                    skipped += 1
                continue
            name = m["name"]
            if name not in values:
                values[name] = number
            elif values[name] != number:
                others.setdefault(name, number)
        got = doc.get("inputs")
        if isinstance(got, dict):
            inputs.update({str(k): str(v) for k, v in got.items() if isinstance(v, str)})
        got = doc.get("runs")
        if isinstance(got, dict):
            for path, rec in got.items():
                if isinstance(rec, dict) and all(
                    isinstance(rec.get(k), str) for k in ("stage", "entry", "identity")
                ):
                    runs[str(path)] = {k: rec[k] for k in ("stage", "entry", "identity")}
        repro = doc.get("repro")
        stages = repro.get("stages") if isinstance(repro, dict) else None
        for st in stages if isinstance(stages, list) else ():
            if (
                isinstance(st, dict)
                and st.get("status") == "ran"
                and isinstance(st.get("name"), str)
            ):
                ran.add(st["name"])
    if not usable:
        return None, skipped
    return Recorded(sha, values, others, inputs, frozenset(ran), runs=runs), skipped


def _finite(value: Any) -> float | None:
    if not is_number(value):
        return None
    try:
        number = float(value)
    except OverflowError:  # a 400-digit integer
        return None
    return number if math.isfinite(number) else None


def _head_sha(doc: dict[str, Any]) -> str | None:
    context = doc.get("context")
    head = context.get("head") if isinstance(context, dict) else None
    sha = head.get("sha") if isinstance(head, dict) else None
    return sha if isinstance(sha, str) else None


def _check(
    root: Path, commits: list[Recorded]
) -> tuple[list[Recorded], dict[str, int], dict[str, int]]:
    """Each commit with what its own files say: its stages (and its parent's, to tell a run
    from a carried-forward value), and only the recorded values that agree with its
    metrics files (from git, or the DVC cache by the md5 its ``dvc.lock`` records).

    Every file of every commit is read in one ``git cat-file`` process; DVC objects that
    are not in the local cache are fetched in one batch when a remote is set. A value
    whose file cannot be read at all is left out too, and counted as unchecked.
    """
    from mlci.engine.collect import _named, parse_metric_file

    files = {
        c.sha: sorted({f for n in c.values if inside_project(f := n.split(":", 1)[0])})
        for c in commits
    }
    # a value of a file outside the project (a forged note's "../../etc/passwd:x") is left
    # out and counted: no file of its commit holds it
    dropped: dict[str, int] = {}
    inside = []
    for c in commits:
        kept = {n: v for n, v in c.values.items() if n.split(":", 1)[0] in files[c.sha]}
        for n in c.values.keys() - kept.keys():
            dropped[n] = dropped.get(n, 0) + 1
        inside.append(dataclasses.replace(c, values=kept))
    commits = inside
    specs = []
    for c in commits:
        specs += [f"{c.sha}:./dvc.lock", f"{c.sha}^:./dvc.lock"]
        specs += [f"{c.sha}:./dvc.yaml", f"{c.sha}^:./dvc.yaml"]
        for f in files[c.sha]:
            specs += [f"{c.sha}:./{f}", f"{c.sha}^:./{f}"]
    blobs = git.read_blobs(specs, root)
    # (lock, pipeline) blob ids -> the view: most commits share both
    parsed: dict[tuple[str, str | None], LockView] = {}

    def view_of(rev: str) -> LockView:
        blob = blobs.get(f"{rev}:./dvc.lock")
        if blob is None:
            return LockView()
        pipeline = blobs.get(f"{rev}:./dvc.yaml")  # where stages with a wdir ran
        key = (blob[0], pipeline[0] if pipeline else None)
        if key not in parsed:
            parsed[key] = lock_view(blob[1], pipeline[1] if pipeline else None)
        return parsed[key]

    views = {c.sha: view_of(c.sha) for c in commits}
    parents = {c.sha: view_of(f"{c.sha}^") for c in commits}

    def content(c: Recorded, f: str) -> bytes | None:
        blob = blobs.get(f"{c.sha}:./{f}")
        if blob is not None:
            return blob[1]
        return dvc_content(root, views[c.sha], f)

    missing = [
        c.sha
        for c in commits
        if any(content(c, f) is None and views[c.sha].stage_of(f) for f in files[c.sha])
    ]
    if missing and (root / ".dvc").is_dir():
        from mlci.adapters import dvc

        try:
            dvc.fetch_for_reading(root, missing)
        except Exception:  # noqa: BLE001 - an unreachable remote: the values stay unchecked
            pass
    disagree: dict[str, int] = dropped  # a file outside the project holds none of its values
    unchecked: dict[str, int] = {}
    out = []
    for c in commits:
        view, parent = views[c.sha], parents[c.sha]
        values, others = dict(c.values), dict(c.others)
        stages: dict[str, StageRecord] = {}
        parent_entries: dict[str, str] = {}
        changed: dict[str, bool] = {}
        for f in files[c.sha]:
            rec = view.stage_of(f)
            if rec is not None:
                stages[f] = rec
                before = parent.stage_of(f)
                if before is not None:
                    parent_entries[f] = before.entry
            else:
                blob, before_blob = blobs.get(f"{c.sha}:./{f}"), blobs.get(f"{c.sha}^:./{f}")
                if blob is not None:
                    changed[f] = before_blob is None or before_blob[0] != blob[0]
            data = content(c, f)
            mine = [n for n in values if n.split(":", 1)[0] == f]
            if data is None:  # nothing to check it against: not used
                for n in mine:
                    unchecked[n] = unchecked.get(n, 0) + 1 + (1 if others.pop(n, None) else 0)
                    del values[n]
                continue
            try:
                held = _named(f, parse_metric_file(f, data))
            except Exception:  # noqa: BLE001 - a file its commit cannot parse holds no value
                held = {}
            for n in mine:
                number = _finite(held.get(n))
                # a second line of the note (another run on this commit) is checked too: the
                # commit holds one value, so at most one of them is its
                candidates = [values[n], *([others.pop(n)] if n in others else [])]
                good = [v for v in candidates if number is not None and _close(number, v)]
                if good:
                    values[n] = good[0]
                else:
                    del values[n]
                if len(good) < len(candidates):
                    disagree[n] = disagree.get(n, 0) + len(candidates) - len(good)
        out.append(
            dataclasses.replace(
                c,
                values=values,
                others={k: v for k, v in others.items() if k in values},
                stages=stages,
                parent_entries=parent_entries,
                changed=changed,
            )
        )
    return out, disagree, unchecked


def attach(metrics: Iterable[MetricDelta], history: History) -> list[MetricDelta]:
    """Each metric with its recorded values (``history``), when the base has any."""
    out = []
    for m in metrics:
        series = history.series(m.name)
        out.append(dataclasses.replace(m, history=tuple(series)) if series else m)
    return out


# --- noise: what max_regression: auto allows -------------------------------------------


def _run_of(c: Recorded, name: str) -> tuple[bool, str | None]:
    """Whether ``c`` ran the stage writing ``name`` (else its value was carried forward), and
    the identity of that run's inputs (None when unknown)."""
    path = name.split(":", 1)[0]
    rec = c.stages.get(path)
    if rec is not None:
        ran = c.parent_entries.get(path) != rec.entry or rec.stage in c.ran
        return ran, rec.identity
    noted = c.runs.get(path)
    if noted is not None:  # the commit's lock could not be read: what its note recorded
        return True, noted["identity"]
    if path in c.changed:  # a file in git that no stage writes: a new value is a new run
        return c.changed[path], None
    return True, c.inputs.get(path)


def robust_sigma(values: list[float]) -> float:
    """The run-to-run noise of a series of runs (von Neumann's estimate from consecutive
    changes, level changes left out): see :mod:`mlci.engine.noise`."""
    sigma, _ = noise.successive_sigma(values, noise.level_changes(values))
    return sigma


def metric_runs(history: History, name: str) -> noise.Runs:
    """The runs of ``name`` on the base branch, and a word for each kind of value left out."""
    runs = noise.Runs()
    carried = 0
    for c in history.commits:
        if name not in c.values:
            continue
        ran, identity = _run_of(c, name)
        if not ran:
            carried += 1
            continue
        runs.values.append(c.values[name])
        runs.identities.append(identity)
        runs.repeats.append([c.others[name]] if name in c.others else [])
    if carried:
        runs.left_out.append(
            f"{carried} commit{'s' if carried > 1 else ''} did not re-run its stage"
        )
    lost = history.unchecked.get(name, 0)
    if lost:
        runs.left_out.append(
            f"{lost} recorded value{'s' if lost > 1 else ''} could not be checked against "
            f"{'their commits' if lost > 1 else 'its commit'}"
        )
    bad = history.disagree.get(name, 0)
    if bad:
        runs.left_out.append(
            f"{bad} recorded value{'s disagree with their commits' if bad > 1 else ' disagrees with its commit'}"
        )
    return runs


def spreads(history: History, min_points: int, branch: str) -> dict[str, Spread]:
    """Each recorded metric's noise model (:class:`mlci.engine.noise.Spread`).

    Only runs count: a commit where the stage that writes the metric was executed
    (its ``dvc.lock`` entry differs from the parent commit's, or the recording run
    executed it). A value a commit carried forward (a docs-only commit, DVC did not
    re-run the stage) is no new sample of the noise; counted, it would put the
    estimate at 0 whenever most commits on main leave the model alone.
    """
    names = list(dict.fromkeys(n for c in history.commits for n in c.values))
    return {name: noise.estimate(metric_runs(history, name), min_points, branch) for name in names}


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


def head_inputs(root: Path, head_sha: str | None, worktree: bool) -> LockView:
    """:func:`lock_view` of the compared head: the work tree's ``dvc.lock`` or the commit's."""
    if worktree:
        lock, pipeline = root / "dvc.lock", root / "dvc.yaml"
        try:
            if not lock.is_file():
                return LockView()
            return lock_view(
                lock.read_bytes(), pipeline.read_bytes() if pipeline.is_file() else None
            )
        except OSError:
            return LockView()
    if not head_sha:
        return LockView()
    return lock_view(
        git.show_file(head_sha, "dvc.lock", root), git.show_file(head_sha, "dvc.yaml", root)
    )


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _disagreement(
    m: MetricDelta, history: History, head: LockView, head_sha: str | None
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Two values of ``m`` from the same pipeline inputs (everything upstream of its stage
    that the pipeline does not produce): the head against the newest recorded run with its
    inputs, else the newest such pair in the history."""
    path = m.name.split(":", 1)[0]
    first: dict[str, tuple[str, float]] = {}  # identity -> the oldest (sha, value) with it
    latest: dict[str, tuple[str, float]] = {}  # ... and the newest, which the head is held to
    found = None
    for c in history.commits:
        if m.name not in c.values:
            continue
        value = c.values[m.name]
        if m.name in c.others:  # one commit, recorded twice, two values
            found = ({"sha": c.sha, "value": value}, {"sha": c.sha, "value": c.others[m.name]})
        _, identity = _run_of(c, m.name)
        if identity is None:
            continue
        if identity in first and not _close(first[identity][1], value):
            sha, seen = first[identity]
            found = ({"sha": sha, "value": seen}, {"sha": c.sha, "value": value})
        first.setdefault(identity, (c.sha, value))
        latest[identity] = (c.sha, value)
    identity = head.identity_of(path)
    head_value = _finite(m.head)
    if identity is not None and identity in latest and head_value is not None:
        sha, seen = latest[identity]
        if not _close(seen, head_value) and sha != head_sha:
            return {"sha": sha, "value": seen}, {"sha": head_sha, "value": head_value}
    return found


def flag_nondeterministic(
    metrics: Iterable[MetricDelta],
    history: History,
    inputs: LockView,
    head_sha: str | None,
) -> tuple[list[MetricDelta], list[str]]:
    """Metrics whose value changed while their pipeline inputs did not; and a note for each."""
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
            f"{b['value']:.6g} at {where_b}, from the same inputs (the code, params and data "
            "dvc.lock records upstream of its stage); its changes may be noise"
        )
    return out, notes_
