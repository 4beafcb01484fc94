"""Hostile inputs from issue 23: who may act through a label, git refs from an event, odd runners.

One row per payload, each through the real CLI against real git (and DVC) and the fake
GitHub, which is held to GitHub's OpenAPI description. A row asserts what a reviewer or
the branch would see: the gate's state, what was pushed, and one clear line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.hostile.test_forge import own_output, publish_env
from tests.test_ci import Actions, comments, regressing_pr, untrusted_result
from tests.test_ci import gh as gh  # noqa: F401 - the fixture
from tests.test_writeback import _origin_tip, _project
from tests.test_writeback import runner as runner  # noqa: F401 - the fixture

OVERRIDE = "mlci:override"
COMMIT = "mlci:commit"


# --- 1. a label acts only when its last applier has write access -----------------------------


def _by(role: str):
    def apply(gh: Actions) -> None:
        gh.fake.set_permission("someone", role)
        gh.fake.label(7, OVERRIDE, actor="someone")

    return apply


def _relabelled_by_triage(gh: Actions) -> None:
    """A maintainer applied it once; a triage user removed it and applied it again."""
    gh.fake.set_permission("maintainer", "maintain")
    gh.fake.set_permission("someone", "triage")
    gh.fake.label(7, OVERRIDE, actor="maintainer")
    gh.fake.unlabel(7, OVERRIDE, actor="someone")
    gh.fake.label(7, OVERRIDE, actor="someone")


def _no_token(gh: Actions) -> None:
    gh.fake.set_permission("maintainer", "maintain")
    gh.fake.label(7, OVERRIDE, actor="maintainer")
    gh.mp.delenv("GITHUB_TOKEN")


UNTRUSTED_LABELS = [
    pytest.param(_by("triage"), "someone applied it last and has read permission", id="triage"),
    pytest.param(_by("read"), "someone applied it last and has read permission", id="read"),
    pytest.param(_by("none"), "someone applied it last and has none permission", id="outsider"),
    pytest.param(
        _relabelled_by_triage,
        "someone applied it last and has read permission",
        id="maintainers-label-reapplied-by-triage",
    ),
    pytest.param(_no_token, "without a token mlci cannot ask who applied it", id="no-token"),
]


def _labelled_event(gh: Actions, labels: list[str]) -> None:
    payload = json.loads(Path(gh.tmp / "pull_request.json").read_text())
    payload["pull_request"]["labels"] = [{"name": name} for name in labels]
    gh.env("pull_request", payload)


@pytest.mark.parametrize("apply,why", UNTRUSTED_LABELS)
def test_an_override_label_from_someone_without_write_access_is_ignored(gh, apply, why):  # noqa: F811
    base, head = regressing_pr(gh)
    gh.pull_request(7, base, head)
    _labelled_event(gh, [OVERRIDE])
    apply(gh)
    out = gh.tmp / "r.json"
    run = gh.run("ci", "--output", str(out))
    assert run.code == 1, own_output(run.err)
    doc = json.loads(out.read_text())
    assert doc["verdict"] == "fail" and doc.get("override") is None
    assert any(why in note and "'mlci:override' label is ignored" in note for note in doc["notes"])
    assert "gate closed" in gh.summary.read_text() and why in gh.summary.read_text()
    if "GITHUB_TOKEN" not in why:
        assert [s["state"] for s in gh.fake.statuses(head)] in ([], ["failure"])
    for comment in comments(gh.fake):
        assert "overridden" not in comment["body"] and why in comment["body"]


@pytest.mark.parametrize("role", ["write", "maintain", "admin"])
def test_an_override_label_from_a_writer_still_opens_the_gate(gh, role):  # noqa: F811
    """The control rows for the table above."""
    base, head = regressing_pr(gh)
    gh.pull_request(7, base, head)
    _labelled_event(gh, [OVERRIDE])
    gh.fake.set_permission("someone", role)
    gh.fake.label(7, OVERRIDE, actor="someone")
    run = gh.run("ci", "--format", "json")
    assert run.code == 0, own_output(run.err)
    assert run.json()["override"]["by"] == "someone"
    [status] = gh.fake.statuses(head)
    assert status["state"] == "success"


def test_publish_ignores_an_override_label_from_a_triage_user(gh):  # noqa: F811
    """The trusted half of the fork-safe flow reads the labels too: same rule."""
    base, head = regressing_pr(gh)
    result = untrusted_result(gh, base, head)
    gh.repo.git("checkout", "-q", "main")
    publish_env(gh, head, base)
    gh.fake.set_permission("someone", "triage")
    gh.fake.label(9, OVERRIDE, actor="someone")
    run = gh.run("publish", str(result))
    assert run.code == 1, own_output(run.err)
    [status] = gh.fake.statuses(head)
    assert status["state"] == "failure"
    [comment] = comments(gh.fake)
    assert "'mlci:override' label is ignored:" in comment["body"]


@pytest.mark.parametrize("role", ["triage", "read"])
def test_a_commit_label_from_someone_without_write_access_pushes_nothing(
    tmp_path,
    runner,  # noqa: F811
    role,
):
    p, head = _project(tmp_path, config="repro:\n  commit: false\n")
    job = runner(p)
    job.pr_event(p.git("rev-parse", "main"), head, attempt="2")
    job.fake.set_permission("someone", role)
    job.fake.label(7, COMMIT, actor="someone")
    code, doc = job.ci()
    wb = doc["writeback"]
    assert wb["status"] == "refused", wb
    assert "'mlci:commit' label is ignored: @someone applied it last" in wb["message"]
    assert _origin_tip(p, "feature") == head
    [comment] = comments(job.fake)
    assert "someone applied it last" in comment["body"]


# --- 7. a sha or a ref from an event never reaches git as an option ----------------------------

INJECTED = "--upload-pack=touch MARKER;true"


def _with_origin(gh: Actions) -> None:
    """An origin git can run upload-pack for (a local bare clone), as a runner's checkout has."""
    bare = gh.tmp / "origin.git"
    from tests.conftest import sh

    sh(["git", "clone", "-q", "--bare", str(gh.repo.path), str(bare)], gh.tmp)
    gh.repo.git("remote", "add", "origin", str(bare))


def _pull_request_field(side: str, key: str):
    def change(payload: dict, marker: str) -> None:
        payload["pull_request"][side][key] = INJECTED.replace("MARKER", marker)

    return change


def _push_before(payload: dict, marker: str) -> None:
    payload.clear()
    payload.update(
        {
            "before": INJECTED.replace("MARKER", marker),
            "after": "0" * 40,
            "ref": "refs/heads/main",
            "repository": {"full_name": "octo-org/ml-repo", "default_branch": "main"},
        }
    )


EVENT_INJECTIONS = [
    pytest.param("pull_request", _pull_request_field("base", "sha"), "base.sha", id="pr-base-sha"),
    pytest.param("pull_request", _pull_request_field("head", "sha"), "head.sha", id="pr-head-sha"),
    pytest.param("pull_request", _pull_request_field("base", "ref"), "base.ref", id="pr-base-ref"),
    pytest.param("pull_request", _pull_request_field("head", "ref"), "head.ref", id="pr-head-ref"),
    pytest.param("push", _push_before, "before", id="push-before"),
]


@pytest.mark.parametrize("event,change,where", EVENT_INJECTIONS)
def test_an_option_in_an_event_sha_or_ref_runs_nothing(gh, event, change, where):  # noqa: F811
    base, head = regressing_pr(gh)
    _with_origin(gh)
    gh.pull_request(7, base, head)
    payload = json.loads(Path(gh.tmp / "pull_request.json").read_text())
    marker = gh.tmp / "pwned"
    change(payload, str(marker))
    gh.env(event, payload)
    run = gh.run("ci")
    err = own_output(run.err)
    assert not marker.exists(), "git ran the event's option"
    assert run.code == 3, err
    assert "Traceback" not in err and "internal error" not in err
    [line] = [ln for ln in err.splitlines() if ln.startswith("mlci: error:")]
    assert where in line and ("not a commit sha" in line or "not a branch name" in line)
    assert gh.fake.statuses() == []


def test_an_option_as_the_workflow_runs_head_sha_runs_nothing(gh):  # noqa: F811
    """The trusted half fetches the head it publishes on: the event's value never reaches git."""
    from tests.test_ci import workflow_run_payload

    base, head = regressing_pr(gh)
    result = untrusted_result(gh, base, head)
    _with_origin(gh)
    gh.repo.git("checkout", "-q", "main")
    marker = gh.tmp / "pwned"
    forged = INJECTED.replace("MARKER", str(marker))
    payload = workflow_run_payload(forged, [])
    gh.env("workflow_run", payload)
    doc = json.loads(result.read_text())
    doc["context"]["head"]["sha"] = forged
    result.write_text(json.dumps(doc))
    run = gh.run("publish", str(result))
    err = own_output(run.err)
    assert not marker.exists(), "git ran the event's option"
    assert run.code in (2, 3), err
    assert "Traceback" not in err and "internal error" not in err
    assert [r for r in gh.fake.requests if r.is_write] == []


def test_an_option_as_the_configured_base_runs_nothing(gh):  # noqa: F811
    """``base:`` in mlci.yaml is the pull request's own file."""
    base, head = regressing_pr(gh)
    _with_origin(gh)
    marker = gh.tmp / "pwned"
    gh.repo.write(
        "mlci.yaml",
        "repro: {enabled: false}\nbase: " + json.dumps(INJECTED.replace("MARKER", str(marker))),
    )
    run = gh.run("check", "--no-repro")
    assert not marker.exists()
    assert run.code == 3 and "unknown base revision" in run.err and "Traceback" not in run.err


# --- 8. an odd runner environment: one line, no traceback --------------------------------------


def _folder_as(name: str):
    def change(gh: Actions) -> None:
        folder = gh.tmp / f"{name.lower()}-folder"
        folder.mkdir()
        gh.mp.setenv(name, str(folder))

    return change


def _runner_temp_file(gh: Actions) -> None:
    file = gh.tmp / "runner-temp-file"
    file.write_text("not a folder\n")
    gh.mp.setenv("RUNNER_TEMP", str(file))


ODD_RUNNERS = [
    pytest.param(_folder_as("GITHUB_EVENT_PATH"), "GITHUB_EVENT_PATH", id="event-path-folder"),
    pytest.param(_folder_as("GITHUB_OUTPUT"), "GITHUB_OUTPUT", id="output-folder"),
    pytest.param(_folder_as("GITHUB_STEP_SUMMARY"), "GITHUB_STEP_SUMMARY", id="summary-folder"),
    pytest.param(_runner_temp_file, "RUNNER_TEMP", id="runner-temp-a-file"),
]


@pytest.mark.parametrize("change,named", ODD_RUNNERS)
@pytest.mark.parametrize("command", ["ci", "publish"])
def test_an_odd_runner_environment_is_one_line(gh, change, named, command):  # noqa: F811
    base, head = regressing_pr(gh)
    args: list[str] = []
    if command == "publish":
        args = [str(untrusted_result(gh, base, head))]
        publish_env(gh, head, base)
    else:
        gh.pull_request(7, base, head)
    change(gh)
    run = gh.run(command, *args)
    err = own_output(run.err)
    assert "Traceback" not in err and "internal error" not in err, err[-2000:]
    errors = [ln for ln in err.splitlines() if ln.startswith("mlci: error:")]
    assert run.code == 3 and len(errors) == 1, err[-2000:]
    assert named in errors[0]


def _comment_event(gh: Actions, change) -> None:
    from tests.ghfake.payloads import event_payload
    from tests.test_ci import REPO

    payload = event_payload("issue_comment", "created", repo=REPO, pr_number=7, body="/mlci rerun")
    payload["comment"]["user"]["type"] = "User"
    change(payload)
    gh.env("issue_comment", payload)


COMMENT_PAYLOADS = [
    pytest.param(lambda p: p["comment"].pop("id"), "comment.id", id="no-comment-id"),
    pytest.param(lambda p: p["comment"].update(id="12; rm"), "comment.id", id="comment-id-text"),
    pytest.param(lambda p: p["issue"].update(number="7a"), "issue.number", id="issue-number-text"),
    pytest.param(lambda p: p["issue"].update(number=None), "issue.number", id="issue-number-null"),
    pytest.param(lambda p: p.update(comment="x"), "comment", id="comment-a-string"),
]


@pytest.mark.parametrize("change,named", COMMENT_PAYLOADS)
def test_an_odd_issue_comment_payload_is_one_line(gh, change, named):  # noqa: F811
    base, head = regressing_pr(gh)
    gh.fake.add_pull(7, head_sha=head, base_sha=base, head_ref="feature", base_ref="main")
    _comment_event(gh, change)
    run = gh.run("ci")
    err = own_output(run.err)
    assert "Traceback" not in err and "internal error" not in err, err[-2000:]
    errors = [ln for ln in err.splitlines() if ln.startswith("mlci: error:")]
    assert run.code == 3 and len(errors) == 1, err[-2000:]
    assert named in errors[0]
    assert [r for r in gh.fake.requests if r.is_write] == []


# --- 9. not tried before: /mlci rerun on a fork's own workflow, MLflow names --------------------


def test_rerun_never_picks_a_workflow_a_forks_pull_request_added(pr_fork):  # noqa: F811
    """A fork's PR adds .github/workflows/mlci-fork.yml named "mlci"; its run is the newest."""
    from tests.test_ci import REPO
    from tests.test_commands import replies, rerun, say

    pr = pr_fork
    ours = pr.fake.add_workflow_run(
        head_sha=pr.head,
        name="mlci",
        path=".github/workflows/mlci.yml",
        event="pull_request",
        run_number=1,
    )
    forks = pr.fake.add_workflow_run(
        head_sha=pr.head,
        name="mlci",
        path=".github/workflows/mlci-fork.yml",
        event="pull_request",
        run_number=2,
    )
    pr.mp.setenv(
        "GITHUB_WORKFLOW_REF", f"{REPO}/.github/workflows/mlci-commands.yml@refs/heads/main"
    )
    run = say(pr, "/mlci rerun", user="writer")
    assert rerun(pr, ours, forks) == [True, False]
    assert "Re-running" in replies(pr, run.comment_id)[0]


@pytest.fixture
def pr_fork(pr):  # noqa: F811
    """PR #7 from a fork; the checkout (the default branch) has mlci.yml, not the fork's file."""
    pr.fake.add_pull(
        7,
        head_sha=pr.head,
        base_sha=pr.repo.git("rev-parse", "main"),
        head_ref="feature",
        base_ref="main",
        head_repo="someone/ml-repo",
    )
    return pr


from tests.test_commands import pr as pr  # noqa: E402, F401 - the fixture

LONG = "m" * 300

MLFLOW_NAMES = [
    pytest.param({LONG + "a": 1.0, LONG + "b": 2.0}, {}, id="metric-names-equal-in-250-chars"),
    pytest.param({"a/b": 1.0, "a_b": 2.0, "a..b": 3.0, "a__b": 4.0}, {}, id="colliding-keys"),
    pytest.param({"acc": 0.9}, {"x" * 300: "v", "p": "y" * 10_000}, id="long-param-key-and-value"),
    pytest.param({"\u2028line": 1.0, "tab\there": 2.0, " ": 3.0}, {}, id="odd-characters"),
]


@pytest.mark.slow
@pytest.mark.parametrize("metrics,params", MLFLOW_NAMES)
def test_pr_controlled_names_do_not_break_mlflow_tracking(
    dvc_repo, mlci, tmp_path, metrics, params
):
    from tests.conftest import metrics_repo

    db = tmp_path / "mlflow.db"
    metrics_repo(
        dvc_repo,
        {"acc": 0.9},
        params={"lr": 0.1},
        config=f"repro: {{enabled: false}}\nmlflow:\n  tracking_uri: sqlite:///{db}\n",
    )
    dvc_repo.write("eval/metrics.json", dict(metrics, acc=0.9))
    dvc_repo.write("params.yaml", json.dumps({"train": dict(params, lr=0.1)}))
    run = mlci(dvc_repo, "check", "--format", "json")
    assert run.code in (0, 1), run.err[-2000:]
    assert "Traceback" not in run.err and "could not" not in run.err, run.err[-2000:]
    run_id = run.json()["mlflow"]["run_id"]
    from mlflow.tracking import MlflowClient

    finished = MlflowClient(f"sqlite:///{db}").get_run(run_id)
    assert finished.info.status == "FINISHED"
