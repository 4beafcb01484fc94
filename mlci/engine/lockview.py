"""What one commit's ``dvc.lock`` says about the stages that write metrics files.

The results history (:mod:`mlci.engine.history`) decides from it which recorded
commits are runs of a metric's stage and which runs had the same inputs, and
finds a metrics file's content in the local DVC cache by the md5 the lock records.
A lock is data: an unreadable one gives an empty view, and an md5 never names a
path outside the cache.
"""

from __future__ import annotations

import itertools
import json
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.model import yamlread
from mlci.model.paths import clean_path, join_path


@dataclass(frozen=True)
class StageRecord:
    """The stage that writes a metrics file, as one commit's ``dvc.lock`` records it."""

    stage: str
    entry: str  # digest of its whole lock entry: a run changes it (unless it was forced)
    identity: str  # digest of what is upstream of it and not produced by the pipeline


@dataclass(frozen=True)
class LockView:
    """What one ``dvc.lock`` says about the stages that write metrics files."""

    outs: dict[str, StageRecord] = field(default_factory=dict)  # output path -> its stage
    md5: dict[str, str] = field(default_factory=dict)  # output path -> recorded md5

    def stage_of(self, path: str) -> StageRecord | None:
        """The stage writing ``path``: an output itself, or a file inside an output folder."""
        path = clean_path(path)
        if path in self.outs:
            return self.outs[path]
        for out, rec in self.outs.items():
            if path.startswith(out + "/"):
                return rec
        return None

    def identity_of(self, path: str) -> str | None:
        rec = self.stage_of(path)
        return rec.identity if rec else None


def _digest(value: Any) -> str:
    import hashlib

    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def stage_wdirs(pipeline: bytes | str | None) -> dict[str, str]:
    """Each stage of ``dvc.yaml`` that runs in another folder (``wdir``) -> that folder.

    ``dvc.lock`` records such a stage's paths relative to its ``wdir`` and does not say
    what the ``wdir`` is. ``foreach``/``matrix`` stages are keyed by their base name
    (``evaluate`` for ``evaluate@a``), or, when the ``wdir`` is a template of the stage's own
    ``${item}``/``${key}`` over a list or mapping written in ``dvc.yaml``, by each generated
    name, as DVC names them (:func:`_generated`), with the values as DVC reads them (YAML
    1.2: ``on`` is a word, ``1e-3`` a number). A template of anything else (``vars``,
    params, a ``foreach: ${models}``) is not resolved: its stage's paths stay as the lock has
    them. An unreadable file gives no folders.
    """
    if not pipeline:
        return {}
    try:
        doc = yamlread.load(pipeline)  # bounded: a hostile file is refused here
    except yamlread.YamlRefused:
        return {}
    stages = doc.get("stages") if isinstance(doc, dict) else None
    found: dict[str, str] = {}
    as_dvc_reads: dict[str, Any] | None = None
    for name, stage in stages.items() if isinstance(stages, dict) else ():
        if not isinstance(stage, dict):
            continue
        generated = "foreach" in stage or "matrix" in stage
        body = stage.get("do") if "foreach" in stage else stage
        wdir = body.get("wdir") if isinstance(body, dict) else None
        if not isinstance(wdir, str):
            continue
        if "${" not in wdir:
            if clean_path(wdir) != ".":
                found[str(name)] = clean_path(wdir)
            continue
        if not generated:
            continue
        if as_dvc_reads is None:
            as_dvc_reads = _stages_as_dvc_reads(pipeline)
        stage = as_dvc_reads.get(str(name))
        if not isinstance(stage, dict):
            continue
        for key, names in _generated(stage):
            folder = _fill(wdir, names)
            if folder is not None and clean_path(folder) != ".":
                found[f"{name}@{key}"] = clean_path(folder)
    return found


def _stages_as_dvc_reads(pipeline: bytes | str) -> dict[str, Any]:
    """The ``stages`` of ``dvc.yaml`` parsed as DVC parses it (ruamel.yaml, YAML 1.2), whose
    scalars differ from PyYAML's YAML 1.1 (``on``, ``yes``, ``1e-3``, ``017``, ``1:30``)."""
    from ruamel.yaml import YAML

    text = pipeline.decode("utf-8", "replace") if isinstance(pipeline, bytes) else pipeline
    try:
        doc = YAML(typ="safe", pure=True).load(text)
    except Exception:  # noqa: BLE001 - what DVC cannot parse generates no stage
        return {}
    stages = doc.get("stages") if isinstance(doc, dict) else None
    return {str(k): v for k, v in stages.items()} if isinstance(stages, dict) else {}


def _dvc_str(value: Any) -> str:
    """A scalar as DVC's templates and generated names write it (``true``, not ``True``)."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _generated(stage: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(key, the names its template sees) of each stage a ``foreach`` or ``matrix`` written out
    in ``dvc.yaml`` generates: a list of scalars is keyed by each value, a list with a mapping
    or list in it by position, a mapping by its keys; a matrix by its values joined with ``-``
    (``name0`` for the first of a composite axis), its item the mapping of axis to value.
    ``item`` is always seen, ``key`` only over a mapping and in a matrix (over a list, DVC
    takes ``${key}`` from ``vars``). A template (``foreach: ${models}``) generates nothing."""
    if "foreach" in stage:
        over = stage["foreach"]
        if isinstance(over, dict):
            return [(_dvc_str(k), {"item": v, "key": _dvc_str(k)}) for k, v in over.items()]
        if isinstance(over, list):
            if any(isinstance(v, (dict, list)) for v in over):
                return [(str(i), {"item": v}) for i, v in enumerate(over)]
            return [(_dvc_str(v), {"item": v}) for v in over]
        return []
    matrix = stage.get("matrix")
    if not isinstance(matrix, dict) or not all(isinstance(v, list) for v in matrix.values()):
        return []
    out: list[tuple[str, dict[str, Any]]] = []
    for combination in itertools.product(*(list(enumerate(v)) for v in matrix.values())):
        parts = [
            f"{axis}{i}" if isinstance(v, (dict, list)) else _dvc_str(v)
            for axis, (i, v) in zip(matrix, combination, strict=True)
        ]
        item = {axis: v for axis, (_, v) in zip(matrix, combination, strict=True)}
        key = "-".join(parts)
        out.append((key, {"item": item, "key": key}))
    return out


_TEMPLATE = re.compile(r"\$\{\s*([A-Za-z_][\w-]*(?:\.[\w-]+)*)\s*\}")


def _fill(template: str, names: dict[str, Any]) -> str | None:
    """``template`` with each ``${item}``, ``${item.field}`` and ``${key}`` filled from
    ``names``; None when one names anything else or is not a scalar."""
    missing = object()

    def value(match: re.Match[str]) -> str:
        head, *fields = match.group(1).split(".")
        found: Any = names.get(head, missing)
        for part in fields:
            found = found.get(part, missing) if isinstance(found, dict) else missing
        if found is missing or isinstance(found, (dict, list)) or found is None:
            raise LookupError(match.group(0))
        return _dvc_str(found)

    try:
        filled = _TEMPLATE.sub(value, template)
    except LookupError:
        return None
    return None if "${" in filled else filled


def _in_wdir(wdir: str | None, path: str) -> str:
    """A lock path of a stage run in ``wdir``, as a path of the project (``../x`` resolved)."""
    if not wdir:
        return clean_path(path)
    return clean_path(posixpath.normpath(join_path(wdir, path)))


def lock_view(text: bytes | str | None, pipeline: bytes | str | None = None) -> LockView:
    """Each output of ``dvc.lock`` -> its stage, the digest of that stage's entry, and its
    identity: the commands, params and non-pipeline deps (code, data added with ``dvc add``,
    imports) of the stage and of every stage upstream of it. ``pipeline`` is the same
    commit's ``dvc.yaml``, which says where stages with a ``wdir`` ran (:func:`stage_wdirs`).

    Intermediate outputs (a model) are left out of the identity: they differ exactly
    when an upstream stage is nondeterministic, which is what the identity must let
    the history see. An unreadable lock gives an empty view (no flag, no guess).
    """
    if not text:
        return LockView()
    try:
        doc = yamlread.load(text)
    except yamlread.YamlRefused:
        return LockView()
    stages = doc.get("stages") if isinstance(doc, dict) else None
    if not isinstance(stages, dict):
        return LockView()
    entries = {str(k): v for k, v in stages.items() if isinstance(v, dict)}
    wdirs = stage_wdirs(pipeline)

    def wdir_of(name: str) -> str | None:
        return wdirs.get(name) or wdirs.get(name.split("@", 1)[0])

    produced: dict[str, str] = {}  # output path -> stage
    md5: dict[str, str] = {}
    for name, entry in entries.items():
        for out in entry.get("outs") or ():
            if isinstance(out, dict) and isinstance(out.get("path"), str):
                # as dvc.yaml wrote it: ``./eval/`` is the folder ``eval``
                path = _in_wdir(wdir_of(name), out["path"])
                produced[path] = name
                if isinstance(out.get("md5"), str):
                    md5[path] = out["md5"]

    def producer(path: str) -> list[str]:
        path = clean_path(path)
        return [
            stage
            for out, stage in produced.items()
            if out == path or path.startswith(out + "/") or out.startswith(path + "/")
        ]

    memo: dict[str, frozenset[str]] = {}

    def upstream(name: str, seen: frozenset[str]) -> frozenset[str]:
        if name in memo:
            return memo[name]
        entry = entries[name]
        parts = {
            json.dumps(
                ["stage", name, entry.get("cmd"), entry.get("params")], sort_keys=True, default=str
            )
        }
        for dep in entry.get("deps") or ():
            if not isinstance(dep, dict) or not isinstance(dep.get("path"), str):
                continue
            where = _in_wdir(wdir_of(name), dep["path"])
            makers = [s for s in producer(where) if s != name and s not in seen]
            if makers:
                for maker in makers:
                    parts |= upstream(maker, seen | {name})
            else:
                parts.add(json.dumps(["source", dep], sort_keys=True, default=str))
        memo[name] = frozenset(parts)
        return memo[name]

    outs: dict[str, StageRecord] = {}
    for path, name in produced.items():
        outs[path] = StageRecord(
            name, _digest(entries[name]), _digest(sorted(upstream(name, frozenset())))
        )
    return LockView(outs, md5)


def lock_inputs(text: bytes | str | None, pipeline: bytes | str | None = None) -> dict[str, str]:
    """Each output ``dvc.lock`` records -> the identity of its stage (see :func:`lock_view`)."""
    return {path: rec.identity for path, rec in lock_view(text, pipeline).outs.items()}


def inside_project(path: str) -> bool:
    """A metrics path a note may name: relative, inside the project, one line."""
    parts = path.split("/")
    return (
        bool(path)
        and not path.startswith("/")
        and ".." not in parts
        and not any(c in path for c in "\n\r\0\\")
    )


def _is_md5(value: object) -> bool:
    text = value.removesuffix(".dir") if isinstance(value, str) else ""
    return len(text) == 32 and all(c in "0123456789abcdef" for c in text)


def _dvc_cache_file(root: Path, md5: str) -> bytes | None:
    if not _is_md5(md5):  # a lock is data: its md5 never names a path outside the cache
        return None
    for rel in (("files", "md5", md5[:2], md5[2:]), (md5[:2], md5[2:])):
        try:
            return (root / ".dvc" / "cache").joinpath(*rel).read_bytes()
        except OSError:
            continue
    return None


def dvc_content(root: Path, view: LockView, path: str) -> bytes | None:
    """``path``'s content from the local DVC cache, by the md5 the commit's lock records."""
    path = clean_path(path)
    md5 = view.md5.get(path)
    if md5 and not md5.endswith(".dir"):
        return _dvc_cache_file(root, md5)
    for out, digest in view.md5.items():
        if digest.endswith(".dir") and path.startswith(out + "/"):
            manifest = _dvc_cache_file(root, digest)
            try:
                entries = json.loads(manifest) if manifest else None
            except ValueError:
                return None
            rel = path[len(out) + 1 :]
            for entry in entries if isinstance(entries, list) else ():
                if isinstance(entry, dict) and entry.get("relpath") == rel:
                    member = entry.get("md5")
                    return _dvc_cache_file(root, member) if isinstance(member, str) else None
    return None
