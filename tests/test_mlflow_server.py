"""Deploy, rollback and the model card against a real `mlflow server` process on a loopback port.

This is the path teams use in CI: the registry is a tracking server, so mlci cannot take a file
lock around reading and moving the alias; the claim on the alias decides instead. The server is
the full `mlflow` package's (the test extra), started once per session on a free port, ready when
its /health endpoint answers, stopped in the fixture's finalizer. Each test uses its own model.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import test_deploy
from tests.conftest import VENV_BIN, GitRepo, metrics_repo, two_deploys_at_once
from tests.ghfake.payloads import event_payload

empty_db = test_deploy.empty_db  # the migrated database, copied as the server's store

REPO = "octo-org/ml-repo"
STARTUP_LIMIT_S = 600  # a generous bound for a loaded machine; readiness is polled, not waited


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=5) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def mlflow_server(empty_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a running `mlflow server` (SQLite store, proxied artifacts)."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    db = folder / "server.db"
    shutil.copy(empty_db, db)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = folder / "server.log"
    env = {
        **os.environ,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        # no background job runner (a huey consumer per job type, ~8 processes): registry
        # calls, all a deploy makes, do not use it
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                str(VENV_BIN / "mlflow"),
                "server",
                "--backend-store-uri",
                f"sqlite:///{db}",
                "--artifacts-destination",
                str(folder / "artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=folder,
            env=env,
            start_new_session=True,  # its own process group: the finalizer stops uvicorn's too
        )
    try:
        import time

        deadline = time.monotonic() + STARTUP_LIMIT_S
        while not _healthy(url):
            try:
                code = proc.wait(timeout=0.5)  # returns at once if the server died
            except subprocess.TimeoutExpired:
                code = None
            if code is not None:
                pytest.fail(f"mlflow server exited with {code}:\n{log_path.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server not healthy:\n{log_path.read_text()[-3000:]}")
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class ServerProject:
    """A DVC project deploying its own model (a fresh name) to the shared server."""

    def __init__(self, repo: GitRepo, url: str, mlci) -> None:
        self.repo, self.url, self._mlci = repo, url, mlci
        self.model = f"clf-{uuid.uuid4().hex[:8]}"

    def config(self) -> str:
        return (
            test_deploy.config(Path("unused.db"))
            .replace(f"model_name: {test_deploy.MODEL}", f"model_name: {self.model}")
            .replace("sqlite:///unused.db", self.url)
            .replace("experiment: mlci-tests", f"experiment: {self.model}")
        )

    def run(self, *args: str):
        return self._mlci(self.repo, *args)

    def commit(self, acc: float, model: str = "weights") -> str:
        self.repo.write("eval/metrics.json", {"acc": acc, "loss": round(1 - acc, 3)})
        self.repo.write("model.pkl", f"{model} {acc}")
        return self.repo.commit(f"acc {acc}")

    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.url, registry_uri=self.url)

    def champion(self, alias: str = "champion") -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client().get_model_version_by_alias(self.model, alias).version)
        except MlflowException:
            return None

    def versions(self) -> list[str]:
        found = self.client().search_model_versions(f"name = '{self.model}'")
        return sorted((str(v.version) for v in found), key=int)

    def rival_claim(self, sha: str, champion: str = "none") -> str:
        """What another deploy leaves between registering its candidate and moving the alias."""
        client = self.client()
        exp = client.get_experiment_by_name(self.model) or client.get_experiment(
            client.create_experiment(self.model)
        )
        run = client.create_run(exp.experiment_id)
        client.log_text(run.info.run_id, "weights of the other deploy", "model/model.pkl")
        if not client.search_registered_models(f"name = '{self.model}'"):
            client.create_registered_model(self.model)
        mv = client.create_model_version(
            self.model,
            f"{run.info.artifact_uri}/model",
            run_id=run.info.run_id,
            tags={
                "mlci.git.sha": sha,
                "mlci.claim.alias": "champion",
                "mlci.claim.champion": champion,
                "mlci.claim.state": "candidate",
            },
        )
        return str(mv.version)


@pytest.fixture
def server_project(dvc_repo: GitRepo, mlflow_server: str, mlci) -> ServerProject:
    project = ServerProject(dvc_repo, mlflow_server, mlci)
    dvc_repo.write("model.pkl", "weights 0.80")
    metrics_repo(dvc_repo, {"acc": 0.80, "loss": 0.2}, config=project.config())
    return project


def test_deploy_card_and_rollback_against_a_tracking_server(
    server_project: ServerProject, github_fake, tmp_path, monkeypatch
):
    p = server_project
    first = p.repo.git("rev-parse", "HEAD")
    assert p.run("deploy", "-e", "production", "--base", "HEAD").code == 0
    head = p.commit(0.90, model="better")
    event = tmp_path / "push.json"
    event.write_text(
        json.dumps(event_payload("push", repo=REPO, head_ref="main", head_sha=head, base_sha=first))
    )
    env = github_fake.env(REPO)
    env.update(
        {
            "GITHUB_EVENT_NAME": "push",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_RUN_ID": "88",
            "GITHUB_ACTOR": "octocat",
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            "MLCI_GITHUB_BACKOFF": "0",
            "MLCI_GITHUB_WRITE_INTERVAL": "0",
        }
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    run = p.run("deploy", "-e", "production")
    assert run.code == 0, run.err
    assert f"promoted {p.model} version 2 to @champion (previous: version 1)" in run.out
    page = f"{p.url}/#/models/{p.model}/versions/2"
    assert page in run.out
    assert p.champion() == "2" and p.champion("previous") == "1"

    # the card: the version's description and the run's artifact, through the server
    client = p.client()
    mv = client.get_model_version(p.model, "2")
    card = mv.description
    assert card.startswith(f"# Model card: `{p.model}` version 2\n")
    assert f"| registry | [{p.model} version 2]({page}) |" in card
    assert f"| replaced | version 1 (`{first[:12]}`) |" in card
    assert f"]({p.url}/#/experiments/" in card  # the deploy run, linked on the server
    local = client.download_artifacts(mv.run_id, "model_card.md", str(tmp_path))
    assert Path(local).read_text(encoding="utf-8") == card
    # the GitHub Deployment, as its environment's page shows it: "View deployment" opens the
    # version's page, whose description is the card; the log link is the run, whose job
    # summary shows the card too
    [created] = github_fake.deployments()
    assert created["payload"]["model_card"] == page
    [status] = created["statuses"]
    assert status["state"] == "success" and status["environment_url"] == page
    run_url = f"https://github.com/{REPO}/actions/runs/88"
    assert status["log_url"] == run_url and status["target_url"] == run_url
    assert card in (tmp_path / "summary.md").read_text()

    # `mlci card` reads the same registry
    shown = p.run("card", "--base", first)
    assert shown.code == 0, shown.err
    assert shown.out.startswith(f"# Model card: `{p.model}` version 2\n")
    assert f"| replaced | version 1 (`{first[:12]}`) |" in shown.out

    back = p.run("rollback", "-e", "production")
    assert back.code == 0, back.err
    assert f"{p.model}@champion is back on version 1 (was version 2)" in back.out
    assert p.champion() == "1" and p.champion("previous") is None
    # the rollback's Deployment: "View deployment" opens the version now deployed
    rolled = github_fake.deployments()[0]
    assert rolled["payload"]["rollback"] and rolled["payload"]["version"] == "1"
    assert rolled["sha"] == first
    assert rolled["statuses"][0]["environment_url"] == f"{p.url}/#/models/{p.model}/versions/1"
    for name in env:
        monkeypatch.delenv(name)
    again = p.run("rollback", "-e", "production")
    assert again.code == 3 and "nothing to roll back to" in again.err


def test_a_deploy_that_loses_the_claim_promotes_nothing_and_names_the_winner(
    server_project: ServerProject,
):
    p = server_project
    other = "f" * 40
    rival = p.rival_claim(other)  # another deploy registered first and is about to move the alias
    mine = p.commit(0.90)
    run = p.run("deploy", "-e", "production", "--base", "HEAD~1")
    assert run.code == 3, run.out + run.err
    assert (
        f"another deploy registered {p.model} version {rival} of commit fffffff first to "
        f"replace no version at @champion: that one moves the alias, this one promoted nothing "
        f"(version 2 was removed again)"
    ) in run.err
    assert p.champion() is None and p.versions() == [rival]
    runs = p.client().search_runs(
        [p.client().get_experiment_by_name(p.model).experiment_id],
        "tags.`mlci.deploy.outcome` = 'lost'",
    )
    assert len(runs) == 1 and runs[0].data.tags["mlci.git.sha"] == mine

    # once the other deploy is done (here: it gave up), this one wins
    p.client().set_model_version_tag(p.model, rival, "mlci.claim.state", "lost")
    run = p.run("deploy", "-e", "production", "--base", "HEAD~1")
    assert run.code == 0, run.err
    assert p.champion() == "3"
    tags = p.client().get_model_version(p.model, "3").tags
    assert tags["mlci.claim.state"] == "promoted" and tags["mlci.claim.champion"] == "none"


def test_the_same_commit_claimed_twice_is_deployed_once(server_project: ServerProject):
    p = server_project
    head = p.repo.git("rev-parse", "HEAD")
    rival = p.rival_claim(head)  # a re-run of this deploy job got there first
    run = p.run("deploy", "-e", "production", "--base", "HEAD")
    assert run.code == 0, run.err
    assert (
        f"another deploy of this commit registered {p.model} version {rival} first and moves "
        "@champion to it; this one changed nothing"
    ) in run.out
    assert p.versions() == [rival]


def test_two_deploys_at_once_against_the_server_leave_one_winner(server_project: ServerProject):
    p = server_project
    outs = two_deploys_at_once(p.repo.path, timeout=600)
    said = sorted(
        "promoted"
        if f"promoted {p.model} version" in out
        else "already"
        if "already holds @champion" in out  # the second one started after the first finished
        else "claimed"
        if "another deploy of this commit registered" in out  # they raced: one claim won
        or "another deploy of this commit moved @champion" in out  # ... and moved the alias
        else out + err
        for out, err in outs
    )
    assert said in (["already", "promoted"], ["claimed", "promoted"]), outs
    [version] = p.versions()
    assert p.champion() == version


@pytest.mark.parametrize("same_commit", [True, False], ids=["same-commit", "other-commit"])
def test_the_alias_moved_while_this_deploy_was_comparing(
    server_project: ServerProject, monkeypatch: pytest.MonkeyPatch, same_commit: bool
):
    """Another deploy moves the alias between this one's champion read and its claim.

    The other deploy's whole work (register a version, move the alias) is done through the
    server at that exact moment: right after this deploy compared with the champion it read.
    """
    from mlci.engine import challenger

    p = server_project
    head = p.repo.git("rev-parse", "HEAD")
    other_sha = head if same_commit else "e" * 40
    real_challenge = challenger.challenge
    moved: list[str] = []

    def compare_then_the_other_deploy_finishes(*args, **kwargs):
        found = real_challenge(*args, **kwargs)
        version = p.rival_claim(other_sha)
        p.client().set_registered_model_alias(p.model, "champion", version)
        p.client().set_model_version_tag(p.model, version, "mlci.claim.state", "promoted")
        moved.append(version)
        return found

    monkeypatch.setattr(challenger, "challenge", compare_then_the_other_deploy_finishes)
    run = p.run("deploy", "-e", "production", "--base", "HEAD")
    assert moved, run.out + run.err
    [winner] = moved
    assert p.champion() == winner and p.versions() == [winner]  # this deploy registered nothing
    runs = p.client().search_runs(
        [p.client().get_experiment_by_name(p.model).experiment_id],
        "tags.`mlci.deploy.outcome` = 'lost'",
    )
    assert [r.data.tags["mlci.git.sha"] for r in runs] == [head]
    if same_commit:
        # the other deploy did this one's work: nothing failed
        assert run.code == 0, run.out + run.err
        assert (
            f"mlci deploy: another deploy of this commit moved @champion to {p.model} version "
            f"{winner} while this one was comparing; this one registered nothing (production)"
        ) in run.out
    else:
        assert run.code == 3, run.out + run.err
        assert (
            f"{p.model}@champion moved to version {winner} while this deploy was comparing: "
            "nothing was registered; run the deploy again"
        ) in run.err
