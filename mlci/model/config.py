"""mlci's configuration as frozen dataclasses; the defaults here are the documented defaults.

``mlci.configfile`` reads ``mlci.yaml`` into these; everything else of mlci only reads them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.model.fmt import is_number

DEFAULT_CONFIG = "mlci.yaml"
AUTO = "auto"  # max_regression(_pct): the limit comes from the metric's recorded noise


# --- the typed configuration -------------------------------------------------


@dataclass(frozen=True)
class ReproConfig:
    enabled: bool = True
    pull: bool = True
    push: bool = False
    targets: tuple[str, ...] = ()
    require_committed_lock: str = "warn"
    remote_unreachable: str = "warn"
    commit: bool = False  # same-repo PRs: commit the reproduced dvc.lock and outputs back
    pass_env: tuple[str, ...] = ()  # secret-looking variables the stages may still see


@dataclass(frozen=True)
class MetricRule:
    name: str
    direction: str | None = None
    min: float | None = None
    max: float | None = None
    # a number, or "auto": k times the metric's recorded run-to-run noise (see mlci.engine.history)
    max_regression: float | str | None = None
    max_regression_pct: float | str | None = None
    # what an "auto" limit is when the history holds too few values (None: no regression)
    max_regression_fallback: float | None = None
    max_regression_pct_fallback: float | None = None
    severity: str = "fail"
    line: int | None = None  # where the rule is written, for annotations

    @property
    def gates(self) -> bool:
        """Whether the rule can fail or warn (a bare name only reports)."""
        return self.direction is not None or self.min is not None or self.max is not None

    @classmethod
    def from_dict(cls, rule: Any) -> MetricRule | None:
        """The rule back from its result form (:meth:`to_dict`, ``MetricDelta.rule``).

        None when there is none, or when its shape is unknown (a result file from elsewhere).
        The ``auto`` limits it was judged by (``resolved``) are the result's, not the rule's.
        """
        if not rule or not isinstance(rule, dict):
            return None
        try:
            return cls(**{k: v for k, v in rule.items() if k != "resolved"})
        except (TypeError, ValueError):
            return None

    def describe(self, resolved: dict[str, Any] | None = None) -> str:
        """The rule in words; ``resolved`` gives ``auto`` limits as numbers with their basis.

        (``resolved``: ``{"max_regression": {"allowed": 0.0033, "basis": "0.7 % bound from 20
        runs on main (sd 0.0011)"}}``, as the comparison stores it in the result's rule.)
        """
        resolved = resolved or {}
        parts = []
        if self.direction:
            parts.append(self.direction)
        if self.min is not None:
            parts.append(f"min {self.min:g}")
        if self.max is not None:
            parts.append(f"max {self.max:g}")
        for key, unit in (("max_regression", ""), ("max_regression_pct", " %")):
            limit = getattr(self, key)
            if limit is None:
                continue
            if limit != AUTO:
                parts.append(f"max regression {limit:g}{unit}")
                continue
            auto = resolved.get(key)
            allowed = auto.get("allowed") if isinstance(auto, dict) else None
            if is_number(allowed):
                parts.append(f"max regression {allowed:.2g}{unit} ({auto['basis']})")  # type: ignore[index]
            else:
                parts.append(f"max regression auto{' (%)' if unit else ''}")
        if self.direction and self.max_regression is None and self.max_regression_pct is None:
            parts.append("no regression")
        return ", ".join(parts) or "report only"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        for key in (
            "direction",
            "min",
            "max",
            "max_regression",
            "max_regression_pct",
            "max_regression_fallback",
            "max_regression_pct_fallback",
        ):
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
    # an "auto" limit is a one-sided prediction bound at this false-alarm rate per metric and PR
    # (mlci.engine.noise); noise_k, when set, replaces it by the normal tail beyond k sigmas
    noise_alpha: float = 0.007
    noise_k: float | None = None


@dataclass(frozen=True)
class HistoryConfig:
    record: bool = True  # `mlci ci` on a push to the default branch writes refs/notes/mlci
    depth: int = 30  # first-parent commits of the base whose notes are read
    min_points: int = 5  # recorded values an "auto" limit needs before it trusts the spread


@dataclass(frozen=True)
class EnvironmentConfig:
    unpinned: str = "off"  # warn|off: a requirement without an exact pin that a stage depends on


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
    base_mode: str = "tip"  # tip|merge-base: which commit of the base the metrics are compared with
    repro: ReproConfig = field(default_factory=ReproConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    environment: EnvironmentConfig = field(default_factory=EnvironmentConfig)
    data: tuple[DataCheck, ...] = ()
    spark: SparkConfig = field(default_factory=SparkConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    deploy: DeployConfig | None = None
    mlflow: MlflowConfig | None = None
    history: HistoryConfig = field(default_factory=HistoryConfig)
    path: str | None = None  # the file it came from, as shown in messages
    project: str | None = None  # the DVC project's folder in the repository, when not the top level

    def repo_path(self, root: Path) -> str | None:
        """The config file relative to the repository root (for annotations), if there is one."""
        if not self.path:
            return None
        return Path(os.path.relpath(Path.cwd() / self.path, root)).as_posix()
