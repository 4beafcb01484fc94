"""A result small enough to read: rows beyond a limit are left out before anything renders.

A pull request can make a metrics file with a hundred thousand keys (each a row), or a plots
folder with thousands of files. Every rendering (comment, summary, terminal, HTML, JSON) is
made from the result, so the result itself is bounded here, once: the rows that fail or warn
are kept first, then the others in their order, and a note says how many of what were left
out. The gate has already judged every row: leaving a row out never changes the verdict.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from mlci.model.result import Result

MAX_METRIC_ROWS = 20_000  # two files at the per-file limit (engine/collect.py)
MAX_PARAM_ROWS = 20_000
MAX_PLOTS = 200

T = TypeVar("T")


def _kept(rows: Sequence[T], limit: int, urgent: Callable[[T], bool]) -> tuple[T, ...]:
    """At most ``limit`` rows in their order, the ``urgent`` ones first to be kept."""
    if len(rows) <= limit:
        return tuple(rows)
    keep = {i for i, r in enumerate(rows) if urgent(r)}
    keep = set(sorted(keep)[:limit])
    for i in range(len(rows)):
        if len(keep) >= limit:
            break
        keep.add(i)
    return tuple(r for i, r in enumerate(rows) if i in keep)


def bound(result: Result) -> Result:
    """``result`` with at most the limits above of metric rows, param rows and plots."""
    changes: dict[str, Any] = {}
    notes: list[str] = []
    for field, limit, what, urgent in (
        ("metrics", MAX_METRIC_ROWS, "metric rows", lambda m: m.outcome in ("fail", "warn")),
        ("params", MAX_PARAM_ROWS, "param rows", lambda p: p.status != "unchanged"),
        ("plots", MAX_PLOTS, "plots", lambda p: p.status != "unchanged"),
    ):
        rows = getattr(result, field)
        if len(rows) <= limit:
            continue
        kept = _kept(rows, limit, urgent)
        changes[field] = kept
        notes.append(
            f"this report leaves out {len(rows) - len(kept):,} of {len(rows):,} {what} "
            f"(it shows at most {limit:,}; every row was judged, and those that fail or warn "
            "are shown first)"
        )
    if not changes:
        return result
    return dataclasses.replace(result, **changes, notes=(*result.notes, *notes))
