"""A local, stateful stand-in for GitHub's REST API, held to GitHub's OpenAPI description.

:class:`GitHubFake` runs a threaded :mod:`http.server` on ``127.0.0.1`` (random
port).  Its :attr:`~GitHubFake.url` is usable as ``GITHUB_API_URL`` or as
PyGithub's ``base_url``.  Requests are routed by the official description
(:mod:`tests.ghfake.openapi`): each implemented operation is a handler keyed by
its ``operationId``.  The fake implements the operations mlci calls and no
more (:data:`MLCI_OPERATIONS`): a request for any other operation of the
description is answered as GitHub answers a route it does not know (404 "Not
Found") and fails the test, so a new use of the API is noticed and implemented
here on purpose.  Every exchange is recorded (:attr:`GitHubFake.requests`)
and validated, request and response, against the description; departures are
collected in :attr:`GitHubFake.violations` (the pytest fixture fails the test
on any).

State lives in memory per repository (:class:`Repo`): issue and pull-request
comments, commit statuses, check runs, issue labels, comment reactions,
collaborator permissions, pull requests, workflow runs, deployments.  Tokens
map to identities (:class:`TokenIdentity`); unknown tokens act as the default
identity, ``github-actions[bot]`` with an Actions installation token.  Faults
can be injected (5xx, secondary rate limit, read-only fork tokens).

Tests assert on what a person sees on GitHub, rendered as GitHub's API renders
it: :meth:`GitHubFake.comments`, :meth:`~GitHubFake.statuses`,
:meth:`~GitHubFake.check_runs`, :meth:`~GitHubFake.labels`,
:meth:`~GitHubFake.reactions`, :meth:`~GitHubFake.workflow_run`,
:meth:`~GitHubFake.deployments`, not on the fake's bookkeeping.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import re
import socket
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from .openapi import Exchange, GitHubSpec, Match, Violation, load_spec

BOT_LOGIN = "github-actions[bot]"
"""Author of everything written with the default (Actions ``GITHUB_TOKEN``) identity."""

NOT_IMPLEMENTED = "not-implemented"  # the violation of a request the fake has no handler for
INTEGRATION_FORBIDDEN = "Resource not accessible by integration"
DOCS = "https://docs.github.com/rest"

_KNOWN_ACCOUNT_IDS = {BOT_LOGIN: 41898282, "octocat": 583231, "github": 9919}
_ROLE_TO_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}
_ROLE_RANK = ["none", "read", "triage", "write", "maintain", "admin"]
_STATUS_STATES = ("error", "failure", "pending", "success")
_HEX_SHA = re.compile(r"[0-9a-f]{7,40}\Z")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _ts(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _node_id(prefix: str, ident: int) -> str:
    return prefix + "_" + base64.b64encode(f"{prefix}:{ident}".encode()).decode().rstrip("=")


def fake_sha(seed: str) -> str:
    """A deterministic 40-hex commit SHA derived from ``seed``."""
    return hashlib.sha1(seed.encode()).hexdigest()


# --------------------------------------------------------------------------------------
# Identities and state
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenIdentity:
    """Who a token authenticates as, and what it may do."""

    login: str
    kind: Literal["installation", "user"] = "installation"
    """``installation``: a GitHub App installation token such as Actions' ``GITHUB_TOKEN``
    (``GET /user`` answers 403); ``user``: a personal access token."""
    read_only: bool = False
    """Every write answers 403 "Resource not accessible by integration" (the
    ``GITHUB_TOKEN`` of a workflow run for a pull request from a fork)."""
    checks_write: bool = True
    """Without ``checks: write`` creating or updating a check run answers 403."""

    @classmethod
    def of(cls, value: str | TokenIdentity) -> TokenIdentity:
        """A login alone means an installation token for a ``[bot]`` login, a PAT otherwise."""
        if isinstance(value, TokenIdentity):
            return value
        return cls(value, "installation" if value.endswith("[bot]") else "user")


@dataclass
class PullRequest:
    """A pull request as configured by a test (see :meth:`GitHubFake.add_pull`)."""

    number: int
    head_sha: str
    base_sha: str
    head_ref: str = "feature"
    base_ref: str = "main"
    user: str = "octocat"
    title: str = "Improve the model"
    body: str | None = None
    state: Literal["open", "closed"] = "open"
    draft: bool = False
    merged: bool = False
    head_repo: str | None = None
    """Full name of the head repository when it is a fork; ``None``: same repository."""
    id: int = 0
    created_at: datetime = field(default_factory=_utcnow)


@dataclass
class Issue:
    """A plain issue (pull requests are issues too, see :meth:`Repo.issue_numbers`)."""

    number: int
    title: str = "An issue"
    user: str = "octocat"
    body: str | None = None
    state: Literal["open", "closed"] = "open"
    id: int = 0
    created_at: datetime = field(default_factory=_utcnow)


@dataclass
class Comment:
    """An issue or pull-request conversation comment."""

    id: int
    issue_number: int
    body: str
    user: str
    created_at: datetime
    updated_at: datetime


@dataclass
class Reaction:
    id: int
    comment_id: int
    content: str
    user: str
    created_at: datetime


@dataclass
class IssueEvent:
    """A ``labeled``/``unlabeled`` event of an issue or pull request timeline."""

    id: int
    issue_number: int
    event: Literal["labeled", "unlabeled"]
    label: str
    actor: str
    created_at: datetime


@dataclass
class CommitStatus:
    id: int
    sha: str
    state: str
    context: str
    description: str | None
    target_url: str | None
    creator: str
    created_at: datetime


@dataclass
class CheckRun:
    id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    started_at: datetime | None
    completed_at: datetime | None
    details_url: str | None
    external_id: str | None
    output: dict[str, Any]
    creator: str
    check_suite_id: int


@dataclass
class WorkflowRun:
    """A workflow run as configured by a test (see :meth:`GitHubFake.add_workflow_run`)."""

    id: int
    head_sha: str
    head_branch: str | None = "feature"
    workflow_id: int = 161335
    name: str = "CI"
    path: str = ".github/workflows/ci.yml"
    event: str = "pull_request"
    status: str = "completed"
    conclusion: str | None = "success"
    run_number: int = 1
    run_attempt: int = 1
    pull_requests: list[int] = field(default_factory=list)
    actor: str = "octocat"
    head_repo: str | None = None
    display_title: str = "Improve the model"
    created_at: datetime = field(default_factory=_utcnow)
    updated_at: datetime = field(default_factory=_utcnow)


@dataclass
class Deployment:
    id: int
    sha: str
    ref: str
    task: str
    environment: str
    description: str | None
    payload: dict[str, Any] | str
    creator: str
    transient_environment: bool
    production_environment: bool
    created_at: datetime


@dataclass
class DeploymentStatus:
    id: int
    deployment_id: int
    state: str
    description: str
    environment: str
    target_url: str
    log_url: str
    environment_url: str
    creator: str
    created_at: datetime


@dataclass
class Repo:
    """The in-memory state of one repository."""

    full_name: str
    id: int
    private: bool = False
    default_branch: str = "main"
    fork_of: str | None = None
    read_only: bool = False
    """Every write answers 403 "Resource not accessible by integration"."""
    description: str | None = "An ML repository"
    default_permission: str = "read"
    """Role answered by the collaborator-permission endpoint for unlisted users."""
    branches: dict[str, str] = field(default_factory=dict)
    permissions: dict[str, str] = field(default_factory=dict)
    pulls: dict[int, PullRequest] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    labels: dict[int, list[str]] = field(default_factory=dict)
    events: list[IssueEvent] = field(default_factory=list)
    comments: dict[int, Comment] = field(default_factory=dict)
    reactions: list[Reaction] = field(default_factory=list)
    statuses: list[CommitStatus] = field(default_factory=list)
    check_runs: dict[int, CheckRun] = field(default_factory=dict)
    workflow_runs: dict[int, WorkflowRun] = field(default_factory=dict)
    reruns: list[int] = field(default_factory=list)
    """Ids of the workflow runs re-run, in order (failed-jobs re-runs included)."""
    deployments: dict[int, Deployment] = field(default_factory=dict)
    deployment_statuses: list[DeploymentStatus] = field(default_factory=list)
    created_at: datetime = field(default_factory=_utcnow)

    @property
    def owner(self) -> str:
        return self.full_name.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.full_name.split("/", 1)[1]

    def issue_numbers(self) -> set[int]:
        return set(self.pulls) | set(self.issues)

    def comments_on(self, number: int) -> list[Comment]:
        """Comments of an issue or pull request, oldest first."""
        return sorted(
            (c for c in self.comments.values() if c.issue_number == number), key=lambda c: c.id
        )

    def resolve_ref(self, ref: str) -> str | None:
        """The commit SHA a ref (SHA, branch, ``refs/heads/...``) points at, if known."""
        for prefix in ("refs/heads/", "heads/"):
            if ref.startswith(prefix):
                ref = ref[len(prefix) :]
        if ref in self.branches:
            return self.branches[ref]
        if _HEX_SHA.match(ref):
            return ref
        return None


# --------------------------------------------------------------------------------------
# Recording and faults
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request received by the fake and the response it sent."""

    seq: int
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """A subset: Accept, Content-Type, User-Agent, X-GitHub-Api-Version, Authorization
    (scheme only, the token itself is in :attr:`token`)."""
    body: Any
    status: int
    response: Any
    response_headers: dict[str, str]
    """A subset: Content-Type, Link, Location, Retry-After."""
    operation_id: str | None
    token: str | None
    login: str | None
    fault: str | None
    violations: tuple[Violation, ...]

    @property
    def is_write(self) -> bool:
        return self.method not in ("GET", "HEAD", "OPTIONS")

    def __str__(self) -> str:
        query = f"?{urlencode(self.query)}" if self.query else ""
        return f"{self.method} {self.path}{query} -> {self.status} [{self.operation_id}]"


@dataclass
class Fault:
    """An injected failure, answered instead of the next matching ``remaining`` requests."""

    status: int
    remaining: int
    message: str
    method: str | None = None
    path: re.Pattern[str] | None = None
    operation: str | None = None
    retry_after: int | None = None
    label: str = "fault"

    def matches(self, method: str, path: str, operation_id: str | None) -> bool:
        return (
            self.remaining > 0
            and (self.method is None or self.method == method)
            and (self.path is None or self.path.search(path) is not None)
            and (self.operation is None or self.operation == operation_id)
        )


class ApiError(Exception):
    """Raised by handlers: answered as GitHub's error body."""

    def __init__(
        self, status: int, message: str, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    """What a handler gets: the routed request."""

    method: str
    path: str
    params: dict[str, str]
    query: list[tuple[str, str]]
    body: Any
    identity: TokenIdentity
    repo: Repo

    def arg(self, name: str, default: str | None = None) -> str | None:
        value = default
        for key, item in self.query:
            if key == name:
                value = item
        return value

    def int_param(self, name: str) -> int:
        try:
            return int(self.params[name])
        except ValueError:
            raise ApiError(404, "Not Found") from None

    def value(self, name: str, default: Any = None) -> Any:
        """A field of the JSON body."""
        return self.body.get(name, default) if isinstance(self.body, dict) else default


Handler = Callable[["GitHubFake", Call], Reply]
_HANDLERS: dict[str, Handler] = {}


def handles(*operation_ids: str) -> Callable[[Handler], Handler]:
    """Register a handler for operations of GitHub's description, by ``operationId``."""

    def register(func: Handler) -> Handler:
        for op in operation_ids:
            _HANDLERS[op] = func
        return func

    return register


# The operations mlci calls (mlci/forge/github/api.py, through PyGithub with lazy objects, so
# no request reads an object before a write), by the method of GitHub.* that calls each.
MLCI_OPERATIONS = {
    "users/get-authenticated": "login",
    "issues/list-comments": "comments, find_comment",
    "issues/create-comment": "create_comment",
    "issues/update-comment": "edit_comment",
    "reactions/create-for-issue-comment": "react",
    "repos/create-commit-status": "set_status",
    "checks/create": "create_check_run",
    "pulls/get": "pull",
    "pulls/list": "pulls_for",
    "issues/list-events": "label_actor",
    "issues/add-labels": "add_label",
    "repos/get-collaborator-permission-level": "permission",
    "actions/list-workflow-runs-for-repo": "workflow_runs",
    "actions/get-workflow-run": "rerun",
    "actions/re-run-workflow": "rerun",
    "repos/create-deployment": "create_deployment",
    "repos/create-deployment-status": "deployment_status",
}


def implemented_operations() -> list[str]:
    """The ``operationId`` of every operation the fake implements."""
    return sorted(_HANDLERS)


# --------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, fake: GitHubFake) -> None:
        super().__init__(("127.0.0.1", 0), _RequestHandler)
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self.connections_lock:
            for conn in list(self.connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall
    server: _Server

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.server.fake._hang(self.command, self.path):
            # an injected timeout: no answer until the client gives up (or the fake stops)
            self.close_connection = True
            return
        try:
            status, headers, payload = self.server.fake._process(
                self.command, self.path, list(self.headers.items()), raw
            )
        except Exception:  # a bug of the fake itself: fail the test, answer 500
            self.server.fake._crashed(self.command, self.path, traceback.format_exc())
            status, headers = 500, {"Content-Type": "application/json; charset=utf-8"}
            payload = json.dumps({"message": "Server Error", "status": "500"}).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


class GitHubFake:
    """A fake GitHub REST API server for tests, validated against GitHub's description.

    :param repos: repositories to create (``owner/name``); more with :meth:`add_repo`.
    :param tokens: token -> identity (a login, or a :class:`TokenIdentity`).
    :param default_identity: identity of tokens not in ``tokens``.
    :param checks_write: ``False``: creating/updating check runs answers 403 for every
        token (a ``GITHUB_TOKEN`` without ``checks: write``).
    :param server_url: the web host used in ``html_url`` fields (``GITHUB_SERVER_URL``).
    :param spec: GitHub's description (defaults to the process-wide :func:`load_spec`).
    :param clock: source of timestamps.
    """

    def __init__(
        self,
        repos: Iterable[str] = ("octo-org/ml-repo",),
        *,
        tokens: Mapping[str, str | TokenIdentity] | None = None,
        default_identity: str | TokenIdentity = BOT_LOGIN,
        checks_write: bool = True,
        server_url: str = "https://github.com",
        spec: GitHubSpec | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.spec = spec if spec is not None else load_spec()
        unknown = [op for op in _HANDLERS if self.spec.operation(op) is None]
        if unknown:
            raise RuntimeError(f"fake GitHub implements operations unknown to the spec: {unknown}")
        self.tokens: dict[str, TokenIdentity] = {
            token: TokenIdentity.of(who) for token, who in (tokens or {}).items()
        }
        self.default_identity = TokenIdentity.of(default_identity)
        self.checks_write = checks_write
        self.server_url = server_url.rstrip("/")
        self.clock = clock
        self.repos: dict[str, Repo] = {}
        self.organizations: set[str] = {"github"}
        """Logins rendered with ``type: Organization``."""
        self.faults: list[Fault] = []
        self.hangs: list[Fault] = []
        self.hung: list[str] = []
        """``METHOD path`` of each request answered by silence (:meth:`hang_next`)."""
        self._released = threading.Event()
        self._records: list[RecordedRequest] = []
        self._violations: list[Violation] = []
        self._lock = threading.RLock()
        self._ids = itertools.count(1_000_001)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        for full_name in repos:
            self.add_repo(full_name)

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> GitHubFake:
        if self._server is None:
            self._server = _Server(self)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="github-fake",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()  # hung requests end now
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join()
            self._server = None
            self._thread = None

    def __enter__(self) -> GitHubFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL of the API, e.g. ``http://127.0.0.1:41234`` (``GITHUB_API_URL``)."""
        if self._server is None:
            raise RuntimeError("GitHubFake is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def env(self, repo: str | None = None, token: str = "ghs_fake_actions_token") -> dict[str, str]:
        """Environment variables of a GitHub Actions job talking to this fake."""
        return {
            "GITHUB_ACTIONS": "true",
            "GITHUB_API_URL": self.url,
            "GITHUB_SERVER_URL": self.server_url,
            "GITHUB_GRAPHQL_URL": f"{self.url}/graphql",
            "GITHUB_REPOSITORY": repo or next(iter(self.repos)),
            "GITHUB_TOKEN": token,
        }

    # -- configuration -------------------------------------------------------------

    def _next_id(self) -> int:
        return next(self._ids)

    def add_repo(
        self,
        full_name: str,
        *,
        private: bool = False,
        default_branch: str = "main",
        fork_of: str | None = None,
        read_only: bool = False,
        default_permission: str = "read",
        organization: bool = False,
    ) -> Repo:
        """Create a repository; its default branch points at ``fake_sha("owner/name:branch")``.

        ``organization``: the owner is an organization (``type: Organization``).
        """
        with self._lock:
            if organization:
                self.organizations.add(full_name.split("/", 1)[0])
            if full_name.lower() in (name.lower() for name in self.repos):
                return self.repo(full_name)
            repo = Repo(
                full_name,
                self._next_id(),
                private=private,
                default_branch=default_branch,
                fork_of=fork_of,
                read_only=read_only,
                default_permission=default_permission,
            )
            repo.branches[default_branch] = fake_sha(f"{full_name}:{default_branch}")
            repo.permissions[repo.owner] = "admin"
            self.repos[full_name] = repo
            return repo

    def repo(self, full_name: str | None = None) -> Repo:
        """A repository by full name (case-insensitive); the first one by default."""
        if full_name is None:
            return next(iter(self.repos.values()))
        for name, repo in self.repos.items():
            if name.lower() == full_name.lower():
                return repo
        raise KeyError(full_name)

    def forbid_writes(self, full_name: str | None = None, forbidden: bool = True) -> None:
        """Make every write to a repository answer 403 "Resource not accessible by integration"."""
        self.repo(full_name).read_only = forbidden

    def add_token(self, token: str, who: str | TokenIdentity) -> TokenIdentity:
        """Map a token to an identity (a login, or a :class:`TokenIdentity`)."""
        identity = TokenIdentity.of(who)
        self.tokens[token] = identity
        return identity

    def set_permission(self, login: str, role: str, repo: str | None = None) -> None:
        """Role of a user on a repository: admin, maintain, write, triage, read or none."""
        if role not in _ROLE_TO_PERMISSION:
            raise ValueError(f"unknown role {role!r}")
        self.repo(repo).permissions[login] = role

    def set_branch(self, branch: str, sha: str, repo: str | None = None) -> None:
        self.repo(repo).branches[branch] = sha

    def add_pull(
        self,
        number: int,
        *,
        head_sha: str | None = None,
        base_sha: str | None = None,
        head_ref: str = "feature",
        base_ref: str | None = None,
        labels: Sequence[str] = (),
        user: str = "octocat",
        title: str = "Improve the model",
        body: str | None = None,
        state: Literal["open", "closed"] = "open",
        draft: bool = False,
        head_repo: str | None = None,
        repo: str | None = None,
    ) -> PullRequest:
        """Configure a pull request; its branches and labels are registered too.

        ``head_repo`` names a fork (created on the fly) the head branch lives in.
        """
        with self._lock:
            target = self.repo(repo)
            base_ref = base_ref or target.default_branch
            pull = PullRequest(
                number=number,
                head_sha=head_sha or fake_sha(f"{target.full_name}:pull/{number}/head"),
                base_sha=base_sha or target.branches.get(base_ref) or fake_sha(base_ref),
                head_ref=head_ref,
                base_ref=base_ref,
                user=user,
                title=title,
                body=body,
                state=state,
                draft=draft,
                head_repo=head_repo,
                id=self._next_id(),
            )
            target.pulls[number] = pull
            target.labels[number] = []
            for name in labels:
                self.label(number, name, actor=user, repo=target.full_name)
            target.branches.setdefault(base_ref, pull.base_sha)
            if head_repo is None:
                target.branches[head_ref] = pull.head_sha
            else:
                fork = self.add_repo(head_repo, fork_of=target.full_name)
                fork.branches[head_ref] = pull.head_sha
            return pull

    def add_issue(
        self,
        number: int,
        *,
        title: str = "An issue",
        user: str = "octocat",
        labels: Sequence[str] = (),
        repo: str | None = None,
    ) -> Issue:
        with self._lock:
            target = self.repo(repo)
            issue = Issue(number, title=title, user=user, id=self._next_id())
            target.issues[number] = issue
            target.labels[number] = []
            for name in labels:
                self.label(number, name, actor=user, repo=target.full_name)
            return issue

    def label(
        self, number: int, name: str, *, actor: str = "octocat", repo: str | None = None
    ) -> None:
        """Apply a label to an issue or pull request as ``actor`` (a ``labeled`` event)."""
        with self._lock:
            target = self.repo(repo)
            current = target.labels.setdefault(number, [])
            if name.lower() not in (c.lower() for c in current):
                current.append(name)
                target.events.append(
                    IssueEvent(self._next_id(), number, "labeled", name, actor, self.clock())
                )

    def unlabel(
        self, number: int, name: str, *, actor: str = "octocat", repo: str | None = None
    ) -> None:
        """Remove a label from an issue or pull request as ``actor`` (an ``unlabeled`` event)."""
        with self._lock:
            target = self.repo(repo)
            current = target.labels.setdefault(number, [])
            kept = [c for c in current if c.lower() != name.lower()]
            if kept != current:
                target.labels[number] = kept
                target.events.append(
                    IssueEvent(self._next_id(), number, "unlabeled", name, actor, self.clock())
                )

    def add_comment(
        self, number: int, body: str, *, user: str = "octocat", repo: str | None = None
    ) -> Comment:
        """Seed a comment on an issue or pull request (as if written earlier)."""
        with self._lock:
            now = self.clock()
            comment = Comment(self._next_id(), number, body, user, now, now)
            self.repo(repo).comments[comment.id] = comment
            return comment

    def edit_comment(self, comment_id: int, body: str, *, repo: str | None = None) -> None:
        """Someone with the rights to (a maintainer, a compromised token) edits a comment."""
        with self._lock:
            comment = self.repo(repo).comments[comment_id]
            comment.body, comment.updated_at = body, self.clock()

    def delete_comment(self, comment_id: int, *, repo: str | None = None) -> None:
        """Someone deletes a comment."""
        with self._lock:
            del self.repo(repo).comments[comment_id]

    def push(self, number: int, head_sha: str, *, repo: str | None = None) -> None:
        """A new commit on a pull request's branch: its head moves."""
        with self._lock:
            target = self.repo(repo)
            pull = target.pulls[number]
            pull.head_sha = head_sha
            owner = self.repo(pull.head_repo) if pull.head_repo else target
            owner.branches[pull.head_ref] = head_sha

    def add_workflow_run(
        self,
        *,
        head_sha: str,
        head_branch: str | None = "feature",
        workflow_id: int = 161335,
        name: str = "CI",
        path: str = ".github/workflows/ci.yml",
        event: str = "pull_request",
        status: str = "completed",
        conclusion: str | None = "success",
        pull_requests: Sequence[int] = (),
        run_number: int | None = None,
        run_attempt: int = 1,
        actor: str = "octocat",
        id: int | None = None,  # noqa: A002 - GitHub's field name
        repo: str | None = None,
    ) -> WorkflowRun:
        """Configure a workflow run, listed by the Actions endpoints."""
        with self._lock:
            target = self.repo(repo)
            run = WorkflowRun(
                id=id or self._next_id(),
                head_sha=head_sha,
                head_branch=head_branch,
                workflow_id=workflow_id,
                name=name,
                path=path,
                event=event,
                status=status,
                conclusion=conclusion,
                run_number=run_number or len(target.workflow_runs) + 1,
                run_attempt=run_attempt,
                pull_requests=list(pull_requests),
                actor=actor,
            )
            target.workflow_runs[run.id] = run
            return run

    # -- faults --------------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 502,
        method: str | None = None,
        path: str | None = None,
        operation: str | None = None,
        message: str = "Server Error",
    ) -> Fault:
        """Answer the next ``count`` matching requests with ``status`` (default 502).

        ``method``, ``path`` (a regex searched in the request path) and ``operation``
        (an ``operationId``) narrow the requests concerned.
        """
        return self._add_fault(
            Fault(
                status,
                count,
                message,
                method.upper() if method else None,
                re.compile(path) if path else None,
                operation,
                label=f"injected {status}",
            )
        )

    def rate_limit_next(
        self,
        count: int = 1,
        *,
        retry_after: int = 60,
        method: str | None = None,
        path: str | None = None,
        operation: str | None = None,
    ) -> Fault:
        """Answer the next ``count`` matching requests with a secondary rate limit (403)."""
        message = (
            "You have exceeded a secondary rate limit. Please wait a few minutes before you "
            "try again. If you reach out to GitHub Support for help, please include the "
            "request ID 0000:0000:0000000:0000000:00000000."
        )
        return self._add_fault(
            Fault(
                403,
                count,
                message,
                method.upper() if method else None,
                re.compile(path) if path else None,
                operation,
                retry_after=retry_after,
                label="secondary rate limit",
            )
        )

    def hang_next(
        self,
        count: int = 1,
        *,
        method: str | None = None,
        path: str | None = None,
        operation: str | None = None,
    ) -> Fault:
        """Leave the next ``count`` matching requests unanswered: the client's timeout fires.

        The connection is closed when the fake stops; nothing is recorded in
        :attr:`requests` (there was no exchange), the request is listed in :attr:`hung`.
        """
        fault = Fault(
            0,
            count,
            "",
            method.upper() if method else None,
            re.compile(path) if path else None,
            operation,
            label="hang",
        )
        with self._lock:
            self.hangs.append(fault)
        return fault

    def _hang(self, method: str, target: str) -> bool:
        path = urlsplit(target).path
        with self._lock:
            match = self.spec.match(method, path)
            operation = match.operation.operation_id if match else None
            fault = next((f for f in self.hangs if f.matches(method, path, operation)), None)
            if fault is None:
                return False
            fault.remaining -= 1
            self.hung.append(f"{method} {path}")
        self._released.wait()
        return True

    def _add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    # -- observation ---------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every exchange so far, in order."""
        with self._lock:
            return list(self._records)

    def writes(self) -> list[RecordedRequest]:
        """The non-GET exchanges."""
        return [r for r in self.requests if r.is_write]

    def calls(self, operation_id: str) -> list[RecordedRequest]:
        """The exchanges routed to one operation (e.g. ``issues/create-comment``)."""
        return [r for r in self.requests if r.operation_id == operation_id]

    @property
    def violations(self) -> list[Violation]:
        with self._lock:
            return list(self._violations)

    def take_violations(self) -> list[Violation]:
        """Return and forget the violations so far (for tests that provoke them).

        A request for an operation the fake does not implement is never taken: it
        fails the test whatever the test expected, so that a new use is noticed.
        """
        with self._lock:
            taken = [v for v in self._violations if v.kind != NOT_IMPLEMENTED]
            self._violations = [v for v in self._violations if v.kind == NOT_IMPLEMENTED]
            return taken

    # -- what a user sees: GitHub's JSON, as its REST API renders it ---------------

    def comments(self, number: int | None = None, repo: str | None = None) -> list[dict[str, Any]]:
        """The comments of an issue or pull request (None: of every one), oldest first."""
        with self._lock:
            target = self.repo(repo)
            found = (
                target.comments_on(number)
                if number is not None
                else sorted(target.comments.values(), key=lambda c: c.id)
            )
            return [self.comment_json(target, c) for c in found]

    def statuses(self, ref: str | None = None, repo: str | None = None) -> list[dict[str, Any]]:
        """The statuses of a commit (SHA or branch; None: of every commit), newest first."""
        with self._lock:
            target = self.repo(repo)
            sha = target.resolve_ref(ref) if ref is not None else None
            found = sorted(
                (s for s in target.statuses if ref is None or s.sha == sha),
                key=lambda s: s.id,
                reverse=True,
            )
            return [self.status_json(target, s) for s in found]

    def check_runs(self, ref: str, repo: str | None = None) -> list[dict[str, Any]]:
        """The check runs of a commit (SHA or branch), newest first (``check-run``)."""
        with self._lock:
            target = self.repo(repo)
            sha = target.resolve_ref(ref)
            found = sorted(
                (r for r in target.check_runs.values() if r.head_sha == sha),
                key=lambda r: r.id,
                reverse=True,
            )
            return [self.check_run_json(target, r) for r in found]

    def labels(self, number: int, repo: str | None = None) -> list[str]:
        """The names of the labels on an issue or pull request, as its page lists them."""
        with self._lock:
            return [label["name"] for label in self._labels_json(self.repo(repo), number)]

    def reactions(self, comment_id: int, repo: str | None = None) -> list[str]:
        """The reactions to a comment, in the order they were given (their ``content``)."""
        with self._lock:
            target = self.repo(repo)
            return [
                self.reaction_json(r)["content"]
                for r in target.reactions
                if r.comment_id == comment_id
            ]

    def workflow_run(self, run_id: int, repo: str | None = None) -> dict[str, Any]:
        """A workflow run as it is now (``workflow-run``): a re-run shows a new attempt."""
        with self._lock:
            target = self.repo(repo)
            return self.workflow_run_json(target, target.workflow_runs[run_id])

    def deployments(self, repo: str | None = None) -> list[dict[str, Any]]:
        """The deployments, newest first (``deployment``), each with its ``statuses``.

        ``statuses`` (newest first, ``deployment-status``) is what the environment's
        page shows under each deployment; it is not a field of GitHub's object.
        """
        with self._lock:
            target = self.repo(repo)
            out = []
            for dep in sorted(target.deployments.values(), key=lambda d: d.id, reverse=True):
                data = self.deployment_json(target, dep)
                data["statuses"] = [
                    self.deployment_status_json(target, st)
                    for st in sorted(target.deployment_statuses, key=lambda st: st.id, reverse=True)
                    if st.deployment_id == dep.id
                ]
                out.append(data)
            return out

    def violation_report(self) -> str:
        lines = [f"{len(self.violations)} violation(s) of GitHub's OpenAPI description:"]
        lines += [f"  - {v}" for v in self.violations]
        return "\n".join(lines)

    # -- request processing --------------------------------------------------------

    def _identify(
        self, headers: Sequence[tuple[str, str]]
    ) -> tuple[str | None, TokenIdentity | None]:
        """The token of an ``Authorization: token X`` / ``Bearer X`` header and its identity."""
        for name, value in headers:
            if name.lower() == "authorization":
                scheme, _, token = value.strip().partition(" ")
                if scheme.lower() in ("token", "bearer") and token.strip():
                    token = token.strip()
                    return token, self.tokens.get(token, self.default_identity)
        return None, None

    def _process(
        self, method: str, target: str, headers: list[tuple[str, str]], raw: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        split = urlsplit(target)
        path = split.path
        query = parse_qsl(split.query, keep_blank_values=True)
        exchange = Exchange(method, path, query, headers, raw or None)
        token, identity = self._identify(headers)
        with self._lock:
            violations: list[Violation] = []
            match = self.spec.match(method, path)
            fault_label = None
            if match is None:
                violations.append(
                    Violation(
                        "unknown-operation",
                        method,
                        path,
                        "no operation in GitHub's OpenAPI description for this method and path",
                    )
                )
                reply = self._error_reply(ApiError(404, "Not Found"))
            else:
                violations += self.spec.validate_request(match, exchange)
                fault = next(
                    (
                        f
                        for f in self.faults
                        if f.matches(method, path, match.operation.operation_id)
                    ),
                    None,
                )
                if fault is not None:
                    fault.remaining -= 1
                    fault_label = fault.label
                    reply = self._error_reply(ApiError(fault.status, fault.message))
                    if fault.retry_after is not None:
                        reply.headers["Retry-After"] = str(fault.retry_after)
                else:
                    reply = self._dispatch(match, exchange, identity, violations)
            reply.headers.setdefault("Content-Type", "application/json; charset=utf-8")
            reply.headers.update(self._standard_headers())
            payload = b"" if reply.body is None else json.dumps(reply.body).encode()
            if reply.body is None:
                reply.headers.pop("Content-Type")
            exchange.status = reply.status
            exchange.response_headers = list(reply.headers.items())
            exchange.response_body = payload or None
            violations = [replace(v, status=reply.status) for v in violations]
            if match is not None:
                violations += self.spec.validate_response(match, exchange)
            self._records.append(
                RecordedRequest(
                    seq=len(self._records) + 1,
                    method=method,
                    path=path,
                    query=dict(query),
                    headers=_header_subset(headers),
                    body=_json_or_text(raw),
                    status=reply.status,
                    response=reply.body,
                    response_headers={
                        k: v
                        for k, v in reply.headers.items()
                        if k in ("Content-Type", "Link", "Location", "Retry-After")
                    },
                    operation_id=match.operation.operation_id if match else None,
                    token=token,
                    login=identity.login if identity else None,
                    fault=fault_label,
                    violations=tuple(violations),
                )
            )
            self._violations += violations
            return reply.status, reply.headers, payload

    def _crashed(self, method: str, target: str, trace: str) -> None:
        with self._lock:
            self._violations.append(
                Violation("fake-error", method, urlsplit(target).path, trace, 500)
            )

    def _standard_headers(self) -> dict[str, str]:
        return {
            "X-GitHub-Media-Type": "github.v3; format=json",
            "X-GitHub-Api-Version-Selected": "2022-11-28",
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": "4999",
            "X-RateLimit-Reset": str(int(self.clock().timestamp()) + 3600),
            "X-RateLimit-Used": "1",
            "X-RateLimit-Resource": "core",
        }

    def _dispatch(
        self,
        match: Match,
        exchange: Exchange,
        identity: TokenIdentity | None,
        violations: list[Violation],
    ) -> Reply:
        """Answer a routed request; ``violations`` holds those of the request so far."""
        op = match.operation
        invalid = bool(violations)
        handler = _HANDLERS.get(op.operation_id)
        if handler is None:
            # mlci uses an operation the fake does not implement: answer as GitHub answers a
            # route it does not know, and make the test fail (it is a new use of the API)
            violations.append(
                Violation(
                    NOT_IMPLEMENTED,
                    exchange.method,
                    exchange.path,
                    f"{op.operation_id} is a GitHub operation the fake does not implement: "
                    "mlci uses a new part of the API; implement it in tests/ghfake/server.py "
                    "(a @handles function) and test it in tests/test_ghfake.py",
                    None,
                    op.operation_id,
                )
            )
            return self._error_reply(ApiError(404, "Not Found"))
        try:
            if identity is None:
                raise ApiError(401, "Requires authentication")
            try:
                body = json.loads(exchange.body) if exchange.body else None
            except ValueError:
                raise ApiError(400, "Problems parsing JSON") from None
            if invalid:
                details = "; ".join(v.message for v in violations)
                raise ApiError(422, f"Invalid request.\n\n{details}")
            repo = self._find_repo(match.params)
            if exchange.method != "GET" and (repo.read_only or identity.read_only):
                raise ApiError(403, INTEGRATION_FORBIDDEN)
            call = Call(
                exchange.method, exchange.path, match.params, exchange.query, body, identity, repo
            )
            return handler(self, call)
        except ApiError as error:
            return self._error_reply(error, op.docs_url)
        except Exception:  # a bug of the fake: make the test fail with the traceback
            violations.append(
                Violation(
                    "fake-error",
                    exchange.method,
                    exchange.path,
                    traceback.format_exc(),
                    500,
                    op.operation_id,
                )
            )
            return self._error_reply(ApiError(500, "Server Error"))

    def _find_repo(self, params: Mapping[str, str]) -> Repo:
        if "owner" not in params or "repo" not in params:
            return Repo("-/-", 0)  # an operation outside repositories
        try:
            return self.repo(f"{params['owner']}/{params['repo']}")
        except KeyError:
            raise ApiError(404, "Not Found") from None

    @staticmethod
    def _error_reply(error: ApiError, docs_url: str | None = None) -> Reply:
        body: dict[str, Any] = {"message": error.message, "documentation_url": docs_url or DOCS}
        if error.errors is not None:
            body["errors"] = error.errors
        body["status"] = str(error.status)
        return Reply(error.status, body)

    # -- rendering -----------------------------------------------------------------

    def _api(self, repo: Repo) -> str:
        return f"{self.url}/repos/{repo.full_name}"

    def _html(self, repo: Repo) -> str:
        return f"{self.server_url}/{repo.full_name}"

    def account_id(self, login: str) -> int:
        """A stable account id for a login."""
        known = _KNOWN_ACCOUNT_IDS.get(login)
        return known or int(hashlib.sha1(login.encode()).hexdigest()[:7], 16) + 100_000

    def user_json(self, login: str) -> dict[str, Any]:
        """A ``simple-user`` object."""
        uid = self.account_id(login)
        api = f"{self.url}/users/{quote(login)}"
        is_bot = login.endswith("[bot]")
        kind = "Bot" if is_bot else "Organization" if login in self.organizations else "User"
        html = f"{self.server_url}/apps/{login[:-5]}" if is_bot else f"{self.server_url}/{login}"
        return {
            "login": login,
            "id": uid,
            "node_id": _node_id("BOT" if is_bot else "U", uid),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
            "gravatar_id": "",
            "url": api,
            "html_url": html,
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": kind,
            "user_view_type": "public",
            "site_admin": False,
        }

    def app_json(self) -> dict[str, Any]:
        """The GitHub Actions app (``integration``), author of check runs."""
        now = _ts(datetime(2018, 7, 30, 9, 30, 17, tzinfo=timezone.utc))
        return {
            "id": 15368,
            "slug": "github-actions",
            "node_id": "MDM6QXBwMTUzNjg=",
            "client_id": "Iv1.05c79e9ad1f6bdfa",
            "owner": self.user_json("github"),
            "name": "GitHub Actions",
            "description": "Automate your workflow from idea to production",
            "external_url": "https://help.github.com/en/actions",
            "html_url": f"{self.server_url}/apps/github-actions",
            "created_at": now,
            "updated_at": now,
            "permissions": {
                "checks": "write",
                "contents": "write",
                "pull_requests": "write",
                "statuses": "write",
                "deployments": "write",
                "issues": "write",
            },
            "events": ["check_run", "check_suite", "pull_request", "push", "workflow_run"],
        }

    def repo_json(self, repo: Repo) -> dict[str, Any]:
        """A repository object (valid as ``full-repository``, ``repository`` and
        ``minimal-repository``)."""
        api, html, name = self._api(repo), self._html(repo), repo.full_name
        created = _ts(repo.created_at)
        data: dict[str, Any] = {
            "id": repo.id,
            "node_id": _node_id("R", repo.id),
            "name": repo.name,
            "full_name": name,
            "owner": self.user_json(repo.owner),
            "private": repo.private,
            "html_url": html,
            "description": repo.description,
            "fork": repo.fork_of is not None,
            "url": api,
            "archive_url": f"{api}/{{archive_format}}{{/ref}}",
            "assignees_url": f"{api}/assignees{{/user}}",
            "blobs_url": f"{api}/git/blobs{{/sha}}",
            "branches_url": f"{api}/branches{{/branch}}",
            "collaborators_url": f"{api}/collaborators{{/collaborator}}",
            "comments_url": f"{api}/comments{{/number}}",
            "commits_url": f"{api}/commits{{/sha}}",
            "compare_url": f"{api}/compare/{{base}}...{{head}}",
            "contents_url": f"{api}/contents/{{+path}}",
            "contributors_url": f"{api}/contributors",
            "deployments_url": f"{api}/deployments",
            "downloads_url": f"{api}/downloads",
            "events_url": f"{api}/events",
            "forks_url": f"{api}/forks",
            "git_commits_url": f"{api}/git/commits{{/sha}}",
            "git_refs_url": f"{api}/git/refs{{/sha}}",
            "git_tags_url": f"{api}/git/tags{{/sha}}",
            "git_url": f"git://github.com/{name}.git",
            "issue_comment_url": f"{api}/issues/comments{{/number}}",
            "issue_events_url": f"{api}/issues/events{{/number}}",
            "issues_url": f"{api}/issues{{/number}}",
            "keys_url": f"{api}/keys{{/key_id}}",
            "labels_url": f"{api}/labels{{/name}}",
            "languages_url": f"{api}/languages",
            "merges_url": f"{api}/merges",
            "milestones_url": f"{api}/milestones{{/number}}",
            "notifications_url": f"{api}/notifications{{?since,all,participating}}",
            "pulls_url": f"{api}/pulls{{/number}}",
            "releases_url": f"{api}/releases{{/id}}",
            "ssh_url": f"git@github.com:{name}.git",
            "stargazers_url": f"{api}/stargazers",
            "statuses_url": f"{api}/statuses/{{sha}}",
            "subscribers_url": f"{api}/subscribers",
            "subscription_url": f"{api}/subscription",
            "tags_url": f"{api}/tags",
            "teams_url": f"{api}/teams",
            "trees_url": f"{api}/git/trees{{/sha}}",
            "clone_url": f"{html}.git",
            "mirror_url": None,
            "hooks_url": f"{api}/hooks",
            "svn_url": html,
            "homepage": None,
            "language": "Python",
            "forks_count": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "size": 1024,
            "default_branch": repo.default_branch,
            "open_issues_count": sum(1 for p in repo.pulls.values() if p.state == "open"),
            "is_template": False,
            "topics": [],
            "has_issues": True,
            "has_projects": True,
            "has_wiki": True,
            "has_pages": False,
            "has_downloads": True,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "visibility": "private" if repo.private else "public",
            "pushed_at": created,
            "created_at": created,
            "updated_at": created,
            "allow_forking": True,
            "web_commit_signoff_required": False,
            "license": None,
            "forks": 0,
            "open_issues": 0,
            "watchers": 0,
            "network_count": 0,
            "subscribers_count": 0,
        }
        data["open_issues"] = data["open_issues_count"]
        return data

    def _association(self, repo: Repo, login: str) -> str:
        if login == repo.owner:
            return "OWNER"
        if _ROLE_RANK.index(repo.permissions.get(login, "none")) >= _ROLE_RANK.index("write"):
            return "COLLABORATOR"
        return "NONE"

    def _is_pull(self, repo: Repo, number: int) -> bool:
        return number in repo.pulls

    def comment_json(self, repo: Repo, comment: Comment) -> dict[str, Any]:
        api = self._api(repo)
        kind = "pull" if self._is_pull(repo, comment.issue_number) else "issues"
        url = f"{api}/issues/comments/{comment.id}"
        return {
            "id": comment.id,
            "node_id": _node_id("IC", comment.id),
            "url": url,
            "html_url": f"{self._html(repo)}/{kind}/{comment.issue_number}"
            f"#issuecomment-{comment.id}",
            "body": comment.body,
            "user": self.user_json(comment.user),
            "created_at": _ts(comment.created_at),
            "updated_at": _ts(comment.updated_at),
            "issue_url": f"{api}/issues/{comment.issue_number}",
            "author_association": self._association(repo, comment.user),
            "performed_via_github_app": None,
            "reactions": self._reaction_rollup(repo, comment.id, f"{url}/reactions"),
        }

    @staticmethod
    def _reaction_rollup(repo: Repo, comment_id: int, url: str) -> dict[str, Any]:
        counts = {
            key: 0 for key in ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket")
        }
        for reaction in repo.reactions:
            if reaction.comment_id == comment_id:
                counts[reaction.content] += 1
        return {"url": url, "total_count": sum(counts.values()), **counts}

    def reaction_json(self, reaction: Reaction) -> dict[str, Any]:
        return {
            "id": reaction.id,
            "node_id": _node_id("REA", reaction.id),
            "user": self.user_json(reaction.user),
            "content": reaction.content,
            "created_at": _ts(reaction.created_at),
        }

    def label_json(self, repo: Repo, name: str) -> dict[str, Any]:
        ident = int(hashlib.sha1(f"{repo.full_name}:{name}".encode()).hexdigest()[:8], 16)
        return {
            "id": ident,
            "node_id": _node_id("LA", ident),
            "url": f"{self._api(repo)}/labels/{quote(name, safe='')}",
            "name": name,
            # "" rather than null: the label items of pulls/list (pull-request-simple)
            # declare a non-nullable string, unlike the label schema elsewhere.
            "description": "",
            "color": "ededed",
            "default": False,
        }

    def issue_event_json(self, repo: Repo, event: IssueEvent) -> dict[str, Any]:
        return {
            "id": event.id,
            "node_id": _node_id("LE" if event.event == "labeled" else "UNLE", event.id),
            "url": f"{self._api(repo)}/issues/events/{event.id}",
            "actor": self.user_json(event.actor),
            "event": event.event,
            "commit_id": None,
            "commit_url": None,
            "created_at": _ts(event.created_at),
            "performed_via_github_app": None,
            "label": {"name": event.label, "color": self.label_json(repo, event.label)["color"]},
        }

    def status_json(self, repo: Repo, status: CommitStatus) -> dict[str, Any]:
        creator = self.user_json(status.creator)
        return {
            "url": f"{self._api(repo)}/statuses/{status.sha}",
            "avatar_url": creator["avatar_url"],
            "id": status.id,
            "node_id": _node_id("SC", status.id),
            "state": status.state,
            "description": status.description,
            "target_url": status.target_url,
            "context": status.context,
            "created_at": _ts(status.created_at),
            "updated_at": _ts(status.created_at),
            "creator": creator,
        }

    def _pull_minimal(self, repo: Repo, pull: PullRequest) -> dict[str, Any]:
        head_repo = self.repo(pull.head_repo) if pull.head_repo else repo

        def side(ref: str, sha: str, where: Repo) -> dict[str, Any]:
            return {
                "ref": ref,
                "sha": sha,
                "repo": {"id": where.id, "url": self._api(where), "name": where.name},
            }

        return {
            "id": pull.id,
            "number": pull.number,
            "url": f"{self._api(repo)}/pulls/{pull.number}",
            "head": side(pull.head_ref, pull.head_sha, head_repo),
            "base": side(pull.base_ref, pull.base_sha, repo),
        }

    def check_run_json(self, repo: Repo, run: CheckRun) -> dict[str, Any]:
        api = self._api(repo)
        html = f"{self._html(repo)}/runs/{run.id}"
        output = {
            "title": run.output.get("title"),
            "summary": run.output.get("summary"),
            "text": run.output.get("text"),
            "annotations_count": len(run.output.get("annotations") or []),
            "annotations_url": f"{api}/check-runs/{run.id}/annotations",
        }
        pulls = [
            self._pull_minimal(repo, p)
            for p in repo.pulls.values()
            if p.head_sha == run.head_sha and p.state == "open"
        ]
        return {
            "id": run.id,
            "head_sha": run.head_sha,
            "node_id": _node_id("CR", run.id),
            "external_id": run.external_id or "",
            "url": f"{api}/check-runs/{run.id}",
            "html_url": html,
            "details_url": run.details_url or html,
            "status": run.status,
            "conclusion": run.conclusion,
            "started_at": _ts(run.started_at),
            "completed_at": _ts(run.completed_at),
            "output": output,
            "name": run.name,
            "check_suite": {"id": run.check_suite_id},
            "app": self.app_json(),
            "pull_requests": pulls,
        }

    def _labels_json(self, repo: Repo, number: int) -> list[dict[str, Any]]:
        return [self.label_json(repo, name) for name in repo.labels.get(number, [])]

    def pull_json(self, repo: Repo, pull: PullRequest) -> dict[str, Any]:
        api, html, n = self._api(repo), self._html(repo), pull.number
        head_repo = self.repo(pull.head_repo) if pull.head_repo else repo
        url = f"{api}/pulls/{n}"

        def side(ref: str, sha: str, where: Repo) -> dict[str, Any]:
            return {
                "label": f"{where.owner}:{ref}",
                "ref": ref,
                "sha": sha,
                "user": self.user_json(where.owner),
                "repo": self.repo_json(where),
            }

        def link(href: str) -> dict[str, str]:
            return {"href": href}

        return {
            "url": url,
            "id": pull.id,
            "node_id": _node_id("PR", pull.id),
            "html_url": f"{html}/pull/{n}",
            "diff_url": f"{html}/pull/{n}.diff",
            "patch_url": f"{html}/pull/{n}.patch",
            "issue_url": f"{api}/issues/{n}",
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{api}/pulls/comments{{/number}}",
            "comments_url": f"{api}/issues/{n}/comments",
            "statuses_url": f"{api}/statuses/{pull.head_sha}",
            "number": n,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "user": self.user_json(pull.user),
            "body": pull.body,
            "labels": self._labels_json(repo, n),
            "milestone": None,
            "active_lock_reason": None,
            "created_at": _ts(pull.created_at),
            "updated_at": _ts(pull.created_at),
            "closed_at": None,
            "merged_at": None,
            "merge_commit_sha": None,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": side(pull.head_ref, pull.head_sha, head_repo),
            "base": side(pull.base_ref, pull.base_sha, repo),
            "_links": {
                "self": link(url),
                "html": link(f"{html}/pull/{n}"),
                "issue": link(f"{api}/issues/{n}"),
                "comments": link(f"{api}/issues/{n}/comments"),
                "review_comments": link(f"{url}/comments"),
                "review_comment": link(f"{api}/pulls/comments{{/number}}"),
                "commits": link(f"{url}/commits"),
                "statuses": link(f"{api}/statuses/{pull.head_sha}"),
            },
            "author_association": self._association(repo, pull.user),
            "auto_merge": None,
            "draft": pull.draft,
            "merged": pull.merged,
            "mergeable": True,
            "rebaseable": True,
            "mergeable_state": "clean",
            "merged_by": None,
            "comments": len(repo.comments_on(n)),
            "review_comments": 0,
            "maintainer_can_modify": False,
            "commits": 1,
            "additions": 10,
            "deletions": 2,
            "changed_files": 1,
        }

    def workflow_run_json(self, repo: Repo, run: WorkflowRun) -> dict[str, Any]:
        api, html = self._api(repo), self._html(repo)
        url = f"{api}/actions/runs/{run.id}"
        head_repo = self.repo(run.head_repo) if run.head_repo else repo
        suite_id = run.id + 7_000_000_000
        pulls = [
            self._pull_minimal(repo, repo.pulls[n]) for n in run.pull_requests if n in repo.pulls
        ]
        actor = self.user_json(run.actor)
        return {
            "id": run.id,
            "name": run.name,
            "node_id": _node_id("WFR", run.id),
            "check_suite_id": suite_id,
            "check_suite_node_id": _node_id("CS", suite_id),
            "head_branch": run.head_branch,
            "head_sha": run.head_sha,
            "path": run.path,
            "display_title": run.display_title,
            "run_number": run.run_number,
            "run_attempt": run.run_attempt,
            "referenced_workflows": [],
            "event": run.event,
            "status": run.status,
            "conclusion": run.conclusion,
            "workflow_id": run.workflow_id,
            "url": url,
            "html_url": f"{html}/actions/runs/{run.id}",
            "pull_requests": pulls,
            "created_at": _ts(run.created_at),
            "updated_at": _ts(run.updated_at),
            "actor": actor,
            "triggering_actor": actor,
            "run_started_at": _ts(run.created_at),
            "jobs_url": f"{url}/jobs",
            "logs_url": f"{url}/logs",
            "check_suite_url": f"{api}/check-suites/{suite_id}",
            "artifacts_url": f"{url}/artifacts",
            "cancel_url": f"{url}/cancel",
            "rerun_url": f"{url}/rerun",
            "previous_attempt_url": (
                f"{url}/attempts/{run.run_attempt - 1}" if run.run_attempt > 1 else None
            ),
            "workflow_url": f"{api}/actions/workflows/{run.workflow_id}",
            "head_commit": {
                "id": run.head_sha,
                "tree_id": fake_sha(f"tree:{run.head_sha}"),
                "message": run.display_title,
                "timestamp": _ts(run.created_at),
                "author": {"name": run.actor, "email": f"{run.actor}@users.noreply.github.com"},
                "committer": {"name": "GitHub", "email": "noreply@github.com"},
            },
            "repository": self.repo_json(repo),
            "head_repository": self.repo_json(head_repo),
            "head_repository_id": head_repo.id,
        }

    def deployment_json(self, repo: Repo, dep: Deployment) -> dict[str, Any]:
        api = self._api(repo)
        return {
            "url": f"{api}/deployments/{dep.id}",
            "id": dep.id,
            "node_id": _node_id("DE", dep.id),
            "sha": dep.sha,
            "ref": dep.ref,
            "task": dep.task,
            "payload": dep.payload,
            "original_environment": dep.environment,
            "environment": dep.environment,
            "description": dep.description,
            "creator": self.user_json(dep.creator),
            "created_at": _ts(dep.created_at),
            "updated_at": _ts(dep.created_at),
            "statuses_url": f"{api}/deployments/{dep.id}/statuses",
            "repository_url": api,
            "transient_environment": dep.transient_environment,
            "production_environment": dep.production_environment,
            "performed_via_github_app": None,
        }

    def deployment_status_json(self, repo: Repo, st: DeploymentStatus) -> dict[str, Any]:
        api = self._api(repo)
        return {
            "url": f"{api}/deployments/{st.deployment_id}/statuses/{st.id}",
            "id": st.id,
            "node_id": _node_id("DES", st.id),
            "state": st.state,
            "creator": self.user_json(st.creator),
            "description": st.description,
            "environment": st.environment,
            "target_url": st.target_url,
            "created_at": _ts(st.created_at),
            "updated_at": _ts(st.created_at),
            "deployment_url": f"{api}/deployments/{st.deployment_id}",
            "repository_url": api,
            "environment_url": st.environment_url,
            "log_url": st.log_url,
            "performed_via_github_app": None,
        }

    def paginate(
        self,
        call: Call,
        items: Sequence[Any],
        key: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Reply:
        """A page of ``items`` by ``per_page``/``page``, with GitHub's ``Link`` header.

        ``key`` wraps the page as ``{"total_count": N, key: [...]}`` (check runs,
        workflow runs).
        """
        try:
            per_page = max(1, min(100, int(call.arg("per_page", "30") or 30)))
            page = max(1, int(call.arg("page", "1") or 1))
        except ValueError:
            per_page, page = 30, 1
        chunk = list(items[(page - 1) * per_page : page * per_page])
        last = max(1, math.ceil(len(items) / per_page))
        links = []

        def page_url(number: int) -> str:
            query = [(k, v) for k, v in call.query if k not in ("page", "per_page")]
            query += [("per_page", str(per_page)), ("page", str(number))]
            return f"{self.url}{call.path}?{urlencode(query)}"

        if page > 1:
            links += [
                f'<{page_url(min(page - 1, last))}>; rel="prev"',
                f'<{page_url(1)}>; rel="first"',
            ]
        if page < last:
            links += [f'<{page_url(page + 1)}>; rel="next"', f'<{page_url(last)}>; rel="last"']
        headers = {"Link": ", ".join(links)} if links else {}
        body: Any = (
            chunk if key is None else {"total_count": len(items), key: chunk, **(extra or {})}
        )
        return Reply(200, body, headers)

    def _require_issue(self, repo: Repo, number: int) -> None:
        if number not in repo.issue_numbers():
            raise ApiError(404, "Not Found")

    def _comment(self, call: Call) -> Comment:
        comment = call.repo.comments.get(call.int_param("comment_id"))
        if comment is None:
            raise ApiError(404, "Not Found")
        return comment

    def _sha_for(self, repo: Repo, ref: str) -> str:
        sha = repo.resolve_ref(ref)
        if sha is None:
            raise ApiError(422, f"No commit found for SHA: {ref}")
        return sha

    def combined_state(self, repo: Repo, sha: str) -> tuple[str, list[CommitStatus]]:
        """The combined state and the latest status per context of a commit."""
        latest: dict[str, CommitStatus] = {}
        for status in sorted((s for s in repo.statuses if s.sha == sha), key=lambda s: s.id):
            latest[status.context.lower()] = status
        states = {s.state for s in latest.values()}
        if states & {"error", "failure"}:
            state = "failure"
        elif "pending" in states or not states:
            state = "pending"
        else:
            state = "success"
        return state, sorted(latest.values(), key=lambda s: s.id, reverse=True)


# --------------------------------------------------------------------------------------
# Handlers, one per operation of GitHub's description
# --------------------------------------------------------------------------------------


@handles("users/get-authenticated")
def _get_user(fake: GitHubFake, call: Call) -> Reply:
    if call.identity.kind == "installation":
        raise ApiError(403, INTEGRATION_FORBIDDEN)
    now = _ts(_utcnow())
    data = fake.user_json(call.identity.login)
    data.update(
        {
            "user_view_type": "private",
            "name": call.identity.login,
            "company": None,
            "blog": "",
            "location": None,
            "email": None,
            "hireable": None,
            "bio": None,
            "public_repos": 1,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": now,
            "updated_at": now,
            "private_gists": 0,
            "total_private_repos": 0,
            "owned_private_repos": 0,
            "disk_usage": 0,
            "collaborators": 0,
            "two_factor_authentication": True,
        }
    )
    return Reply(200, data)


# Issues, pull requests and their comments --------------------------------------------


@handles("pulls/get")
def _get_pull(fake: GitHubFake, call: Call) -> Reply:
    pull = call.repo.pulls.get(call.int_param("pull_number"))
    if pull is None:
        raise ApiError(404, "Not Found")
    return Reply(200, fake.pull_json(call.repo, pull))


@handles("pulls/list")
def _list_pulls(fake: GitHubFake, call: Call) -> Reply:
    state = call.arg("state", "open")
    head, base = call.arg("head"), call.arg("base")
    pulls = []
    for pull in sorted(call.repo.pulls.values(), key=lambda p: p.number, reverse=True):
        owner = (pull.head_repo or call.repo.full_name).split("/")[0]
        if state != "all" and pull.state != state:
            continue
        if head and head not in (f"{owner}:{pull.head_ref}",):
            continue
        if base and base != pull.base_ref:
            continue
        pulls.append(fake.pull_json(call.repo, pull))
    return fake.paginate(call, pulls)


@handles("issues/list-comments")
def _list_comments(fake: GitHubFake, call: Call) -> Reply:
    number = call.int_param("issue_number")
    fake._require_issue(call.repo, number)
    comments = call.repo.comments_on(number)
    since = call.arg("since")
    if since:
        comments = [c for c in comments if (_ts(c.updated_at) or "") >= since]
    return fake.paginate(call, [fake.comment_json(call.repo, c) for c in comments])


@handles("issues/create-comment")
def _create_comment(fake: GitHubFake, call: Call) -> Reply:
    number = call.int_param("issue_number")
    fake._require_issue(call.repo, number)
    now = fake.clock()
    comment = Comment(fake._next_id(), number, call.value("body"), call.identity.login, now, now)
    call.repo.comments[comment.id] = comment
    data = fake.comment_json(call.repo, comment)
    return Reply(201, data, {"Location": data["url"]})


@handles("issues/update-comment")
def _update_comment(fake: GitHubFake, call: Call) -> Reply:
    comment = fake._comment(call)
    comment.body = call.value("body")
    comment.updated_at = fake.clock()
    return Reply(200, fake.comment_json(call.repo, comment))


@handles("reactions/create-for-issue-comment")
def _create_reaction(fake: GitHubFake, call: Call) -> Reply:
    comment = fake._comment(call)
    content, login = call.value("content"), call.identity.login
    for reaction in call.repo.reactions:
        if (reaction.comment_id, reaction.content, reaction.user) == (comment.id, content, login):
            return Reply(200, fake.reaction_json(reaction))
    reaction = Reaction(fake._next_id(), comment.id, content, login, fake.clock())
    call.repo.reactions.append(reaction)
    return Reply(201, fake.reaction_json(reaction))


# Labels -------------------------------------------------------------------------------


def _label_names(body: Any) -> list[str]:
    items = body.get("labels", []) if isinstance(body, dict) else body or []
    if isinstance(items, str):
        items = [items]
    return [item["name"] if isinstance(item, dict) else str(item) for item in items]


@handles("issues/add-labels")
def _add_labels(fake: GitHubFake, call: Call) -> Reply:
    number = call.int_param("issue_number")
    fake._require_issue(call.repo, number)
    for name in _label_names(call.body):
        fake.label(number, name, actor=call.identity.login, repo=call.repo.full_name)
    return Reply(200, fake._labels_json(call.repo, number))


@handles("issues/list-events")
def _list_issue_events(fake: GitHubFake, call: Call) -> Reply:
    number = call.int_param("issue_number")
    fake._require_issue(call.repo, number)
    events = [e for e in call.repo.events if e.issue_number == number]
    return fake.paginate(call, [fake.issue_event_json(call.repo, e) for e in events])


# Collaborators ------------------------------------------------------------------------


@handles("repos/get-collaborator-permission-level")
def _permission(fake: GitHubFake, call: Call) -> Reply:
    login = call.params["username"]
    role = call.repo.permissions.get(login, call.repo.default_permission)
    rank = _ROLE_RANK.index(role)
    user = fake.user_json(login)
    user["permissions"] = {
        "pull": rank >= _ROLE_RANK.index("read"),
        "triage": rank >= _ROLE_RANK.index("triage"),
        "push": rank >= _ROLE_RANK.index("write"),
        "maintain": rank >= _ROLE_RANK.index("maintain"),
        "admin": rank >= _ROLE_RANK.index("admin"),
    }
    user["role_name"] = role
    return Reply(200, {"permission": _ROLE_TO_PERMISSION[role], "role_name": role, "user": user})


# Commit statuses ----------------------------------------------------------------------


@handles("repos/create-commit-status")
def _create_status(fake: GitHubFake, call: Call) -> Reply:
    sha = fake._sha_for(call.repo, call.params["sha"])
    status = CommitStatus(
        id=fake._next_id(),
        sha=sha,
        state=call.value("state"),
        context=call.value("context") or "default",
        description=call.value("description"),
        target_url=call.value("target_url"),
        creator=call.identity.login,
        created_at=fake.clock(),
    )
    call.repo.statuses.append(status)
    data = fake.status_json(call.repo, status)
    return Reply(201, data, {"Location": data["url"]})


# Check runs ---------------------------------------------------------------------------


def _require_checks_write(fake: GitHubFake, call: Call) -> None:
    if not (fake.checks_write and call.identity.checks_write):
        raise ApiError(403, INTEGRATION_FORBIDDEN)


def _apply_check_fields(fake: GitHubFake, run: CheckRun, call: Call) -> None:
    """The fields of a check-run request body; ``completed`` needs a conclusion, as on GitHub."""
    for name in ("name", "details_url", "external_id"):
        if call.value(name) is not None:
            setattr(run, name, call.value(name))
    if call.value("output") is not None:
        run.output = dict(call.value("output"))
    if call.value("started_at"):
        run.started_at = datetime.fromisoformat(call.value("started_at").replace("Z", "+00:00"))
    if call.value("status"):
        run.status = call.value("status")
    if call.value("conclusion"):
        run.conclusion = call.value("conclusion")
        run.status = "completed"
    if call.value("completed_at"):
        run.completed_at = datetime.fromisoformat(call.value("completed_at").replace("Z", "+00:00"))
        run.status = "completed"
    if run.status == "completed":
        if run.conclusion is None:
            raise ApiError(
                422, "Invalid request.\n\n`conclusion` is required when `status` is `completed`."
            )
        run.completed_at = run.completed_at or fake.clock()


@handles("checks/create")
def _create_check_run(fake: GitHubFake, call: Call) -> Reply:
    _require_checks_write(fake, call)
    now = fake.clock()
    run = CheckRun(
        id=fake._next_id(),
        name=call.value("name"),
        head_sha=fake._sha_for(call.repo, call.value("head_sha")),
        status="queued",
        conclusion=None,
        started_at=now,
        completed_at=None,
        details_url=None,
        external_id=None,
        output={},
        creator=call.identity.login,
        check_suite_id=fake._next_id(),
    )
    _apply_check_fields(fake, run, call)
    call.repo.check_runs[run.id] = run
    return Reply(201, fake.check_run_json(call.repo, run))


# Actions workflow runs ----------------------------------------------------------------


@handles("actions/list-workflow-runs-for-repo")
def _list_runs(fake: GitHubFake, call: Call) -> Reply:
    runs = []
    for run in sorted(call.repo.workflow_runs.values(), key=lambda r: r.id, reverse=True):
        if call.arg("head_sha") and run.head_sha != call.arg("head_sha"):
            continue
        if call.arg("branch") and run.head_branch != call.arg("branch"):
            continue
        if call.arg("event") and run.event != call.arg("event"):
            continue
        wanted = call.arg("status")
        if wanted and wanted not in (run.status, run.conclusion):
            continue
        runs.append(run)
    return fake.paginate(
        call, [fake.workflow_run_json(call.repo, r) for r in runs], "workflow_runs"
    )


def _run(call: Call) -> WorkflowRun:
    run = call.repo.workflow_runs.get(call.int_param("run_id"))
    if run is None:
        raise ApiError(404, "Not Found")
    return run


@handles("actions/get-workflow-run")
def _get_run(fake: GitHubFake, call: Call) -> Reply:
    return Reply(200, fake.workflow_run_json(call.repo, _run(call)))


@handles("actions/re-run-workflow")
def _rerun(fake: GitHubFake, call: Call) -> Reply:
    run = _run(call)
    if run.status != "completed":
        raise ApiError(403, "This workflow is already running")
    run.run_attempt += 1
    run.status, run.conclusion = "queued", None
    run.updated_at = fake.clock()
    call.repo.reruns.append(run.id)
    return Reply(201, {})


# Deployments --------------------------------------------------------------------------


@handles("repos/create-deployment")
def _create_deployment(fake: GitHubFake, call: Call) -> Reply:
    repo = call.repo
    ref = call.value("ref")
    sha = fake._sha_for(repo, ref)
    required = call.value("required_contexts")
    state, latest = fake.combined_state(repo, sha)
    contexts = {s.context: s.state for s in latest}
    checked = contexts if required is None else {c: contexts.get(c) for c in required}
    failing = sorted(c for c, s in checked.items() if s != "success")
    if failing:
        return Reply(
            409,
            {
                "message": f"Conflict: Commit status checks failed for {ref}.",
                "documentation_url": "https://docs.github.com/rest/deployments/deployments"
                "#create-a-deployment",
                "status": "409",
            },
        )
    environment = call.value("environment", "production")
    dep = Deployment(
        id=fake._next_id(),
        sha=sha,
        ref=ref,
        task=call.value("task", "deploy"),
        environment=environment,
        description=call.value("description", ""),
        payload=call.value("payload", {}) or {},
        creator=call.identity.login,
        transient_environment=bool(call.value("transient_environment", False)),
        production_environment=bool(
            call.value("production_environment", environment == "production")
        ),
        created_at=fake.clock(),
    )
    repo.deployments[dep.id] = dep
    return Reply(201, fake.deployment_json(repo, dep))


def _deployment(call: Call) -> Deployment:
    dep = call.repo.deployments.get(call.int_param("deployment_id"))
    if dep is None:
        raise ApiError(404, "Not Found")
    return dep


@handles("repos/create-deployment-status")
def _create_deployment_status(fake: GitHubFake, call: Call) -> Reply:
    dep = _deployment(call)
    status = DeploymentStatus(
        id=fake._next_id(),
        deployment_id=dep.id,
        state=call.value("state"),
        description=call.value("description") or "",
        environment=call.value("environment") or dep.environment,
        target_url=call.value("target_url") or call.value("log_url") or "",
        log_url=call.value("log_url") or call.value("target_url") or "",
        environment_url=call.value("environment_url") or "",
        creator=call.identity.login,
        created_at=fake.clock(),
    )
    call.repo.deployment_statuses.append(status)
    data = fake.deployment_status_json(call.repo, status)
    return Reply(201, data, {"Location": data["url"]})


# --------------------------------------------------------------------------------------


_RECORDED_HEADERS = ("accept", "content-type", "user-agent", "x-github-api-version")


def _header_subset(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    subset = {}
    for name, value in headers:
        lower = name.lower()
        if lower in _RECORDED_HEADERS:
            subset[name] = value
        elif lower == "authorization":
            subset[name] = value.split(" ", 1)[0] + " <redacted>"
    return subset


def _json_or_text(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")
