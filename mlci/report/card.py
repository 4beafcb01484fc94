"""The model card in Markdown: a pure function of a :class:`~mlci.model.card.ModelCard`.

The text comes from the template ``model_card.md.j2`` (shipped in the wheel; a
repository may override it in ``.mlci/templates/``, as the report). The
template sees plain data only; every value that comes from the repository
(paths, names, params, package names) is escaped by the ``code``/``text``
filters, because the card is shown as Markdown by MLflow's UI and GitHub.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlci.model import fmt
from mlci.model.card import ModelCard
from mlci.model.config import MetricRule
from mlci.model.result import gravity
from mlci.report import data as report_data
from mlci.report import templating
from mlci.report import view as report_view

TEMPLATE = "model_card.md.j2"


def _short(sha: str | None) -> str | None:
    return sha[:12] if sha else None


def _rule_line(rule: dict[str, Any]) -> dict[str, str]:
    try:
        text = MetricRule(**rule).describe()
    except (TypeError, ValueError):  # a rule shape this version does not know
        text = ""
    return {"name": str(rule.get("name", "")), "text": text, "severity": str(rule.get("severity"))}


def _size(size: int | None) -> str:
    if size is None:
        return "—"
    step = 1024.0
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < step or unit == "GiB":
            return f"{size:,} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= step
    return f"{size:,} B"  # pragma: no cover - the loop always returns


def view(card: ModelCard, max_rows: int | None = None) -> dict[str, Any]:
    """Everything the template shows, as plain values; ``max_rows`` caps each long table."""

    def cap(rows: list[Any]) -> tuple[list[Any], int]:
        if max_rows is None or len(rows) <= max_rows:
            return rows, 0
        return rows[:max_rows], len(rows) - max_rows

    result = card.result
    ctx = result.context
    challenge = [report_view.metric_row(m) for m in card.challenge]
    # without a champion, the candidate's own values with the rules that judged them at the gate
    metrics = [] if challenge else [report_view.metric_row(m) for m in result.metrics]
    challenge.sort(key=lambda r: -gravity(r.outcome))  # failures first, as the report sorts
    challenge, challenge_cut = cap(challenge)
    metrics, metrics_cut = cap(metrics)
    locked = [
        {
            "stage": p.stage,
            "kind": p.kind,
            "path": p.path,
            "hash": p.hash or "—",
            "hash_name": p.hash_name or "",
            "size": _size(p.size),
            "nfiles": p.nfiles,
        }
        for p in card.locked
    ]
    locked, locked_cut = cap(locked)
    params = [
        {"name": p.name, "value": fmt.number(p.head) if fmt.is_number(p.head) else str(p.head)}
        for p in result.params
        if p.head is not None
    ]
    params, params_cut = cap(params)
    packages, packages_cut = cap(list(card.packages))
    data = report_data.data_files(result)
    champion = card.champion
    return {
        "model_name": card.model_name,
        "version": card.version,
        "alias": card.alias,
        "environment": card.environment,
        "deployed": card.deployed,
        "live": card.live,
        "rolled_back": card.rolled_back,
        "commit": ctx.head.sha,
        "short_commit": _short(ctx.head.sha),
        "branch": ctx.head.ref,
        "repo": ctx.repo,
        "uncommitted": ctx.head_uncommitted,
        "base_ref": ctx.base.ref,
        "base_short": _short(ctx.base.sha),
        "headline": report_view.headline(result),
        "verdict": result.verdict,
        "gate_failures": [r.message for r in result.reasons if r.severity == "fail"],
        "champion": (
            {"version": champion.version, "short": _short(champion.sha) or ""} if champion else None
        ),
        "challenge": challenge,
        "challenge_cut": challenge_cut,
        "challenge_note": (
            card.challenge_note[:1].upper() + card.challenge_note[1:]
            if card.challenge_note
            else None
        ),
        "metrics": metrics,
        "metrics_cut": metrics_cut,
        "rules": [_rule_line(r) for r in card.rules],
        "lock_file": card.lock_file,
        "locked": locked,
        "locked_cut": locked_cut,
        "params": params,
        "params_cut": params_cut,
        "data_files": data,
        "data_summary": report_data.data_summary(data) if data else "",
        "package_files": list(card.package_files),
        "packages": packages,
        "packages_cut": packages_cut,
        "model_path": card.model_path,
        "model_sha256": card.model_sha256,
        "deployed_by": card.deployed_by,
        "made_at": card.made_at,
        "run_url": report_view.safe_url(ctx.run_url),
        "mlflow_run_id": card.mlflow_run_id,
        "mlflow_run_url": report_view.safe_url(card.mlflow_run_url),
        "model_url": report_view.safe_url(card.model_url),
        "tool_version": card.tool_version or result.tool_version,
        "icons": dict(fmt.ICONS),
    }


def markdown(card: ModelCard, *, root: Path | None = None, max_rows: int | None = None) -> str:
    """The card as Markdown (``root``: the repository, for a template override)."""
    env = templating.markdown_environment(root)
    body = templating.render_template(env, TEMPLATE, **view(card, max_rows))
    return body.rstrip() + "\n"


def markdown_within(card: ModelCard, limit: int, *, root: Path | None = None) -> str:
    """The card in at most ``limit`` characters: long tables are cut first, and say so.

    MLflow keeps a version's description in a column of 5,000 characters; the
    whole card is the run's ``model_card.md`` artifact.
    """
    body = markdown(card, root=root)
    rows = max(
        len(card.locked), len(card.packages), len(card.result.params), len(card.challenge), 1
    )
    while len(body) > limit and rows > 1:
        rows //= 2
        body = markdown(card, root=root, max_rows=rows)
    if len(body) <= limit:
        return body
    note = "\n\n… (cut to fit; the whole card is the deploy run's model_card.md)\n"
    return body[: limit - len(note)].rsplit("\n", 1)[0] + note
