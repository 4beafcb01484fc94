"""The result of a run: plain frozen dataclasses and their JSON form.

The result is the single source of truth: every rendering (terminal, PR
comment, job summary, status) is made from it, so it can be computed in one
job and published by another. ``schema/result.schema.json`` describes the
JSON form; :func:`validate` checks a document against it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from mlci import __version__
from mlci.model.data import DataEntry

SCHEMA_VERSION = 1

# Outcomes from the mildest to the gravest: the verdict is the gravest reason, reports list the
# gravest first. "info" (a metric no rule gates) is below "pass" (one that a rule passed).
SEVERITY_ORDER = ("info", "pass", "warn", "fail")
_GRAVITY = {name: rank for rank, name in enumerate(SEVERITY_ORDER)}


def gravity(severity: str) -> int:
    """The rank of ``severity`` in :data:`SEVERITY_ORDER`; an unknown one ranks below them all."""
    return _GRAVITY.get(severity, -1)


def gravest(*severities: str) -> str:
    """The gravest of ``severities`` (the first of equals)."""
    return max(severities, key=gravity)


@dataclass(frozen=True)
class Reason:
    section: str  # metrics | params | data | repro | config
    severity: str  # fail | warn
    message: str
    file: str | None = None  # where the rule that decided it is written, for annotations
    line: int | None = None
    # what kind of finding, when it is not a metric row's: unreadable (declared, DVC could not
    # load it), absent (declared, not produced), unmatched (a rule that matches no metric)
    kind: str | None = None


@dataclass(frozen=True)
class MetricDelta:
    name: str
    base: Any
    head: Any
    delta: float | None
    delta_pct: float | None
    status: str  # improved|regressed|unchanged|changed|new|removed|no_baseline|unreadable
    outcome: str  # pass|warn|fail|info
    rule: dict[str, Any] | None = None
    message: str | None = None
    # the values recorded on the base branch's commits ({"sha", "value"}, oldest first)
    history: tuple[dict[str, Any], ...] | None = None
    # two values ({"sha", "value"}; sha None for the work tree) that the same inputs gave
    nondeterministic: tuple[dict[str, Any], ...] | None = None


# MetricDelta fields left out of the JSON when unset, so a result without history reads as before
_OPTIONAL_METRIC_FIELDS = ("history", "nondeterministic")


@dataclass(frozen=True)
class ParamDelta:
    name: str
    base: Any
    head: Any
    status: str  # changed|added|removed|unchanged


class NotDrawable(Exception):
    """Why a plot cannot be drawn; the message goes into the report."""


@dataclass(frozen=True)
class Plot:
    """One plot at base and head, as data that every rendering can draw.

    ``base``/``head`` by ``kind``: ``line`` -> ``[[x, y], ...]`` (at most
    :data:`mlci.plots.MAX_STORED_POINTS`); ``confusion`` -> ``[[actual,
    predicted, count], ...]``; ``image`` -> ``{"sha256", "size"}``; ``none``
    when it cannot be drawn, with ``reason``. ``path`` is the head's file,
    for uploading images as workflow artifacts.
    """

    id: str
    kind: str  # line|confusion|bar|image|none
    status: str  # changed|unchanged|new|removed
    title: str | None = None
    x: str | None = None  # axis labels (the data fields)
    y: str | None = None
    base: Any = None
    head: Any = None
    path: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Revision:
    ref: str | None
    sha: str | None


@dataclass(frozen=True)
class EventRevisions:
    """Base and head that a CI event names (PR base and head, a push's before), and the PR.

    The code host reads them from its event; a check uses them as the default base and
    to name the revisions in the report.
    """

    base_sha: str | None = None
    base_ref: str | None = None
    head_sha: str | None = None
    head_ref: str | None = None
    pr: int | None = None
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Context:
    repo: str | None = None
    event: str = "local"
    pr: int | None = None
    base: Revision = field(default_factory=lambda: Revision(None, None))
    head: Revision = field(default_factory=lambda: Revision(None, None))
    run_url: str | None = None
    # the head is the work tree with uncommitted changes: its values are no commit's
    head_uncommitted: bool = False
    compared: bool = True  # False for `mlci repro`: the work tree reproduced, nothing compared


@dataclass(frozen=True)
class StageRun:
    name: str
    status: str  # ran|cached|restored|unchanged|failed|skipped
    duration_s: float | None = None
    cmd: str | None = None
    exit_code: int | None = None
    log_tail: str | None = None


@dataclass(frozen=True)
class Repro:
    status: str = "skipped"  # ran|failed|skipped
    stages: tuple[StageRun, ...] = ()
    lock_changed: bool = False
    duration_s: float | None = None
    message: str | None = None


@dataclass(frozen=True)
class PackageChange:
    """One package whose declared version differs between base and head, in one file."""

    file: str  # repository-relative
    name: str  # the package as the file lists it (with its group or marker, when it has one)
    status: str  # added|removed|changed
    base: str | None  # what the file says at the base (``==2.1.0``, ``>=1,<2``, a locked ``2.1.0``)
    head: str | None


@dataclass(frozen=True)
class EnvStage:
    """A stage whose ``deps`` include an environment file that changed."""

    name: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class Environment:
    """The Python environment's files that differ between base and head, package by package."""

    files: tuple[str, ...] = ()  # every environment file that differs, repository-relative
    packages: tuple[PackageChange, ...] = ()
    stages: tuple[EnvStage, ...] = ()
    problems: tuple[str, ...] = ()  # files (or lines) that could not be read

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Environment:
        return cls(
            files=tuple(doc.get("files", ())),
            packages=tuple(PackageChange(**p) for p in doc.get("packages", ())),
            stages=tuple(
                EnvStage(s["name"], tuple(s.get("files", ()))) for s in doc.get("stages", ())
            ),
            problems=tuple(doc.get("problems", ())),
        )


@dataclass(frozen=True)
class WriteBack:
    """What became of committing the reproduced files back (``repro.commit``, ``/mlci commit``)."""

    status: str  # pushed|committed|nothing|refused|failed
    message: str  # what happened, or why not
    sha: str | None = None  # the new commit
    parent: str | None = None  # the commit it was made on (the reproduced head)
    branch: str | None = None
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Experiment:
    """One grid point of ``mlci sweep``: a DVC experiment judged against the base."""

    name: str
    params: dict[str, Any]  # "params.yaml:train.C" -> the value set
    verdict: str
    metrics: tuple[MetricDelta, ...] = ()
    reasons: tuple[Reason, ...] = ()
    sha: str | None = None  # the experiment's commit (None: it did not finish)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "params": dict(self.params),
            "verdict": self.verdict,
            "metrics": [_metric_dict(m) for m in self.metrics],
            "reasons": [_reason_dict(r) for r in self.reasons],
            "sha": self.sha,
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Experiment:
        return cls(
            name=doc["name"],
            params=dict(doc.get("params") or {}),
            verdict=doc["verdict"],
            metrics=tuple(_metric_from(m) for m in doc.get("metrics", ())),
            reasons=tuple(Reason(**r) for r in doc.get("reasons", ())),
            sha=doc.get("sha"),
        )


@dataclass(frozen=True)
class Result:
    context: Context
    verdict: str
    reasons: tuple[Reason, ...] = ()
    repro: Repro = field(default_factory=Repro)
    data: tuple[DataEntry, ...] = ()
    metrics: tuple[MetricDelta, ...] = ()
    params: tuple[ParamDelta, ...] = ()
    plots: tuple[Plot, ...] = ()
    notes: tuple[str, ...] = ()
    duration_s: float | None = None
    override: dict[str, Any] | None = (
        None  # {"label", "by", "reason", "at"} when failures were waived
    )
    mlflow: dict[str, Any] | None = (
        None  # {"run_id", "experiment_id", "url"} when the run was tracked
    )
    environment: Environment | None = None  # set when an environment file differs
    writeback: WriteBack | None = None  # set when a write-back was asked for
    experiments: tuple[Experiment, ...] | None = None  # `mlci sweep` only: one per grid point
    best: str | None = None  # the best passing experiment by `sweep.objective`
    tool_version: str = __version__

    # -- JSON ---------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out = {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "mlci", "version": self.tool_version},
            "context": _context_dict(self.context),
            "verdict": self.verdict,
            "reasons": [_reason_dict(r) for r in self.reasons],
            "repro": asdict(self.repro),
            "data": [d.to_dict() for d in self.data],
            # flat rows: a shallow copy is enough, and asdict's deep copy is slow at 10,000 metrics
            "metrics": [_metric_dict(m) for m in self.metrics],
            "params": [dict(vars(p)) for p in self.params],
            "plots": [asdict(p) for p in self.plots],
            "notes": list(self.notes),
            "duration_s": self.duration_s,
            "override": self.override,
            "mlflow": self.mlflow,
        }
        if self.environment is not None:  # absent when nothing changed: the JSON stays as it was
            out["environment"] = asdict(self.environment)
        if self.writeback is not None:
            out["writeback"] = asdict(self.writeback)
        if self.experiments is not None:  # a sweep's result; a check's JSON stays as it was
            out["experiments"] = [e.to_dict() for e in self.experiments]
            out["best"] = self.best
        return _json_safe(out)

    def to_json(self) -> str:
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        # json escapes C0 controls but not DEL and C1 (U+0080-U+009F: the 8-bit CSI a terminal obeys)
        return _C1.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Result:
        doc = _json_restore(doc)
        ctx = dict(doc.get("context") or {})
        ctx["base"] = Revision(**(ctx.get("base") or {"ref": None, "sha": None}))
        ctx["head"] = Revision(**(ctx.get("head") or {"ref": None, "sha": None}))
        repro = dict(doc.get("repro") or {})
        repro["stages"] = tuple(StageRun(**s) for s in repro.get("stages", ()))
        return cls(
            context=Context(**ctx),
            verdict=doc["verdict"],
            reasons=tuple(Reason(**r) for r in doc.get("reasons", ())),
            repro=Repro(**repro),
            data=tuple(DataEntry.from_dict(d) for d in doc.get("data", ())),
            metrics=tuple(_metric_from(m) for m in doc.get("metrics", ())),
            params=tuple(ParamDelta(**p) for p in doc.get("params", ())),
            plots=tuple(Plot(**p) for p in doc.get("plots", ())),
            notes=tuple(doc.get("notes", ())),
            duration_s=doc.get("duration_s"),
            override=doc.get("override"),
            mlflow=doc.get("mlflow"),
            environment=(
                Environment.from_dict(doc["environment"]) if doc.get("environment") else None
            ),
            writeback=_writeback(doc.get("writeback")),
            experiments=(
                tuple(Experiment.from_dict(e) for e in doc["experiments"])
                if doc.get("experiments") is not None
                else None
            ),
            best=doc.get("best"),
            tool_version=(doc.get("tool") or {}).get("version", __version__),
        )

    @classmethod
    def from_json(cls, text: str) -> Result:
        return cls.from_dict(json.loads(text))


def _metric_from(doc: dict[str, Any]) -> MetricDelta:
    doc = dict(doc)
    for key in _OPTIONAL_METRIC_FIELDS:
        if doc.get(key) is not None:
            doc[key] = tuple(doc[key])
    return MetricDelta(**doc)


def _writeback(doc: dict[str, Any] | None) -> WriteBack | None:
    if not doc:
        return None
    return WriteBack(**{**doc, "files": tuple(doc.get("files", ()))})


def _context_dict(context: Context) -> dict[str, Any]:
    out = asdict(context)
    if not out["head_uncommitted"]:  # the common cases; keep the JSON as it was
        del out["head_uncommitted"]
    if out["compared"]:
        del out["compared"]
    return out


def _metric_dict(metric: MetricDelta) -> dict[str, Any]:
    out = dict(vars(metric))
    for key in _OPTIONAL_METRIC_FIELDS:
        if out[key] is None:
            del out[key]
        else:
            out[key] = [dict(entry) for entry in out[key]]
    return out


def _reason_dict(reason: Reason) -> dict[str, Any]:
    out = asdict(reason)
    if out["kind"] is None:  # the common case: a metric row's reason; keep the JSON as it was
        del out["kind"]
    return out


# Non-finite floats are not JSON; they travel as these strings and come back
# as floats. A metric whose *value* is one of these strings reads back as a float.
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_PLAIN = (str, int, bool, type(None))
_C1 = re.compile("[\x7f-\x9f]")


def _json_safe(value: Any) -> Any:
    if type(value) in _PLAIN:  # the common case first: this runs for every value of every metric
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _json_restore(value: Any, key: str | None = None) -> Any:
    if (
        key in ("base", "head", "delta", "delta_pct")
        and isinstance(value, str)
        and value in _NONFINITE
    ):
        return _NONFINITE[value]
    if isinstance(value, dict):
        return {k: _json_restore(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_restore(v) for v in value]
    return value


def schema() -> dict[str, Any]:
    from importlib import resources  # here: `mlci --version` imports this module

    text = resources.files("mlci").joinpath("schema/result.schema.json").read_text("utf-8")
    return json.loads(text)


def validate(doc: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` when ``doc`` is not a valid result."""
    import jsonschema

    jsonschema.validate(doc, schema())
