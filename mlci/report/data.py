"""The data section of the report's view: one row per ``data:`` entry, the data findings for the
top of the report, and a data diff in one line."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from mlci.model import fmt
from mlci.model.data import DataDiff, ExpectationResult
from mlci.model.result import Result, gravity


def diff_summary(d: DataDiff) -> str:
    """One line for a report: ``+120 rows (+1.2 %), 1 column added, max PSI 0.31 (label)``."""
    if d.status != "compared":
        return str(d.message or d.status or "")
    parts = []
    rows = d.rows or {}
    if rows.get("delta"):
        pct = f" ({rows['delta'] / rows['base'] * 100:+.1f} %)" if rows.get("base") else ""
        parts.append(f"{rows['delta']:+,} rows{pct}")
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
    if d.max_psi:
        parts.append(f"max PSI {d.max_psi['psi']:.3f} ({d.max_psi['column']})")
    return ", ".join(parts)


@dataclass(frozen=True)
class ExpectationRow:
    icon: str
    label: str
    args: str
    unexpected: str
    sample: str


@dataclass(frozen=True)
class DataFile:
    icon: str
    path: str
    stats: str
    message: str | None
    expectations: list[ExpectationRow]
    diff: str


def _expectation_row(e: ExpectationResult) -> ExpectationRow:
    kwargs = {
        k: v
        for k, v in (e.kwargs if isinstance(e.kwargs, dict) else {}).items()
        if k not in ("column", "column_A", "column_B", "column_list")
    }
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
    )


def data_files(result: Result) -> list[DataFile]:
    """One row per ``data:`` entry: its expectations and its diff with the base, failures first."""
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
        icon = (
            fmt.ICONS["pass"]
            if d.success and not d.diff.drifted
            else fmt.ICONS.get(d.severity, fmt.ICONS["fail"])
        )
        rows = sorted(
            (_expectation_row(e) for e in exps), key=lambda r: r.icon == fmt.ICONS["pass"]
        )
        out.append(
            DataFile(
                icon=icon,
                path=str(d.path),
                stats=", ".join(parts),
                message=d.message,
                expectations=rows,
                diff=diff_summary(d.diff),
            )
        )
    out.sort(key=lambda f: f.icon == fmt.ICONS["pass"])
    return out


@dataclass(frozen=True)
class DataLine:
    """One data finding for the top of the report: ``❌ `path`: `expectation` failed on …``."""

    icon: str
    path: str
    label: str | None
    text: str
    severity: str


def data_attention(result: Result) -> list[DataLine]:
    """The failing and warning data findings, in the words of the gate's reasons."""
    out = []
    for d in result.data:
        path, severity = str(d.path), d.severity
        icon = fmt.ICONS.get(severity, "")
        if d.status in ("missing", "error"):
            message = str(d.message or d.status)
            text = message[len(path) :].lstrip(": ") if message.startswith(path) else message
            out.append(DataLine(icon, path, None, text, severity))
        for e in d.failed_expectations:
            message = e.message(path, d.statistics.rows)
            rest = message[len(f"{path}: {e.label}") :].strip()
            out.append(DataLine(icon, path, e.label, rest, severity))
        limit = d.diff.max_psi_limit
        for name in d.diff.drifted:
            psi = d.diff.column(name).get("psi")
            psi_text = f"PSI {psi:.3f}" if fmt.is_number(psi) else "PSI"
            limit_text = f" > {limit:g}" if fmt.is_number(limit) else ""
            out.append(
                DataLine(
                    icon,
                    path,
                    None,
                    f"column {name} drifted: {psi_text}{limit_text} (drift.max_psi)",
                    severity,
                )
            )
    out.sort(key=lambda line: -gravity(line.severity))
    return out


def data_summary(files: list[DataFile]) -> str:
    counts = Counter(f.icon for f in files)
    parts = [
        f"{counts[fmt.ICONS[k]]} {word}"
        for k, word in (("fail", "failed"), ("warn", "warned"), ("pass", "passed"))
        if counts[fmt.ICONS[k]]
    ]
    return f"{fmt.plural(len(files), 'file')} — {', '.join(parts)}"
