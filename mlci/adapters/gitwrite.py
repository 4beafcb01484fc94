"""Git writes for the write-back: a commit of chosen files, and a push that never forces.

:mod:`mlci.adapters.git` only reads; the few commands that write live here. A commit for a
pull request is built with git's plumbing in a throw-away index (``read-tree``,
``update-index``, ``write-tree``, ``commit-tree``): its parent is exactly the commit that
was reproduced and it holds exactly the chosen files, whatever the checkout's index or
branch, and the user's index is never touched.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlci.adapters.git import NO_HOOKS, GitError


def _run(
    args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None, *, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    full = dict(os.environ)
    full.setdefault("GIT_TERMINAL_PROMPT", "0")
    full["LC_ALL"] = "C"
    full.update(env or {})
    proc = subprocess.run(
        ["git", *NO_HOOKS, *args], cwd=cwd, capture_output=True, env=full, check=False
    )
    if check and proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip() or f"git {args[0]} failed"
        raise GitError(message)
    return proc


def changed_files(pathspecs: Sequence[str], cwd: Path) -> list[str]:
    """Repository-relative files under ``pathspecs`` that differ from HEAD (new, changed, deleted).

    Ignored files are left out (DVC ignores the outputs it caches), so what comes back is
    what git would commit.
    """
    if not pathspecs:
        return []
    proc = _run(["status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *pathspecs], cwd)
    out: list[str] = []
    entries = proc.stdout.decode("utf-8", errors="surrogateescape").split("\0")
    skip = False
    for entry in entries:
        if skip:  # the source path of a rename
            skip = False
            continue
        if len(entry) < 4:
            continue
        status, path = entry[:2], entry[3:]
        if "R" in status or "C" in status:
            skip = True
        out.append(path)
    return sorted(dict.fromkeys(out))


@dataclass(frozen=True)
class Author:
    name: str
    email: str


def commit_onto(
    parent: str, files: Sequence[str], message: str, author: Author, git_root: Path
) -> str:
    """A new commit: ``parent``'s tree with ``files`` as they are in the work tree.

    A file missing from the work tree is removed in the commit. Nothing else (index,
    branch, HEAD) changes; the commit's sha is returned.
    """
    identity = {
        "GIT_AUTHOR_NAME": author.name,
        "GIT_AUTHOR_EMAIL": author.email,
        "GIT_COMMITTER_NAME": author.name,
        "GIT_COMMITTER_EMAIL": author.email,
    }
    with tempfile.TemporaryDirectory(prefix="mlci-index-") as tmp:
        index = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        _run(["read-tree", "--end-of-options", parent], git_root, index)
        for path in files:
            file = git_root / path
            if file.is_file() and not file.is_symlink():
                blob = _run(["hash-object", "-w", "--", path], git_root).stdout.decode().strip()
                mode = "100755" if os.access(file, os.X_OK) else "100644"
                _run(
                    ["update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}"],
                    git_root,
                    index,
                )
            else:
                _run(["update-index", "--force-remove", "--", path], git_root, index)
        tree = _run(["write-tree"], git_root, index).stdout.decode().strip()
    return _commit_tree(tree, parent, message, git_root, identity)


def _commit_tree(
    tree: str, parent: str, message: str, git_root: Path, identity: Mapping[str, str]
) -> str:
    full = dict(os.environ, LC_ALL="C", **identity)
    proc = subprocess.run(
        ["git", *NO_HOOKS, "commit-tree", tree, "-p", parent, "-F", "-"],
        cwd=git_root,
        input=message.encode(),
        capture_output=True,
        env=full,
        check=False,
    )
    if proc.returncode != 0:
        raise GitError(proc.stderr.decode(errors="replace").strip() or "git commit-tree failed")
    return proc.stdout.decode().strip()


@dataclass(frozen=True)
class PushOutcome:
    ok: bool
    message: str  # git's own words when it refused


def push(remote: str, sha: str, branch: str, git_root: Path) -> PushOutcome:
    """``git push REMOTE SHA:refs/heads/BRANCH``, never forced: a moved branch is a refusal."""
    proc = _run(
        [
            "push",
            "--porcelain",
            "--no-verify",
            "--end-of-options",
            remote,
            f"{sha}:refs/heads/{branch}",
        ],
        git_root,
        check=False,
    )
    if proc.returncode == 0:
        return PushOutcome(True, "")
    text = (proc.stdout + b"\n" + proc.stderr).decode(errors="replace")
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.startswith(("To ", "Done"))
    ]
    return PushOutcome(False, "; ".join(lines[:4]) or f"git push exited {proc.returncode}")


def commit_paths(files: Sequence[str], message: str, git_root: Path) -> str:
    """Commit ``files`` on the current branch with the user's own identity; the new sha.

    ``--only`` leaves whatever else is staged out of the commit and staged as it was.
    """
    present = [f for f in files if (git_root / f).exists()]
    if present:
        _run(["add", "--", *present], git_root)
    proc = subprocess.run(
        ["git", *NO_HOOKS, "commit", "-q", "--no-verify", "--only", "-F", "-", "--", *files],
        cwd=git_root,
        input=message.encode(),
        capture_output=True,
        env=dict(os.environ, LC_ALL="C"),
        check=False,
    )
    if proc.returncode != 0:
        raise GitError(proc.stderr.decode(errors="replace").strip() or "git commit failed")
    return _run(["rev-parse", "HEAD"], git_root).stdout.decode().strip()
