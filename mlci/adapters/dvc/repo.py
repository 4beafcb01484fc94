"""Opening a DVC repository, keeping DVC's log quiet, and DVC's failures said in words.

Every other module of :mod:`mlci.adapters.dvc` gets its ``Repo`` from :func:`open_repo`,
which checks once per process that the installed DVC has the internals mlci uses
(:mod:`mlci.adapters.dvc._compat`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from mlci.adapters.dvc.plugins import REMOTE_PLUGINS
from mlci.model.errors import RunError

WORKSPACE = "workspace"
PIPELINE = "dvc.yaml"  # the key of an error that concerns the whole pipeline (dvc.yaml, dvc.lock)


class DvcError(RunError):
    """DVC failed in a way mlci cannot go on from."""


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
# inside reused_repos(): the roots whose Repo was opened there, closed when that block ends
_reused: list[Path] | None = None
# inside reused_repos(), once DVC is imported: DVC's YAML parsed once per text (_compat)
_parsing: ExitStack | None = None


def _start_parsing_once() -> None:
    global _parsing
    from mlci.adapters.dvc import _compat

    stack = ExitStack()
    stack.enter_context(_compat.yaml_parsed_once())
    _parsing = stack


@contextmanager
def reused_repos() -> Iterator[None]:
    """Within this block, a root's first :func:`open_repo` opens its ``Repo`` and keeps it
    open; every later one gets that same ``Repo``; all are closed when the block ends.

    ``mlci check`` asks DVC up to three times (is ``dvc.lock`` up to date, does a commit
    lack cached metrics, read metrics, params and plots); each ``Repo`` costs its
    configuration, its state database and its Git handle. Nothing is opened for a
    project that never asks, and a root that cannot be opened fails where it is asked,
    as before. The brancher and ``dvc status``' lock reset the ``Repo``'s index on each
    pass, so a reused ``Repo`` answers as a fresh one would (as :func:`shared_repo`).
    """
    global _reused, _parsing
    if _reused is not None:  # nested: the outer block closes them
        yield
        return
    _reused = []
    try:
        yield
    finally:
        opened, _reused = _reused, None
        parsing, _parsing = _parsing, None
        try:
            for root in opened:
                repo = _shared.pop(root, None)
                if repo is not None:
                    repo.close()
        finally:
            if parsing is not None:
                parsing.close()


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
        if _reused is not None and root in _reused:  # the reused_repos() block closes it
            yield
            return
        _shared[root] = repo
        try:
            yield
        finally:
            del _shared[root]


@contextmanager
def open_repo(root: Path, verbose: bool = False) -> Iterator[Any]:
    """DVC's ``Repo`` for ``root`` (the shared one inside :func:`shared_repo`), DVC quiet."""
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
        from mlci.adapters.dvc import _compat

        _compat.check()  # once per process: a DVC release without mlci's internals says so here
        try:
            repo = Repo(str(root))
        except DvcException as exc:
            raise DvcError(f"DVC cannot open {root}: {exc}") from exc
        if _reused is not None:  # kept open for the rest of the reused_repos() block
            _shared[root] = repo
            _reused.append(root)
            if _parsing is None:  # the first Repo of the block: DVC's YAML parsed once from now
                _start_parsing_once()
            yield repo
            return
        try:
            yield repo
        finally:
            repo.close()


def describe(exc: BaseException) -> str:
    """DVC's failure in one line (its first), with mlci's extra named for a missing plugin."""
    text = str(exc) or type(exc).__name__
    return _extra_hint(text.splitlines()[0] if text else type(exc).__name__)


_MISSING_PLUGIN = re.compile(
    r"requires (?:these missing dependencies: \['|')(?:dvc-)?("
    + "|".join(sorted({p.extra for p in REMOTE_PLUGINS.values()}))
    + ")'"
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


def is_missing(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the file is not there."""
    from dvc.exceptions import FileMissingError

    if isinstance(exc, (FileNotFoundError, FileMissingError)):
        return True
    cause = exc.__cause__ or exc.__context__
    return cause is not None and is_missing(cause)


def error_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
