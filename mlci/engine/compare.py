"""Compare metrics and params between base and head under per-metric rules.

Pure functions: snapshots and rules in, :class:`MetricDelta` and
:class:`ParamDelta` out. Floats are compared with a tolerance so that
float noise (``0.1 + 0.2`` against ``0.3``) is never a regression.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from mlci.engine.noise import DEFAULT_ALPHA, alpha_of
from mlci.model.config import AUTO, MetricRule, MetricsConfig
from mlci.model.fmt import as_float, is_number
from mlci.model.result import MetricDelta, ParamDelta, gravest

if TYPE_CHECKING:
    from mlci.engine.noise import Spread

REL_TOL = 1e-9
ABS_TOL = 1e-12


def close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def _exceeds(value: float, limit: float) -> bool:
    """``value > limit``, but not by float noise."""
    return value > limit and not close(value, limit)


def match_rule(name: str, rules: tuple[MetricRule, ...]) -> MetricRule | None:
    """The first rule whose pattern matches ``name`` (``path:key.path``).

    A pattern with ``:`` is matched against the whole name; one without is
    matched against the key part, in any file.
    """
    key = name.split(":", 1)[1] if ":" in name else name
    for rule in rules:
        target = name if ":" in rule.name else key
        if fnmatchcase(target, rule.name):
            return rule
    return None


def rule_matches(rule: MetricRule, name: str) -> bool:
    """Whether ``rule``'s pattern matches the metric ``name`` (first-match order aside)."""
    key = name.split(":", 1)[1] if ":" in name else name
    return fnmatchcase(name if ":" in rule.name else key, rule.name)


def suggest(pattern: str, names: Iterable[str]) -> str | None:
    """The metric name (or key, for a key-only pattern) closest to a pattern that matched nothing."""
    import difflib

    names = list(names)
    if ":" in pattern:
        candidates = list(dict.fromkeys(names))
    else:
        candidates = list(dict.fromkeys(n.split(":", 1)[1] if ":" in n else n for n in names))
    found = difflib.get_close_matches(pattern, candidates, n=1, cutoff=0.6)
    if (
        not found and ":" in pattern
    ):  # the key part alone may be the typo: compare keys in that file
        path, key = pattern.split(":", 1)
        keys = [n.split(":", 1)[1] for n in candidates if n.split(":", 1)[0] == path and ":" in n]
        close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
        found = [f"{path}:{close[0]}"] if close else []
    return found[0] if found else None


def unmatched_rules(
    rules: Iterable[MetricRule], names: Iterable[str], unknown_files: Iterable[str] = ()
) -> list[tuple[MetricRule, str | None]]:
    """Rules whose pattern matches none of ``names``, each with a "did you mean" or None.

    A rule that could reach a file whose content is unknown (declared but not
    produced, or unreadable) is left out: it may match once that file is read.
    """
    names = list(names)
    unknown = list(unknown_files)
    if "*" in unknown:  # nothing of the pipeline could be read: any rule may match once it is
        return []
    out = []
    for rule in rules:
        if any(rule_matches(rule, n) for n in names):
            continue
        if any(rule_reaches_file(rule, f) for f in unknown):
            continue
        out.append((rule, suggest(rule.name, names)))
    return out


def unmatched_text(rule: MetricRule, suggestion: str | None, where: str) -> str:
    """``rule 'acc_tst' matches no metric at main or the work tree; did you mean 'acc_test'?``"""
    text = f"rule '{rule.name}' matches no metric {where}"
    if suggestion:
        return text + f"; did you mean '{suggestion}'?"
    return text + ": it gates nothing (check its name against `mlci check --format json`)"


def rule_reaches_file(rule: MetricRule, path: str) -> bool:
    """Whether ``rule`` could match some metric of the file ``path`` (its content unknown)."""
    if ":" not in rule.name:
        return True  # a key-only pattern matches that key in any file
    return fnmatchcase(path, rule.name.split(":", 1)[0])


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _judge_bounds(head: float, rule: MetricRule) -> str | None:
    if math.isnan(head):
        return "value is NaN"
    if rule.min is not None and head < rule.min and not close(head, rule.min):
        return f"{_fmt(head)} is below the minimum {_fmt(rule.min)}"
    if rule.max is not None and head > rule.max and not close(head, rule.max):
        return f"{_fmt(head)} is above the maximum {_fmt(rule.max)}"
    return None


@dataclass(frozen=True)
class Limits:
    """A rule's regression limits for one metric, ``auto`` ones resolved from its history."""

    absolute: float | None
    pct: float | None
    # for each limit that was "auto": where its number came from, e.g. "0.7 % bound from 20 runs on
    # main (sd 0.002)"
    basis: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in (("max_regression", self.absolute), ("max_regression_pct", self.pct)):
            if key in self.basis:
                out[key] = {"allowed": value, "basis": self.basis[key]}
        return out


def resolve_limits(
    base: float, rule: MetricRule, spread: Spread | None, alpha: float = DEFAULT_ALPHA
) -> Limits:
    """``max_regression(_pct): auto`` as numbers: the one-sided prediction bound of
    :mod:`mlci.engine.noise` at false-alarm rate ``alpha``, as a worsening against ``base``.

    The basis says how many runs the bound used and which recorded values it
    left out ("0.7 % bound from 12 runs on main (sd 0.002); 6 commits did not re-run
    its stage"). Too short a history gives the rule's fallback, or no regression
    at all: a limit mlci cannot estimate is never a wide one.
    """
    absolute = rule.max_regression
    pct = rule.max_regression_pct
    basis: dict[str, str] = {}
    allowed = spread.allowed(base, rule.direction, alpha) if spread is not None else None
    if allowed is not None and spread is not None:
        text = spread.basis(alpha, base, rule.direction)
    elif spread is not None:
        text = spread.short()
    else:
        text = "no recorded history"
    if absolute == AUTO:
        if allowed is not None:
            absolute = allowed
            basis["max_regression"] = text
        else:
            absolute = rule.max_regression_fallback
            basis["max_regression"] = text + (
                "; max_regression_fallback" if absolute is not None else "; no regression allowed"
            )
            absolute = absolute if absolute is not None else 0.0
    if pct == AUTO:
        if allowed is not None and base:
            pct = allowed / abs(base) * 100.0
            basis["max_regression_pct"] = text
        elif allowed is not None:
            # any change from 0 is an infinite percentage: the noise is judged in the metric's
            # unit instead (an infinite limit would let every worsening through)
            pct = None
            if not isinstance(absolute, (int, float)) or allowed < absolute:
                absolute = allowed
                basis["max_regression"] = text + ", in the metric's unit, the base being 0"
        else:
            pct = rule.max_regression_pct_fallback
            basis["max_regression_pct"] = text + (
                "; max_regression_pct_fallback" if pct is not None else "; no regression allowed"
            )
            pct = pct if pct is not None else 0.0
    return Limits(absolute, pct, basis)  # type: ignore[arg-type]


def _judge_regression(
    base: float, head: float, rule: MetricRule, limits: Limits | None = None
) -> str | None:
    """A message when head is worse than base by more than the rule allows."""
    if not rule.direction or not (math.isfinite(base) and math.isfinite(head)):
        if rule.direction and math.isfinite(base) and math.isinf(head):
            worse = (head < 0) if rule.direction == "higher" else (head > 0)
            return f"went to {_fmt(head)}" if worse else None
        return None
    worsening = (base - head) if rule.direction == "higher" else (head - base)
    if worsening <= 0 or close(base, head):
        return None
    pct = (worsening / abs(base) * 100.0) if base != 0 else math.inf
    if limits is None:
        limits = resolve_limits(base, rule, None, 0.0)
    broken = []
    if limits.absolute is not None and _exceeds(worsening, limits.absolute):
        shown = f"{limits.absolute:.2g}" if "max_regression" in limits.basis else None
        broken.append((shown or _fmt(limits.absolute)) + _basis(limits, "max_regression"))
    if limits.pct is not None and _exceeds(pct, limits.pct):
        shown = f"{limits.pct:.3g} %" if math.isfinite(limits.pct) else "any %"
        broken.append(shown + _basis(limits, "max_regression_pct"))
    if limits.absolute is None and limits.pct is None:
        broken.append("none")
    if not broken:
        return None
    pct_text = f" ({pct:.3g} %)" if math.isfinite(pct) else ""
    return f"worse by {_fmt(worsening)}{pct_text}; allowed: {' and '.join(broken)}"


def _basis(limits: Limits, key: str) -> str:
    return f" ({limits.basis[key]})" if key in limits.basis else ""


def compare_metric(
    name: str,
    base: Any,
    head: Any,
    *,
    in_base: bool,
    in_head: bool,
    base_has_file: bool,
    config: MetricsConfig,
    spread: Spread | None = None,
) -> MetricDelta:
    rule = match_rule(name, config.rules)
    rule_dict = rule.to_dict() if rule else None
    gated = rule is not None and rule.gates
    outcome = "pass" if gated else "info"
    messages: list[str] = []

    def violate(message: str) -> None:
        nonlocal outcome
        messages.append(message)
        outcome = gravest(outcome, rule.severity if rule else "info")

    def judge_head_alone() -> None:
        """Bounds on the head value, when there is nothing numeric to compare it with."""
        if is_number(head):
            problem = _judge_bounds(as_float(head), rule)  # type: ignore[arg-type]
            if problem:
                violate(problem)
        else:
            violate(f"not a number: {head!r}")

    if not in_head:
        if gated:
            violate("missing in this revision")
        return MetricDelta(
            name, base, None, None, None, "removed", outcome, rule_dict, "; ".join(messages) or None
        )

    if not in_base:
        status = "new" if base_has_file else "no_baseline"
        if gated:
            judge_head_alone()
            policy = config.missing_baseline
            messages.append("no baseline value to compare with")
            if policy != "off":
                outcome = gravest(outcome, policy)
        return MetricDelta(
            name, None, head, None, None, status, outcome, rule_dict, "; ".join(messages) or None
        )

    if not (is_number(base) and is_number(head)):
        status = "unchanged" if base == head else "changed"
        if gated:
            judge_head_alone()
        return MetricDelta(
            name, base, head, None, None, status, outcome, rule_dict, "; ".join(messages) or None
        )

    b, h = as_float(base), as_float(head)
    delta: float | None = None
    delta_pct: float | None = None
    if math.isfinite(b) and math.isfinite(h):
        delta = 0.0 if close(b, h) else h - b
        if isinstance(base, int) and isinstance(head, int):
            delta = head - base
        if b != 0:
            delta_pct = delta / abs(b) * 100.0
    elif not close(b, h) and not (math.isnan(b) or math.isnan(h)):
        delta = h - b  # +-inf

    if close(b, h):
        status = "unchanged"
    elif math.isnan(b) or math.isnan(h) or not (rule and rule.direction):
        status = "changed"
    else:
        better = (h > b) if rule.direction == "higher" else (h < b)
        status = "improved" if better else "regressed"

    if gated:
        problem = _judge_bounds(h, rule)  # type: ignore[arg-type]
        if problem:
            violate(problem)
        limits = None
        if rule is not None and AUTO in (rule.max_regression, rule.max_regression_pct):
            limits = resolve_limits(b, rule, spread, alpha_of(config.noise_alpha, config.noise_k))
            if rule_dict is not None and math.isfinite(b):
                rule_dict["resolved"] = limits.to_dict()
        problem = _judge_regression(b, h, rule, limits)  # type: ignore[arg-type]
        if problem:
            violate(problem)
    return MetricDelta(
        name, base, head, delta, delta_pct, status, outcome, rule_dict, "; ".join(messages) or None
    )


def compare_metrics(
    base: dict[str, Any],
    head: dict[str, Any],
    base_files: set[str],
    config: MetricsConfig,
    spreads: Mapping[str, Spread] | None = None,
) -> list[MetricDelta]:
    """Every metric of either revision judged by its rule; ``spreads`` feed ``auto`` limits."""
    spreads = spreads or {}
    names = list(head) + [n for n in base if n not in head]
    out = []
    for name in names:
        path = name.split(":", 1)[0]
        out.append(
            compare_metric(
                name,
                base.get(name),
                head.get(name),
                in_base=name in base,
                in_head=name in head,
                base_has_file=path in base_files,
                config=config,
                spread=spreads.get(name),
            )
        )
    return out


def _same(a: Any, b: Any) -> bool:
    if is_number(a) and is_number(b):
        return close(as_float(a), as_float(b))
    return bool(a == b)


def compare_params(base: dict[str, Any], head: dict[str, Any]) -> list[ParamDelta]:
    out = []
    for name in list(head) + [n for n in base if n not in head]:
        if name not in base:
            out.append(ParamDelta(name, None, head[name], "added"))
        elif name not in head:
            out.append(ParamDelta(name, base[name], None, "removed"))
        else:
            status = "unchanged" if _same(base[name], head[name]) else "changed"
            out.append(ParamDelta(name, base[name], head[name], status))
    return out
