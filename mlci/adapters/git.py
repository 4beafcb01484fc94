"""Git, through the ``git`` command line: the only module that runs git.

mlci only reads from git (revisions, file contents at a revision, the
upstream branch), so a subprocess per question is enough. GitPython's
persistent ``git cat-file`` process pays off only from about thirty
questions in one run; a check asks 9 to 15, and importing GitPython costs
more CPU than that many processes (``benchmarks/bench_git.py``), so mlci
does not use it.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mlci.model.errors import RunError
from mlci.model.refs import is_ref_name, is_sha


class GitError(RunError):
    """A git command failed."""


# Every git process mlci starts runs no hook and no fsmonitor of the repository: a pipeline
# stage (the pull request's code) can write .git/hooks or set core.fsmonitor, and mlci's git
# runs after it with mlci's whole environment. The null device is a hooks folder nothing can
# put a hook in (a temporary folder could be found and filled by a stage).
NO_HOOKS = ["-c", f"core.hooksPath={os.devnull}", "-c", "core.fsmonitor=false"]


def env_for_git() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GIT_TERMINAL_PROMPT", "0")
    env["LC_ALL"] = "C"
    return env


def _git(
    args: list[str], cwd: str | Path, *, check: bool = True, hooks_off: bool = True
) -> subprocess.CompletedProcess[bytes]:
    env = env_for_git()
    try:
        proc = subprocess.run(
            ["git", *(NO_HOOKS if hooks_off else ()), *args],
            cwd=cwd,
            capture_output=True,
            env=env,
            check=False,
        )
    except FileNotFoundError as exc:  # pragma: no cover - git is a documented requirement
        raise GitError("git is not installed or not on PATH") from exc
    if check and proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip() or f"git {' '.join(args)} failed"
        raise GitError(msg)
    return proc


def output(args: list[str], cwd: str | Path) -> str:
    return _git(args, cwd).stdout.decode(errors="replace").strip()


# Answers that cannot change while mlci runs, kept for the process (a check asks for the
# work tree's top up to five times, and for a file at the base commit more than once; each
# answer is a git process): the top of the work tree around a folder, and what a full
# commit sha holds (commits are immutable). Only found answers are kept.
_roots: dict[str, Path] = {}
_at_commit: dict[tuple[str, str, str, str], bytes] = {}
_KEEP_AT_MOST = 256 * 1024  # bytes of one file's content; larger data files are not kept


def _immutable(rev: str) -> bool:
    return len(rev) == 40 and all(c in "0123456789abcdef" for c in rev)


def repo_root(path: str | Path) -> Path:
    """The top of the work tree containing ``path``; RunError when there is none."""
    key = os.path.abspath(path)
    if key in _roots:
        return _roots[key]
    proc = _git(["rev-parse", "--show-toplevel"], path, check=False)
    if proc.returncode != 0:
        raise RunError(f"{Path(path).resolve()} is not inside a git repository")
    _roots[key] = root = Path(proc.stdout.decode().strip())
    return root


def resolve(rev: str, cwd: str | Path) -> str | None:
    """The commit sha that ``rev`` names, or None when git does not know it."""
    proc = _git(
        ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
        cwd,
        check=False,
    )
    if proc.returncode != 0:
        return None
    return proc.stdout.decode().strip()


def resolve_on_remotes(rev: str, cwd: str | Path) -> tuple[str, str] | None:
    """``(remote/rev, sha)`` for a name git does not know locally but a remote's branch does.

    As DVC resolves revisions (scmrepo's ``resolve_rev``): ``main`` in a clone
    without a local ``main`` is ``origin/main`` when exactly one commit answers
    among ``refs/remotes/*/main``. None when no remote has it; several remotes
    naming different commits are an error, as in DVC.
    """
    proc = _git(["remote"], cwd, check=False)
    remotes = proc.stdout.decode().split() if proc.returncode == 0 else []
    found: dict[str, str] = {}  # sha -> the first remote ref naming it
    for remote in sorted(remotes, key=lambda r: (r != "origin", r)):
        sha = resolve(f"refs/remotes/{remote}/{rev}", cwd)
        if sha is not None:
            found.setdefault(sha, f"{remote}/{rev}")
    if len(found) > 1:
        names = ", ".join(sorted(found.values()))
        raise RunError(f"ambiguous revision '{rev}': {names} name different commits")
    if not found:
        return None
    sha, name = next(iter(found.items()))
    return name, sha


def has_commits(cwd: str | Path) -> bool:
    return resolve("HEAD", cwd) is not None


def current_branch(cwd: str | Path) -> str | None:
    proc = _git(["symbolic-ref", "--quiet", "--short", "HEAD"], cwd, check=False)
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def show_file(rev: str, path: str, cwd: str | Path) -> bytes | None:
    """The content of ``path`` (relative to ``cwd``, posix) at ``rev``, or None if absent.

    ``./`` makes git read the path from ``cwd``, which is the DVC project's folder
    (a subfolder of the repository for a ``dvc init --subdir`` project).
    """
    spec = path if path.startswith(("/", "./", "../")) else f"./{path}"
    key = ("show", rev, spec, os.path.abspath(cwd))
    if key in _at_commit:
        return _at_commit[key]
    proc = _git(["show", "--no-textconv", "--end-of-options", f"{rev}:{spec}"], cwd, check=False)
    if proc.returncode != 0:
        return None
    if _immutable(rev) and len(proc.stdout) <= _KEEP_AT_MOST:
        _at_commit[key] = proc.stdout
    return proc.stdout


def files_at(rev: str, cwd: str | Path) -> list[str]:
    """The names of the files directly in ``cwd`` (a folder of the repository) at ``rev``."""
    proc = _git(["ls-tree", "-z", "--name-only", "--end-of-options", rev, "./"], cwd, check=False)
    if proc.returncode != 0:
        return []
    return [Path(n).name for n in proc.stdout.decode(errors="replace").split("\0") if n]


def author_name(cwd: str | Path) -> str | None:
    """The name git would write as the author of a commit here (config or $GIT_AUTHOR_NAME)."""
    proc = _git(["var", "GIT_AUTHOR_IDENT"], cwd, check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout.decode(errors="replace").rsplit(" <", 1)[0].strip() or None


def copy_blob(blob: str, dest: Path, cwd: str | Path) -> None:
    """Write the content of ``blob`` to ``dest``, streamed (large data files stay out of memory)."""
    if not is_sha(blob):
        raise GitError(f"not an object name: {blob[:80]!r}")
    env = env_for_git()
    with dest.open("wb") as out:
        proc = subprocess.run(
            ["git", *NO_HOOKS, "cat-file", "blob", blob],
            cwd=cwd,
            stdout=out,
            stderr=subprocess.PIPE,
            env=env,
            check=False,
        )
    if proc.returncode != 0:
        raise GitError(proc.stderr.decode(errors="replace").strip() or f"cannot read blob {blob}")


def default_base(cwd: str | Path, fallback: str = "main") -> str:
    """The local default base: the remote's default branch if known, else ``fallback``.

    ``origin/HEAD`` names the remote's default branch when the clone set it;
    otherwise the upstream of ``fallback`` (``origin/main``), then ``fallback``.
    """
    proc = _git(
        ["symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD"], cwd, check=False
    )
    if proc.returncode == 0 and proc.stdout.strip():
        return proc.stdout.decode().strip()
    proc = _git(
        ["rev-parse", "--abbrev-ref", "--symbolic-full-name", f"{fallback}@{{upstream}}"],
        cwd,
        check=False,
    )
    if proc.returncode == 0 and proc.stdout.strip():
        return proc.stdout.decode().strip()
    return fallback


def git_path(name: str, cwd: str | Path) -> Path:
    """Where git keeps ``name`` (``hooks``, ...) for this work tree, as an absolute path.

    Asks git, so ``core.hooksPath``, linked worktrees and ``$GIT_DIR`` are honoured.
    """
    root = repo_root(cwd)
    # the repository's own core.hooksPath, not the null one mlci's git runs with (rev-parse
    # runs no hook)
    answer = _git(["rev-parse", "--git-path", name], root, hooks_off=False)
    path = Path(answer.stdout.decode(errors="replace").strip())
    return path if path.is_absolute() else (root / path)


def is_shallow(cwd: str | Path) -> bool:
    return output(["rev-parse", "--is-shallow-repository"], cwd) == "true"


def has_uncommitted(cwd: str | Path) -> bool:
    """True when tracked files differ from HEAD (untracked files do not count)."""
    return bool(output(["status", "--porcelain", "--untracked-files=no"], cwd))


def merge_base(a: str, b: str, cwd: str | Path) -> str | None:
    """The common ancestor of two revisions; None when there is none in this clone (shallow)."""
    proc = _git(["merge-base", "--end-of-options", a, b], cwd, check=False)
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def remote_head(remote: str, cwd: str | Path) -> str | None:
    """The remote's default branch as ``<remote>/<branch>``, when the clone recorded it."""
    proc = _git(
        ["symbolic-ref", "--quiet", "--short", f"refs/remotes/{remote}/HEAD"], cwd, check=False
    )
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def fetch(remote: str, ref: str, cwd: str | Path, *, depth: int | None = None) -> bool:
    """Fetch ``ref`` from ``remote``; True when it worked."""
    if not (is_sha(ref) or is_ref_name(ref)):
        return False  # an event's value that git would read as an option, never passed on
    args = ["fetch", "--no-tags", "--quiet"]
    if depth:
        args.append(f"--depth={depth}")
    proc = _git([*args, "--end-of-options", remote, ref], cwd, check=False)
    return proc.returncode == 0


def common_dir(cwd: str | Path) -> Path:
    """The git directory shared by all work trees (``.git`` of the main clone): caches live there."""
    path = Path(output(["rev-parse", "--git-common-dir"], cwd))
    return path if path.is_absolute() else (Path(cwd) / path).resolve()


def blob_id(rev: str, path: str, cwd: str | Path) -> str | None:
    """The blob sha of the file ``path`` at ``rev`` (no content read), or None when absent."""
    key = ("blob", rev, path, os.path.abspath(cwd))
    if key in _at_commit:
        return _at_commit[key].decode()
    proc = _git(["ls-tree", "-z", "--end-of-options", rev, "--", path], cwd, check=False)
    if proc.returncode != 0 or not proc.stdout:
        return None
    meta, _, name = proc.stdout.rstrip(b"\0").partition(b"\t")
    parts = meta.split()
    if len(parts) != 3 or parts[1] != b"blob" or name.decode(errors="replace") != path:
        return None
    if _immutable(rev):
        _at_commit[key] = parts[2]
    return parts[2].decode()


def remote_url(name: str, cwd: str | Path) -> str | None:
    proc = _git(["remote", "get-url", name], cwd, check=False)
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def remote_branch_tip(remote: str, branch: str, cwd: str | Path) -> str | None:
    """The commit ``branch`` points at on ``remote`` now (``git ls-remote``), or None."""
    proc = _git(
        ["ls-remote", "--heads", "--end-of-options", remote, f"refs/heads/{branch}"],
        cwd,
        check=False,
    )
    if proc.returncode != 0:
        return None
    for line in proc.stdout.decode().splitlines():
        sha, _, ref = line.partition("\t")
        if ref.strip() == f"refs/heads/{branch}":
            return sha.strip()
    return None


def same_as(rev: str, path: str, cwd: str | Path) -> bool:
    """Whether the work tree's ``path`` is the same as at ``rev`` (both absent counts as the same)."""
    proc = _git(
        ["diff", "--quiet", "--no-ext-diff", "--no-textconv", "--end-of-options", rev, "--", path],
        cwd,
        check=False,
    )
    if proc.returncode not in (0, 1):
        return True  # git could not tell (e.g. rev missing): say nothing rather than guess
    untracked = _git(["ls-files", "--others", "--exclude-standard", "--", path], cwd, check=False)
    return proc.returncode == 0 and not untracked.stdout.strip()


def count_commits(since: str, until: str, cwd: str | Path) -> int | None:
    """How many commits ``until`` has that ``since`` has not (``git rev-list --count``)."""
    proc = _git(["rev-list", "--count", "--end-of-options", f"{since}..{until}"], cwd, check=False)
    if proc.returncode != 0:
        return None
    return int(proc.stdout.decode().strip() or 0)


def all_files(rev: str | None, cwd: str | Path) -> list[str]:
    """Every file path (repository-relative, posix) at ``rev``; None: the work tree's files.

    The work tree's are those git tracks plus new ones it does not ignore.
    """
    if rev is None:
        args = ["ls-files", "-z", "--full-name", "--cached", "--others", "--exclude-standard"]
    else:
        args = ["ls-tree", "-r", "-z", "--full-tree", "--name-only", "--end-of-options", rev]
    proc = _git(args, cwd, check=False)
    if proc.returncode != 0:
        return []
    names = proc.stdout.decode("utf-8", errors="replace").split("\0")
    return sorted({n for n in names if n})


# --- what a pipeline must not touch: git's own configuration and hooks -----------------------

_HOOK_FILES_AT_MOST = 512  # files of a hooks folder read for the comparison; more is a change


@dataclass(frozen=True)
class GitFiles:
    """The content of the files that tell git what to run, taken before a pipeline runs.

    ``files`` maps each file's absolute path to its bytes (None: absent); ``names`` says how
    the report names each (``.git/config``, ``.git/hooks/pre-push``, ``~/.gitconfig``).
    """

    files: dict[Path, bytes | None]
    names: dict[Path, str]
    hook_dirs: tuple[Path, ...]


def _read(path: Path) -> bytes | None:
    try:
        if path.is_symlink():
            return b"symlink:" + os.readlink(path).encode(errors="surrogateescape")
        return path.read_bytes() if path.is_file() else None
    except OSError:
        return None


def _hook_files(folder: Path) -> list[Path]:
    try:
        found = sorted(p for p in folder.iterdir() if not p.is_dir() or p.is_symlink())
    except OSError:
        return []
    return found[: _HOOK_FILES_AT_MOST + 1]


def _watched(root: Path) -> tuple[dict[Path, str], tuple[Path, ...]]:
    top = repo_root(root)
    common = common_dir(top)
    own = Path(output(["rev-parse", "--absolute-git-dir"], top))
    home = Path(os.path.expanduser("~"))
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    names = {
        common / "config": ".git/config",
        own / "config.worktree": ".git/config.worktree",
        common / "info" / "attributes": ".git/info/attributes",
        top / ".gitmodules": ".gitmodules",
        top / ".gitattributes": ".gitattributes",
        home / ".gitconfig": "~/.gitconfig",
        xdg / "git" / "config": "~/.config/git/config",
    }
    hook_dirs: tuple[Path, ...] = (common / "hooks",)
    configured = git_path("hooks", top)  # core.hooksPath, when the repository sets one
    if configured.resolve() != (common / "hooks").resolve():
        hook_dirs += (configured,)
    for folder in hook_dirs:
        for hook in _hook_files(folder):
            names[hook] = f".git/hooks/{hook.name}"
    return names, hook_dirs


def snapshot_git_files(root: str | Path) -> GitFiles:
    """What git's configuration, hooks and ``.gitmodules`` hold now (see :func:`changed_git_files`)."""
    names, hook_dirs = _watched(Path(root))
    return GitFiles({p: _read(p) for p in names}, names, hook_dirs)


def changed_git_files(before: GitFiles) -> list[str]:
    """The files of ``before`` that differ now, and files that appeared in a hooks folder."""
    changed = [before.names[p] for p in before.files if _read(p) != before.files[p]]
    for folder in before.hook_dirs:
        for hook in _hook_files(folder):
            if hook not in before.files:
                changed.append(f".git/hooks/{hook.name}")
    return sorted(set(changed))


def restore_git_files(before: GitFiles) -> None:
    """Put back what ``before`` saw: changed files rewritten, new hooks removed."""
    for path, content in before.files.items():
        if _read(path) == content:
            continue
        if path.is_symlink() or (content is None and path.exists() and not path.is_dir()):
            path.unlink()
        if content is not None and not content.startswith(b"symlink:"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    for folder in before.hook_dirs:
        for hook in _hook_files(folder):
            if hook not in before.files:
                hook.unlink()


def read_blobs(specs: list[str], cwd: str | Path) -> dict[str, tuple[str, bytes] | None]:
    """``rev:./path`` -> (blob id, content), or None when absent: one ``git cat-file --batch``.

    For reading one file at many commits (the results history checks each recorded
    value against its commit's files) without a process per file.
    """
    wanted = [s for s in dict.fromkeys(specs) if "\n" not in s and "\0" not in s]
    out: dict[str, tuple[str, bytes] | None] = dict.fromkeys(specs)
    if not wanted:
        return out
    env = dict(os.environ, LC_ALL="C")
    try:
        proc = subprocess.run(
            ["git", *NO_HOOKS, "cat-file", "--batch"],
            cwd=cwd,
            input=("\n".join(wanted) + "\n").encode("utf-8", errors="surrogateescape"),
            capture_output=True,
            env=env,
            check=False,
        )
    except FileNotFoundError as exc:  # pragma: no cover - git is a documented requirement
        raise GitError("git is not installed or not on PATH") from exc
    data, pos = proc.stdout, 0
    for spec in wanted:
        end = data.find(b"\n", pos)
        if end < 0:
            break
        header = data[pos:end].decode("utf-8", errors="replace").split()
        pos = end + 1
        if len(header) == 3 and header[2].isdigit():
            size = int(header[2])
            if header[1] == "blob":
                out[spec] = (header[0], data[pos : pos + size])
            pos += size + 1  # the content and its newline
    return out
