"""Recording a result as its head commit's git note (``refs/notes/mlci``).

A note says "this commit gives these values", so a result is recorded only when
the compared tree is that commit's (:func:`refusal` says why not otherwise). The
note holds the result without plots or history, and what the commit's
``dvc.lock`` says about the stages that write metrics (:mod:`mlci.engine.lockview`),
which the results history (:mod:`mlci.engine.history`) reads back.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlci.adapters import git, notes
from mlci.engine.lockview import LockView, lock_view
from mlci.model.result import Result

# plot data is left out of a note: it is large, and the commit's own files hold it
_NOT_RECORDED = ("plots",)


def note_text(result: Result, view: LockView | None = None) -> str:
    """The note for ``result``'s head commit: its JSON on one line, without plots or history.

    ``view`` (the commit's ``dvc.lock``) adds ``runs``: for each metrics file, the stage
    that writes it, the digest of that stage's lock entry and the identity of its
    pipeline inputs, so that the history can tell runs apart even where the commit's
    ``dvc.lock`` cannot be read later; and ``inputs`` (output -> identity), which
    earlier versions read.
    """
    doc = result.to_dict()
    for key in _NOT_RECORDED:
        doc.pop(key, None)
    files = set()
    for m in doc.get("metrics") or ():
        m.pop("history", None)  # each note holds its own value; history is the notes together
        m.pop("nondeterministic", None)
        files.add(str(m.get("name", "")).split(":", 1)[0])
    if view is not None and view.outs:
        doc["inputs"] = {path: rec.identity for path, rec in view.outs.items()}
        runs = {}
        for f in sorted(files):
            rec = view.stage_of(f)
            if rec is not None:
                runs[f] = {"stage": rec.stage, "entry": rec.entry, "identity": rec.identity}
        if runs:
            doc["runs"] = runs
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
    view = lock_view(git.show_file(sha, "dvc.lock", root), git.show_file(sha, "dvc.yaml", root))
    line = note_text(result, view)
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
