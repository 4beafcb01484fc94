"""Results history as git notes under ``refs/notes/mlci``: the only module that reads or writes them.

A recorded result is one line of compact JSON attached to the commit it
describes. Reading the history of a branch is one ``git log`` call over its
first-parent commits (``%N`` prints each commit's note), so a check pays a
single process for any depth. Writing goes to the local notes ref; sharing it
is ``push``, which merges a concurrent writer's notes instead of losing them
(fetch, ``git notes merge -s cat_sort_uniq``, retry): two results recorded
for one commit by two runs both survive, as two lines of that note.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mlci.adapters.git import NO_HOOKS
from mlci.model.errors import RunError

REF = "refs/notes/mlci"
# where a remote's notes are fetched to before they are merged into REF (under refs/notes/,
# which `git notes merge` requires of the ref it merges from)
_FETCHED = "refs/notes/mlci-fetched"
# the identity of the commits on the notes ref, when the clone has none (a CI checkout)
_IDENTITY = ("mlci", "mlci@users.noreply.github.com")


class NotesError(RunError):
    """Reading or writing refs/notes/mlci failed."""


def _run(
    args: list[str], cwd: str | Path, *, stdin: bytes | None = None, identity: bool = False
) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, LC_ALL="C")
    env.setdefault("GIT_TERMINAL_PROMPT", "0")
    prefix: list[str] = []
    if identity and not _has_identity(cwd, env):
        # a notes commit needs an author; a fresh CI checkout has none configured
        name, email = _IDENTITY
        prefix = ["-c", f"user.name={name}", "-c", f"user.email={email}"]
    try:
        return subprocess.run(
            ["git", *NO_HOOKS, *prefix, *args],
            cwd=cwd,
            input=stdin,
            capture_output=True,
            env=env,
            check=False,
        )
    except FileNotFoundError as exc:  # pragma: no cover - git is a documented requirement
        raise NotesError("git is not installed or not on PATH") from exc


def _has_identity(cwd: str | Path, env: dict[str, str]) -> bool:
    if env.get("GIT_COMMITTER_EMAIL") and env.get("GIT_AUTHOR_EMAIL"):
        return True
    proc = subprocess.run(
        ["git", *NO_HOOKS, "config", "--get", "user.email"],
        cwd=cwd,
        capture_output=True,
        env=env,
        check=False,
    )
    return proc.returncode == 0 and bool(proc.stdout.strip())


def _error(proc: subprocess.CompletedProcess[bytes], what: str) -> NotesError:
    detail = proc.stderr.decode(errors="replace").strip().splitlines()
    return NotesError(f"{what}: {detail[-1] if detail else f'git exit {proc.returncode}'}")


@dataclass(frozen=True)
class Note:
    """The note of one commit of the history (``text`` is empty when it has none)."""

    sha: str
    text: str


def first_parent_notes(root: str | Path, rev: str, depth: int) -> list[Note]:
    """The last ``depth`` first-parent commits from ``rev`` with their mlci notes, newest first.

    One process whatever the depth. A clone without ``refs/notes/mlci`` gives
    commits with empty notes (git warns on stderr and succeeds).
    """
    proc = _run(
        [
            "log",
            "--first-parent",
            f"-n{depth}",
            "--format=%H%x00%N%x1e",
            f"--notes={REF}",
            "--end-of-options",
            rev,
            "--",
        ],
        root,
    )
    if proc.returncode != 0:
        raise _error(proc, f"cannot read the history of {rev}")
    out = []
    for record in proc.stdout.decode("utf-8", errors="replace").split("\x1e"):
        sha, sep, text = record.lstrip("\n").partition("\x00")
        if sep:
            out.append(Note(sha, text.strip()))
    return out


def has_notes(root: str | Path) -> bool:
    return _run(["rev-parse", "--verify", "--quiet", REF], root).returncode == 0


def write(root: str | Path, sha: str, text: str) -> None:
    """Attach ``text`` to commit ``sha`` (replacing mlci's earlier note on it: the caller
    keeps the lines it wants)."""
    proc = _run(
        ["notes", f"--ref={REF}", "add", "--force", "--file=-", sha],
        root,
        stdin=text.encode("utf-8"),
        identity=True,
    )
    if proc.returncode != 0:
        raise _error(proc, f"cannot write the note on {sha[:7]}")


def read(root: str | Path, sha: str) -> str | None:
    """The mlci note of ``sha``, or None."""
    proc = _run(["notes", f"--ref={REF}", "show", sha], root)
    return proc.stdout.decode("utf-8", errors="replace") if proc.returncode == 0 else None


def fetch(root: str | Path, remote: str = "origin") -> bool:
    """Bring the remote's notes in, merged with the local ones; False when the remote has none.

    Never called by the pre-push hook or ``mlci check``: only CI fetches.
    """
    proc = _run(["fetch", "--quiet", "--no-tags", remote, f"+{REF}:{_FETCHED}"], root)
    if proc.returncode != 0:
        return False
    _merge_fetched(root)
    return True


def _merge_fetched(root: str | Path) -> None:
    if not has_notes(root):
        proc = _run(["update-ref", REF, _FETCHED], root)
        if proc.returncode != 0:
            raise _error(proc, "cannot set refs/notes/mlci")
        return
    # cat_sort_uniq: a commit noted on both sides keeps both results (as sorted, unique lines)
    proc = _run(
        ["notes", f"--ref={REF}", "merge", "--quiet", "--strategy=cat_sort_uniq", _FETCHED],
        root,
        identity=True,
    )
    if proc.returncode != 0:
        raise _error(proc, "cannot merge the remote's notes")


def push(root: str | Path, remote: str = "origin", attempts: int = 5) -> int:
    """Push the local notes; on a rejection fetch, merge and try again. Returns the attempts made.

    A rejected push means another run pushed notes since this clone read them:
    its notes are merged in, never overwritten (no force push).
    """
    last = None
    for attempt in range(1, attempts + 1):
        proc = _run(["push", "--quiet", "--no-verify", remote, f"{REF}:{REF}"], root)
        if proc.returncode == 0:
            return attempt
        last = proc
        fetched = _run(["fetch", "--quiet", "--no-tags", remote, f"+{REF}:{_FETCHED}"], root)
        if fetched.returncode != 0:
            raise _error(proc, f"cannot push {REF} to {remote}")
        _merge_fetched(root)
    assert last is not None
    raise _error(last, f"cannot push {REF} to {remote} after {attempts} attempts")
