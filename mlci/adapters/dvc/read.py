"""Metrics, params and plots of several revisions, read in process in one pass.

Metrics and params are read the way ``dvc metrics diff`` / ``dvc params diff``
read them, plots the way ``dvc plots diff`` reads them: DVC's brancher
switches its filesystem to a git tree (or the DVC cache for cached outputs)
for each revision, so nothing is checked out and the user's work tree, index
and stash stay as they are. All three are gathered in one pass over the
revisions, with one ``Repo`` object.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.adapters.dvc import _compat
from mlci.adapters.dvc.remote import missing_plugin, unreadable_reason
from mlci.adapters.dvc.repo import (
    PIPELINE,
    WORKSPACE,
    describe,
    is_dvc_repo,
    is_missing,
    open_repo,
    quiet_dvc,
)


@dataclass
class RevisionData:
    """What one revision holds: parsed metric and param files, and read errors."""

    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    # declared, but DVC could not load it (cache miss, remote, plugin, parse error): path -> why
    errors: dict[str, str] = field(default_factory=dict)
    param_errors: dict[str, str] = field(default_factory=dict)  # the same, for param files
    missing: set[str] = field(
        default_factory=set
    )  # declared but absent: never produced, not committed
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


def _utf8(path: str) -> str:
    """A file name as text that can be written anywhere: bytes that are not UTF-8 become U+FFFD.

    Python keeps such bytes of a file name as lone surrogates, which no UTF-8 output accepts.
    """
    try:
        return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return path.encode("utf-8", "replace").decode("utf-8")


def _utf8_deep(value: Any) -> Any:
    """Parsed file content with every string writable: JSON's lone ``\\ud800`` escapes too."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return _utf8(value)
        return value
    if isinstance(value, dict):
        return {_utf8_deep(k): _utf8_deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_utf8_deep(v) for v in value]
    return value


def _utf8_plots(found: dict[str, PlotSource]) -> dict[str, PlotSource]:
    out = {}
    for plot_id, plot in found.items():
        plot.id = _utf8(plot.id)
        plot.files = {
            _utf8(k): v if isinstance(v, bytes) else _utf8_deep(v) for k, v in plot.files.items()
        }
        plot.errors = {_utf8(k): v for k, v in plot.errors.items()}
        out[_utf8(plot_id)] = plot
    return out


def read_revisions(
    root: Path,
    revs: Iterable[str],
    *,
    verbose: bool = False,
    plots: bool = False,
    extra_plots: Sequence[str] = (),
) -> dict[str, RevisionData]:
    """Metrics and params (and with ``plots``, plots) declared by ``dvc.yaml`` at each revision.

    ``revs`` are commit shas or :data:`WORKSPACE`. Revisions without a DVC
    project come back with ``found=False``. ``extra_plots`` are data files
    to plot beyond ``dvc.yaml``'s (``metrics.plots`` in mlci.yaml).
    """
    revs = list(dict.fromkeys(revs))
    wanted = [r for r in revs if r != WORKSPACE]
    out = {r: RevisionData(found=False) for r in revs}
    with open_repo(root, verbose) as repo, _compat.skip_graph_checks(repo), ExitStack() as stack:
        remotes: dict[tuple[str, str], str] = {}  # (name, url) -> why it failed, probed once
        # a default remote whose plugin is missing: DVC would fail on every file, git's too;
        # read without it, and say what the remote holds needs the plugin
        plugin = missing_plugin(repo)
        if plugin:
            stack.enter_context(_compat.without_default_remote(repo))
        with quiet_dvc(verbose):
            if WORKSPACE in revs:
                # the work tree first, on the Repo's own file system, as the brancher's
                # workspace pass reads it; the index `dvc status` just built is reused
                if not plugin:
                    _compat.reuse_worktree_index(repo)
                out[WORKSPACE] = _read_here(repo, remotes, plots, extra_plots, plugin)
            if wanted:
                for rev in repo.brancher(revs=wanted, sha_only=True, workspace=False):
                    if not plugin:  # the index the fetch check built on this commit
                        _compat.reuse_commit_index(repo, rev)
                    out[rev] = _read_here(repo, remotes, plots, extra_plots, plugin)
    return out


def _read_here(
    repo: Any,
    remotes: dict[tuple[str, str], str],
    plots: bool,
    extra_plots: Sequence[str],
    plugin: str | None = None,
) -> RevisionData:
    """Metrics, params (and plots) of the revision the ``Repo``'s file system is on.

    ``plugin``: the default remote was left out because its plugin is missing; a
    recorded file not in the local cache then needs it (the words say so).
    """
    data = RevisionData()
    try:
        metrics = _compat.gather_metrics(repo)
        params = _compat.gather_params(repo)
    except Exception as exc:  # noqa: BLE001 - a broken dvc.yaml or dvc.lock at one revision
        data.errors[PIPELINE] = describe(exc)
        return data
    for kind, results in (("metrics", metrics), ("params", params)):
        target = getattr(data, kind)
        errors = data.errors if kind == "metrics" else data.param_errors
        for path, result in results.items():
            key = _utf8(Path(path).as_posix())
            if "error" in result:
                why = _why(repo, key, result["error"], remotes, plugin)
                if why is None:
                    data.missing.add(key)
                else:
                    errors[key] = why
            else:
                target[key] = _utf8_deep(result.get("data", {}))
    if plots:
        try:
            data.plots = _utf8_plots(_gather_plots(repo, extra_plots, plugin))
        except Exception as exc:  # noqa: BLE001 - plots never stop the comparison
            data.plots = {"dvc.yaml": PlotSource("dvc.yaml", errors={"dvc.yaml": describe(exc)})}
    return data


def _why(
    repo: Any,
    path: str,
    exc: BaseException,
    remotes: dict[tuple[str, str], str] | None,
    plugin: str | None,
) -> str | None:
    """:func:`unreadable_reason`, or ``plugin`` for a recorded file the local cache lacks."""
    why = unreadable_reason(repo, path, exc, remotes)
    if why is not None and plugin and is_missing(exc):
        return plugin
    return why


def fetch_for_reading(root: Path, revs: Iterable[str], *, verbose: bool = False) -> str | None:
    """``dvc fetch --rev REV --type metrics --type plots`` for compared commits that need it.

    On a fresh clone the DVC cache is empty: DVC streams the work tree's cached
    metrics from the remote, but not a commit's ("No storage files
    available"), so the base of a pull request would have no metrics. When a
    cached output recorded at one of the commits is not in the local cache and
    a default remote is set, that commit's metrics and plots are fetched first
    with DVC's own fetch. Nothing is contacted when the cache has everything.
    Returns a note when the fetch failed (reading then says what is missing).
    """
    commits = [r for r in dict.fromkeys(revs) if r != WORKSPACE]
    if not commits or not is_dvc_repo(root):
        return None
    with open_repo(root, verbose) as repo, quiet_dvc(verbose):
        name = repo.config["core"].get("remote")
        if not name:
            return None
        need = []
        try:
            for rev in repo.brancher(revs=commits, sha_only=True, workspace=False):
                if rev == WORKSPACE:
                    continue
                if _lacks_cached_outputs(repo):
                    need.append(rev)
                else:  # read next as it is; a commit that needs a fetch is read anew after it
                    _compat.keep_commit_index(repo, rev)
        except Exception:  # noqa: BLE001 - a broken revision is reported when it is read
            return None
        if not need:
            return None
        # the remote as the work tree configures it: a relative folder remote in a commit's
        # .dvc/config would otherwise be resolved against the root of the git tree
        conf = {
            "core": {"remote": name},
            "remote": {name: dict(repo.config["remote"].get(name) or {})},
        }
        try:
            repo.fetch(revs=need, workspace=False, types=["metrics", "plots"], config=conf)
        except Exception as exc:  # noqa: BLE001 - unreachable remote, missing objects, no plugin
            shas = ", ".join(r[:7] for r in need)
            return (
                f"could not fetch the metrics and plots of {shas} from DVC remote '{name}': "
                f"{describe(exc)}"
            )
    return None


def _lacks_cached_outputs(repo: Any) -> bool:
    """Whether a cached metric or plot of the brancher's revision is recorded but not in the cache.

    Which outputs hold metrics or plots (top-level definitions included) is
    decided as ``dvc fetch --type`` decides it; a model missing from the cache
    does not send anyone to the remote.
    """
    index = repo.index
    types_filter = _compat.types_filter(index)
    for out in index.outs:
        oid = out.hash_info.value if out.use_cache and out.hash_info else None
        if not oid or out.cache.exists(oid):
            continue
        wanted = out.metric or out.plot
        if not wanted and types_filter is not None:
            try:
                wanted = types_filter(["metrics", "plots"], out)
            except Exception:  # noqa: BLE001 - a DVC release that changed it: ask the remote
                wanted = True
        if wanted:
            return True
    return False


def _error_text(
    value: Any,
    repo: Any = None,
    path: str | None = None,
    remotes: dict[tuple[str, str], str] | None = None,
    plugin: str | None = None,
) -> str | None:
    """DVC's ``onerror_collect`` leaves ``{"error": exc}`` where something failed.

    With ``repo`` and ``path``, a file DVC recorded but could not fetch says why
    (as for metrics); "file not found" is kept for a file that is simply absent.
    """
    if isinstance(value, dict) and "error" in value:
        exc = value["error"]
        if repo is not None and path is not None:
            return _why(repo, path, exc, remotes, plugin) or "file not found"
        return "file not found" if is_missing(exc) else describe(exc)
    return None


def plot_files(plot_id: str, props: dict[str, Any]) -> list[str]:
    """The data files one plot definition draws from.

    Top-level plots name them as the keys of ``y``, which DVC has already
    made relative to the repository root; an output plot is its own file.
    """
    y = props.get("y")
    if isinstance(y, dict):
        return [posixpath.normpath(str(f)) for f in y]
    return [plot_id]


def _gather_plots(
    repo: Any, extra: Sequence[str], plugin: str | None = None
) -> dict[str, PlotSource]:
    """Plot definitions of the revision the brancher is on, with their data read.

    Uses the same internals as ``dvc plots show`` (definitions, then data
    sources), but reads the data right here, inside the brancher's pass.
    """
    definitions = _compat.plot_definitions(repo)
    found: dict[str, PlotSource] = {}
    for config_file, content in (definitions.get("data") or {}).items():
        error = _error_text(content)
        if error:
            found[config_file or "dvc.yaml"] = PlotSource(
                config_file or "dvc.yaml", {}, errors={config_file or "dvc.yaml": error}
            )
            continue
        for plot_id, props in (content.get("data") or {}).items():
            props = dict(props or {})
            found[plot_id] = PlotSource(plot_id, props, {})
            for path in plot_files(plot_id, props):
                found[plot_id].files[path] = None
    for path in extra:
        key = Path(path).as_posix()
        found.setdefault(key, PlotSource(key, {}, {key: None}))

    targets = sorted({f for p in found.values() for f in p.files})
    read: dict[str, tuple[Any, str | None, dict[str, Any]]] = {}  # path -> (data, error, props)
    for path in targets:
        why = _leaves_tree(repo, path)
        if why:  # never handed to DVC, which would follow it (a folder linked to /etc)
            read[path] = (None, why, {})
    targets = [t for t in targets if t not in read]
    if not targets:
        return _attach(found, read, "file not found")
    sources = _compat.plot_data_sources(repo, targets)
    missing = _error_text(sources) or "file not found"
    remotes: dict[tuple[str, str], str] = {}
    for path, source in (sources.get("data") or {}).items():
        source = dict(source)
        why = _leaves_tree(repo, path)
        if why:
            read[path] = (None, why, {})
            continue
        if "data_source" in source:
            source.update(source.pop("data_source")(cache=True))
        problem = _error_text(source, repo, Path(path).as_posix(), remotes, plugin)
        read[path] = (source.get("data"), problem, dict(source.get("props") or {}))
    return _attach(found, read, missing)


def _leaves_tree(repo: Any, path: str) -> str | None:
    """Why the work tree's ``path`` is not read: a link out of the repository (or into .git).

    Only the work tree's files can be links to anywhere; at a commit DVC reads git's tree.
    """
    from dvc.fs import GitFileSystem

    if isinstance(repo.fs, GitFileSystem) or getattr(repo.fs, "protocol", None) != "local":
        return None  # a commit's tree (DVC's git file system says "local" too)
    root = Path(repo.root_dir)
    try:
        top = Path(repo.scm.root_dir).resolve() if getattr(repo, "scm", None) else root.resolve()
    except Exception:  # noqa: BLE001 - no git: the DVC project is the tree
        top = root.resolve()
    here = Path(path) if Path(path).is_absolute() else root / path
    try:
        real = here.resolve()
    except (OSError, RuntimeError):
        return "a link that cannot be followed: not read"
    if not real.is_relative_to(top):
        return "a link out of the repository: not read"
    if ".git" in real.relative_to(top).parts:
        return "a link into .git: not read"
    return None


def _attach(
    found: dict[str, PlotSource],
    read: dict[str, tuple[Any, str | None, dict[str, Any]]],
    missing: str,
) -> dict[str, PlotSource]:
    """Each plot's files with their data, or the reason they could not be read."""
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


class PlotDataError(ValueError):
    """DVC could not turn a plot's data into data points; the message says why."""


def plot_datapoints(
    plot_id: str, props: dict[str, Any], data: dict[str, Any], rev: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One plot's data files at one revision as DVC's flat data points, and the plot's properties.

    This is the conversion ``dvc plots diff`` runs for each revision before it
    fills a Vega template (``VegaConverter.flat_datapoints``): records are found
    inside the file (a list of rows, or lists of rows under keys, as dvclive
    writes ``{"roc": [...]}``), ``x``/``y`` are inferred when not given, and
    every point carries ``rev``, ``filename`` and ``field``. The properties
    name the x and y fields of the points (``x``, ``y``) and their labels.
    """
    with quiet_dvc():
        try:
            return _compat.flat_datapoints(plot_id, data, dict(props), rev)
        except Exception as exc:  # noqa: BLE001 - DVC's words go into the report
            raise PlotDataError(describe(exc)) from exc
