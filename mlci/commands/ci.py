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
from mlci.forge import ADOPT_LABEL, COMMIT_LABEL, SWEEP_LABEL, PublishError
from mlci.model.config import Config
from mlci.model.errors import ConfigError, RunError
from mlci.model.paths import join_path
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
    client = run.forge.client(run.ctx, env, log) if opts.publish else None
    # labels and comments are read even when another job publishes (`/mlci sweep`, `adopt`)
    reader = client or (
        run.forge.client(run.ctx, env, log) if event.pull_request and event.has_token else None
    )
    labels = _labels(event, cfg, reader, log)
    adopted = _adopt(run, cfg, reader, root, labels) if ADOPT_LABEL in labels else ()
    result, cfg = common.check_in_ci(
        run, opts.check, cfg, root, title="mlci: check", context=context, event=ev
    )
    if ev.pr is not None and ev.base_sha:
        result = _flag_rule_changes(result, cfg, root, ev.base_sha)
    if SWEEP_LABEL in labels and not adopted:
        result = _sweep(run, opts, result, cfg, reader, root, context)
    result = _write_back(result, cfg, event, labels, root, log, client=reader, also=adopted)
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


def _labels(event: HostEvent, cfg: Config, client: Any, log: Log) -> tuple[str, ...]:
    """The pull request's labels: read again on a re-run, since `/mlci commit`, `sweep` and
    `adopt` label the PR and re-run this run, whose event still has the old labels."""
    ev = event.revisions
    labels = ev.labels
    if not event.pull_request or ev.pr is None:
        return labels
    if client is not None and event.rerun:
        try:
            labels = client.pull(ev.pr).labels
        except PublishError as exc:
            log.warning(f"cannot read the labels of #{ev.pr} (for {COMMIT_LABEL}): {exc}")
    return tuple(labels)


def _write_back(
    result: Result,
    cfg: Config,
    event: HostEvent,
    labels: tuple[str, ...],
    root: Path,
    log: Log,
    *,
    client: Any,
    also: tuple[str, ...] = (),
) -> Result:
    """``repro.commit``, ``/mlci commit`` or ``/mlci adopt``: the reproduced files (and the
    params an adopt set, ``also``) go back to the PR branch.

    Done before anything is published, so that the status and the comment are for the new
    commit. Only pull requests have a branch to commit to; other events are left alone.
    """
    ev = event.revisions
    if not event.pull_request or ev.pr is None:
        return result
    if not cfg.repro.commit and COMMIT_LABEL not in labels and not also:
        return result
    from mlci.engine import writeback

    why = event.no_writeback
    if why is None and not cfg.repro.commit and not also:
        # the label asks for it: only when a person with write access applied it last
        honoured, _, ignored = common.label_may_act(client, ev.pr, COMMIT_LABEL, log)
        if not honoured:
            why = ignored
    if why is None and (not ev.head_ref or not ev.head_sha):
        why = "the event names no head branch"
    target = writeback.PullTarget(ev.head_ref or "", ev.head_sha or "", run_url=event.run_url)
    result = writeback.to_pull_request(root, result, cfg, target, refused=why, also=also)
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
    shown = join_path(cfg.project or "", path)  # as GitHub names it
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


# --- /mlci sweep and /mlci adopt: this pull_request run does what the comment asked ------


def _sweep(
    run: common.Start,
    opts: common.CiOptions,
    result: Result,
    cfg: Config,
    client: Any,
    root: Path,
    context: Context,
) -> Result:
    """The ``mlci:sweep`` label: the latest writer's ``/mlci sweep`` grid, run on this head."""
    from mlci.engine import sweep

    ev = run.event.revisions
    request = run.forge.latest_request(client, ev.pr, "sweep") if client and ev.pr else None
    if request is None:
        run.log.warning(f"the {SWEEP_LABEL} label is on, but no writer asked `/mlci sweep ...`")
        return result
    author, grid = request
    run.log.info(f"mlci: /mlci sweep {grid} (asked by @{author})")
    run.log.group("mlci: sweep")
    try:
        return sweep.with_experiments(
            result, cfg, root, grid.split(), opts.check, run.env, event=ev, context=context,
            say=run.log.info,
        )  # fmt: skip
    except ConfigError as exc:  # the grid: too large, malformed
        return dataclasses.replace(result, notes=(*result.notes, f"the sweep did not run: {exc}"))
    finally:
        run.log.endgroup()


def _adopt(
    run: common.Start, cfg: Config, client: Any, root: Path, labels: tuple[str, ...]
) -> tuple[str, ...]:
    """The ``mlci:adopt`` label on the re-run `/mlci adopt` started: set the named
    experiment's params in the work tree (the check then reproduces and writes them back).

    Only on a re-run: a later push must not set the params again over the author's changes.
    Returns the params files set (repository paths relative to the project), or ().
    """
    from mlci.adapters import dvc
    from mlci.engine import sweep

    event, log = run.event, run.log
    ev = event.revisions
    if not event.rerun or client is None or ev.pr is None:
        return ()
    asked = run.forge.latest_request(client, ev.pr, "adopt")
    grid = run.forge.latest_request(client, ev.pr, "sweep")
    if asked is None or grid is None:
        log.warning(
            f"the {ADOPT_LABEL} label is on, but no writer asked `/mlci adopt` after a sweep"
        )
        return ()
    name = asked[1].strip()
    try:
        items = sweep.params_of(grid[1].split(), name, cfg.sweep.max_experiments)
        files = dvc.set_params(root, items)
    except (ConfigError, dvc.DvcError) as exc:
        log.warning(f"/mlci adopt {name}: {exc}", title="mlci: adopt")
        return ()
    log.info(f"mlci: adopting {name} (asked by @{asked[0]}): {' '.join(items)}")
    return tuple(files)
