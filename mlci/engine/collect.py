"""Gather metrics and params at the base and the head revision.

DVC-declared files come from :mod:`mlci.dvc`; extra files named in
``metrics.files`` are read straight from git (base, or head when it is a
revision) or the work tree. Everything is flattened to ``path:key.path``.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlci.adapters import dvc, git
from mlci.model import yamlread


@dataclass
class Snapshot:
    """Flattened metrics and params of one revision."""

    rev: str  # a sha or "workspace"
    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    metric_files: set[str] = field(default_factory=set)  # files that were read
    errors: dict[str, str] = field(
        default_factory=dict
    )  # metric files declared but unreadable: why
    param_errors: dict[str, str] = field(
        default_factory=dict
    )  # param files declared but unreadable
    missing: set[str] = field(default_factory=set)  # declared metric files absent at this revision
    has_project: bool = True
    plots: dict[str, Any] = field(default_factory=dict)  # plot id -> dvc.PlotSource


# values one metrics or params file may hold: more is refused (named as unreadable), since
# every value becomes a row to compare, judge and render
MAX_VALUES_PER_FILE = 10_000
MAX_FILE_BYTES = 16 * 1024 * 1024  # a metrics file larger than this is not read


class TooManyValues(ValueError):
    """A file holds more values than mlci compares."""


def flatten(data: Any, prefix: str = "", limit: int | None = None) -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists and scalars are leaves.

    Iterative (a deeply nested file must not overflow the stack); with ``limit``, more than
    that many values raise :class:`TooManyValues`.
    """
    out: dict[str, Any] = {}
    stack: list[tuple[str, Any]] = [(prefix, data)]
    while stack:
        name, value = stack.pop()
        if isinstance(value, dict):
            stack.extend(
                (f"{name}.{key}" if name else str(key), child)
                for key, child in reversed(list(value.items()))
            )
            continue
        out[name] = value
        if limit is not None and len(out) > limit:
            raise TooManyValues(
                f"more than {limit:,} values; mlci compares up to {limit:,} per file"
            )
    return out


def _named(path: str, data: Any) -> dict[str, Any]:
    flat = flatten(data, limit=MAX_VALUES_PER_FILE)
    return {(f"{path}:{k}" if k else path): v for k, v in flat.items()}


def _number(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_metric_file(path: str, content: bytes) -> Any:
    """Parse a metrics file by its suffix: JSON, YAML, TOML, CSV or TSV."""
    suffix = Path(path).suffix.lower()
    text = content.decode("utf-8")
    if suffix == ".json":
        return json.loads(text)
    if suffix in (".yaml", ".yml"):
        return yamlread.load(text) or {}
    if suffix == ".toml":
        import tomllib

        return tomllib.loads(text)
    if suffix in (".csv", ".tsv"):
        rows = list(csv.DictReader(io.StringIO(text), delimiter="\t" if suffix == ".tsv" else ","))
        if not rows:
            return {}
        cols = list(rows[0].keys())
        lowered = [c.lower() for c in cols]
        # name,value layout: one metric per row
        if len(cols) == 2 and lowered[0] in ("name", "metric", "key") and lowered[1] == "value":
            return {r[cols[0]]: _number(r[cols[1]]) for r in rows}
        if len(rows) == 1:
            return {c: _number(v) for c, v in rows[0].items()}
        # several rows: keyed by the first column
        return {r[cols[0]]: {c: _number(r[c]) for c in cols[1:]} for r in rows}
    raise ValueError(f"unsupported metrics file type '{suffix}' (json, yaml, toml, csv, tsv)")


_NOT_SEARCHED = {".git", ".dvc", "node_modules", "__pycache__"}


def _work_tree_files(root: Path) -> list[str]:
    """Repo-relative posix paths of the work tree's files (git's and DVC's own folders left out)."""
    out: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _NOT_SEARCHED and not d.startswith(".venv")]
        rel = Path(folder).relative_to(root)
        out.extend((rel / name).as_posix() for name in files)
    return out


def _expand(patterns: tuple[str, ...], root: Path, rev: str) -> list[str]:
    """Repo-relative paths matching ``patterns`` at ``rev`` (globs allowed).

    The same matcher (``fnmatch`` on posix paths, where ``*`` also crosses
    ``/``) is used for the work tree and for commits, so a pattern finds the
    same files on both sides of a comparison.
    """
    plain = [p for p in patterns if not any(c in p for c in "*?[")]
    globs = [p for p in patterns if p not in plain]
    paths = list(plain)
    if globs:
        if rev == dvc.WORKSPACE:
            listing = _work_tree_files(root)
        else:
            listing = git.output(
                ["ls-tree", "-r", "--name-only", "--end-of-options", rev], root
            ).splitlines()
        candidates = [p for p in listing if any(fnmatch.fnmatchcase(p, g) for g in globs)]
        paths.extend(sorted(set(candidates)))
    return list(dict.fromkeys(Path(p).as_posix() for p in paths))


def read_extra(snapshot: Snapshot, patterns: tuple[str, ...], root: Path) -> None:
    for path in _expand(patterns, root, snapshot.rev):
        if path in snapshot.metric_files:
            continue
        if snapshot.rev == dvc.WORKSPACE:
            file = root / path
            content = file.read_bytes() if file.is_file() else None
        else:
            content = git.show_file(snapshot.rev, path, root)
        if content is None:
            snapshot.missing.add(path)
            continue
        if len(content) > MAX_FILE_BYTES:
            snapshot.errors[path] = (
                f"{len(content):,} bytes, more than mlci reads in a metrics file ({MAX_FILE_BYTES:,})"
            )
            continue
        try:
            data = parse_metric_file(path, content)
            named = _named(path, data)
        except (ValueError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
            snapshot.errors[path] = f"cannot parse: {str(exc).splitlines()[0]}"
            continue
        snapshot.metric_files.add(path)
        snapshot.metrics.update(named)


def collect(
    root: Path,
    revs: list[str],
    extra_files: tuple[str, ...],
    *,
    verbose: bool = False,
    plots: bool = False,
    extra_plots: tuple[str, ...] = (),
) -> dict[str, Snapshot]:
    """Snapshots for each of ``revs`` (shas or "workspace"), in one DVC pass (plots too, if asked)."""
    snaps = {rev: Snapshot(rev=rev) for rev in revs}
    if dvc.is_dvc_repo(root):
        found = dvc.read_revisions(
            root, revs, verbose=verbose, plots=plots, extra_plots=extra_plots
        )
        for rev, data in found.items():
            snap = snaps[rev]
            snap.has_project = data.found
            for path, content in data.metrics.items():
                try:
                    named = _named(path, content)
                except TooManyValues as exc:
                    snap.errors[path] = str(exc)
                    continue
                snap.metric_files.add(path)
                snap.metrics.update(named)
            for path, content in data.params.items():
                try:
                    snap.params.update(_named(path, content))
                except TooManyValues as exc:
                    snap.param_errors[path] = str(exc)
            snap.errors.update(data.errors)
            snap.param_errors.update(data.param_errors)
            snap.missing.update(data.missing)
            snap.plots = data.plots
    else:
        for snap in snaps.values():
            snap.has_project = False
    for snap in snaps.values():
        read_extra(snap, extra_files, root)
    return snaps
