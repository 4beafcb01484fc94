"""``docs/config.md`` cannot drift from the schema in ``mlci/configfile/schema.py``.

The schema is walked key by key (``config.schema_keys``) and the defaults are
taken from the dataclasses the loader builds; every key must have a row in the
reference with the right type and default, every row must be a real key, and
every key must appear in an example that the loader accepts.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlci import configfile as config

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "config.md"

# dataclass fields that the loader fills in itself: not keys of the file
INTERNAL = {"Config.path", "Config.project", "MetricRule.line", "DataCheck.line"}
ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|(.*)\|\s*$")


def doc_rows() -> dict[str, tuple[str, str, str]]:
    """key path -> (type, default, meaning) for every table row of the reference."""
    rows: dict[str, tuple[str, str, str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = ROW.match(line)
        if not m:
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", m.group(2))]
        assert len(cells) == 3, f"a row needs type, default and meaning: {line}"
        assert m.group(1) not in rows, f"documented twice: {m.group(1)}"
        rows[m.group(1)] = (cells[0], cells[1], cells[2])
    return rows


def yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def type_text(checker: Any) -> str:
    """How the reference writes the type a schema checker accepts."""
    spec = checker.spec
    kind = spec["kind"]
    if kind == "string":
        return "string or `null`" if spec["nullable"] else "string"
    if kind == "number":
        text = "number" if spec["minimum"] is None else f"number ≥ {spec['minimum']:g}"
        if spec.get("maximum") is not None:
            text = f"number from {spec['minimum']:g} to {spec['maximum']:g}"
        return text + (" or `null`" if spec.get("nullable") else "")
    if kind == "number_or_auto":
        return (
            "number" if spec["minimum"] is None else f"number ≥ {spec['minimum']:g}"
        ) + " or `auto`"
    if kind == "integer":
        return f"whole number ≥ {spec['minimum']}"
    if kind == "choice":
        return "one of " + ", ".join(f"`{o}`" for o in spec["options"])
    if kind == "free_mapping":
        return "mapping (passed on)"
    if kind == "list":
        item = type_text(spec["item"])
        return f"list of {'expectations' if item == 'expectation' else item + 's'}"
    return kind  # boolean, mapping, expectation


def _unwrap(hint: Any) -> Any:
    """``X | None`` -> X; ``tuple[X, ...]`` -> X; anything else as it is."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        kinds = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(kinds) > 1:  # a plain value of one of several types (a number or "auto")
            return hint
        (hint,) = kinds
        origin = typing.get_origin(hint)
    if origin is tuple:
        return typing.get_args(hint)[0]
    return hint


_REQUIRED = object()
_FREE = object()  # the parent is a plain mapping: its keys have no dataclass default


def default_of(path: str) -> Any:
    """The default the loader gives ``path``, found by walking the dataclasses from Config."""
    cls: Any = config.Config
    value: Any = None
    for part in path.split("."):
        name = part.removesuffix("[]")
        if cls is _FREE or not dataclasses.is_dataclass(cls):
            return None
        f = {f.name: f for f in dataclasses.fields(cls)}[name]
        if f.default is not dataclasses.MISSING:
            value = f.default
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
        else:
            value = _REQUIRED
        inner = _unwrap(typing.get_type_hints(cls)[name])
        cls = inner if dataclasses.is_dataclass(inner) else _FREE
    return value


def test_every_schema_key_is_documented_with_its_type_and_default():
    rows = doc_rows()
    problems = []
    for key in config.schema_keys():
        if key.path not in rows:
            problems.append(f"{key.path}: not in docs/config.md")
            continue
        typ, default_cell, meaning = rows[key.path]
        if typ != type_text(key.checker):
            problems.append(f"{key.path}: type {typ!r}, the schema says {type_text(key.checker)!r}")
        if not meaning:
            problems.append(f"{key.path}: no meaning given")
        default = default_of(key.path)
        if key.required or default is _REQUIRED:
            ok = key.required and default is _REQUIRED and default_cell == "required"
        elif dataclasses.is_dataclass(default):
            ok = default_cell == "the defaults of its keys"
        elif default is None:
            ok = default_cell.startswith("unset")
        else:
            m = re.fullmatch(r"`([^`]+)`", default_cell)
            want = list(default) if isinstance(default, tuple) else default
            ok = bool(m) and yaml.safe_load(m.group(1)) == want
        if not ok:
            problems.append(
                f"{key.path}: default written {default_cell!r}, the loader's is {default!r}"
            )
    assert not problems, "\n".join(problems)


def test_every_documented_key_exists():
    known = {k.path for k in config.schema_keys()}
    assert known, "the schema walk found nothing"
    unknown = sorted(set(doc_rows()) - known)
    assert not unknown, f"docs/config.md documents keys mlci does not accept: {unknown}"


def test_every_dataclass_field_is_a_key():
    """The other way round: a field the loader fills must be a key of the schema."""
    known = {k.path for k in config.schema_keys()}
    fields = []

    def walk(cls: Any, prefix: str) -> None:
        for f in dataclasses.fields(cls):
            if f"{cls.__name__}.{f.name}" in INTERNAL:
                continue
            path = f"{prefix}{f.name}"
            fields.append(path)
            inner = _unwrap(typing.get_type_hints(cls)[f.name])
            if dataclasses.is_dataclass(inner):
                many = typing.get_origin(_strip_none(typing.get_type_hints(cls)[f.name])) is tuple
                walk(inner, path + ("[]." if many else "."))

    walk(config.Config, "")
    assert len(fields) > 30
    assert sorted(set(fields) - known) == []


def _strip_none(hint: Any) -> Any:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
    return hint


def _paths(value: Any, prefix: str = "") -> set[str]:
    out: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            out.add(path)
            out |= _paths(v, path)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                out |= _paths(item, prefix + "[]")
    return out


def test_every_example_loads_and_every_key_has_one():
    blocks = yaml_blocks()
    assert len(blocks) >= 10
    used: set[str] = set()
    for i, text in enumerate(blocks):
        config.parse(text, f"docs/config.md example {i + 1}")  # raises ConfigError on any mistake
        used |= _paths(yaml.safe_load(text))
    missing = sorted({k.path for k in config.schema_keys()} - used)
    assert not missing, f"keys without an example in docs/config.md: {missing}"


@pytest.mark.parametrize("path", ["README.md", "docs/config.md", "templates", "examples", "mlci"])
def test_users_are_never_pointed_at_a_file_they_do_not_have(path):
    target = ROOT / path
    suffixes = (".md", ".py", ".j2", ".yaml", ".yml")
    files = (
        [target]
        if target.is_file()
        else [p for p in target.rglob("*") if p.is_file() and p.suffix in suffixes]
    )
    assert files
    hits = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in files
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\bSPEC\b", line)
    ]
    assert hits == []
