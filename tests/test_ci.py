"""`mlci ci` and `mlci publish` against the honest fake GitHub, driven by real event payloads."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mlci.forge.github import publish as publish_mod
from mlci.model.result import Result, validate
from tests.conftest import ACC_RULE, GitRepo, metrics_repo, rules_config
from tests.ghfake.payloads import event_payload

REPO = "octo-org/ml-repo"
TOKEN = "ghs_fake_actions_token_do_not_print"
# these tests are about publishing; test_repro.py reproduces
RULES = rules_config(ACC_RULE, before="repro:\n  enabled: false\n")


class Actions:
    """One GitHub Actions job's environment around a test repository."""

    def __init__(self, repo: GitRepo, fake, tmp: Path, monkeypatch, mlci) -> None:
        self.repo, self.fake, self.tmp, self.mp, self._mlci = repo, fake, tmp, monkeypatch, mlci
        self.summary = tmp / "summary.md"
        self.output = tmp / "output.txt"
        (tmp / "runner").mkdir(exist_ok=True)

    def env(self, event_name: str, payload: dict) -> None:
        event_file = self.tmp / f"{event_name}.json"
        event_file.write_text(json.dumps(payload))
        values = self.fake.env(REPO, token=TOKEN)
        values.update(
            {
                "GITHUB_EVENT_NAME": event_name,
                "GITHUB_EVENT_PATH": str(event_file),
                "GITHUB_STEP_SUMMARY": str(self.summary),
                "GITHUB_OUTPUT": str(self.output),
                "GITHUB_RUN_ID": "4242",
                "GITHUB_RUN_ATTEMPT": "1",
                "RUNNER_TEMP": str(self.tmp / "runner"),
                "MLCI_GITHUB_BACKOFF": "0",
                "MLCI_GITHUB_WRITE_INTERVAL": "0",
                "MLCI_GITHUB_RETRIES": "3",
            }
        )
        for name, value in values.items():
            self.mp.setenv(name, value)

    def pull_request(
        self, number: int, base: str, head: str, action: str = "opened", labels=()
    ) -> None:
        self.fake.add_pull(
            number, head_sha=head, base_sha=base, head_ref="feature", base_ref="main", labels=labels
        )
        payload = event_payload(
            "pull_request",
            action,
            repo=REPO,
            pr_number=number,
            head_sha=head,
            head_ref="feature",
            base_sha=base,
            base_ref="main",
        )
        payload["pull_request"]["labels"] = [{"name": name} for name in labels]
        self.env("pull_request", payload)

    def run(self, *args: str):
        return self._mlci(self.repo, *args)

    def outputs(self) -> dict[str, str]:
        return dict(
            line.split("=", 1) for line in self.output.read_text().splitlines() if "=" in line
        )


@pytest.fixture
def gh(dvc_repo, github_fake, tmp_path, monkeypatch, mlci) -> Actions:
    return Actions(dvc_repo, github_fake, tmp_path, monkeypatch, mlci)


def regressing_pr(gh: Actions, acc: float = 0.85) -> tuple[str, str]:
    base = metrics_repo(gh.repo, {"acc": 0.90}, config=RULES)
    gh.repo.git("checkout", "-q", "-b", "feature")
    gh.repo.write("eval/metrics.json", {"acc": acc})
    head = gh.repo.commit("feature")
    return base, head


def comments(fake) -> list[dict]:
    """The repository's comments as GitHub shows them, oldest first."""
    return fake.comments()


def test_pull_request_comment_status_check_summary_outputs(gh, capsys):
    base, head = regressing_pr(gh)
    gh.pull_request(7, base, head)
    run = gh.run("ci")
    assert run.code == 1
    # the comment: one, by the Actions bot, starting with the marker, with the report
    [comment] = comments(gh.fake)
    assert comment["user"]["login"] == "github-actions[bot]"
    assert comment["body"].startswith("<!-- mlci:report:mlci -->\n### ❌ mlci: gate closed")
    assert "| ❌ | `eval/metrics.json:acc` | 0.9 | 0.85 |" in comment["body"]
    # a machine-readable copy of the result, hidden and decodable
    hidden = publish_mod.decode_result(comment["body"])
    assert hidden is not None and hidden.verdict == "fail" and hidden.context.pr == 7
    # the status on the PR head (not the merge commit), linking to the run
    [status] = gh.fake.statuses(head)
    assert status["state"] == "failure" and status["context"] == "mlci"
    assert len(status["description"]) <= 140
    assert status["target_url"] == f"https://github.com/{REPO}/actions/runs/4242"
    [check] = gh.fake.check_runs(head)
    assert check["conclusion"] == "failure" and check["name"] == "mlci"
    assert "gate closed" in check["output"]["summary"]
    # written locally: job summary, outputs, result file that validates
    assert "### ❌ mlci: gate closed" in gh.summary.read_text()
    out = gh.outputs()
    assert out["verdict"] == "fail"
    assert out["comment-url"].startswith("https://github.com/")
    doc = json.loads(Path(out["result-path"]).read_text())
    validate(doc)
    assert doc["context"]["head"]["sha"] == head and doc["context"]["pr"] == 7
    assert Path(out["report-path"]).read_text().startswith("<!-- mlci:report:mlci -->")
    # an annotation pointing at the rule in mlci.yaml
    assert "::error file=mlci.yaml,line=5,title=mlci%3A metrics::eval/metrics.json:acc" in run.err


def test_rerun_with_the_same_result_sends_no_comment_request(gh):
    base, head = regressing_pr(gh)
    gh.pull_request(7, base, head)
    assert gh.run("ci").code == 1
    gh.run("ci")
    assert len(gh.fake.calls("issues/create-comment")) == 1
    assert gh.fake.calls("issues/update-comment") == []
    # a new result edits the same comment in place
    gh.repo.write("eval/metrics.json", {"acc": 0.95})
    assert gh.run("ci").code == 0
    assert len(gh.fake.calls("issues/create-comment")) == 1
    [edit] = gh.fake.calls("issues/update-comment")
    [comment] = comments(gh.fake)
    assert comment["body"] == edit.body["body"] and "### ✅ mlci: gate open" in comment["body"]


def earlier_report(text: str) -> str:
    """A report comment as mlci writes it: the marker first, its hidden result copy last."""
    from mlci.model.result import Context

    hidden = publish_mod.encode_result(Result(Context(), "pass"))
    return f"<!-- mlci:report:mlci -->\n{text}\n{hidden}\n"


def test_finds_its_comment_across_pages_and_only_its_own(gh):
    base, head = regressing_pr(gh)
    gh.pull_request(7, base, head)
    marker = "<!-- mlci:report:mlci -->"
    gh.fake.add_comment(7, marker + "\nquoted by a human", user="octocat")
    for i in range(120):
        gh.fake.add_comment(7, f"chatter {i}", user="octocat")
    ours = gh.fake.add_comment(7, earlier_report("old report"), user="github-actions[bot]")
    for i in range(100):
        gh.fake.add_comment(7, f"more chatter {i}", user="octocat")
    gh.run("ci")
    assert gh.fake.calls("issues/create-comment") == []
    [edit] = gh.fake.calls("issues/update-comment")
    assert edit.path.endswith(f"/comments/{ours.id}")
    pages = gh.fake.calls("issues/list-comments")
    assert len(pages) >= 3  # 222 comments, 100 a page: the Link header was followed
    human = next(c for c in comments(gh.fake) if c["body"].endswith("quoted by a human"))
    assert human["body"] == marker + "\nquoted by a human"


@pytest.mark.parametrize("mode,creates", [("new", 2), ("off", 0)])
def test_comment_modes(gh, mode, creates):
    base = metrics_repo(gh.repo, {"acc": 0.9}, config=RULES + f"report:\n  comment: {mode}\n")
    gh.repo.git("checkout", "-q", "-b", "feature")
    gh.repo.write("eval/metrics.json", {"acc": 0.8})
    head = gh.repo.commit("feature")
    gh.pull_request(7, base, head)
    gh.run("ci")
    gh.run("ci")
    assert len(gh.fake.calls("issues/create-comment")) == creates
    assert len(gh.fake.calls("repos/create-commit-status")) == 2


def test_fork_read_only_token_warns_once_and_exits_by_the_gate(gh):
    base, head = regressing_pr(gh)
    gh.pull_request(7, base, head)
    gh.fake.forbid_writes(REPO)
    run = gh.run("ci")
    assert run.code == 1
    assert run.err.count("fork-safe pair") == 1
    assert "### ❌ mlci: gate closed" in gh.summary.read_text()
    assert "could not publish" in gh.summary.read_text()
    assert comments(gh.fake) == []
    assert gh.outputs()["verdict"] == "fail"


def test_no_checks_permission_falls_back_to_the_status_quietly(gh):
    base, head = regressing_pr(gh, acc=0.95)
    gh.pull_request(7, base, head)
    gh.fake.checks_write = False
    run = gh.run("ci")
    assert run.code == 0
    assert [s.body["state"] for s in gh.fake.calls("repos/create-commit-status")] == ["success"]
    assert "::warning" not in run.err


def test_server_errors_and_rate_limits_are_retried(gh):
    base, head = regressing_pr(gh)
    gh.pull_request(7, base, head)
    gh.fake.fail_next(2, status=502, operation="repos/create-commit-status")
    gh.fake.rate_limit_next(1, retry_after=1, operation="issues/create-comment")
    run = gh.run("ci")
    assert run.code == 1
    statuses = [r.status for r in gh.fake.calls("repos/create-commit-status")]
    assert statuses == [502, 502, 201]
    assert [r.status for r in gh.fake.calls("issues/create-comment")] == [403, 201]
    assert "::warning" not in run.err


def test_an_outage_is_a_warning_not_an_exit_code(gh):
    base, head = regressing_pr(gh, acc=0.95)
    gh.pull_request(7, base, head)
    gh.fake.fail_next(50, status=503)
    run = gh.run("ci")
    assert run.code == 0
    assert "::warning title=mlci could not publish::" in run.err
    assert gh.outputs()["verdict"] == "pass"
    assert "gate open" in gh.summary.read_text()


def test_override_label_turns_failures_into_warnings(gh):
    base, head = regressing_pr(gh)
    gh.pull_request(7, base, head, labels=())
    gh.fake.set_permission("maintainer", "maintain")  # only a writer's label acts
    gh.fake.label(7, "mlci:override", actor="maintainer")
    payload = json.loads(Path(gh.tmp / "pull_request.json").read_text())
    payload["pull_request"]["labels"] = [{"name": "mlci:override"}]
    gh.env("pull_request", payload)
    run = gh.run("ci", "--format", "json")
    assert run.code == 0
    doc = run.json()
    assert doc["verdict"] == "warn" and doc["override"]["by"] == "maintainer"
    assert all(r["severity"] == "warn" for r in doc["reasons"])
    [comment] = comments(gh.fake)
    assert "gate overridden — 1 failure waived by maintainer" in comment["body"]
    assert "(label `mlci:override`)" in comment["body"]
    [status] = gh.fake.statuses(head)
    assert status["state"] == "success"


def test_push_event_compares_with_before_and_sets_a_status(gh):
    before = metrics_repo(gh.repo, {"acc": 0.90}, config=RULES)
    gh.repo.write("eval/metrics.json", {"acc": 0.80})
    after = gh.repo.commit("push")
    payload = event_payload("push", repo=REPO)
    payload.update({"before": before, "after": after, "ref": "refs/heads/main"})
    gh.env("push", payload)
    run = gh.run("ci", "--format", "json")
    assert run.code == 1
    doc = run.json()
    assert doc["context"]["base"]["sha"] == before and doc["context"]["head"]["sha"] == after
    assert doc["context"]["event"] == "push" and doc["context"]["pr"] is None
    [status] = gh.fake.statuses(after)
    assert status["state"] == "failure"
    assert gh.fake.calls("issues/create-comment") == []


def test_pull_request_target_is_refused_without_any_request(gh):
    base, head = regressing_pr(gh)
    payload = event_payload(
        "pull_request", "opened", repo=REPO, pr_number=7, head_sha=head, base_sha=base
    )
    gh.env("pull_request_target", payload)
    run = gh.run("ci")
    assert run.code == 2
    assert "refuses to run on pull_request_target" in run.err and "fork-safe" in run.err
    assert gh.fake.requests == []


def test_no_publish_makes_no_request(gh):
    base, head = regressing_pr(gh)
    gh.pull_request(7, base, head)
    run = gh.run("ci", "--no-publish", "--output", str(gh.tmp / "mlci-result.json"))
    assert run.code == 1
    assert gh.fake.requests == []
    validate(json.loads((gh.tmp / "mlci-result.json").read_text()))


def test_the_token_never_appears_anywhere(gh):
    base, head = regressing_pr(gh)
    gh.pull_request(7, base, head)
    gh.fake.fail_next(1, status=500, operation="issues/create-comment")
    run = gh.run("ci", "-v")
    files = [gh.summary, gh.output, *Path(gh.tmp / "runner").rglob("*.*")]
    for text in [run.out, run.err, *(f.read_text() for f in files if f.is_file())]:
        assert TOKEN not in text
    assert all(TOKEN not in c["body"] for c in comments(gh.fake))


def test_shallow_checkout_fetches_the_missing_base(gh, tmp_path, monkeypatch):
    base, head = regressing_pr(gh)
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(gh.repo.path), str(remote)], check=True)
    clone = tmp_path / "clone"
    subprocess.run(
        [
            "git",
            "clone",
            "-q",
            "--depth",
            "1",
            "--branch",
            "feature",
            f"file://{remote}",
            str(clone),
        ],
        check=True,
    )
    assert subprocess.run(["git", "cat-file", "-e", base], cwd=clone).returncode != 0
    gh.repo = GitRepo(clone)
    gh.pull_request(7, base, head)
    run = gh.run("ci", "--format", "json")
    assert run.code == 1
    assert run.json()["metrics"][0]["base"] == 0.90
    assert f"fetching base commit {base[:7]}" in run.err


def test_pr_text_is_escaped_in_the_comment(gh):
    base = metrics_repo(gh.repo, {"acc": 0.9}, config=RULES)
    gh.repo.git("checkout", "-q", "-b", "feature")
    gh.repo.write(
        "eval/metrics.json", {"acc": 0.8, "@octocat <img src=x onerror=alert(1)>|x": "-->"}
    )
    head = gh.repo.commit("feature")
    gh.pull_request(7, base, head)
    gh.run("ci")
    [comment] = comments(gh.fake)
    body = comment["body"].split("\n", 1)[1]
    hidden_at = body.index(publish_mod.RESULT_MARKER)
    visible, hidden = body[:hidden_at], body[hidden_at:]
    for bad in ("@octocat", "<img", "-->"):
        assert bad not in visible
    assert hidden.count("-->") == 1 and hidden.rstrip().endswith("-->")


def test_a_huge_report_fits_in_a_comment(gh):
    base_metrics = {f"m{i:05d}": 0.5 for i in range(10_000)}
    head_metrics = dict(base_metrics, m00042=0.1)
    base = metrics_repo(
        gh.repo,
        base_metrics,
        config="repro: {enabled: false}\nmetrics:\n  rules:\n"
        "    - name: m00042\n      direction: higher\n",
    )
    gh.repo.git("checkout", "-q", "-b", "feature")
    gh.repo.write("eval/metrics.json", head_metrics)
    head = gh.repo.commit("feature")
    gh.pull_request(7, base, head)
    assert gh.run("ci").code == 1
    [comment] = comments(gh.fake)
    assert len(comment["body"]) <= 65536
    assert "| ❌ | `eval/metrics.json:m00042` |" in comment["body"]
    # the unchanged rows are counted, not listed; the HTML report has every row
    assert "<summary>Metrics: 9,999 unchanged</summary>" in comment["body"]
    assert "9,999 metrics not listed here" in comment["body"]
    page = Path(gh.outputs()["html-path"]).read_text()
    assert (
        page.count("<code>eval/metrics.json:m") == 10_000 + 1
    )  # every row, and the failing one on top


# --- mlci publish: the trusted half of the fork-safe flow -------------------------------


def untrusted_result(gh: Actions, base: str, head: str) -> Path:
    gh.pull_request(9, base, head)
    out = gh.tmp / "mlci-result.json"
    assert gh.run("ci", "--no-publish", "--output", str(out)).code == 1
    return out


def workflow_run_payload(head: str, pulls: list[dict]) -> dict:
    payload = event_payload("workflow_run", "completed", repo=REPO, head_sha=head)
    payload["workflow_run"]["head_sha"] = head
    payload["workflow_run"]["event"] = "pull_request"
    payload["workflow_run"]["pull_requests"] = pulls
    return payload


def test_publish_posts_on_the_pr_of_the_workflow_run(gh):
    base, head = regressing_pr(gh)
    result = untrusted_result(gh, base, head)
    payload = workflow_run_payload(
        head,
        [
            {
                "number": 9,
                "head": {"sha": head, "ref": "feature"},
                "base": {"sha": base, "ref": "main"},
            }
        ],
    )
    gh.env("workflow_run", payload)
    run = gh.run("publish", str(result))
    assert run.code == 1
    [comment] = comments(gh.fake)
    assert comment["issue_url"].endswith("/issues/9") and "gate closed" in comment["body"]
    assert [s["state"] for s in gh.fake.statuses(head)] == ["failure"]


def test_publish_finds_a_fork_pr_by_its_head(gh):
    base, head = regressing_pr(gh)
    result = untrusted_result(gh, base, head)
    gh.fake.add_pull(
        9, head_sha=head, base_sha=base, head_ref="feature", head_repo="forker/ml-repo"
    )
    payload = workflow_run_payload(head, [])
    payload["workflow_run"]["head_branch"] = "feature"
    payload["workflow_run"]["head_repository"]["owner"]["login"] = "forker"
    gh.env("workflow_run", payload)
    assert gh.run("publish", str(result)).code == 1
    [comment] = comments(gh.fake)
    assert comment["issue_url"].endswith("/issues/9")


def test_publish_refuses_a_result_for_another_commit(gh):
    base, head = regressing_pr(gh)
    result = untrusted_result(gh, base, head)
    gh.env("workflow_run", workflow_run_payload(base, []))
    run = gh.run("publish", str(result))
    assert run.code == 2 and "refusing to publish" in run.err
    assert gh.fake.writes() == []


def test_publish_rejects_a_file_that_is_not_a_result(gh, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"verdict": "pass"}))
    gh.env("workflow_run", workflow_run_payload("a" * 40, []))
    run = gh.run("publish", str(bad))
    assert run.code == 2 and "not a valid mlci result" in run.err


def test_result_survives_the_round_trip_through_the_comment(gh):
    base, head = regressing_pr(gh)
    gh.pull_request(7, base, head)
    gh.run("ci")
    [comment] = comments(gh.fake)
    hidden = publish_mod.decode_result(comment["body"])
    local = Result.from_json(Path(gh.outputs()["result-path"]).read_text())
    assert hidden is not None
    assert hidden.metrics == local.metrics and hidden.reasons == local.reasons


def test_synchronize_updates_the_comment_of_opened(gh):
    base, head = regressing_pr(gh)
    gh.pull_request(7, base, head, action="opened")
    gh.run("ci")
    gh.repo.write("eval/metrics.json", {"acc": 0.95})
    new_head = gh.repo.commit("fix")
    payload = event_payload(
        "pull_request",
        "synchronize",
        repo=REPO,
        pr_number=7,
        head_sha=new_head,
        head_ref="feature",
        base_sha=base,
        base_ref="main",
    )
    gh.env("pull_request", payload)
    assert gh.run("ci").code == 0
    [comment] = comments(gh.fake)
    assert "gate open" in comment["body"]
    assert [s.path.rsplit("/", 1)[1] for s in gh.fake.calls("repos/create-commit-status")] == [
        head,
        new_head,
    ]


def test_workflow_dispatch_uses_the_config_base(gh):
    metrics_repo(gh.repo, {"acc": 0.90}, config=RULES + "base: main\n")
    gh.repo.git("checkout", "-q", "-b", "nightly")
    gh.repo.write("eval/metrics.json", {"acc": 0.80})
    head = gh.repo.commit("nightly")
    payload = event_payload("workflow_dispatch", repo=REPO)
    gh.env("workflow_dispatch", payload)
    gh.mp.setenv("GITHUB_SHA", head)
    gh.mp.setenv("GITHUB_REF", "refs/heads/nightly")
    run = gh.run("ci", "--format", "json")
    assert run.code == 1
    doc = run.json()
    assert doc["context"]["base"]["ref"] == "main" and doc["context"]["head"]["sha"] == head
    assert [s["state"] for s in gh.fake.statuses(head)] == ["failure"]


def test_a_personal_token_finds_comments_by_its_own_login(gh):
    base, head = regressing_pr(gh)
    gh.pull_request(7, base, head)
    gh.fake.add_token("ghp_personal", "release-bot-user")
    gh.mp.setenv("GITHUB_TOKEN", "ghp_personal")
    gh.fake.add_comment(7, earlier_report("from the actions bot"), user="github-actions[bot]")
    mine = gh.fake.add_comment(7, earlier_report("mine"), user="release-bot-user")
    gh.run("ci")
    [edit] = gh.fake.calls("issues/update-comment")
    assert edit.path.endswith(f"/comments/{mine.id}")


def test_a_pr_that_changes_the_rules_is_flagged(gh):
    base, _ = regressing_pr(gh, acc=0.95)
    gh.repo.write("mlci.yaml", RULES.replace("max_regression: 0.01", "max_regression: 0.5"))
    head = gh.repo.commit("loosen the gate")
    gh.pull_request(7, base, head)
    run = gh.run("ci", "--format", "json")
    doc = run.json()
    assert run.code == 0 and doc["verdict"] == "warn"
    assert any(
        r["section"] == "config" and "changes mlci.yaml" in r["message"] for r in doc["reasons"]
    )
    validate(doc)


# --- the event in host-neutral values (what commands decide from) -------------------------

HEAD, BASE = "a" * 40, "b" * 40


def host_event(tmp_path: Path, name: str, payload: dict, **env: str):
    from mlci.forge.github import actions

    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(payload))
    variables = {"GITHUB_EVENT_NAME": name, "GITHUB_EVENT_PATH": str(path), **env}
    return actions.host_event(actions.from_env(variables))


def test_a_pull_request_event_in_host_neutral_values(tmp_path):
    payload = event_payload(
        "pull_request",
        "opened",
        repo=REPO,
        pr_number=7,
        head_sha=HEAD,
        base_sha=BASE,
        head_ref="feature",
        base_ref="main",
    )
    payload["pull_request"]["labels"] = [{"name": "mlci:commit"}]
    event = host_event(
        tmp_path,
        "pull_request",
        payload,
        GITHUB_REPOSITORY=REPO,
        GITHUB_RUN_ID="9",
        GITHUB_RUN_ATTEMPT="2",
        GITHUB_BASE_REF="main",
        GITHUB_ACTIONS="true",
    )
    assert (
        event.revisions.base_sha,
        event.revisions.head_sha,
        event.revisions.head_ref,
        event.revisions.pr,
    ) == (BASE, HEAD, "feature", 7)
    assert event.revisions.labels == ("mlci:commit",) and event.pull_request and event.rerun
    assert event.run_url == f"https://github.com/{REPO}/actions/runs/9/attempts/2"
    assert event.in_ci and event.target_branch == "main"
    assert (event.no_ci, event.no_writeback) == (None, None)
    assert event.no_history and not (event.comment or event.push)

    fork = event_payload("pull_request", "opened", repo=REPO, head_repo="someone/ml-repo")
    assert "the fork someone/ml-repo" in host_event(tmp_path, "pull_request", fork).no_writeback


@pytest.mark.parametrize("name", ["pull_request_target", "workflow_run", "issue_comment"])
def test_events_holding_a_write_token_refuse_mlci_ci(tmp_path, name):
    # pull_request_target sends the pull_request payload
    example, action = {
        "pull_request_target": ("pull_request", "opened"),
        "workflow_run": ("workflow_run", "completed"),
        "issue_comment": ("issue_comment", "created"),
    }[name]
    event = host_event(tmp_path, name, event_payload(example, action, repo=REPO))
    assert event.no_ci and event.no_ci.startswith(f"`mlci ci` refuses to run on {name}:")
    assert event.comment == (name == "issue_comment")
    # a result published there came from a run of the PR's code
    assert event.result_from_untrusted_run == (name != "issue_comment")


def test_a_push_and_a_local_run_in_host_neutral_values(tmp_path):
    push = event_payload("push", repo=REPO, head_ref="main", head_sha=HEAD, base_sha=BASE)
    event = host_event(tmp_path, "push", push)
    assert event.push and event.pushed_sha == HEAD and event.revisions.base_sha == BASE
    assert event.revisions.head_ref == "main" and not event.pull_request
    from mlci.forge.github import actions

    local = actions.host_event(actions.from_env({}))
    assert (local.name, local.in_ci, local.revisions.pr, local.no_ci, local.push) == (
        "",
        False,
        None,
        None,
        False,
    )
