"""Write-back: commit the reproduced ``dvc.lock`` and git-tracked outputs to the branch.

When a pull request changes code or params but not ``dvc.lock``, reproduction makes the
results the committed ones should have been. With ``repro.commit`` (or ``/mlci commit``)
mlci pushes the outputs to the DVC remote first, then commits the changed ``dvc.lock``
files and the outputs git tracks (``cache: false`` metrics and plots) on top of the exact
commit it reproduced, as ``github-actions[bot]``, and pushes without force. The result is
then the new commit's: its status and comment refer to it. Every refusal says why.

Locally (``mlci repro --commit``) the commit is made on the current branch with the user's
own identity, and nothing is pushed to git.
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mlci.adapters import dvc, git, gitwrite
from mlci.engine import gate
from mlci.model.config import Config
from mlci.model.result import Result, WriteBack

BOT = gitwrite.Author(
    "github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com"
)
LOCK_CHANGED = "reproduction changed dvc.lock"  # the start of repro's reason (engine/repro.py)
COMPARED_FROM_WORK_TREE = "metrics and params are compared from the reproduced work tree"


@dataclass(frozen=True)
class PullTarget:
    """The pull request's branch and the commit this run reproduced."""

    branch: str
    head_sha: str
    remote: str = "origin"
    run_url: str | None = None


def not_ready(result: Result) -> str | None:
    """Why this run's reproduction cannot be written back, or None."""
    failed = [s.name for s in result.repro.stages if s.status == "failed"]
    if failed:
        return f"stage {', '.join(failed)} failed: nothing is committed from a failed reproduction"
    if result.repro.status == "failed":
        return "reproduction failed: nothing is committed from a failed reproduction"
    if result.repro.status != "ran":
        why = f" ({result.repro.message})" if result.repro.message else ""
        return f"nothing was reproduced{why}"
    return None


class Refused(Exception):
    """The pipeline asks for a path mlci never commits; the message says which and why."""


def _never_committed(path: str, root: Path) -> str | None:
    """Why ``path`` (relative to the project) may not be written back, or None.

    Only ``dvc.lock`` files and ``cache: false`` outputs inside the project are committed:
    never git's or GitHub's own files (``.github/`` workflows, ``.gitmodules``, ...), a
    symlink, or anything outside the project.
    """
    pure = PurePosixPath(path)
    if pure.is_absolute() or Path(path).is_absolute():
        return "outside the project"
    parts = posixpath.normpath(path).split("/")
    if parts[0] == "..":
        return "outside the project"
    if parts == ["."]:
        return "the whole project"
    if any(part.lower().startswith(".git") for part in parts):
        return "a git or GitHub file"
    here = root / path
    if here.is_symlink():
        return "a symlink"
    try:
        inside = here.resolve().is_relative_to(root.resolve())
    except OSError:
        inside = False
    if not inside:
        return "outside the project (through a symlink)"
    return None


def _refuse_any(paths: list[str], root: Path) -> None:
    bad = [f"{p} ({why})" for p in paths if (why := _never_committed(p, root))]
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise Refused(
            f"the pipeline asks to commit what mlci never writes back: {shown}; only dvc.lock "
            "files and cache: false outputs inside the project are committed; nothing committed"
        )


def files_to_commit(root: Path, also: Sequence[str] = ()) -> list[str]:
    """``dvc.lock`` files and git-tracked outputs that reproduction changed (project-relative).

    Outputs DVC caches are ignored by git and never come back here. ``also``: files mlci
    itself changed before reproducing (the params ``/mlci adopt`` set), relative to ``root``.
    A declared output or a changed file mlci never commits (see :func:`_never_committed`) refuses the whole
    write-back (:class:`Refused`).
    """
    specs = [":(glob)**/dvc.lock"]
    declared = [o.path for o in dvc.pipeline_outputs(root) if not o.cached and o.kind != "model"]
    _refuse_any([*declared, *also], root)
    specs += [f":(literal){path}" for path in [*also, *declared]]
    files = gitwrite.changed_files(specs, root)
    # git names them from the top of the repository; the project may be a folder of it
    prefix = root.resolve().relative_to(git.repo_root(root).resolve()).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    outside = [f for f in files if not f.startswith(prefix)]
    _refuse_any(
        [f"../{f}" for f in outside] + [f[len(prefix) :] for f in files if f not in outside], root
    )
    return files


def _pending(root: Path, also: Sequence[str] = ()) -> list[str] | WriteBack:
    """The files to commit, or the outcome when there is nothing (or no telling)."""
    try:
        files = files_to_commit(root, also)
    except Refused as exc:
        return WriteBack("refused", str(exc))
    except (dvc.DvcError, git.GitError) as exc:
        return WriteBack("failed", f"cannot tell what to commit: {exc}")
    if not files:
        return WriteBack(
            "nothing", "reproduction left dvc.lock and the outputs git tracks as committed"
        )
    return files


def message(result: Result, files: list[str], *, reproduced: str | None = None) -> str:
    """The commit message: the stages that ran in the title, the files and the origin below."""
    stages = result.repro.stages
    ran = [s.name for s in stages if s.status == "ran"]
    cached = [s.name for s in stages if s.status == "cached"]
    named = ran or cached
    title = "mlci: reproduce " + (", ".join(named) if named else "the pipeline")
    if len(title) > 72:
        title = f"mlci: reproduce {len(named)} stages"
    lines = [title, ""]
    if ran:
        lines.append(f"Stages that ran: {', '.join(ran)}.")
    if cached:
        lines.append(f"Stages restored from the run-cache: {', '.join(cached)}.")
    lines.append(f"Files: {', '.join(files)}.")
    if reproduced:
        lines += ["", reproduced]
    return "\n".join(lines) + "\n"


def _push_outputs(root: Path, cfg: Config, *, required: bool) -> str | None:
    """``dvc push`` the outputs first; why not (when it must happen and cannot), else None."""
    with dvc.open_repo(root) as repo:
        remote = dvc.default_remote(repo)
        if remote is None:
            return (
                "no default DVC remote: the outputs the commit records would exist only here"
                if required
                else None
            )
        if not remote.reachable:
            return f"DVC remote '{remote.name}' is unreachable ({remote.error}): outputs not pushed"
        try:
            dvc.push(repo, cfg.repro.targets)
        except Exception as exc:  # noqa: BLE001 - any failure means: do not commit
            return f"`dvc push` to '{remote.name}' failed: {dvc.describe(exc)}"
    return None


def _refused(result: Result, why: str) -> Result:
    return dataclasses.replace(result, writeback=WriteBack("refused", why))


def judged_by_commit(result: Result, wb: WriteBack) -> Result:
    """The result of the new commit: it holds the reproduced files, so they are committed now."""
    reasons = [
        r
        for r in result.reasons
        if not (r.section == "repro" and r.message.startswith(LOCK_CHANGED))
    ]
    notes = [n for n in result.notes if not n.startswith(COMPARED_FROM_WORK_TREE)]
    head = dataclasses.replace(result.context.head, sha=wb.sha)
    context = dataclasses.replace(result.context, head=head, head_uncommitted=False)
    ordered = gate.order(reasons)
    return dataclasses.replace(
        result,
        context=context,
        reasons=tuple(ordered),
        verdict=gate.verdict(ordered),
        notes=tuple(notes),
        writeback=wb,
    )


def to_pull_request(
    root: Path,
    result: Result,
    cfg: Config,
    target: PullTarget,
    *,
    refused: str | None = None,
    also: Sequence[str] = (),
) -> Result:
    """Commit on top of ``target.head_sha`` and push to the PR branch, or say why not.

    ``also``: files set before reproducing that the commit carries too (``/mlci adopt``'s params).
    """
    why = refused or not_ready(result)
    if why:
        return _refused(result, why)
    git_root = git.repo_root(root)
    here = git.resolve("HEAD", git_root)
    if here != target.head_sha:
        return _refused(
            result,
            f"the checkout is {(here or 'unknown')[:7]}, not the pull request's head "
            f"{target.head_sha[:7]} (GitHub's merge commit?): check out the head with "
            "`ref: ${{ github.event.pull_request.head.sha }}` in actions/checkout",
        )
    files = _pending(root, also)
    if isinstance(files, WriteBack):
        return dataclasses.replace(result, writeback=files)
    tip = git.remote_branch_tip(target.remote, target.branch, git_root)
    if tip is None:
        return dataclasses.replace(
            result,
            writeback=WriteBack(
                "failed",
                f"cannot read branch {target.branch} on {target.remote}",
                files=tuple(files),
            ),
        )
    if tip != target.head_sha:
        return _refused(
            result,
            f"branch {target.branch} moved to {tip[:7]} since this run reproduced "
            f"{target.head_sha[:7]}: the next run will reproduce the new head",
        )
    why = _push_outputs(root, cfg, required=True)
    if why:
        return _refused(result, f"{why}; nothing committed")
    origin = f"Reproduced by mlci from {target.head_sha}" + (
        f" in {target.run_url}" if target.run_url else ""
    )
    try:
        sha = gitwrite.commit_onto(
            target.head_sha, files, message(result, files, reproduced=origin), BOT, git_root
        )
    except git.GitError as exc:
        return dataclasses.replace(
            result, writeback=WriteBack("failed", f"cannot make the commit: {exc}")
        )
    pushed = gitwrite.push(target.remote, sha, target.branch, git_root)
    if not pushed.ok:
        return dataclasses.replace(
            result,
            writeback=WriteBack(
                "failed",
                f"git push to {target.branch} was rejected ({pushed.message}); nothing changed "
                "on the branch (the branch moved, or the token may not push: the job needs "
                "`contents: write`)",
                parent=target.head_sha,
                branch=target.branch,
                files=tuple(files),
            ),
        )
    wb = WriteBack(
        "pushed",
        f"committed {sha[:7]} on {target.branch} as {BOT.name}: {', '.join(files)}",
        sha=sha,
        parent=target.head_sha,
        branch=target.branch,
        files=tuple(files),
    )
    return judged_by_commit(result, wb)


def to_current_branch(root: Path, result: Result, cfg: Config) -> Result:
    """``mlci repro --commit``: commit on the current branch with the user's identity; no push."""
    why = not_ready(result)
    if why:
        return _refused(result, why)
    git_root = git.repo_root(root)
    branch = git.current_branch(git_root)
    if branch is None:
        return _refused(result, "HEAD is detached: check out a branch to commit on")
    files = _pending(root)
    if isinstance(files, WriteBack):
        return dataclasses.replace(result, writeback=files)
    why = _push_outputs(root, cfg, required=False)
    if why:
        return _refused(result, f"{why}; nothing committed")
    parent = git.resolve("HEAD", git_root)
    try:
        sha = gitwrite.commit_paths(files, message(result, files), git_root)
    except git.GitError as exc:
        return dataclasses.replace(
            result, writeback=WriteBack("failed", f"cannot make the commit: {exc}")
        )
    wb = WriteBack(
        "committed",
        f"committed {sha[:7]} on {branch}: {', '.join(files)} (not pushed)",
        sha=sha,
        parent=parent,
        branch=branch,
        files=tuple(files),
    )
    return judged_by_commit(result, wb)
