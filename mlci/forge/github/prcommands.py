"""PR-comment commands: ``/mlci override <reason>``, ``/mlci rerun``, ``/mlci commit``, ``/mlci help``.

An ``issue_comment`` run holds a write token even for pull requests from
forks, so nothing here runs, reads or validates anything from the pull
request's head: it reads the PR's metadata and the earlier result (the copy
hidden in mlci's report comment) through the API, and writes labels,
statuses, reactions and comments. Only users with write, maintain or admin
permission (asked from the collaborator-permission endpoint) may override,
re-run or ask for a commit; bots never trigger commands. ``/mlci commit``
commits nothing itself: it labels the pull request and re-runs mlci's
``pull_request`` run, which reproduces and commits (see :mod:`mlci.engine.writeback`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from mlci.forge import COMMIT_LABEL, ReportText
from mlci.forge.github import actions
from mlci.forge.github.actions import ActionsContext, Log
from mlci.forge.github.api import WRITERS
from mlci.model import fmt
from mlci.model.config import Config
from mlci.model.errors import EXIT_PASS, RunError
from mlci.model.result import Result

# failures become warnings, the result records who waived them (the gate's rule, passed in)
Waive = Callable[[Result, dict[str, Any]], Result]

COMMAND = re.compile(r"^/mlci(?:\s+(?P<name>\S+))?(?:\s+(?P<text>.*))?$", re.IGNORECASE)
HELP = """\
mlci understands these commands in a pull-request comment (first line):

| command | what it does | who |
|---|---|---|
| `/mlci override <reason>` | opens the gate for the head commit mlci reported on: sets the status to success, records who, when and why in the report, and applies the override label (which keeps turning failures into warnings on later pushes until it is removed) | write, maintain or admin |
| `/mlci rerun` | re-runs the latest mlci workflow run for the head commit | write, maintain or admin |
| `/mlci commit` | applies the `mlci:commit` label and re-runs mlci for the head commit: after a successful reproduction it commits the changed `dvc.lock` and the outputs git tracks to the PR branch (and on later pushes, until the label is removed); not for pull requests from forks | write, maintain or admin |
| `/mlci sweep train.C=0.01,0.1,1 [...]` | applies the `mlci:sweep` label and re-runs mlci for the head commit: it runs the grid as DVC experiments and its report shows one row per experiment, judged by the same rules | write, maintain or admin |
| `/mlci adopt <experiment>` | applies the `mlci:adopt` label and re-runs mlci: it sets that experiment's params, reproduces and commits `params.yaml`, `dvc.lock` and the outputs git tracks to the PR branch; not for pull requests from forks | write, maintain or admin |
| `/mlci help` | this list | anyone |
"""  # noqa: E501 (a Markdown table row is one line)


@dataclass(frozen=True)
class Command:
    name: str
    text: str
    author: str
    comment_id: int
    comment_url: str | None
    pr: int


def parse(body: str) -> tuple[str, str] | None:
    """``("override", "reason")`` from the first line of a comment, or None if it is no command."""
    first = (body or "").strip().splitlines()[0].strip() if (body or "").strip() else ""
    match = COMMAND.match(first)
    if not match:
        return None
    return (match.group("name") or "help").lower(), (match.group("text") or "").strip()


def command_from_event(ctx: ActionsContext) -> Command | None:
    """The command in an ``issue_comment`` event, or None when the event carries none for us."""
    event = ctx.event
    if event.get("action") != "created":
        return None
    issue = event.get("issue") or {}
    comment = event.get("comment") or {}
    if not isinstance(issue, dict) or not isinstance(comment, dict):
        raise RunError("the issue_comment payload's issue or comment is not an object")
    if not issue.get("pull_request"):
        return None  # a comment on an issue, not on a pull request
    user = comment.get("user") or {}
    login = str(user.get("login") or "")
    if user.get("type") == "Bot" or login.endswith("[bot]"):
        return None  # bots, mlci included, never trigger commands
    parsed = parse(str(comment.get("body") or ""))
    if parsed is None:
        return None
    name, text = parsed
    return Command(
        name,
        text,
        login,
        _number(comment.get("id"), "comment.id"),
        comment.get("html_url"),
        _number(issue.get("number"), "issue.number"),
    )


def _number(value: Any, where: str) -> int:
    """A positive id from the payload; anything else stops the run in one line."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    raise RunError(f"the issue_comment payload's {where} is not a number: {shown}")


def handle(
    ctx: ActionsContext, cfg: Config, client: Any, log: Log, text: ReportText, waive: Waive
) -> int:
    """Carry out the command of an issue_comment event. Always exit 0: a refusal is a reply.

    ``text`` renders the report comment (mlci's own templates), ``waive`` applies an override.
    """
    cmd = command_from_event(ctx)
    if cmd is None:
        log.info("mlci: the comment holds no /mlci command for a pull request; nothing to do")
        return EXIT_PASS
    log.info(f"mlci: /mlci {cmd.name} from @{cmd.author} on #{cmd.pr}")
    if client is None:
        log.warning("no GitHub token: cannot act on the command")
        return EXIT_PASS
    from mlci.forge.github.api import PublishError

    audit: list[str] = []
    failure: PublishError | None = None
    try:
        client.react(cmd.pr, cmd.comment_id, "eyes")
        done = _dispatch(cmd, ctx, cfg, client, log, (text, waive), audit)
        client.react(cmd.pr, cmd.comment_id, "rocket" if done else "-1")
    except PublishError as exc:  # every GitHub call, lazy reads included, ends up here
        failure = exc
    for line in audit:
        log.info(f"mlci: audit: {line}")
    if failure is not None:
        audit.append(f"stopped: GitHub did not answer as expected: {failure}")
    actions.append_summary(
        ctx.step_summary,
        "\n".join(
            [
                f"### mlci: {fmt.md_code('/mlci ' + cmd.name, 50)} by {fmt.md_text(cmd.author, 60)} on #{cmd.pr}",
                "",
                *(f"- {fmt.md_text(line, 600)}" for line in audit),
                "",
            ]
        ),
    )
    if failure is not None:
        # one line, exit 3: a command that did not happen must not look like one that did
        raise RunError(
            f"/mlci {cmd.name}: cannot reach GitHub ({failure}); the command stopped there"
        )
    return EXIT_PASS


def _reply(client: Any, cmd: Command, text: str) -> None:
    client.create_comment(cmd.pr, text)


def _may_write(client: Any, cmd: Command, audit: list[str]) -> bool:
    permission = client.permission(cmd.author)
    if permission in WRITERS:
        return True
    audit.append(f"refused: @{cmd.author} has {permission} permission")
    _reply(
        client,
        cmd,
        (
            f"Sorry {fmt.md_code(cmd.author)}, {fmt.md_code('/mlci ' + cmd.name, 80)} needs write, "
            f"maintain or admin permission on this repository (you have {fmt.md_code(permission)}). "
            "A maintainer can run it for you."
        ),
    )
    return False


def _dispatch(
    cmd: Command,
    ctx: ActionsContext,
    cfg: Config,
    client: Any,
    log: Log,
    report: tuple[ReportText, Waive],
    audit: list[str],
) -> bool:
    if cmd.name == "help":
        _reply(client, cmd, HELP)
        audit.append("replied with the list of commands")
        return True
    if cmd.name == "override":
        return _override(cmd, ctx, cfg, client, log, report, audit)
    if cmd.name == "rerun":
        return _rerun(cmd, ctx, client, audit)
    if cmd.name == "commit":
        return _commit(cmd, ctx, client, audit)
    if cmd.name in ("sweep", "adopt"):  # label and re-run: see prsweep
        from mlci.forge.github import prsweep

        return bool(getattr(prsweep, cmd.name)(cmd, ctx, client, audit))
    _reply(client, cmd, f"Unknown command {fmt.md_code('/mlci ' + cmd.name, 80)}.\n\n{HELP}")
    audit.append(f"unknown command {cmd.name!r}")
    return False


def _override(
    cmd: Command,
    ctx: ActionsContext,
    cfg: Config,
    client: Any,
    log: Log,
    report: tuple[ReportText, Waive],
    audit: list[str],
) -> bool:
    text, waive = report
    if not cmd.text:
        _reply(
            client,
            cmd,
            "`/mlci override` needs a reason, e.g. `/mlci override the drop is expected "
            "after the new tokenizer`.",
        )
        audit.append("refused: no reason given")
        return False
    if not _may_write(client, cmd, audit):
        return False
    from mlci.forge.github import publish

    pull = client.pull(cmd.pr)
    head_sha = pull.head_sha
    marker = text.marker()
    earlier = client.find_comment(cmd.pr, marker, client.login(), accept=publish.is_own_comment)
    result = publish.decode_result(earlier.body) if earlier is not None else None
    if earlier is None or result is None:
        # nothing says what the maintainer saw (no report, or its hidden copy is damaged or forged)
        _reply(
            client,
            cmd,
            (
                f"There is no mlci report on this pull request that mlci can read, so there is nothing to "
                f"override. Wait for mlci's report on `{head_sha[:7]}` (or `/mlci rerun`), then override it "
                "if needed."
            ),
        )
        audit.append("refused: no readable mlci report on the pull request")
        return False
    if result.context.head.sha != head_sha:
        # the maintainer read a report for another commit: do not waive what they have not seen
        reported = (result.context.head.sha or "an unknown commit")[:7]
        _reply(
            client,
            cmd,
            (
                f"The report is for `{reported}`, but the pull request's head is now "
                f"`{head_sha[:7]}`. Wait for mlci's report on `{head_sha[:7]}`, then override it if needed."
            ),
        )
        audit.append(f"refused: the report is for {reported}, the head is {head_sha[:7]}")
        return False
    at = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    label = cfg.gate.override_label
    if label:
        client.add_label(cmd.pr, label)
    description = f"overridden by @{cmd.author}: {cmd.text}"  # the client clips it to fit
    client.set_status(
        head_sha, "success", description, cfg.report.status_context, cmd.comment_url or ctx.run_url
    )
    audit.append(f"override of {head_sha[:7]} by @{cmd.author} at {at}: {cmd.text}")
    _override_check_run(client, cfg, head_sha, description, cmd, ctx, log)
    # the report comment says who, when and why
    override = {"label": label or None, "by": cmd.author, "reason": cmd.text, "at": at}
    updated = (
        waive(result, override)
        if result.verdict == "fail"
        else dataclasses.replace(result, override=override)
    )
    client.edit_comment(cmd.pr, earlier.id, publish.comment_body(updated, text))
    audit.append("the report comment records the override")
    return True


def _override_check_run(
    client: Any,
    cfg: Config,
    head_sha: str,
    description: str,
    cmd: Command,
    ctx: ActionsContext,
    log: Log,
) -> None:
    """A newer check run of the same name, so that a required mlci check is satisfied too."""
    from mlci.forge.github.api import PublishError

    summary = (
        f"Overridden by {fmt.md_text(cmd.author, 60)}: {fmt.md_text(cmd.text, 1000)}\n\n"
        "The failures in the earlier report are reported as warnings."
    )
    try:
        client.create_check_run(
            cfg.report.status_context,
            head_sha,
            "success",
            description,
            summary,
            cmd.comment_url or ctx.run_url,
        )
    except PublishError as exc:
        if not exc.forbidden:
            raise
        log.info(
            "mlci: no check run for the override (the token lacks checks: write); the status says it"
        )


def _latest_mlci_run(ctx: ActionsContext, client: Any, head_sha: str) -> Any:
    """The latest mlci workflow run for ``head_sha`` (not this one), or None.

    Only a run of a workflow file the default branch has (this comment's run checked it out)
    is a candidate: a fork's pull request can add a workflow of its own named "mlci", whose
    run a maintainer's ``/mlci rerun`` must not start again.
    """
    checkout = ctx.workspace or Path.cwd()
    current_path = None
    if ctx.workflow_ref and "/.github/workflows/" in ctx.workflow_ref:
        current_path = (
            ".github/workflows/" + ctx.workflow_ref.split("/.github/workflows/", 1)[1].split("@")[0]
        )
    runs = [
        r
        for r in client.workflow_runs(head_sha)
        if str(r.id) != str(ctx.run_id)
        and r.event in ("pull_request", "pull_request_target", "push")
        and _on_default_branch(checkout, r.path)
    ]
    same_file = [r for r in runs if current_path and r.path == current_path]
    named = [r for r in runs if "mlci" in f"{r.name} {r.path}".lower()]
    candidates = same_file or named
    if not candidates:
        return None
    return max(candidates, key=lambda r: (r.run_number, r.id))


def _on_default_branch(checkout: Path, path: str) -> bool:
    """Whether the workflow file ``path`` (``.github/workflows/x.yml``) is in the checkout."""
    parts = PurePosixPath(path).parts
    if len(parts) != 3 or parts[:2] != (".github", "workflows") or parts[2].startswith("."):
        return False
    file = checkout / path
    return file.is_file() and not file.is_symlink()


def _rerun(cmd: Command, ctx: ActionsContext, client: Any, audit: list[str]) -> bool:
    if not _may_write(client, cmd, audit):
        return False
    head_sha = client.pull(cmd.pr).head_sha
    run = _latest_mlci_run(ctx, client, head_sha)
    if run is None:
        _reply(client, cmd, f"No mlci workflow run found for the head commit `{head_sha[:7]}`.")
        audit.append(f"no mlci run for {head_sha[:7]}")
        return False
    client.rerun(run)
    _reply(
        client,
        cmd,
        f"Re-running [{fmt.md_text(run.name, 100)} #{run.run_number}]({run.html_url}) "
        f"for `{head_sha[:7]}`.",
    )
    audit.append(f"re-run of workflow run {run.id} ({run.name}) for {head_sha[:7]}")
    return True


def _commit(cmd: Command, ctx: ActionsContext, client: Any, audit: list[str]) -> bool:
    """Label the PR for write-back and re-run mlci's run, which reproduces and commits.

    This run holds a write token and the base's code only: it must not reproduce the
    PR's code itself, so the ``pull_request`` run does the work.
    """
    if not _may_write(client, cmd, audit):
        return False
    pull = client.pull(cmd.pr)
    if pull.from_fork:
        _reply(
            client,
            cmd,
            f"`/mlci commit` is not available for this pull request: its branch lives in "
            f"{fmt.md_code(pull.head_repo or 'a deleted fork', 100)}, and mlci never pushes "
            "to a fork. The author can run `mlci repro --commit` and push.",
        )
        audit.append(f"refused: the head is in the fork {pull.head_repo}")
        return False
    client.add_label(cmd.pr, COMMIT_LABEL)
    audit.append(f"labelled #{cmd.pr} {COMMIT_LABEL} for @{cmd.author}")
    branch = fmt.md_code(pull.head_ref or "the PR branch", 100)
    run = _latest_mlci_run(ctx, client, pull.head_sha)
    if run is None:
        _reply(
            client,
            cmd,
            f"Labelled `{COMMIT_LABEL}`: the next mlci run on this pull request commits the "
            f"reproduced `dvc.lock` and outputs to {branch} (no mlci run found for "
            f"`{pull.head_sha[:7]}` to re-run now).",
        )
        audit.append(f"no mlci run for {pull.head_sha[:7]} to re-run")
        return True
    client.rerun(run)
    _reply(
        client,
        cmd,
        f"Re-running [{fmt.md_text(run.name, 100)} #{run.run_number}]({run.html_url}) for "
        f"`{pull.head_sha[:7]}`: after a successful reproduction it commits the changed "
        f"`dvc.lock` and outputs to {branch} as `github-actions[bot]`. Remove the "
        f"`{COMMIT_LABEL}` label to stop committing on later pushes.",
    )
    audit.append(f"re-run of workflow run {run.id} ({run.name}) to commit for {pull.head_sha[:7]}")
    return True
