"""Write-back: the reproduced dvc.lock and git-tracked outputs committed to the PR branch.

A real project with a bare origin and a folder DVC remote (``tests/corpus.py``), a
runner's fresh clone of the PR branch, ``mlci ci`` on a ``pull_request`` event against
the fake GitHub, real ``dvc repro``/``dvc push`` and real ``git push`` to the origin.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import VENV_BIN, GitRepo, sh
from tests.corpus import Project
from tests.ghfake.payloads import event_payload
from tests.test_ci import REPO, Actions

BOT = "github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>"

TRAIN = """\
import json, sys, yaml
lr = yaml.safe_load(open("params.yaml"))["train"]["lr"]
if lr < 0:
    sys.exit("lr must be positive")
open("model.txt", "w").write(f"weights for lr={lr}\\n")
json.dump({"acc": round(0.9 - abs(lr - 0.1), 4)}, open("metrics.json", "w"))
open("loss.csv", "w").write("step,loss\\n" + "".join(f"{i},{lr / (i + 1):.4f}\\n" for i in range(3)))
"""

PIPELINE = """\
stages:
  train:
    cmd: python train.py
    deps:
      - train.py
    params:
      - train.lr
    outs:
      - model.txt
    metrics:
      - metrics.json:
          cache: false
    plots:
      - loss.csv:
          cache: false
"""


def _origin_tip(p: Project, branch: str) -> str:
    return sh(["git", "rev-parse", f"refs/heads/{branch}"], p.origin).strip()


def _project(tmp_path: Path, config: str = "repro:\n  commit: true\n") -> tuple[Project, str]:
    """main: a reproduced baseline; feature: a params change whose dvc.lock is stale."""
    p = Project.create(tmp_path)
    p.write("train.py", TRAIN)
    p.write("dvc.yaml", PIPELINE)
    p.write("params.yaml", yaml.safe_dump({"train": {"lr": 0.1}}))
    p.write("mlci.yaml", config)
    p.repro()
    p.commit("baseline")
    p.publish("main")
    p.git("checkout", "-q", "-b", "feature")
    p.set_params(lr=0.2)
    p.commit("a larger learning rate (not reproduced)")
    head = p.publish("feature", dvc_push=False)
    return p, head


class Runner(Actions):
    """A job on a runner: the fresh clone of the PR branch, and its Actions environment."""

    def pr_event(self, base: str, head: str, *, fork: str | None = None, attempt: str = "1"):
        self.fake.add_pull(
            7,
            head_sha=head,
            base_sha=base,
            head_ref="feature",
            base_ref="main",
            head_repo=fork,
        )
        payload = event_payload(
            "pull_request",
            "synchronize",
            repo=REPO,
            pr_number=7,
            head_sha=head,
            head_ref="feature",
            base_sha=base,
            base_ref="main",
            head_repo=fork,
        )
        self.env("pull_request", payload)
        self.mp.setenv("GITHUB_RUN_ATTEMPT", attempt)

    def ci(self) -> tuple[int, dict]:
        out = self.tmp / "result.json"
        run = self.run("ci", "--output", str(out))
        self.last = run
        return run.code, json.loads(out.read_text())


@pytest.fixture
def runner(tmp_path, github_fake, monkeypatch, mlci):
    def make(p: Project) -> Runner:
        clone = p.fresh_clone(tmp_path / "runner-clone", branch="feature")
        work = tmp_path / "job"
        work.mkdir()
        return Runner(clone, github_fake, work, monkeypatch, mlci)

    return make


def test_the_commit_lands_on_the_pr_branch_with_files_author_and_parent(tmp_path, runner):
    p, head = _project(tmp_path)
    base = p.git("rev-parse", "main")
    job = runner(p)
    job.pr_event(base, head)
    code, doc = job.ci()
    assert code == 0, job.last.err
    wb = doc["writeback"]
    assert wb["status"] == "pushed", wb
    new = _origin_tip(p, "feature")
    assert wb["sha"] == new and wb["parent"] == head and wb["branch"] == "feature"
    assert wb["files"] == ["dvc.lock", "loss.csv", "metrics.json"]
    origin = GitRepo(p.origin)
    assert origin.git("log", "-1", "--format=%P", new) == head
    assert origin.git("log", "-1", "--format=%an <%ae>", new) == BOT
    assert origin.git("log", "-1", "--format=%cn <%ce>", new) == BOT
    changed = origin.git("diff-tree", "--no-commit-id", "--name-only", "-r", new).splitlines()
    assert changed == [
        "dvc.lock",
        "loss.csv",
        "metrics.json",
    ]  # model.txt is cached: it went to DVC
    message = origin.git("log", "-1", "--format=%B", new)
    assert message.startswith("mlci: reproduce train\n")
    assert "Stages that ran: train." in message and f"from {head}" in message
    committed = json.loads(origin.git("show", f"{new}:metrics.json"))
    assert committed == {"acc": 0.8}
    assert origin.git("show", f"{new}:loss.csv").splitlines()[1] == "0,0.2000"  # a plot
    # dvc push came first: the model the new dvc.lock records is in the DVC remote
    lock = yaml.safe_load(origin.git("show", f"{new}:dvc.lock"))
    md5 = next(o["md5"] for o in lock["stages"]["train"]["outs"] if o["path"] == "model.txt")
    assert (p.storage / "files" / "md5" / md5[:2] / md5[2:]).is_file()
    # the run judged the new commit: result, status and comment name it
    assert doc["context"]["head"]["sha"] == new
    assert not [r for r in doc["reasons"] if "dvc.lock" in r["message"]]
    # ... as a reviewer sees them on GitHub: the new commit has the status and the check run,
    # the reproduced one has none, and the PR's comment names the new commit
    [status] = job.fake.statuses(new)
    assert status["state"] == "success" and status["context"].startswith("mlci")
    assert job.fake.statuses(head) == []
    [check] = job.fake.check_runs(new)
    assert check["head_sha"] == new and check["conclusion"] == "success"
    assert job.fake.check_runs(head) == []
    [comment] = job.fake.comments(7)
    body = comment["body"]
    assert f"`{new[:7]}`" in body and "**Write-back** — ✅ committed" in body
    assert f"`{head[:7]}`" not in body.split("**Write-back**")[0]
    # dvc push came before git push: a fresh clone of the PR branch pulls every output the
    # new dvc.lock names, and finds the pipeline up to date
    fresh = p.fresh_clone(tmp_path / "reviewer-clone", branch="feature")
    assert fresh.git("rev-parse", "HEAD") == new
    sh([str(VENV_BIN / "dvc"), "pull", "-q"], fresh.path)
    assert (fresh.path / "model.txt").read_text() == "weights for lr=0.2\n"
    status_out = sh([str(VENV_BIN / "dvc"), "status", "--json"], fresh.path)
    assert json.loads(status_out) == {}
    # a second run on the new commit has nothing left to commit
    job.repo.git("fetch", "-q", "origin")
    job.repo.git("checkout", "-q", "-f", new)  # the work tree holds the same files
    job.pr_event(base, new)
    code, doc = job.ci()
    assert doc["writeback"]["status"] == "nothing" and _origin_tip(p, "feature") == new


def test_a_dvc_project_in_a_subfolder_commits_its_files_by_their_repository_paths(
    tmp_path, github_fake, monkeypatch, mlci
):
    """A monorepo: `dvc init --subdir` in ml/, mlci run from there."""
    p = Project.create(tmp_path, subdir="ml")
    p.write("ml/train.py", TRAIN)
    p.write("ml/dvc.yaml", PIPELINE)
    p.write("ml/params.yaml", yaml.safe_dump({"train": {"lr": 0.1}}))
    p.write("ml/mlci.yaml", "repro:\n  commit: true\n")
    p.repro(cwd="ml")
    p.commit("baseline")
    p.publish("main", cwd="ml")
    p.git("checkout", "-q", "-b", "feature")
    p.set_params(file="ml/params.yaml", lr=0.2)
    head = p.commit("a larger learning rate (not reproduced)")
    p.publish("feature", dvc_push=False)
    clone = p.fresh_clone(tmp_path / "runner-clone", branch="feature")
    work = tmp_path / "job"
    work.mkdir()
    job = Runner(GitRepo(clone.path / "ml"), github_fake, work, monkeypatch, mlci)
    job.pr_event(p.git("rev-parse", "main"), head)
    code, doc = job.ci()
    wb = doc["writeback"]
    assert wb["status"] == "pushed", wb
    assert wb["files"] == ["ml/dvc.lock", "ml/loss.csv", "ml/metrics.json"]
    new = _origin_tip(p, "feature")
    origin = GitRepo(p.origin)
    changed = origin.git("diff-tree", "--no-commit-id", "--name-only", "-r", new).splitlines()
    assert changed == wb["files"] and origin.git("log", "-1", "--format=%P", new) == head
    assert json.loads(origin.git("show", f"{new}:ml/metrics.json")) == {"acc": 0.8}


def test_a_fork_pr_writes_nothing(tmp_path, runner):
    p, head = _project(tmp_path)
    job = runner(p)
    job.pr_event(p.git("rev-parse", "main"), head, fork="someone/ml-repo")
    code, doc = job.ci()
    assert doc["writeback"]["status"] == "refused"
    assert "fork someone/ml-repo" in doc["writeback"]["message"]
    assert _origin_tip(p, "feature") == head
    assert "write-back: a pull request from the fork someone/ml-repo" in job.last.err
    # the stale dvc.lock is still reported: nothing was committed
    assert any("reproduction changed dvc.lock" in r["message"] for r in doc["reasons"])


def test_a_branch_that_moved_since_the_run_is_left_alone(tmp_path, runner):
    p, head = _project(tmp_path)
    job = runner(p)
    p.write("notes.md", "pushed while the job ran\n")
    moved = p.commit("the author pushes again")
    p.publish("feature", dvc_push=False)
    job.pr_event(p.git("rev-parse", "main"), head)
    code, doc = job.ci()
    assert doc["writeback"]["status"] == "refused"
    assert f"moved to {moved[:7]}" in doc["writeback"]["message"]
    assert _origin_tip(p, "feature") == moved
    assert doc["context"]["head"]["sha"] == head


def test_a_push_rejected_because_the_branch_moved_meanwhile_says_so(tmp_path, runner):
    """The branch moves after mlci read its tip and before its push lands: git refuses the push.

    The origin's pre-receive hook is the other push, made at exactly that moment (mlci's own
    git runs no hook of the runner's clone).
    """
    p, head = _project(tmp_path)
    p.write("notes.md", "pushed while mlci was pushing\n")
    moved = p.commit("the author pushes again")  # a commit origin has, but not on feature yet
    p.git("push", "-q", "origin", f"{moved}:refs/heads/elsewhere")
    job = runner(p)
    hook = Path(p.origin) / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\ncat >/dev/null\nunset GIT_QUARANTINE_PATH\n"
        f"git --git-dir='{p.origin}' update-ref refs/heads/feature {moved}\n"
    )
    hook.chmod(0o755)
    job.pr_event(p.git("rev-parse", "main"), head)
    code, doc = job.ci()
    wb = doc["writeback"]
    assert wb["status"] == "failed", wb
    assert wb["message"].startswith("git push to feature was rejected (")
    assert "nothing changed on the branch (the branch moved" in wb["message"]
    assert _origin_tip(p, "feature") == moved  # the other push stands; mlci's commit is not there
    assert "write-back: git push to feature was rejected" in job.last.err
    # the run reports on the commit it reproduced, whose dvc.lock is still stale
    assert doc["context"]["head"]["sha"] == head
    assert any("reproduction changed dvc.lock" in r["message"] for r in doc["reasons"])
    assert [s["state"] for s in job.fake.statuses(head)] == ["success"]
    [comment] = job.fake.comments(7)  # the reviewer reads why nothing was committed
    assert "**Write-back** —" in comment["body"]
    assert "git push to feature was rejected" in comment["body"]


def test_under_pull_request_target_nothing_runs_and_nothing_is_pushed(tmp_path, runner):
    p, head = _project(tmp_path)
    job = runner(p)
    base = p.git("rev-parse", "main")
    job.fake.add_pull(7, head_sha=head, base_sha=base, head_ref="feature", base_ref="main")
    payload = event_payload(
        "pull_request",
        "synchronize",
        repo=REPO,
        pr_number=7,
        head_sha=head,
        head_ref="feature",
        base_sha=base,
        base_ref="main",
    )
    job.env("pull_request_target", payload)  # GitHub sends the pull_request payload
    run = job.run("ci", "--output", str(job.tmp / "result.json"))
    assert run.code == 2
    assert "`mlci ci` refuses to run on pull_request_target" in run.err
    assert _origin_tip(p, "feature") == head
    assert not _pushed_model(p)  # no dvc push either
    assert job.repo.git("rev-parse", "HEAD") == head
    assert job.fake.writes() == []


def test_without_a_dvc_remote_nothing_is_committed(tmp_path, runner):
    p, head = _project(tmp_path)
    job = runner(p)
    sh([str(VENV_BIN / "dvc"), "remote", "default", "--unset"], job.repo.path)
    job.pr_event(p.git("rev-parse", "main"), head)
    code, doc = job.ci()
    wb = doc["writeback"]
    assert wb["status"] == "refused"
    assert wb["message"] == (
        "no default DVC remote: the outputs the commit records would exist only here; "
        "nothing committed"
    )
    assert _origin_tip(p, "feature") == head


def _pushed_model(p: Project) -> bool:
    """Whether the DVC remote holds the model that lr=0.2 produces."""
    return any(
        f.is_file() and f.read_bytes() == b"weights for lr=0.2\n" for f in p.storage.rglob("*")
    )


def test_a_failed_stage_writes_nothing(tmp_path, runner):
    p, head = _project(tmp_path)
    p.set_params(lr=-1.0)
    head = p.commit("a negative learning rate")
    p.publish("feature", dvc_push=False)
    job = runner(p)
    job.pr_event(p.git("rev-parse", "main"), head)
    code, doc = job.ci()
    assert code == 1
    assert doc["writeback"]["status"] == "refused"
    assert "stage train failed" in doc["writeback"]["message"]
    assert _origin_tip(p, "feature") == head
    assert job.repo.git("rev-parse", "HEAD") == head  # no commit made in the clone either


def test_without_the_switch_nothing_is_committed_and_no_field(tmp_path, runner):
    p, head = _project(tmp_path, config="repro:\n  commit: false\n")
    job = runner(p)
    job.pr_event(p.git("rev-parse", "main"), head)
    code, doc = job.ci()
    assert "writeback" not in doc and _origin_tip(p, "feature") == head


def test_the_commit_label_turns_it_on_for_a_rerun(tmp_path, runner):
    """`/mlci commit` labels the PR and re-runs the job, whose event has the old labels."""
    p, head = _project(tmp_path, config="repro:\n  commit: false\n")
    job = runner(p)
    job.pr_event(p.git("rev-parse", "main"), head, attempt="2")
    job.fake.label(7, "mlci:commit", actor="github-actions[bot]")  # /mlci commit did
    code, doc = job.ci()
    assert doc["writeback"]["status"] == "pushed", doc["writeback"]
    assert _origin_tip(p, "feature") == doc["writeback"]["sha"]


def test_a_merge_commit_checkout_is_refused(tmp_path, runner):
    p, head = _project(tmp_path)
    job = runner(p)
    job.repo.git("checkout", "-q", "--detach", "HEAD~1")  # not the PR head
    job.pr_event(p.git("rev-parse", "main"), head)
    code, doc = job.ci()
    assert doc["writeback"]["status"] == "refused"
    assert "not the pull request's head" in doc["writeback"]["message"]
    assert _origin_tip(p, "feature") == head


# --- locally: mlci repro --commit --------------------------------------------------------


def test_repro_commit_commits_on_the_current_branch_without_pushing(tmp_path, mlci):
    p, head = _project(tmp_path)
    p.write("scratch.txt", "staged, not part of the commit\n")
    p.git("add", "scratch.txt")
    run = mlci(p, "repro", "--commit", "--format", "json")
    assert run.code == 0, run.err
    doc = run.json()
    wb = doc["writeback"]
    assert wb["status"] == "committed" and wb["branch"] == "feature" and wb["parent"] == head
    new = p.git("rev-parse", "HEAD")
    assert wb["sha"] == new and doc["context"]["head"]["sha"] == new
    assert p.git("log", "-1", "--format=%P") == head
    assert p.git("log", "-1", "--format=%an") == "Test"  # the user's own identity
    files = p.git("diff-tree", "--no-commit-id", "--name-only", "-r", "HEAD").splitlines()
    assert files == ["dvc.lock", "loss.csv", "metrics.json"]
    assert p.git("diff", "--cached", "--name-only") == "scratch.txt"  # still staged, apart
    assert _origin_tip(p, "feature") == head  # nothing pushed to git
    text = mlci(p, "repro", "--commit").out
    assert "write-back: reproduction left dvc.lock and the outputs git tracks as committed" in text


def test_repro_commit_refuses_after_a_failed_stage(tmp_path, mlci):
    p, head = _project(tmp_path)
    p.set_params(lr=-1.0)
    run = mlci(p, "repro", "--commit", "--format", "json")
    assert run.code == 1
    assert run.json()["writeback"]["status"] == "refused"
    assert p.git("rev-parse", "HEAD") == head
