"""What each stage of the pipeline depends on, as DVC resolves it (``foreach``, ``wdir``, vars)."""

from __future__ import annotations

from pathlib import Path

from mlci.adapters.dvc import DvcError, describe, open_repo, quiet_dvc


def stage_deps(root: Path, rev: str | None = None) -> dict[str, tuple[str, ...]]:
    """Stage name -> its ``deps`` (files and folders, relative to ``root``, posix).

    ``rev`` None reads the work tree's ``dvc.yaml``; otherwise that commit's. Params files
    count as deps (a stage that reads ``params.yaml`` depends on it). A pipeline DVC cannot
    read is a :class:`DvcError`.
    """
    with open_repo(root) as repo:
        from dvc.exceptions import DvcException

        try:
            with quiet_dvc():
                if rev is None:
                    return _deps(repo)
                with repo.switch(rev):
                    return _deps(repo)
        except DvcException as exc:
            raise DvcError(f"DVC cannot read the pipeline: {describe(exc)}") from exc


def _deps(repo: object) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for stage in repo.index.stages:  # type: ignore[attr-defined]
        paths = []
        for dep in stage.deps:
            rel = repo.fs.relpath(dep.fs_path, repo.root_dir)  # type: ignore[attr-defined]
            paths.append(Path(rel).as_posix())
        out[stage.addressing] = tuple(dict.fromkeys(paths))
    return out
