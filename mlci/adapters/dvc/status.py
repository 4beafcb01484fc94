"""What ``dvc status`` says about the pipeline (in the work tree or at a commit), and
the outputs ``dvc.yaml`` declares."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci.adapters.dvc import _compat
from mlci.adapters.dvc.read import plot_files
from mlci.adapters.dvc.repo import DvcError, describe, open_repo, quiet_dvc


@dataclass(frozen=True)
class PipelineStatus:
    """``dvc status`` for the work tree, and the paths the pipeline writes."""

    changes: dict[str, Any]  # {stage: [changes]}, as `dvc status` lists them
    outputs: tuple[str, ...]  # repo-relative posix paths of every stage output


def pipeline_status(root: Path, rev: str | None = None, *, verbose: bool = False) -> PipelineStatus:
    """What ``dvc status`` says about the pipeline in the work tree, or at commit ``rev``.

    ``changes`` is empty when ``dvc.lock`` matches (DVC's "Data and pipelines
    are up to date"). In the work tree, hashes come from DVC's state database,
    so an unchanged tree costs a few stat calls. At a commit, DVC's brancher
    reads code and params from git; DVC-tracked data is not in git, so a data
    dependency is judged by the hash its producing stage (a ``.dvc`` file)
    records at that commit, as ``dvc repro`` compares a dependency with its
    upstream stage's output.
    """
    with open_repo(root, verbose) as repo:
        from dvc.exceptions import DvcException

        with quiet_dvc(verbose):
            try:
                if rev is None:
                    # what `dvc status` does (Repo.status: the repository lock, then each
                    # stage's status), with one index: Repo.status builds its own inside the
                    # lock and drops it, so asking for the stages after it parsed dvc.yaml and
                    # dvc.lock a second time
                    with _compat.repo_lock(repo):
                        index = repo.index
                        found = []
                        for stage in index.stages:
                            changes = stage.status(check_updates=True)
                            if changes:
                                found.append((stage.addressing, stage, changes[stage.addressing]))
                        status = _status_here(repo, found)
                    # reading the work tree's metrics next need not parse dvc.yaml again
                    _compat.keep_worktree_index(repo, index)
                    return status
                at_commit = None
                for _ in repo.brancher(revs=[rev], sha_only=True, workspace=False):
                    at_commit = _status_here(repo, _status_at_commit(repo))
            except DvcException as exc:
                where = "" if rev is None else f" at {rev[:7]}"
                raise DvcError(f"dvc status{where} failed: {describe(exc)}") from exc
    if at_commit is None:
        raise DvcError(f"DVC cannot read commit {rev}")
    return at_commit


def _status_at_commit(repo: Any) -> list[tuple[str, Any, list[Any]]]:
    """``Repo.status()`` for the revision the brancher is on: (name, stage, changes).

    ``Stage.status`` takes DVC's read/write lock on the repository's file
    system, which a git tree cannot be written to; reading an immutable commit
    needs no lock, so the undecorated method is called. Names are the ones
    ``dvc status`` prints at the project root.
    """
    from dvc.stage import PipelineStage

    found = []
    for stage in repo.index.stages:
        changes = _compat.unlocked_stage_status(stage)
        if not changes:
            continue
        file = Path(repo.fs.relpath(stage.path, repo.root_dir)).as_posix()
        name = (
            file
            if not isinstance(stage, PipelineStage)
            else (stage.name if file in ("dvc.yaml", "dvc.yml") else f"{file}:{stage.name}")
        )
        found.append((name, stage, next(iter(changes.values()))))
    return found


def _status_here(repo: Any, found: list[tuple[str, Any, list[Any]]]) -> PipelineStatus:
    """The status, with absent data deps judged by their producer's recorded hash."""
    produced = {o.fs_path: o.hash_info for o in repo.index.outs if o.hash_info}
    for _, stage, changes in found:
        for entry in changes:
            deps = entry.get("changed deps") if isinstance(entry, dict) else None
            if not deps:
                continue
            # absent (never pulled, or not in git at a commit) says nothing by itself; when
            # the stage producing that path records another hash, the dependency changed
            for dep in stage.deps:
                recorded = produced.get(dep.fs_path)
                if (
                    deps.get(str(dep)) == "deleted"
                    and recorded
                    and dep.hash_info
                    and dep.hash_info != recorded
                ):
                    deps[str(dep)] = "modified"
    outputs = tuple(
        Path(repo.fs.relpath(o.fs_path, repo.root_dir)).as_posix() for o in repo.index.outs
    )
    return PipelineStatus({name: changes for name, _, changes in found}, outputs)


@dataclass(frozen=True)
class PipelineOutput:
    """One file ``dvc.yaml`` declares: a stage's ``outs``/``metrics``/``plots``, a top-level
    ``metrics``/``plots`` entry, or an ``artifacts`` entry of ``type: model``."""

    path: str  # repo-relative, posix
    kind: str  # metric | plot | out | model
    stage: str | None
    cached: bool
    name: str | None = None  # the artifact's name, for kind model


def pipeline_outputs(root: Path, *, verbose: bool = False) -> list[PipelineOutput]:
    """The outputs DVC knows for the work tree's pipeline, in ``dvc.yaml`` order.

    Uses DVC's own index, so ``foreach``/``matrix`` stages, ``wdir`` and
    templated paths come out as DVC resolves them.
    """
    with open_repo(root, verbose) as repo:
        from dvc.exceptions import DvcException

        def rel(fs_path: str) -> str:
            return Path(repo.fs.relpath(fs_path, repo.root_dir)).as_posix()

        out: list[PipelineOutput] = []
        with quiet_dvc(verbose):
            try:
                for o in repo.index.outs:
                    kind = "metric" if o.metric else "plot" if o.plot else "out"
                    out.append(
                        PipelineOutput(rel(o.fs_path), kind, o.stage.addressing, bool(o.use_cache))
                    )
                for path in _compat.top_level_metrics(repo):
                    out.append(PipelineOutput(Path(path).as_posix(), "metric", None, False))
                # top-level plots (dvclive declares its plots there): their data files
                definitions = _compat.plot_definitions(repo)
                declared = {o.path for o in out}
                for content in (definitions.get("data") or {}).values():
                    for plot_id, props in ((content or {}).get("data") or {}).items():
                        for path in plot_files(plot_id, dict(props or {})):
                            if path not in declared:
                                out.append(PipelineOutput(path, "plot", None, False))
                # artifacts (`dvc.yaml` `artifacts:`), paths relative to their dvc.yaml
                for dvcyaml, artifacts in repo.artifacts.read().items():
                    base = posixpath.dirname(Path(dvcyaml).as_posix())
                    for name, artifact in artifacts.items():
                        if artifact.type == "model":
                            path = posixpath.normpath(posixpath.join(base, artifact.path))
                            out.append(PipelineOutput(path, "model", None, False, name))
            except DvcException as exc:
                raise DvcError(f"DVC cannot read the pipeline: {describe(exc)}") from exc
        return list(dict.fromkeys(out))  # a top-level metric may repeat a stage's
