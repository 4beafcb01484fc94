"""Reproduction on real DVC pipelines: run, unchanged, run-cache restore, failure, stale lock, remotes.

Every stage command is ``python step.py NAME SRC DST``, which appends NAME to a
counter file outside the repository, so a test can tell a stage that ran from
one that DVC restored or skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest
import yaml

from mlci.engine.repro import diff_locks
from mlci.forge.github import actions
from mlci.model import result as result_mod
from tests.conftest import GitRepo, sh

STEP = """\
import json, os, sys
name, src, dst = sys.argv[1:4]
with open(os.environ["REPRO_COUNTER"], "a") as f:
    f.write(name + "\\n")
print(f"{name}: reading {src}")
for i in range(60):
    print(f"{name}: line {i}")
data = open(src).read()
if os.environ.get("REPRO_INTERRUPT") == name:
    os.kill(int(os.environ["REPRO_PARENT"]), 2)  # Ctrl-C reaches mlci and the command
    os.kill(os.getpid(), 2)
if name.startswith("fail"):
    print("something <b>broke</b> @here", file=sys.stderr)
    sys.exit(3)
if dst.endswith(".json"):
    json.dump({"n": len(data)}, open(dst, "w"))
else:
    open(dst, "w").write(data * 2)
"""

PIPELINE = """\
stages:
  prepare:
    cmd: python step.py prepare data.txt prepared.txt
    deps: [step.py, data.txt]
    outs: [prepared.txt]
  train:
    cmd: python step.py {train} prepared.txt model.txt
    deps: [step.py, prepared.txt]
    outs: [model.txt]
  evaluate:
    cmd: python step.py evaluate model.txt metrics.json
    deps: [step.py, model.txt]
    metrics:
      - metrics.json:
          cache: false
"""


class Counter:
    def __init__(self, path: Path) -> None:
        self.path = path

    def runs(self) -> list[str]:
        return self.path.read_text().split() if self.path.exists() else []

    def reset(self) -> None:
        self.path.unlink(missing_ok=True)


@pytest.fixture
def counter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Counter:
    path = tmp_path / "counter.txt"
    monkeypatch.setenv("REPRO_COUNTER", str(path))
    return Counter(path)


def pipeline(repo: GitRepo, *, train: str = "train", config: str = "", data: str = "abc\n") -> None:
    repo.write("step.py", STEP)
    repo.write("dvc.yaml", PIPELINE.format(train=train))
    repo.write("data.txt", data)
    repo.write("mlci.yaml", config)


def statuses(doc: dict) -> dict[str, str]:
    return {s["name"]: s["status"] for s in doc["repro"]["stages"]}


def repro(mlci, repo, *args: str):
    run = mlci(repo, "repro", "--format", "json", *args)
    doc = run.json()
    result_mod.validate(doc)
    return run, doc


def committed_baseline(repo: GitRepo, mlci, **kw) -> None:
    pipeline(repo, **kw)
    repo.commit("pipeline")
    run, doc = repro(mlci, repo)
    assert doc["repro"]["status"] == "ran", run.err
    repo.commit("reproduced")


def test_first_run_runs_every_stage_then_all_are_unchanged(dvc_repo, mlci, counter):
    pipeline(dvc_repo)
    dvc_repo.commit("pipeline, never reproduced")
    run, doc = repro(mlci, dvc_repo)
    assert statuses(doc) == {"prepare": "ran", "train": "ran", "evaluate": "ran"}
    assert counter.runs() == ["prepare", "train", "evaluate"]
    assert all(s["duration_s"] is not None and s["duration_s"] >= 0 for s in doc["repro"]["stages"])
    # nothing was committed: reproduction wrote dvc.lock, which the default policy warns about
    assert doc["repro"]["lock_changed"] is True and doc["verdict"] == "warn" and run.code == 0
    assert "mlci: stage train: ran" in run.err and "    train: line 59" in run.err

    dvc_repo.commit("reproduced")
    counter.reset()
    run, doc = repro(mlci, dvc_repo)
    assert statuses(doc) == {"prepare": "unchanged", "train": "unchanged", "evaluate": "unchanged"}
    assert counter.runs() == []
    assert doc["repro"]["lock_changed"] is False and doc["verdict"] == "pass"
    assert doc["repro"]["status"] == "ran" and doc["repro"]["message"] == "3 stages: 3 unchanged"


def test_only_changed_stages_run(dvc_repo, mlci, counter):
    committed_baseline(dvc_repo, mlci)
    counter.reset()
    dvc_repo.write("data.txt", "abc\n")  # same content, new mtime: DVC compares hashes
    run, doc = repro(mlci, dvc_repo)
    assert counter.runs() == [] and doc["verdict"] == "pass"
    dvc_repo.write("data.txt", "changed\n")
    run, doc = repro(mlci, dvc_repo)
    assert statuses(doc) == {"prepare": "ran", "train": "ran", "evaluate": "ran"}
    assert counter.runs() == ["prepare", "train", "evaluate"]


def test_a_failing_stage_closes_the_gate_with_its_log_tail(dvc_repo, mlci, counter):
    pipeline(dvc_repo, train="fail-train")
    dvc_repo.write("metrics.json", {"n": 1})  # a committed metric, compared after the failure
    dvc_repo.commit("pipeline")
    run = mlci(dvc_repo, "check", "--base", "main", "--repro", "--format", "json")
    doc = run.json()
    result_mod.validate(doc)
    assert run.code == 1 and doc["verdict"] == "fail"
    assert statuses(doc) == {"prepare": "ran", "train": "failed", "evaluate": "skipped"}
    assert counter.runs() == ["prepare", "fail-train"]
    train = doc["repro"]["stages"][1]
    assert (
        train["exit_code"] == 3
        and train["cmd"] == "python step.py fail-train prepared.txt model.txt"
    )
    tail = train["log_tail"].splitlines()
    assert (
        len(tail) == 40
        and tail[-1] == "something <b>broke</b> @here"
        and tail[0] == "fail-train: line 21"
    )
    reason = doc["reasons"][0]
    assert reason["section"] == "repro" and reason["severity"] == "fail"
    assert reason["message"] == (
        "stage train failed: `python step.py fail-train prepared.txt model.txt` "
        "exited with code 3 (1 later stage skipped)"
    )
    assert doc["repro"]["status"] == "failed"
    # later sections still ran: evaluate was skipped, so its committed metric is compared
    assert [(m["name"], m["head"]) for m in doc["metrics"]] == [("metrics.json:n", 1)]

    md = mlci(dvc_repo, "check", "--base", "main", "--repro", "--format", "markdown").out
    assert "### ❌ mlci: gate closed — 1 pipeline stage failed" in md
    assert "| `train` | failed |" in md and "| `evaluate` | skipped | — |" in md
    assert "`train` (`python step.py fail-train prepared.txt model.txt`, exit 3), last lines:" in md
    # the log is shown verbatim, inside a fence where nothing is HTML, Markdown or a mention
    fenced = md.split("```text\n", 1)[1].split("\n```", 1)[0]
    assert (
        fenced.splitlines()[-1] == "something <b>broke</b> @here" and len(fenced.splitlines()) == 40
    )
    outside = md.replace(fenced, "")
    assert "<b>" not in outside and "@here" not in outside


def test_stale_lock_is_reported_with_the_stages_that_differ(dvc_repo, mlci, counter):
    committed_baseline(dvc_repo, mlci, config="repro:\n  require_committed_lock: fail\n")
    dvc_repo.write("data.txt", "new data\n")  # the PR changed data but did not reproduce
    dvc_repo.commit("change data, forget dvc repro")
    run, doc = repro(mlci, dvc_repo)
    assert run.code == 1 and doc["repro"]["lock_changed"] is True
    [reason] = doc["reasons"]
    assert reason["severity"] == "fail" and reason["section"] == "repro"
    assert "prepare (outs prepared.txt, deps data.txt)" in reason["message"]
    assert "evaluate (outs metrics.json, deps model.txt)" in reason["message"]
    # `mlci repro` compares nothing, so it does not say what it compared from
    assert not any("compared" in n for n in doc["notes"])
    assert doc["context"]["compared"] is False


@pytest.mark.parametrize("policy,verdict", [("warn", "warn"), ("off", "pass")])
def test_stale_lock_severity_follows_the_config(dvc_repo, mlci, counter, policy, verdict):
    committed_baseline(dvc_repo, mlci, config=f"repro:\n  require_committed_lock: {policy}\n")
    dvc_repo.write("data.txt", "new data\n")
    run, doc = repro(mlci, dvc_repo)
    assert doc["repro"]["lock_changed"] is True and doc["verdict"] == verdict and run.code == 0
    assert [r["severity"] for r in doc["reasons"]] == ([] if policy == "off" else ["warn"])


def test_lock_diff_names_params_and_new_stages():
    before = {
        "train": {
            "cmd": "x",
            "params": {"params.yaml": {"train.lr": 0.1}},
            "outs": [{"path": "m.pkl", "md5": "1"}],
        }
    }
    after = {
        "train": {
            "cmd": "x",
            "params": {"params.yaml": {"train.lr": 0.2}},
            "outs": [{"path": "m.pkl", "md5": "2"}],
        },
        "eval": {"cmd": "y"},
    }
    assert [c.describe() for c in diff_locks(before, after)] == [
        "train (outs m.pkl, params train.lr)",
        "eval (not in dvc.lock before)",
    ]
    assert diff_locks(after, after) == []


def test_targets_limit_the_stages(dvc_repo, mlci, counter):
    pipeline(dvc_repo, config="repro:\n  targets: [train]\n  require_committed_lock: off\n")
    dvc_repo.commit("pipeline")
    run, doc = repro(mlci, dvc_repo)
    assert statuses(doc) == {"prepare": "ran", "train": "ran"}
    assert counter.runs() == ["prepare", "train"] and not (dvc_repo.path / "metrics.json").exists()


def test_unknown_target_fails_the_repro_section(dvc_repo, mlci, counter):
    pipeline(dvc_repo, config="repro:\n  targets: [nope]\n")
    dvc_repo.commit("pipeline")
    run, doc = repro(mlci, dvc_repo)
    assert run.code == 1 and doc["repro"]["status"] == "failed"
    assert (
        doc["reasons"][0]["message"].startswith("cannot plan the pipeline:")
        and "nope" in doc["reasons"][0]["message"]
    )
    assert counter.runs() == []


# --- remotes ----------------------------------------------------------------------------


@pytest.fixture
def with_remote(dvc_repo: GitRepo, tmp_path: Path) -> Path:
    storage = tmp_path / "dvc-storage"
    storage.mkdir()
    dvc_repo.dvc("remote", "add", "-d", "storage", str(storage))
    return storage


def clone(origin: GitRepo, where: Path) -> GitRepo:
    sh(["git", "clone", "-q", str(origin.path), str(where)], origin.path.parent)
    return type(origin)(where)  # conftest.GitRepo as pytest loaded it


def test_fresh_clone_restores_from_the_remote_instead_of_running(
    dvc_repo, with_remote, mlci, counter, tmp_path
):
    # main's CI: reproduce and push outputs and run-cache (repro.push)
    pipeline(dvc_repo, config="repro:\n  push: true\n")
    dvc_repo.commit("pipeline")
    run, doc = repro(mlci, dvc_repo)
    assert counter.runs() == ["prepare", "train", "evaluate"]
    assert any(n.startswith("pushed ") and "'storage'" in n for n in doc["notes"]), doc["notes"]
    dvc_repo.commit("reproduced")
    # a second data version, reproduced and pushed too: its run-cache entry stays on the remote
    dvc_repo.write("data.txt", "second\n")
    repro(mlci, dvc_repo)
    dvc_repo.write("data.txt", "abc\n")
    counter.reset()

    # a PR's CI: a fresh clone with an empty cache
    pr = clone(dvc_repo, tmp_path / "clone")
    assert not (pr.path / "prepared.txt").exists()
    run, doc = repro(mlci, pr)
    # as under `dvc repro --pull`, unchanged stages are checked out of the fetched cache;
    # evaluate's metric is kept in git (cache: false), so it is already there
    assert statuses(doc) == {"prepare": "restored", "train": "restored", "evaluate": "unchanged"}
    assert counter.runs() == []
    assert (pr.path / "model.txt").read_text() == "abc\n" * 4
    assert doc["repro"]["lock_changed"] is False and doc["verdict"] == "pass"
    assert "mlci: stage train: restored from the DVC cache" in run.err

    # the PR changes the data to a version main computed before: a run-cache hit, outputs pulled
    pr.write("data.txt", "second\n")
    run, doc = repro(mlci, pr)
    assert "restored from run-cache" in run.err
    # evaluate's metric is not in the DVC cache (cache: false), so `dvc push` never sent it and
    # DVC cannot restore that stage from the run-cache: it runs, exactly as under `dvc repro --pull`
    assert statuses(doc) == {"prepare": "cached", "train": "cached", "evaluate": "ran"}
    assert counter.runs() == ["evaluate"]
    assert (pr.path / "model.txt").read_text() == "second\n" * 4
    assert doc["repro"]["lock_changed"] is True  # the PR did not commit its reproduced lock

    # a version nobody computed runs
    pr.write("data.txt", "third\n")
    counter.reset()
    run, doc = repro(mlci, pr)
    assert statuses(doc) == {"prepare": "ran", "train": "ran", "evaluate": "ran"}
    assert counter.runs() == ["prepare", "train", "evaluate"]


def test_outputs_missing_on_the_remote_are_computed(dvc_repo, with_remote, mlci, counter, tmp_path):
    committed_baseline(dvc_repo, mlci)  # reproduced, never pushed
    counter.reset()
    pr = clone(dvc_repo, tmp_path / "clone")
    run, doc = repro(mlci, pr)
    # evaluate's inputs come out the same and its metric is in git: nothing to do there
    assert statuses(doc) == {"prepare": "ran", "train": "ran", "evaluate": "unchanged"}
    assert counter.runs() == ["prepare", "train"]
    assert doc["verdict"] == "pass", doc["reasons"]
    assert any(
        n.startswith(
            "outputs of prepare, train recorded in dvc.lock are not on DVC remote 'storage'"
        )
        for n in doc["notes"]
    ), doc["notes"]


@pytest.mark.parametrize("policy", ["fail", "warn"])
def test_unreachable_remote_is_named_and_follows_the_policy(
    dvc_repo, mlci, counter, tmp_path, policy
):
    dvc_repo.dvc("remote", "add", "-d", "team-store", str(tmp_path / "no" / "such" / "folder"))
    pipeline(
        dvc_repo, config=f"repro:\n  remote_unreachable: {policy}\n  require_committed_lock: off\n"
    )
    dvc_repo.commit("pipeline")
    run = mlci(dvc_repo, "repro", "--format", "json")
    if policy == "fail":
        assert run.code == 3 and run.out == ""
        assert "DVC remote 'team-store'" in run.err and "is unreachable" in run.err
        assert counter.runs() == []
        return
    doc = run.json()
    assert run.code == 0 and doc["verdict"] == "warn"
    [reason] = doc["reasons"]
    assert reason["section"] == "repro" and "DVC remote 'team-store'" in reason["message"]
    assert "every stage computed here" in reason["message"]
    assert counter.runs() == ["prepare", "train", "evaluate"]


def test_no_remote_is_a_note_not_a_warning(dvc_repo, mlci, counter):
    pipeline(dvc_repo, config="repro:\n  require_committed_lock: off\n")
    dvc_repo.commit("pipeline")
    run, doc = repro(mlci, dvc_repo)
    assert doc["verdict"] == "pass" and "no DVC remote configured" in " ".join(doc["notes"])


def test_forks_do_not_push(tmp_path):
    event = tmp_path / "event.json"
    pr = {
        "pull_request": {
            "head": {"repo": {"full_name": "someone/fork"}},
            "base": {"repo": {"full_name": "owner/repo"}},
        }
    }
    event.write_text(json.dumps(pr))
    env = {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(event)}

    def read_only_run(env):
        return actions.read_only_reason(actions.from_env(env, strict=False))

    assert read_only_run(env) == "a pull request from the fork someone/fork"
    pr["pull_request"]["head"]["repo"]["full_name"] = "owner/repo"
    event.write_text(json.dumps(pr))
    assert read_only_run(env) is None
    assert read_only_run({"GITHUB_EVENT_NAME": "push"}) is None


# --- the log and the user's tree -----------------------------------------------------------


def test_github_actions_gets_one_group_per_stage(dvc_repo, mlci, counter, monkeypatch):
    pipeline(dvc_repo, config="repro:\n  require_committed_lock: off\n")
    dvc_repo.commit("pipeline")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    run, doc = repro(mlci, dvc_repo)
    lines = run.err.splitlines()
    assert [ln for ln in lines if ln.startswith("::group::")] == [
        "::group::stage prepare",
        "::group::stage train",
        "::group::stage evaluate",
    ]
    assert lines.count("::endgroup::") == 3
    stop = next(ln for ln in lines if ln.startswith("::stop-commands::"))
    assert f"::{stop.split('::')[2]}::" in lines  # commands are switched back on after the output


def test_no_repro_and_disabled_repro_do_not_run(dvc_repo, mlci, counter):
    pipeline(dvc_repo, config="repro:\n  enabled: false\n")
    dvc_repo.commit("pipeline")
    doc = mlci(dvc_repo, "check", "--base", "main", "--format", "json").json()
    assert (
        doc["repro"]["status"] == "skipped"
        and doc["repro"]["message"] == "not reproduced (repro.enabled is false)"
    )
    doc = mlci(dvc_repo, "check", "--base", "main", "--repro", "--format", "json").json()
    assert doc["repro"]["status"] == "ran" and counter.runs() == ["prepare", "train", "evaluate"]


def test_ctrl_c_leaves_the_repo_as_dvc_repro_would(dvc_repo, mlci, counter, monkeypatch):
    committed_baseline(dvc_repo, mlci)
    lock = yaml.safe_load((dvc_repo.path / "dvc.lock").read_text())["stages"]
    dvc_repo.write("data.txt", "new\n")
    monkeypatch.setenv("REPRO_INTERRUPT", "train")
    monkeypatch.setenv("REPRO_PARENT", str(os.getpid()))
    handler = signal.getsignal(signal.SIGINT)
    run = mlci(dvc_repo, "repro")
    assert run.code == 130 and "interrupted" in run.err, run.err[-3000:]
    assert signal.getsignal(signal.SIGINT) is handler
    # as under `dvc repro`: prepare finished and is recorded, the interrupted train is not
    after = yaml.safe_load((dvc_repo.path / "dvc.lock").read_text())["stages"]
    assert after["train"] == lock["train"] and after["prepare"] != lock["prepare"]
    assert not (
        dvc_repo.path / "model.txt"
    ).exists()  # DVC removed it before running, as dvc repro does
    # no lock is left behind: DVC itself can carry on
    monkeypatch.delenv("REPRO_INTERRUPT")
    dvc_repo.dvc("repro", "-q")
    assert (dvc_repo.path / "model.txt").read_text() == "new\n" * 4


def test_the_work_tree_changes_only_as_dvc_repro_would(dvc_repo, mlci, counter, tmp_path):
    pipeline(dvc_repo)
    dvc_repo.commit("pipeline")
    twin = tmp_path / "twin"
    shutil.copytree(dvc_repo.path, twin)
    repro(mlci, dvc_repo)
    sh(["dvc", "repro", "-q"], twin)

    def tree(root: Path) -> dict[str, bytes]:
        return {
            p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file() and not p.relative_to(root).as_posix().startswith((".git/", ".dvc/"))
        }

    assert tree(dvc_repo.path) == tree(twin)
    assert dvc_repo.git("status", "--porcelain") == type(dvc_repo)(twin).git(
        "status", "--porcelain"
    )


def test_repro_help_imports_nothing_heavy():
    import subprocess
    import sys

    from tests.test_startup import PROBE

    proc = subprocess.run(
        [sys.executable, "-c", PROBE, "repro", "--help"], capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip().splitlines()[-1] == "HEAVY="
    assert "Only reproduce the DVC pipeline" in proc.stdout


def test_log_fence_cannot_be_closed_by_the_log():
    from mlci.model.fmt import md_block

    block = md_block("a\n```\nb ```` c")
    assert block.startswith("`````text\n") and block.endswith("\n`````")
    assert md_block("x\ty").splitlines()[1] == "x    y"


def test_a_stage_that_does_not_write_its_output_fails(dvc_repo, mlci, counter):
    pipeline(dvc_repo)
    dvc_repo.write(
        "dvc.yaml",
        PIPELINE.format(train="train").replace(
            "step.py train prepared.txt model.txt", "step.py train prepared.txt elsewhere.txt"
        ),
    )
    dvc_repo.commit("pipeline")
    run, doc = repro(mlci, dvc_repo)
    assert statuses(doc) == {"prepare": "ran", "train": "failed", "evaluate": "skipped"}
    train = doc["repro"]["stages"][1]
    assert train["exit_code"] is None and "train: line 59" in train["log_tail"]
    assert doc["reasons"][0]["message"].startswith("stage train failed: ")
    assert "model.txt" in doc["reasons"][0]["message"]


def test_repro_needs_no_base_branch_and_no_pipeline_is_no_failure(dvc_repo, mlci, counter):
    dvc_repo.write("data.txt", "only data, no dvc.yaml\n")
    dvc_repo.commit("data")
    dvc_repo.git("branch", "-m", "trunk")
    run, doc = repro(mlci, dvc_repo)
    assert run.code == 0 and doc["repro"] == {
        "status": "skipped",
        "stages": [],
        "lock_changed": False,
        "duration_s": None,
        "message": "no dvc.yaml: nothing to reproduce",
    }
    assert doc["context"]["base"] == {"ref": "main", "sha": None}
    pipeline(dvc_repo, config="repro:\n  require_committed_lock: off\n")
    dvc_repo.commit("pipeline")
    run, doc = repro(mlci, dvc_repo)
    assert run.code == 0 and doc["repro"]["status"] == "ran"
    assert counter.runs() == ["prepare", "train", "evaluate"]


def test_never_reproduces_in_runs_that_hold_a_write_token(dvc_repo, mlci, counter, monkeypatch):
    pipeline(dvc_repo)
    dvc_repo.commit("pipeline")
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request_target")
    run, doc = repro(mlci, dvc_repo)
    assert doc["repro"]["status"] == "skipped" and counter.runs() == []
    assert "pull_request_target" in doc["repro"]["message"]
