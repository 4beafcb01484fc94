"""``mlci publish RESULT.json``: the trusted half of the fork-safe flow.

It publishes a result computed elsewhere (``mlci ci --no-publish`` on the pull
request) and runs no code from the pull request: the config and templates are
the trusted checkout's, where and what to publish come from the trusted event,
the verdict follows the reasons, and in a ``workflow_run`` job the uploaded
comparison is checked against the pull request's committed files.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci.adapters import git
from mlci.commands import common
from mlci.commands.ci import CiOptions, apply_label_override, fetch_history, summarise_problems
from mlci.configfile import load
from mlci.engine import project
from mlci.forge.github import actions
from mlci.forge.github.actions import PR_EVENTS, ActionsContext, Log
from mlci.model.config import Config
from mlci.model.errors import ConfigError, RunError
from mlci.model.result import Result


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


def _trusted_target(ctx: ActionsContext, result: Result, client: Any) -> PublishTarget:
    """PR number and head sha to publish on, taken from the trusted event, not from the result.

    In a workflow_run job the result file was produced by an untrusted run: it may
    only be published on the commit that run was for. Under a pull_request event the
    PR and head are the event's; under any other event in Actions there is no PR, and
    the commit is the run's own. Only outside Actions (a person with a token) does
    the file say where it goes.
    """
    claimed_pr, claimed_head = result.context.pr, result.context.head.sha
    if ctx.event_name in PR_EVENTS:
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
    run = common.start(env, token=opts.github_token)
    env, ctx, log = run.env, run.ctx, run.log
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
    client = run.forge.client(ctx, env, log)
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
    markdown = common.markdown(result, cfg, None)
    actions.append_summary(ctx.step_summary, markdown)
    comment_url = None
    try:
        if client is None:
            log.warning(f"{actions.NO_TOKEN}: nothing published")
        else:
            published = run.forge.publish_result(
                result,
                cfg,
                client,
                log,
                pr=pr,
                head_sha=head_sha,
                run_url=result.context.run_url,
                text=common.report_text(cfg, None),
            )
            comment_url = published.comment_url
            summarise_problems(ctx, published.problems)
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
    common.print_result(result, cfg, opts.fmt, None, log=log)
    return common.exit_code(result)


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
