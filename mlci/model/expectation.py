"""An expectation's outcome in words: its label and, when it failed, the message.

The gate's reasons (engine) and the report's data section say the same thing,
so both read it from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def label(exp: Mapping[str, Any]) -> str:
    """``expect_column_values_to_not_be_null(text)``: the expectation and its column(s)."""
    kwargs = exp.get("kwargs") or {}
    cols = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
    if not cols and isinstance(kwargs.get("column_list"), list):
        cols = kwargs["column_list"][:4]
    return f"{exp['type']}({', '.join(str(c) for c in cols)})" if cols else str(exp["type"])


def _pct(value: float) -> str:
    if value == 0:
        return "0"
    if value < 0.01:
        return "<0.01"
    return f"{value:.2f}" if value < 1 else f"{value:.1f}"


def expectation_message(path: str, exp: Mapping[str, Any], rows: int | None) -> str:
    name = label(exp)
    if exp.get("exception"):
        return f"{path}: {name} could not run: {exp['exception']}"
    count = exp.get("unexpected_count")
    if isinstance(count, int):
        total = exp.get("element_count") if isinstance(exp.get("element_count"), int) else rows
        of = f" of {total:,} rows" if isinstance(total, int) else " rows"
        pct = exp.get("unexpected_percent")
        pct_text = f" ({_pct(pct)} %)" if isinstance(pct, (int, float)) else ""
        rows_seen = [str(s["row"]) for s in exp.get("sample", []) if s.get("row") is not None]
        plural = "s" if len(rows_seen) > 1 else ""
        example = f", e.g. row{plural} {', '.join(rows_seen)}" if rows_seen else ""
        return f"{path}: {name} failed on {count:,}{of}{pct_text}{example}"
    observed = exp.get("observed_value")
    seen = f" (observed {str(observed)[:100]})" if observed is not None else ""
    return f"{path}: {name} failed{seen}"
