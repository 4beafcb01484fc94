"""What a model card is made of, read from the repository: ``dvc.lock`` and the environment files.

The card (:mod:`mlci.model.card`) needs the data and code a model came from
(every dep and out that ``dvc.lock`` pins, with its hash) and the Python
packages it was built with. Both are read from a commit through git, or, for
``dvc.lock`` after a reproduction, from the work tree that produced the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlci.adapters import git
from mlci.model.card import LockedPath, ModelCard, Package
from mlci.model.config import Config
from mlci.model.result import Result

LOCK = "dvc.lock"
# the value each kind of DVC output records, in the order DVC prefers them
_HASH_KEYS = ("md5", "etag", "checksum", "version_id", "sha256")


def _entries(doc: Any) -> list[LockedPath]:
    out: list[LockedPath] = []
    stages = doc.get("stages") if isinstance(doc, dict) else None
    if not isinstance(stages, dict):
        return out
    for stage, body in stages.items():
        if not isinstance(body, dict):
            continue
        for kind, key in (("dep", "deps"), ("out", "outs")):
            for entry in body.get(key) or ():
                if not isinstance(entry, dict) or not entry.get("path"):
                    continue
                name = next((k for k in _HASH_KEYS if entry.get(k)), None)
                size, nfiles = entry.get("size"), entry.get("nfiles")
                out.append(
                    LockedPath(
                        stage=str(stage),
                        kind=kind,
                        path=str(entry["path"]),
                        hash=str(entry[name]) if name else None,
                        hash_name=name,
                        size=size if isinstance(size, int) else None,
                        nfiles=nfiles if isinstance(nfiles, int) else None,
                    )
                )
    return out


def locked_paths(project_root: Path, rev: str | None) -> tuple[str | None, tuple[LockedPath, ...]]:
    """Where ``dvc.lock`` was read (None: there is none) and what it pins.

    ``rev`` None reads the work tree's file (after a reproduction it is what
    produced the model being deployed); otherwise the file at that commit.
    """
    import yaml

    if rev is None:
        path = project_root / LOCK
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            return None, ()
        where = f"{LOCK} (work tree)"
    else:
        raw = git.show_file(rev, LOCK, project_root)
        if raw is None:
            return None, ()
        text, where = raw.decode("utf-8", errors="replace"), f"{rev[:12]}:{LOCK}"
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return where, ()
    return where, tuple(_entries(doc))


def _lock_as_committed(project_root: Path, rev: str) -> bool:
    """Whether the work tree's ``dvc.lock`` is byte for byte the one committed at ``rev``."""
    try:
        here = (project_root / LOCK).read_bytes()
    except OSError:
        return False
    return here == git.show_file(rev, LOCK, project_root)


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
    lock_rev = None if lock_from_work_tree or not sha else sha
    if lock_rev is None and sha and _lock_as_committed(project_root, sha):
        lock_rev = sha  # the reproduction left it as committed: name the commit, as `mlci card`
    lock_file, locked = locked_paths(project_root, lock_rev)
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
