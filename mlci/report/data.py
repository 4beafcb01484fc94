"""The data section of the report's view: one block per ``data:`` entry (its findings, its
expectations, a row per changed column with base → head numbers), the data findings for the top
of the report (root causes first, drift after, the rest folded), and a data diff in one line."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from mlci.model import fmt
from mlci.model.data import CHECK_ORDER, DataDiff, DataEntry, ExpectationResult
from mlci.model.result import Result, gravity

ATTENTION_LINES = 8  # data findings at the top of a report; the rest are counted, and listed below
ATTENTION_DRIFT = 3  # of which drifted columns: one root cause must not drown in its consequences
COLUMN_ROWS = 15  # changed columns shown per file; the result file has them all
OUTCOME_WORDS = {"fail": "fail", "warn": "warn", "pass": "pass", "info": "info"}


def diff_summary(d: DataDiff) -> str:
    """One line for a report: ``+120 rows (+1.2 %), 1 column added (c), max PSI 0.31 (label)``."""
    if d.status != "compared":
        return str(d.message or d.status or "")
    parts = []
    rows = d.rows or {}
    if rows.get("delta"):
        pct = f" ({rows['delta'] / rows['base'] * 100:+.1f} %)" if rows.get("base") else ""
        parts.append(f"{rows['delta']:+,} rows{pct}".replace("-", fmt.MINUS))
    else:
        parts.append(f"{rows.get('head') or 0:,} rows, unchanged count")
    schema = d.schema or {}
    for key, word in (("added", "added"), ("removed", "removed"), ("type_changed", "changed type")):
        changed = schema.get(key) or []
        if changed:
            names = ", ".join(c["name"] for c in changed[:5])
            parts.append(
                f"{len(changed)} column{'s' if len(changed) != 1 else ''} {word} ({names})"
            )
    renamed = schema.get("renamed") or []
    if renamed:
        pairs = ", ".join(f"{r['base']} → {r['head']}" for r in renamed[:5])
        parts.append(f"{fmt.plural(len(renamed), 'column')} renamed ({pairs})")
    if d.max_psi and fmt.is_number(d.max_psi.get("psi")) and d.max_psi["psi"] > 0:
        parts.append(f"max PSI {d.max_psi['psi']:.3f} ({d.max_psi['column']})")
    elif d.columns and not any(c.get("changed", c.get("psi")) for c in d.columns):
        parts.append("no column moved")
    return ", ".join(parts)


@dataclass(frozen=True)
class ExpectationRow:
    icon: str
    label: str
    args: str
    unexpected: str
    sample: str
    arguments: tuple[str, ...] = ()  # one per argument, for a renderer that breaks lines


@dataclass(frozen=True)
class FindingRow:
    """One finding of the diff with the base: ``❌ column year removed (was int64)``."""

    icon: str
    severity: str  # fail | warn | info
    check: str
    text: str


@dataclass(frozen=True)
class ColumnRow:
    """A column that moved, base → head; empty cells where a number does not apply."""

    icon: str
    outcome: str  # the gravest finding on the column: fail | warn | info, or "" for none
    name: str
    missing: str
    mean: str
    std: str
    min: str
    max: str
    categories: str
    drift: str

    def numbers(self) -> list[tuple[str, str]]:
        """The non-empty cells with their names, for a one-line rendering."""
        cells = [
            ("missing", self.missing),
            ("mean", self.mean),
            ("std", self.std),
            ("min", self.min),
            ("max", self.max),
            ("categories", self.categories),
            ("drift", self.drift),
        ]
        return [(k, v) for k, v in cells if v]


@dataclass(frozen=True)
class DataFile:
    icon: str
    path: str
    stats: str
    message: str | None
    expectations: list[ExpectationRow]
    diff: str
    outcome: str = "pass"  # fail | warn | pass: the word beside the icon where one is shown
    findings: list[FindingRow] | None = None
    columns: list[ColumnRow] | None = None
    columns_more: int = 0  # changed columns not shown (COLUMN_ROWS)
    columns_unchanged: int = 0


def _expectation_row(e: ExpectationResult) -> ExpectationRow:
    kwargs = {
        k: v
        for k, v in (e.kwargs if isinstance(e.kwargs, dict) else {}).items()
        if k not in ("column", "column_A", "column_B", "column_list")
    }
    arguments = tuple(
        fmt.clip(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}", 80) for k, v in kwargs.items()
    )
    args = ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in kwargs.items())
    count, pct = e.unexpected_count, e.unexpected_percent
    if e.exception:
        unexpected = "error: " + str(e.exception)
    elif isinstance(count, int):
        unexpected = f"{count:,}" + (
            f" ({fmt.number(round(pct, 2))} %)" if isinstance(pct, (int, float)) else ""
        )
    elif e.observed_value is not None:
        unexpected = f"observed {fmt.clip(str(e.observed_value), 60)}"
    else:
        unexpected = "—"
    sample = ", ".join(
        (f"row {s.row}: " if s.row is not None else "") + fmt.clip(str(s.value), 40)
        for s in e.sample
    )
    return ExpectationRow(
        icon=fmt.ICONS["pass"] if e.success else fmt.ICONS["fail"],
        label=e.label,
        args=fmt.clip(args, 80),
        unexpected=unexpected,
        sample=sample,
        arguments=arguments,
    )


def outcome(d: DataEntry) -> str:
    """fail, warn or pass: the gravest of the file's own state, expectations and diff findings."""
    worst = "pass"
    if d.status in ("missing", "error") or d.failed_expectations:
        worst = d.severity
    for f in d.diff.gating:
        if gravity(f["severity"]) > gravity(worst):
            worst = f["severity"]
    return worst


def _num(value: Any) -> str:
    if not fmt.is_number(value):
        return ""
    v = float(value)
    if not math.isfinite(v):
        return fmt.number(v)
    text = f"{v:.3g}" if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3) else f"{v:.4g}"
    return text.replace("-", fmt.MINUS)


def _pair(pair: Any, show: Any = _num) -> str:
    """``43.92 → 4.392``, or the one value when it did not move."""
    if not isinstance(pair, dict):
        return ""
    base, head = show(pair.get("base")), show(pair.get("head"))
    if not base and not head:
        return ""
    return base or "—" if base == head else f"{base or '—'} → {head or '—'}"


def _share(value: Any) -> str:
    if not fmt.is_number(value):
        return ""
    pct = float(value) * 100
    if pct == 0:
        return "0 %"
    return "<0.1 %" if pct < 0.1 else f"{pct:.1f} %"


def _categories(col: dict[str, Any]) -> str:
    cats = col.get("categories")
    if not isinstance(cats, dict):
        return ""
    parts = []
    for key, sign in (("appeared", "+"), ("vanished", fmt.MINUS)):
        values = cats.get(key) or []
        if values:
            listed = ", ".join(f"{fmt.clip(str(c['value']), 30)} ({c['rows']:,})" for c in values)
            parts.append(f"{sign}{listed}")
    if cats.get("more"):
        parts.append(f"{cats['more']:,} more")
    return "; ".join(parts)


def _drift_cell(col: dict[str, Any]) -> str:
    psi = col.get("psi")
    if not fmt.is_number(psi):
        return ""
    p = col.get("p_value")
    if not fmt.is_number(p):
        return f"PSI {psi:.3f}"
    p_text = "p < 1e-6" if p < 1e-6 else (f"p = {p:.2g}" if p < 0.01 else f"p = {p:.2f}")
    return f"PSI {psi:.3f}, {p_text}"


def _column_rows(d: DataDiff) -> tuple[list[ColumnRow], int, int]:
    """The changed columns (those with a finding first, then by PSI), how many more, how many
    did not move."""
    severity: dict[str, str] = {}
    for f in d.findings:
        name = f.get("column")
        if isinstance(name, str) and gravity(f["severity"]) > gravity(severity.get(name, "")):
            severity[name] = f["severity"]
    changed = [c for c in d.columns if c.get("changed", True)]
    changed.sort(
        key=lambda c: (
            -gravity(severity.get(c["name"], "")),
            -(c.get("psi") or 0),
        )
    )
    rows = []
    for c in changed[:COLUMN_ROWS]:
        sev = severity.get(c["name"], "")
        rows.append(
            ColumnRow(
                icon=fmt.ICONS.get(sev, ""),
                outcome=sev,
                name=str(c["name"]),
                missing=_pair(c.get("null_fraction"), _share),
                mean=_pair(c.get("mean")),
                std=_pair(c.get("std")),
                min=_pair(c.get("min")),
                max=_pair(c.get("max")),
                categories=_categories(c),
                drift=_drift_cell(c),
            )
        )
    return rows, max(0, len(changed) - COLUMN_ROWS), len(d.columns) - len(changed)


def _finding_rows(d: DataDiff) -> list[FindingRow]:
    rank = {c: i for i, c in enumerate(CHECK_ORDER)}
    ordered = sorted(
        d.findings, key=lambda f: (-gravity(f["severity"]), rank.get(str(f.get("check")), 99))
    )
    return [
        FindingRow(
            fmt.ICONS.get(f["severity"], ""), f["severity"], str(f["check"]), str(f["message"])
        )
        for f in ordered
    ]


def data_files(result: Result) -> list[DataFile]:
    """One block per ``data:`` entry: its findings, expectations and changed columns, failures
    first."""
    out = []
    for d in result.data:
        parts = []
        if d.statistics.rows is not None:
            parts.append(f"{d.statistics.rows:,} rows × {d.statistics.columns or 0} columns")
        exps = d.expectations
        if exps:
            failed = len(d.failed_expectations)
            parts.append(
                fmt.plural(len(exps), "expectation")
                + (f", {failed} failed" if failed else " passed")
            )
        worst = outcome(d)
        rows = sorted(
            (_expectation_row(e) for e in exps), key=lambda r: r.icon == fmt.ICONS["pass"]
        )
        columns, more, unchanged = _column_rows(d.diff)
        out.append(
            DataFile(
                icon=fmt.ICONS[worst],
                path=str(d.path),
                stats=", ".join(parts),
                message=d.message,
                expectations=rows,
                diff=diff_summary(d.diff),
                outcome=worst,
                findings=_finding_rows(d.diff),
                columns=columns,
                columns_more=more,
                columns_unchanged=unchanged,
            )
        )
    out.sort(key=lambda f: -gravity(f.outcome))
    return out


@dataclass(frozen=True)
class DataLine:
    """One data finding for the top of the report: ``❌ `path`: `expectation` failed on …``.

    ``text`` never ends with a full stop: the templates add one.
    """

    icon: str
    path: str
    label: str | None
    text: str
    severity: str
    check: str | None = None  # the diff's check (removed, missing, rows, drift, ...), if any


def _line(
    icon: str, path: str, label: str | None, text: str, severity: str, check: str | None = None
) -> DataLine:
    return DataLine(icon, path, label, text.rstrip().rstrip("."), severity, check)


def data_attention(result: Result) -> list[DataLine]:
    """The failing and warning data findings, in the words of the gate's reasons: gravest
    first; of equals, the file's own state, the diff's root causes (schema, missing values,
    rows), the expectations, then drift."""
    ranked: list[tuple[int, float, DataLine]] = []
    rank = {c: i for i, c in enumerate(CHECK_ORDER)}
    for d in result.data:
        path, severity = str(d.path), d.severity
        icon = fmt.ICONS.get(severity, "")
        if d.status in ("missing", "error"):
            message = str(d.message or d.status)
            text = message[len(path) :].lstrip(": ") if message.startswith(path) else message
            ranked.append((gravity(severity), -1, _line(icon, path, None, text, severity)))
        for e in d.failed_expectations:
            message = e.message(path, d.statistics.rows)
            rest = message[len(f"{path}: {e.label}") :].strip()
            line = _line(icon, path, e.label, rest, severity)
            ranked.append((gravity(severity), rank["drift"] - 0.5, line))
        for f in d.diff.gating:
            sev = f["severity"]
            line = _line(fmt.ICONS.get(sev, ""), path, None, str(f["message"]), sev, f["check"])
            ranked.append((gravity(sev), rank.get(str(f.get("check")), 99), line))
    ranked.sort(key=lambda item: (-item[0], item[1]))
    return [line for _, _, line in ranked]


def data_headlines(result: Result) -> tuple[list[DataLine], int]:
    """The data findings for the top of the report, and how many more the data section lists:
    at most ``ATTENTION_LINES``, of which at most ``ATTENTION_DRIFT`` drifted columns."""
    shown: list[DataLine] = []
    drift = folded = 0
    for line in data_attention(result):
        is_drift = line.check == "drift"
        if len(shown) >= ATTENTION_LINES or (is_drift and drift >= ATTENTION_DRIFT):
            folded += 1
            continue
        drift += is_drift
        shown.append(line)
    return shown, folded


def data_summary(files: list[DataFile]) -> str:
    counts = Counter(f.outcome for f in files)
    parts = [
        f"{counts[k]} {word}"
        for k, word in (("fail", "failed"), ("warn", "warned"), ("pass", "passed"))
        if counts[k]
    ]
    return f"{fmt.plural(len(files), 'file')} — {', '.join(parts)}"
