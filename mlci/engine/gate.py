"""The gate: turn section outcomes into reasons and one verdict."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from mlci.model.result import MetricDelta, Reason, Result, gravest, gravity


def metric_reasons(metrics: Iterable[MetricDelta], config_file: str | None = None) -> list[Reason]:
    """One reason per metric that fails or warns, pointing at the rule that judged it."""
    out = []
    for m in metrics:
        # an unreadable file has its own reason (which says why); its rows would repeat it
        if m.outcome in ("fail", "warn") and m.status != "unreadable":
            line = (m.rule or {}).get("line")
            out.append(
                Reason(
                    "metrics",
                    m.outcome,
                    f"{m.name}: {m.message or m.status}",
                    file=config_file if line else None,
                    line=line,
                )
            )
    return out


def judge(
    metrics: Iterable[MetricDelta], findings: Iterable[Reason], config_file: str | None = None
) -> list[Reason]:
    """Every reason of a check in the gate's order (:func:`order`).

    Within a severity the metric rows' reasons come first, in the table's order, then the
    steps' findings in the order the steps found them.
    """
    return order([*metric_reasons(metrics, config_file), *findings])


def verdict(reasons: Iterable[Reason]) -> str:
    """``fail`` if any reason fails, else ``warn`` if any warns, else ``pass``."""
    return gravest("pass", *(r.severity for r in reasons))


def order(reasons: Iterable[Reason]) -> list[Reason]:
    """Failures before warnings, otherwise in the order found."""
    return sorted(reasons, key=lambda r: -gravity(r.severity))


def apply_override(result: Result, override: dict[str, Any]) -> Result:
    """Failures become warnings, and the result records who waived them and why."""
    reasons = tuple(
        dataclasses.replace(r, severity="warn", message=f"{r.message} (overridden)")
        if r.severity == "fail"
        else r
        for r in result.reasons
    )
    return dataclasses.replace(
        result, reasons=reasons, verdict=verdict(reasons), override=dict(override)
    )
