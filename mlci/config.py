"""``mlci.yaml``: load, validate and turn into frozen dataclasses.

Validation walks the YAML node tree (not the loaded data) so that every error
can name the file, the line and the key path, e.g.
``mlci.yaml:4: metrics.rules[0].direction: expected 'higher' or 'lower', got 'up'``.
The schema below is the single description of the file; the defaults in the
dataclasses are the documented defaults. ``docs/config.md`` is the reference
for users: ``tests/test_config_docs.py`` walks this schema (``schema_keys``)
and the dataclasses, so a key added here and not documented there fails.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from mlci.errors import ConfigError

DEFAULT_CONFIG = "mlci.yaml"


# --- the typed configuration -------------------------------------------------


@dataclass(frozen=True)
class ReproConfig:
    enabled: bool = True
    pull: bool = True
    push: bool = False
    targets: tuple[str, ...] = ()
    require_committed_lock: str = "warn"
    remote_unreachable: str = "warn"
    pass_env: tuple[str, ...] = ()  # secret-looking variables the stages may still see


@dataclass(frozen=True)
class MetricRule:
    name: str
    direction: str | None = None
    min: float | None = None
    max: float | None = None
    max_regression: float | None = None
    max_regression_pct: float | None = None
    severity: str = "fail"
    line: int | None = None  # where the rule is written, for annotations

    @property
    def gates(self) -> bool:
        """Whether the rule can fail or warn (a bare name only reports)."""
        return self.direction is not None or self.min is not None or self.max is not None

    def describe(self) -> str:
        parts = []
        if self.direction:
            parts.append(self.direction)
        if self.min is not None:
            parts.append(f"min {self.min:g}")
        if self.max is not None:
            parts.append(f"max {self.max:g}")
        if self.max_regression is not None:
            parts.append(f"max regression {self.max_regression:g}")
        if self.max_regression_pct is not None:
            parts.append(f"max regression {self.max_regression_pct:g} %")
        if self.direction and self.max_regression is None and self.max_regression_pct is None:
            parts.append("no regression")
        return ", ".join(parts) or "report only"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        for key in ("direction", "min", "max", "max_regression", "max_regression_pct"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        out["severity"] = self.severity
        if self.line is not None:
            out["line"] = self.line
        return out


@dataclass(frozen=True)
class MetricsConfig:
    files: tuple[str, ...] = ()
    plots: tuple[str, ...] = ()
    rules: tuple[MetricRule, ...] = ()
    missing_baseline: str = "warn"
    unreadable: str = "fail"  # a gated metric's file that DVC declares but could not load


@dataclass(frozen=True)
class DataCheck:
    path: str
    format: str | None = None
    read: dict[str, Any] = field(default_factory=dict)
    suite: str | None = None
    expect: tuple[dict[str, Any], ...] = ()
    drift: dict[str, Any] = field(default_factory=dict)
    severity: str = "fail"
    engine: str = "pandas"
    line: int | None = None


@dataclass(frozen=True)
class SparkConfig:
    master: str = "local[*]"
    conf: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GateConfig:
    override_label: str = "mlci:override"


@dataclass(frozen=True)
class ReportConfig:
    comment: str = "update"
    status_context: str = "mlci"
    plots: bool = True


@dataclass(frozen=True)
class DeployConfig:
    model_name: str | None = None
    model_path: str | None = None
    alias: str = "champion"


@dataclass(frozen=True)
class MlflowConfig:
    tracking_uri: str | None = None
    experiment: str = "mlci"


@dataclass(frozen=True)
class Config:
    base: str | None = None
    repro: ReproConfig = field(default_factory=ReproConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    data: tuple[DataCheck, ...] = ()
    spark: SparkConfig = field(default_factory=SparkConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    deploy: DeployConfig | None = None
    mlflow: MlflowConfig | None = None
    path: str | None = None  # the file it came from, as shown in messages
    present: frozenset[str] = frozenset()  # top-level sections the file sets
    project: str | None = None  # the DVC project's folder in the repository, when not the top level

    def repo_path(self, root: Path) -> str | None:
        """The config file relative to the repository root (for annotations), if there is one."""
        if not self.path:
            return None
        return Path(os.path.relpath(Path.cwd() / self.path, root)).as_posix()


# --- the schema ---------------------------------------------------------------

# A schema node is a callable (value node, key path, context) -> python value.
Checker = Callable[[yaml.Node, str, "_Ctx"], Any]


class _Ctx:
    def __init__(self, file: str) -> None:
        self.file = file
        self.constructor = yaml.SafeLoader("")

    def error(self, node: yaml.Node, key: str, message: str) -> ConfigError:
        return ConfigError(message, file=self.file, line=node.start_mark.line + 1, key=key or None)

    def value(self, node: yaml.Node) -> Any:
        try:
            return self.constructor.construct_object(node, deep=True)
        except (ValueError, OverflowError, RecursionError) as exc:  # checked in _bounded; belt and braces
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


def _bounded(root: yaml.Node, ctx: _Ctx) -> None:
    """Refuse a node tree that aliases blow up, that nests too deep or holds a huge number.

    One iterative pass (a recursive one would itself overflow on deep input): each
    distinct node is sized once and its size reused wherever an alias repeats it.
    """
    size: dict[int, int] = {}
    active: set[int] = set()
    repeated = 0
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if done:
            active.discard(key)
            children = _children(node)
            size[key] = 1 + sum(size[id(c)] for c in children)
            continue
        if key in size:  # reached again through an alias: its whole subtree again
            repeated += size[key]
            if repeated > MAX_ALIAS_EXPANSION:  # named at the anchor whose copies tip it over
                raise ctx.error(node, "", f"YAML aliases repeat more than {MAX_ALIAS_EXPANSION:,} "
                                          "values; mlci refuses that (an alias bomb?)")
            continue
        if key in active:
            raise ctx.error(node, "", "an alias refers to a node that contains it; "
                                      "YAML aliases must not be recursive")
        if depth > MAX_DEPTH:
            raise ctx.error(node, "", f"nested more than {MAX_DEPTH} levels deep; "
                                      "mlci reads flatter configs only")
        if isinstance(node, yaml.ScalarNode) and not node.style:
            digits = sum(ch.isalnum() for ch in node.value)
            if digits > MAX_DIGITS and node.tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
                raise ctx.error(node, "", f"a number with {digits} digits; mlci reads numbers of "
                                          f"up to {MAX_DIGITS} digits")
        active.add(key)
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in reversed(_children(node)))
    distinct = len(size)
    expanded = size[id(root)]
    if expanded - distinct > MAX_ALIAS_EXPANSION:
        raise ctx.error(root, "", f"YAML aliases expand to {expanded:,} values; mlci refuses more "
                                  f"than {MAX_ALIAS_EXPANSION:,} from aliases (an alias bomb?)")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _tag(check: Checker, kind: str, **details: Any) -> Checker:
    """Record what a checker accepts, so the schema can be walked (docs, tests)."""
    check.spec = {"kind": kind, **details}  # type: ignore[attr-defined]
    return check


def _kind(node: yaml.Node, ctx: _Ctx) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    value = ctx.value(node)
    if value is None:
        return "nothing (null)"
    return repr(value)


def _scalar(node: yaml.Node, key: str, ctx: _Ctx, what: str) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise ctx.error(node, key, f"expected {what}, got {_kind(node, ctx)}")
    return ctx.value(node)


def string(*, nullable: bool = False) -> Checker:
    def check(node: yaml.Node, key: str, ctx: _Ctx) -> Any:
        value = _scalar(node, key, ctx, "a string")
        if value is None and nullable:
            return None
        if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
            raise ctx.error(node, key, f"expected a string, got {_kind(node, ctx)}")
        if not isinstance(value, str):
            value = str(ctx.constructor.construct_scalar(node))  # e.g. a branch named 2024
        return value

    return _tag(check, "string", nullable=nullable)


def boolean() -> Checker:
    def check(node: yaml.Node, key: str, ctx: _Ctx) -> Any:
        value = _scalar(node, key, ctx, "true or false")
        if not isinstance(value, bool):
            raise ctx.error(node, key, f"expected true or false, got {_kind(node, ctx)}")
        return value

    return _tag(check, "boolean")


def number(*, minimum: float | None = None) -> Checker:
    def check(node: yaml.Node, key: str, ctx: _Ctx) -> Any:
        value = _scalar(node, key, ctx, "a number")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ctx.error(node, key, f"expected a number, got {_kind(node, ctx)}")
        if isinstance(value, float) and math.isnan(value):
            raise ctx.error(node, key, "expected a number, got NaN")
        if minimum is not None and value < minimum:
            raise ctx.error(node, key, f"expected a number >= {minimum:g}, got {value!r}")
        return value

    return _tag(check, "number", minimum=minimum)


def choice(*options: str) -> Checker:
    def check(node: yaml.Node, key: str, ctx: _Ctx) -> Any:
        # YAML 1.1 reads a plain `off` (or `on`, `no`) as a boolean; docs/config.md writes `off` unquoted
        if isinstance(node, yaml.ScalarNode) and not node.style and node.value in options:
            return node.value
        value = _scalar(node, key, ctx, "a string")
        if isinstance(value, bool) and str(node.value).lower() in options:
            value = str(node.value).lower()  # YAML 1.1 reads a bare `off` as false
        if value not in options:
            quoted = [repr(o) for o in options]
            expected = (
                " or ".join(quoted) if len(quoted) == 2
                else ", ".join(quoted[:-1]) + " or " + quoted[-1]
            )
            got = repr(value) if isinstance(value, str) else _kind(node, ctx)
            raise ctx.error(node, key, f"expected {expected}, got {got}")
        return value

    return _tag(check, "choice", options=options)


def env_name() -> Checker:
    """The name of an environment variable (letters, digits, underscores)."""

    def check(node: yaml.Node, key: str, ctx: _Ctx) -> Any:
        value = string()(node, key, ctx)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ctx.error(node, key, f"expected a variable name (letters, digits, _), got {_shown(value)!r}")
        return value

    return _tag(check, "string", nullable=False)  # documented as a string: a name


def free_mapping() -> Checker:
    """Any mapping, passed on as it is (reader options, Spark conf)."""

    def check(node: yaml.Node, key: str, ctx: _Ctx) -> Any:
        if not isinstance(node, yaml.MappingNode):
            raise ctx.error(node, key, f"expected a mapping, got {_kind(node, ctx)}")
        return ctx.value(node)

    return _tag(check, "free_mapping")


def list_of(item: Checker) -> Checker:
    def check(node: yaml.Node, key: str, ctx: _Ctx) -> Any:
        if isinstance(node, yaml.ScalarNode) and ctx.value(node) is None:
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise ctx.error(node, key, f"expected a list, got {_kind(node, ctx)}")
        return [item(child, f"{key}[{i}]", ctx) for i, child in enumerate(node.value)]

    return _tag(check, "list", item=item)


def mapping(fields: dict[str, Checker], *, required: tuple[str, ...] = ()) -> Checker:
    """A mapping with known keys; returns {key: value} plus ``__line__``."""

    def check(node: yaml.Node, key: str, ctx: _Ctx) -> Any:
        if isinstance(node, yaml.ScalarNode) and ctx.value(node) is None:
            node = yaml.MappingNode("tag:yaml.org,2002:map", [], node.start_mark, node.end_mark)
        if not isinstance(node, yaml.MappingNode):
            raise ctx.error(node, key, f"expected a mapping, got {_kind(node, ctx)}")
        out: dict[str, Any] = {"__line__": node.start_mark.line + 1}
        for key_node, value_node in node.value:
            name = ctx.value(key_node)
            sub = f"{key}.{_shown(name)}" if key else _shown(name)
            if not isinstance(name, str) or name not in fields:
                hint = difflib.get_close_matches(_shown(name), list(fields), n=1, cutoff=0.6)
                suggestion = f"; did you mean '{hint[0]}'?" if hint else (
                    f"; valid keys: {', '.join(sorted(fields))}"
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


def _expectation(node: yaml.Node, key: str, ctx: _Ctx) -> Any:
    """One inline expectation: ``{expect_...: {kwargs}}``, a single-key mapping."""
    if not isinstance(node, yaml.MappingNode) or len(node.value) != 1:
        raise ctx.error(
            node, key, "expected one expectation as '<expect_name>: {kwargs}', got "
            + _kind(node, ctx),
        )
    (name_node, kwargs_node), = node.value
    name = ctx.value(name_node)
    if not isinstance(name, str) or not name.startswith("expect_"):
        raise ctx.error(name_node, key, f"expected an expectation name (expect_...), got {name!r}")
    if not re.fullmatch(r"expect_\w+", name):
        raise ctx.error(name_node, key, f"expected an expectation name (expect_...), got {_shown(name)!r}")
    kwargs = ctx.value(kwargs_node)
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, dict):
        raise ctx.error(kwargs_node, f"{key}.{_shown(name)}", f"expected a mapping of arguments, got {_kind(kwargs_node, ctx)}")
    return {"type": name, "kwargs": kwargs, "line": node.start_mark.line + 1}


_tag(_expectation, "expectation")


SEVERITY = choice("fail", "warn")

SCHEMA = mapping({
    "base": string(),
    "repro": mapping({
        "enabled": boolean(),
        "pull": boolean(),
        "push": boolean(),
        "targets": list_of(string()),
        "require_committed_lock": choice("fail", "warn", "off"),
        "remote_unreachable": choice("fail", "warn"),
        "pass_env": list_of(env_name()),
    }),
    "metrics": mapping({
        "files": list_of(string()),
        "plots": list_of(string()),
        "rules": list_of(mapping({
            "name": string(),
            "direction": choice("higher", "lower"),
            "min": number(),
            "max": number(),
            "max_regression": number(minimum=0),
            "max_regression_pct": number(minimum=0),
            "severity": SEVERITY,
        }, required=("name",))),
        "missing_baseline": choice("fail", "warn", "off"),
        "unreadable": SEVERITY,
    }),
    "data": list_of(mapping({
        "path": string(),
        "format": choice("csv", "tsv", "parquet", "json", "jsonl"),
        "read": free_mapping(),
        "suite": string(),
        "expect": list_of(_expectation),
        "drift": mapping({"max_psi": number(minimum=0)}),
        "severity": SEVERITY,
        "engine": choice("pandas", "spark"),
    }, required=("path",))),
    "spark": mapping({"master": string(), "conf": free_mapping()}),
    "gate": mapping({"override_label": string()}),
    "report": mapping({
        "comment": choice("update", "new", "off"),
        "status_context": string(),
        "plots": boolean(),
    }),
    "deploy": mapping({"model_name": string(), "model_path": string(), "alias": string()}),
    "mlflow": mapping({"tracking_uri": string(nullable=True), "experiment": string()}),
})


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


# --- loading ------------------------------------------------------------------


def _pick(raw: dict[str, Any], cls: type, **extra: Any) -> Any:
    kwargs = {k: v for k, v in raw.items() if not k.startswith("__")}
    for k, v in list(kwargs.items()):
        if isinstance(v, list):
            kwargs[k] = tuple(v)
    return cls(**kwargs, **extra)


def _build(raw: dict[str, Any], display: str, ctx: _Ctx) -> Config:
    metrics_raw = dict(raw.get("metrics", {}))
    rules = []
    for i, r in enumerate(metrics_raw.pop("rules", [])):
        rule = _pick(r, MetricRule, line=r["__line__"])
        key = f"metrics.rules[{i}]"
        if not rule.name.strip():
            raise ConfigError("name must not be empty", file=display, line=rule.line, key=f"{key}.name")
        if (rule.max_regression is not None or rule.max_regression_pct is not None) and not rule.direction:
            raise ConfigError(
                "max_regression needs a direction ('higher' or 'lower') to know what worse means",
                file=display, line=rule.line, key=f"{key}.direction",
            )
        if rule.min is not None and rule.max is not None and rule.min > rule.max:
            raise ConfigError(
                f"min ({rule.min:g}) is greater than max ({rule.max:g})",
                file=display, line=rule.line, key=key,
            )
        rules.append(rule)
    metrics = _pick(metrics_raw, MetricsConfig, rules=tuple(rules))

    data = []
    for d in raw.get("data", []):
        d = dict(d)
        d["expect"] = tuple(d.get("expect", ()))
        data.append(_pick(d, DataCheck, line=d["__line__"]))

    present = frozenset(k for k in raw if not k.startswith("__"))
    return Config(
        base=raw.get("base"),
        repro=_pick(raw.get("repro", {}), ReproConfig),
        metrics=metrics,
        data=tuple(data),
        spark=_pick(raw.get("spark", {}), SparkConfig),
        gate=_pick(raw.get("gate", {}), GateConfig),
        report=_pick(raw.get("report", {}), ReportConfig),
        deploy=_pick(raw["deploy"], DeployConfig) if "deploy" in raw else None,
        mlflow=_pick(raw["mlflow"], MlflowConfig) if "mlflow" in raw else None,
        path=display,
        present=present,
    )


def parse(text: str, display: str = DEFAULT_CONFIG) -> Config:
    """Validate the text of a config file; ``display`` is the name used in errors."""
    ctx = _Ctx(display)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError as exc:  # PyYAML composes recursively: deep nesting ends here
        raise ConfigError(f"nested more than {MAX_DEPTH} levels deep; mlci reads flatter configs only",
                          file=display) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{exc.context}, {problem}"
        raise ConfigError(f"YAML syntax error: {problem}", file=display, line=line) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML syntax error: {exc}", file=display) from exc
    if node is None:
        return Config(path=display)
    _bounded(node, ctx)
    if not isinstance(node, yaml.MappingNode):
        raise ctx.error(node, "", f"the config must be a mapping of sections, got {_kind(node, ctx)}")
    try:
        raw = SCHEMA(node, "", ctx)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise ConfigError(f"YAML error: {exc.problem}", file=display,
                          line=mark.line + 1 if mark else None) from exc
    return _build(raw, display, ctx)


def for_project(cfg: Config, label: str | None, context_set: bool) -> Config:
    """``cfg`` for the project at ``label``: its default status context names the project.

    Two projects checked on one pull request must not share a status or a
    comment; ``report.status_context`` written in the file is kept as it is.
    """
    if not label:
        return cfg
    report = cfg.report
    if not context_set:
        report = replace(report, status_context=f"mlci/{label}")
    return replace(cfg, report=report, project=label)


def _sets_status_context(text: str) -> bool:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return False
    return isinstance(doc, dict) and isinstance(doc.get("report"), dict) \
        and "status_context" in doc["report"]


def load(path: str | Path | None, root: Path, *, explicit: bool = False,
         project: str | None = None) -> Config:
    """Read the config at ``path`` (default ``mlci.yaml`` in ``root``).

    A missing default file means the defaults; a missing file given with
    ``--config`` is an error. ``project`` is the DVC project's folder in the
    repository (see :mod:`mlci.project`), which labels the status context.
    """
    if path is None:
        file = root / DEFAULT_CONFIG
    else:
        file = Path(path)
        if not file.is_absolute():
            file = Path.cwd() / file
    try:
        display = str(file.relative_to(Path.cwd()))
    except ValueError:
        display = str(file)
    if not file.exists():
        if explicit:
            raise ConfigError("config file not found", file=display)
        return for_project(Config(path=None), project, False)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError("not a UTF-8 text file", file=display) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=display) from exc
    return for_project(parse(text, display), project, _sets_status_context(text))
