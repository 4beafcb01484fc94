"""The Python environment a repository declares, read from its files: one parser per format.

Each parser turns the text of one file into :class:`Declared` entries (a package and what the
file says about its version), so that two revisions of a file can be compared package by
package. Requirements are read with ``packaging`` (PEP 508), TOML with ``tomllib``, YAML
with PyYAML and ``Pipfile.lock`` with ``json``; only pip's own line syntax (comments, line
continuations, ``-r``/``-c`` options) and conda's ``name=version=build`` match specs are
split by hand, because no installed library reads them.
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from mlci.model import yamlread

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

LOCK_KINDS = ("uv.lock", "poetry.lock", "pdm.lock", "Pipfile.lock", "conda-lock")


@dataclass(frozen=True)
class Declared:
    """One package as a file declares it.

    ``key`` tells apart entries of one package in one file (an optional-dependency group,
    an environment marker, a platform); ``spec`` is what the file says about the version
    (``==2.1.0``, ``>=1.4,<2``, ``[socks]>=2.31``, a locked ``2.1.0``).
    ``pinned``: one exact version (None: the file cannot say, e.g. a URL or a local path).
    """

    key: str
    name: str
    spec: str
    pinned: bool | None
    line: int | None = None


@dataclass(frozen=True)
class EnvFile:
    path: str  # repository-relative, posix
    kind: str
    entries: tuple[Declared, ...] = ()
    includes: tuple[str, ...] = ()  # -r / -c targets, repository-relative
    constraints: tuple[str, ...] = ()  # the -c ones among them
    error: str | None = None

    @property
    def locked(self) -> bool:
        return self.kind in LOCK_KINDS


def kind_of(path: str) -> str | None:
    """Which format ``path`` is by its name, or None when it is no environment file."""
    name = posixpath.basename(path)
    if fnmatch.fnmatch(name, "requirements*.txt") or fnmatch.fnmatch(name, "requirements*.in"):
        return "requirements"
    if name == "pyproject.toml":
        return "pyproject"
    if name in ("uv.lock", "poetry.lock", "pdm.lock", "Pipfile.lock"):
        return name
    if name in ("environment.yml", "environment.yaml"):
        return "conda"
    if name in ("conda-lock.yml", "conda-lock.yaml"):
        return "conda-lock"
    if posixpath.dirname(path) == ".github/workflows" and name.endswith((".yml", ".yaml")):
        return "workflow"
    return None


def parse(path: str, text: str, kind: str | None = None) -> EnvFile:
    """Read one file; a file that does not parse comes back with ``error`` and no entries."""
    kind = kind or kind_of(path) or "requirements"
    try:
        if kind == "requirements":
            return _requirements(path, text)
        if kind == "conda":
            return _conda_env(path, text)
        return EnvFile(path, kind, tuple(_PARSERS[kind](text)))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        # tomllib.TOMLDecodeError and json.JSONDecodeError are ValueErrors
        return EnvFile(path, kind, error=f"cannot read {path}: {exc}")
    except Exception as exc:  # noqa: BLE001 - yaml.YAMLError and friends: a file, not mlci, is wrong
        return EnvFile(path, kind, error=f"cannot read {path}: {exc}")


# --- PEP 508 requirements ---------------------------------------------------------------


def _pep508(text: str, line: int | None = None, group: str | None = None) -> Declared:
    """One PEP 508 requirement; ``packaging`` does the parsing (InvalidRequirement if bad)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    req = Requirement(text)
    name = canonicalize_name(req.name)
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    if req.url:
        spec, pinned = f"{extras}@ {req.url}", None
    else:
        specs = list(req.specifier)
        spec = extras + (str(req.specifier) if specs else "(any version)")
        pinned = len(specs) == 1 and (
            specs[0].operator == "==="
            or (specs[0].operator == "==" and "*" not in specs[0].version)
        )
    key = str(name)
    if group:
        key += f" [{group}]"
    if req.marker is not None:
        key += f"; {req.marker}"
    return Declared(key, name, spec, pinned, line)


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """pip's lines: ``\\`` joins a line with the next, ``#`` after a blank starts a comment."""
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not buffer:
            start = number
        if raw.endswith("\\"):
            buffer += raw[:-1]
            continue
        buffer += raw
        line = buffer
        buffer = ""
        if line.lstrip().startswith("#"):
            continue
        cut = line.find(" #")
        cut_tab = line.find("\t#")
        cuts = [c for c in (cut, cut_tab) if c >= 0]
        if cuts:
            line = line[: min(cuts)]
        if line.strip():
            yield start, line.strip()
    if buffer.strip():
        yield start, buffer.strip()


MAX_REQUIREMENT_LINES = 20_000  # lines of one requirements file mlci reads

_INCLUDE = {"-r": False, "--requirement": False, "-c": True, "--constraint": True}


def _included(here: str, words: list[str]) -> tuple[str, bool] | None:
    """``-r FILE`` / ``-c FILE`` (or ``--requirement=FILE``) on one line: (the file, relative to
    the repository, whether it is a constraint); None for any other line or a URL."""
    option, eq, value = words[0].partition("=")
    if option not in _INCLUDE:
        return None
    target = value if eq else (words[1] if len(words) > 1 else "")
    if not target or "://" in target:
        return None
    return posixpath.normpath(posixpath.join(here, target)), _INCLUDE[option]


def requirement_includes(path: str, text: str) -> tuple[str, ...]:
    """The files a requirements file includes (``-r``/``-c``), as :func:`parse` finds them,
    without parsing its requirements (no ``packaging`` import: most checks need no more)."""
    here = posixpath.dirname(path)
    found = (_included(here, line.split()) for _, line in _logical_lines(text))
    return tuple(rel for rel, _ in (f for f in found if f is not None))


def _requirements(path: str, text: str) -> EnvFile:
    """A pip requirements file: requirements, ``-r``/``-c`` includes; other options are skipped."""
    from packaging.requirements import InvalidRequirement

    here = posixpath.dirname(path)
    entries: list[Declared] = []
    includes: list[str] = []
    constraints: list[str] = []
    problems: list[str] = []
    if text.count("\n") > MAX_REQUIREMENT_LINES:
        return EnvFile(
            path,
            "requirements",
            error=f"{path}: more than {MAX_REQUIREMENT_LINES:,} lines; mlci does not read it",
        )
    for number, line in _logical_lines(text):
        words = line.split()
        first = words[0]
        if first.partition("=")[0] in _INCLUDE:
            found = _included(here, words)
            if found is not None:
                includes.append(found[0])
                if found[1]:
                    constraints.append(found[0])
            continue
        if first.startswith("-"):
            continue  # --index-url, -e (editable checkouts), --hash on its own line, ...
        # per-requirement options (`--hash=...`) follow the requirement after a blank
        kept = []
        for word in words:
            if word.startswith("--"):
                break
            kept.append(word)
        try:
            entries.append(_pep508(" ".join(kept), number))
        except InvalidRequirement:
            # a local path or an archive URL without a name: pip can install it, but it names
            # no package to compare
            problems.append(f"{path}:{number}: not a named requirement, left out: {line[:80]}")
    return EnvFile(
        path,
        "requirements",
        tuple(entries),
        tuple(includes),
        tuple(constraints),
        error="; ".join(problems) or None,
    )


# --- TOML files -------------------------------------------------------------------------


def _pyproject(text: str) -> Iterator[Declared]:
    doc = tomllib.loads(text)
    project = doc.get("project") or {}
    for item in project.get("dependencies") or ():
        yield _pep508(str(item))
    for group, items in (project.get("optional-dependencies") or {}).items():
        for item in items or ():
            yield _pep508(str(item), group=f"extra {group}")
    for group, items in (doc.get("dependency-groups") or {}).items():  # PEP 735
        for item in items or ():
            if isinstance(item, str):  # {include-group = ...} entries name no package
                yield _pep508(item, group=f"group {group}")
    poetry = (doc.get("tool") or {}).get("poetry") or {}
    yield from _poetry_table(poetry.get("dependencies") or {}, None)
    for group, table in (poetry.get("group") or {}).items():
        yield from _poetry_table((table or {}).get("dependencies") or {}, f"group {group}")


def _poetry_table(table: dict[str, Any], group: str | None) -> Iterator[Declared]:
    """Poetry's own constraint syntax (``^1.2``, ``~1.2``): kept as written, not re-parsed."""
    from packaging.utils import canonicalize_name

    for raw_name, value in table.items():
        if raw_name == "python":
            continue  # the interpreter range, not a package
        name = canonicalize_name(raw_name)
        if isinstance(value, dict):
            spec = str(value.get("version") or value.get("git") or value.get("path") or value)
        else:
            spec = str(value)
        # a bare version (`2.1.0`) or `==2.1.0` is exact in Poetry; ^, ~, *, ranges are not
        bare = spec.removeprefix("==")
        pinned = bool(bare) and bare[0].isdigit() and not any(c in bare for c in "^~*<>,| ")
        yield Declared(name + (f" [{group}]" if group else ""), name, spec, pinned)


def _toml_packages(text: str) -> Iterator[Declared]:
    """``[[package]]`` tables with ``name`` and ``version`` (uv.lock, poetry.lock, pdm.lock)."""
    from packaging.utils import canonicalize_name

    versions: dict[str, list[str]] = {}
    for package in tomllib.loads(text).get("package") or ():
        name = canonicalize_name(str(package["name"]))
        source = package.get("source") or {}
        if isinstance(source, dict) and ("editable" in source or "virtual" in source):
            continue  # the project itself, not a dependency
        versions.setdefault(name, []).append(str(package.get("version", "?")))
    yield from _locked(versions)


def _locked(versions: dict[str, list[str]]) -> Iterator[Declared]:
    """A lock may hold a package twice (one version per platform or marker): list them all."""
    for name, found in versions.items():
        yield Declared(name, name, ", ".join(sorted(set(found))), True)


def _pipfile_lock(text: str) -> Iterator[Declared]:
    from packaging.utils import canonicalize_name

    doc = json.loads(text)
    for section in ("default", "develop"):
        for raw_name, entry in (doc.get(section) or {}).items():
            name = canonicalize_name(raw_name)
            version = str((entry or {}).get("version") or (entry or {}).get("ref") or "?")
            key = name if section == "default" else f"{name} [develop]"
            yield Declared(key, name, version.removeprefix("=="), True)


# --- conda --------------------------------------------------------------------------------

_CONDA_OPERATORS = "=<>!~ "


def _conda_spec(text: str) -> Declared:
    """A conda match spec (``numpy=1.26``, ``conda-forge::numpy>=1.24``, ``python=3.11.*``).

    Split by hand: conda's ``MatchSpec`` lives in conda itself, which mlci does not install.
    ``==X``, and ``=X`` without a wildcard, name one version; so does ``X=build``.
    """
    spec = text.strip()
    channel, sep, rest = spec.partition("::")
    if not sep:
        rest = channel
    cut = next((i for i, ch in enumerate(rest) if ch in _CONDA_OPERATORS), len(rest))
    name = rest[:cut].strip().lower()
    version = rest[cut:].strip()
    if not name:
        raise ValueError(f"not a conda package spec: {text!r}")
    bare = version.removeprefix("==").removeprefix("=")
    pinned = (
        bool(version)
        and version.startswith("=")
        and not any(ch in bare for ch in "*<>!,|~")
        and bool(bare)
    )
    return Declared(name, name, version or "(any version)", pinned)


def _conda_env(path: str, text: str) -> EnvFile:
    """A conda environment file: conda match specs, and its ``pip:`` list as pip reads it
    (requirements, and ``-r``/``-c`` files, relative to the environment file's folder)."""
    doc = yamlread.load(text) or {}
    here = posixpath.dirname(path)
    entries: list[Declared] = []
    includes: list[str] = []
    constraints: list[str] = []
    for item in doc.get("dependencies") or ():
        if not isinstance(item, dict):
            entries.append(_conda_spec(str(item)))
            continue
        for pip_item in item.get("pip") or ():
            words = str(pip_item).split()
            if not words:
                continue
            if words[0].startswith("-"):
                found = _included(here, words)  # other options (--index-url) name no package
                if found is not None:
                    includes.append(found[0])
                    if found[1]:
                        constraints.append(found[0])
                continue
            entries.append(_pep508(str(pip_item), group="pip"))
    return EnvFile(path, "conda", tuple(entries), tuple(includes), tuple(constraints))


def _conda_lock(text: str) -> Iterator[Declared]:
    doc = yamlread.load(text) or {}
    versions: dict[str, list[str]] = {}
    for package in doc.get("package") or ():
        name = str(package["name"]).lower()
        key = name if package.get("manager", "conda") == "conda" else f"{name} [pip]"
        versions.setdefault(key, []).append(str(package.get("version", "?")))
    for key, found in versions.items():
        yield Declared(key, key.split(" ")[0], ", ".join(sorted(set(found))), True)


# --- the workflow's Python ----------------------------------------------------------------


def _workflow(text: str) -> Iterator[Declared]:
    """``python-version`` of every ``actions/setup-python`` step (a matrix expands to its list)."""
    doc = yamlread.load(text) or {}
    versions: list[str] = []
    for job in (doc.get("jobs") or {}).values():
        if not isinstance(job, dict):
            continue
        matrix = (job.get("strategy") or {}).get("matrix") or {}
        for step in job.get("steps") or ():
            if not isinstance(step, dict) or "setup-python" not in str(step.get("uses", "")):
                continue
            value = (step.get("with") or {}).get("python-version")
            if value is None:
                continue
            versions.extend(_expand(value, matrix))
    if versions:
        yield Declared("python", "python", ", ".join(dict.fromkeys(versions)), None)


def _expand(value: Any, matrix: Any) -> Iterable[str]:
    """``${{ matrix.python-version }}`` -> the matrix's values; anything else as written."""
    text = str(value).strip()
    if text.startswith("${{") and text.endswith("}}") and isinstance(matrix, dict):
        expr = text[3:-2].strip()
        if expr.startswith("matrix."):
            found = matrix.get(expr.removeprefix("matrix."))
            if isinstance(found, list):
                return [str(v) for v in found]
    if isinstance(value, list):
        return [str(v) for v in value]
    return [text]


_PARSERS: dict[str, Any] = {
    "pyproject": _pyproject,
    "uv.lock": _toml_packages,
    "poetry.lock": _toml_packages,
    "pdm.lock": _toml_packages,
    "Pipfile.lock": _pipfile_lock,
    "conda-lock": _conda_lock,
    "workflow": _workflow,
}


# --- comparing two revisions of one file --------------------------------------------------


@dataclass(frozen=True)
class Change:
    key: str
    status: str  # added | removed | changed
    base: str | None
    head: str | None


def diff(base: EnvFile | None, head: EnvFile | None) -> list[Change]:
    """Package by package, in the head's order then the base's removed ones."""
    old = {e.key: e.spec for e in (base.entries if base else ())}
    new = {e.key: e.spec for e in (head.entries if head else ())}
    out = []
    for key, spec in new.items():
        if key not in old:
            out.append(Change(key, "added", None, spec))
        elif old[key] != spec:
            out.append(Change(key, "changed", old[key], spec))
    out += [Change(key, "removed", spec, None) for key, spec in old.items() if key not in new]
    return out
