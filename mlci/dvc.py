"""DVC, in process: the only module that imports ``dvc``.

Metrics and params are read the way ``dvc metrics diff`` / ``dvc params diff``
read them: DVC's brancher switches its filesystem to a git tree (or the DVC
cache for cached outputs) for each revision, so nothing is checked out and
the user's work tree, index and stash stay as they are. Both are gathered in
one pass over the revisions, with one ``Repo`` object.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.errors import RunError

WORKSPACE = "workspace"


class DvcError(RunError):
    """DVC failed in a way mlci cannot go on from."""


@dataclass
class RevisionData:
    """What one revision holds: parsed metric and param files, and read errors."""

    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # path -> message
    missing: set[str] = field(default_factory=set)  # declared but absent files
    found: bool = True  # False when the revision holds no DVC project


def is_dvc_repo(root: Path) -> bool:
    return (root / ".dvc").is_dir()


@contextmanager
def quiet_dvc(verbose: bool = False) -> Iterator[None]:
    """Keep DVC's own log lines (warnings about revisions) out of mlci's output."""
    log = logging.getLogger("dvc")
    old = log.level
    if not verbose:
        log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(old)


_shared: dict[Path, Any] = {}


@contextmanager
def shared_repo(root: Path, verbose: bool = False) -> Iterator[None]:
    """Within this block every :func:`open_repo` of ``root`` gets the same ``Repo``.

    Opening a Repo costs ~0.1 s; the pre-push hook asks DVC twice (status,
    then metrics), so it opens one. The brancher resets the Repo's index after
    each pass, so a shared Repo answers exactly as a fresh one would.
    """
    if root in _shared:
        yield
        return
    with open_repo(root, verbose) as repo:
        _shared[root] = repo
        try:
            yield
        finally:
            del _shared[root]


@contextmanager
def open_repo(root: Path, verbose: bool = False) -> Iterator[Any]:
    if root in _shared:
        with quiet_dvc(verbose):
            yield _shared[root]
        return
    with quiet_dvc(verbose):
        try:
            from dvc.repo import Repo
            from dvc.exceptions import DvcException
        except ImportError as exc:  # pragma: no cover - dvc is a hard dependency
            raise DvcError(f"cannot import DVC: {exc}") from exc
        try:
            repo = Repo(str(root))
        except DvcException as exc:
            raise DvcError(f"DVC cannot open {root}: {exc}") from exc
        try:
            yield repo
        finally:
            repo.close()


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0] if text else type(exc).__name__


def _is_missing(exc: BaseException) -> bool:
    from dvc.exceptions import FileMissingError

    if isinstance(exc, (FileNotFoundError, FileMissingError)):
        return True
    cause = exc.__cause__ or exc.__context__
    return cause is not None and _is_missing(cause)


def read_revisions(root: Path, revs: Iterable[str], *, verbose: bool = False) -> dict[str, RevisionData]:
    """Metrics and params declared by ``dvc.yaml`` at each revision.

    ``revs`` are commit shas or :data:`WORKSPACE`. Revisions without a DVC
    project come back with ``found=False``.
    """
    revs = list(dict.fromkeys(revs))
    wanted = [r for r in revs if r != WORKSPACE]
    out = {r: RevisionData(found=False) for r in revs}
    with open_repo(root, verbose) as repo:
        from dvc.repo.metrics.show import _gather_metrics
        from dvc.repo.params.show import _gather_params

        with quiet_dvc(verbose):
            for rev in repo.brancher(revs=wanted, sha_only=True, workspace=WORKSPACE in revs):
                data = RevisionData()
                try:
                    metrics = _gather_metrics(repo, on_error="return")
                    params = _gather_params(repo, on_error="return")
                except Exception as exc:  # noqa: BLE001 - a broken dvc.yaml at one revision
                    data.errors["dvc.yaml"] = _describe(exc)
                    out[rev] = data
                    continue
                for kind, results in (("metrics", metrics), ("params", params)):
                    target = getattr(data, kind)
                    for path, result in results.items():
                        key = Path(path).as_posix()
                        if "error" in result:
                            if _is_missing(result["error"]):
                                data.missing.add(key)
                            else:
                                data.errors[key] = _describe(result["error"])
                        else:
                            target[key] = result.get("data", {})
                out[rev] = data
    return out


@dataclass(frozen=True)
class PipelineStatus:
    """``dvc status`` for the work tree, and the paths the pipeline writes."""

    changes: dict[str, Any]  # {stage: [changes]}, as `dvc status` lists them
    outputs: tuple[str, ...]  # repo-relative posix paths of every stage output


def pipeline_status(root: Path, *, verbose: bool = False) -> PipelineStatus:
    """What ``dvc status`` says about the pipeline in the work tree.

    ``changes`` is empty when ``dvc.lock`` matches the work tree (DVC's "Data
    and pipelines are up to date"). Hashes come from DVC's state database, so
    an unchanged tree costs a few stat calls, not a re-hash.
    """
    with open_repo(root, verbose) as repo:
        from dvc.exceptions import DvcException

        with quiet_dvc(verbose):
            try:
                changes = dict(repo.status())
                outputs = tuple(Path(repo.fs.relpath(o.fs_path, repo.root_dir)).as_posix()
                                for o in repo.index.outs)
            except DvcException as exc:
                raise DvcError(f"dvc status failed: {_describe(exc)}") from exc
    return PipelineStatus(changes, outputs)


@dataclass(frozen=True)
class PipelineOutput:
    """One output declared in ``dvc.yaml`` (a stage's ``outs``/``metrics``/``plots``, or top level)."""

    path: str  # repo-relative, posix
    kind: str  # metric | plot | out
    stage: str | None
    cached: bool


def pipeline_outputs(root: Path, *, verbose: bool = False) -> list[PipelineOutput]:
    """The outputs DVC knows for the work tree's pipeline, in ``dvc.yaml`` order.

    Uses DVC's own index, so ``foreach``/``matrix`` stages, ``wdir`` and
    templated paths come out as DVC resolves them.
    """
    with open_repo(root, verbose) as repo:
        from dvc.exceptions import DvcException
        from dvc.repo.metrics.show import _collect_top_level_metrics

        def rel(fs_path: str) -> str:
            return Path(repo.fs.relpath(fs_path, repo.root_dir)).as_posix()

        out: list[PipelineOutput] = []
        with quiet_dvc(verbose):
            try:
                for o in repo.index.outs:
                    kind = "metric" if o.metric else "plot" if o.plot else "out"
                    out.append(PipelineOutput(rel(o.fs_path), kind, o.stage.addressing, bool(o.use_cache)))
                for path in _collect_top_level_metrics(repo):
                    out.append(PipelineOutput(Path(path).as_posix(), "metric", None, False))
            except DvcException as exc:
                raise DvcError(f"DVC cannot read the pipeline: {_describe(exc)}") from exc
        return list(dict.fromkeys(out))  # a top-level metric may repeat a stage's


@dataclass(frozen=True)
class Remote:
    name: str
    url: str
    default: bool
    options: dict[str, Any]  # the remote's other settings (credentialpath, profile, ...)


def remotes(root: Path) -> list[Remote]:
    """The DVC remotes configured for this repository (all config levels merged)."""
    with open_repo(root) as repo:
        conf = repo.config
        default = conf.get("core", {}).get("remote")
        out = []
        for name, opts in conf.get("remote", {}).items():
            opts = dict(opts)
            url = str(opts.pop("url", ""))
            out.append(Remote(name, url, name == default, opts))
        return out
