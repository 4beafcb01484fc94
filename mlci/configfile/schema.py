"""The schema of ``mlci.yaml``: checkers that walk the YAML node tree, so every error names
the file, the line and the key path. ``schema_keys`` lists every key for the docs test.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from mlci.model import yamlread
from mlci.model.errors import ConfigError

# --- the schema ---------------------------------------------------------------

# A schema node is a callable (value node, key path, context) -> python value.
Checker = Callable[[yaml.Node, str, "Ctx"], Any]


class Ctx:
    """What a check needs beside the node: the file's name for errors, a scalar constructor."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.constructor = yaml.SafeLoader("")

    def error(self, node: yaml.Node, key: str, message: str) -> ConfigError:
        return ConfigError(message, file=self.file, line=node.start_mark.line + 1, key=key or None)

    def value(self, node: yaml.Node) -> Any:
        try:
            return self.constructor.construct_object(node, deep=True)
        except (
            ValueError,
            OverflowError,
            RecursionError,
        ) as exc:  # checked in bounded; belt and braces
            raise self.error(node, "", f"cannot read this value: {exc}") from exc


# --- what a config may hold: bounded before anything is built -------------------

# A YAML alias is a reference; expanding one copies its whole subtree. Nine levels of
# nine aliases is a 300-byte file that expands to 387 million strings ("billion laughs"),
# so the expansion is counted (in time linear in the file) before anything is built.
MAX_ALIAS_EXPANSION = 10_000  # nodes added by aliases; a hand-written config adds dozens
MAX_DEPTH = 50  # nesting levels; mlci's own schema is four deep, reader options a few more
MAX_DIGITS = 100  # digits in a number; a float holds 17 significant ones


def _shown(text: Any) -> str:
    """``text`` for a one-line message: control characters and line breaks as escapes."""
    return _CONTROL.sub(lambda m: json.dumps(m.group(0))[1:-1], str(text))


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def bounded(root: yaml.Node, ctx: Ctx) -> None:
    """Refuse a node tree that aliases blow up, that nests too deep or holds a huge number,
    with the line and key path of the node that breaks the bound (the walk is
    :func:`mlci.model.yamlread.check_bounds`, with the config's tighter limits)."""
    try:
        yamlread.check_bounds(
            root,
            max_depth=MAX_DEPTH,
            max_alias_expansion=MAX_ALIAS_EXPANSION,
            max_digits=MAX_DIGITS,
        )
    except yamlread.YamlRefused as exc:
        if exc.kind == "alias":
            message = (
                f"YAML aliases repeat more than {MAX_ALIAS_EXPANSION:,} "
                "values; mlci refuses that (an alias bomb?)"
            )
        elif exc.kind == "recursive":
            message = (
                "an alias refers to a node that contains it; YAML aliases must not be recursive"
            )
        elif exc.kind == "depth":
            message = f"nested more than {MAX_DEPTH} levels deep; mlci reads flatter configs only"
        elif exc.kind == "digits":
            message = (
                f"a number with {exc.found} digits; mlci reads numbers of up to {MAX_DIGITS} digits"
            )
        else:
            message = str(exc)
        raise ctx.error(exc.node or root, "", message) from None


def _tag(check: Checker, kind: str, **details: Any) -> Checker:
    """Record what a checker accepts, so the schema can be walked (docs, tests)."""
    check.spec = {"kind": kind, **details}  # type: ignore[attr-defined]
    return check


def kind(node: yaml.Node, ctx: Ctx) -> str:
    """The node's kind in a user's words ("a mapping", "a number", ...), for error messages."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    value = ctx.value(node)
    if value is None:
        return "nothing (null)"
    return repr(value)


def _scalar(node: yaml.Node, key: str, ctx: Ctx, what: str) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise ctx.error(node, key, f"expected {what}, got {kind(node, ctx)}")
    return ctx.value(node)


def string(*, nullable: bool = False) -> Checker:
    def check(node: yaml.Node, key: str, ctx: Ctx) -> Any:
        value = _scalar(node, key, ctx, "a string")
        if value is None and nullable:
            return None
        if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
            raise ctx.error(node, key, f"expected a string, got {kind(node, ctx)}")
        if not isinstance(value, str):
            value = str(ctx.constructor.construct_scalar(node))  # e.g. a branch named 2024
        return value

    return _tag(check, "string", nullable=nullable)


def boolean() -> Checker:
    def check(node: yaml.Node, key: str, ctx: Ctx) -> Any:
        value = _scalar(node, key, ctx, "true or false")
        if not isinstance(value, bool):
            raise ctx.error(node, key, f"expected true or false, got {kind(node, ctx)}")
        return value

    return _tag(check, "boolean")


def number(
    *, minimum: float | None = None, maximum: float | None = None, nullable: bool = False
) -> Checker:
    """A number within the bounds; ``nullable``: ``null`` too (a limit turned off)."""

    def check(node: yaml.Node, key: str, ctx: Ctx) -> Any:
        value = _scalar(node, key, ctx, "a number")
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ctx.error(node, key, f"expected a number, got {kind(node, ctx)}")
        if isinstance(value, float) and math.isnan(value):
            raise ctx.error(node, key, "expected a number, got NaN")
        if minimum is not None and value < minimum:
            raise ctx.error(node, key, f"expected a number >= {minimum:g}, got {value!r}")
        if maximum is not None and value > maximum:
            raise ctx.error(node, key, f"expected a number <= {maximum:g}, got {value!r}")
        return value

    return _tag(check, "number", minimum=minimum, maximum=maximum, nullable=nullable)


def number_or_auto(*, minimum: float | None = None) -> Checker:
    """A number, or the word ``auto`` (a limit mlci derives from the recorded history)."""

    def check(node: yaml.Node, key: str, ctx: Ctx) -> Any:
        value = _scalar(node, key, ctx, "a number or 'auto'")
        if value == "auto":
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ctx.error(node, key, f"expected a number or 'auto', got {kind(node, ctx)}")
        if isinstance(value, float) and math.isnan(value):
            raise ctx.error(node, key, "expected a number or 'auto', got NaN")
        if minimum is not None and value < minimum:
            raise ctx.error(node, key, f"expected a number >= {minimum:g}, got {value!r}")
        return value

    return _tag(check, "number_or_auto", minimum=minimum)


def integer(*, minimum: int) -> Checker:
    def check(node: yaml.Node, key: str, ctx: Ctx) -> Any:
        value = _scalar(node, key, ctx, "a whole number")
        if isinstance(value, bool) or not isinstance(value, int):
            raise ctx.error(node, key, f"expected a whole number, got {kind(node, ctx)}")
        if value < minimum:
            raise ctx.error(node, key, f"expected a whole number >= {minimum}, got {value!r}")
        return value

    return _tag(check, "integer", minimum=minimum)


def choice(*options: str) -> Checker:
    def check(node: yaml.Node, key: str, ctx: Ctx) -> Any:
        # YAML 1.1 reads a plain `off` (or `on`, `no`) as a boolean; docs/config.md writes `off` unquoted
        if isinstance(node, yaml.ScalarNode) and not node.style and node.value in options:
            return node.value
        value = _scalar(node, key, ctx, "a string")
        if isinstance(value, bool) and str(node.value).lower() in options:
            value = str(node.value).lower()  # YAML 1.1 reads a bare `off` as false
        elif value is False and "off" in options:
            value = "off"  # `false` (what a YAML writer makes of `off`) can only mean off
        if value not in options:
            quoted = [repr(o) for o in options]
            expected = (
                " or ".join(quoted)
                if len(quoted) == 2
                else ", ".join(quoted[:-1]) + " or " + quoted[-1]
            )
            got = repr(value) if isinstance(value, str) else kind(node, ctx)
            raise ctx.error(node, key, f"expected {expected}, got {got}")
        return value

    return _tag(check, "choice", options=options)


def env_name() -> Checker:
    """The name of an environment variable (letters, digits, underscores)."""

    def check(node: yaml.Node, key: str, ctx: Ctx) -> Any:
        value = string()(node, key, ctx)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ctx.error(
                node, key, f"expected a variable name (letters, digits, _), got {_shown(value)!r}"
            )
        return value

    return _tag(check, "string", nullable=False)  # documented as a string: a name


def free_mapping() -> Checker:
    """Any mapping, passed on as it is (reader options, Spark conf)."""

    def check(node: yaml.Node, key: str, ctx: Ctx) -> Any:
        if not isinstance(node, yaml.MappingNode):
            raise ctx.error(node, key, f"expected a mapping, got {kind(node, ctx)}")
        return ctx.value(node)

    return _tag(check, "free_mapping")


def list_of(item: Checker) -> Checker:
    def check(node: yaml.Node, key: str, ctx: Ctx) -> Any:
        if isinstance(node, yaml.ScalarNode) and ctx.value(node) is None:
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise ctx.error(node, key, f"expected a list, got {kind(node, ctx)}")
        return [item(child, f"{key}[{i}]", ctx) for i, child in enumerate(node.value)]

    return _tag(check, "list", item=item)


def mapping(fields: dict[str, Checker], *, required: tuple[str, ...] = ()) -> Checker:
    """A mapping with known keys; returns {key: value} plus ``__line__``."""

    def check(node: yaml.Node, key: str, ctx: Ctx) -> Any:
        if isinstance(node, yaml.ScalarNode) and ctx.value(node) is None:
            node = yaml.MappingNode("tag:yaml.org,2002:map", [], node.start_mark, node.end_mark)
        if not isinstance(node, yaml.MappingNode):
            raise ctx.error(node, key, f"expected a mapping, got {kind(node, ctx)}")
        out: dict[str, Any] = {"__line__": node.start_mark.line + 1}
        for key_node, value_node in node.value:
            name = ctx.value(key_node)
            sub = f"{key}.{_shown(name)}" if key else _shown(name)
            if not isinstance(name, str) or name not in fields:
                hint = difflib.get_close_matches(_shown(name), list(fields), n=1, cutoff=0.6)
                suggestion = (
                    f"; did you mean '{hint[0]}'?"
                    if hint
                    else (f"; valid keys: {', '.join(sorted(fields))}")
                )
                raise ctx.error(key_node, sub, f"unknown key{suggestion}")
            if name in out:
                raise ctx.error(key_node, sub, "key given twice")
            out[name] = fields[name](value_node, sub, ctx)
        for name in required:
            if name not in out:
                raise ctx.error(node, f"{key}.{name}" if key else name, "required key is missing")
        return out

    return _tag(check, "mapping", fields=fields, required=required)


def _expectation(node: yaml.Node, key: str, ctx: Ctx) -> Any:
    """One inline expectation: ``{expect_...: {kwargs}}``, a single-key mapping."""
    if not isinstance(node, yaml.MappingNode) or len(node.value) != 1:
        raise ctx.error(
            node,
            key,
            "expected one expectation as '<expect_name>: {kwargs}', got " + kind(node, ctx),
        )
    ((name_node, kwargs_node),) = node.value
    name = ctx.value(name_node)
    if not isinstance(name, str) or not name.startswith("expect_"):
        raise ctx.error(name_node, key, f"expected an expectation name (expect_...), got {name!r}")
    if not re.fullmatch(r"expect_\w+", name):
        raise ctx.error(
            name_node, key, f"expected an expectation name (expect_...), got {_shown(name)!r}"
        )
    kwargs = ctx.value(kwargs_node)
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, dict):
        raise ctx.error(
            kwargs_node,
            f"{key}.{_shown(name)}",
            f"expected a mapping of arguments, got {kind(kwargs_node, ctx)}",
        )
    return {"type": name, "kwargs": kwargs, "line": node.start_mark.line + 1}


_tag(_expectation, "expectation")


SEVERITY = choice("fail", "warn")
# a check of a data file's diff: info is shown and never gates, off is not judged
CHECK_SEVERITY = choice("fail", "warn", "info", "off")

SCHEMA = mapping(
    {
        "base": string(),
        "base_mode": choice("tip", "merge-base"),
        "repro": mapping(
            {
                "enabled": boolean(),
                "pull": boolean(),
                "push": boolean(),
                "targets": list_of(string()),
                "require_committed_lock": choice("fail", "warn", "off"),
                "remote_unreachable": choice("fail", "warn"),
                "commit": boolean(),
                "pass_env": list_of(env_name()),
                "run_cache": boolean(),
            }
        ),
        "metrics": mapping(
            {
                "files": list_of(string()),
                "plots": list_of(string()),
                "rules": list_of(
                    mapping(
                        {
                            "name": string(),
                            "direction": choice("higher", "lower"),
                            "min": number(),
                            "max": number(),
                            "max_regression": number_or_auto(minimum=0),
                            "max_regression_pct": number_or_auto(minimum=0),
                            "max_regression_fallback": number(minimum=0),
                            "max_regression_pct_fallback": number(minimum=0),
                            "severity": SEVERITY,
                        },
                        required=("name",),
                    )
                ),
                "missing_baseline": choice("fail", "warn", "off"),
                "unreadable": SEVERITY,
                "noise_k": number(minimum=0),
                "noise_alpha": number(minimum=0.0001, maximum=0.5),
            }
        ),
        "environment": mapping({"unpinned": choice("warn", "off")}),
        "data": list_of(
            mapping(
                {
                    "path": string(),
                    "format": choice("csv", "tsv", "parquet", "json", "jsonl"),
                    "read": free_mapping(),
                    "suite": string(),
                    "expect": list_of(_expectation),
                    "schema": mapping({"severity": CHECK_SEVERITY}),
                    "new_columns": mapping({"severity": CHECK_SEVERITY}),
                    "missing": mapping(
                        {
                            "max_increase": number(minimum=0, nullable=True),
                            "keep_complete": boolean(),
                            "alpha": number(minimum=0, maximum=1, nullable=True),
                            "severity": CHECK_SEVERITY,
                        }
                    ),
                    "rows": mapping(
                        {
                            "max_decrease_pct": number(minimum=0, nullable=True),
                            "max_increase_pct": number(minimum=0, nullable=True),
                            "severity": CHECK_SEVERITY,
                        }
                    ),
                    "drift": mapping(
                        {
                            "max_psi": number(minimum=0),
                            "alpha": number(minimum=0, maximum=1, nullable=True),
                            "severity": CHECK_SEVERITY,
                        }
                    ),
                    "severity": SEVERITY,
                    "engine": choice("pandas", "spark"),
                },
                required=("path",),
            )
        ),
        "spark": mapping({"master": string(), "conf": free_mapping()}),
        "gate": mapping({"override_label": string()}),
        "report": mapping(
            {
                "comment": choice("update", "new", "off"),
                "status_context": string(),
                "plots": boolean(),
            }
        ),
        "deploy": mapping({"model_name": string(), "model_path": string(), "alias": string()}),
        "mlflow": mapping({"tracking_uri": string(nullable=True), "experiment": string()}),
        "history": mapping(
            {"record": boolean(), "depth": integer(minimum=1), "min_points": integer(minimum=2)}
        ),
        "sweep": mapping(
            {"max_experiments": integer(minimum=1), "objective": string(nullable=True)}
        ),
    }
)


@dataclass(frozen=True)
class KeySpec:
    """One key of the schema: ``path`` as the docs write it (``metrics.rules[].name``)."""

    path: str
    checker: Checker
    required: bool


def schema_keys(checker: Checker = SCHEMA, prefix: str = "") -> Iterator[KeySpec]:
    """Every key the schema knows, parents before children, in schema order."""
    spec = checker.spec  # type: ignore[attr-defined]
    for name, child in spec["fields"].items():
        path = f"{prefix}.{name}" if prefix else name
        yield KeySpec(path, child, name in spec["required"])
        inner = child.spec  # type: ignore[attr-defined]
        if inner["kind"] == "mapping":
            yield from schema_keys(child, path)
        elif inner["kind"] == "list" and inner["item"].spec["kind"] == "mapping":
            yield from schema_keys(inner["item"], path + "[]")
