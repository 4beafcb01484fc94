"""``mlci ci``: the check inside a code host's CI (GitHub Actions today), then publishing.

``mlci ci`` reads what started the run once (:class:`~mlci.model.run.HostEvent`,
from the forge), works out base and head from it, runs the same check as
``mlci check``, writes the result, report, job summary and outputs (always,
first), then publishes comment, status and check run. Its second, trusted half
for pull requests from forks is ``mlci publish`` (:mod:`mlci.commands.publish`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlci.adapters import git
from mlci.commands import common
from mlci.engine import project
from mlci.forge import COMMIT_LABEL, PublishError
from mlci.model.config import Config
from mlci.model.errors import ConfigError, RunError
from mlci.model.result import Context, Result
from mlci.model.run import HostEvent, Log


def _write_artifacts(
    result: Result, event: HostEvent, opts: common.CiOptions, root: Path, out_dir: Path
) -> tuple[Path | None, Path | None]:
    """The HTML report and the head's image plots, for the workflow to upload as artifacts."""
    from mlci.engine import plots

    html_path = (
        Path(opts.html) if opts.html else (out_dir / "mlci-report.html" if event.in_ci else None)
    )
    common.write_reports(result, None, root, html=html_path)
    plots_dir = None
    if event.in_ci and any(p.kind == "image" and p.path for p in result.plots):
        plots_dir = plots.copy_images(result.plots, root, out_dir / "mlci-plots")
    return html_path, plots_dir


def run_ci(opts: common.CiOptions, env: Mapping[str, str] | None = None) -> int:
    run = common.start(env, token=opts.github_token)
    env, log, event = run.env, run.log, run.event
    ev = event.revisions
    if event.comment:
        return _comment_command(opts, run)
    if event.no_ci:
        raise ConfigError(event.no_ci)
    found, cfg = project.load_config(opts.check.cwd, opts.check.config_path)
    root = found.root
    context = Context(
        repo=event.repository, event=event.name or "local", pr=ev.pr, run_url=event.run_url
    )
    result, cfg = common.check_in_ci(
        run, opts.check, cfg, root, title="mlci: check", context=context, event=ev
    )
    if ev.pr is not None and ev.base_sha:
        result = _flag_rule_changes(result, cfg, root, ev.base_sha)
    client = run.forge.client(run.ctx, env, log) if opts.publish else None
    result = _write_back(result, cfg, event, client, root, log)
    result = common.apply_label_override(result, cfg, ev.labels, client, ev.pr, log)
    result = common.track(
        result, cfg, root, env, kind="ci", warn=log.warning, verbose=opts.check.verbose
    )
    result_path, report_path = common.write_ci_files(
        run, result, cfg, root, output=opts.output, report=opts.report
    )
    html_path, plots_dir = _write_artifacts(result, event, opts, root, result_path.parent)
    common.record_history(run, result, cfg, root, worktree=opts.check.head is None)
    common.publish(
        run,
        result,
        cfg,
        client,
        pr=ev.pr,
        head_sha=result.context.head.sha,
        run_url=event.run_url,
        root=root,
        files={"result-path": str(result_path), "report-path": str(report_path)},
        artifacts={"html-path": str(html_path or ""), "plots-dir": str(plots_dir or "")},
        not_publishing=(
            None
            if opts.publish
            else f"mlci: not publishing (--no-publish); the result is in {result_path}"
        ),
        without_token="the report is in the job summary only",
    )
    common.print_result(result, cfg, opts.fmt, root, log=log)
    return common.exit_code(result)


def _write_back(
    result: Result, cfg: Config, event: HostEvent, client: Any, root: Path, log: Log
) -> Result:
    """``repro.commit`` or ``/mlci commit``: the reproduced files go back to the PR branch.

    Done before anything is published, so that the status and the comment are for the new
    commit. Only pull requests have a branch to commit to; other events are left alone.
    """
    ev = event.revisions
    if not event.pull_request or ev.pr is None:
        return result
    labels = ev.labels
    if not cfg.repro.commit and client is not None and event.rerun:
        # `/mlci commit` labels the PR and re-runs this run, whose event still has the old labels
        try:
            labels = client.pull(ev.pr).labels
        except PublishError as exc:
            log.warning(f"cannot read the labels of #{ev.pr} (for {COMMIT_LABEL}): {exc}")
    if not cfg.repro.commit and COMMIT_LABEL not in labels:
        return result
    from mlci.engine import writeback

    why = event.no_writeback
    if why is None and not cfg.repro.commit:
        # the label asks for it: only when a person with write access applied it last
        honoured, _, ignored = common.label_may_act(client, ev.pr, COMMIT_LABEL, log)
        if not honoured:
            why = ignored
    if why is None and (not ev.head_ref or not ev.head_sha):
        why = "the event names no head branch"
    target = writeback.PullTarget(ev.head_ref or "", ev.head_sha or "", run_url=event.run_url)
    result = writeback.to_pull_request(root, result, cfg, target, refused=why)
    wb = result.writeback
    if wb is not None:
        if wb.status in ("pushed", "nothing"):
            log.info(f"mlci: write-back: {wb.message}")
        else:
            log.warning(f"write-back: {wb.message}", title="mlci: write-back")
    return result


def _flag_rule_changes(result: Result, cfg: Config, root: Path, base_sha: str) -> Result:
    """A PR that edits mlci.yaml is judged by its own rules: say so where the reviewer looks."""
    from mlci.engine import gate
    from mlci.model.result import Reason

    path = cfg.repo_path(root) if cfg.path else "mlci.yaml"
    if path is None or git.same_as(base_sha, path, root):
        return result
    shown = f"{cfg.project}/{path}" if cfg.project else path  # as GitHub names it
    reason = Reason(
        "config",
        "warn",
        f"this pull request changes {shown}: the rules that judged it are "
        "its own, not the base branch's; review that change",
        file=shown,
        line=1,
    )
    reasons = tuple(gate.order([*result.reasons, reason]))
    return dataclasses.replace(result, reasons=reasons, verdict=gate.verdict(reasons))


def _comment_command(opts: common.CiOptions, run: common.Start) -> int:
    """PR-comment commands. The checkout is the default branch: its config is trusted."""
    from mlci.engine import gate

    try:
        _, cfg = project.load_config(opts.check.cwd, opts.check.config_path)
    except RunError:
        cfg = Config()
    client = run.forge.client(run.ctx, run.env, run.log) if opts.publish else None
    # the report comment is rendered with mlci's own templates: no repository override
    text = common.report_text(cfg, None)
    code: int = run.forge.handle_command(run.ctx, cfg, client, run.log, text, gate.apply_override)
    return code
