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

from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from mlci.configfile.schema import MAX_DEPTH, SCHEMA, Ctx, bounded, kind
from mlci.model import yamlread
from mlci.model.config import (
    DEFAULT_CONFIG,
    Config,
    DataCheck,
    DeployConfig,
    DriftRule,
    EnvironmentConfig,
    GateConfig,
    HistoryConfig,
    MetricRule,
    MetricsConfig,
    MissingRule,
    MlflowConfig,
    NewColumnsRule,
    ReportConfig,
    ReproConfig,
    RowsRule,
    SchemaRule,
    SparkConfig,
    SweepConfig,
)
from mlci.model.errors import ConfigError

# --- loading ------------------------------------------------------------------

# the judges of a data entry's diff, each a mapping of its own
DATA_RULES: dict[str, type] = {
    "schema": SchemaRule,
    "new_columns": NewColumnsRule,
    "missing": MissingRule,
    "rows": RowsRule,
    "drift": DriftRule,
}


def _pick(raw: dict[str, Any], cls: type, **extra: Any) -> Any:
    kwargs = {k: v for k, v in raw.items() if not k.startswith("__")}
    for k, v in list(kwargs.items()):
        if isinstance(v, list):
            kwargs[k] = tuple(v)
    return cls(**kwargs, **extra)


def _build(raw: dict[str, Any], display: str, ctx: Ctx) -> Config:
    metrics_raw = dict(raw.get("metrics", {}))
    rules = []
    for i, r in enumerate(metrics_raw.pop("rules", [])):
        rule = _pick(r, MetricRule, line=r["__line__"])
        key = f"metrics.rules[{i}]"
        if not rule.name.strip():
            raise ConfigError(
                "name must not be empty", file=display, line=rule.line, key=f"{key}.name"
            )
        if (
            rule.max_regression is not None or rule.max_regression_pct is not None
        ) and not rule.direction:
            raise ConfigError(
                "max_regression needs a direction ('higher' or 'lower') to know what worse means",
                file=display,
                line=rule.line,
                key=f"{key}.direction",
            )
        for limit in ("max_regression", "max_regression_pct"):
            if getattr(rule, f"{limit}_fallback") is not None and getattr(rule, limit) != "auto":
                raise ConfigError(
                    f"{limit}_fallback is only used with {limit}: auto",
                    file=display,
                    line=rule.line,
                    key=f"{key}.{limit}_fallback",
                )
        if rule.min is not None and rule.max is not None and rule.min > rule.max:
            raise ConfigError(
                f"min ({rule.min:g}) is greater than max ({rule.max:g})",
                file=display,
                line=rule.line,
                key=key,
            )
        rules.append(rule)
    metrics = _pick(metrics_raw, MetricsConfig, rules=tuple(rules))

    data = []
    for d in raw.get("data", []):
        d = dict(d)
        d["expect"] = tuple(d.get("expect", ()))
        for key, rule in DATA_RULES.items():
            if key in d:
                d[key] = _pick(d[key], rule)
        data.append(_pick(d, DataCheck, line=d["__line__"]))

    return Config(
        base=raw.get("base"),
        base_mode=raw.get("base_mode", "tip"),
        repro=_pick(raw.get("repro", {}), ReproConfig),
        metrics=metrics,
        environment=_pick(raw.get("environment", {}), EnvironmentConfig),
        data=tuple(data),
        spark=_pick(raw.get("spark", {}), SparkConfig),
        gate=_pick(raw.get("gate", {}), GateConfig),
        report=_pick(raw.get("report", {}), ReportConfig),
        deploy=_pick(raw["deploy"], DeployConfig) if "deploy" in raw else None,
        mlflow=_pick(raw["mlflow"], MlflowConfig) if "mlflow" in raw else None,
        history=_pick(raw.get("history", {}), HistoryConfig),
        sweep=_pick(raw.get("sweep", {}), SweepConfig),
        path=display,
    )


def parse(text: str, display: str = DEFAULT_CONFIG) -> Config:
    """Validate the text of a config file; ``display`` is the name used in errors."""
    ctx = Ctx(display)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError as exc:  # PyYAML composes recursively: deep nesting ends here
        raise ConfigError(
            f"nested more than {MAX_DEPTH} levels deep; mlci reads flatter configs only",
            file=display,
        ) from exc
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
    bounded(node, ctx)
    if not isinstance(node, yaml.MappingNode):
        raise ctx.error(
            node, "", f"the config must be a mapping of sections, got {kind(node, ctx)}"
        )
    try:
        raw = SCHEMA(node, "", ctx)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise ConfigError(
            f"YAML error: {exc.problem}", file=display, line=mark.line + 1 if mark else None
        ) from exc
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
        doc = yamlread.load(text)
    except yamlread.YamlRefused:
        return False
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("report"), dict)
        and "status_context" in doc["report"]
    )


def load(
    path: str | Path | None, root: Path, *, explicit: bool = False, project: str | None = None
) -> Config:
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
