"""The data section's text: a data diff in one line."""

from __future__ import annotations

from typing import Any


def diff_summary(d: dict[str, Any]) -> str:
    """One line for a report: ``+120 rows (+1.2 %), 1 column added, max PSI 0.31 (label)``."""
    status = d.get("status")
    if status != "compared":
        return str(d.get("message") or status or "")
    parts = []
    rows = d["rows"]
    if rows["delta"]:
        pct = f" ({rows['delta'] / rows['base'] * 100:+.1f} %)" if rows["base"] else ""
        parts.append(f"{rows['delta']:+,} rows{pct}")
    else:
        parts.append(f"{rows['head']:,} rows, unchanged count")
    schema = d["schema"]
    for key, word in (("added", "added"), ("removed", "removed"), ("type_changed", "changed type")):
        if schema[key]:
            names = ", ".join(c["name"] for c in schema[key][:5])
            parts.append(
                f"{len(schema[key])} column{'s' if len(schema[key]) != 1 else ''} {word} ({names})"
            )
    if d.get("max_psi"):
        parts.append(f"max PSI {d['max_psi']['psi']:.3f} ({d['max_psi']['column']})")
    return ", ".join(parts)
