"""Trends: a metric's recorded history on the base branch, drawn for each rendering.

A Unicode sparkline for the tables (Markdown and terminal), a Mermaid
``xychart-beta`` block for the metrics that need attention (GitHub draws it in
the comment), and a Vega-Lite spec for the HTML report. The head's value is
drawn last, on the same scale, after an arrow: where this change would put
the line. Pure functions of :class:`~mlci.model.result.MetricDelta`.
"""

from __future__ import annotations

import math
import re
from typing import Any

from mlci.model import fmt
from mlci.model.result import MetricDelta

BARS = "▁▂▃▄▅▆▇█"
HEAD_MARK = "→"
MAX_SPARK = 30  # characters of history in a table cell: the newest, when more were recorded

# a Mermaid label keeps letters, digits and a few marks: no quote, backtick, `%%` or `;` survives
_UNSAFE = re.compile(r"[^\w .,:/()+\-=]", re.UNICODE)


def series(m: MetricDelta) -> list[float]:
    """The recorded values, oldest first (finite numbers only)."""
    out = []
    for entry in m.history or ():
        value = entry.get("value") if isinstance(entry, dict) else None
        if fmt.is_number(value) and math.isfinite(value):
            out.append(float(value))
    return out


def head_value(m: MetricDelta) -> float | None:
    value = m.head
    if fmt.is_number(value) and math.isfinite(value):
        return float(value)
    return None


def sparkline(m: MetricDelta, limit: int = MAX_SPARK) -> str:
    """``▃▄▃▅▄▃→▁``: the base's recorded values, then the head's on their scale ("" without).

    One recorded value is no trend: it has no range to scale the head on, so any change
    would be drawn as a jump from the middle to the bottom or top; nothing is drawn.
    """
    values = series(m)[-limit:]
    if len(values) < 2:
        return ""
    head = head_value(m)
    # the history's own range sets the scale, so its wobble stays visible; a head beyond it
    # sits at the bottom or the top (its value is in the table next to it)
    lo, hi = min(values), max(values)

    def bar(v: float) -> str:
        if hi == lo:
            return BARS[3] if v == lo else (BARS[0] if v < lo else BARS[7])
        return BARS[max(0, min(7, int((v - lo) / (hi - lo) * 8)))]

    line = "".join(bar(v) for v in values)
    return line + (HEAD_MARK + bar(head) if head is not None else "")


def mermaid_label(text: Any, limit: int = 60) -> str:
    """A label that is safe inside a quoted Mermaid string inside a Markdown code fence."""
    cleaned = re.sub(r"\s+", " ", _UNSAFE.sub(" ", str(text))).strip()
    return fmt.clip(cleaned, limit) or "?"


def _num(value: float) -> str:
    """A plain decimal Mermaid's grammar reads (no exponent)."""
    if value == 0:
        return "0"
    text = f"{value:.6g}"
    if "e" in text:
        text = f"{value:.12f}".rstrip("0").rstrip(".") or "0"
    return text


def mermaid_chart(m: MetricDelta, branch: str, head_label: str) -> str:
    """The history and the head as a fenced Mermaid ``xychart-beta`` line ("" without history,
    or with one recorded value: a line from it to the head would be a jump, not a trend)."""
    entries = [
        e for e in (m.history or ()) if isinstance(e, dict) and fmt.is_number(e.get("value"))
    ]
    if len(entries) < 2:
        return ""
    labels = [str(e.get("sha", ""))[:7] or "?" for e in entries]
    values = [float(e["value"]) for e in entries]
    head = head_value(m)
    if head is not None:
        labels.append(mermaid_label(head_label, 20))
        values.append(head)
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.1 or abs(hi) * 0.01 or 1.0
    axis = ", ".join(f'"{label}"' for label in labels)
    return "\n".join(
        [
            "```mermaid",
            "xychart-beta",
            f'    title "{mermaid_label(m.name)}: {mermaid_label(branch, 30)} history"',
            f"    x-axis [{axis}]",
            f'    y-axis "value" {_num(lo - pad)} --> {_num(hi + pad)}',
            "    line [" + ", ".join(_num(v) for v in values) + "]",
            "```",
        ]
    )


def vega_spec(m: MetricDelta, branch: str, head_label: str) -> dict[str, Any] | None:
    """A Vega-Lite line of the recorded values with the head as a separate point (None without)."""
    entries = [
        e for e in (m.history or ()) if isinstance(e, dict) and fmt.is_number(e.get("value"))
    ]
    if not entries:
        return None
    points = [
        {
            "i": i,
            "commit": str(e.get("sha", ""))[:7] or "?",
            "value": float(e["value"]),
            "rev": branch,
        }
        for i, e in enumerate(entries)
    ]
    head = head_value(m)
    if head is not None:
        label = (
            head_label
            if head_label not in {p["commit"] for p in points}
            else f"{head_label} (head)"
        )
        points.append({"i": len(entries), "commit": label, "value": head, "rev": head_label})
    encoding = {
        # commits by short sha, in order; a point scale keeps half a step of room at both ends,
        # so the head's point (the last) is drawn whole, not cut by the plot's edge
        "x": {
            "field": "commit",
            "type": "ordinal",
            "sort": {"field": "i"},
            "scale": {"type": "point", "padding": 0.5},
            "axis": {"labelAngle": -45},
            "title": f"{branch} commits, oldest first",
        },
        "y": {"field": "value", "type": "quantitative", "scale": {"zero": False}},
        "color": {"field": "rev", "type": "nominal", "title": None},
        "tooltip": [{"field": "commit"}, {"field": "value"}],
    }
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": " ".join(m.name.split()).replace("\\", "\u29f5"),
        "width": "container",
        "height": 160,
        "data": {"values": points},
        "layer": [
            {"mark": {"type": "line", "point": True}, "encoding": encoding},
        ],
    }
