"""DVC remotes: which are configured, whether one answers, fetch and push, and why a
recorded file could not be read (the cache, then the remote, said in words)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci.adapters.dvc.plugins import DEFAULT_PORTS, REMOTE_PLUGINS
from mlci.adapters.dvc.repo import describe, error_chain, is_missing, open_repo, quiet_dvc


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


def plugin_cure(scheme: str, package: str) -> str:
    """What to install for a remote scheme whose DVC plugin is missing, first the package."""
    plugin = REMOTE_PLUGINS.get(scheme)
    if plugin is None:
        return f"needs {package}: pip install {package}"
    # mlci's extra: the action installs extras, not packages
    return (
        f"needs {package}: pip install 'mlci[{plugin.extra}]' (DVC's {scheme} plugin is not "
        f"installed, so DVC cannot open the {scheme} remote; in the action, the input "
        f"`extras: {plugin.extra}`)"
    )


def _plugin_text(exc: BaseException) -> str | None:
    """DVC's "s3 is supported, but requires 'dvc-s3' to be installed", said as what to do."""
    import re

    for err in error_chain(exc):
        if isinstance(err, ImportError):
            match = re.search(r"(\w+) is supported, but requires '([\w-]+)'", str(err))
            if match:
                return plugin_cure(*match.groups())
    return None


def missing_plugin(repo: Any) -> str | None:
    """What the default remote needs when its plugin is not installed (see :func:`plugin_cure`).

    Told from the URL's scheme without building the remote, so that reading can
    leave the remote out and still read everything git holds.
    """
    import importlib.util
    from urllib.parse import urlsplit

    name = repo.config["core"].get("remote")
    if not name:
        return None
    url = str((repo.config["remote"].get(name) or {}).get("url", ""))
    scheme = urlsplit(url).scheme.lower()
    plugin = REMOTE_PLUGINS.get(scheme)
    if plugin is None or importlib.util.find_spec(plugin.module) is not None:
        return None
    return plugin_cure(scheme, plugin.module.replace("_", "-"))


def connection_text(
    exc: BaseException, host: str | None = None, port: int | None = None
) -> str | None:
    """What a network failure was, in words: DNS, refused, timed out; None when not one."""
    import socket

    where = f"{host}:{port}" if host and port else host or "the host"
    for err in error_chain(exc):
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


def _reach(url: str, timeout: float = 5.0) -> str | None:
    """Why the host of a network remote cannot be reached; None when it answers or has no host."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        return f"the URL's port is not a number: {url}"
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as exc:
        return connection_text(exc, parts.hostname, port) or describe(exc)
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
        return name, shown, (_plugin_text(exc) or connection_text(exc) or describe(exc))
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
    if not is_missing(exc):
        return describe(exc)
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


@dataclass(frozen=True)
class Remote:
    """The default DVC remote, and whether it answered."""

    name: str
    url: str
    reachable: bool
    error: str | None = None


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


def fetch(repo: Any, targets: Iterable[str], *, run_cache: bool = True) -> int:
    """``dvc fetch --run-cache`` (``run_cache=False``: without it) for ``targets`` and what
    they depend on.

    Returns how many files failed to download. Files that are simply not on
    the remote are not failures (DVC only logs them): reproduction computes
    their stages, as ``dvc repro`` would; see :func:`stages_without_outputs`.
    """
    from dvc.exceptions import DownloadError

    with quiet_dvc():
        try:
            repo.fetch(targets=list(targets) or None, with_deps=True, run_cache=run_cache)
        except DownloadError as exc:
            return int(getattr(exc, "amount", 1) or 1)
    return 0


def push(repo: Any, targets: Iterable[str]) -> int:
    """``dvc push --run-cache`` for ``targets`` and their dependencies; files pushed."""
    with quiet_dvc():
        return int(repo.push(targets=list(targets) or None, with_deps=True, run_cache=True) or 0)


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
