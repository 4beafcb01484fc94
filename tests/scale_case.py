"""The 10,000-metric case shared by the scale test and ``benchmarks/bench_scale.py``.

100 metric files of 100 metrics each; the head fails 30 rules, warns on 20,
improves 200 metrics, changes 300 without a rule and leaves the rest alone.
"""

from __future__ import annotations

from typing import Any

from mlci import configfile as config
from mlci.engine import compare, gate
from mlci.forge.github import publish
from mlci.model.result import Context, Result, Revision
from mlci.report.comment import ReportText

FILES, PER_FILE = 100, 100
CONFIG = """\
metrics:
  rules:
    - name: "eval/part_*.json:score_*"
      direction: higher
      max_regression: 0.01
    - name: "eval/part_*.json:latency_*"
      direction: lower
      max_regression_pct: 10
      severity: warn
"""


def metrics() -> tuple[dict[str, Any], dict[str, Any], set[str]]:
    base: dict[str, Any] = {}
    head: dict[str, Any] = {}
    files = set()
    for f in range(FILES):
        path = f"eval/part_{f:03d}.json"
        files.add(path)
        for m in range(PER_FILE):
            kind = ("score", "latency", "count")[m % 3]
            name = f"{path}:{kind}_{m:03d}"
            value = 0.5 + (f * PER_FILE + m) * 1e-6
            base[name] = value
            head[name] = value
    scores = [n for n in head if ":score_" in n]
    latencies = [n for n in head if ":latency_" in n]
    counts = [n for n in head if ":count_" in n]
    for name in scores[:30]:
        head[name] -= 0.05  # beyond max_regression: fail
    for name in scores[30:230]:
        head[name] += 0.01  # improved
    for name in latencies[:20]:
        head[name] *= 1.5  # beyond 10 %: warn
    for name in counts[:300]:
        head[name] += 1  # changed, no rule
    return base, head, files


def compare_and_render(
    base: dict[str, Any], head: dict[str, Any], files: set[str], cfg: config.Config
) -> tuple[Result, str]:
    """What `mlci ci` does after reading the files: compare, gate, render the comment."""
    deltas = compare.compare_metrics(base, head, files, cfg.metrics)
    reasons = gate.order(gate.metric_reasons(deltas))
    result = Result(
        context=Context(
            repo="acme/model",
            event="pull_request",
            pr=7,
            base=Revision("main", "a" * 40),
            head=Revision("feature", "b" * 40),
        ),
        verdict=gate.verdict(reasons),
        reasons=tuple(reasons),
        metrics=tuple(deltas),
    )
    return result, publish.comment_body(result, ReportText(cfg.report.status_context))


def parsed_config() -> config.Config:
    return config.parse(CONFIG)
