"""``mlci ci`` and ``mlci publish``: the check inside GitHub Actions, then publishing.

``mlci ci`` builds the context once from the Actions environment, works out
base and head from the event, runs the same check as ``mlci check``, writes
the result, report, job summary and outputs (always, first), then publishes
comment, status and check run. ``mlci publish RESULT.json`` is the second,
trusted half of the fork-safe flow: it publishes a result computed elsewhere
and runs no code from the pull request.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci.adapters import git
from mlci.configfile import load
from mlci.engine import project
from mlci.engine.check import CheckOptions, EventRevs, run_check
from mlci.forge.github import actions
from mlci.forge.github.actions import ActionsContext, Log
from mlci.model.config import Config
from mlci.model.errors import EXIT_FAIL, EXIT_PASS, ConfigError, RunError
from mlci.model.result import Context, Result
from mlci.report import render

UNTRUSTED_EVENTS = ("pull_request_target", "issue_comment", "workflow_run")

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


def client_options(env: Mapping[str, str]) -> Any:
    """Retry and pacing knobs; the defaults suit github.com (tests turn the pauses off)."""
    from mlci.forge.github.api import ClientOptions

    def number(name: str, default: float) -> float:
        try:
            return float(env.get(name, default))
        except ValueError as exc:
            raise ConfigError(f"{name} must be a number, got {env.get(name)!r}") from exc

    return ClientOptions(
        timeout=number("MLCI_GITHUB_TIMEOUT", 15.0),
        retries=int(number("MLCI_GITHUB_RETRIES", 4)),
        backoff=number("MLCI_GITHUB_BACKOFF", 1.0),
        write_interval=number("MLCI_GITHUB_WRITE_INTERVAL", 1.0),
    )


def _client(ctx: ActionsContext, env: Mapping[str, str], log: Log | None = None) -> Any:
    """A GitHub client, or None (with a warning) when the run has no token or no repository.

    Publishing is never a reason to lose the result: the caller writes it either way.
    """
    from mlci.forge.github.api import GitHub

    if not ctx.token:
        return None
    if not ctx.repository or "/" not in ctx.repository:
        if log is not None:
            log.warning("GITHUB_REPOSITORY (owner/name) is not set: nothing is published")
        return None
    return GitHub(ctx.token, ctx.repository, ctx.api_url, client_options(env))


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
    result_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    result_path.write_text(result.to_json(), encoding="utf-8")
    markdown = render.markdown(result, status_context=cfg.report.status_context, root=root)
    report_path.write_text(markdown, encoding="utf-8")
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
    from mlci.report import html

    html_path = (
        Path(opts.html) if opts.html else (out_dir / "mlci-report.html" if ctx.in_actions else None)
    )
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(html.html(result, root=root), encoding="utf-8")
    plots_dir = None
    if ctx.in_actions and any(p.kind == "image" and p.path for p in result.plots):
        plots_dir = plots.copy_images(result.plots, root, out_dir / "mlci-plots")
    return html_path, plots_dir


def _print(
    result: Result, cfg: Config, fmt_name: str, root: Path | None, *, in_actions: bool = False
) -> None:
    """The report on stdout; in Actions, with workflow commands off (it holds PR text)."""
    import secrets

    import click

    token = secrets.token_hex(16)
    guard = (
        in_actions and fmt_name != "json"
    )  # JSON never starts a line with "::" and must stay pure
    if guard:
        click.echo(f"::stop-commands::{token}")
    try:
        _print_report(result, cfg, fmt_name, root)
    finally:
        if guard:
            click.echo(f"::{token}::")


def _print_report(result: Result, cfg: Config, fmt_name: str, root: Path | None) -> None:
    import click

    click.echo(
        render.for_stdout(result, fmt_name, status_context=cfg.report.status_context, root=root),
        nl=False,
    )


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
    env = os.environ if env is None else env
    ctx = actions.from_env(env, token=opts.github_token)
    log = Log(ctx.in_actions)
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
            event=EventRevs(ev.base_sha, ev.base_ref, ev.head_sha, ev.head_ref),
        )
    finally:
        log.endgroup()
    if ev.pr is not None and ev.base_sha:
        result = _flag_rule_changes(result, cfg, root, ev.base_sha)
    client = _client(ctx, env, log) if opts.publish else None
    result = _write_back(result, cfg, ctx, ev, client, root, log)
    result = apply_label_override(result, cfg, ev.labels, client, ev.pr, log)
    from mlci.adapters import mlflow

    result = mlflow.track(
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
            log.warning(
                "no GitHub token (GITHUB_TOKEN or --github-token): the report is in the job summary "
                "only"
            )
        else:
            from mlci.forge.github.publish import publish

            published = publish(
                result,
                cfg,
                client,
                log,
                pr=ev.pr,
                head_sha=result.context.head.sha,
                run_url=ctx.run_url,
                root=root,
            )
            comment_url = published.comment_url
            _summarise_problems(ctx, published.problems)
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
    _print(result, cfg, opts.fmt, root, in_actions=ctx.in_actions)
    return EXIT_FAIL if result.verdict == "fail" else EXIT_PASS


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
    from mlci.forge.github import prcommands as commands

    try:
        found, cfg = project.load_config(opts.check.cwd, opts.check.config_path)
        root: Path | None = found.root
    except RunError:
        root, cfg = None, Config()
    client = _client(ctx, env, log) if opts.publish else None
    return commands.handle(ctx, cfg, client, log, root)


def _summarise_problems(ctx: ActionsContext, problems: list[str]) -> None:
    if problems:
        lines = "\n".join(f"- {p}" for p in problems)
        actions.append_summary(
            ctx.step_summary, f"\n> [!WARNING]\n> mlci could not publish everything:\n\n{lines}\n"
        )


# --- mlci publish -------------------------------------------------------------------


def load_result(path: str) -> Result:
    from mlci.model.result import validate

    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError("result file not found", file=path) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not a JSON result file: {exc}", file=path) from exc
    except RecursionError as exc:  # json recurses per level: 100,000 nested lists end here
        raise ConfigError("not a result mlci can read: nested too deeply", file=path) from exc
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ConfigError(f"not a result mlci can read: {exc}", file=path) from exc
    try:
        validate(doc)
    except Exception as exc:  # jsonschema.ValidationError
        where = "/".join(str(p) for p in getattr(exc, "absolute_path", ())) or "(root)"
        raise ConfigError(
            f"not a valid mlci result at {where}: {getattr(exc, 'message', exc)}", file=path
        ) from exc
    try:
        return Result.from_dict(doc)
    except (TypeError, ValueError, KeyError) as exc:  # valid JSON Schema, but not a shape mlci made
        raise ConfigError(f"not a result mlci can read: {exc}", file=path) from exc


def _refuse_inside_checkout(result_file: str, root: Path | None) -> None:
    """A result unpacked into the trusted checkout brought neighbours that pose as its files.

    An artifact is a folder chosen by the untrusted run: unpacked into the checkout,
    its ``mlci.yaml`` (say, ``report.status_context: security/scan``) or templates
    replace the trusted ones. mlci's own default output, under ``.git/mlci``, is
    not something an artifact can write, and stays allowed.
    """
    if root is None:
        return
    path = Path(result_file).resolve()
    own = (git.common_dir(root) / "mlci").resolve()
    if path.is_relative_to(root.resolve()) and not path.is_relative_to(own):
        raise ConfigError(
            "the result file lies inside the checkout, where the files unpacked with it would pose as "
            "this repository's own (mlci.yaml, templates). Download the artifact outside the checkout, "
            "e.g. `path: ${{ runner.temp }}/mlci-artifact` in actions/download-artifact, and pass "
            "that file",
            file=result_file,
        )


@dataclass(frozen=True)
class PublishTarget:
    """Where a result is published, from the trusted event (never from the result file)."""

    pr: int | None
    head_sha: str | None
    base_sha: str | None = None  # the PR's base, when the event or the API names it


_PR_EVENTS = ("pull_request", "pull_request_target")


def _trusted_target(ctx: ActionsContext, result: Result, client: Any) -> PublishTarget:
    """PR number and head sha to publish on, taken from the trusted event, not from the result.

    In a workflow_run job the result file was produced by an untrusted run: it may
    only be published on the commit that run was for. Under a pull_request event the
    PR and head are the event's; under any other event in Actions there is no PR, and
    the commit is the run's own. Only outside Actions (a person with a token) does
    the file say where it goes.
    """
    claimed_pr, claimed_head = result.context.pr, result.context.head.sha
    if ctx.event_name in _PR_EVENTS:
        ev = actions.revisions(ctx)
        if claimed_head != ev.head_sha:
            raise ConfigError(
                f"the result is for commit {(claimed_head or 'unknown')[:7]} but this {ctx.event_name} run "
                f"is for {(ev.head_sha or 'unknown')[:7]}: refusing to publish it"
            )
        if claimed_pr is not None and claimed_pr != ev.pr:
            raise ConfigError(f"the result names PR #{claimed_pr} but this run is for PR #{ev.pr}")
        return PublishTarget(ev.pr, ev.head_sha, ev.base_sha)
    if ctx.event_name and ctx.event_name != "workflow_run":
        if claimed_pr is not None:
            raise ConfigError(
                f"the result names PR #{claimed_pr}, but a {ctx.event_name} run is for no pull request: "
                "publish a pull request's result from the workflow_run event (the fork-safe pair, "
                "examples/workflows/mlci-fork-safe-publish.yml)"
            )
        if ctx.sha and claimed_head and claimed_head != ctx.sha:
            raise ConfigError(
                f"the result is for commit {claimed_head[:7]} but this {ctx.event_name} run "
                f"is for {ctx.sha[:7]}: refusing to publish it"
            )
        return PublishTarget(None, ctx.sha or claimed_head)
    if ctx.event_name != "workflow_run":
        return PublishTarget(claimed_pr, claimed_head, result.context.base.sha)
    run = ctx.event.get("workflow_run") or {}
    head_sha = run.get("head_sha")
    if not head_sha:
        raise RunError("the workflow_run event has no head_sha")
    if claimed_head and claimed_head != head_sha:
        raise ConfigError(
            f"the result is for commit {claimed_head[:7]} but the workflow run that produced it "
            f"was for {head_sha[:7]}: refusing to publish it"
        )
    prs = [
        p for p in run.get("pull_requests") or () if (p.get("head") or {}).get("sha") == head_sha
    ]
    pr: int | None
    base_sha: str | None = None
    if prs:
        pr = int(prs[0]["number"])
        base_sha = (prs[0].get("base") or {}).get("sha")
    elif run.get("event") == "pull_request" and client is not None:
        # fork PRs are not listed in the event: ask for open PRs with this head
        owner = ((run.get("head_repository") or {}).get("owner") or {}).get("login")
        label = f"{owner}:{run.get('head_branch')}" if owner and run.get("head_branch") else None
        found = client.pulls_for(head_sha, label)
        pr = int(found[0].number) if found else None
        base_sha = found[0].base_sha if found else None
    else:
        pr = None
    if claimed_pr is not None and pr is not None and claimed_pr != pr:
        raise ConfigError(f"the result names PR #{claimed_pr} but the run was for PR #{pr}")
    return PublishTarget(pr, head_sha, base_sha)


def run_publish(result_file: str, opts: CiOptions, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    ctx = actions.from_env(env, token=opts.github_token)
    log = Log(ctx.in_actions)
    try:
        found = project.find(opts.check.cwd)
        root: Path | None = found.git_root
    except RunError:
        root = None
    _refuse_inside_checkout(result_file, root)
    result = load_result(result_file)
    if root is not None and ctx.event_name == "workflow_run":
        fetch_history(root, log)  # the recomputed comparison's auto limits read it
    # the config of the trusted checkout (the base branch), not of the PR
    cfg = (
        load(
            opts.check.config_path,
            found.root,
            explicit=opts.check.config_path is not None,
            project=found.label,
        )
        if root
        else Config()
    )
    client = _client(ctx, env, log)
    from mlci.forge.github.api import PublishError

    try:
        target = _trusted_target(ctx, result, client)
    except PublishError as exc:
        log.warning(f"cannot find the pull request for this run: {exc}")
        target = PublishTarget(None, ctx.event.get("workflow_run", {}).get("head_sha"))
    pr, head_sha = target.pr, target.head_sha
    from mlci.engine import gate

    # Whatever the event, a file cannot choose its verdict or waive its own failures: the
    # verdict follows the reasons, and an override comes only from the label on the PR (below).
    result = dataclasses.replace(result, override=None, verdict=gate.verdict(result.reasons))
    if ctx.event_name == "workflow_run":
        # Written by an untrusted run: what would speak for this repository (its MLflow link,
        # the link to "its" run) is replaced by what this trusted run knows.
        result = dataclasses.replace(
            result,
            mlflow=None,
            context=dataclasses.replace(result.context, run_url=_untrusted_run_url(ctx)),
        )
        result = _verify(result, cfg, root, target, log)
    elif ctx.run_url and not result.context.run_url:
        result = dataclasses.replace(
            result, context=dataclasses.replace(result.context, run_url=ctx.run_url)
        )
    result = dataclasses.replace(result, context=dataclasses.replace(result.context, pr=pr))
    labels: tuple[str, ...] = ()
    if client is not None and pr is not None:
        try:
            labels = client.pull(pr).labels
        except PublishError as exc:
            log.warning(f"cannot read the labels of #{pr}: {exc}")
    result = apply_label_override(result, cfg, labels, client, pr, log)
    # the trusted run renders with mlci's own templates only: no repository override
    markdown = render.markdown(result, status_context=cfg.report.status_context, root=None)
    actions.append_summary(ctx.step_summary, markdown)
    comment_url = None
    try:
        if client is None:
            log.warning("no GitHub token (GITHUB_TOKEN or --github-token): nothing published")
        else:
            from mlci.forge.github.publish import publish

            published = publish(
                result,
                cfg,
                client,
                log,
                pr=pr,
                head_sha=head_sha,
                run_url=result.context.run_url,
                root=None,
            )
            comment_url = published.comment_url
            _summarise_problems(ctx, published.problems)
    finally:
        actions.write_outputs(
            ctx.output,
            {
                "verdict": result.verdict,
                "result-path": result_file,
                "report-path": "",
                "comment-url": comment_url or "",
            },
        )
    _print(result, cfg, opts.fmt, None, in_actions=ctx.in_actions)
    return EXIT_FAIL if result.verdict == "fail" else EXIT_PASS


def _verify(
    result: Result, cfg: Config, root: Path | None, target: PublishTarget, log: Log
) -> Result:
    """The fork-safe check: the uploaded comparison against the PR head's committed files."""
    from mlci.engine import verify

    if target.head_sha is None:
        return result
    if root is None:
        found = verify.Verification(
            problem="mlci publish runs outside a git checkout of the repository "
            "(add actions/checkout before it)"
        )
        return verify.apply(result, found, cfg, Path.cwd(), target.head_sha)
    base = target.base_sha
    if base is None and verify.ensure_commit(target.head_sha, root, log.info):
        base = git.merge_base("HEAD", target.head_sha, root)  # the checkout is the base branch
    if base is None:
        found = verify.Verification(
            problem="the pull request's base commit is unknown (not in the event, "
            "and no merge base with the checkout)"
        )
    else:
        found = verify.recompute(result, cfg, root, base, target.head_sha, log.info)
    if found.problem or found.differences:
        log.warning(
            f"the uploaded result does not match the pull request's committed files: "
            f"{found.problem or '; '.join(found.differences[:5])}",
            title="mlci: verification",
        )
    return verify.apply(result, found, cfg, root, target.head_sha)


def _untrusted_run_url(ctx: ActionsContext) -> str | None:
    """The URL of the run that produced the result, from the trusted event."""
    run = ctx.event.get("workflow_run") or {}
    url = run.get("html_url")
    return (
        url
        if isinstance(url, str) and url.startswith(ctx.server_url.rstrip("/") + "/")
        else ctx.run_url
    )
