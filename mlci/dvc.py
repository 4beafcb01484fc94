"""DVC, in process: the only module that imports ``dvc``.

Metrics and params are read the way ``dvc metrics diff`` / ``dvc params diff``
read them, plots the way ``dvc plots diff`` reads them: DVC's brancher
switches its filesystem to a git tree (or the DVC cache for cached outputs)
for each revision, so nothing is checked out and the user's work tree, index
and stash stay as they are. All three are gathered in one pass over the
revisions, with one ``Repo`` object.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Iterable, Iterator, Sequence
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
    plots: dict[str, PlotSource] = field(default_factory=dict)  # plot id -> definition and data


@dataclass
class PlotSource:
    """One plot as ``dvc.yaml`` declares it at a revision, with its data files read.

    ``files`` maps each data file to its parsed records (a list of dicts) or,
    for an image, its bytes; a file that could not be read is in ``errors``.
    """

    id: str
    props: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


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


def read_revisions(root: Path, revs: Iterable[str], *, verbose: bool = False, plots: bool = False,
                   extra_plots: Sequence[str] = ()) -> dict[str, RevisionData]:
    """Metrics and params (and with ``plots``, plots) declared by ``dvc.yaml`` at each revision.

    ``revs`` are commit shas or :data:`WORKSPACE`. Revisions without a DVC
    project come back with ``found=False``. ``extra_plots`` are data files
    to plot beyond ``dvc.yaml``'s (``metrics.plots`` in mlci.yaml).
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
                if plots:
                    try:
                        data.plots = _gather_plots(repo, extra_plots)
                    except Exception as exc:  # noqa: BLE001 - plots never stop the comparison
                        data.plots = {"dvc.yaml": PlotSource("dvc.yaml", errors={"dvc.yaml": _describe(exc)})}
                out[rev] = data
    return out


def _error_text(value: Any) -> str | None:
    """DVC's ``onerror_collect`` leaves ``{"error": exc}`` where something failed."""
    if isinstance(value, dict) and "error" in value:
        exc = value["error"]
        return "file not found" if _is_missing(exc) else _describe(exc)
    return None


def _plot_files(plot_id: str, props: dict[str, Any]) -> list[str]:
    """The data files one plot definition draws from.

    Top-level plots name them as the keys of ``y``, which DVC has already
    made relative to the repository root; an output plot is its own file.
    """
    y = props.get("y")
    if isinstance(y, dict):
        return [posixpath.normpath(str(f)) for f in y]
    return [plot_id]


def _gather_plots(repo: Any, extra: Sequence[str]) -> dict[str, PlotSource]:
    """Plot definitions of the revision the brancher is on, with their data read.

    Uses the same internals as ``dvc plots show`` (definitions, then data
    sources), but reads the data right here, inside the brancher's pass.
    """
    from dvc.repo.plots import _collect_definitions, onerror_collect

    definitions = _collect_definitions(repo, targets=[], onerror=onerror_collect) or {}
    found: dict[str, PlotSource] = {}
    for config_file, content in (definitions.get("data") or {}).items():
        error = _error_text(content)
        if error:
            found[config_file or "dvc.yaml"] = PlotSource(config_file or "dvc.yaml", {},
                                                          errors={config_file or "dvc.yaml": error})
            continue
        for plot_id, props in (content.get("data") or {}).items():
            props = dict(props or {})
            found[plot_id] = PlotSource(plot_id, props, {})
            for path in _plot_files(plot_id, props):
                found[plot_id].files[path] = None
    for path in extra:
        key = Path(path).as_posix()
        found.setdefault(key, PlotSource(key, {}, {key: None}))

    targets = sorted({f for p in found.values() for f in p.files})
    if not targets:
        return found
    sources = repo.plots._collect_data_sources(repo, targets=targets, onerror=onerror_collect) or {}
    missing = _error_text(sources) or "file not found"
    read: dict[str, tuple[Any, str | None, dict[str, Any]]] = {}  # path -> (data, error, props)
    for path, source in (sources.get("data") or {}).items():
        source = dict(source)
        if "data_source" in source:
            source.update(source.pop("data_source")(cache=True))
        read[path] = (source.get("data"), _error_text(source), dict(source.get("props") or {}))
    for plot in found.values():
        for path in list(plot.files):
            inside = [k for k in read if k.startswith(path.rstrip("/") + "/")]
            if path not in read and inside:  # a directory of plots (images, usually): its files
                del plot.files[path]
                plot.files.update(dict.fromkeys(sorted(inside)))
        for path in list(plot.files):
            content, problem, props = read.get(path, (None, missing, {}))
            if problem:
                plot.files.pop(path)
                plot.errors[path] = problem
            else:
                plot.files[path] = content
            if not plot.props and props:
                plot.props = props
    return found
