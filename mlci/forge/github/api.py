"""GitHub's REST API through PyGithub: the only module that imports ``github``.

Wraps the few calls mlci makes (comments, statuses, check runs, labels,
permissions, workflow runs, deployments) and turns PyGithub's failures into
:class:`PublishError`. The client is lazy (an object is fetched when one of
its attributes is first read), so no PyGithub object leaves this module:
every method reads what it needs inside :meth:`GitHub._call` and returns
plain values, and an outage anywhere is a ``PublishError``. Retries: PyGithub's ``GithubRetry`` retries 5xx answers
and rate-limit 403s (it honours ``Retry-After``); we add exponential backoff
and a timeout. The token is never logged: it only lives inside the client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlci.forge import PublishError
from mlci.model import fmt
from mlci.model.errors import ConfigError

if TYPE_CHECKING:
    from mlci.forge.github.actions import ActionsContext

ACTIONS_BOT = "github-actions[bot]"
COMMENT_LIMIT = 65536  # characters GitHub accepts in an issue comment body
# characters GitHub keeps of a commit status's or a deployment's description (longer is refused)
DESCRIPTION_LIMIT = 140


@dataclass(frozen=True)
class CommentRef:
    id: int
    url: str
    body: str
    author: str


@dataclass(frozen=True)
class PullInfo:
    """What mlci reads of a pull request."""

    number: int
    head_sha: str
    labels: tuple[str, ...] = ()
    base_sha: str | None = None
    head_ref: str | None = None
    # owner/name of each side; they differ for a fork's PR (head None: the fork was deleted)
    head_repo: str | None = None
    base_repo: str | None = None

    @property
    def from_fork(self) -> bool:
        return self.head_repo != self.base_repo


# the roles that may open the gate or write to a branch (the permission endpoint's words)
WRITERS = ("admin", "maintain", "write")


@dataclass(frozen=True)
class LabelTrust:
    """Who last applied a label and whether that person may act through it."""

    label: str
    actor: str | None  # None: no ``labeled`` event names anyone
    permission: str | None  # the actor's permission, None when not asked (mlci's own token)
    honoured: bool

    def why_ignored(self) -> str:
        if self.actor is None:
            return f"the '{self.label}' label is ignored: no event says who applied it"
        return (
            f"the '{self.label}' label is ignored: @{self.actor} applied it last and has "
            f"{self.permission or 'no'} permission (write, maintain or admin is needed)"
        )


@dataclass(frozen=True)
class RunInfo:
    """What mlci reads of a workflow run."""

    id: int
    name: str
    path: str
    event: str
    run_number: int
    html_url: str


@dataclass(frozen=True)
class ClientOptions:
    timeout: float = 15.0
    retries: int = 4
    backoff: float = 1.0  # seconds, doubled per retry (urllib3's backoff_factor)
    write_interval: float = 1.0  # GitHub asks for a pause between mutative requests


def client_options(env: Mapping[str, str]) -> ClientOptions:
    """Retry and pacing knobs; the defaults suit github.com (tests turn the pauses off)."""

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


def connect(ctx: ActionsContext, env: Mapping[str, str], log: Any = None) -> GitHub | None:
    """A client, or None (with a warning) when the run has no token or no repository.

    Publishing is never a reason to lose the result: the caller writes it either way.
    """
    if not ctx.token:
        return None
    if not ctx.repository or "/" not in ctx.repository:
        if log is not None:
            log.warning("GITHUB_REPOSITORY (owner/name) is not set: nothing is published")
        return None
    return GitHub(ctx.token, ctx.repository, ctx.api_url, client_options(env))


def _message(exc: Exception) -> tuple[str, int | None]:
    from github import GithubException

    if isinstance(exc, GithubException):
        data = exc.data if isinstance(exc.data, dict) else {}
        message = data.get("message") or str(exc.data or exc)
        return f"{exc.status} {message}", exc.status
    return f"{type(exc).__name__}: {exc}", None


class GitHub:
    """One repository on one GitHub (github.com or Enterprise Server)."""

    def __init__(
        self,
        token: str,
        repository: str,
        api_url: str = "https://api.github.com",
        options: ClientOptions | None = None,
    ) -> None:
        from github import Auth, Github, GithubRetry

        opts = options or ClientOptions()
        retry = GithubRetry(
            total=opts.retries,
            backoff_factor=opts.backoff,
            secondary_rate_wait=max(opts.backoff * 10, 1.0),
        )
        self._gh = Github(
            auth=Auth.Token(token),
            base_url=api_url.rstrip("/"),
            timeout=int(max(opts.timeout, 1)),
            retry=retry,
            seconds_between_requests=None,
            seconds_between_writes=opts.write_interval or None,
            per_page=100,
            user_agent="mlci",
            lazy=True,
        )
        self.repository = repository
        self._repo: Any = None

    def __repr__(self) -> str:
        return f"GitHub({self.repository!r})"

    def _call(self, what: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PublishError:
            raise
        except Exception as exc:  # noqa: BLE001 - PyGithub raises several families
            message, status = _message(exc)
            raise PublishError(f"{what}: {message}", status) from exc

    @property
    def repo(self) -> Any:
        if self._repo is None:
            self._repo = self._call(
                f"reading {self.repository}", self._gh.get_repo, self.repository
            )
        return self._repo

    # -- who am I -------------------------------------------------------------

    def login(self) -> str:
        """The account the token acts as; an Actions token cannot ask, so it is the Actions bot.

        That 403 is expected on every Actions run: PyGithub's retry logger, which logs each
        403 it sees, is kept quiet for this one request.
        """
        import logging

        retry_log = logging.getLogger("github.GithubRetry")
        level = retry_log.level
        retry_log.setLevel(logging.WARNING)
        try:
            return str(self._gh.get_user().login)
        except Exception as exc:  # noqa: BLE001
            _, status = _message(exc)
            if status in (401, 403):
                return ACTIONS_BOT
            raise PublishError(
                f"asking who the token belongs to: {_message(exc)[0]}", status
            ) from exc
        finally:
            retry_log.setLevel(level)

    # -- comments -------------------------------------------------------------

    def comments(self, number: int) -> Iterator[CommentRef]:
        issue = self._call(f"reading PR #{number}", self.repo.get_issue, number)
        try:
            for c in issue.get_comments():
                yield _comment_ref(c)
        except Exception as exc:  # noqa: BLE001
            message, status = _message(exc)
            raise PublishError(f"listing comments of #{number}: {message}", status) from exc

    def find_comment(
        self, number: int, marker: str, author: str, accept: Callable[[str], bool] | None = None
    ) -> CommentRef | None:
        """Our earlier comment: written by ``author``, starting with ``marker``, and ``accept``-ed."""
        found = None
        for c in self.comments(number):
            if (
                c.author == author
                and c.body.lstrip().startswith(marker)
                and (accept is None or accept(c.body))
            ):
                found = c  # the newest one wins if there are several
        return found

    def create_comment(self, number: int, body: str) -> CommentRef:
        issue = self._call(f"reading PR #{number}", self.repo.get_issue, number)
        return self._call(
            f"commenting on #{number}", lambda: _comment_ref(issue.create_comment(body))
        )

    def _comment(self, number: int, comment_id: int) -> Any:
        issue = self._call(f"reading PR #{number}", self.repo.get_issue, number)
        return self._call("reading the comment", issue.get_comment, comment_id)

    def edit_comment(self, number: int, comment_id: int, body: str) -> CommentRef:
        c = self._comment(number, comment_id)
        self._call("editing the comment", c.edit, body)
        return self._call("reading the comment", lambda: _comment_ref(c))

    def react(self, number: int, comment_id: int, content: str) -> None:
        c = self._comment(number, comment_id)
        self._call(f"reacting {content}", c.create_reaction, content)

    # -- statuses and checks ----------------------------------------------------

    def set_status(
        self, sha: str, state: str, description: str, context: str, target_url: str | None
    ) -> None:
        commit = self._call(f"reading commit {sha[:7]}", self.repo.get_commit, sha)
        kwargs: dict[str, Any] = {
            "state": state,
            "description": fmt.clip(description, DESCRIPTION_LIMIT),
            "context": context,
        }
        if target_url:
            kwargs["target_url"] = target_url
        self._call(f"setting the {context} status", commit.create_status, **kwargs)

    def create_check_run(
        self,
        name: str,
        sha: str,
        conclusion: str,
        title: str,
        summary: str,
        details_url: str | None,
    ) -> str:
        kwargs: dict[str, Any] = {
            "name": name,
            "head_sha": sha,
            "status": "completed",
            "conclusion": conclusion,
            "output": {"title": title[:255], "summary": summary[: COMMENT_LIMIT - 1]},
        }
        if details_url:
            kwargs["details_url"] = details_url
        return str(
            self._call(
                "creating the check run", lambda: self.repo.create_check_run(**kwargs).html_url
            )
        )

    # -- pull requests, labels, people ----------------------------------------------

    def pull(self, number: int) -> PullInfo:
        return self._call(f"reading PR #{number}", lambda: _pull_info(self.repo.get_pull(number)))

    def pulls_for(self, head_sha: str, head_label: str | None = None) -> list[PullInfo]:
        """Open PRs whose head is ``head_sha`` (by ``owner:branch`` when given, which works for forks)."""

        def listing() -> list[PullInfo]:
            if head_label:
                pulls = self.repo.get_pulls(state="open", head=head_label)
            else:
                pulls = self.repo.get_pulls(state="open")
            return [info for info in map(_pull_info, pulls) if info.head_sha == head_sha]

        return self._call("listing PRs", listing)

    def label_actor(self, number: int, label: str) -> str | None:
        """Who last applied ``label`` to the PR, from its timeline of events."""
        issue = self._call(f"reading PR #{number}", self.repo.get_issue, number)
        actor = None
        try:
            for event in issue.get_events():
                if event.event == "labeled" and event.label and event.label.name == label:
                    actor = event.actor.login if event.actor else None
        except Exception as exc:  # noqa: BLE001
            message, status = _message(exc)
            raise PublishError(f"reading the events of #{number}: {message}", status) from exc
        return actor

    def label_trust(self, number: int, label: str) -> LabelTrust:
        """May ``label`` act? Only when its most recent applier has write access (asked now).

        A label applied by this token's own account was applied by mlci after a ``/mlci``
        command whose author's permission it checked (an Actions bot is no collaborator
        the permission endpoint knows).
        """
        actor = self.label_actor(number, label)
        if actor is None:
            return LabelTrust(label, None, None, False)
        if actor == self.login():
            return LabelTrust(label, actor, None, True)
        permission = self.permission(actor)
        return LabelTrust(label, actor, permission, permission in WRITERS)

    def add_label(self, number: int, label: str) -> None:
        issue = self._call(f"reading PR #{number}", self.repo.get_issue, number)
        self._call(f"labelling #{number}", issue.add_to_labels, label)

    def permission(self, user: str) -> str:
        return str(
            self._call(
                f"asking the permission of {user}",
                lambda: str(self.repo.get_collaborator_permission(user)),
            )
        )

    # -- actions and deployments ------------------------------------------------------

    def workflow_runs(self, head_sha: str) -> list[RunInfo]:
        def listing() -> list[RunInfo]:
            return [
                RunInfo(
                    int(r.id),
                    str(r.name or ""),
                    str(r.path or ""),
                    str(r.event or ""),
                    int(r.run_number),
                    str(r.html_url),
                )
                for r in self.repo.get_workflow_runs(head_sha=head_sha)
            ]

        return self._call("listing workflow runs", listing)

    def rerun(self, run: RunInfo) -> bool:
        return bool(
            self._call("asking for a re-run", lambda: self.repo.get_workflow_run(run.id).rerun())
        )

    def create_deployment(
        self, ref: str, environment: str, description: str, payload: dict[str, Any]
    ) -> Any:
        return self._call(
            f"recording a deployment to {environment}",
            self.repo.create_deployment,
            ref=ref,
            environment=environment,
            description=fmt.clip(description, DESCRIPTION_LIMIT),
            payload=payload,
            auto_merge=False,
            required_contexts=[],
            transient_environment=False,
            production_environment=environment.lower() in ("production", "prod"),
        )

    def deployment_status(
        self,
        deployment: Any,
        state: str,
        description: str,
        run_url: str | None,
        environment: str,
        *,
        environment_url: str | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {
            "state": state,
            "description": fmt.clip(description, DESCRIPTION_LIMIT),
            "environment": environment,
            "auto_inactive": True,
        }
        if run_url:
            kwargs["target_url"] = run_url  # GitHub shows it as the status's log_url
        if environment_url:
            kwargs["environment_url"] = environment_url
        self._call("recording the deployment status", deployment.create_status, **kwargs)


def _comment_ref(c: Any) -> CommentRef:
    return CommentRef(int(c.id), str(c.html_url), c.body or "", c.user.login if c.user else "")


def _pull_info(p: Any) -> PullInfo:
    """Reads the PR (the lazy object fetches here): call it inside :meth:`GitHub._call`."""
    return PullInfo(
        int(p.number),
        str(p.head.sha),
        tuple(str(label.name) for label in p.labels),
        str(p.base.sha) if p.base and p.base.sha else None,
        str(p.head.ref) if p.head.ref else None,
        str(p.head.repo.full_name) if p.head.repo else None,
        str(p.base.repo.full_name) if p.base and p.base.repo else None,
    )
