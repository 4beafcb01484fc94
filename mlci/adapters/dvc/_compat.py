"""Every DVC name mlci uses that is not DVC's public API, in one place.

DVC's public Python API (``dvc.api``, ``Repo`` and its commands) has no call that
reads metrics, params and plots of several revisions in one pass, nor one that
tells what ``dvc repro`` did to each stage. mlci uses DVC's internals for those,
and only through this module: the other modules of ``mlci.adapters.dvc`` call the
functions below, never a private DVC name.

:func:`check` runs once per process when a repository is opened
(:func:`mlci.adapters.dvc.repo.open_repo`). A DVC release that moved or renamed one
of these names fails there with the installed version and the range mlci supports
(:data:`SUPPORTED`, the range ``pyproject.toml`` pins and the compat run tests),
rather than in the middle of a reproduction or as a wrong "no metrics".
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from mlci.model.errors import RunError

# What pyproject.toml pins (tests/test_dvc_compat.py holds the two equal): the oldest DVC
# the compat run (`make test-dvc-compat`) passes with, up to the newest that `make test` ran.
SUPPORTED = ">=3.66,<3.68"

# (module, attribute path inside it, what mlci uses it for). Imported lazily: the modules
# are the ones reading or reproducing imports anyway, and `import dvc` stays out of
# `mlci --help`.
NAMES: tuple[tuple[str, str, str], ...] = (
    ("dvc.repo.metrics.show", "_gather_metrics", "reading metrics"),
    ("dvc.repo.metrics.show", "_collect_top_level_metrics", "listing top-level metrics"),
    ("dvc.repo.params.show", "_gather_params", "reading params"),
    ("dvc.repo.plots", "_collect_definitions", "reading plot definitions"),
    ("dvc.repo.plots", "onerror_collect", "reading plot definitions"),
    ("dvc.repo.plots", "Plots._collect_data_sources", "reading plot data"),
    ("dvc.repo.index", "Index._types_filter", "deciding what a fresh clone fetches"),
    ("dvc.render.converter.vega", "VegaConverter.flat_datapoints", "plot data points"),
    ("dvc.stage", "Stage.status.__wrapped__", "the lock status of a commit"),
    ("dvc.repo", "lock_repo", "the lock status of the work tree"),
    ("dvc.repo.reproduce", "_reproduce_stage", "reproduction"),
    ("dvc.repo.reproduce", "collect_stages", "planning reproduction"),
    ("dvc.repo.reproduce", "get_active_graph", "planning reproduction"),
    ("dvc.repo.reproduce", "plan_repro", "planning reproduction"),
    ("dvc.stage.run", "cmd_run", "capturing stage output"),
    ("dvc.stage.run", "_enforce_cmd_list", "capturing stage output"),
    ("dvc.stage.run", "_make_cmd", "capturing stage output"),
    ("dvc.stage.run", "prepare_kwargs", "capturing stage output"),
    ("dvc.stage.run", "get_executable", "capturing stage output"),
    ("dvc.utils.serialize._yaml", "parse_yaml", "parsing each YAML text once"),
    ("dvc.utils.serialize", "parse_yaml", "parsing each YAML text once"),
    ("dvc.utils.strictyaml", "parse_yaml", "parsing each YAML text once"),
)

# ``Repo._skip_graph_checks`` is also read by DVC (``getattr(repo, ..., False)`` in
# ``Repo.index``): mlci sets it while reading, to skip building a stage graph nobody
# uses. A release that stops reading it only makes reading slower, so it is not checked.
SKIP_GRAPH_CHECKS = "_skip_graph_checks"


class IncompatibleDvcError(RunError):
    """The installed DVC lacks a name mlci relies on (exit 3)."""


_checked = False


def _lookup(module: str, path: str) -> Any:
    """The object at ``module``:``path``; AttributeError/ImportError when it is not there."""
    obj: Any = importlib.import_module(module)
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def missing_names() -> list[str]:
    """The names of :data:`NAMES` the installed DVC lacks, as ``module.attribute``."""
    lacking = []
    for module, path, _ in NAMES:
        try:
            _lookup(module, path)
        except (ImportError, AttributeError):
            lacking.append(f"{module}.{path}")
    return lacking


def installed_version() -> str:
    from dvc import __version__

    return str(__version__)


def check() -> None:
    """Fail with a clear message when the installed DVC lacks a name mlci uses; once per process."""
    global _checked
    if _checked:
        return
    lacking = missing_names()
    if lacking:
        raise IncompatibleDvcError(
            f"DVC {installed_version()} is installed, but mlci supports dvc{SUPPORTED}: this DVC "
            f"lacks {', '.join(lacking)}. Install a supported DVC (pip install 'dvc{SUPPORTED}')."
        )
    _checked = True


def _reset_for_tests() -> None:
    global _checked
    _checked = False


# --- reading --------------------------------------------------------------------------


def gather_metrics(repo: Any) -> dict[str, Any]:
    """The metric files of the brancher's revision: path -> {"data": ...} or {"error": exc}."""
    return dict(_lookup("dvc.repo.metrics.show", "_gather_metrics")(repo, on_error="return"))


def gather_params(repo: Any) -> dict[str, Any]:
    """The param files of the brancher's revision, as :func:`gather_metrics`."""
    return dict(_lookup("dvc.repo.params.show", "_gather_params")(repo, on_error="return"))


def top_level_metrics(repo: Any) -> list[str]:
    """The paths of ``dvc.yaml``'s top-level ``metrics:`` entries."""
    return list(_lookup("dvc.repo.metrics.show", "_collect_top_level_metrics")(repo))


def plot_definitions(repo: Any) -> dict[str, Any]:
    """Every plot definition of the revision, as ``dvc plots show`` collects them (errors kept)."""
    collect = _lookup("dvc.repo.plots", "_collect_definitions")
    onerror = _lookup("dvc.repo.plots", "onerror_collect")
    return dict(collect(repo, targets=[], onerror=onerror) or {})


def plot_data_sources(repo: Any, targets: list[str]) -> dict[str, Any]:
    """The data sources of plot files ``targets`` (errors kept), as ``dvc plots show`` gets them."""
    onerror = _lookup("dvc.repo.plots", "onerror_collect")
    return dict(repo.plots._collect_data_sources(repo, targets=targets, onerror=onerror) or {})


def types_filter(index: Any) -> Callable[[list[str], Any], bool] | None:
    """``Index._types_filter`` bound to ``index`` (which outputs ``dvc fetch --type`` takes)."""
    return getattr(index, "_types_filter", None)


def flat_datapoints(
    plot_id: str, data: dict[str, Any], props: dict[str, Any], rev: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """DVC's conversion of one plot's files into Vega data points (``dvc plots diff``)."""
    converter = _lookup("dvc.render.converter.vega", "VegaConverter")
    points, out = converter(plot_id, data, props).flat_datapoints(rev)
    return points, out


@contextmanager
def skip_graph_checks(repo: Any) -> Iterator[None]:
    """Reading needs no stage graph: DVC builds one (and imports networkx) for the plots of
    each revision only to validate the pipeline, which reproduction does. A plot that reading
    cannot resolve still comes back as an error, and plots never decide the gate."""
    before = getattr(repo, SKIP_GRAPH_CHECKS, False)
    setattr(repo, SKIP_GRAPH_CHECKS, True)
    try:
        yield
    finally:
        setattr(repo, SKIP_GRAPH_CHECKS, before)


@contextmanager
def without_default_remote(repo: Any) -> Iterator[None]:
    """Read with no default remote: DVC builds the remote of every cached output to open
    its file system, and one remote whose plugin is missing makes it fail as a whole (the
    git-tracked plots and params files with it). ``Repo(config=...)`` is DVC's own
    override, merged each time the brancher reloads a revision's config; here it is set on
    an open ``Repo`` (``_config``), which is read again after ``_reset``."""
    if not hasattr(repo, "_config"):  # a DVC release without it: read as before
        yield
        return
    before = repo._config
    override = {**(before or {})}
    override["core"] = {**override.get("core", {}), "remote": ""}
    repo._config = override
    repo._reset()
    try:
        yield
    finally:
        repo._config = before
        repo._reset()


# Where :func:`keep_worktree_index` leaves the work tree's index on the ``Repo``: (the file
# system it was built on, the index, the stat of the files it was built from).
_KEPT_INDEX = "_mlci_worktree_index"


def _stat_of(paths: set[str]) -> tuple[tuple[str, int, int, int], ...]:
    """(path, inode, mtime, size) of each file; DVC writes its files anew (another inode)."""
    import os

    out = []
    for path in sorted(paths):
        try:
            st = os.stat(path)
        except OSError:
            out.append((path, -1, -1, -1))
            continue
        out.append((path, st.st_ino, st.st_mtime_ns, st.st_size))
    return tuple(out)


def _index_files(index: Any) -> set[str]:
    """The DVC files the work tree's index was read from (each stage's, and its lock file)."""
    import os

    files = {str(stage.path) for stage in index.stages if getattr(stage, "path", None)}
    files |= {os.path.join(os.path.dirname(f), "dvc.lock") for f in set(files)}
    return files


def keep_worktree_index(repo: Any, index: Any) -> None:
    """Keep the work tree's index that ``dvc status`` built, for reading the work tree next.

    DVC drops a ``Repo``'s index when its lock is released and whenever the brancher
    switches file systems; reading the work tree right after the lock status would walk
    the tree and parse every ``dvc.yaml``, ``dvc.lock`` and ``.dvc`` file again.
    """
    setattr(repo, _KEPT_INDEX, (repo.fs, index, _stat_of(_index_files(index))))


def reuse_worktree_index(repo: Any) -> bool:
    """Give ``repo`` back the index :func:`keep_worktree_index` kept, when it still holds:
    the same file system (the brancher puts the work tree's back when it ends) and none of
    the files it was read from changed since. Returns whether it did."""
    kept = getattr(repo, _KEPT_INDEX, None)
    if kept is None:
        return False
    fs, index, stat = kept
    if fs is not repo.fs or _stat_of({entry[0] for entry in stat}) != stat:
        setattr(repo, _KEPT_INDEX, None)
        return False
    repo.__dict__["index"] = index  # what the cached property `Repo.index` holds
    return True


# where a Repo keeps the indexes of the commits the fetch check read ({(sha, root): index})
_KEPT_COMMIT_INDEXES = "_mlci_commit_indexes"


def keep_commit_index(repo: Any, rev: str) -> None:
    """Keep the index the brancher's pass on commit ``rev`` built, for reading that commit next.

    A commit does not change: its index (the stages, their outputs, the data index behind
    DVC's file system) answers the same in a later pass on the same commit. Only an index
    built while nothing was fetched is kept (a fetch changes what the cache holds).
    """
    index = repo.__dict__.get("index")
    if index is not None:
        kept = repo.__dict__.setdefault(_KEPT_COMMIT_INDEXES, {})
        kept[(rev, repo.root_dir)] = index


def reuse_commit_index(repo: Any, rev: str) -> bool:
    """Give the brancher's pass on commit ``rev`` the index :func:`keep_commit_index` kept."""
    index = repo.__dict__.get(_KEPT_COMMIT_INDEXES, {}).get((rev, repo.root_dir))
    if index is None:
        return False
    repo.__dict__["index"] = index  # what the cached property `Repo.index` holds
    return True


# the modules that hold DVC's YAML parser under its own name (:func:`yaml_parsed_once`)
_YAML_PARSER_HOLDERS = ("dvc.utils.serialize._yaml", "dvc.utils.serialize", "dvc.utils.strictyaml")


@contextmanager
def yaml_parsed_once() -> Iterator[None]:
    """Within this block DVC parses each distinct YAML text once.

    A check reads ``dvc.yaml``, ``dvc.lock``, ``.dvc`` files and ``params.yaml`` for the lock
    status and again for each compared revision (``dvc status`` alone reads ``params.yaml``
    once per stage), with DVC's pure-Python YAML parser. The parse is a function of the text:
    the same text gives the same data, handed out as a copy so that no caller sees
    another's changes. What DVC cannot parse fails each time, as before.
    """
    import copy

    modules = [importlib.import_module(name) for name in _YAML_PARSER_HOLDERS]
    original = getattr(modules[0], "parse_yaml")  # noqa: B009 - mypy cannot see DVC's names
    parsed: dict[str, Any] = {}

    def parse_yaml(text: str, path: Any, typ: str = "safe") -> Any:
        if typ != "safe":  # the round-trip parser keeps comments and positions: not shared
            return original(text, path, typ)
        if text not in parsed:
            parsed[text] = original(text, path, typ)
        return copy.deepcopy(parsed[text])

    saved = [(module, getattr(module, "parse_yaml")) for module in modules]  # noqa: B009
    for module in modules:
        setattr(module, "parse_yaml", parse_yaml)  # noqa: B010
    try:
        yield
    finally:
        for module, before in saved:
            setattr(module, "parse_yaml", before)  # noqa: B010


def repo_lock(repo: Any) -> Any:
    """The repository lock ``dvc status`` holds (a context manager; the index is reset on entry
    and exit, and built once inside)."""
    return _lookup("dvc.repo", "lock_repo")(repo)


def unlocked_stage_status(stage: Any) -> dict[str, Any]:
    """``Stage.status`` without its read/write lock (a git tree cannot hold the lock file)."""
    return dict(_lookup("dvc.stage", "Stage.status.__wrapped__")(stage) or {})


# --- reproduction ---------------------------------------------------------------------


def planned_stages(repo: Any, targets: list[str]) -> list[Any]:
    """The stages ``dvc repro TARGETS`` would look at, in the order it would."""
    from dvc.dvcfile import PROJECT_FILE

    collect = _lookup("dvc.repo.reproduce", "collect_stages")
    active = _lookup("dvc.repo.reproduce", "get_active_graph")
    plan = _lookup("dvc.repo.reproduce", "plan_repro")
    stages = collect(repo, targets or [PROJECT_FILE])
    return list(plan(active(repo.index.graph), stages))


def reproduce_stage(stage: Any, **kwargs: Any) -> Any:
    """DVC's own per-stage step of ``Repo.reproduce`` (what ``repro_fn`` wraps)."""
    return _lookup("dvc.repo.reproduce", "_reproduce_stage")(stage, **kwargs)


def stage_commands(stage: Any) -> list[str]:
    """A stage's ``cmd`` as the list of commands DVC runs."""
    return list(_lookup("dvc.stage.run", "_enforce_cmd_list")(stage.cmd))


def stage_popen_kwargs(stage: Any, run_env: Any) -> dict[str, Any]:
    """The Popen arguments (cwd, env, shell settings) DVC runs a stage's commands with."""
    return dict(_lookup("dvc.stage.run", "prepare_kwargs")(stage, run_env=run_env))


def stage_argv(cmd: str) -> list[str]:
    """The argv DVC starts for one stage command (its shell, as DVC picks it)."""
    executable = _lookup("dvc.stage.run", "get_executable")()
    return list(_lookup("dvc.stage.run", "_make_cmd")(executable, cmd))


@contextmanager
def stage_runner(replacement: Callable[..., None]) -> Iterator[None]:
    """Swap ``dvc.stage.run.cmd_run``, the one place DVC starts a stage's command.

    Process-wide while the block runs (DVC looks the function up in its module),
    restored after, also on failure.
    """
    module = importlib.import_module("dvc.stage.run")
    original = getattr(module, "cmd_run")  # noqa: B009 - mypy cannot see DVC's module names
    setattr(module, "cmd_run", replacement)  # noqa: B010
    try:
        yield
    finally:
        setattr(module, "cmd_run", original)  # noqa: B010
