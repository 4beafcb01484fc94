"""MLflow tracking, `mlci deploy` and `mlci rollback` on a real MLflow (SQLite file in tmp_path).

Creating an MLflow database runs its migrations (seconds), so one empty
database is made per session and copied into each test.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mlci.model.result import validate
from tests.conftest import (
    ACC_RULE,
    REPO_ROOT,
    GitRepo,
    metrics_repo,
    rules_config,
    sh,
    two_deploys_at_once,
)
from tests.ghfake.payloads import event_payload

REPO = "octo-org/ml-repo"
MODEL = "clf"


def config(db: Path, alias: str = "champion") -> str:
    # reproduction is off: these tests are about tracking and deploying (test_repro.py reproduces;
    # the act test at the end deploys the real example, reproducing it). Their dvc.lock is written
    # by hand to record data hashes for provenance, so the lock check is off too.
    return rules_config(
        ACC_RULE,
        before='repro:\n  enabled: false\n  require_committed_lock: "off"\n',
        after=f"""\
deploy:
  model_name: {MODEL}
  model_path: model.pkl
  alias: {alias}
mlflow:
  tracking_uri: sqlite:///{db}
  experiment: mlci-tests
""",
    )


@pytest.fixture(scope="session")
def empty_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow database with its tables made (the migrations run once per session)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow") / "empty.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


class Project:
    """A DVC project with metrics, a model file and an MLflow store, plus the CLI to drive it."""

    def __init__(self, repo: GitRepo, db: Path, mlci) -> None:
        self.repo, self.db, self._mlci = repo, db, mlci

    def run(self, *args: str):
        return self._mlci(self.repo, *args)

    def commit(self, acc: float, model: str = "weights") -> str:
        self.repo.write("eval/metrics.json", {"acc": acc, "loss": round(1 - acc, 3)})
        self.repo.write("model.pkl", f"{model} {acc}")
        return self.repo.commit(f"acc {acc}")

    def client(self):
        from mlflow import MlflowClient

        uri = f"sqlite:///{self.db}"
        return MlflowClient(tracking_uri=uri, registry_uri=uri)

    def champion(self, alias: str = "champion") -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client().get_model_version_by_alias(MODEL, alias).version)
        except MlflowException:
            return None

    def versions(self) -> list[str]:
        return sorted(
            str(v.version) for v in self.client().search_model_versions(f"name = '{MODEL}'")
        )


@pytest.fixture
def project(dvc_repo: GitRepo, empty_db: Path, tmp_path: Path, mlci) -> Project:
    db = tmp_path / "mlflow.db"
    shutil.copy(empty_db, db)
    dvc_repo.write("model.pkl", "weights 0.80")
    metrics_repo(dvc_repo, {"acc": 0.80, "loss": 0.2}, config=config(db))
    return Project(dvc_repo, db, mlci)


# --- tracking -------------------------------------------------------------------------------


def test_check_logs_a_run_with_tags_metrics_params_and_artifacts(project: Project):
    base = project.repo.git("rev-parse", "HEAD")
    project.repo.git("checkout", "-q", "-b", "feature")
    head = project.commit(0.85)
    run = project.run("check", "--format", "json", "--base", "main")
    assert run.code == 0, run.err
    doc = run.json()
    validate(doc)
    run_id = doc["mlflow"]["run_id"]
    assert doc["mlflow"]["url"] is None  # a SQLite store has no web page to link
    logged = project.client().get_run(run_id)
    tags = logged.data.tags
    assert tags["mlci.git.sha"] == head and tags["mlci.base.sha"] == base
    assert tags["mlci.git.branch"] == "feature" and tags["mlci.verdict"] == "pass"
    assert tags["mlci.kind"] == "check" and tags["mlflow.source.git.commit"] == head
    assert logged.data.metrics == {"eval/metrics.json:acc": 0.85, "eval/metrics.json:loss": 0.15}
    assert logged.data.params == {"params.yaml:train.lr": "0.1", "params.yaml:train.epochs": "10"}
    artifacts = {a.path for a in project.client().list_artifacts(run_id, "mlci")}
    assert artifacts == {"mlci/result.json", "mlci/report.md"}
    # the logged result is the one printed, mlflow reference included; artifacts stay out of the repo
    local = Path(
        project.client().download_artifacts(run_id, "mlci/result.json", str(project.db.parent))
    )
    assert json.loads(local.read_text()) == doc
    assert project.repo.git("status", "--porcelain") == ""


def test_ci_logs_a_run_with_the_pull_request_and_publishes_its_id(
    project: Project, github_fake, tmp_path, monkeypatch
):
    from mlci.forge.github import publish

    base = project.repo.git("rev-parse", "HEAD")
    project.repo.git("checkout", "-q", "-b", "feature")
    head = project.commit(0.70)
    github_fake.add_pull(7, head_sha=head, base_sha=base, head_ref="feature", base_ref="main")
    event = tmp_path / "pr.json"
    event.write_text(
        json.dumps(
            event_payload(
                "pull_request",
                "opened",
                repo=REPO,
                pr_number=7,
                head_sha=head,
                head_ref="feature",
                base_sha=base,
                base_ref="main",
            )
        )
    )
    env = github_fake.env(REPO)
    env.update(
        {
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(event),
            "RUNNER_TEMP": str(tmp_path),
            "MLCI_GITHUB_BACKOFF": "0",
            "MLCI_GITHUB_WRITE_INTERVAL": "0",
        }
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert project.run("ci").code == 1
    [comment] = github_fake.comments()
    published = publish.decode_result(comment["body"])
    assert published is not None and published.mlflow is not None
    tags = project.client().get_run(published.mlflow["run_id"]).data.tags
    assert tags["mlci.pr"] == "7" and tags["mlci.verdict"] == "fail" and tags["mlci.kind"] == "ci"
    assert tags["mlci.git.sha"] == head and tags["mlci.base.sha"] == base


def test_publish_does_not_link_an_mlflow_url_from_an_untrusted_result(
    dvc_repo, github_fake, tmp_path, monkeypatch, mlci
):
    from tests.test_ci import (
        Actions,
        comments,
        regressing_pr,
        untrusted_result,
        workflow_run_payload,
    )

    gh = Actions(dvc_repo, github_fake, tmp_path, monkeypatch, mlci)
    base, head = regressing_pr(gh)
    out = untrusted_result(gh, base, head)
    doc = json.loads(out.read_text())
    doc["mlflow"] = {"run_id": "r1", "experiment_id": "1", "url": "https://phish.example.com/login"}
    out.write_text(json.dumps(doc))
    gh.env(
        "workflow_run",
        workflow_run_payload(
            head,
            [
                {
                    "number": 9,
                    "head": {"sha": head, "ref": "feature"},
                    "base": {"sha": base, "ref": "main"},
                }
            ],
        ),
    )
    assert gh.run("publish", str(out)).code == 1
    [comment] = comments(github_fake)
    assert "gate closed" in comment["body"] and "phish.example.com" not in comment["body"]


def test_default_store_lives_under_dot_git_and_keeps_git_status_clean(dvc_repo, empty_db, mlci):
    metrics_repo(
        dvc_repo, {"acc": 0.8}, config="repro: {enabled: false}\nmlflow:\n  experiment: local\n"
    )
    store = dvc_repo.path / ".git" / "mlci" / "mlflow.db"
    store.parent.mkdir(parents=True)
    shutil.copy(empty_db, store)  # the migrations were run once for the session
    run = mlci(dvc_repo, "check", "--format", "json")
    assert run.code == 0, run.err
    assert run.json()["mlflow"]["run_id"]
    assert (dvc_repo.path / ".git" / "mlci" / "mlartifacts").is_dir()
    # nothing new, not even ignored files (DVC's own .dvc/tmp aside): no mlflow.db, no mlruns/
    assert dvc_repo.git("status", "--porcelain", "--ignored") == "!! .dvc/tmp/"


def test_doctor_names_the_default_store(dvc_repo, mlci):
    metrics_repo(dvc_repo, {"acc": 0.8}, config="deploy:\n  model_name: m\n  model_path: m.pkl\n")
    run = mlci(dvc_repo, "doctor")
    [line] = [x for x in run.out.splitlines() if "MLflow" in x]
    assert "/.git/mlci/mlflow.db (the default local store): will be created on first use" in line
    assert line.lstrip().startswith("✓")


def test_tracking_failure_is_a_warning_not_a_crash(dvc_repo, mlci, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    metrics_repo(
        dvc_repo,
        {"acc": 0.8},
        config=f"repro: {{enabled: false}}\nmlflow:\n  tracking_uri: sqlite:///{blocker}/m.db\n",
    )
    run = mlci(dvc_repo, "check", "--format", "json")
    assert run.code == 0
    assert "warning: the run was not logged to MLflow" in run.err
    assert run.json()["mlflow"] is None


def test_report_links_the_run_only_for_a_web_tracking_server():
    from mlci.model.result import Context, Result
    from mlci.report import render

    def footer(url):
        result = Result(context=Context(), verdict="pass", mlflow={"run_id": "r1", "url": url})
        return render.markdown(result).splitlines()[-1]

    url = "https://mlflow.example.com/#/experiments/1/runs/r1"
    assert f"· [MLflow run]({url})" in footer(url)
    assert "MLflow run" not in footer(None)
    assert "MLflow run" not in footer("https://evil.example.com/x) [click](javascript:alert(1)")


# --- deploy -------------------------------------------------------------------------------


def test_first_deploy_promotes_with_provenance_then_a_better_model_replaces_it(project: Project):
    first = project.repo.git("rev-parse", "HEAD")
    run = project.run("deploy", "--environment", "production", "--base", "HEAD")
    assert run.code == 0, run.err
    assert "promoted clf version 1 to @champion for production" in run.out
    assert "first deployment" in run.out
    assert project.champion() == "1" and project.champion("previous") is None

    second = project.commit(0.90, model="better")
    project.repo.write(
        "dvc.lock",
        "schema: '2.0'\nstages:\n  train:\n    cmd: python train.py\n"
        "    deps:\n    - path: data.csv\n      md5: 0123456789abcdef0123456789abcdef\n"
        "      size: 3\n",
    )
    project.repo.commit("lock")
    third = project.repo.git("rev-parse", "HEAD")
    run = project.run("deploy", "--environment", "production", "--base", first)
    assert run.code == 0, run.err
    assert "promoted clf version 2 to @champion (previous: version 1)" in run.out
    assert project.champion() == "2" and project.champion("previous") == "1"

    mv = project.client().get_model_version(MODEL, "2")
    tags = mv.tags
    assert tags["mlci.git.sha"] == third != second
    assert tags["mlci.git.branch"] == "main" and tags["mlci.base.sha"] == first
    assert tags["mlci.verdict"] == "pass" and tags["mlci.environment"] == "production"
    assert tags["mlci.summary"].startswith("✅ mlci: gate open")
    model_bytes = (project.repo.path / "model.pkl").read_bytes()
    assert tags["mlci.model.sha256"] == hashlib.sha256(model_bytes).hexdigest()
    assert len(tags["mlci.params.sha256"]) == 64
    assert json.loads(tags["mlci.data"]) == {"data.csv": "0123456789abcdef0123456789abcdef"}
    assert tags["mlci.dvc_lock"] == project.repo.git("rev-parse", "HEAD:dvc.lock")
    assert tags["mlci.replaced_version"] == "1"
    # the registered artifact is the file the pipeline produced, logged with the deploy run
    source = Path(mv.source.removeprefix("file://")) / "model.pkl"
    assert source.read_bytes() == model_bytes
    run_tags = project.client().get_run(mv.run_id).data.tags
    assert run_tags["mlci.kind"] == "deploy" and run_tags["mlci.deploy.outcome"] == "promoted"

    # deploying the same commit again changes nothing
    again = project.run("deploy", "--environment", "production", "--base", first)
    assert again.code == 0 and "already holds @champion" in again.out
    assert project.versions() == ["1", "2"]


def test_a_regressing_commit_is_refused_and_the_registry_is_unchanged(project: Project):
    assert project.run("deploy", "-e", "production", "--base", "HEAD").code == 0
    before = project.repo.git("rev-parse", "HEAD")
    project.commit(0.70)
    run = project.run("deploy", "-e", "production", "--base", before)
    assert run.code == 1
    assert "refused to deploy clf to production; nothing changed in the registry" in run.out
    assert "the gate is closed against" in run.out and "eval/metrics.json:acc" in run.out
    assert project.champion() == "1" and project.versions() == ["1"]
    # the attempt is on record as a run, without a model
    runs = project.client().search_runs(
        [project.client().get_experiment_by_name("mlci-tests").experiment_id],
        "tags.`mlci.deploy.outcome` = 'refused'",
    )
    assert len(runs) == 1 and runs[0].data.tags["mlci.verdict"] == "fail"


def test_champion_challenger_refuses_a_model_worse_than_the_champion(project: Project):
    low = project.repo.git("rev-parse", "HEAD")
    project.commit(0.95)
    assert project.run("deploy", "-e", "production", "--base", low).code == 0
    project.commit(0.85)
    # against its gate base (0.80) the candidate improved; against the champion (0.95) it did not
    run = project.run("deploy", "-e", "production", "--base", low)
    assert run.code == 1
    assert "worse than the champion (version 1" in run.out
    assert "the gate is closed" not in run.out
    assert project.champion() == "1" and project.versions() == ["1"]


def test_rollback_then_nothing_left_to_roll_back_to(project: Project):
    assert project.run("deploy", "-e", "production", "--base", "HEAD").code == 0
    first = project.repo.git("rev-parse", "HEAD")
    project.commit(0.90)
    assert project.run("deploy", "-e", "production", "--base", first).code == 0
    assert project.champion() == "2"

    run = project.run("rollback", "-e", "production")
    assert run.code == 0, run.err
    assert "clf@champion is back on version 1 (was version 2)" in run.out
    assert project.champion() == "1" and project.champion("previous") is None
    assert project.client().get_model_version(MODEL, "2").tags["mlci.rolled_back_from"] == "true"

    again = project.run("rollback", "-e", "production")
    assert again.code == 3
    assert "nothing to roll back to" in again.err and "version 1 holds @champion" in again.err
    assert project.champion() == "1"


def test_missing_model_file_is_exit_3_before_anything_is_registered(project: Project):
    (project.repo.path / "model.pkl").unlink()
    run = project.run("deploy", "-e", "production", "--base", "HEAD")
    assert run.code == 3
    assert "the model file model.pkl (deploy.model_path) does not exist" in run.err
    assert project.versions() == []
    assert project.client().get_experiment_by_name("mlci-tests") is None  # MLflow was not touched


def test_deploy_without_a_deploy_section_is_a_config_error(dvc_repo, mlci):
    metrics_repo(dvc_repo, {"acc": 0.8}, config="mlflow:\n  experiment: x\n")
    run = mlci(dvc_repo, "deploy", "-e", "production")
    assert run.code == 2 and "mlci.yaml: deploy: no deploy: section" in run.err


def test_a_deploy_section_alone_does_not_track_checks(dvc_repo, mlci):
    metrics_repo(
        dvc_repo,
        {"acc": 0.8},
        config="repro: {enabled: false}\ndeploy:\n  model_name: m\n  model_path: m.pkl\n",
    )
    run = mlci(dvc_repo, "check", "--format", "json")
    assert run.code == 0 and run.json()["mlflow"] is None
    assert not (dvc_repo.path / ".git" / "mlci" / "mlflow.db").exists()


def test_a_commit_that_is_not_the_tip_is_refused_unless_forced(project: Project, tmp_path: Path):
    origin = tmp_path / "origin.git"
    sh(["git", "init", "-q", "--bare", "-b", "main", str(origin)], tmp_path)
    project.repo.git("remote", "add", "origin", str(origin))
    old = project.repo.git("rev-parse", "HEAD")
    project.commit(0.81)
    project.repo.git("push", "-q", "origin", "main")
    project.repo.git(
        "reset", "-q", "--hard", old
    )  # an older commit of main, as a stale job sees it
    project.repo.write("model.pkl", "weights 0.80")

    run = project.run("deploy", "-e", "production", "--base", old)
    assert run.code == 1
    assert f"commit {old[:7]} is not the tip of origin/main" in run.out and "--force" in run.out
    assert project.versions() == []

    forced = project.run("deploy", "-e", "production", "--base", old, "--force")
    assert forced.code == 0, forced.err
    assert project.champion() == "1"
    assert "not the tip" in project.client().get_model_version(MODEL, "1").tags["mlci.forced"]


def test_a_deploy_waits_for_the_lock_and_gives_up_with_exit_3(
    project: Project, github_fake, monkeypatch
):
    for name, value in github_fake.env(REPO).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MLCI_GITHUB_WRITE_INTERVAL", "0")
    lock = project.db.parent / f".{project.db.name}.{MODEL}_champion.lock"
    monkeypatch.setenv("MLCI_DEPLOY_LOCK_TIMEOUT", "0")
    with open(lock, "a+") as fh:  # another deploy is between reading and moving the alias
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        run = project.run("deploy", "-e", "production", "--base", "HEAD")
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    assert run.code == 3 and "another mlci deploy holds" in run.err
    assert project.versions() == []
    # GitHub hears that this deployment errored (not that it failed the gate)
    [deployment] = github_fake.deployments()
    [status] = deployment["statuses"]
    assert status["state"] == "error" and "another mlci deploy holds" in status["description"]


def test_two_racing_deploys_leave_one_consistent_version(project: Project):
    outs = two_deploys_at_once(project.repo.path, timeout=120)
    said = sorted(
        "promoted"
        if "promoted clf version 1" in out
        else "already"
        if "already holds" in out
        else out
        for out, _ in outs
    )
    assert said == ["already", "promoted"]  # the second one saw the first one's version
    assert project.versions() == ["1"] and project.champion() == "1"


# --- GitHub deployments -------------------------------------------------------------------------


def test_deployments_are_recorded_on_github(project: Project, github_fake, tmp_path, monkeypatch):
    first = project.repo.git("rev-parse", "HEAD")
    head = project.commit(0.90)
    event = tmp_path / "push.json"
    event.write_text(
        json.dumps(event_payload("push", repo=REPO, head_ref="main", head_sha=head, base_sha=first))
    )
    env = github_fake.env(REPO, token="ghs_deploy_token")
    env.update(
        {
            "GITHUB_EVENT_NAME": "push",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_RUN_ID": "77",
            "GITHUB_ACTOR": "octocat",
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            "GITHUB_OUTPUT": str(tmp_path / "out"),
            "RUNNER_TEMP": str(tmp_path),
            "MLCI_GITHUB_BACKOFF": "0",
            "MLCI_GITHUB_WRITE_INTERVAL": "0",
        }
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    run = project.run("deploy", "--environment", "production")  # base: the push's before
    assert run.code == 0, run.err
    [created] = github_fake.deployments()
    assert created["ref"] == head and created["environment"] == "production"
    assert created["payload"]["version"] == "1" and created["payload"]["model"] == MODEL
    [status] = created["statuses"]
    assert status["state"] == "success"
    assert status["target_url"] == f"https://github.com/{REPO}/actions/runs/77"
    assert status["log_url"] == status["target_url"]
    assert status["environment_url"] == ""  # a SQLite store has no page to open
    assert project.client().get_model_version(MODEL, "1").tags["mlci.base.sha"] == first
    assert "verdict=pass" in (tmp_path / "out").read_text()
    summary = (tmp_path / "summary.md").read_text()
    assert "promoted clf version 1" in summary
    # the deployment links to the model card, which the run's summary (its target_url) shows
    mv = project.client().get_model_version(MODEL, "1")
    assert created["payload"]["model_card"] == f"model_card.md of MLflow run {mv.run_id}"
    assert f"# Model card: `{MODEL}` version 1" in summary and mv.description in summary
    assert "by @octocat through GitHub Actions (push event" in mv.description.replace(
        "&#64;&#8203;", "@"
    )

    # a refused deploy is recorded as a failed deployment
    worse = project.commit(0.50)
    event.write_text(
        json.dumps(event_payload("push", repo=REPO, head_ref="main", head_sha=worse, base_sha=head))
    )
    assert project.run("deploy", "--environment", "production").code == 1
    refused, _ = github_fake.deployments()  # newest first
    assert refused["ref"] == worse and [s["state"] for s in refused["statuses"]] == ["failure"]

    # a rollback after a second promotion is recorded too, on the commit rolled back to
    better = project.commit(0.95)
    event.write_text(
        json.dumps(
            event_payload("push", repo=REPO, head_ref="main", head_sha=better, base_sha=worse)
        )
    )
    assert project.run("deploy", "--environment", "production", "--base", head).code == 0
    assert project.run("rollback", "--environment", "production").code == 0
    last = github_fake.deployments()[0]
    assert last["ref"] == head and last["payload"]["rollback"] is True
    assert "back on version 1" in last["statuses"][0]["description"]


def test_a_github_outage_does_not_undo_or_fail_a_deploy(
    project: Project, github_fake, tmp_path, monkeypatch
):
    github_fake.forbid_writes(REPO)
    for name, value in github_fake.env(REPO).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MLCI_GITHUB_BACKOFF", "0")
    monkeypatch.setenv("MLCI_GITHUB_WRITE_INTERVAL", "0")
    run = project.run("deploy", "-e", "staging", "--base", "HEAD")
    assert run.code == 0, run.err
    assert "could not record the deployment to staging on GitHub" in run.err
    assert project.champion() == "1"


# --- the example workflow's deploy job, run by act -----------------------------------------------


@pytest.mark.slow
def test_the_example_deploy_job_runs_with_act(dvc_repo, github_fake, empty_db, tmp_path):
    """On a push to main: the mlci job passes, the deploy job reproduces the model and promotes it."""
    from tests.test_action import act_command

    repo = dvc_repo
    shutil.copytree(REPO_ROOT / "examples" / "project", repo.path, dirs_exist_ok=True)
    # committed metrics below what the pipeline really reaches, so the reproduced model passes
    metrics = {
        "accuracy": 0.95,
        "roc_auc": 0.99,
        "avg_prec": {"test": 0.99},
        "log_loss": 0.15,
        "latency_ms": 0.5,
    }
    repo.write("eval/metrics.json", metrics)
    (repo.path / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(
        REPO_ROOT / "examples" / "workflows" / "mlci.yml", repo.path / ".github" / "workflows"
    )
    base = repo.commit("baseline")
    repo.write("README.md", "a docs change\n")
    head = repo.commit("docs")
    # act names the repository after origin's URL. GIT_ALLOW_PROTOCOL=file (below) makes the
    # tip check's `git ls-remote` fail at once instead of reaching the network, so the tip
    # comes from the remote-tracking branch, as after actions/checkout's fetch
    repo.git("remote", "add", "origin", f"https://github.com/{REPO}.git")
    repo.git("update-ref", "refs/remotes/origin/main", head)
    db = tmp_path / "registry.db"
    shutil.copy(empty_db, db)

    event = tmp_path / "push.json"
    event.write_text(
        json.dumps(event_payload("push", repo=REPO, head_ref="main", head_sha=head, base_sha=base))
    )
    proc = subprocess.run(
        [
            *act_command("push", event, tmp_path, github_fake.url),
            "--var",
            f"MLFLOW_TRACKING_URI=sqlite:///{db}",
            "--env",
            "GIT_ALLOW_PROTOCOL=file",
        ],
        cwd=repo.path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    assert "promoted example-classifier version 1 to @champion for production" in log, log
    [created] = github_fake.deployments()
    assert created["ref"] == head and created["environment"] == "production"
    [status] = created["statuses"]
    assert status["state"] == "success"
    from mlflow import MlflowClient

    mv = MlflowClient(tracking_uri=f"sqlite:///{db}").get_model_version_by_alias(
        "example-classifier", "champion"
    )
    assert mv.tags["mlci.git.sha"] == head and mv.tags["mlci.base.sha"] == base


def test_deploy_records_its_gate_in_the_history(project: Project, tmp_path, monkeypatch):
    """`mlci deploy` on a push to the default branch notes its result and pushes the notes."""
    origin = tmp_path / "origin.git"
    sh(["git", "init", "-q", "--bare", "-b", "main", str(origin)], tmp_path)
    project.repo.git("remote", "add", "origin", str(origin))
    first = project.repo.git("rev-parse", "HEAD")
    # a result is recorded only when dvc.lock is known to match (here: no lock, nothing stale)
    project.repo.write("mlci.yaml", config(project.db).replace('"off"', "warn"))
    head = project.commit(0.90)
    project.repo.git("push", "-q", "origin", "main")
    payload = event_payload("push", repo=REPO, head_ref="main", head_sha=head, base_sha=first)
    payload["repository"]["default_branch"] = "main"
    event = tmp_path / "push.json"
    event.write_text(json.dumps(payload))
    for name, value in {
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": REPO,
        "RUNNER_TEMP": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)
    run = project.run("deploy", "--environment", "production")
    assert run.code == 0, run.err
    assert f"recorded the result on {head[:7]} and pushed refs/notes/mlci" in run.err
    note = json.loads(sh(["git", "notes", "--ref=mlci", "show", head], origin))
    assert note["context"]["head"]["sha"] == head and note["verdict"] == "pass"


def test_a_hostile_model_name_reaches_github_deployments_clipped_and_valid(
    dvc_repo: GitRepo, empty_db: Path, tmp_path: Path, mlci, github_fake, monkeypatch
):
    """The GitHub Deployment's payload and description carry names from the config and MLflow's
    errors: bounded, valid against GitHub's OpenAPI description (the fake checks each request),
    and a failure to record is a warning, never a traceback."""
    db = tmp_path / "mlflow.db"
    shutil.copy(empty_db, db)
    name = "clf-" + "x" * 300 + " @everyone <b>bold</b>"
    cfg = config(db).replace(f"model_name: {MODEL}", f'model_name: "{name}"')
    dvc_repo.write("model.pkl", "weights 0.80")
    metrics_repo(dvc_repo, {"acc": 0.80, "loss": 0.2}, config=cfg)
    for key, value in github_fake.env(REPO).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MLCI_GITHUB_BACKOFF", "0")
    monkeypatch.setenv("MLCI_GITHUB_WRITE_INTERVAL", "0")
    run = mlci(dvc_repo, "deploy", "-e", "production", "--base", "HEAD")
    assert "Traceback" not in run.err, run.err[-3000:]
    [deployment] = github_fake.deployments()
    [status] = deployment["statuses"]
    assert len(deployment["description"]) <= 140 and len(status["description"]) <= 140
    assert deployment["payload"]["model"] == name  # as configured, carried as JSON data
    assert status["state"] in ("success", "error")
    assert run.code == (0 if status["state"] == "success" else 3)


def test_a_deploy_after_a_rollback_promotes_the_new_model(project: Project):
    """The version a rollback took the alias from claimed it from the champion that is now back:
    that claim is over, and the next deploy, which reads the same champion, is no lost race."""
    assert project.run("deploy", "-e", "production", "--base", "HEAD").code == 0
    project.commit(0.90)
    assert project.run("deploy", "-e", "production", "--base", "HEAD~1").code == 0
    assert project.champion() == "2"
    assert project.run("rollback", "-e", "production").code == 0
    assert project.champion() == "1"
    project.commit(0.95)
    run = project.run("deploy", "-e", "production", "--base", "HEAD~1")
    assert run.code == 0, run.err
    assert project.champion() == "3" and "another deploy registered" not in run.out + run.err
