"""The trusted half of the fork-safe flow checks the uploaded result against the PR head's files.

``mlci publish`` on ``workflow_run`` receives a result that the pull request's own
run computed: that run executed the PR's code, so the file can say anything. Here
the trusted run recomputes what it can without running anything from the pull
request: the metric and param comparison, read from the files the PR head commits
(git objects, and DVC-tracked files found in the local DVC cache), judged by the
trusted checkout's rules. Where the uploaded result disagrees, the report says so
at the top, and the recomputed rows replace the uploaded ones.

Not checked, because it would mean running the PR's code or reading what it
produced: the pipeline's reproduction, data validation, plots, stage logs, and
metrics the PR head neither commits nor has in the local DVC cache.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.adapters import git
from mlci.engine import collect, compare, gate, history
from mlci.model import fmt
from mlci.model.config import Config
from mlci.model.result import MetricDelta, ParamDelta, Reason, Result

SECTION = "verification"
_LISTED = 5  # differences quoted in the reason; the rest are counted


@dataclass
class Verification:
    """What the trusted run found at the PR head, and how the uploaded result compares."""

    metrics: list[MetricDelta] = field(default_factory=list)
    params: list[ParamDelta] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    unverified: list[str] = field(
        default_factory=list
    )  # uploaded rows the trusted run could not read
    problem: str | None = None  # nothing could be checked, and why


def ensure_commit(sha: str, root: Path, info: Callable[[str], None]) -> bool:
    """The commit is in the clone, fetched from origin if need be (a fork's head is served by the base)."""
    if git.resolve(sha, root):
        return True
    shallow = git.output(["rev-parse", "--is-shallow-repository"], root) == "true"
    info(f"mlci: fetching {sha[:7]} to check the uploaded result against it")
    return git.fetch("origin", sha, root, depth=1 if shallow else None) and bool(
        git.resolve(sha, root)
    )


def _text(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return fmt.clip(text, 40)


def _same(a: Any, b: Any) -> bool:
    if fmt.is_number(a) and fmt.is_number(b):
        return compare.close(float(a), float(b))
    return bool(a == b)


def _recorded(root: Path, base_sha: str, depth: int) -> history.History:
    from mlci.adapters.notes import NotesError

    try:
        return history.read(root, base_sha, depth)
    except NotesError:
        return history.History()  # auto limits fall back, and say so


def recompute(
    result: Result,
    cfg: Config,
    root: Path,
    base_sha: str,
    head_sha: str,
    info: Callable[[str], None],
) -> Verification:
    """Read the base and the PR head from git (no checkout, no pipeline) and compare with ``result``."""
    for sha in (base_sha, head_sha):
        if not ensure_commit(sha, root, info):
            return Verification(
                problem=f"commit {sha[:7]} is not in the checkout and could not be fetched "
                "from origin (use actions/checkout with fetch-depth: 0)"
            )
    try:
        snaps = collect.collect(root, [base_sha, head_sha], cfg.metrics.files)
    except Exception as exc:  # noqa: BLE001 - a DVC project the trusted run cannot read
        return Verification(problem=f"the committed files could not be read: {exc}")
    base, head = snaps[base_sha], snaps[head_sha]
    # auto limits come from the base's recorded history, read here too (never from the upload)
    recorded = _recorded(root, base_sha, cfg.history.depth)
    spreads = history.spreads(
        recorded, cfg.history.min_points, history.branch_name(result.context.base.ref)
    )
    metrics = history.attach(
        compare.compare_metrics(
            base.metrics, head.metrics, base.metric_files, cfg.metrics, spreads
        ),
        recorded,
    )
    if recorded.commits:  # the trends and the nondeterminism flag, as a plain run shows them
        inputs = history.head_inputs(root, head_sha, worktree=False)
        metrics, _ = history.flag_nondeterministic(metrics, recorded, inputs, head_sha)
    out = Verification(metrics=metrics, params=compare.compare_params(base.params, head.params))
    uploaded = {m.name: m for m in result.metrics}
    mine = {m.name: m for m in out.metrics}
    for name, m in mine.items():
        u = uploaded.get(name)
        if u is None:
            if m.head is not None:
                out.differences.append(
                    f"{name} is missing from the uploaded result (committed: {_text(m.head)})"
                )
        elif not _same(u.head, m.head):
            # only the head: the base may rightly differ (the base branch moved since that run)
            out.differences.append(f"{name}: uploaded {_text(u.head)}, committed {_text(m.head)}")
    read_files = head.metric_files
    for name in uploaded:
        if name in mine:
            continue
        if name.split(":", 1)[0] in read_files:
            out.differences.append(
                f"{name} is in the uploaded result but not in the committed files"
            )
        else:
            out.unverified.append(name)
    uploaded_params = {p.name: p for p in result.params}
    mine_params = {p.name: p for p in out.params}
    param_files = {name.split(":", 1)[0] for name in mine_params}
    for name, p in mine_params.items():
        up = uploaded_params.get(name)
        if up is None:
            if p.head is not None:
                out.differences.append(f"param {name} is missing from the uploaded result")
        elif not _same(up.head, p.head):
            out.differences.append(
                f"param {name}: uploaded {_text(up.head)}, committed {_text(p.head)}"
            )
    for name in uploaded_params:
        if name not in mine_params:
            if name.split(":", 1)[0] in param_files:
                out.differences.append(
                    f"param {name} is in the uploaded result but not in the committed files"
                )
            else:
                out.unverified.append(name)
    return out


def apply(result: Result, found: Verification, cfg: Config, root: Path, head_sha: str) -> Result:
    """The result to publish: recomputed rows, trusted metric reasons, and what disagreed, on top."""
    if found.problem is not None:
        reason = Reason(
            SECTION,
            "fail",
            f"mlci could not check the uploaded result against the pull "
            f"request's committed files: {found.problem}",
        )
        reasons = gate.order([reason, *result.reasons])
        return dataclasses.replace(result, reasons=tuple(reasons), verdict=gate.verdict(reasons))
    new: list[Reason] = []
    if found.differences:
        listed = "; ".join(found.differences[:_LISTED])
        more = len(found.differences) - _LISTED
        new.append(
            Reason(
                SECTION,
                "fail",
                (
                    f"the uploaded result disagrees with the files the pull request commits at {head_sha[:7]} "
                    f"({len(found.differences)} difference{'s' if len(found.differences) != 1 else ''}): {listed}"
                    + (f"; and {more} more" if more > 0 else "")
                    + ". The metrics and params shown are recomputed from the committed files."
                ),
            )
        )
    trusted = gate.metric_reasons(found.metrics, cfg.repo_path(root) if cfg.path else None)
    seen = {(r.section, r.severity, r.message) for r in result.reasons}
    new += [r for r in trusted if (r.section, r.severity, r.message) not in seen]
    reasons = gate.order([*new, *result.reasons])
    kept_metrics = [m for m in result.metrics if m.name in set(found.unverified)]
    kept_params = [p for p in result.params if p.name in set(found.unverified)]
    note = (
        f"mlci publish recomputed the metric and param comparison from the committed files of "
        f"{head_sha[:7]} without running anything from the pull request"
    )
    if found.unverified:
        names = ", ".join(found.unverified[:10]) + (" …" if len(found.unverified) > 10 else "")
        note += (
            f"; {len(found.unverified)} uploaded row(s) could not be checked (not in git and not in "
            f"this runner's DVC cache) and are shown as uploaded: {names}"
        )
    return dataclasses.replace(
        result,
        reasons=tuple(reasons),
        verdict=gate.verdict(reasons),
        metrics=(*found.metrics, *kept_metrics),
        params=(*found.params, *kept_params),
        notes=(*result.notes, note),
    )
