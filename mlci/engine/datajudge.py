"""The judges of a data diff: what in two profiles' comparison fails, warns or informs.

:func:`findings` reads the schema change and the per-column comparison that
:func:`mlci.engine.datadiff.diff` made and the rules of the ``data:`` entry
(:class:`mlci.model.config.DiffRules`), and lists the findings, root causes
first: a column removed, renamed or turned into another kind of value; a
column's missing values rising (beyond ``missing.max_increase`` points, or in
a column that had none) more than sampling explains; the row count beyond
its limits; a column added; then drift (PSI above ``drift.max_psi`` with the
sampling test's p-value below ``drift.alpha``), most drifted first.

A finding is ``{"check", "severity", "column", "message", "base", "head",
"limit", ...}``; the message carries the numbers, without the file's path.
"""

from __future__ import annotations

from typing import Any

from mlci.engine import sampling
from mlci.model.config import DiffRules
from mlci.model.fmt import MINUS


def dtype_family(dtype: str) -> str:
    """What kind of value a pandas or Spark type holds: number, bool, time or text.

    int64 -> float64 (a column that gained missing values) stays a number; float64 ->
    object (numbers read as text) does not.
    """
    t = dtype.lower()
    if t in ("bool", "boolean"):
        return "bool"
    if t.startswith(("int", "uint", "float", "double", "decimal", "bigint", "smallint", "tinyint")):
        return "number"
    if t.startswith(("datetime", "timedelta", "timestamp", "date", "period")):
        return "time"
    return "text"


_FAMILY_WORDS = {"number": "numbers", "bool": "true/false values", "time": "times", "text": "text"}


def pct_text(share: float) -> str:
    """A share of rows as a percentage that never reads 0 when it is not: 0.05 %, 18.6 %."""
    pct = share * 100
    if pct == 0:
        return "0 %"
    if pct < 0.1:
        return "<0.1 %"
    return f"{pct:.1f} %"


def p_text(p: float | None) -> str:
    if p is None:
        return "p n/a"
    if p < 1e-6:
        return "p < 1e-6"
    return f"p = {p:.2g}" if p < 0.01 else f"p = {p:.2f}"


def _finding(
    check: str,
    severity: str,
    message: str,
    column: str | None = None,
    **numbers: Any,
) -> dict[str, Any]:
    return {"check": check, "severity": severity, "column": column, "message": message, **numbers}


def findings(
    schema: dict[str, Any],
    columns: list[dict[str, Any]],
    base_rows: int,
    head_rows: int,
    rules: DiffRules,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The findings, root causes first, and the drifted columns (most drifted first)."""
    found: list[dict[str, Any]] = []
    if rules.schema != "off":
        for c in schema["removed"]:
            found.append(
                _finding(
                    "removed",
                    rules.schema,
                    f"column {c['name']} removed (was {c['dtype']})",
                    c["name"],
                    base=c["dtype"],
                    head=None,
                )
            )
        for pair in schema["renamed"]:
            old, new = pair["base"], pair["head"]
            found.append(
                _finding(
                    "renamed",
                    rules.schema,
                    f"column {old} renamed to {new} (same values)",
                    old,
                    base=old,
                    head=new,
                )
            )
        for t in schema["type_changed"]:
            was, now = dtype_family(t["base"]), dtype_family(t["head"])
            kind = f": {_FAMILY_WORDS[was]} became {_FAMILY_WORDS[now]}" if was != now else ""
            found.append(
                _finding(
                    "retyped",
                    rules.schema if was != now else "info",
                    f"column {t['name']} changed type {t['base']} → {t['head']}{kind}",
                    t["name"],
                    base=t["base"],
                    head=t["head"],
                )
            )
    if rules.missing != "off":
        for col in columns:
            missing = _missing(col, rules, base_rows, head_rows)
            if missing:
                found.append(missing)
    if rules.rows != "off" and base_rows:
        rows = _rows(base_rows, head_rows, rules)
        if rows:
            found.append(rows)
    if rules.new_columns != "off":
        for c in schema["added"]:
            found.append(
                _finding(
                    "added",
                    rules.new_columns,
                    f"column {c['name']} added ({c['dtype']})",
                    c["name"],
                    base=None,
                    head=c["dtype"],
                )
            )
    drifted = sorted((c for c in columns if _drifts(c, rules)), key=lambda c: -c["psi"])
    if rules.drift != "off":
        found += [_drift(col, rules) for col in drifted]
    return found, drifted


def _drifts(col: dict[str, Any], rules: DiffRules) -> bool:
    if rules.max_psi is None or col["psi"] is None or col["psi"] <= rules.max_psi:
        return False
    if rules.alpha is None:
        return True
    return col["p_value"] is not None and col["p_value"] < rules.alpha


def _missing(
    col: dict[str, Any], rules: DiffRules, base_rows: int, head_rows: int
) -> dict[str, Any] | None:
    share = col["null_fraction"]
    nulls = col["nulls"]
    if (
        share["base"] is None
        or share["head"] is None
        or nulls["head"] <= nulls["base"] * (head_rows / base_rows)
    ):
        return None
    rise = (share["head"] - share["base"]) * 100
    complete = rules.missing_keep_complete and nulls["base"] == 0
    over = rules.missing_max_increase is not None and rise > rules.missing_max_increase + 1e-9
    if not complete and not over:
        return None
    p = sampling.more_missing_p(nulls["base"], base_rows, nulls["head"], head_rows)
    if rules.missing_alpha is not None and p >= rules.missing_alpha:
        return None  # as many as two samples of one missing rate often differ by
    numbers = {"base": share["base"], "head": share["head"], "p_value": round_p(p)}
    test = f"; {p_text(p)} at {base_rows:,} vs {head_rows:,} rows"
    if complete:
        return _finding(
            "missing",
            rules.missing,
            f"column {col['name']}: {nulls['head']:,} missing values "
            f"({pct_text(share['head'])} of rows), none in the base "
            f"(missing.keep_complete){test}",
            col["name"],
            limit=0,
            **numbers,
        )
    return _finding(
        "missing",
        rules.missing,
        f"column {col['name']}: missing values {pct_text(share['base'])} → "
        f"{pct_text(share['head'])} (+{rise:.1f} points > "
        f"{rules.missing_max_increase:g}, missing.max_increase){test}",
        col["name"],
        limit=rules.missing_max_increase,
        **numbers,
    )


def _rows(base_rows: int, head_rows: int, rules: DiffRules) -> dict[str, Any] | None:
    change = (head_rows - base_rows) / base_rows * 100
    numbers: dict[str, Any] = {"base": base_rows, "head": head_rows}
    sign = "+" if change >= 0 else MINUS
    what = f"rows {base_rows:,} → {head_rows:,} ({sign}{abs(change):.1f} %"
    drop, grow = rules.rows_max_decrease_pct, rules.rows_max_increase_pct
    if drop is not None and -change > drop + 1e-9:
        return _finding(
            "rows",
            rules.rows,
            f"{what}; at most {MINUS}{drop:g} %, rows.max_decrease_pct)",
            limit=-drop,
            **numbers,
        )
    if grow is not None and change > grow + 1e-9:
        return _finding(
            "rows",
            rules.rows,
            f"{what}; at most +{grow:g} %, rows.max_increase_pct)",
            limit=grow,
            **numbers,
        )
    return None


def _drift(col: dict[str, Any], rules: DiffRules) -> dict[str, Any]:
    sample = col["sample"]
    test = f"; {p_text(col['p_value'])} at {sample['base']:,} vs {sample['head']:,} rows"
    moved = ""
    if col.get("mean") and col["mean"]["base"] is not None and col["mean"]["head"] is not None:
        moved = f"; mean {col['mean']['base']:.4g} → {col['mean']['head']:.4g}"
    elif col.get("categories"):
        new = [c["value"] for c in col["categories"]["appeared"][:3]]
        moved = f"; new values {', '.join(new)}" if new else ""
    return _finding(
        "drift",
        rules.drift,
        f"column {col['name']} drifted: PSI {col['psi']:.3f} > {rules.max_psi:g} "
        f"(drift.max_psi){test}{moved}",
        col["name"],
        base=None,
        head=col["psi"],
        limit=rules.max_psi,
        p_value=col["p_value"],
    )


def round_p(value: float | None) -> float | None:
    """A p-value to three significant digits, as the result records it."""
    return None if value is None else float(f"{value:.3g}")
