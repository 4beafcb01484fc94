"""``mlci ci``: the check inside GitHub Actions, then publishing.

``mlci ci`` builds the context once from the Actions environment, works out
base and head from the event, runs the same check as ``mlci check``, writes
the result, report, job summary and outputs (always, first), then publishes
comment, status and check run. Its second, trusted half for pull requests from
forks is ``mlci publish`` (:mod:`mlci.commands.publish`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci.adapters import git
from mlci.commands import common
from mlci.engine import project
from mlci.engine.check import CheckOptions, run_check
from mlci.forge.github import actions
from mlci.forge.github.actions import UNTRUSTED_EVENTS, ActionsContext, Log
from mlci.model.config import Config
from mlci.model.errors import ConfigError, RunError
from mlci.model.result import Context, Result

FORK_SAFE_HINT = (
    "it holds a write token on the base's code, so mlci will not reproduce, validate or read files "
    "from the pull request's head there. Use the fork-safe pair instead: `mlci ci --no-publish` on "
    "`pull_request` (uploading mlci-result.json), then `mlci publish` on `workflow_run` "
    "(see examples/workflows/)"
)


@dataclass(frozen=True)
class CiOptions:
    check: CheckOptions
    publish: bool = True
    output: str | None = None
    report: str | None = None
    fmt: str = "text"
    github_token: str | None = None
    html: str | None = None  # the HTML report; in Actions it is written by default, for upload


def options(
    *,
    config_path: str | None = None,
    base: str | None = None,
    head: str | None = None,
    repro: bool | None = None,
    verbose: bool = False,
    **kw: Any,
) -> CiOptions:
    """The options of ``mlci ci`` and ``mlci publish`` from the command line's values."""
    check = CheckOptions(
        config_path=config_path, base=base, head=head, repro=repro, verbose=verbose
    )
    return CiOptions(check=check, **kw)


def _ensure_commit(sha: str, root: Path, log: Log) -> None:
    """The base commit is often missing from a shallow PR checkout: fetch it, don't fail."""
    if git.resolve(sha, root):
        return
    shallow = git.output(["rev-parse", "--is-shallow-repository"], root) == "true"
    log.info(
        f"mlci: fetching base commit {sha[:7]} (not in this {'shallow ' if shallow else ''}checkout)"
    )
    if not git.fetch("origin", sha, root, depth=1 if shallow else None):
        raise RunError(
            f"the base commit {sha[:7]} is not in the checkout and `git fetch origin {sha[:7]}` failed; "
            "use actions/checkout with fetch-depth: 0"
        )


def _write_local(
    result: Result, cfg: Config, ctx: ActionsContext, opts: CiOptions, root: Path, log: Log
) -> tuple[Path, Path, str]:
    """Result file, report file and job summary: written before any network call."""
    out_dir = actions.default_dir(ctx, git.common_dir(root))
    result_path = Path(opts.output) if opts.output else out_dir / "mlci-result.json"
    report_path = Path(opts.report) if opts.report else out_dir / "mlci-report.md"
    markdown = common.write_reports(result, cfg, root, output=result_path, report=report_path)
    assert markdown is not None  # a report path was given
    actions.append_summary(ctx.step_summary, markdown)
    for reason in result.reasons:
        level = "error" if reason.severity == "fail" else "warning"
        log.annotate(
            level,
            reason.message,
            file=reason.file,
            line=reason.line,
            title=f"mlci: {reason.section}",
        )
    return result_path, report_path, markdown


def _write_artifacts(
    result: Result, ctx: ActionsContext, opts: CiOptions, root: Path, out_dir: Path
) -> tuple[Path | None, Path | None]:
    """The HTML report and the head's image plots, for the workflow to upload as artifacts."""
    from mlci.engine import plots

    html_path = (
        Path(opts.html) if opts.html else (out_dir / "mlci-report.html" if ctx.in_actions else None)
    )
    common.write_reports(result, None, root, html=html_path)
    plots_dir = None
    if ctx.in_actions and any(p.kind == "image" and p.path for p in result.plots):
        plots_dir = plots.copy_images(result.plots, root, out_dir / "mlci-plots")
    return html_path, plots_dir


def apply_label_override(
    result: Result, cfg: Config, labels: tuple[str, ...], client: Any, pr: int | None, log: Log
) -> Result:
    """With ``gate.override_label`` on the PR, failures become warnings; the report says who."""
    label = cfg.gate.override_label
    if not label or label not in labels or result.verdict != "fail":
        return result
    from mlci.engine import gate
    from mlci.forge.github.api import PublishError

    by = None
    if client is not None and pr is not None:
        try:
            by = client.label_actor(pr, label)
        except PublishError as exc:
            log.warning(f"cannot tell who applied the label {label}: {exc}")
    log.annotate(
        "warning",
        f"the '{label}' label is on the PR{' (applied by ' + by + ')' if by else ''}: "
        "failures are reported as warnings",
    )
    return gate.apply_override(result, {"label": label, "by": by, "reason": None, "at": None})


def run_ci(opts: CiOptions, env: Mapping[str, str] | None = None) -> int:
    run = common.start(env, token=opts.github_token)
    env, ctx, log = run.env, run.ctx, run.log
    if ctx.event_name == "issue_comment":
        return _comment_command(opts, ctx, env, log)
    if ctx.event_name in UNTRUSTED_EVENTS:
        raise ConfigError(f"`mlci ci` refuses to run on {ctx.event_name}: {FORK_SAFE_HINT}")
    found, cfg = project.load_config(opts.check.cwd, opts.check.config_path)
    root = found.root
    ev = actions.revisions(ctx)
    if ev.base_sha and not opts.check.base:
        _ensure_commit(ev.base_sha, root, log)
    fetch_history(root, log)
    repo = ctx.repository
    context = Context(repo=repo, event=ctx.event_name or "local", pr=ev.pr, run_url=ctx.run_url)
    log.group("mlci: check")
    try:
        result, cfg = run_check(
            opts.check,
            env,
            context=context,
            cfg=cfg,
            event=ev,
            host=run.host,
        )
    finally:
        log.endgroup()
    if ev.pr is not None and ev.base_sha:
        result = _flag_rule_changes(result, cfg, root, ev.base_sha)
    client = run.forge.client(ctx, env, log) if opts.publish else None
    result = _write_back(result, cfg, ctx, ev, client, root, log)
    result = apply_label_override(result, cfg, ev.labels, client, ev.pr, log)
    result = common.track(
        result, cfg, root, env, kind="ci", warn=log.warning, verbose=opts.check.verbose
    )
    result_path, report_path, _ = _write_local(result, cfg, ctx, opts, root, log)
    html_path, plots_dir = _write_artifacts(result, ctx, opts, root, result_path.parent)
    record_history(result, cfg, ctx, root, log, worktree=opts.check.head is None)
    comment_url = None
    try:
        if not opts.publish:
            log.info(f"mlci: not publishing (--no-publish); the result is in {result_path}")
        elif client is None:
            log.warning(f"{actions.NO_TOKEN}: the report is in the job summary only")
        else:
            published = run.forge.publish_result(
                result,
                cfg,
                client,
                log,
                pr=ev.pr,
                head_sha=result.context.head.sha,
                run_url=ctx.run_url,
                text=common.report_text(cfg, root),
            )
            comment_url = published.comment_url
            summarise_problems(ctx, published.problems)
    finally:
        actions.write_outputs(
            ctx.output,
            {
                "verdict": result.verdict,
                "result-path": str(result_path),
                "report-path": str(report_path),
                "comment-url": comment_url or "",
                "html-path": str(html_path or ""),
                "plots-dir": str(plots_dir or ""),
            },
        )
    common.print_result(result, cfg, opts.fmt, root, log=log)
    return common.exit_code(result)


def fetch_history(root: Path, log: Log) -> None:
    """The notes earlier runs recorded on origin: the base's history (the hook never fetches)."""
    from mlci.adapters import notes

    if git.remote_url("origin", root) is None:
        return
    try:
        notes.fetch(root)
    except RunError as exc:
        log.warning(f"cannot fetch the results history ({notes.REF}) from origin: {exc}")


def record_history(
    result: Result, cfg: Config, ctx: ActionsContext, root: Path, log: Log, *, worktree: bool
) -> None:
    """On a push to the default branch (``history.record``), note the result and push the notes."""
    if not cfg.history.record:
        return
    why_not = actions.history_refusal(ctx)
    if why_not:
        return
    from mlci.commands.record import record_and_push

    record_and_push(result, root, worktree=worktree, info=log.info)


def _write_back(
    result: Result,
    cfg: Config,
    ctx: ActionsContext,
    ev: actions.EventRevisions,
    client: Any,
    root: Path,
    log: Log,
) -> Result:
    """``repro.commit`` or ``/mlci commit``: the reproduced files go back to the PR branch.

    Done before anything is published, so that the status and the comment are for the new
    commit. Only pull requests have a branch to commit to; other events are left alone.
    """
    if ctx.event_name not in ("pull_request", "pull_request_target") or ev.pr is None:
        return result
    from mlci.forge.github.prcommands import COMMIT_LABEL

    labels = ev.labels
    if not cfg.repro.commit and client is not None and (ctx.run_attempt or "1") != "1":
        # `/mlci commit` labels the PR and re-runs this run, whose event still has the old labels
        from mlci.forge.github.api import PublishError

        try:
            labels = client.pull(ev.pr).labels
        except PublishError as exc:
            log.warning(f"cannot read the labels of #{ev.pr} (for {COMMIT_LABEL}): {exc}")
    if not cfg.repro.commit and COMMIT_LABEL not in labels:
        return result
    from mlci.engine import writeback

    why = None
    if ctx.event_name == "pull_request_target":
        why = "a pull_request_target run holds a write token on the base: mlci never commits there"
    elif fork := actions.fork_of(ctx):
        why = f"a pull request from the fork {fork}: mlci never pushes to a fork's branch"
    elif not ev.head_ref or not ev.head_sha:
        why = "the event names no head branch"
    target = writeback.PullTarget(ev.head_ref or "", ev.head_sha or "", run_url=ctx.run_url)
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


def _comment_command(opts: CiOptions, ctx: ActionsContext, env: Mapping[str, str], log: Log) -> int:
    """PR-comment commands. The checkout is the default branch: its config is trusted."""
    from mlci import forge
    from mlci.engine import gate

    try:
        _, cfg = project.load_config(opts.check.cwd, opts.check.config_path)
    except RunError:
        cfg = Config()
    host = forge.get("github")
    client = host.client(ctx, env, log) if opts.publish else None
    # the report comment is rendered with mlci's own templates: no repository override
    text = common.report_text(cfg, None)
    return host.handle_command(ctx, cfg, client, log, text, gate.apply_override)


def summarise_problems(ctx: ActionsContext, problems: list[str]) -> None:
    if problems:
        lines = "\n".join(f"- {p}" for p in problems)
        actions.append_summary(
            ctx.step_summary, f"\n> [!WARNING]\n> mlci could not publish everything:\n\n{lines}\n"
        )
