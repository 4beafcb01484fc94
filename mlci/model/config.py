"""mlci's configuration as frozen dataclasses; the defaults here are the documented defaults.

``mlci.configfile`` reads ``mlci.yaml`` into these; everything else of mlci only reads them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
