"""The git pre-push hook: install, uninstall, and what it runs (``mlci hook run``).

The hook is a few lines of POSIX sh written into the directory git reads
hooks from (``git rev-parse --git-path hooks``, so ``core.hooksPath`` and
linked worktrees are honoured). It runs a hook that was there before (kept
beside it as ``pre-push.mlci-legacy``, with the same arguments and stdin; its
failure still blocks), then hands git's pre-push input to ``mlci hook run``
with the Python that installed it.

``mlci hook run`` checks each branch being pushed against the remote's base
branch, without reproducing: it compares metrics and params of the pushed
commit with the base and asks DVC whether ``dvc.lock`` is up to date
(``check --no-repro --lock-status``). Exit codes:

* 1 (the gate is closed) blocks the push;
* 2 or 3 (mlci could not check: a config error, an unknown base, DVC failed)
  print the problem and let the push through with a warning, because a
  pre-push hook that cannot run should not keep anyone from pushing; the
  pull request runs the same gate. ``mlci hook install --strict`` (or
  ``MLCI_HOOK_STRICT=1``) makes them block too.

Tags, other non-branch refs and branch deletions are not checked.
``git push --no-verify`` skips every pre-push hook; ``MLCI_SKIP=1`` skips
mlci's check only (a previous hook still runs).
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from mlci.adapters import git
from mlci.model.errors import EXIT_FAIL, EXIT_PASS, ConfigError, MlciError, RunError

HOOK = "pre-push"
LEGACY = "pre-push.mlci-legacy"
MARKER = "# mlci:pre-push-hook"
ZERO_SHA = "0" * 40
_FALSY = ("", "0", "false", "no", "off")

SCRIPT = """\
#!/bin/sh
{marker} v1 — installed by `mlci hook install`; `mlci hook uninstall` removes it
# and puts back the hook that was here before (kept as pre-push.mlci-legacy).
# It blocks a push when mlci's gate is closed. To push without the check:
#   git push --no-verify      (skips every pre-push hook)
#   MLCI_SKIP=1 git push      (skips mlci only)
mlci_python={python}
mlci_args={args}

# git sends the refs being pushed on stdin: read them once, for both hooks.
refs=$(cat)
refs_in() {{ if [ -n "$refs" ]; then printf '%s\\n' "$refs"; fi; }}

legacy="$(dirname "$0")/{legacy}"
if [ -x "$legacy" ]; then
    refs_in | "$legacy" "$@" || exit $?
fi

case "$(printf '%s' "${{MLCI_SKIP:-}}" | tr '[:upper:]' '[:lower:]')" in
    ""|0|false|no|off) ;;
    *) echo "mlci: MLCI_SKIP is set: push not checked" >&2; exit 0 ;;
esac

if [ -x "$mlci_python" ]; then
    refs_in | "$mlci_python" -m mlci hook run $mlci_args "$@"
elif command -v mlci >/dev/null 2>&1; then
    refs_in | mlci hook run $mlci_args "$@"
else
    echo "mlci: $mlci_python is gone and mlci is not on PATH: push not checked" >&2
    echo "mlci: run 'mlci hook install' again to repair the hook" >&2
fi
"""


def hooks_dir(cwd: str | Path) -> Path:
    return git.git_path("hooks", cwd)


def is_ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def script(python: str, *, strict: bool = False) -> str:
    return SCRIPT.format(
        marker=MARKER,
        python=shlex.quote(python),
        legacy=LEGACY,
        args="--strict" if strict else "''",
    )


def _write_executable(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def install(cwd: str | Path, *, strict: bool = False, python: str | None = None) -> list[str]:
    """Install the hook; returns what was done, one line each. Idempotent."""
    directory = hooks_dir(cwd)
    directory.mkdir(parents=True, exist_ok=True)
    path, legacy = directory / HOOK, directory / LEGACY
    text = script(python or sys.executable, strict=strict)
    lines = []
    if path.exists() and is_ours(path):
        if path.read_text(encoding="utf-8") == text:
            return [f"the mlci pre-push hook is already installed in {path}"]
        _write_executable(path, text)
        return [f"updated the mlci pre-push hook in {path}"]
    if path.exists() or path.is_symlink():
        if legacy.exists() or legacy.is_symlink():
            raise ConfigError(
                f"{path} is not mlci's hook and {legacy.name} exists too; move one of them away "
                "and run `mlci hook install` again"
            )
        path.rename(legacy)
        lines.append(f"kept the existing pre-push hook as {legacy}; it still runs first")
    _write_executable(path, text)
    lines.append(f"installed the mlci pre-push hook in {path}")
    root = git.repo_root(cwd)
    common = Path(git.output(["rev-parse", "--git-common-dir"], root))
    if not _is_within(directory, root) and not _is_within(directory, root / common):
        lines.append(
            f"note: {directory} (core.hooksPath) is outside this repository: "
            "the hook runs for every repository that uses it"
        )
    return lines


def uninstall(cwd: str | Path) -> list[str]:
    """Remove mlci's hook and restore the one it replaced."""
    directory = hooks_dir(cwd)
    path, legacy = directory / HOOK, directory / LEGACY
    if not path.exists() and not path.is_symlink():
        if legacy.exists() or legacy.is_symlink():  # ours was deleted by hand: put the old one back
            legacy.rename(path)
            return [f"no mlci hook in {directory}; restored the previous hook {path}"]
        return [f"no pre-push hook in {directory}: nothing to uninstall"]
    if not is_ours(path):
        return [f"{path} is not mlci's hook: left as it is"]
    path.unlink()
    if legacy.exists() or legacy.is_symlink():
        legacy.rename(path)
        return [f"removed the mlci pre-push hook; restored the previous hook {path}"]
    return [f"removed the mlci pre-push hook from {directory}"]


def _is_within(path: Path, parent: Path) -> bool:
    try:
        path.resolve().relative_to(parent.resolve())
        return True
    except ValueError:
        return False


# --- what the hook runs ------------------------------------------------------------


@dataclass(frozen=True)
class PushedRef:
    """One line of git's pre-push input."""

    local_ref: str
    local_sha: str
    remote_ref: str
    remote_sha: str

    @property
    def branch(self) -> str:
        return self.remote_ref.removeprefix("refs/heads/")


def parse_refs(text: str) -> list[PushedRef]:
    refs = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 4:
            refs.append(PushedRef(*fields))
    return refs


def to_check(refs: list[PushedRef]) -> tuple[list[PushedRef], list[str]]:
    """The branch updates worth checking, and a line for each ref that is not."""
    checked: list[PushedRef] = []
    skipped = []
    seen = set()
    for ref in refs:
        if ref.local_sha == ZERO_SHA:
            skipped.append(f"deleting {ref.remote_ref}: not checked")
        elif not ref.remote_ref.startswith("refs/heads/"):
            skipped.append(f"{ref.remote_ref} is not a branch: not checked")
        elif ref.local_sha not in seen:
            seen.add(ref.local_sha)
            checked.append(ref)
    return checked, skipped


def base_for(remote: str, configured: str | None, root: Path) -> str | None:
    """The remote's base branch, as this clone knows it (no fetch: a hook must be fast).

    ``base:`` from mlci.yaml on that remote, then the remote's default branch
    (``<remote>/HEAD``), then ``<remote>/main`` and ``<remote>/master``.
    """
    candidates = []
    if configured:
        candidates += [f"{remote}/{configured}", configured]
    head = git.remote_head(remote, root)
    if head:
        candidates.append(head)
    candidates += [f"{remote}/main", f"{remote}/master"]
    for name in candidates:
        if git.resolve(name, root):
            return name
    return None


def _head_name(ref: PushedRef, root: Path) -> str:
    """A readable name for the pushed commit: the local branch when it points there."""
    if (
        ref.local_ref.startswith("refs/heads/")
        and git.resolve(ref.local_ref, root) == ref.local_sha
    ):
        return ref.local_ref.removeprefix("refs/heads/")
    return ref.local_sha


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() not in _FALSY


def from_pre_commit(env: Mapping[str, str]) -> tuple[str | None, list[PushedRef] | None]:
    """The remote and the ref from pre-commit's ``PRE_COMMIT_*`` variables (pre-push stage).

    ``None`` refs when pre-commit was run by hand, without a push.
    """
    remote = env.get("PRE_COMMIT_REMOTE_NAME")
    to_ref = env.get("PRE_COMMIT_TO_REF")
    if not to_ref:
        return remote, None
    local = env.get("PRE_COMMIT_LOCAL_BRANCH") or "HEAD"
    remote_ref = env.get("PRE_COMMIT_REMOTE_BRANCH") or "refs/heads/" + local.removeprefix(
        "refs/heads/"
    )
    return remote, [
        PushedRef(local, to_ref, remote_ref, env.get("PRE_COMMIT_FROM_REF") or ZERO_SHA)
    ]


Echo = Callable[[str, bool], None]  # (text, to stderr)


def run(
    remote: str | None,
    refs: list[PushedRef] | None,
    *,
    cwd: Path,
    strict: bool,
    env: Mapping[str, str],
    echo: Echo,
) -> int:
    """Check what is being pushed; the exit code decides whether git pushes.

    ``refs`` None means "no push input": check the work tree against the
    default base (pre-commit run by hand).
    """
    if _truthy(env.get("MLCI_SKIP")):
        echo("mlci: MLCI_SKIP is set: push not checked", True)
        return EXIT_PASS
    strict = strict or _truthy(env.get("MLCI_HOOK_STRICT"))
    checked: list[PushedRef] = []
    if refs is not None:
        checked, skipped = to_check(refs)
        for line in skipped:
            echo(f"mlci: {line}", True)
        if not checked:  # tags and deletions only: done before anything heavy is imported
            return EXIT_PASS
    try:
        root = git.repo_root(cwd)
    except MlciError as exc:
        return _cannot_check("this push", exc, strict, echo)
    if refs is not None:
        # before DVC is imported: a push that changes nothing the gate reads needs no check
        checked = [ref for ref in checked if not _untouched(remote or "origin", ref, root, echo)]
        if not checked:
            return EXIT_PASS
    try:
        from mlci import configfile as config
        from mlci.adapters import dvc

        if not (root / config.DEFAULT_CONFIG).exists() and not dvc.is_dvc_repo(root):
            echo("mlci: no mlci.yaml and no DVC project here: push not checked", True)
            return EXIT_PASS
        cfg = config.load(None, root)
    except MlciError as exc:
        return _cannot_check("this push", exc, strict, echo)

    if refs is None:
        return _check_one(root, None, None, None, strict, echo)
    remote = remote or "origin"
    base = base_for(remote, cfg.base, root)
    if base is None:
        echo(
            f"mlci: {remote} has no base branch this clone knows (tried {remote}/HEAD, "
            f"{remote}/main, {remote}/master): nothing to compare with, push not checked; "
            f"`git fetch {remote}` to get it",
            True,
        )
        return EXIT_PASS
    codes = [_check_one(root, base, ref, _head_name(ref, root), strict, echo) for ref in checked]
    if EXIT_FAIL in codes:
        echo(
            "mlci: push blocked: the gate is closed. Fix it, or push anyway with "
            "`git push --no-verify` (or MLCI_SKIP=1).",
            True,
        )
    return max(codes)


def _untouched(remote: str, ref: PushedRef, root: Path, echo: Echo) -> bool:
    """True (and says so) when the push of ``ref`` changes no file the gate depends on.

    Compared: the commit the remote branch has now (any push, a force push too) or, for a
    new branch, the base branch's tip, with the pushed commit. Whatever cannot be decided
    cheaply is False: the full check runs.
    """
    from mlci.engine import pushscope

    try:
        old = ref.remote_sha if ref.remote_sha != ZERO_SHA else None
        if old is not None and git.resolve(old, root) is None:
            return False  # the remote moved to a commit this clone has not fetched
        if old is None:
            settled, configured = pushscope.configured_base(ref.local_sha, root)
            base = base_for(remote, configured, root) if settled else None
            old = git.resolve(base, root) if base else None
            if old is None:
                return False
        if pushscope.untouched(old, ref.local_sha, root) is not True:
            return False
    except Exception:  # noqa: BLE001 - any surprise here means "check it the full way"
        return False
    echo(
        f"mlci: {ref.branch}: the push changes no file the gate depends on: nothing to check", True
    )
    return True


def _check_one(
    root: Path, base: str | None, ref: PushedRef | None, head: str | None, strict: bool, echo: Echo
) -> int:
    from mlci.engine.check import CheckOptions, run_check

    what = ref.branch if ref else "the work tree"
    if ref is not None and base is not None and git.resolve(base, root) == ref.local_sha:
        echo(f"mlci: {what} is the same commit as {base}: nothing to check", True)
        return EXIT_PASS
    if ref is not None:
        elsewhere = git.resolve("HEAD", root) != ref.local_sha
        # the pushed commit is checked, never the work tree that happens to be checked out
        echo(
            f"mlci: checking {what} ({ref.local_sha[:7]}) against {base}"
            + (
                ": it is not the commit checked out, so it is checked as committed, "
                "not against the work tree"
                if elsewhere
                else ""
            ),
            True,
        )
    from mlci.adapters import dvc

    try:
        with dvc.shared_repo(root) if dvc.is_dvc_repo(root) else nullcontext():
            result, _ = run_check(
                CheckOptions(cwd=root, base=base, head=head, repro=False, lock_status=True)
            )
    except MlciError as exc:
        return _cannot_check(what, exc, strict, echo)
    except Exception as exc:  # noqa: BLE001 - a bug (ours or DVC's) is "could not check", not a closed gate
        import traceback

        echo(traceback.format_exc().rstrip(), True)
        return _cannot_check(
            what, RunError(f"internal error: {type(exc).__name__}: {exc}"), strict, echo
        )
    from mlci.report import terminal

    # on stderr, like git's own messages: stdout belongs to `git push --porcelain`
    color = sys.stderr.isatty() and not os.environ.get("NO_COLOR")
    echo(terminal.text(result, color=color).rstrip("\n"), True)
    return EXIT_FAIL if result.verdict == "fail" else EXIT_PASS


def _cannot_check(what: str, exc: MlciError, strict: bool, echo: Echo) -> int:
    echo(f"mlci: error: {exc}", True)
    if strict:
        echo(
            f"mlci: could not check {what}; push blocked (strict mode). Push anyway with "
            "`git push --no-verify` (or MLCI_SKIP=1).",
            True,
        )
        return exc.exit_code
    echo(
        f"mlci: warning: could not check {what} (exit {exc.exit_code}); pushing anyway. "
        "The pull request runs the same gate. (`mlci hook install --strict` blocks instead.)",
        True,
    )
    return EXIT_PASS


# --- the CLI's entry points -------------------------------------------------------------


def install_command(*, strict: bool = False) -> int:
    """``mlci hook install``."""
    from mlci.commands.common import say

    for line in install(Path.cwd(), strict=strict):
        say(line)
    return EXIT_PASS


def uninstall_command() -> int:
    """``mlci hook uninstall``."""
    from mlci.commands.common import say

    for line in uninstall(Path.cwd()):
        say(line)
    return EXIT_PASS


def run_command(
    remote: str | None, url: str | None, *, strict: bool = False, pre_commit: bool = False
) -> int:
    """``mlci hook run``: the refs come from stdin (git) or pre-commit's variables."""
    from mlci.commands.common import say

    if pre_commit:
        env_remote, refs = from_pre_commit(os.environ)
        remote = remote or env_remote
    else:
        refs = parse_refs(sys.stdin.read())
    return run(
        remote,
        refs,
        cwd=Path.cwd(),
        strict=strict,
        env=os.environ,
        echo=lambda text, err: say(text, err=err),
    )
