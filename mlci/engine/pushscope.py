"""Whether a push can change the gate at all, decided from git alone (the hook's fast path).

Most pushes change code or prose, not the pipeline. Importing DVC to find that
out costs the better part of a second per push, so :func:`untouched` answers
first from the names of the files the push changes and the files the
pipeline declares, with git and a YAML parser only.

It answers "untouched" only when it can tell for sure: every ``dvc.yaml`` and
``dvc.lock`` in the pushed commit is read, and a changed file is *relevant*
when it is, or lies under, any string those files contain (deps, params,
outs, metrics, plots, and more: collecting every string over-approximates the
schema, which can only send more pushes down the full path), or any string
of ``mlci.yaml`` (data checks, suites), or when it is itself a pipeline or
config file (``dvc.yaml``, ``dvc.lock``, ``params*.yaml``, ``mlci.yaml``, a
``.dvc`` file, anything under ``.dvc/`` or ``.mlci/``). Templated files
(``${...}``, ``vars``), ``foreach``/``matrix`` stages, unreadable YAML and
anything else it cannot settle cheaply return None: "check it the full way".

The range is what the push changes on the remote: the tree of the commit the
remote branch has now against the pushed commit's (a force push included); for
a new branch, the base branch's tip against the pushed commit's.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mlci.adapters import git
from mlci.model import yamlread

PIPELINE_NAMES = ("dvc.yaml", "dvc.lock", "mlci.yaml", ".dvcignore")
PIPELINE_DIRS = (".dvc/", ".mlci/")
_PARAMS_FILE = re.compile(r"params[^/]*\.(ya?ml|json|toml|py)$")
_GLOB = re.compile(r"[*?\[]")
_UNDECIDABLE_KEYS = ("foreach", "matrix", "vars")
_NOT_PATHS = ("cmd", "wdir", "desc", "md5", "hash", "size", "nfiles")  # values that name no file


def _is_pipeline_file(path: str) -> bool:
    name = posixpath.basename(path)
    return (
        name in PIPELINE_NAMES
        or name.endswith(".dvc")
        or bool(_PARAMS_FILE.match(name))
        or any(path.startswith(d) or f"/{d}" in path for d in PIPELINE_DIRS)
    )


def _strings(node: object, out: list[str]) -> bool:
    """Every string key and value in ``node`` into ``out``; False when a key means "templated"."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _UNDECIDABLE_KEYS:
                return False
            if isinstance(key, str):
                out.append(key)
            if key in _NOT_PATHS:
                continue
            if not _strings(value, out):
                return False
    elif isinstance(node, list):
        return all(_strings(item, out) for item in node)
    elif isinstance(node, str):
        out.append(node)
    return True


def _prefixes(strings: list[str], base_dirs: list[str]) -> set[str] | None:
    """Normalised repository paths the strings could name, relative to each of ``base_dirs``."""
    found: set[str] = set()
    for text in strings:
        text = text.strip()
        if not text or text.startswith("/"):
            continue  # external paths are not in git; an empty string names nothing
        if ":" in text:  # "file.json:key" (a metric or param in a file) names the file
            text = text.split(":", 1)[0]
        glob = _GLOB.search(text)
        if glob:  # a glob: everything under the folder before its first wildcard
            text = text[: glob.start()].rpartition("/")[0] or "."
        for base in base_dirs:
            path = posixpath.normpath(posixpath.join(base, text))
            if path == ".":
                return None  # it names the whole repository: everything is relevant
            if not path.startswith("../"):
                found.add(path)
    return found


def _relevant(rev: str, root: Path) -> set[str] | None:
    """Every path the gate may read at ``rev``; None when that cannot be told cheaply."""

    files = git.output(["ls-tree", "-r", "--name-only", "-z", "--end-of-options", rev], root).split(
        "\0"
    )
    paths: set[str] = set()
    for name in files:
        base = posixpath.basename(name)
        if base not in ("dvc.yaml", "dvc.lock", "mlci.yaml"):
            continue
        text = git.show_file(rev, name, root)
        if text is None:
            return None
        source = text.decode("utf-8", errors="replace")
        if "${" in source:
            return None  # templating: the paths are only known after DVC resolves them
        try:
            data = yamlread.load(source)
        except yamlread.YamlRefused:
            return None
        strings: list[str] = []
        if data is not None and not _strings(data, strings):
            return None
        folder = posixpath.dirname(name) or "."
        # `wdir` moves a stage's paths: take them relative to the file's folder and to every wdir
        bases = [folder]
        if isinstance(data, dict) and isinstance(data.get("stages"), dict):
            for stage in data["stages"].values():
                if isinstance(stage, dict) and isinstance(stage.get("wdir"), str):
                    bases.append(posixpath.normpath(posixpath.join(folder, stage["wdir"])))
        found = _prefixes(strings, bases)
        if found is None:
            return None
        paths |= found
    return paths


def _changed(old: str, new: str, root: Path) -> list[str]:
    out = git.output(
        ["diff", "--name-only", "--no-renames", "-z", "--end-of-options", old, new], root
    )
    return [p for p in out.split("\0") if p]


def untouched(old: str, new: str, root: Path) -> bool | None:
    """True when no file the gate depends on differs between commits ``old`` and ``new``.

    False when one does; None when it cannot be told cheaply (take the full path).
    """
    changed = _changed(old, new, root)
    if not changed:
        return True
    if any(_is_pipeline_file(p) for p in changed):
        return False
    relevant = _relevant(new, root)
    if relevant is None:
        return None
    for path in changed:
        if path in relevant or any(path.startswith(r + "/") for r in relevant):
            return False
    return True


def configured_base(rev: str, root: Path) -> tuple[bool, str | None]:
    """``base:`` of the root ``mlci.yaml`` at ``rev``: (settled, the base or None when unset).

    Not settled when another ``mlci.yaml`` lies in a subfolder (which one applies is the
    config loader's business) or the file does not parse.
    """

    names = git.output(["ls-tree", "-r", "--name-only", "-z", "--end-of-options", rev], root).split(
        "\0"
    )
    if any(n.endswith("/mlci.yaml") for n in names):
        return False, None
    if "mlci.yaml" not in names:
        return True, None
    text = git.show_file(rev, "mlci.yaml", root)
    try:
        data = yamlread.load(text or b"")
    except yamlread.YamlRefused:
        return False, None
    base = data.get("base") if isinstance(data, dict) else None
    if base is not None and not isinstance(base, str):
        return False, None
    return True, base
