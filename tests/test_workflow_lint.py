"""The workflows mlci ships and writes pass zizmor, and the one `mlci init` writes follows the
threat model: the pull request's code runs with a read-only token and no secret but the DVC
remote's; publishing is a job that runs none of it and checks what it was handed."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT, VENV_BIN
from tests.test_action import actionlint
from tests.test_ci import Actions, regressing_pr, untrusted_result
from tests.test_init import project

ZIZMOR = VENV_BIN / "zizmor"
SHIPPED = sorted(
    [
        *(REPO_ROOT / "examples" / "workflows").glob("*.yml"),
        *(REPO_ROOT / ".github" / "workflows").glob("*.yml"),
        REPO_ROOT / "action.yml",
    ]
)
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def zizmor(*args: str | Path, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    if not ZIZMOR.exists():
        pytest.fail("zizmor is missing: it is in the lint extra (make .venv/.mlci-test)")
    return subprocess.run(
        [str(ZIZMOR), "--offline", "--no-progress", "--color", "never", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)},  # no token: nothing could go online
    )


def test_the_shipped_workflows_and_the_action_pass_zizmor():
    proc = zizmor("--config", REPO_ROOT / "zizmor.yml", *SHIPPED)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout
    for path in SHIPPED:
        assert f"completed {path}" in proc.stderr  # each one was read


def test_zizmor_finds_an_unpinned_checkout_that_keeps_its_token(tmp_path):
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "name: bad\non: pull_request\npermissions: {}\njobs:\n  x:\n    name: x\n"
        "    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n"
    )
    proc = zizmor("--no-config", bad, cwd=tmp_path)
    assert proc.returncode != 0
    assert "unpinned-uses" in proc.stdout and "artipacked" in proc.stdout


def _checkouts(job: dict) -> list[dict]:
    return [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/checkout@")]


@pytest.mark.parametrize("variant", ["plain", "s3-remote-and-conda"])
def test_the_workflow_init_writes_passes_zizmor_and_follows_the_model(dvc_repo, mlci, variant):
    project(dvc_repo)
    if variant != "plain":
        dvc_repo.dvc("remote", "add", "-d", "store", "s3://bucket/cache")
        dvc_repo.write("environment.yml", "name: x\ndependencies: [python=3.11]\n")
    assert mlci(dvc_repo, "init").code == 0
    path = dvc_repo.path / ".github" / "workflows" / "mlci.yml"

    # zizmor as a user's repository runs it: no configuration of ours
    proc = zizmor("--no-config", path, cwd=dvc_repo.path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout
    lint = actionlint(path)  # and actionlint (with shellcheck's view of the fetch step)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    doc = yaml.safe_load(path.read_text())
    assert doc["permissions"] == {"contents": "read"}
    jobs = doc["jobs"]
    assert set(jobs) == {"mlci", "publish", "commands", "record"}
    pr, publish, commands = jobs["mlci"], jobs["publish"], jobs["commands"]

    # PR-comment commands run the default branch's checkout: no ref, no install, no repro
    assert "issue_comment" in commands["if"] and "github.event.issue.pull_request" in commands["if"]
    [checkout] = _checkouts(commands)
    assert "ref" not in checkout["with"] and checkout["with"]["persist-credentials"] is False
    assert not any("run" in s for s in commands["steps"]) and "secrets." not in json.dumps(commands)
    assert commands["permissions"]["contents"] == "read"

    # the pull request's code runs in `mlci`: a read-only token, nothing kept in .git/config
    assert pr["permissions"] == {"contents": "read", "pull-requests": "read"}
    [checkout] = _checkouts(pr)
    assert checkout["with"]["persist-credentials"] is False
    [run_mlci] = [s for s in pr["steps"] if s.get("id") == "mlci"]
    assert run_mlci["with"]["publish"] == "false"
    secrets = set(re.findall(r"secrets\.(\w+)", json.dumps(pr)))
    assert secrets == (
        set() if variant == "plain" else {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    )  # the DVC remote's only
    assert "secrets.GITHUB_TOKEN" not in json.dumps(pr)
    upload = [
        s for s in pr["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")
    ]
    assert upload[0]["with"]["name"] == "mlci-result"

    # `publish` never checks out or runs the PR head: the base's commit, no install, no repro
    assert publish["needs"] == "mlci"
    [checkout] = _checkouts(publish)
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    assert checkout["with"]["persist-credentials"] is False
    runs = [s["run"] for s in publish["steps"] if "run" in s]
    assert all(
        line.startswith(("export ", "GIT_CONFIG_VALUE_0=", "git fetch "))
        for script in runs
        for line in script.strip().splitlines()
    ), runs  # it fetches the head's objects as data, and runs nothing
    assert not any("setup-python" in str(s.get("uses")) for s in publish["steps"])
    assert "secrets." not in json.dumps(publish)
    [run_publish] = [s for s in publish["steps"] if str(s.get("uses")).startswith("mlci/mlci@")]
    assert run_publish["with"]["command"] == "publish"
    assert run_publish["with"]["result"].startswith("${{ runner.temp }}/")  # not in the checkout
    assert set(publish["permissions"]) == {"contents", "pull-requests", "statuses", "checks"}
    assert publish["permissions"]["contents"] == "read"

    # every third-party action is pinned to a commit, with its version in a comment
    for job in jobs.values():
        for step in job["steps"]:
            uses = step.get("uses", "")
            if uses and not uses.startswith("mlci/mlci@"):
                assert PINNED.match(uses), uses
    assert re.search(r"actions/checkout@[0-9a-f]{40} # v\d+\.\d+\.\d+", path.read_text())

    # and `mlci doctor` finds each job's permissions right
    out = mlci(dvc_repo, "doctor").out
    assert ".github/workflows/mlci.yml grants what each mlci job writes" in out


def test_a_pinned_mlci_action_needs_no_exception(dvc_repo, mlci):
    project(dvc_repo)
    sha = "0123456789abcdef0123456789abcdef01234567"
    assert mlci(dvc_repo, "init", "--action", f"mlci/mlci@{sha}").code == 0
    text = (dvc_repo.path / ".github" / "workflows" / "mlci.yml").read_text()
    assert f"uses: mlci/mlci@{sha}\n" in text and "ignore[unpinned-uses]" not in text
    proc = zizmor("--no-config", dvc_repo.path / ".github/workflows/mlci.yml", cwd=dvc_repo.path)
    assert proc.returncode == 0, proc.stdout


@pytest.fixture
def gh(dvc_repo, github_fake, tmp_path, monkeypatch, mlci) -> Actions:
    return Actions(dvc_repo, github_fake, tmp_path, monkeypatch, mlci)


def test_the_publish_job_checks_the_uploaded_result_on_a_pull_request_event(gh):
    """The second job of the init workflow runs `mlci publish` on `pull_request`: the file came
    from the job that ran the PR's code, so it is checked against the committed files."""
    base, head = regressing_pr(gh)
    result = untrusted_result(gh, base, head)  # `mlci ci --no-publish` on pull_request
    doc = json.loads(result.read_text())
    doc["metrics"][0].update(head=0.99, status="improved", outcome="pass", delta=0.09)
    doc["reasons"], doc["verdict"] = [], "pass"
    forged = Path(gh.tmp / "runner" / "mlci-result.json")
    forged.write_text(json.dumps(doc))
    gh.repo.git("checkout", "-q", base)  # the publish job checks out the base
    gh.pull_request(9, base, head)
    run = gh.run("publish", str(forged))
    assert run.code == 1
    [comment] = gh.fake.comments()
    assert "does not match the pull request's committed files" in comment["body"]
    assert "eval/metrics.json:acc: uploaded 0.99, committed 0.85" in comment["body"]
    assert [s["state"] for s in gh.fake.statuses(head)] == ["failure"]
