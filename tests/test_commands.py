"""PR-comment commands against the honest fake GitHub, from real issue_comment payloads."""

from __future__ import annotations

import pytest

from mlci.forge.github import prcommands as commands
from mlci.forge.github import publish
from tests.ghfake.payloads import event_payload
from tests.test_ci import REPO, Actions, comments, regressing_pr


@pytest.fixture
def pr(dvc_repo, github_fake, tmp_path, monkeypatch, mlci):
    """PR #7 with a failing report already published by `mlci ci`."""
    gh = Actions(dvc_repo, github_fake, tmp_path, monkeypatch, mlci)
    base, head = regressing_pr(gh)
    gh.pull_request(7, base, head)
    assert gh.run("ci").code == 1
    gh.head = head
    gh.fake.set_permission("maintainer", "maintain")
    gh.fake.set_permission("writer", "write")
    gh.fake.set_permission("reader", "read")
    # the default branch's workflow, which the comment's run has checked out (/mlci rerun)
    gh.repo.write(".github/workflows/mlci.yml", "on: pull_request\n")
    return gh


def say(
    gh: Actions,
    body: str,
    user: str = "maintainer",
    user_type: str = "User",
    action: str = "created",
):
    """`user` comments `body` on PR #7; the issue_comment run follows."""
    seeded = gh.fake.add_comment(7, body, user=user)
    payload = event_payload("issue_comment", action, repo=REPO, pr_number=7, body=body)
    payload["comment"]["id"] = seeded.id
    payload["comment"]["user"]["login"] = user
    payload["comment"]["user"]["type"] = user_type
    gh.env("issue_comment", payload)
    before = len(gh.fake.requests)
    run = gh.run("ci")
    run.requests = gh.fake.requests[before:]
    run.comment_id = seeded.id
    return run


def reactions(gh: Actions, comment_id: int) -> list[str]:
    return gh.fake.reactions(comment_id)


def statuses(gh: Actions) -> list[dict]:
    """The statuses of every commit as GitHub shows them, oldest first."""
    return gh.fake.statuses()[::-1]


def rerun(gh: Actions, *runs) -> list[bool]:
    """Whether each workflow run was re-run: GitHub shows a second attempt."""
    return [gh.fake.workflow_run(r.id)["run_attempt"] > 1 for r in runs]


def replies(gh: Actions, after_id: int) -> list[str]:
    return [c["body"] for c in comments(gh.fake) if c["id"] > after_id]


def test_override_by_a_maintainer(pr):
    run = say(pr, "/mlci override the drop is expected with the new tokenizer")
    assert run.code == 0
    assert "mlci:override" in pr.fake.labels(7)
    last = statuses(pr)[-1]
    assert last["state"] == "success" and last["context"] == "mlci"
    assert (
        last["description"]
        == "overridden by @maintainer: the drop is expected with the new tokenizer"
    )
    check = pr.fake.calls("checks/create")[-1]  # a required mlci check run is satisfied too
    assert check.body["conclusion"] == "success" and check.body["head_sha"] == pr.head
    report = next(c for c in comments(pr.fake) if c["body"].startswith("<!-- mlci:report:mlci -->"))
    assert "gate overridden — 1 failure waived by maintainer" in report["body"]
    assert "the drop is expected with the new tokenizer" in report["body"]
    hidden = publish.decode_result(report["body"])
    assert hidden.override["by"] == "maintainer" and hidden.verdict == "warn"
    assert reactions(pr, run.comment_id) == ["eyes", "rocket"]
    assert "override of" in pr.summary.read_text()
    assert "audit: override of" in run.err


def test_override_reason_is_trimmed_to_140_characters(pr):
    say(pr, "/mlci override " + "x" * 300, user="writer")
    assert len(statuses(pr)[-1]["description"]) == 140


def test_override_by_a_reader_changes_nothing(pr):
    statuses_before = len(statuses(pr))
    run = say(pr, "/mlci override trust me", user="reader")
    assert run.code == 0
    assert len(statuses(pr)) == statuses_before
    assert "mlci:override" not in pr.fake.labels(7)
    [reply] = replies(pr, run.comment_id)
    assert "needs write, maintain or admin permission" in reply and "`read`" in reply
    assert reactions(pr, run.comment_id) == ["eyes", "-1"]
    assert pr.fake.calls("repos/get-collaborator-permission-level")


def test_override_needs_a_reason(pr):
    run = say(pr, "/mlci override")
    [reply] = replies(pr, run.comment_id)
    assert "needs a reason" in reply
    assert reactions(pr, run.comment_id) == ["eyes", "-1"]
    assert statuses(pr)[-1]["state"] == "failure"


def test_rerun_asks_actions_to_rerun_the_latest_mlci_run(pr):
    old = pr.fake.add_workflow_run(
        head_sha=pr.head,
        name="mlci",
        path=".github/workflows/mlci.yml",
        event="pull_request",
        run_number=1,
    )
    new = pr.fake.add_workflow_run(
        head_sha=pr.head,
        name="mlci",
        path=".github/workflows/mlci.yml",
        event="pull_request",
        run_number=2,
    )
    docs = pr.fake.add_workflow_run(
        head_sha=pr.head,
        name="docs",
        path=".github/workflows/docs.yml",
        event="pull_request",
        run_number=3,
    )
    pr.mp.setenv("GITHUB_WORKFLOW_REF", f"{REPO}/.github/workflows/mlci.yml@refs/heads/main")
    run = say(pr, "/mlci rerun", user="writer")
    assert rerun(pr, new, old, docs) == [True, False, False]
    assert reactions(pr, run.comment_id) == ["eyes", "rocket"]
    assert "Re-running" in replies(pr, run.comment_id)[0]


def test_rerun_by_a_reader_is_refused(pr):
    mlci_run = pr.fake.add_workflow_run(
        head_sha=pr.head, name="mlci", path=".github/workflows/mlci.yml"
    )
    say(pr, "/mlci rerun", user="reader")
    assert rerun(pr, mlci_run) == [False]


@pytest.mark.parametrize("body", ["/mlci help", "/MLCI Help", "/mlci"])
def test_help_answers_anyone(pr, body):
    run = say(pr, body, user="someone-outside")
    [reply] = replies(pr, run.comment_id)
    assert "/mlci override <reason>" in reply and "/mlci rerun" in reply
    assert reactions(pr, run.comment_id) == ["eyes", "rocket"]
    assert not pr.fake.calls("repos/get-collaborator-permission-level")


def test_unknown_command_lists_the_valid_ones(pr):
    run = say(pr, "/mlci frobnicate now")
    [reply] = replies(pr, run.comment_id)
    assert "Unknown command" in reply and "/mlci help" in reply
    assert reactions(pr, run.comment_id) == ["eyes", "-1"]


@pytest.mark.parametrize(
    "body,user,user_type,action",
    [
        ("LGTM, thanks!", "maintainer", "User", "created"),
        ("please see /mlci override below", "maintainer", "User", "created"),
        ("/mlci override from a bot", "github-actions[bot]", "Bot", "created"),
        ("/mlci override from another bot", "dependabot[bot]", "Bot", "created"),
        ("/mlci override edited later", "maintainer", "User", "edited"),
    ],
)
def test_comments_that_are_not_commands_cause_no_request(pr, body, user, user_type, action):
    run = say(pr, body, user=user, user_type=user_type, action=action)
    assert run.code == 0
    assert run.requests == []


def test_our_own_report_comment_never_triggers_a_command(pr):
    report = next(c for c in comments(pr.fake) if c["user"]["login"] == "github-actions[bot]")
    assert commands.parse(report["body"]) is None


def test_a_command_never_reads_the_pull_request_head(pr):
    """The issue_comment run works on metadata and the hidden result; the work tree is ignored."""
    pr.repo.write("eval/metrics.json", "{this would crash any metric reader")
    pr.repo.write(
        "mlci.yaml", "metrics: [not, a, mapping]\n"
    )  # a PR's config is never loaded either
    pr.repo.commit("hostile head")
    pr.repo.git("checkout", "-q", "main")  # issue_comment runs check out the default branch
    run = say(pr, "/mlci override accepted")
    assert run.code == 0 and statuses(pr)[-1]["state"] == "success"


def test_parse():
    assert commands.parse("/mlci override the reason\nmore text") == ("override", "the reason")
    assert commands.parse("  /MLCI RERUN  ") == ("rerun", "")
    assert commands.parse("/mlcix override") is None
    assert commands.parse("") is None


def test_override_is_refused_when_the_head_moved_since_the_report(pr):
    moved = "f" * 40
    pr.fake.push(7, moved)
    run = say(pr, "/mlci override looked at the old report")
    [reply] = replies(pr, run.comment_id)
    assert "Wait for mlci's report" in reply
    assert all(s["state"] == "failure" for s in statuses(pr))
    assert reactions(pr, run.comment_id) == ["eyes", "-1"]


# --- /mlci commit: a maintainer asks for it in a comment ----------------------------------


def test_commit_command_labels_the_pr_and_reruns_mlci(pr):
    mlci_run = pr.fake.add_workflow_run(
        head_sha=pr.head, name="mlci", path=".github/workflows/mlci.yml", run_number=4
    )
    run = say(pr, "/mlci commit", user="writer")
    assert "mlci:commit" in pr.fake.labels(7)
    assert rerun(pr, mlci_run) == [True]
    assert reactions(pr, run.comment_id) == ["eyes", "rocket"]
    reply = replies(pr, run.comment_id)[0]
    assert "Re-running" in reply and "commits the changed `dvc.lock`" in reply
    # nothing from the PR head was run here: no reproduction, no git write in this job
    assert pr.repo.git("rev-parse", "HEAD") == pr.head


def test_commit_command_needs_write_permission(pr):
    mlci_run = pr.fake.add_workflow_run(
        head_sha=pr.head, name="mlci", path=".github/workflows/mlci.yml"
    )
    run = say(pr, "/mlci commit", user="reader")
    assert "mlci:commit" not in pr.fake.labels(7)
    assert rerun(pr, mlci_run) == [False]
    assert "needs write, maintain or admin permission" in replies(pr, run.comment_id)[0]


def test_commit_command_refuses_a_fork(pr):
    pr.fake.add_pull(
        7,
        head_sha=pr.head,
        base_sha=pr.repo.git("rev-parse", "main"),
        head_ref="feature",
        base_ref="main",
        head_repo="someone/ml-repo",
    )
    mlci_run = pr.fake.add_workflow_run(
        head_sha=pr.head, name="mlci", path=".github/workflows/mlci.yml"
    )
    run = say(pr, "/mlci commit", user="maintainer")
    assert "mlci:commit" not in pr.fake.labels(7)
    assert rerun(pr, mlci_run) == [False]
    assert "mlci never pushes to a fork" in replies(pr, run.comment_id)[0]
    assert reactions(pr, run.comment_id) == ["eyes", "-1"]
