"""What a model card is made of, read from the repository: ``dvc.lock`` and the environment files.

The card (:mod:`mlci.model.card`) needs the data and code a model came from
(every dep and out that ``dvc.lock`` pins, with its hash) and the Python
packages it was built with. Both are read from a commit through git, or, for
``dvc.lock`` after a reproduction, from the work tree that produced the model.

:func:`of_commit` gathers the card of any commit for ``mlci card``: its
champion from the registry (the version it replaced when it was deployed, else
the alias's holder now) and the comparison with it (:mod:`mlci.engine.challenger`).
"""

from __future__ import annotations

import dataclasses
import datetime
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci.adapters import git
from mlci.adapters.mlflow import TAG, MlflowError, Tracker, Version
from mlci.engine import challenger
from mlci.model import yamlread
from mlci.model.card import Champion, LockedPath, ModelCard, Package
from mlci.model.config import Config, DeployConfig
from mlci.model.result import MetricDelta, Result

LOCK = "dvc.lock"
# the value each kind of DVC output records, in the order DVC prefers them
_HASH_KEYS = ("md5", "etag", "checksum", "version_id", "sha256")


def _entries(doc: Any, folder: str = "") -> list[LockedPath]:
    """What one ``dvc.lock`` pins; ``folder``: where it lives in the project ("" at the root).

    A lock file in a subfolder names its paths from there and its stages as DVC does
    (``sub/dvc.yaml:train``); both are given from the project's root here.
    """
    out: list[LockedPath] = []
    stages = doc.get("stages") if isinstance(doc, dict) else None
    if not isinstance(stages, dict):
        return out
    for stage, body in stages.items():
        if not isinstance(body, dict):
            continue
        name = f"{folder}/dvc.yaml:{stage}" if folder else str(stage)
        for kind, key in (("dep", "deps"), ("out", "outs")):
            for entry in body.get(key) or ():
                if not isinstance(entry, dict) or not entry.get("path"):
                    continue
                hash_name = next((k for k in _HASH_KEYS if entry.get(k)), None)
                size, nfiles = entry.get("size"), entry.get("nfiles")
                path = str(entry["path"])
                if folder and "://" not in path:
                    path = posixpath.normpath(posixpath.join(folder, path))
                out.append(
                    LockedPath(
                        stage=name,
                        kind=kind,
                        path=path,
                        hash=str(entry[hash_name]) if hash_name else None,
                        hash_name=hash_name,
                        size=size if isinstance(size, int) else None,
                        nfiles=nfiles if isinstance(nfiles, int) else None,
                    )
                )
    return out


def _lock_files(project_root: Path, rev: str | None) -> list[tuple[str, bytes]]:
    """Every ``dvc.lock`` of the project at ``rev`` (None: the work tree), project-relative,
    the root's first, with its content."""
    git_root = git.repo_root(project_root)
    prefix = project_root.resolve().relative_to(git_root.resolve()).as_posix()
    names = []
    for name in git.all_files(rev, git_root):
        if name != LOCK and not name.endswith("/" + LOCK):
            continue
        if prefix != ".":
            if not name.startswith(prefix + "/"):
                continue
            name = name[len(prefix) + 1 :]
        names.append(name)
    found = []
    for name in sorted(names, key=lambda n: (n.count("/"), n)):
        if rev is None:
            try:
                data: bytes | None = (project_root / name).read_bytes()
            except OSError:
                data = None  # tracked, but deleted in the work tree
        else:
            data = git.show_file(rev, name, project_root)
        if data is not None:
            found.append((name, data))
    return found


def locked_paths(project_root: Path, rev: str | None) -> tuple[str | None, tuple[LockedPath, ...]]:
    """Where the ``dvc.lock`` files were read (None: there is none) and what they pin.

    ``rev`` None reads the work tree's files (after a reproduction they are what
    produced the model being deployed); otherwise the files at that commit. A
    pipeline in a subfolder has its own ``dvc.lock``: every one is read.
    """
    return _pinned(_lock_files(project_root, rev), rev)


def _pinned(
    files: list[tuple[str, bytes]], rev: str | None
) -> tuple[str | None, tuple[LockedPath, ...]]:
    """:func:`locked_paths` of lock files already read by :func:`_lock_files`."""

    if not files:
        return None, ()
    names = ", ".join(name for name, _ in files)
    where = f"{names} (work tree)" if rev is None else f"{rev[:12]}:{names}"
    entries: list[LockedPath] = []
    for name, data in files:
        try:
            doc = yamlread.load(data)
        except yamlread.YamlRefused:
            continue
        entries += _entries(doc, posixpath.dirname(name))
    return where, tuple(entries)


def packages(git_root: Path, rev: str) -> tuple[tuple[str, ...], tuple[Package, ...]]:
    """The environment files at ``rev`` and what each declares, package by package.

    The same files the report's environment diff reads (:mod:`mlci.engine.environment`):
    ``requirements*.txt`` and the files they include, ``pyproject.toml``, the lock files,
    conda's files and the workflows' ``python-version``.
    """
    from mlci.engine import environment

    files = environment.declared(git_root, rev)
    found = [Package(d.name, path, d.spec, d.pinned) for path, env in files for d in env.entries]
    return tuple(path for path, _ in files), tuple(found)


def model_sha256(path: Path) -> str:
    """The model file's sha256 (a folder: its files' relative paths and contents, in order)."""
    import hashlib

    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with open(file, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def gather(
    result: Result,
    cfg: Config,
    *,
    project_root: Path,
    git_root: Path,
    lock_from_work_tree: bool,
    model: Path | None = None,
    **fields: Any,
) -> ModelCard:
    """A card for ``result``'s head commit: ``dvc.lock``, packages and rules read here.

    ``lock_from_work_tree``: a deploy that reproduced the pipeline deploys what
    the work tree's ``dvc.lock`` describes, which may be newer than the commit's.
    ``fields`` are the :class:`ModelCard` fields known to the caller (model name,
    alias, version, champion, challenge, who deployed it...).
    """
    sha = result.context.head.sha
    if lock_from_work_tree or not sha:
        lock_rev, lock_files = None, _lock_files(project_root, None)
        # the reproduction left them as committed: name the commit, as `mlci card` does
        if sha and lock_files == _lock_files(project_root, sha):
            lock_rev = sha
    else:
        lock_rev, lock_files = sha, _lock_files(project_root, sha)
    lock_file, locked = _pinned(lock_files, lock_rev)
    files, found = packages(git_root, sha) if sha else ((), ())
    dep = cfg.deploy
    return ModelCard(
        result=result,
        rules=tuple(r.to_dict() for r in cfg.metrics.rules),
        lock_file=lock_file,
        locked=locked,
        package_files=files,
        packages=found,
        model_path=dep.model_path if dep else None,
        model_sha256=model_sha256(model) if model is not None and model.exists() else None,
        tool_version=result.tool_version,
        **fields,
    )


# --- the card of a commit, deployed or not (`mlci card`) and of a promoted version ------------


def now_utc() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def local_deployer(root: Path) -> str:
    """Who runs mlci outside GitHub Actions: the name git would write as a commit's author."""
    name = git.author_name(root)
    return f"{name} (local mlci run)" if name else "a local mlci run (no git identity set)"


def champion_of(version: Version | None) -> Champion | None:
    return Champion(version.version, version.sha, version.run_id) if version else None


def _challenge(
    tracker: Tracker, against: Version | None, result: Result, cfg: Config, root: Path
) -> tuple[tuple[MetricDelta, ...], str | None]:
    # the same history (auto limits) as the deploy reads: the repository's, whatever the cwd
    deltas, refusals, notes = challenger.challenge(tracker, against, result, cfg, root)
    del refusals  # a card shows the comparison; deciding is deploy's job
    return tuple(deltas), "; ".join(notes) or None


def _branch_of(rev: str, sha: str, root: Path) -> str | None:
    """The branch ``rev`` names: the current one for HEAD, a branch name as given, or the
    local branch whose tip is ``sha``; None when no branch can be told (a bare sha, a tag)."""
    if rev == "HEAD":
        return git.current_branch(root)
    for ref in (f"refs/heads/{rev}", f"refs/remotes/origin/{rev}"):
        if git.resolve(ref, root) == sha:
            return rev
    if git.resolve("HEAD", root) == sha:
        return git.current_branch(root)
    return None


def _as_deployed(result: Result, version: Version) -> Result:
    """A deployed commit's card names the branch and CI run its version recorded."""
    tags = version.tags
    ctx = result.context
    head = dataclasses.replace(ctx.head, ref=tags.get(TAG + "git.branch") or ctx.head.ref)
    context = dataclasses.replace(ctx, head=head, run_url=tags.get(TAG + "run_url") or ctx.run_url)
    return dataclasses.replace(result, context=context)


@dataclass(frozen=True)
class CommitCard:
    """The card of a commit, and why its champion is missing when the registry could not be read."""

    card: ModelCard
    warning: str | None = None


def of_commit(
    result: Result,
    cfg: Config,
    dep: DeployConfig,
    *,
    rev: str,
    sha: str,
    project_root: Path,
    git_root: Path,
    env: Mapping[str, str],
    verbose: bool = False,
) -> CommitCard:
    """The card of ``result``'s head commit (named ``rev`` on the command line), deployed or not.

    The champion is the version this commit's own registered version replaced
    when it was deployed, else the version holding the alias now (the registry
    is the one ``cfg`` names, opened with ``env``). When the registry cannot be
    read the card has no champion and says why.
    """
    from mlci.adapters import mlflow

    head = dataclasses.replace(result.context.head, ref=_branch_of(rev, sha, project_root))
    result = dataclasses.replace(result, context=dataclasses.replace(result.context, head=head))

    name, alias = str(dep.model_name), dep.alias
    fields: dict[str, object] = {}
    warning = None
    try:
        tracker = mlflow.connect(cfg, git_root, env, verbose=verbose)
        mine = tracker.versions_of_commit(name, sha)
        if mine:
            # a deployed commit: its card compares it with the version it replaced back then
            replaced = mine[0].tags.get(TAG + "replaced_version")
            against = tracker.version(name, replaced) if replaced else None
            note = None if against else f"version {mine[0].version} replaced no version"
            fields["version"] = mine[0].version
            fields["mlflow_run_id"] = mine[0].run_id
            result = _as_deployed(result, mine[0])
            fields["model_sha256"] = mine[0].tags.get(TAG + "model.sha256")
            holder = tracker.alias(name, alias)  # which version is live now
            if holder is not None and holder.version != mine[0].version:
                fields["live"] = holder.version
                fields["rolled_back"] = mine[0].tags.get(TAG + "rolled_back_from") == "true"
        else:
            against = tracker.alias(name, alias)
            note = None
        deltas, challenge_note = _challenge(tracker, against, result, cfg, git_root)
        fields.update(
            champion=champion_of(against), challenge=deltas, challenge_note=note or challenge_note
        )
    except MlflowError as exc:  # a preview without the registry is still worth showing
        warning = str(exc)
        fields["challenge_note"] = f"the registry could not be read, so no champion is shown: {exc}"
    model_sha256 = fields.pop("model_sha256", None)
    card: ModelCard = gather(
        result,
        cfg,
        project_root=project_root,
        git_root=git_root,
        lock_from_work_tree=False,
        model_name=name,
        alias=alias,
        made_at=now_utc(),
        **fields,  # type: ignore[arg-type]
    )
    if model_sha256:  # what was deployed, as the version recorded it
        card = dataclasses.replace(card, model_sha256=str(model_sha256))
    return CommitCard(card, warning)
