"""Tests of the fake GitHub itself (tests/ghfake), driven mostly through PyGithub."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from github import Auth, Github, GithubException
from urllib3.util.retry import Retry

from mlci.forge.github import api
from tests.ghfake import fixtures, payloads, server
from tests.ghfake.fixtures import check_no_violations, github_fake, github_spec  # noqa: F401
from tests.ghfake.openapi import (
    SPEC_RELPATH,
    Exchange,
    GitHubSpec,
    ReferencesMissing,
    reference_file,
)
from tests.ghfake.server import BOT_LOGIN, GitHubFake, TokenIdentity, implemented_operations

REPO = "octo-org/ml-repo"
HEAD = "a" * 40
BASE = "b" * 40


def client(fake: GitHubFake, token: str = "ghs_actions_token", **kwargs: Any) -> Github:
    """PyGithub on the fake as mlci uses it (lazy objects: no read before a write), without
    PyGithub's write throttling (it sleeps) or retries."""
    kwargs.setdefault("retry", None)
    return Github(
        auth=Auth.Token(token),
        base_url=fake.url,
        seconds_between_requests=0,
        seconds_between_writes=0,
        lazy=True,
        **kwargs,
    )


def raw(
    fake: GitHubFake, method: str, path: str, token: str | None = "ghs_x", **kwargs: Any
) -> requests.Response:
    headers = {"Accept": "application/vnd.github+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, fake.url + path, headers=headers, timeout=10, **kwargs)


@pytest.fixture
def fake(github_fake: GitHubFake) -> GitHubFake:  # noqa: F811 - the imported fixture
    github_fake.add_pull(
        7, head_sha=HEAD, base_sha=BASE, head_ref="exp/lr", labels=["mlci"], user="alice"
    )
    return github_fake


# -- the spec ------------------------------------------------------------------------------


def test_spec_is_the_openapi_30_flavour(github_spec: GitHubSpec) -> None:  # noqa: F811
    assert github_spec.openapi_version.startswith("3.0")
    assert github_spec.nullable_rewrites > 0
    for operation_id in implemented_operations():
        assert github_spec.operation(operation_id) is not None, operation_id


def test_the_fake_implements_what_mlci_calls_and_no_more() -> None:
    assert implemented_operations() == sorted(server.MLCI_OPERATIONS)
    methods = {m for names in server.MLCI_OPERATIONS.values() for m in names.split(", ")}
    assert all(hasattr(api.GitHub, m) for m in methods), "a method of mlci's client was renamed"


def test_multi_segment_refs_are_routed(github_spec: GitHubSpec) -> None:  # noqa: F811
    match = github_spec.match("GET", "/repos/o/r/commits/feature/x/status")
    assert match is not None
    assert match.operation.operation_id == "repos/get-combined-status-for-ref"
    assert match.params["ref"] == "feature/x"
    assert match.spec_path() == "/repos/o/r/commits/feature%2Fx/status"


def test_missing_references_say_how_to_fetch_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("MLCI_GITHUB_REFS", str(tmp_path))
    with pytest.raises(ReferencesMissing, match="scripts/fetch-github-refs"):
        reference_file(SPEC_RELPATH)


def test_fixture_fails_when_references_are_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> GitHubSpec:
        raise ReferencesMissing("reference file missing; run `scripts/fetch-github-refs`")

    monkeypatch.setattr(fixtures, "load_spec", missing)
    with pytest.raises(pytest.fail.Exception, match="scripts/fetch-github-refs"):
        fixtures.spec_or_fail()


# -- comments ------------------------------------------------------------------------------


def test_comments_create_and_edit_with_authors(fake: GitHubFake) -> None:
    fake.add_token("ghp_alice", "alice")
    pull = client(fake).get_repo(REPO).get_pull(7)
    assert (pull.head.sha, pull.head.ref, pull.base.sha, pull.base.ref) == (
        HEAD,
        "exp/lr",
        BASE,
        "main",
    )
    assert [label.name for label in pull.labels] == ["mlci"]
    assert pull.user.login == "alice"
    assert [p.number for p in client(fake).get_repo(REPO).get_pulls(head="octo-org:exp/lr")] == [7]

    issue = client(fake).get_repo(REPO).get_issue(7)
    comment = issue.create_comment("## mlci report\nmetrics: ...")
    assert comment.user.login == BOT_LOGIN
    assert comment.user.type == "Bot"
    issue.get_comment(comment.id).edit("## mlci report\nupdated")
    human = client(fake, "ghp_alice").get_repo(REPO).get_issue(7).create_comment("thanks")
    assert human.user.login == "alice" and human.user.type == "User"

    listed = issue.get_comments()
    assert [(c.user.login, c.body) for c in listed] == [
        (BOT_LOGIN, "## mlci report\nupdated"),
        ("alice", "thanks"),
    ]
    shown = fake.comments(7)
    assert [(c["user"]["login"], c["body"]) for c in shown] == [
        (BOT_LOGIN, "## mlci report\nupdated"),
        ("alice", "thanks"),
    ]
    assert shown[0]["html_url"].endswith(f"/{REPO}/pull/7#issuecomment-{comment.id}")

    writes = [(w.method, w.operation_id, w.login) for w in fake.writes()]
    assert writes == [
        ("POST", "issues/create-comment", BOT_LOGIN),
        ("PATCH", "issues/update-comment", BOT_LOGIN),
        ("POST", "issues/create-comment", "alice"),
    ]
    create = fake.calls("issues/create-comment")[0]
    assert create.body == {"body": "## mlci report\nmetrics: ..."}
    assert create.status == 201 and create.response["id"] == comment.id
    assert create.headers["Authorization"] == "token <redacted>"
    assert create.token == "ghs_actions_token"


def test_comment_pagination_follows_link_header(fake: GitHubFake) -> None:
    for i in range(7):
        fake.add_comment(7, f"comment {i}")
    listed = client(fake, per_page=3).get_repo(REPO).get_issue(7).get_comments()
    assert [c.body for c in listed] == [f"comment {i}" for i in range(7)]

    pages = fake.calls("issues/list-comments")
    assert [(r.query.get("page"), len(r.response)) for r in pages] == [
        (None, 3),
        ("2", 3),
        ("3", 1),
    ]
    first = pages[0].response_headers["Link"]
    assert f'<{fake.url}/repos/{REPO}/issues/7/comments?per_page=3&page=2>; rel="next"' in first
    assert 'page=3>; rel="last"' in first
    assert 'rel="prev"' in pages[2].response_headers["Link"]
    assert 'rel="next"' not in pages[2].response_headers["Link"]


def test_reactions_and_labels(fake: GitHubFake) -> None:
    issue = client(fake).get_repo(REPO).get_issue(7)
    comment = issue.create_comment("report")
    reaction = issue.get_comment(comment.id).create_reaction("rocket")
    assert (reaction.content, reaction.user.login) == ("rocket", BOT_LOGIN)
    again = issue.get_comment(comment.id).create_reaction("rocket")
    assert again.id == reaction.id  # GitHub answers the existing reaction (200), not a second
    assert fake.reactions(comment.id) == ["rocket"]
    assert fake.comments(7)[0]["reactions"]["rocket"] == 1

    issue.add_to_labels("mlci:passed")
    assert fake.labels(7) == ["mlci", "mlci:passed"]

    fake.label(7, "mlci:approve", actor="maintainer")
    events = [
        (e.event, e.label.name, e.actor.login)
        for e in client(fake).get_repo(REPO).get_issue(7).get_events()
    ]
    assert events == [
        ("labeled", "mlci", "alice"),
        ("labeled", "mlci:passed", BOT_LOGIN),
        ("labeled", "mlci:approve", "maintainer"),
    ]


def test_collaborator_permissions(fake: GitHubFake) -> None:
    fake.set_permission("alice", "write")
    fake.set_permission("mallory", "triage")
    repo = client(fake).get_repo(REPO)
    assert repo.get_collaborator_permission("alice") == "write"
    assert repo.get_collaborator_permission("mallory") == "read"
    assert repo.get_collaborator_permission("octo-org") == "admin"
    assert repo.get_collaborator_permission("stranger") == "read"
    answer = fake.calls("repos/get-collaborator-permission-level")[1].response
    assert answer["role_name"] == "triage" and answer["user"]["permissions"]["triage"] is True


# -- statuses and checks ---------------------------------------------------------------------


def test_commit_statuses(fake: GitHubFake) -> None:
    commit = client(fake).get_repo(REPO).get_commit(HEAD)
    commit.create_status("pending", context="mlci/gate", description="running")
    status = commit.create_status(
        "failure",
        target_url="https://ci.example/1",
        description="accuracy dropped",
        context="mlci/gate",
    )
    assert status.creator.login == BOT_LOGIN and status.state == "failure"
    commit.create_status("success", context="mlci/data")
    shown = [(s["context"], s["state"], s["description"]) for s in fake.statuses(HEAD)]
    assert shown == [
        ("mlci/data", "success", None),
        ("mlci/gate", "failure", "accuracy dropped"),
        ("mlci/gate", "pending", "running"),
    ]
    assert fake.statuses("exp/lr") == fake.statuses(HEAD)  # a branch shows its head's statuses


def test_check_runs(fake: GitHubFake) -> None:
    repo = client(fake).get_repo(REPO)
    run = repo.create_check_run(
        "mlci",
        HEAD,
        status="completed",
        conclusion="success",
        output={"title": "mlci", "summary": "all gates passed"},
    )
    assert run.conclusion == "success" and run.pull_requests[0].number == 7
    [shown] = fake.check_runs(HEAD)
    assert (shown["name"], shown["status"], shown["conclusion"]) == ("mlci", "completed", "success")
    assert shown["output"]["summary"] == "all gates passed"
    with pytest.raises(GithubException) as invalid:
        repo.create_check_run("mlci", HEAD, status="completed")
    assert invalid.value.status == 422 and "conclusion" in invalid.value.data["message"]


def test_check_run_403_then_status_fallback(fake: GitHubFake) -> None:
    fake.checks_write = False
    repo = client(fake).get_repo(REPO)
    with pytest.raises(GithubException) as denied:
        repo.create_check_run("mlci", HEAD, status="completed", conclusion="success")
    assert denied.value.status == 403
    assert denied.value.data["message"] == "Resource not accessible by integration"
    repo.get_commit(HEAD).create_status("success", context="mlci")
    assert [(w.operation_id, w.status) for w in fake.writes()] == [
        ("checks/create", 403),
        ("repos/create-commit-status", 201),
    ]
    assert fake.check_runs(HEAD) == []
    assert [s["state"] for s in fake.statuses(HEAD)] == ["success"]


def test_check_run_403_for_a_token_without_checks_write(fake: GitHubFake) -> None:
    fake.add_token("ghs_no_checks", TokenIdentity(BOT_LOGIN, checks_write=False))
    with pytest.raises(GithubException) as denied:
        client(fake, "ghs_no_checks").get_repo(REPO).create_check_run("mlci", HEAD)
    assert denied.value.status == 403
    assert client(fake).get_repo(REPO).create_check_run("mlci", HEAD).status == "queued"


# -- honesty ---------------------------------------------------------------------------------


def test_bad_request_body_is_a_violation(fake: GitHubFake) -> None:
    commit = client(fake).get_repo(REPO).get_commit(HEAD)
    with pytest.raises(GithubException) as invalid:
        commit.create_status("bogus")
    assert invalid.value.status == 422
    violations = fake.take_violations()
    assert len(violations) == 1
    assert violations[0].kind == "request"
    assert violations[0].operation_id == "repos/create-commit-status"
    assert "'bogus' is not one of" in violations[0].message
    assert fake.statuses(HEAD) == []


def test_made_up_endpoint_is_a_violation(fake: GitHubFake) -> None:
    answer = raw(fake, "POST", f"/repos/{REPO}/mlci-results", json={"ok": True})
    assert answer.status_code == 404
    [violation] = fake.take_violations()
    assert violation.kind == "unknown-operation"
    assert violation.path == f"/repos/{REPO}/mlci-results"


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [
        ("GET", "/repos/{repo}/branches", "repos/list-branches"),
        ("GET", "/repos/{repo}", "repos/get"),  # PyGithub reads it unless lazy
        ("DELETE", "/repos/{repo}/issues/comments/1", "issues/delete-comment"),
    ],
)
def test_an_unimplemented_operation_answers_as_an_unknown_route_and_fails_the_test(
    github_spec: GitHubSpec,  # noqa: F811
    method: str,
    path: str,
    operation: str,
) -> None:
    with GitHubFake(spec=github_spec) as own:  # not the fixture: this test expects the failure
        made_up = raw(own, "GET", f"/repos/{REPO}/made-up")
        for token in ("ghs_x", None):  # with or without a token, as GitHub answers
            answer = raw(own, method, path.format(repo=REPO), token=token)
            assert answer.status_code == 404
            assert (
                answer.json()
                == made_up.json()
                == {
                    "message": "Not Found",
                    "documentation_url": "https://docs.github.com/rest",
                    "status": "404",
                }
            )
        own.take_violations()  # takes the made-up route's violation only
        assert {(v.kind, v.operation_id) for v in own.violations} == {
            (server.NOT_IMPLEMENTED, operation)
        }
        with pytest.raises(pytest.fail.Exception, match=f"{operation} is a GitHub operation the"):
            check_no_violations(own)


def test_a_crash_of_the_fake_is_reported(fake: GitHubFake, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any) -> Any:
        raise KeyError("bug")

    monkeypatch.setitem(server._HANDLERS, "pulls/get", broken)
    assert raw(fake, "GET", f"/repos/{REPO}/pulls/7").status_code == 500
    [violation] = fake.take_violations()
    assert violation.kind == "fake-error" and "KeyError: 'bug'" in violation.message


def test_response_missing_required_fields_is_a_violation(github_spec: GitHubSpec) -> None:  # noqa: F811,E501
    path = f"/repos/{REPO}/issues/7/comments"
    match = github_spec.match("POST", path)
    assert match is not None
    exchange = Exchange(
        "POST",
        path,
        [],
        [("Content-Type", "application/json")],
        b'{"body": "hi"}',
        status=201,
        response_headers=[("Content-Type", "application/json; charset=utf-8")],
        response_body=json.dumps({"id": 1, "body": "hi"}).encode(),
    )
    assert github_spec.validate_request(match, exchange) == []
    [violation] = github_spec.validate_response(match, exchange)
    assert violation.kind == "response"
    assert "'node_id' is a required property" in violation.message


def test_fixture_check_fails_the_test_on_violations(fake: GitHubFake) -> None:
    raw(fake, "GET", "/made-up")
    with pytest.raises(pytest.fail.Exception, match="unknown-operation: GET /made-up"):
        check_no_violations(fake)
    fake.take_violations()
    check_no_violations(fake)


# -- authentication and faults -----------------------------------------------------------


def test_user_endpoint_is_forbidden_for_installation_tokens(fake: GitHubFake) -> None:
    with pytest.raises(GithubException) as denied:
        client(fake).get_user().login  # noqa: B018 - the attribute triggers the request
    assert denied.value.status == 403
    assert denied.value.data["message"] == "Resource not accessible by integration"
    fake.add_token("ghp_alice", "alice")
    assert client(fake, "ghp_alice").get_user().login == "alice"


def test_requests_without_a_token_get_401(fake: GitHubFake) -> None:
    answer = raw(fake, "GET", f"/repos/{REPO}/pulls/7", token=None)
    assert answer.status_code == 401
    assert answer.json()["message"] == "Requires authentication"
    assert raw(fake, "GET", f"/repos/{REPO}/pulls/7", token="anything").status_code == 200


def test_5xx_fault_injection(fake: GitHubFake) -> None:
    fake.fail_next(2, status=502)
    retrying = client(fake, retry=Retry(total=3, status_forcelist=[502], backoff_factor=0))
    assert retrying.get_repo(REPO).get_pull(7).head.sha == HEAD
    assert [(r.status, r.fault) for r in fake.requests] == [
        (502, "injected 502"),
        (502, "injected 502"),
        (200, None),
    ]

    fake.fail_next(1, status=503, method="POST", path=r"/statuses/")
    repo = client(fake).get_repo(REPO)
    with pytest.raises(GithubException) as failed:
        repo.get_commit(HEAD).create_status("success")
    assert failed.value.status == 503
    assert repo.get_commit(HEAD).create_status("success").state == "success"


def test_secondary_rate_limit_injection(fake: GitHubFake) -> None:
    fake.rate_limit_next(1, retry_after=7, operation="issues/create-comment")
    path = f"/repos/{REPO}/issues/7/comments"
    limited = raw(fake, "POST", path, json={"body": "report"})
    assert limited.status_code == 403
    assert limited.headers["Retry-After"] == "7"
    assert "secondary rate limit" in limited.json()["message"]
    assert raw(fake, "POST", path, json={"body": "report"}).status_code == 201


def test_fork_repository_rejects_writes(fake: GitHubFake) -> None:
    fake.forbid_writes(REPO)
    repo = client(fake).get_repo(REPO)
    with pytest.raises(GithubException) as denied:
        repo.get_issue(7).create_comment("report")
    assert (denied.value.status, denied.value.data["message"]) == (
        403,
        "Resource not accessible by integration",
    )
    assert repo.get_pull(7).head.sha == HEAD  # reads still work
    assert fake.comments(7) == []


def test_read_only_token_rejects_writes(fake: GitHubFake) -> None:
    fake.add_token("ghs_fork_pr", TokenIdentity(BOT_LOGIN, read_only=True))
    with pytest.raises(GithubException) as denied:
        client(fake, "ghs_fork_pr").get_repo(REPO).get_commit(HEAD).create_status("success")
    assert denied.value.status == 403
    assert fake.statuses(HEAD) == []


# -- Actions and deployments -------------------------------------------------------------


def test_workflow_runs_list_and_rerun(fake: GitHubFake) -> None:
    run = fake.add_workflow_run(
        head_sha=HEAD, head_branch="exp/lr", conclusion="failure", pull_requests=[7]
    )
    fake.add_workflow_run(head_sha=BASE, head_branch="main", event="push")
    repo = client(fake).get_repo(REPO)
    found = list(repo.get_workflow_runs(head_sha=HEAD))
    assert [(r.id, r.conclusion) for r in found] == [(run.id, "failure")]
    assert found[0].pull_requests[0].number == 7
    assert found[0].rerun() is True
    shown = fake.workflow_run(run.id)
    assert (shown["run_attempt"], shown["status"], shown["conclusion"]) == (2, "queued", None)
    assert repo.get_workflow_run(run.id).rerun() is False  # a queued run: 403
    assert [r.status for r in fake.calls("actions/re-run-workflow")] == [201, 403]
    assert fake.workflow_run(run.id)["run_attempt"] == 2


def test_deployments_and_statuses(fake: GitHubFake) -> None:
    repo = client(fake).get_repo(REPO)
    commit = repo.get_commit(HEAD)
    commit.create_status("failure", context="mlci/gate")
    with pytest.raises(GithubException) as conflict:
        repo.create_deployment(ref="exp/lr", environment="staging")
    assert conflict.value.status == 409
    deployment = repo.create_deployment(
        ref="exp/lr", environment="staging", required_contexts=[], payload={"model": "v2"}
    )
    assert (deployment.sha, deployment.environment, deployment.creator.login) == (
        HEAD,
        "staging",
        BOT_LOGIN,
    )
    deployment.create_status("in_progress")
    deployment.create_status("success", environment_url="https://staging.example/")
    [shown] = fake.deployments()
    assert (shown["id"], shown["environment"], shown["payload"]) == (
        deployment.id,
        "staging",
        {"model": "v2"},
    )
    assert [s["state"] for s in shown["statuses"]] == ["success", "in_progress"]
    assert shown["statuses"][0]["environment_url"] == "https://staging.example/"


# -- webhook payloads --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "action"),
    [
        ("pull_request", "opened"),
        ("pull_request", "synchronize"),
        ("push", None),
        ("workflow_run", "completed"),
        ("issue_comment", "created"),
    ],
)
def test_webhook_payloads_are_retargeted(event: str, action: str | None) -> None:
    original = payloads.example(event, action)
    payload = payloads.event_payload(
        event,
        action,
        repo="acme/models",
        pr_number=42,
        head_sha=HEAD,
        base_sha=BASE,
        head_ref="exp/lr",
        base_ref="main",
    )
    assert payload.get("action") == action
    assert payload["repository"]["full_name"] == "acme/models"
    text = json.dumps(payload)
    for stale in ("Codertocat/Hello-World", "octo-org/octo-repo"):
        assert stale not in text
    assert payloads.example(event, action) == original, "examples must not be mutated"
    if event == "pull_request":
        pull = payload["pull_request"]
        assert (payload["number"], pull["number"]) == (42, 42)
        assert (pull["head"]["sha"], pull["head"]["ref"]) == (HEAD, "exp/lr")
        assert (pull["base"]["sha"], pull["base"]["ref"]) == (BASE, "main")
        assert pull["url"].endswith("/repos/acme/models/pulls/42")
    elif event == "push":
        assert (payload["ref"], payload["after"], payload["before"]) == (
            "refs/heads/exp/lr",
            HEAD,
            BASE,
        )
        assert payload["head_commit"]["id"] == HEAD
    elif event == "workflow_run":
        run = payload["workflow_run"]
        assert (run["head_sha"], run["head_branch"], run["conclusion"]) == (
            HEAD,
            "exp/lr",
            "success",
        )
        assert run["pull_requests"][0]["number"] == 42
        assert run["pull_requests"][0]["base"]["sha"] == BASE
    else:
        assert payload["issue"]["number"] == 42
        assert payload["issue"]["pull_request"]["url"].endswith("/repos/acme/models/pulls/42")
        assert payload["comment"]["issue_url"].endswith("/issues/42")


def test_pull_request_payload_from_a_fork() -> None:
    payload = payloads.event_payload(
        "pull_request", "opened", repo="acme/models", head_repo="alice/models", head_ref="exp"
    )
    pull = payload["pull_request"]
    assert pull["head"]["repo"]["full_name"] == "alice/models"
    assert pull["head"]["label"] == "alice:exp"
    assert pull["base"]["repo"]["full_name"] == "acme/models"
