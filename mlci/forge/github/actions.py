"""The GitHub Actions runtime: context from the environment, workflow commands, files.

The context is built once from ``os.environ`` and the event payload
(``GITHUB_EVENT_PATH``) and passed around as a value; tests build it from a
dict. Workflow commands (``::group::``, ``::error::``) and the job summary are
only written when running in Actions.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from mlci.forge import TOKEN_VAR
from mlci.model.errors import RunError
from mlci.model.refs import is_ref_name, is_sha
from mlci.model.run import HostEvent, HostRun

if TYPE_CHECKING:  # the result model is imported where it is used: `mlci --version` imports this
    from mlci.model.result import EventRevisions

ZERO_SHA = "0" * 40

# Events whose runs hold a write token on the base's code even for a fork's pull request:
# mlci never runs, reads or validates the pull request's files there.
UNTRUSTED_EVENTS = ("pull_request_target", "issue_comment", "workflow_run")
PR_EVENTS = ("pull_request", "pull_request_target")
FORK_SAFE_HINT = (
    "it holds a write token on the base's code, so mlci will not reproduce, validate or read files "
    "from the pull request's head there. Use the fork-safe pair instead: `mlci ci --no-publish` on "
    "`pull_request` (uploading mlci-result.json), then `mlci publish` on `workflow_run` "
    "(see examples/workflows/)"
)

NO_TOKEN = f"no GitHub token ({TOKEN_VAR} or --github-token)"


@dataclass(frozen=True)
class ActionsContext:
    """What a run in GitHub Actions knows about itself."""

    event_name: str
    event: dict[str, Any] = field(default_factory=dict)
    repository: str | None = None
    api_url: str = "https://api.github.com"
    server_url: str = "https://github.com"
    run_id: str | None = None
    run_attempt: str | None = None
    workflow_ref: str | None = None
    actor: str | None = None  # who started the run (GITHUB_ACTOR)
    sha: str | None = None
    ref: str | None = None
    token: str | None = None
    step_summary: Path | None = None
    output: Path | None = None
    runner_temp: Path | None = None
    in_actions: bool = False
    base_ref: str | None = None  # GITHUB_BASE_REF: the target branch of a pull_request run
    workspace: Path | None = (
        None  # GITHUB_WORKSPACE: the checkout (the default branch on a comment)
    )
    strict: bool = True  # False: a payload mlci cannot read means "cannot tell", not an error

    @property
    def run_url(self) -> str | None:
        if not (self.repository and self.run_id):
            return None
        url = f"{self.server_url.rstrip('/')}/{self.repository}/actions/runs/{self.run_id}"
        if self.run_attempt and self.run_attempt != "1":
            url += f"/attempts/{self.run_attempt}"
        return url

    @property
    def deployer(self) -> str | None:
        """Who and what runs this deploy, in words; None outside GitHub Actions."""
        if not (self.in_actions or self.run_id):
            return None
        who = f"@{self.actor}" if self.actor else "an unnamed actor"
        workflow = self.workflow_ref.split("@", 1)[0] if self.workflow_ref else None
        return f"{who} through GitHub Actions" + (
            f" ({self.event_name} event, workflow {workflow})"
            if workflow
            else f" ({self.event_name} event)"
        )

    @property
    def pull_request(self) -> dict[str, Any] | None:
        pr = self.event.get("pull_request")
        return pr if isinstance(pr, dict) else None

    def __repr__(self) -> str:  # the token never appears in logs or tracebacks
        return f"ActionsContext(event_name={self.event_name!r}, repository={self.repository!r})"


def from_env(
    env: Mapping[str, str], token: str | None = None, *, strict: bool = True
) -> ActionsContext:
    """Build the context from the standard Actions variables.

    ``strict``: an unreadable event payload is an error (``mlci ci``, ``publish``,
    ``deploy`` act on it); otherwise the context has an empty event, which
    :func:`host_run` reads as "cannot tell" where that matters.
    """
    event: dict[str, Any] = {}
    path = env.get("GITHUB_EVENT_PATH")
    if path:
        try:
            event = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            if strict:
                raise RunError(f"GITHUB_EVENT_PATH points to a missing file: {path}") from exc
        except json.JSONDecodeError as exc:
            if strict:
                raise RunError(f"the event payload {path} is not JSON: {exc}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            if strict:
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                raise RunError(
                    f"cannot read the event payload GITHUB_EVENT_PATH={path}: {why}"
                ) from exc
        if not isinstance(event, dict):
            event = {}

    def opt_path(name: str, *, folder: bool = False) -> Path | None:
        """A path the runner hands over; one that is the wrong kind stops a strict run."""
        value = env.get(name)
        if not value:
            return None
        path = Path(value)
        wrong = (path.exists() and not path.is_dir()) if folder else path.is_dir()
        if wrong:
            if strict:
                kind = "a folder" if folder else "a file"
                raise RunError(f"{name}={value} is not {kind}: the runner's environment is broken")
            return None
        return path

    return ActionsContext(
        event_name=env.get("GITHUB_EVENT_NAME", ""),
        event=event,
        repository=env.get("GITHUB_REPOSITORY") or None,
        api_url=env.get("GITHUB_API_URL") or "https://api.github.com",
        server_url=env.get("GITHUB_SERVER_URL") or "https://github.com",
        run_id=env.get("GITHUB_RUN_ID") or None,
        run_attempt=env.get("GITHUB_RUN_ATTEMPT") or None,
        workflow_ref=env.get("GITHUB_WORKFLOW_REF") or None,
        actor=env.get("GITHUB_ACTOR") or None,
        sha=env.get("GITHUB_SHA") or None,
        ref=env.get("GITHUB_REF") or None,
        token=token or env.get(TOKEN_VAR) or None,
        step_summary=opt_path("GITHUB_STEP_SUMMARY"),
        output=opt_path("GITHUB_OUTPUT"),
        runner_temp=opt_path("RUNNER_TEMP", folder=True),
        in_actions=env.get("GITHUB_ACTIONS") == "true",
        base_ref=env.get("GITHUB_BASE_REF") or None,
        workspace=Path(env["GITHUB_WORKSPACE"]) if env.get("GITHUB_WORKSPACE") else None,
        strict=strict,
    )


def read_only_reason(ctx: ActionsContext) -> str | None:
    """Why this run must not push (a fork's pull request gets a read-only token), or None."""
    if ctx.event_name != "pull_request":
        return None
    try:
        pr = ctx.event["pull_request"]
        head, base = pr["head"]["repo"]["full_name"], pr["base"]["repo"]["full_name"]
    except (KeyError, TypeError):
        return "a pull request whose origin cannot be read from the event"
    return f"a pull request from the fork {head}" if head != base else None


def host_run(ctx: ActionsContext, log: Log | None = None) -> HostRun:
    """The rules the engine follows in this run, as plain values."""
    no_pr_code = None
    if ctx.event_name in UNTRUSTED_EVENTS:
        no_pr_code = (
            f"a {ctx.event_name} run holds a write token: mlci does not run pull-request code there"
        )
    return HostRun(
        log=log,
        no_pr_code=no_pr_code,
        no_push=read_only_reason(ctx),
    )


def revisions(ctx: ActionsContext) -> EventRevisions:
    """The base to compare with: the PR's base commit for pull_request, a push's ``before``; nothing otherwise."""
    from mlci.model.result import EventRevisions

    pr = ctx.pull_request
    if ctx.event_name in PR_EVENTS and pr:
        return EventRevisions(
            base_sha=_sha(pr["base"]["sha"], "pull_request.base.sha"),
            base_ref=_ref(pr["base"].get("ref"), "pull_request.base.ref"),
            head_sha=_sha(pr["head"]["sha"], "pull_request.head.sha"),
            head_ref=_ref(pr["head"].get("ref"), "pull_request.head.ref"),
            pr=_number(pr["number"], "pull_request.number"),
            labels=tuple(str(label.get("name")) for label in pr.get("labels") or ()),
        )
    if ctx.event_name == "push":
        before = _sha(ctx.event.get("before"), "before")
        ref = ctx.event.get("ref") or ctx.ref or ""
        branch = _ref(str(ref).removeprefix("refs/heads/"), "ref")
        return EventRevisions(
            base_sha=before if before and before != ZERO_SHA else None,
            base_ref=f"{branch}@before" if before and before != ZERO_SHA else None,
            head_sha=_sha(ctx.event.get("after") or ctx.sha, "after"),
            head_ref=branch,
        )
    return EventRevisions(
        head_sha=_sha(ctx.sha, "GITHUB_SHA"),
        head_ref=_ref((ctx.ref or "").removeprefix("refs/heads/") or None, "GITHUB_REF"),
    )


def _sha(value: Any, where: str) -> str | None:
    """A commit sha from the event, or None; anything else stops the run (never reaches git)."""
    if value is None or value == "":
        return None
    if not is_sha(value):
        raise RunError(f"the event's {where} is not a commit sha: {_quoted(value)}")
    return str(value)


def _ref(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    if not is_ref_name(value):
        raise RunError(f"the event's {where} is not a branch name git accepts: {_quoted(value)}")
    return str(value)


def _number(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
        raise RunError(f"the event's {where} is not a number: {_quoted(value)}")
    return int(value)


def _quoted(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def history_refusal(ctx: ActionsContext) -> str | None:
    """Why this run must not record its result in the history (git notes), or None when it may.

    Only a push to the repository's own default branch records: never a pull
    request (its head is not the base's history), never a fork's run.
    """
    if ctx.event_name != "push":
        return f"a {ctx.event_name or 'local'} run records no history (only a push to the default branch)"
    repository = ctx.event.get("repository") or {}
    if repository.get("fork"):
        return "this repository is a fork: its runs record no history"
    default = repository.get("default_branch")
    ref = ctx.event.get("ref") or ctx.ref or ""
    if not default or ref != f"refs/heads/{default}":
        return f"{ref.removeprefix('refs/heads/') or 'this ref'} is not the default branch"
    return None


def fork_of(ctx: ActionsContext) -> str | None:
    """The fork a pull request event's head lives in (owner/name), or None for the same repository.

    A head repository the event cannot name (a deleted fork) counts as a fork: unknown is
    never "ours".
    """
    pr = ctx.pull_request
    if not pr:
        return None
    head = ((pr.get("head") or {}).get("repo") or {}).get("full_name")
    base = ((pr.get("base") or {}).get("repo") or {}).get("full_name")
    if head and head == base:
        return None
    return str(head or "an unknown repository")


def writeback_refusal(ctx: ActionsContext) -> str | None:
    """Why mlci must not commit to this pull request's branch, or None when it may."""
    if ctx.event_name == "pull_request_target":
        return "a pull_request_target run holds a write token on the base: mlci never commits there"
    if fork := fork_of(ctx):
        return f"a pull request from the fork {fork}: mlci never pushes to a fork's branch"
    return None


def host_event(ctx: ActionsContext) -> HostEvent:
    """The run's event in host-neutral values: what the commands decide from."""
    try:
        ev = revisions(ctx)
    except (KeyError, TypeError, ValueError, AttributeError, RunError) as exc:
        if ctx.strict:
            if isinstance(exc, RunError):
                raise
            raise RunError(
                f"the {ctx.event_name or 'event'} payload lacks what mlci reads of it "
                f"({type(exc).__name__}: {_quoted(str(exc))})"
            ) from exc
        from mlci.model.result import EventRevisions

        # a payload mlci cannot read
        ev = EventRevisions(head_sha=ctx.sha if is_sha(ctx.sha) else None)
    name = ctx.event_name
    return HostEvent(
        name=name,
        repository=ctx.repository,
        run_url=ctx.run_url,
        in_ci=ctx.in_actions,
        has_token=bool(ctx.token),
        revisions=ev,
        pull_request=name in PR_EVENTS,
        comment=name == "issue_comment",
        rerun=(ctx.run_attempt or "1") != "1",
        push=name == "push",
        pushed_sha=(ctx.event.get("after") or None) if name == "push" else None,
        target_branch=ctx.base_ref,
        deployer=ctx.deployer,
        temp_dir=ctx.runner_temp,
        no_ci=(
            f"`mlci ci` refuses to run on {name}: {FORK_SAFE_HINT}"
            if name in UNTRUSTED_EVENTS
            else None
        ),
        no_history=history_refusal(ctx),
        no_writeback=writeback_refusal(ctx) if name in PR_EVENTS else None,
        # a result published on a pull request event came from a job that ran the PR's code
        # (the fork-safe pair, or the two-job workflow `mlci init` writes): checked, not believed
        result_from_untrusted_run=name == "workflow_run" or name in PR_EVENTS,
    )


# --- workflow commands and files --------------------------------------------------


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def log_safe(text: str) -> str:
    """Text that quotes input, made harmless for the Actions log: it cannot issue a workflow command.

    The runner reads a command from a line that starts with ``::`` (after blanks)
    and, in the legacy form, from ``##[`` anywhere in a line. Lines are kept; a
    zero-width space breaks both markers where they would be read.
    """
    lines = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = line.replace("##[", "##\u200b[")
        stripped = line.lstrip()
        if stripped.startswith("::"):
            line = line[: len(line) - len(stripped)] + ":\u200b" + stripped[1:]
        lines.append(line)
    return "\n".join(lines)


class Log:
    """Log lines; on Actions also annotations and groups, elsewhere plain text on stderr.

    Implements :class:`mlci.model.run.Log`, the log the engine writes stages to.
    """

    def __init__(self, in_actions: bool, stream: TextIO | None = None) -> None:
        self.in_actions = in_actions
        self._stream = stream
        self.warnings: list[str] = []
        self._resume: list[str | None] = []  # per open group: the token that resumes commands

    @property
    def in_ci(self) -> bool:
        return self.in_actions

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr  # looked up late: tests swap sys.stderr

    def _write(self, line: str, stream: TextIO | None = None) -> None:
        from mlci.model.fmt import terminal_text

        print(terminal_text(line), file=stream or self.stream, flush=True)

    def info(self, message: str) -> None:
        self._write(log_safe(message) if self.in_actions else message)

    def annotate(
        self,
        level: str,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        title: str | None = None,
    ) -> None:
        """``level`` is error, warning or notice."""
        if level == "warning":
            self.warnings.append(message)
        if not self.in_actions:
            where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
            self._write(f"mlci: {level}: {where}{message}")
            return
        message = message.replace("##[", "##\u200b[")  # the legacy command form is read anywhere
        props = []
        if file:
            props.append(f"file={_escape_property(file)}")
        if line:
            props.append(f"line={line}")
        if title:
            props.append(f"title={_escape_property(title)}")
        sep = " " + ",".join(props) if props else ""
        self._write(f"::{level}{sep}::{_escape_data(message)}")

    def warning(self, message: str, **kw: Any) -> None:
        self.annotate("warning", message, **kw)

    def group(self, title: str, *, quoted: bool = False) -> None:
        """A collapsible group; ``quoted``: its lines are a program's output, never commands."""
        self._write(f"::group::{_escape_data(title)}" if self.in_actions else f"── {title}")
        token = None
        if self.in_actions and quoted:
            # a pipeline's output cannot set outputs or masks while commands are stopped
            import secrets  # here: `mlci --version` imports this module

            token = secrets.token_hex(16)
            self._write(f"::stop-commands::{token}")
        self._resume.append(token)

    def endgroup(self) -> None:
        token = self._resume.pop() if self._resume else None
        if token:
            self._write(f"::{token}::")
        if self.in_actions:
            self._write("::endgroup::")

    @contextmanager
    def quoted(self, stream: TextIO) -> Iterator[None]:
        """Workflow commands off on ``stream`` while it prints text that holds PR input."""
        import secrets

        token = secrets.token_hex(16) if self.in_actions else None
        if token:
            self._write(f"::stop-commands::{token}", stream)
        try:
            yield
        finally:
            if token:
                self._write(f"::{token}::", stream)


def write_outputs(path: Path | None, values: Mapping[str, str | None]) -> None:
    """Append step outputs to ``$GITHUB_OUTPUT`` (multi-line safe)."""
    if path is None:
        return
    with path.open("a", encoding="utf-8") as fh:
        for name, value in values.items():
            text = "" if value is None else str(value)
            if "\n" in text:
                import uuid

                delim = f"mlci_{uuid.uuid4().hex}"
                fh.write(f"{name}<<{delim}\n{text}\n{delim}\n")
            else:
                fh.write(f"{name}={text}\n")


def append_summary(path: Path | None, markdown: str) -> None:
    if path is None:
        return
    with path.open("a", encoding="utf-8") as fh:
        fh.write(markdown if markdown.endswith("\n") else markdown + "\n")
