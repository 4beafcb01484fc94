"""One ``data:`` entry of a result: its validation, its expectations and its diff with the base.

Typed, so that the data step, the gate and every rendering read the same fields; the JSON
form (:meth:`DataEntry.to_dict`) is the one ``schema/result.schema.json`` describes. A result
read from a file is schema-valid first, so :meth:`DataEntry.from_dict` only has to cope with
the keys the schema leaves optional.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Sample:
    """An offending value (as text, cut short) and its row, when the engine has one."""

    row: int | None
    value: str


@dataclass(frozen=True)
class ExpectationResult:
    """One Great Expectations expectation run on one file."""

    type: str
    kwargs: dict[str, Any]
    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: Any = None  # a number, or a non-finite one as text
    observed_value: Any = None
    sample: tuple[Sample, ...] = ()
    exception: str | None = None

    @property
    def label(self) -> str:
        """``expect_column_values_to_not_be_null(text)``: the expectation and its column(s)."""
        kwargs = self.kwargs if isinstance(self.kwargs, dict) else {}
        cols = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
        if not cols and isinstance(kwargs.get("column_list"), list):
            cols = kwargs["column_list"][:4]
        return f"{self.type}({', '.join(str(c) for c in cols)})" if cols else str(self.type)

    def message(self, path: str, rows: int | None) -> str:
        """What failed, in the words of the gate's reason: ``path: label failed on 3 of 60 rows``."""
        name = self.label
        if self.exception:
            return f"{path}: {name} could not run: {self.exception}"
        count = self.unexpected_count
        if isinstance(count, int):
            total = self.element_count if isinstance(self.element_count, int) else rows
            of = f" of {total:,} rows" if isinstance(total, int) else " rows"
            pct = self.unexpected_percent
            pct_text = f" ({_pct(pct)} %)" if isinstance(pct, (int, float)) else ""
            rows_seen = [str(s.row) for s in self.sample if s.row is not None]
            plural = "s" if len(rows_seen) > 1 else ""
            example = f", e.g. row{plural} {', '.join(rows_seen)}" if rows_seen else ""
            return f"{path}: {name} failed on {count:,}{of}{pct_text}{example}"
        observed = self.observed_value
        seen = f" (observed {str(observed)[:100]})" if observed is not None else ""
        return f"{path}: {name} failed{seen}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "kwargs": self.kwargs,
            "success": self.success,
            "element_count": self.element_count,
            "unexpected_count": self.unexpected_count,
            "unexpected_percent": self.unexpected_percent,
            "observed_value": self.observed_value,
            "sample": [{"row": s.row, "value": s.value} for s in self.sample],
            "exception": self.exception,
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ExpectationResult:
        return cls(
            type=doc["type"],
            kwargs=doc["kwargs"],
            success=doc["success"],
            element_count=doc.get("element_count"),
            unexpected_count=doc.get("unexpected_count"),
            unexpected_percent=doc.get("unexpected_percent"),
            observed_value=doc.get("observed_value"),
            sample=tuple(Sample(s.get("row"), s["value"]) for s in doc.get("sample") or ()),
            exception=doc.get("exception"),
        )


def _pct(value: float) -> str:
    if value == 0:
        return "0"
    if value < 0.01:
        return "<0.01"
    return f"{value:.2f}" if value < 1 else f"{value:.1f}"


@dataclass(frozen=True)
class DataStatistics:
    rows: int | None = None
    columns: int | None = None
    evaluated: int | None = None  # expectations run
    successful: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rows": self.rows, "columns": self.columns}
        if self.evaluated is not None:
            out["evaluated"] = self.evaluated
        if self.successful is not None:
            out["successful"] = self.successful
        return out


# the keys of a diff that compared two profiles, in their JSON order
_COMPARED = (
    "status",
    "rows",
    "schema",
    "columns",
    "max_psi",
    "rule",
    "drifted",
    "findings",
    "message",
)
# the checks of a diff, in the order a report shows them: root causes before drift
CHECK_ORDER = ("removed", "renamed", "retyped", "missing", "rows", "added", "drift")


@dataclass(frozen=True)
class DataDiff:
    """The file against the same file at the base revision (:mod:`mlci.engine.datadiff`).

    ``status`` ``compared`` fills every field; the others (unchanged, no_base,
    unavailable, skipped) say why in ``message``, and ``unchanged`` gives ``rows``.
    """

    status: str
    message: str | None = None
    rows: dict[str, Any] | None = None  # {"base", "head", "delta"}
    schema: dict[str, Any] | None = None  # {"added", "removed", "type_changed", "renamed"}
    columns: tuple[dict[str, Any], ...] = ()  # name, null_fraction, summaries, psi, p_value
    max_psi: dict[str, Any] | None = None  # {"column", "psi"}: the most drifted column, if any
    rule: dict[str, Any] | None = None  # the judges (DiffRules.to_dict)
    drifted: tuple[str, ...] = ()  # columns that drifted by the rule, most drifted first
    # what the judges found: {"check", "severity", "column", "message", ...numbers}, root
    # causes first (removed, renamed, retyped, missing, rows, added), drift after
    findings: tuple[dict[str, Any], ...] = ()

    @property
    def max_psi_limit(self) -> Any:
        rule = self.rule or {}
        drift = rule.get("drift")
        return drift.get("max_psi") if isinstance(drift, dict) else rule.get("max_psi")

    @property
    def gating(self) -> tuple[dict[str, Any], ...]:
        """The findings that fail or warn."""
        return tuple(f for f in self.findings if f.get("severity") in ("fail", "warn"))

    def column(self, name: str) -> dict[str, Any]:
        return next((c for c in self.columns if c.get("name") == name), {})

    def to_dict(self) -> dict[str, Any]:
        every = {
            "status": self.status,
            "rows": self.rows,
            "schema": self.schema,
            "columns": list(self.columns),
            "max_psi": self.max_psi,
            "rule": self.rule,
            "drifted": list(self.drifted),
            "findings": list(self.findings),
            "message": self.message,
        }
        if self.status == "compared":
            return {k: every[k] for k in _COMPARED}
        out: dict[str, Any] = {"status": self.status}
        if self.message is not None:
            out["message"] = self.message
        if self.rows is not None:
            out["rows"] = self.rows
        return out

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> DataDiff:
        return cls(
            status=doc["status"],
            message=doc.get("message"),
            rows=doc.get("rows"),
            schema=doc.get("schema"),
            columns=tuple(doc.get("columns") or ()),
            max_psi=doc.get("max_psi"),
            rule=doc.get("rule"),
            drifted=tuple(doc.get("drifted") or ()),
            findings=tuple(doc.get("findings") or ()),
        )


@dataclass(frozen=True)
class DataEntry:
    """One ``data:`` entry of the config: its validation and its diff with the base."""

    path: str
    severity: str  # what a failure of this entry is: fail | warn
    status: str  # passed | failed | missing | error
    success: bool
    statistics: DataStatistics
    expectations: tuple[ExpectationResult, ...] = ()
    diff: DataDiff = DataDiff("skipped")
    format: str | None = None
    engine: str | None = None
    suite: str | None = None
    message: str | None = None  # why the file is missing or could not be read
    cached: bool = False  # the validation came from mlci's cache

    @property
    def failed_expectations(self) -> tuple[ExpectationResult, ...]:
        return tuple(e for e in self.expectations if not e.success)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path}
        if self.format is not None:
            out["format"] = self.format
        if self.engine is not None:
            out["engine"] = self.engine
        out.update(
            severity=self.severity,
            suite=self.suite,
            status=self.status,
            success=self.success,
            message=self.message,
            statistics=self.statistics.to_dict(),
            expectations=[e.to_dict() for e in self.expectations],
            diff=self.diff.to_dict(),
            cached=self.cached,
        )
        return out

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> DataEntry:
        stats = doc["statistics"]
        return cls(
            path=doc["path"],
            severity=doc["severity"],
            status=doc["status"],
            success=doc["success"],
            statistics=DataStatistics(
                stats.get("rows"),
                stats.get("columns"),
                stats.get("evaluated"),
                stats.get("successful"),
            ),
            expectations=tuple(ExpectationResult.from_dict(e) for e in doc["expectations"]),
            diff=DataDiff.from_dict(doc["diff"]),
            format=doc.get("format"),
            engine=doc.get("engine"),
            suite=doc.get("suite"),
            message=doc.get("message"),
            cached=bool(doc.get("cached", False)),
        )
