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


@contextmanager
def open_repo(root: Path, verbose: bool = False) -> Iterator[Any]:
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


# --- data files at a revision (for validation and the data diff) -----------------


def _lock_outs(text: bytes) -> Iterator[dict[str, Any]]:
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return
    if not isinstance(doc, dict):
        return
    stages = doc.get("stages") if "stages" in doc else None
    if isinstance(stages, dict):  # dvc.lock
        for stage in stages.values():
            for out in (stage or {}).get("outs", []) or []:
                if isinstance(out, dict):
                    yield out
    for out in doc.get("outs", []) or []:  # a .dvc file
        if isinstance(out, dict):
            yield out


def recorded_md5(root: Path, rev: str, path: str) -> str | None:
    """The md5 DVC recorded for the file ``path`` at ``rev`` (dvc.lock or ``path.dvc``).

    Read from the committed files with git, without importing DVC; None when
    DVC does not track this exact file (untracked, or inside a tracked directory).
    """
    from mlci import git

    candidates = [("dvc.lock", "")]
    parent = str(Path(path).parent.as_posix())
    candidates.append((f"{path}.dvc", "" if parent == "." else parent + "/"))
    for lock, prefix in candidates:
        text = git.show_file(rev, lock, root)
        if not text:
            continue
        for out in _lock_outs(text):
            out_path = prefix + str(out.get("path", ""))
            if Path(out_path).as_posix() == path and isinstance(out.get("md5"), str) \
                    and not out["md5"].endswith(".dir"):
                return out["md5"]
    return None


@contextmanager
def _fs_at(root: Path, rev: str) -> Iterator[Any]:
    with quiet_dvc():
        from dvc.fs import DVCFileSystem

        try:
            fs = DVCFileSystem(repo=str(root), rev=rev)
        except Exception as exc:  # noqa: BLE001 - not a DVC repo at this rev, unknown rev
            raise DvcError(f"DVC cannot open {root} at {rev[:12]}: {_describe(exc)}") from exc
        try:
            yield fs
        finally:
            fs.close()


def tracked_md5(root: Path, rev: str, path: str) -> str | None:
    """The md5 DVC knows for ``path`` at ``rev``, also inside a tracked directory; no data read."""
    with _fs_at(root, rev) as fs:
        try:
            info = fs.info(path)
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001
            if _is_missing(exc):
                return None
            raise DvcError(f"cannot look up {path} at {rev[:12]}: {_describe(exc)}") from exc
    md5 = info.get("md5") if info.get("type") == "file" else None
    return md5 if isinstance(md5, str) and not md5.endswith(".dir") else None


def copy_file_at(root: Path, rev: str, path: str, dest: Path) -> bool:
    """Copy ``path`` at ``rev`` to ``dest`` from git or DVC's cache/remote; no checkout.

    False when the revision has no such file. Raises DvcError when DVC knows the
    file but cannot get its content (not in the cache, remote unreachable).
    """
    import shutil

    with _fs_at(root, rev) as fs:
        try:
            with fs.open(path, "rb") as handle, dest.open("wb") as out:
                shutil.copyfileobj(handle, out, 1 << 20)
            return True
        except FileNotFoundError:
            return False
        except Exception as exc:  # noqa: BLE001 - missing from cache and remote, network
            if _is_missing(exc):
                return False
            raise DvcError(f"cannot read {path} at {rev[:12]}: {_describe(exc)}") from exc
