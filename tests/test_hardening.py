"""What an untrusted pull request or result file must not be able to do, and errors that must stay clean."""

from __future__ import annotations

import json
from pathlib import Path

from mlci.model import fmt
from tests.conftest import metrics_repo
from tests.test_ci import (
    REPO,
    RULES,
    Actions,
    comments,
    regressing_pr,
    untrusted_result,
    workflow_run_payload,
)
from tests.test_ci import gh as gh  # noqa: F401 - the fixture

PWNED = "{{ cycler.__init__.__globals__.os.popen('echo pwned > %s').read() }}"


def test_a_template_override_cannot_run_code(dvc_repo, mlci, tmp_path):
    marker = tmp_path / "pwned"
    metrics_repo(dvc_repo, {"acc": 0.9}, config="repro: {enabled: false}\n")
    dvc_repo.write(".mlci/templates/report.md.j2", PWNED % marker)
    run = mlci(dvc_repo, "check", "--format", "markdown")
    assert not marker.exists()
    assert run.code == 2 and "the template tried something unsafe" in run.err
    assert "Traceback" not in run.err


def publish_env(gh: Actions, head: str, pulls: list[dict]) -> None:
    payload = workflow_run_payload(head, pulls)
    payload["workflow_run"]["html_url"] = f"https://github.com/{REPO}/actions/runs/777"
    gh.env("workflow_run", payload)


def tamper(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def test_publish_trusts_nothing_the_result_file_says_about_itself(gh, tmp_path):  # noqa: F811
    base, head = regressing_pr(gh)
    result = untrusted_result(gh, base, head)

    def forge(doc):
        doc["context"]["run_url"] = (
            "https://evil.example/x) @octocat <img src=x> [click](https://e.vil"
        )
        doc["override"] = {
            "label": "mlci:override",
            "by": "a-real-maintainer",
            "reason": "fine",
            "at": None,
        }
        doc["notes"].append("hello\n::error title=injected::owned\n::set-output name=verdict::pass")
        doc["verdict"] = "pass"

    tamper(result, forge)
    # the artifact also carries a hostile template and config; they are not in the trusted checkout
    publish_env(
        gh,
        head,
        [
            {
                "number": 9,
                "head": {"sha": head, "ref": "feature"},
                "base": {"sha": base, "ref": "main"},
            }
        ],
    )
    gh.mp.setenv("GITHUB_RUN_ID", "1")
    run = gh.run("publish", str(result))
    assert run.code == 1  # the verdict follows the reasons, not the file's claim
    [comment] = comments(gh.fake)
    body = comment["body"]
    assert "evil.example" not in body and "@octocat" not in body and "<img" not in body
    assert f"[workflow run](https://github.com/{REPO}/actions/runs/777)" in body
    assert "a-real-maintainer" not in body and "overridden" not in body
    [status] = gh.fake.statuses(head)
    assert status["state"] == "failure"
    assert status["target_url"] == f"https://github.com/{REPO}/actions/runs/777"
    # PR text printed in the trusted log cannot issue workflow commands
    out = run.out.splitlines()
    assert out[0].startswith("::stop-commands::")
    token = out[0].split("::")[2]
    assert out[-1] == f"::{token}::"


def test_a_schema_valid_but_odd_result_is_a_usage_error(gh, tmp_path):  # noqa: F811
    base, head = regressing_pr(gh)
    result = untrusted_result(gh, base, head)
    tamper(result, lambda doc: doc["metrics"][0].update(rule={"foo": 1}))
    publish_env(gh, head, [])
    run = gh.run("publish", str(result))
    assert (
        run.code in (0, 1) and "internal error" not in run.err
    )  # an unknown rule shape is shown blank
    tamper(result, lambda doc: doc["repro"].update(extra=1))
    run = gh.run("publish", str(result))
    assert run.code == 2 and "not a valid mlci result" in run.err


def test_ci_without_a_repository_still_writes_the_result(gh, tmp_path):  # noqa: F811
    base, head = regressing_pr(gh)
    gh.pull_request(7, base, head)
    gh.mp.delenv("GITHUB_REPOSITORY")
    out = tmp_path / "r.json"
    run = gh.run("ci", "--output", str(out))
    assert run.code == 1 and out.exists()
    assert "GITHUB_REPOSITORY" in run.err and gh.fake.requests == []


def test_an_unwritable_output_is_a_usage_error(dvc_repo, mlci, tmp_path):
    metrics_repo(dvc_repo, {"acc": 0.9}, config=RULES)
    blocker = tmp_path / "file"
    blocker.write_text("")
    run = mlci(dvc_repo, "check", "--output", str(blocker / "x.json"))
    assert run.code == 2 and "cannot write" in run.err and "Traceback" not in run.err


def test_confusion_records_with_odd_values_are_named_not_a_crash(dvc_repo, mlci):
    dvc_repo.write(
        "dvc.yaml",
        "plots:\n  - cm.json:\n      template: confusion\n      x: actual\n      y: predicted\n",
    )
    dvc_repo.write("cm.json", [{"actual": 1, "predicted": 0}])
    dvc_repo.commit("baseline")
    dvc_repo.write("cm.json", [{"actual": [1], "predicted": {"a": 2}}])
    run = mlci(dvc_repo, "check", "--no-repro", "--format", "markdown")
    assert run.code == 0, run.err
    assert "must be class labels" in run.out


def test_credentials_never_reach_a_link():
    assert (
        fmt.without_credentials("https://bot:s3cr3t@mlflow.example.com/x")
        == "https://mlflow.example.com/x"
    )
    assert fmt.without_credentials("s3://bucket/path") == "s3://bucket/path"
