"""Publishing a Result on GitHub: the sticky comment, the commit status, the check run.

Nothing here computes or renders: it sends the result it is given, as the
:class:`~mlci.forge.ReportText` it is handed renders it. Every
failure is a warning in the log (and the job summary); none changes the exit
code, so a publishing problem never turns a verdict into an error. The report
is always written locally first, so a publishing failure never loses it.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from mlci.forge import ReportText
from mlci.forge.github import actions
from mlci.forge.github.actions import PR_EVENTS, ActionsContext, Log
from mlci.forge.github.api import COMMENT_LIMIT, DESCRIPTION_LIMIT, GitHub, PublishError
from mlci.model import fmt
from mlci.model.config import Config
from mlci.model.errors import ConfigError, RunError
from mlci.model.fmt import safe_url
from mlci.model.refs import is_sha
from mlci.model.result import Result
from mlci.model.run import PublishTarget

RESULT_MARKER = "<!-- mlci:result:"
_HIDDEN_BUDGET = 24_000  # characters of the comment kept for the machine-readable copy
_STATE = {"pass": "success", "warn": "success", "fail": "failure"}
_CONCLUSION = {"pass": "success", "warn": "neutral", "fail": "failure"}

FORK_HELP = (
    "the token cannot write to this repository (a pull request from a fork gets a read-only token). "
    "The report is in the job summary. To comment and set the status on fork PRs, use the fork-safe "
    "pair: run `mlci ci --no-publish` on pull_request and upload mlci-result.json, then `mlci publish` "
    "in a workflow_run job (examples/workflows/mlci-fork-safe-*.yml)"
)


def encode_result(result: Result) -> str:
    """The result as an HTML comment that no PR text can close: zlib + base64 of compact JSON."""
    doc = result.to_dict()
    payload = _pack(doc)
    if len(payload) > _HIDDEN_BUDGET:
        # keep what commands need (context, verdict, reasons, the rows that matter)
        doc["metrics"] = [m for m in doc["metrics"] if m["outcome"] in ("fail", "warn")][:200]
        doc["params"] = [p for p in doc["params"] if p["status"] != "unchanged"][:200]
        doc["data"] = []
        doc["plots"] = [
            dict(p, base=None, head=None) if p["kind"] == "line" else p
            for p in doc.get("plots", [])
        ]
        doc["notes"] = doc["notes"][:20] + ["the hidden copy of this result was shortened"]
        payload = _pack(doc)
    if len(payload) > _HIDDEN_BUDGET:
        # still too big: the verdict and its first reasons; the copy must exist, since it is
        # how mlci recognises its own comment (is_own_comment)
        doc.update(
            metrics=[],
            params=[],
            plots=[],
            notes=["the hidden copy of this result was shortened"],
            reasons=[dict(r, message=r["message"][:300]) for r in doc["reasons"][:20]],
        )
        doc["repro"] = dict(
            doc["repro"],
            stages=[dict(st, log_tail=None, cmd=None) for st in doc["repro"]["stages"][:50]],
        )
        payload = _pack(doc)
    if len(payload) > _HIDDEN_BUDGET:
        return ""
    return f"{RESULT_MARKER}{payload} -->"


def _pack(doc: dict[str, Any]) -> str:
    raw = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def decode_result(body: str) -> Result | None:
    """The result mlci hid in its report comment, or None.

    Only mlci's own copy counts: the comment's last line, where :func:`comment_body`
    puts it. Text from the pull request (a stage's log, a metric name) can print a
    look-alike copy anywhere above it; that one is never read.
    """
    lines = body.rstrip().splitlines()
    last = lines[-1].strip() if lines else ""
    if not (last.startswith(RESULT_MARKER) and last.endswith(" -->")):
        return None
    try:
        raw = zlib.decompress(
            base64.b64decode(last[len(RESULT_MARKER) : -len(" -->")], validate=True)
        )
        doc = json.loads(raw)
        from mlci.model.result import validate

        validate(doc)
        return Result.from_dict(doc)
    except Exception:  # noqa: BLE001 - a damaged or foreign comment is simply not ours
        return None


def is_own_comment(body: str) -> bool:
    """A comment mlci wrote: its last line is a hidden result copy that decodes to an mlci result.

    The marker on the first line is not enough: a person (or, with a personal
    access token, the token's owner) can start a comment with it, and mlci would
    then overwrite their words. The schema is not checked here, so a report
    written by another version of mlci is still recognised.
    """
    lines = body.rstrip().splitlines()
    last = lines[-1].strip() if lines else ""
    if not (last.startswith(RESULT_MARKER) and last.endswith(" -->")):
        return False
    try:
        raw = zlib.decompress(
            base64.b64decode(last[len(RESULT_MARKER) : -len(" -->")], validate=True)
        )
        doc = json.loads(raw)
    except Exception:  # noqa: BLE001 - not ours
        return False
    return isinstance(doc, dict) and (doc.get("tool") or {}).get("name") == "mlci"


def comment_body(result: Result, text: ReportText, limit: int = COMMENT_LIMIT) -> str:
    """The report comment, within GitHub's size limit, with the hidden result at the end."""
    result = dataclasses.replace(
        result, duration_s=None
    )  # timing alone should not edit the comment
    hidden = encode_result(result)
    room = limit - len(hidden) - 2
    body = text.markdown(result, room)
    return body + ("\n" + hidden + "\n" if hidden else "")


@dataclass
class Published:
    comment_url: str | None = None
    comment_action: str | None = None  # created | updated | unchanged | off
    status: bool = False
    check_run_url: str | None = None
    problems: list[str] = field(default_factory=list)


def status_description(result: Result, text: ReportText) -> str:
    """The headline without its icon, as the commit status shows it (the check run's title too)."""
    return fmt.clip(text.headline(result).split(" ", 1)[1], DESCRIPTION_LIMIT)


def publish(
    result: Result,
    cfg: Config,
    client: GitHub,
    log: Log,
    *,
    pr: int | None,
    head_sha: str | None,
    run_url: str | None,
    text: ReportText,
) -> Published:
    """Comment (on a PR), status and check run on ``head_sha``. Problems become warnings."""
    out = Published()
    context = cfg.report.status_context
    run_url = safe_url(run_url)
    forbidden = False

    def problem(exc: PublishError) -> None:
        nonlocal forbidden
        if exc.forbidden and exc.status == 403 and "not accessible" in str(exc).lower():
            if not forbidden:
                log.warning(FORK_HELP, title="mlci could not publish")
                out.problems.append(FORK_HELP)
            forbidden = True
            return
        log.warning(f"publishing: {exc}", title="mlci could not publish")
        out.problems.append(str(exc))

    if pr is not None and cfg.report.comment != "off":
        try:
            out.comment_url, out.comment_action = upsert_comment(client, pr, result, cfg, text)
            log.info(f"mlci: report comment {out.comment_action}: {out.comment_url}")
        except PublishError as exc:
            problem(exc)
    elif pr is not None:
        out.comment_action = "off"

    if head_sha and not forbidden:
        try:
            client.set_status(
                head_sha, _STATE[result.verdict], status_description(result, text), context, run_url
            )
            out.status = True
            log.info(f"mlci: status '{context}' set to {_STATE[result.verdict]} on {head_sha[:7]}")
        except PublishError as exc:
            problem(exc)
    if head_sha and not forbidden:
        try:
            summary = text.markdown(result, COMMENT_LIMIT - 1)
            out.check_run_url = client.create_check_run(
                context,
                head_sha,
                _CONCLUSION[result.verdict],
                status_description(result, text),
                summary,
                run_url,
            )
        except PublishError as exc:
            if exc.forbidden:  # no checks: write — the commit status already carries the gate
                log.info(
                    "mlci: no check run (the token lacks checks: write); the commit status gates"
                )
            else:
                problem(exc)
    return out


def upsert_comment(
    client: GitHub, pr: int, result: Result, cfg: Config, text: ReportText
) -> tuple[str, str]:
    """Edit our earlier report comment, or create one; no request at all when nothing changed."""
    body = comment_body(result, text)
    marker = text.marker()
    if cfg.report.comment == "new":
        return client.create_comment(pr, body).url, "created"
    me = client.login()
    earlier = client.find_comment(pr, marker, me, accept=is_own_comment)
    if earlier is None:
        return client.create_comment(pr, body).url, "created"
    if earlier.body == body:
        return earlier.url, "unchanged"
    return client.edit_comment(pr, earlier.id, body).url, "updated"


# --- where a result computed elsewhere goes (`mlci publish`) ---------------------------------


def target(ctx: ActionsContext, result: Result, client: GitHub | None, log: Log) -> PublishTarget:
    """PR number and head sha to publish on, taken from the trusted event, not from the result.

    In a workflow_run job the result file was produced by an untrusted run: it may
    only be published on the commit that run was for. Under a pull_request event the
    PR and head are the event's; under any other event in Actions there is no PR, and
    the commit is the run's own. Only outside Actions (a person with a token) does
    the file say where it goes.
    """
    try:
        found = _target(ctx, result, client)
    except PublishError as exc:
        log.warning(f"cannot find the pull request for this run: {exc}")
        found = PublishTarget(None, ctx.event.get("workflow_run", {}).get("head_sha"))
    for name, sha in (("head", found.head_sha), ("base", found.base_sha)):
        if sha is not None and not is_sha(sha):
            # it reaches git (the trusted recompute fetches both): a full sha or nothing
            raise RunError(
                f"the {name} commit to publish on is not a commit sha: {str(sha)[:80]!r}"
            )
    if ctx.event_name == "workflow_run":
        found = dataclasses.replace(found, run_url=_untrusted_run_url(ctx))
    return found


def _target(ctx: ActionsContext, result: Result, client: GitHub | None) -> PublishTarget:
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


def _untrusted_run_url(ctx: ActionsContext) -> str | None:
    """The URL of the run that produced the result, from the trusted event."""
    run = ctx.event.get("workflow_run") or {}
    url = run.get("html_url")
    return (
        url
        if isinstance(url, str) and url.startswith(ctx.server_url.rstrip("/") + "/")
        else ctx.run_url
    )
