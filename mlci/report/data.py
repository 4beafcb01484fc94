"""The data section's text: a data diff in one line."""

from __future__ import annotations

from mlci.model.data import DataDiff


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
