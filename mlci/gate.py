"""The gate: turn section outcomes into reasons and one verdict."""

from __future__ import annotations

from collections.abc import Iterable

from mlci.result import MetricDelta, Reason

_RANK = {"pass": 0, "warn": 1, "fail": 2}


def metric_reasons(metrics: Iterable[MetricDelta]) -> list[Reason]:
    out = []
    for m in metrics:
        if m.outcome in ("fail", "warn"):
            out.append(Reason("metrics", m.outcome, f"{m.name}: {m.message or m.status}"))
    return out


def verdict(reasons: Iterable[Reason]) -> str:
    """``fail`` if any reason fails, else ``warn`` if any warns, else ``pass``."""
    worst = "pass"
    for reason in reasons:
        if _RANK.get(reason.severity, 0) > _RANK[worst]:
            worst = reason.severity
    return worst


def order(reasons: Iterable[Reason]) -> list[Reason]:
    """Failures before warnings, otherwise in the order found."""
    return sorted(reasons, key=lambda r: -_RANK.get(r.severity, 0))
