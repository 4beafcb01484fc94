"""The environment step: which packages the head's environment files change against the base.

Results change when the environment changes, so the report lists, package by package, what
``requirements*.txt`` (and the files they include), ``pyproject.toml``, the lock files, the
conda files and the workflow's ``python-version`` say differently at the head, and which
stages depend on a changed file. ``environment.unpinned: warn`` also flags requirements
without an exact pin in files a stage depends on. Parsing is :mod:`mlci.engine.envfiles`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from mlci.adapters import git
from mlci.engine import envfiles
from mlci.engine.step import Run, StepOutcome
from mlci.model.config import Config
from mlci.model.paths import clean_path, join_path
from mlci.model.result import Environment, EnvStage, PackageChange, Reason, Repro

# folders whose files belong to other projects (vendored code, virtual environments)
_SKIP_DIRS = {"node_modules", ".venv", "venv", "site-packages", ".tox", ".nox"}
MAX_UNPINNED_REASONS = 20  # one reason each; the rest are counted in one more


@dataclass
class EnvironmentOutcome:
    environment: Environment | None = None
    reasons: list[Reason] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # changed files no stage depends on (DVC reruns nothing for them), with the requirements
    # they leave unpinned at the head: path -> ["name spec (path:line)", ...]
    undeclared: dict[str, list[str]] = field(default_factory=dict)


class _Side:
    """The environment files of one revision (``rev`` None: the work tree), read once each."""

    def __init__(self, git_root: Path, rev: str | None) -> None:
        self.git_root, self.rev = git_root, rev
        self.names = set(git.all_files(rev, git_root))
        self._bytes: dict[str, bytes | None] = {}
        self._parsed: dict[str, envfiles.EnvFile | None] = {}
        self.refused: dict[str, str] = {}  # path -> why it was not read (never its content)

    def content(self, path: str) -> bytes | None:
        if path not in self._bytes:
            why = self._outside(path)
            if why is not None:
                self.refused[path] = why
                self._bytes[path] = None
            elif self.rev is None:
                file = self.git_root / path
                self._bytes[path] = _bounded_read(file)
                if self._bytes[path] is None and file.is_file():
                    self.refused[path] = f"larger than {MAX_FILE_BYTES:,} bytes"
            else:
                data = git.show_file(self.rev, path, self.git_root)
                if data is not None and len(data) > MAX_FILE_BYTES:
                    self.refused[path] = f"{len(data):,} bytes, more than {MAX_FILE_BYTES:,}"
                    data = None
                self._bytes[path] = data
        return self._bytes[path]

    def _outside(self, path: str) -> str | None:
        """Why ``path`` is not the repository's own file to read, or None.

        An include is the pull request's text: ``-r /etc/passwd``, ``-r ../../x``,
        ``-r .git/config`` or a link out of the tree would put another file's lines in the
        report. At a commit git reads only the tree; in the work tree a link must stay inside.
        """
        pure = PurePosixPath(path)
        if pure.is_absolute() or Path(path).is_absolute() or path.startswith("~"):
            return "an absolute path, outside the repository"
        if ".." in pure.parts:
            return "outside the repository"
        if any(part == ".git" for part in pure.parts):
            return "inside .git, not a file of the repository"
        if self.rev is None:
            file = self.git_root / path
            try:
                resolved = file.resolve()
            except (OSError, RuntimeError):
                return "a link that cannot be followed"
            if not resolved.is_relative_to(self.git_root.resolve()):
                return "a link out of the repository"
            if ".git" in resolved.relative_to(self.git_root.resolve()).parts:
                return "a link into .git"
        return None

    def includes(self, path: str, kind: str = "requirements") -> tuple[str, ...]:
        """What the file ``path`` includes (``-r``/``-c``); a requirements file's requirements
        are parsed only when they are compared or checked for pins."""
        if kind != "requirements":
            env = self.parsed(path, kind)
            return env.includes if env else ()
        if path in self._parsed:
            env = self._parsed[path]
            return env.includes if env else ()
        data = self.content(path)
        if data is None:
            return ()
        return envfiles.requirement_includes(path, data.decode("utf-8", errors="replace"))

    def parsed(self, path: str, kind: str) -> envfiles.EnvFile | None:
        if path not in self._parsed:
            data = self.content(path)
            self._parsed[path] = (
                None
                if data is None
                else envfiles.parse(path, data.decode("utf-8", errors="replace"), kind)
            )
        return self._parsed[path]


MAX_FILE_BYTES = 4 * 1024 * 1024  # an environment file larger than this is not read


def _bounded_read(file: Path) -> bytes | None:
    """A regular file's bytes, up to :data:`MAX_FILE_BYTES` (a larger one counts as absent)."""
    try:
        if not file.is_file():
            return None
        with file.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None
    return None if len(data) > MAX_FILE_BYTES else data


def refused_includes(sides: list[_Side]) -> list[str]:
    """One line per file an environment file names but mlci would not read (never its content)."""
    seen: dict[str, str] = {}
    for side in sides:
        seen.update(side.refused)
    return [f"{path}: not read ({why})" for path, why in sorted(seen.items())]


def _candidates(names: set[str]) -> dict[str, str]:
    out = {}
    for name in sorted(names):
        if _SKIP_DIRS & set(PurePosixPath(name).parts[:-1]):
            continue
        kind = envfiles.kind_of(name)
        if kind is not None:
            out[name] = kind
    return out


def _with_includes(files: dict[str, str], sides: list[_Side]) -> dict[str, str]:
    """Add the files that requirement files (and conda's ``pip:`` lists) include (``-r``/``-c``),
    whatever their names."""
    todo = [p for p, k in files.items() if k in ("requirements", "conda")]
    while todo:
        path = todo.pop()
        for side in sides:
            for included in side.includes(path, files.get(path, "requirements")):
                if included not in files:
                    files[included] = "requirements"
                    todo.append(included)
    return files


def _scaffolded(path: str, kind: str, base: _Side, head: _Side) -> bool:
    """The workflow ``mlci init`` writes, added in this head: CI's set-up, not a package change
    of the pipeline (its ``python-version`` is the one the check already runs with)."""
    if kind != "workflow" or base.content(path) is not None:
        return False
    return b"`mlci init`" in (head.content(path) or b"")


def declared(git_root: Path, rev: str | None) -> list[tuple[str, envfiles.EnvFile]]:
    """The environment files at ``rev`` (None: the work tree), each with what it declares.

    The same files the environment step compares: ``requirements*.txt`` and the
    files they include, ``pyproject.toml``, the lock files, conda's files and the
    workflows' ``python-version``; in path order. An include that is not there is
    left out.
    """
    side = _Side(git_root, rev)
    files = _with_includes(_candidates(side.names), [side])
    found = []
    for path, kind in sorted(files.items()):
        env = side.parsed(path, kind)
        if env is not None:
            found.append((path, env))
    return found


def _reaches(path: str, deps: dict[str, tuple[str, ...]]) -> list[str]:
    """The stages one of whose deps is ``path`` or a folder holding it."""
    return [
        stage
        for stage, stage_deps in deps.items()
        if any(path == clean_path(d) or path.startswith(clean_path(d) + "/") for d in stage_deps)
    ]


def _reach(
    files: dict[str, str], deps: dict[str, tuple[str, ...]], sides: list[_Side]
) -> dict[str, list[str]]:
    """File -> the stages that depend on it, directly or through a file that includes it.

    A stage that depends on ``requirements.txt`` depends on what its ``-r base.txt`` says
    too, although DVC only hashes ``requirements.txt``: that is the change worth flagging.
    """
    reach = {p: _reaches(p, deps) for p in files}
    todo = [p for p, stages in reach.items() if stages]
    while todo:
        path = todo.pop()
        for side in sides:
            env = side.parsed(path, files.get(path, "requirements"))
            for included in env.includes if env else ():
                known = reach.setdefault(included, [])
                new = [s for s in reach[path] if s not in known]
                if new:
                    known.extend(new)
                    todo.append(included)
    return reach


def environment_step(
    root: Path, base_sha: str, head_sha: str | None, cfg: Config, *, verbose: bool = False
) -> EnvironmentOutcome:
    """Compare the environment files at ``base_sha`` with the head (None: the work tree)."""
    outcome = EnvironmentOutcome()
    git_root = git.repo_root(root)
    sides = [_Side(git_root, base_sha), _Side(git_root, head_sha)]
    base, head = sides
    files = _with_includes(_candidates(base.names | head.names), sides)
    changed = sorted(
        p
        for p in files
        if base.content(p) != head.content(p) and not _scaffolded(p, files[p], base, head)
    )
    outcome.notes += [f"environment: {line}" for line in refused_includes(sides)]
    warn_unpinned = cfg.environment.unpinned == "warn"
    if not changed and not warn_unpinned:
        return outcome

    deps: dict[str, tuple[str, ...]] = {}
    try:
        from mlci.adapters import dvc
        from mlci.adapters.dvc.deps import stage_deps

        if dvc.is_dvc_repo(root):
            prefix = root.resolve().relative_to(git_root.resolve()).as_posix()
            found = stage_deps(root, head_sha)
            # stage deps are relative to the DVC project; environment files to the repository
            deps = {
                stage: tuple(join_path(prefix, p) for p in paths) for stage, paths in found.items()
            }
    except Exception as exc:  # noqa: BLE001 - the section is information: say why it is short
        outcome.notes.append(f"cannot tell which stages depend on the environment files: {exc}")

    if changed:
        packages: list[PackageChange] = []
        problems: list[str] = []
        for path in changed:
            old, new = base.parsed(path, files[path]), head.parsed(path, files[path])
            problems += [e.error for e in (old, new) if e is not None and e.error]
            for c in envfiles.diff(old, new):
                packages.append(PackageChange(path, c.key, c.status, c.base, c.head))
        reach = _reach(files, deps, sides)
        by_stage: dict[str, list[str]] = {}
        for path in changed:
            for stage in reach.get(path, ()):
                by_stage.setdefault(stage, []).append(path)
        outcome.environment = Environment(
            files=tuple(changed),
            packages=tuple(packages),
            stages=tuple(EnvStage(s, tuple(paths)) for s, paths in by_stage.items()),
            problems=tuple(dict.fromkeys(problems)),
        )
        for path in changed:
            if not reach.get(path) and files[path] in _PINNABLE and head.content(path):
                env = head.parsed(path, files[path])
                outcome.undeclared[path] = [
                    _requirement(e.name, e.spec) + (f" ({path}:{e.line})" if e.line else "")
                    for e in (env.entries if env else ())
                    if e.pinned is False
                ]
    if warn_unpinned:
        outcome.reasons += _unpinned(files, head, _reach(files, deps, [head]))
    return outcome


def _requirement(name: str, spec: str) -> str:
    """``scikit-learn>=1.5`` as written; ``pandas (any version)`` for a spec that is words."""
    return f"{name}{spec}" if spec[:1] in ("=", "<", ">", "~", "!", "[", "@") else f"{name} {spec}"


# the kinds whose requirements can be pinned or not (lock files always are)
_PINNABLE = ("requirements", "pyproject", "conda")


def _unpinned(files: dict[str, str], head: _Side, reach: dict[str, list[str]]) -> list[Reason]:
    """A requirement without one exact version, in a file (or its includes) a stage depends on.

    A changed file no stage depends on may not be the pipeline's (docs, tooling): its
    unpinned requirements are named in the environment note instead, never a warning."""
    locked_dirs = {
        str(PurePosixPath(p).parent)
        for p, kind in files.items()
        if kind in ("uv.lock", "poetry.lock", "pdm.lock") and head.content(p) is not None
    }
    checked = {
        path: stages
        for path, stages in reach.items()
        if stages and files.get(path, "requirements") in _PINNABLE
    }
    reasons: list[Reason] = []
    for path, stages in checked.items():
        kind = files.get(path, "requirements")
        if kind == "pyproject" and str(PurePosixPath(path).parent) in locked_dirs:
            continue  # its ranges are resolved to exact versions by the lock file next to it
        env = head.parsed(path, kind)
        if env is None:
            continue
        constrained = _pinned_by_constraints(path, files, head)
        for entry in env.entries:
            if entry.pinned is not False or entry.name in constrained:
                continue
            who = ", ".join(dict.fromkeys(stages))
            why = (
                f"{'stage' if len(stages) == 1 else 'stages'} {who} "
                f"{'depends' if len(stages) == 1 else 'depend'} on it"
            )
            reasons.append(
                Reason(
                    "environment",
                    "warn",
                    f"{entry.name} {entry.spec} in {path} is not pinned to one version ({why})",
                    file=path,
                    line=entry.line,
                )
            )
    if len(reasons) > MAX_UNPINNED_REASONS:
        more = len(reasons) - MAX_UNPINNED_REASONS
        reasons = reasons[:MAX_UNPINNED_REASONS] + [
            Reason("environment", "warn", f"{more} more requirements are not pinned to one version")
        ]
    return reasons


def _pinned_by_constraints(path: str, files: dict[str, str], head: _Side) -> set[str]:
    """Packages that a constraint file (``-c``) reached from ``path`` pins to one version."""
    out: set[str] = set()
    seen: set[str] = set()
    todo = [path]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        env = head.parsed(current, files.get(current, "requirements"))
        if env is None:
            continue
        todo += env.includes
        for c in env.constraints:
            found = head.parsed(c, "requirements")
            out |= {e.name for e in (found.entries if found else ()) if e.pinned}
    return out


class EnvironmentStep:
    """The environment files that differ from the base, and unpinned requirements (if asked)."""

    def run(self, run: Run) -> StepOutcome:
        target = run.target
        head = None if target.head_is_worktree else target.head_sha
        found = environment_step(target.root, target.base_sha, head, run.cfg, verbose=run.verbose)
        notes = [*found.notes, *_undeclared_notes(found.undeclared, run.repro)]
        return StepOutcome(
            reasons=tuple(found.reasons), notes=tuple(notes), environment=found.environment
        )


def _undeclared_notes(undeclared: dict[str, list[str]], repro: Repro | None) -> list[str]:
    """A changed environment file no stage declares: DVC reran nothing for it, so say which
    results come from the new environment (stages run here) and which from the old one."""
    if not undeclared:
        return []
    names = ", ".join(undeclared)
    said = f"{names} changed, but no stage declares {'it' if len(undeclared) == 1 else 'them'}"
    stages = repro.stages if repro is not None else ()
    ran = [s.name for s in stages if s.status == "ran"]
    old = [s.name for s in stages if s.status in ("cached", "restored", "unchanged")]
    if not stages:
        said += (
            ": nothing was reproduced here, so no result is known to come from the new "
            "environment (declare the file as a dependency of the stages that import it)"
        )
    else:
        if ran:
            said += f": ran under the new environment: {', '.join(ran)}"
        else:
            said += ": no stage ran under the new environment"
        if old:
            said += (
                f"; computed under the old one (restored from the cache or unchanged, since "
                f"DVC saw no change): {', '.join(old)}"
            )
    unpinned = [u for found in undeclared.values() for u in found]
    if unpinned:
        shown = ", ".join(unpinned[:5]) + (
            f" and {len(unpinned) - 5} more" if len(unpinned) > 5 else ""
        )
        said += f"; not pinned to one version: {shown}"
    return [said]
