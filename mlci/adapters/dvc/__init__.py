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
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.model.errors import RunError

WORKSPACE = "workspace"
PIPELINE = "dvc.yaml"  # the key of an error that concerns the whole pipeline (dvc.yaml, dvc.lock)


class DvcError(RunError):
    """DVC failed in a way mlci cannot go on from."""


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


def is_dvc_repo(root: Path) -> bool:
    return (root / ".dvc").is_dir()


@contextmanager
def quiet_dvc(verbose: bool = False) -> Iterator[None]:
    """Keep DVC's own log lines (warnings about revisions) out of mlci's output.

    Importing dvc gives these three loggers handlers that write INFO to the
    stdout of that moment, where mlci prints its report.
    """
    logs = [logging.getLogger(name) for name in ("dvc", "dvc_objects", "dvc_data")]
    old = [log.level for log in logs]
    if not verbose:
        for log in logs:
            log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for log, level in zip(logs, old, strict=False):
            log.setLevel(level)


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
            from dvc.exceptions import DvcException
            from dvc.repo import Repo
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


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return _extra_hint(text.splitlines()[0] if text else type(exc).__name__)


_MISSING_PLUGIN = re.compile(
    r"requires (?:these missing dependencies: \['|')(?:dvc-)?(s3|gs|azure)'"
)


def _extra_hint(line: str) -> str:
    """DVC says ``pip install 'dvc[s3]'`` for a missing remote plugin; mlci's extra is the cure."""
    found = _MISSING_PLUGIN.search(line)
    if not found:
        return line
    extra = found.group(1)
    return (
        f"{line.split('. To install')[0].rstrip(':. ')}: add the {extra} extra (the action's input "
        f"`extras: {extra}`; pip install 'mlci[{extra}]')"
    )


describe = _describe


def _is_missing(exc: BaseException) -> bool:
    from dvc.exceptions import FileMissingError

    if isinstance(exc, (FileNotFoundError, FileMissingError)):
        return True
    cause = exc.__cause__ or exc.__context__
    return cause is not None and _is_missing(cause)


def _recorded_out(repo: Any, path: str) -> Any:
    """The cached output of this revision's pipeline that holds ``path`` and has a recorded hash.

    A hash in ``dvc.lock`` (or a ``.dvc`` file) means the revision produced the
    file and DVC stored it: not finding its content is a failure to read, not
    an absence. None for git-tracked files and outputs never produced.
    """
    try:
        outs = list(repo.index.outs)
    except Exception:  # noqa: BLE001 - the pipeline itself is unreadable: reported elsewhere
        return None
    for out in outs:
        if not (out.use_cache and out.hash_info and out.hash_info.value):
            continue
        try:
            rel = Path(repo.fs.relpath(out.fs_path, repo.root_dir)).as_posix()
        except Exception:  # noqa: BLE001
            continue
        if path == rel or path.startswith(rel.rstrip("/") + "/"):
            return out
    return None


def _plugin_text(exc: BaseException) -> str | None:
    """DVC's "s3 is supported, but requires 'dvc-s3' to be installed", said as what to do."""
    import re

    for err in _chain(exc):
        if isinstance(err, ImportError):
            match = re.search(r"(\w+) is supported, but requires '([\w-]+)'", str(err))
            if match:
                scheme, package = match.groups()
                # mlci's extra where there is one: the action installs extras, not packages
                cure = (
                    f"add the {scheme} extra: the action's input `extras: {scheme}`, or pip install "
                    f"'mlci[{scheme}]'"
                    if scheme in ("s3", "gs", "azure")
                    else f"pip install {package}"
                )
                return (
                    f"DVC's {scheme} plugin is not installed, so DVC cannot open the {scheme} "
                    f"remote ({cure})"
                )
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def connection_text(
    exc: BaseException, host: str | None = None, port: int | None = None
) -> str | None:
    """What a network failure was, in words: DNS, refused, timed out; None when not one."""
    import socket

    where = f"{host}:{port}" if host and port else host or "the host"
    for err in _chain(exc):
        os_error = getattr(err, "os_error", None)  # aiohttp wraps the OSError
        for candidate in (err, os_error):
            if isinstance(candidate, socket.gaierror):
                return f"DNS lookup failed for host '{host or '?'}' ({candidate.strerror or candidate})"
            if isinstance(candidate, ConnectionRefusedError):
                return f"connection to {where} refused"
            if isinstance(candidate, (TimeoutError, socket.timeout)):
                return f"no answer from {where} (timed out)"
            if (
                isinstance(candidate, OSError)
                and candidate.errno is not None
                and not isinstance(candidate, FileNotFoundError)
            ):
                return f"cannot connect to {where} ({candidate.strerror or candidate})"
    return None


_PORTS = {"http": 80, "https": 443, "ssh": 22, "webdav": 80, "webdavs": 443}


def _reach(url: str, timeout: float = 5.0) -> str | None:
    """Why the host of a network remote cannot be reached; None when it answers or has no host."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in _PORTS or not parts.hostname:
        return None
    try:
        port = parts.port or _PORTS[parts.scheme]
    except ValueError:
        return f"the URL's port is not a number: {url}"
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as exc:
        return connection_text(exc, parts.hostname, port) or _describe(exc)
    return None


def probe_remote(repo: Any, name: str | None = None) -> tuple[str, str, str | None] | None:
    """``(name, url, why it cannot be used or None)`` for remote ``name`` (default: the default one).

    One ``exists`` call on the remote's root; an HTTP or SSH host that does not
    answer is told apart from one that answers without the folder. None when no
    remote is configured.
    """
    from mlci.model.fmt import without_credentials

    name = name or repo.config["core"].get("remote")
    if not name:
        return None
    url = str((repo.config["remote"].get(name) or {}).get("url", "?"))
    shown = without_credentials(url)
    try:
        remote = repo.cloud.get_remote(name, "pull")
        found = remote.fs.exists(remote.path)
    except Exception as exc:  # noqa: BLE001 - any failure means "cannot use it"
        return name, shown, (_plugin_text(exc) or connection_text(exc) or _describe(exc))
    if found:
        return name, shown, None
    unreachable = _reach(url)
    if unreachable:
        return name, shown, unreachable
    where = "folder" if "://" not in url or url.startswith("file://") else "location"
    return name, shown, f"its {where} {shown} does not exist"


def unreadable_reason(
    repo: Any, path: str, exc: BaseException, remotes: dict[tuple[str, str], str] | None = None
) -> str | None:
    """Why DVC could not read ``path`` at the brancher's revision, or None when it is simply absent.

    Absent: not produced at this revision (no hash recorded) or a git-tracked
    file that is not committed. Anything else is unreadable, said with what was
    tried: the cache, then the remote (probed once per remote, in ``remotes``).
    """
    plugin = _plugin_text(exc)
    if plugin:
        return plugin
    if not _is_missing(exc):
        return _describe(exc)
    out = _recorded_out(repo, path)
    if out is None:
        return None
    md5 = str(out.hash_info.value)[:8]
    what = f"dvc.lock records it (md5 {md5}…), but its content is not in the local DVC cache"
    name = out.remote or repo.config["core"].get("remote")
    if not name:
        return what + " and no DVC remote is configured to fetch it from"
    url = str((repo.config["remote"].get(name) or {}).get("url", "?"))
    key = (name, url)
    if remotes is None or key not in remotes:
        probed = probe_remote(repo, name)
        why = probed[2] if probed else None
        if remotes is not None:
            remotes[key] = why or ""
    else:
        why = remotes[key] or None
    from mlci.model.fmt import without_credentials

    shown = without_credentials(url)
    if why:
        return f"{what}, and DVC remote '{name}' ({shown}) cannot be read: {why}"
    return f"{what} nor on DVC remote '{name}' ({shown})"


@contextmanager
def _no_graph_checks(repo: Any) -> Iterator[None]:
    """Reading needs no stage graph: DVC builds one (and imports networkx) for the plots of
    each revision only to validate the pipeline, which reproduction does. A plot that reading
    cannot resolve still comes back as an error, and plots never decide the gate."""
    before = getattr(repo, "_skip_graph_checks", False)
    repo._skip_graph_checks = True
    try:
        yield
    finally:
        repo._skip_graph_checks = before


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
    with open_repo(root, verbose) as repo, _no_graph_checks(repo):
        from dvc.repo.metrics.show import _gather_metrics
        from dvc.repo.params.show import _gather_params

        remotes: dict[tuple[str, str], str] = {}  # (name, url) -> why it failed, probed once
        with quiet_dvc(verbose):
            for rev in repo.brancher(revs=wanted, sha_only=True, workspace=WORKSPACE in revs):
                data = RevisionData()
                try:
                    metrics = _gather_metrics(repo, on_error="return")
                    params = _gather_params(repo, on_error="return")
                except Exception as exc:  # noqa: BLE001 - a broken dvc.yaml or dvc.lock at one revision
                    data.errors[PIPELINE] = _describe(exc)
                    out[rev] = data
                    continue
                for kind, results in (("metrics", metrics), ("params", params)):
                    target = getattr(data, kind)
                    errors = data.errors if kind == "metrics" else data.param_errors
                    for path, result in results.items():
                        key = _utf8(Path(path).as_posix())
                        if "error" in result:
                            why = unreadable_reason(repo, key, result["error"], remotes)
                            if why is None:
                                data.missing.add(key)
                            else:
                                errors[key] = why
                        else:
                            target[key] = _utf8_deep(result.get("data", {}))
                if plots:
                    try:
                        data.plots = _utf8_plots(_gather_plots(repo, extra_plots))
                    except Exception as exc:  # noqa: BLE001 - plots never stop the comparison
                        data.plots = {
                            "dvc.yaml": PlotSource("dvc.yaml", errors={"dvc.yaml": _describe(exc)})
                        }
                out[rev] = data
    return out


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
                if rev != WORKSPACE and _lacks_cached_outputs(repo):
                    need.append(rev)
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
                f"{_describe(exc)}"
            )
    return None


def _lacks_cached_outputs(repo: Any) -> bool:
    """Whether a cached metric or plot of the brancher's revision is recorded but not in the cache.

    Which outputs hold metrics or plots (top-level definitions included) is
    decided as ``dvc fetch --type`` decides it; a model missing from the cache
    does not send anyone to the remote.
    """
    index = repo.index
    types_filter = getattr(index, "_types_filter", None)
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


# --- reproduction -----------------------------------------------------------------
#
# ``dvc repro`` in process. DVC's ``Repo.reproduce`` plans the stages, skips the
# unchanged ones and restores from the run-cache exactly as the command does;
# mlci only hooks two places to learn what happened to each stage:
#
# * ``repro_fn``, the per-stage function ``Repo.reproduce`` accepts, wraps DVC's
#   own ``_reproduce_stage`` to time each stage and see whether it returned
#   (something was done) or not (unchanged);
# * ``dvc.stage.run.cmd_run``, the one place DVC starts a stage's command, is
#   swapped while reproducing for a copy that captures the combined output
#   (streamed line by line to a watcher) — a stage that returned without its
#   command being run was restored from the run-cache.


@dataclass(frozen=True)
class StageOutcome:
    """What reproduction did to one stage."""

    name: str
    status: str  # ran|cached|restored|unchanged|failed|skipped
    duration_s: float | None = None
    cmd: str | None = None
    exit_code: int | None = None
    error: str | None = None


class StageWatcher:
    """Receives reproduction events as they happen; the default does nothing."""

    def stage_started(self, name: str, cmd: str | None) -> None:
        """A stage is being looked at (it may still turn out unchanged)."""

    def output(self, line: str) -> None:
        """One line of the running command's combined stdout and stderr."""

    def stage_finished(self, outcome: StageOutcome) -> None:
        """The stage is done: ran, restored, unchanged or failed."""


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
                    found = repo.status()
                    return _status_here(
                        repo,
                        [
                            (s.addressing, s, found[s.addressing])
                            for s in repo.index.stages
                            if s.addressing in found
                        ],
                    )
                at_commit = None
                for _ in repo.brancher(revs=[rev], sha_only=True, workspace=False):
                    at_commit = _status_here(repo, _status_at_commit(repo))
            except DvcException as exc:
                where = "" if rev is None else f" at {rev[:7]}"
                raise DvcError(f"dvc status{where} failed: {_describe(exc)}") from exc
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
    from dvc.stage import PipelineStage, Stage

    status = getattr(Stage.status, "__wrapped__", None)
    if status is None:  # pragma: no cover - a DVC release without funcy's wrapper
        from dvc import __version__ as dvc_version

        raise DvcError(f"DVC {dvc_version}: mlci cannot ask for the status of a commit")
    found = []
    for stage in repo.index.stages:
        changes = status(stage)
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
        from dvc.repo.metrics.show import _collect_top_level_metrics
        from dvc.repo.plots import _collect_definitions, onerror_collect

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
                for path in _collect_top_level_metrics(repo):
                    out.append(PipelineOutput(Path(path).as_posix(), "metric", None, False))
                # top-level plots (dvclive declares its plots there): their data files
                definitions = _collect_definitions(repo, targets=[], onerror=onerror_collect) or {}
                declared = {o.path for o in out}
                for content in (definitions.get("data") or {}).values():
                    for plot_id, props in ((content or {}).get("data") or {}).items():
                        for path in _plot_files(plot_id, dict(props or {})):
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
                raise DvcError(f"DVC cannot read the pipeline: {_describe(exc)}") from exc
        return list(dict.fromkeys(out))  # a top-level metric may repeat a stage's


@dataclass(frozen=True)
class Remote:
    """The default DVC remote, and whether it answered."""

    name: str
    url: str
    reachable: bool
    error: str | None = None


@dataclass(frozen=True)
class ReproRun:
    """The outcome of :func:`reproduce`: one entry per planned stage, in order."""

    stages: tuple[StageOutcome, ...]
    error: str | None = None  # set when reproduction failed (a stage, or before any)


def _cmd_text(stage: Any) -> str | None:
    cmd = getattr(stage, "cmd", None)
    if not cmd:
        return None
    return cmd if isinstance(cmd, str) else " && ".join(cmd)


def default_remote(repo: Any) -> Remote | None:
    """The default remote, probed with one ``exists`` call; None when none is set.

    An unreachable remote (no such folder or bucket, no credentials, no
    network, a missing plugin such as dvc-s3) comes back with the error.
    """
    probed = probe_remote(repo)
    if probed is None:
        return None
    name, _, why = probed
    url = str((repo.config["remote"].get(name) or {}).get("url", "?"))
    return Remote(name, url, why is None, why)


def remotes_configured(repo: Any) -> list[str]:
    return sorted(repo.config["remote"])


def fetch(repo: Any, targets: Iterable[str]) -> int:
    """``dvc fetch --run-cache`` for ``targets`` and what they depend on.

    Returns how many files failed to download. Files that are simply not on
    the remote are not failures (DVC only logs them): reproduction computes
    their stages, as ``dvc repro`` would; see :func:`stages_without_outputs`.
    """
    from dvc.exceptions import DownloadError

    with quiet_dvc():
        try:
            repo.fetch(targets=list(targets) or None, with_deps=True, run_cache=True)
        except DownloadError as exc:
            return int(getattr(exc, "amount", 1) or 1)
    return 0


def stages_without_outputs(plan: Iterable[Any]) -> list[str]:
    """Planned stages whose recorded (``dvc.lock``) cached outputs are not in the local cache."""
    missing = []
    for stage in plan:
        outs = [o for o in stage.outs if o.use_cache and o.hash_info]
        try:
            if outs and not stage.outs_cached():
                missing.append(stage.addressing)
        except Exception:  # noqa: BLE001 - a question for a note, never a failure
            continue
    return missing


def push(repo: Any, targets: Iterable[str]) -> int:
    """``dvc push --run-cache`` for ``targets`` and their dependencies; files pushed."""
    with quiet_dvc():
        return int(repo.push(targets=list(targets) or None, with_deps=True, run_cache=True) or 0)


def planned_stages(repo: Any, targets: Iterable[str]) -> list[Any]:
    """The stages ``dvc repro TARGETS`` would look at, in the order it would."""
    from dvc.dvcfile import PROJECT_FILE
    from dvc.repo.reproduce import collect_stages, get_active_graph, plan_repro

    stages = collect_stages(repo, list(targets) or [PROJECT_FILE])
    return plan_repro(get_active_graph(repo.index.graph), stages)


def _run_streaming(argv: list[str], popen_kwargs: dict[str, Any], watcher: StageWatcher) -> int:
    """Run one stage command, passing each output line on; returns its exit code.

    Like DVC's own runner, the parent does not die on Ctrl-C while the command
    runs (the terminal sends SIGINT to the command too): it waits for the
    command to end, then raises KeyboardInterrupt, so the repository is left as
    an interrupted ``dvc repro`` leaves it.
    """
    import signal
    import subprocess
    import threading

    interrupted: list[int] = []
    main_thread = threading.current_thread() is threading.main_thread()
    old_handler: Any = None
    proc = subprocess.Popen(  # noqa: S603 - the stage's own command, as DVC runs it
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **popen_kwargs
    )
    try:
        if main_thread:
            old_handler = signal.signal(
                signal.SIGINT, lambda signum, frame: interrupted.append(signum)
            )
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            watcher.output(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
        proc.wait()
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
        if main_thread and old_handler is not None:
            signal.signal(signal.SIGINT, old_handler)
    if interrupted:
        raise KeyboardInterrupt
    return proc.returncode


def _restore(stage: Any, upstream: list[Any] | None) -> bool:
    """Check out a stage that is unchanged but for its missing data; True when it was.

    This is what ``Stage.reproduce`` does under ``dvc repro --pull`` (a stage
    that ``changed()`` only because its outputs are missing is pulled and
    checked out instead of run), split in two: the caller fetched from the
    remote beforehand, so here the stage is only checked out of the cache
    (``Repo.checkout``, the second half of ``Repo.pull``). It matters most for
    data sources (``dvc add``) and imports, which have no command: without it
    a fresh clone fails with "missing data 'source'". A stage whose data the
    cache lacks raises ``CheckoutError``: it is then reproduced as DVC would.
    """
    from dvc.exceptions import CheckoutError

    if not stage.changed(False, upstream) or stage.changed(True, upstream):
        return False  # nothing to do, or really changed: DVC decides
    try:
        stage.repo.checkout(targets=[stage.addressing])
    except CheckoutError:
        return False
    return not stage.changed(False, upstream)


def reproduce(
    repo: Any,
    targets: Iterable[str],
    *,
    pull: bool,
    watcher: StageWatcher,
    verbose: bool = False,
    stage_env: Callable[[dict[str, str]], dict[str, str]] | None = None,
) -> ReproRun:
    """``dvc repro [--pull] TARGETS`` in process, reporting each stage to ``watcher``.

    ``pull``: stages whose inputs changed may restore a matching run-cache entry
    whose outputs are only on the remote (``dvc repro --pull``). Stages that are
    unchanged except for missing outputs are not pulled one by one: the caller
    fetched first, and what the remote lacked is recomputed instead of failing.
    ``stage_env`` filters the environment each stage command runs with.
    """
    import time

    from dvc.exceptions import DvcException, ReproductionError
    from dvc.repo import reproduce as dvc_reproduce
    from dvc.stage import run as dvc_stage_run
    from dvc.stage.exceptions import StageCmdFailedError

    # The hooks below lean on these DVC internals; say so plainly if a DVC release moved them.
    needed = [
        (dvc_reproduce, "_reproduce_stage"),
        (dvc_stage_run, "cmd_run"),
        (dvc_stage_run, "_enforce_cmd_list"),
        (dvc_stage_run, "prepare_kwargs"),
        (dvc_stage_run, "get_executable"),
        (dvc_stage_run, "_make_cmd"),
    ]
    lacking = [f"{mod.__name__}.{name}" for mod, name in needed if not hasattr(mod, name)]
    if lacking:
        from dvc import __version__ as dvc_version

        raise DvcError(
            f"DVC {dvc_version} lacks {', '.join(lacking)}, which mlci's reproduction "
            "uses; install a DVC version mlci supports"
        )

    targets = list(targets)
    outcomes: dict[str, StageOutcome] = {}
    current: dict[str, Any] = {}

    def cmd_run(stage: Any, dry: bool = False, run_env: Any = None) -> None:
        # A copy of dvc.stage.run.cmd_run that captures the output.
        commands = dvc_stage_run._enforce_cmd_list(stage.cmd)
        kwargs = dvc_stage_run.prepare_kwargs(stage, run_env=run_env)
        if stage_env is not None:  # DVC hands a stage all of mlci's environment, tokens included
            kwargs["env"] = stage_env(kwargs["env"])
        executable = dvc_stage_run.get_executable()
        current["ran"] = True
        for cmd in commands:
            if dry:
                continue
            watcher.output(f"> {cmd}")
            code = _run_streaming(dvc_stage_run._make_cmd(executable, cmd), kwargs, watcher)
            if code != 0:
                current["exit_code"] = code
                current["failed_cmd"] = cmd
                raise StageCmdFailedError(cmd, code)

    def repro_fn(stage: Any, **kwargs: Any) -> Any:
        name = stage.addressing
        cmd = _cmd_text(stage)
        current.clear()
        watcher.stage_started(name, cmd)
        started = time.monotonic()
        if not kwargs.get("force") and _restore(stage, kwargs.get("upstream")):
            outcome = StageOutcome(name, "restored", round(time.monotonic() - started, 3), cmd)
            outcomes[name] = outcome
            watcher.stage_finished(outcome)
            return None
        # Only a changed stage pulls (a run-cache entry's outputs); an unchanged
        # one with missing outputs was restored above when the cache had them, and
        # what the remote lacks is computed rather than failing the way
        # `dvc repro --pull` does.
        kwargs["pull"] = pull and stage.changed(True, kwargs.get("upstream"))
        try:
            ret = dvc_reproduce._reproduce_stage(stage, **kwargs)
        except Exception as exc:
            outcome = StageOutcome(
                name,
                "failed",
                round(time.monotonic() - started, 3),
                current.get("failed_cmd", cmd),
                current.get("exit_code"),
                _describe(exc),
            )
            outcomes[name] = outcome
            watcher.stage_finished(outcome)
            raise
        if ret is None:
            status = "unchanged"
        elif current.get("ran") or not cmd or stage.frozen:
            status = "ran"
        else:
            status = "cached"
        outcome = StageOutcome(name, status, round(time.monotonic() - started, 3), cmd)
        outcomes[name] = outcome
        watcher.stage_finished(outcome)
        return ret

    error: str | None = None
    plan: list[Any] = []
    original = dvc_stage_run.cmd_run
    dvc_stage_run.cmd_run = cmd_run
    try:
        with quiet_dvc(verbose):
            plan = planned_stages(repo, targets)
            # pull=False here: the run-cache was fetched already (repro_fn decides per stage)
            repo.reproduce(targets or None, repro_fn=repro_fn, pull=False, run_cache=True)
    except ReproductionError as exc:
        failed = [o for o in outcomes.values() if o.status == "failed"]
        error = failed[0].error if failed else _describe(exc.__cause__ or exc)
    except DvcException as exc:  # before any stage: a bad dvc.yaml, an unknown target, a cycle
        error = _describe(exc)
    finally:
        dvc_stage_run.cmd_run = original
    stages = []
    for stage in plan:
        name = stage.addressing
        stages.append(outcomes.get(name) or StageOutcome(name, "skipped", None, _cmd_text(stage)))
    return ReproRun(tuple(stages), error)


@dataclass(frozen=True)
class RemoteConfig:
    """A configured DVC remote, as `dvc remote list` shows it (nothing is contacted)."""

    name: str
    url: str
    default: bool
    options: dict[str, Any]  # the remote's other settings (credentialpath, profile, ...)


def remotes(root: Path) -> list[RemoteConfig]:
    """The DVC remotes configured for this repository (all config levels merged)."""
    with open_repo(root) as repo:
        conf = repo.config
        default = conf.get("core", {}).get("remote")
        out = []
        for name, opts in conf.get("remote", {}).items():
            opts = dict(opts)
            url = str(opts.pop("url", ""))
            out.append(RemoteConfig(name, url, name == default, opts))
        return out


# --- data files at a revision (for validation and the data diff) -----------------


def _lock_outs(text: bytes) -> Iterator[dict[str, Any]]:
    import yaml

    try:
        # the C parser where PyYAML has it: a dvc.lock with many outputs takes the pure one long
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
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
    from mlci.adapters import git

    candidates = [("dvc.lock", "")]
    parent = str(Path(path).parent.as_posix())
    candidates.append((f"{path}.dvc", "" if parent == "." else parent + "/"))
    for lock, prefix in candidates:
        text = git.show_file(rev, lock, root)
        if not text:
            continue
        for out in _lock_outs(text):
            out_path = prefix + str(out.get("path", ""))
            if (
                Path(out_path).as_posix() == path
                and isinstance(out.get("md5"), str)
                and not out["md5"].endswith(".dir")
            ):
                return out["md5"]
    return None


def recorded_dir_member_md5(root: Path, rev: str, path: str) -> str | None:
    """The md5 of ``path`` inside a directory output recorded in ``dvc.lock`` at ``rev``.

    Read from the directory's manifest (``<md5>.dir``) in the local cache, so that
    no DVC repository is opened for it; None when that cannot be told this way (no
    such output, a cache elsewhere than ``.dvc/cache``, the manifest not in the cache):
    the caller asks DVC then.
    """
    import json

    from mlci.adapters import git

    text = git.show_file(rev, "dvc.lock", root)
    if not text:
        return None
    for config in (root / ".dvc" / "config", root / ".dvc" / "config.local"):
        try:
            if "[cache]" in config.read_text(encoding="utf-8", errors="replace"):
                return None  # a configured cache (dir, type): let DVC find it
        except OSError:
            continue
    for out in _lock_outs(text):
        out_path = Path(str(out.get("path", ""))).as_posix().rstrip("/")
        md5 = out.get("md5")
        if not (isinstance(md5, str) and md5.endswith(".dir") and path.startswith(out_path + "/")):
            continue
        if out.get("hash") != "md5":  # DVC 2's layout: not worth a second reader
            return None
        manifest = root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
        try:
            entries = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        rel = path[len(out_path) + 1 :]
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and entry.get("relpath") == rel:
                found = entry.get("md5")
                return found if isinstance(found, str) else None
        return None
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


def _error_text(
    value: Any,
    repo: Any = None,
    path: str | None = None,
    remotes: dict[tuple[str, str], str] | None = None,
) -> str | None:
    """DVC's ``onerror_collect`` leaves ``{"error": exc}`` where something failed.

    With ``repo`` and ``path``, a file DVC recorded but could not fetch says why
    (as for metrics); "file not found" is kept for a file that is simply absent.
    """
    if isinstance(value, dict) and "error" in value:
        exc = value["error"]
        if repo is not None and path is not None:
            return unreadable_reason(repo, path, exc, remotes) or "file not found"
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
            found[config_file or "dvc.yaml"] = PlotSource(
                config_file or "dvc.yaml", {}, errors={config_file or "dvc.yaml": error}
            )
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
    remotes: dict[tuple[str, str], str] = {}
    for path, source in (sources.get("data") or {}).items():
        source = dict(source)
        if "data_source" in source:
            source.update(source.pop("data_source")(cache=True))
        problem = _error_text(source, repo, Path(path).as_posix(), remotes)
        read[path] = (source.get("data"), problem, dict(source.get("props") or {}))
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
        from dvc.render.converter.vega import VegaConverter

        try:
            return VegaConverter(plot_id, data, dict(props)).flat_datapoints(rev)
        except Exception as exc:  # noqa: BLE001 - DVC's words go into the report
            raise PlotDataError(_describe(exc)) from exc
