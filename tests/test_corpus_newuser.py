"""Corpus, second pass on real repositories: the last fail-open paths and a new user's first runs.

Each test builds the shape a user reported (real git, real ``dvc``, stages that
really run) and runs mlci the way that user did: a monorepo whose pipelines
live in ``dvc init --subdir`` projects below a root ``.dvc/``, a fresh clone
whose DVC remote needs a plugin that is not installed, a CI clone without a
local ``main``, DVC's run-cache restoring a foreach stage, a requirements file
no stage declares, and the recorded history outside CI.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

import pytest

from tests.conftest import VENV_BIN, GitRepo, sh
from tests.corpus import MLCI_YAML, SUB_PIPELINE, SUB_TRAIN, Project, cached, dvclive_pipeline
from tests.test_deploy import empty_db  # noqa: F401 (the MLflow store the deploy fixture copies)
from tests.test_deploy import project as deploy_project  # noqa: F401

# --- 1. a root .dvc/ without dvc.yaml, the pipelines in subprojects ----------------------

SUB_RULES = """\
metrics:
  rules:
    - name: acc
      direction: higher
      max_regression: 0.05
"""


def monorepo(repo: GitRepo) -> None:
    """``dvc init`` at the root (no dvc.yaml there), two ``dvc init --subdir`` projects.

    main: both at 0.8; feature: ``models/a`` falls to 0.4, ``models/b`` stays.
    """
    repo.write("README.md", "a monorepo: one DVC project per model\n")
    for name in ("a", "b"):
        folder = repo.path / "models" / name
        folder.mkdir(parents=True)
        sh([str(VENV_BIN / "dvc"), "init", "-q", "--subdir"], folder)
        repo.write(f"models/{name}/train.py", SUB_TRAIN)
        repo.write(f"models/{name}/dvc.yaml", SUB_PIPELINE)
        repo.write(f"models/{name}/params.yaml", "quality: 0.8\n")
        repo.write(f"models/{name}/mlci.yaml", SUB_RULES)
        sh([str(VENV_BIN / "dvc"), "repro", "-q"], folder)
    repo.commit("two models")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("models/a/params.yaml", "quality: 0.4\n")
    sh([str(VENV_BIN / "dvc"), "repro", "-q"], repo.path / "models" / "a")
    repo.commit("model a: a worse setting")


def test_root_dvc_without_pipeline_never_passes_over_subprojects(dvc_repo, mlci):
    assert (dvc_repo.path / ".dvc").is_dir() and not (dvc_repo.path / "dvc.yaml").exists()
    monorepo(dvc_repo)

    run = mlci(dvc_repo, "check", "--base", "main", "--no-repro", "--format", "json")
    doc = run.json()
    assert run.code == 1 and doc["verdict"] == "fail", doc["reasons"]
    [reason] = [r["message"] for r in doc["reasons"] if r["section"] == "config"]
    assert reason.startswith(
        "a DVC project here without a dvc.yaml, but 2 in subfolders (models/a, models/b)"
    ), reason
    assert "nothing to compare" not in run.out

    text = mlci(dvc_repo, "check", "--base", "main", "--no-repro").out
    assert "gate open" not in text and "models/a, models/b" in text

    doctor = mlci(dvc_repo, "doctor")
    assert doctor.code != 0
    assert "a DVC project here without a dvc.yaml, but 2 in subfolders" in doctor.out

    # the subproject itself catches the regression the root run must not hide
    a = mlci(dvc_repo.path / "models" / "a", "check", "--base", "main", "--format", "json")
    [acc] = a.json()["metrics"]
    assert a.code == 1 and (acc["base"], acc["head"], acc["outcome"]) == (0.8, 0.4, "fail")


def test_root_project_with_its_own_pipeline_is_checked_as_before(dvc_repo, mlci):
    monorepo(dvc_repo)
    dvc_repo.write("train.py", SUB_TRAIN)
    dvc_repo.write("dvc.yaml", SUB_PIPELINE)
    dvc_repo.write("params.yaml", "quality: 0.9\n")
    dvc_repo.dvc("repro", "-q")
    dvc_repo.commit("a root pipeline too")
    doc = mlci(dvc_repo, "check", "--base", "main", "--no-repro", "--format", "json").json()
    assert not [r for r in doc["reasons"] if r["section"] == "config"], doc["reasons"]
    assert [m["name"] for m in doc["metrics"]] == ["metrics.json:acc"]


# --- 2. a remote whose plugin is missing: what git holds is still read -----------------------

S3_TRAIN = """\
import csv, json, os, yaml
p = yaml.safe_load(open("params.yaml"))
acc = p["train"]["quality"]
os.makedirs("eval", exist_ok=True)
os.makedirs("models", exist_ok=True)
json.dump({"acc": acc}, open("eval/metrics.json", "w"))
open(f"models/{p['model']['name']}.pkl", "w").write(str(acc))
for name in ("loss", "lr"):
    with open(f"eval/{name}.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", name])
        for step in range(5):
            w.writerow([step, round(acc / (step + 1), 4)])
"""

# metrics cached (in the remote only); two plots kept in git; model.name used only in outs
S3_PIPELINE = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py]
    params: [train.quality]
    outs:
      - models/${model.name}.pkl
    metrics:
      - eval/metrics.json
    plots:
      - eval/loss.csv:
          cache: false
          x: step
      - eval/lr.csv:
          cache: false
          x: step
"""


def s3_project(repo: GitRepo, tmp) -> GitRepo:
    """main: quality 0.8, model rf; feature: 0.7, model gbm; a fresh clone of feature."""
    repo.write("train.py", S3_TRAIN)
    repo.write("dvc.yaml", S3_PIPELINE)
    repo.write("params.yaml", "train:\n  quality: 0.8\nmodel:\n  name: rf\n")
    repo.write("mlci.yaml", RULES_ACC)
    repo.dvc("remote", "add", "-q", "-d", "storage", "s3://mlci-corpus-bucket/dvc-store")
    repo.dvc("repro", "-q")
    repo.commit("baseline")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("params.yaml", "train:\n  quality: 0.7\nmodel:\n  name: gbm\n")
    repo.dvc("repro", "-q")
    repo.commit("feature: another model")
    clone = GitRepo(tmp / "clone")
    sh(["git", "clone", "-q", "-b", "feature", str(repo.path), str(clone.path)], tmp)
    return clone


RULES_ACC = """\
metrics:
  rules:
    - name: acc
      direction: higher
      max_regression: 0.05
"""


def test_s3_remote_without_plugin_still_reads_what_git_holds(dvc_repo, mlci, tmp_path):
    if importlib.util.find_spec("dvc_s3") is not None:
        pytest.skip("dvc-s3 is installed here; this case is about a runner without it")
    clone = s3_project(dvc_repo, tmp_path)
    run = mlci(clone, "check", "--no-repro", "--base", "origin/main", "--format", "json")
    doc = run.json()
    assert run.code == 1 and doc["verdict"] == "fail", doc["reasons"]
    params = {p["name"]: (p["base"], p["head"], p["status"]) for p in doc["params"]}
    assert params["params.yaml:model.name"] == ("rf", "gbm", "changed"), params
    assert params["params.yaml:train.quality"] == (0.8, 0.7, "changed"), params
    plots = {p["id"]: p["status"] for p in doc["plots"]}
    assert plots == {"eval/loss.csv": "changed", "eval/lr.csv": "changed"}, doc["plots"]
    unreadable = [r["message"] for r in doc["reasons"] if r.get("kind") == "unreadable"]
    assert unreadable and all("needs dvc-s3: pip install 'mlci[s3]'" in m for m in unreadable)
    assert any(m.startswith("cannot read eval/metrics.json") for m in unreadable), unreadable


# --- 5. --base main in a clone without a local main --------------------------------------

PLAIN_TRAIN = """\
import json, yaml
q = yaml.safe_load(open("params.yaml"))["train"]["quality"]
json.dump({"acc": q}, open("metrics.json", "w"))
"""

PLAIN_PIPELINE = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py]
    params: [train.quality]
    metrics:
      - metrics.json:
          cache: false
"""


def test_base_main_in_a_clone_without_local_main_is_origin_main(dvc_repo, mlci, tmp_path):
    dvc_repo.write("train.py", PLAIN_TRAIN)
    dvc_repo.write("dvc.yaml", PLAIN_PIPELINE)
    dvc_repo.write("params.yaml", "train:\n  quality: 0.8\n")
    dvc_repo.write("mlci.yaml", RULES_ACC)
    dvc_repo.dvc("repro", "-q")
    base = dvc_repo.commit("baseline")
    dvc_repo.git("checkout", "-q", "-b", "feature")
    dvc_repo.write("params.yaml", "train:\n  quality: 0.6\n")
    dvc_repo.dvc("repro", "-q")
    dvc_repo.commit("feature: worse")
    clone = GitRepo(tmp_path / "clone")
    sh(["git", "clone", "-q", "-b", "feature", str(dvc_repo.path), str(clone.path)], tmp_path)
    assert clone.git("branch", "--list", "main") == ""
    # DVC resolves it from the remote's branch
    assert "0.8" in sh([str(VENV_BIN / "dvc"), "metrics", "diff", "main"], clone.path)

    run = mlci(clone, "check", "--base", "main", "--no-repro", "--format", "json")
    assert run.code == 1, (run.out, run.err)  # the regression is judged, not exit 3
    doc = run.json()
    assert doc["context"]["base"] == {"ref": "origin/main", "sha": base}
    [acc] = doc["metrics"]
    assert (acc["base"], acc["head"], acc["outcome"]) == (0.8, 0.6, "fail")
    said = "no local branch 'main': compared with origin/main, as DVC resolves 'main'"
    assert said in mlci(clone, "check", "--base", "main", "--no-repro").out


# --- 9. repro.run_cache: false ----------------------------------------------------------

SCORE = """\
import json, os, sys, yaml
region = sys.argv[1]
quality = yaml.safe_load(open("params.yaml"))["regions"][region]
# a file the stage reads but does not declare: the run-cache cannot know it changed
calibration = float(open("calibration.txt").read())
os.makedirs(f"results/{region}", exist_ok=True)
json.dump({"auc": round(quality + calibration, 4)}, open(f"results/{region}/metrics.json", "w"))
"""

FOREACH = """\
stages:
  score:
    foreach: [us, eu]
    do:
      cmd: python score.py ${item}
      deps: [score.py]
      params:
        - regions.${item}
      metrics:
        - results/${item}/metrics.json
"""


def run_cache_project(tmp) -> tuple[Project, GitRepo]:
    """main: eu at 0.7 (0.75 was tried and reverted, so the run-cache on the remote knows it);
    feature: eu at 0.75 with a new calibration; a fresh clone of feature."""
    p = Project.create(tmp)
    p.write("score.py", SCORE)
    p.write("dvc.yaml", FOREACH)
    p.write("calibration.txt", "0.0\n")
    p.write("params.yaml", "regions:\n  us: 0.8\n  eu: 0.75\n")
    p.repro()
    p.dvc("push", "-q", "--run-cache")  # the tried setting's outputs and run-cache entry
    p.write("params.yaml", "regions:\n  us: 0.8\n  eu: 0.7\n")
    p.repro()
    p.commit("scores per region")
    p.dvc("push", "-q", "--run-cache")
    p.publish(dvc_push=False)
    p.git("checkout", "-q", "-b", "feature")
    p.write("params.yaml", "regions:\n  us: 0.8\n  eu: 0.75\n")
    p.write("calibration.txt", "0.05\n")
    p.commit("eu: 0.75, recalibrated (not reproduced)")
    p.publish("feature", dvc_push=False)
    return p, p.fresh_clone(branch="feature")


def test_run_cache_false_computes_a_changed_foreach_stage(mlci, tmp_path):
    p, clone = run_cache_project(tmp_path / "corpus")
    # the default: DVC restores score@eu from the run-cache, computed with the old calibration
    doc = mlci(clone, "check", "--format", "json").json()
    stages = {s["name"]: s["status"] for s in doc["repro"]["stages"]}
    assert stages["score@eu"] == "cached", stages
    assert metrics_at(clone, "eu") == 0.75

    other = p.fresh_clone(tmp_path / "no-run-cache", branch="feature")
    other.write("mlci.yaml", "repro:\n  run_cache: false\n")
    run = mlci(other, "check", "--format", "json")
    doc = run.json()
    stages = {s["name"]: s["status"] for s in doc["repro"]["stages"]}
    assert stages["score@eu"] == "ran", (stages, doc["reasons"], run.err)
    assert metrics_at(other, "eu") == 0.8  # 0.75 + the new calibration, computed here
    rows = {m["name"]: m["head"] for m in doc["metrics"]}
    assert rows["results/eu/metrics.json:auc"] == 0.8
    # no run-cache entry was pulled: every entry here was written by the run here
    assert run_cache_entries(clone.path / ".dvc" / "cache") & run_cache_entries(p.storage)
    assert not run_cache_entries(other.path / ".dvc" / "cache") & run_cache_entries(p.storage)


def run_cache_entries(where) -> set[str]:
    runs = where / "runs"
    return {f.relative_to(runs).as_posix() for f in runs.rglob("*") if f.is_file()}


def metrics_at(repo: GitRepo, region: str) -> float:
    return float(json.loads((repo.path / f"results/{region}/metrics.json").read_text())["auc"])


# --- 8. the results history outside CI --------------------------------------------------


def test_history_fetch_and_push_carry_the_notes_between_clones(mlci, tmp_path):
    p = Project.create(tmp_path / "corpus", remote=False)
    p.write("train.py", PLAIN_TRAIN)
    p.write("dvc.yaml", PLAIN_PIPELINE)
    p.write("params.yaml", "train:\n  quality: 0.8\n")
    p.write("mlci.yaml", RULES_ACC)
    p.repro()
    base = p.commit("baseline")
    p.publish(dvc_push=False)
    recorded = mlci(p, "check", "--record", "--base", "main", "--no-repro")
    assert recorded.code == 0, recorded.err
    assert "1 commit with a recorded result" in mlci(p, "doctor").out

    pushed = mlci(p, "history", "push")
    assert pushed.code == 0, pushed.err
    assert "mlci: pushed refs/notes/mlci to origin: 1 commit recorded" in pushed.out
    assert sh(["git", "notes", "--ref=mlci", "list"], p.origin).split()[1] == base

    clone = p.fresh_clone()
    assert "no recorded results in this clone" in mlci(clone, "doctor").out
    fetched = mlci(clone, "history", "fetch")
    assert fetched.code == 0, fetched.err
    assert "fetched refs/notes/mlci from origin: 1 commit with a recorded result (1 new here)" in (
        fetched.out
    )
    assert "1 commit with a recorded result (refs/notes/mlci)" in mlci(clone, "doctor").out
    # the clone's check now carries the recorded value as the metric's history
    doc = mlci(clone, "check", "--base", "main", "--no-repro", "--format", "json").json()
    [acc] = doc["metrics"]
    assert acc["history"] == [{"sha": base, "value": 0.8}]

    # a second fetch adds nothing; a remote without notes says so
    assert "(0 new here)" in mlci(clone, "history", "fetch").out
    empty = Project.create(tmp_path / "empty", remote=False)
    empty.publish(dvc_push=False)
    bare = empty.fresh_clone()
    said = mlci(bare, "history", "fetch").out
    assert "origin has no results history (refs/notes/mlci) yet" in said
    refused = mlci(bare, "history", "push")
    assert refused.code == 3 and "`mlci check --record` records one" in refused.err
    assert mlci(bare, "history", "fetch", "--remote", "upstream").code == 3


def test_a_local_deploy_records_no_history_as_the_docs_say(deploy_project):  # noqa: F811
    run = deploy_project.run("deploy", "--environment", "production", "--base", "HEAD")
    assert run.code == 0, run.err
    assert deploy_project.repo.git("notes", "--ref=mlci", "list") == ""
    assert "no recorded results in this clone" in deploy_project.run("doctor").out
    page = " ".join((Path(__file__).parents[1] / "docs" / "history.md").read_text().split())
    assert "any other run records nothing, a local `mlci deploy` included" in page


# --- 7. an environment change no stage declares -------------------------------------------


def published_dvclive(p: Project) -> None:
    dvclive_pipeline(p)
    p.write("src/requirements.txt", "scikit-learn==1.5.2\ndvclive==3.48.0\n")
    p.commit("requirements (no stage lists them)")
    p.publish()


def test_a_requirements_change_no_stage_declares_is_reported(mlci, tmp_path, tmp_path_factory):
    p = cached("dvclive-requirements", published_dvclive, tmp_path_factory, tmp_path / "corpus")
    p.git("checkout", "-q", "-b", "feature")
    p.write("src/requirements.txt", "scikit-learn>=1.5\ndvclive==3.48.0\npandas\n")
    p.set_params(C=0.5)
    p.repro()
    p.commit("newer scikit-learn, pandas; smaller C")
    p.publish("feature")
    ci = p.fresh_clone(branch="feature")

    doc = mlci(ci, "check", "--format", "json").json()
    stages = {s["name"]: s["status"] for s in doc["repro"]["stages"]}
    assert stages["train"] == "restored" and stages["prepare"] == "restored", stages
    env = doc["environment"]
    assert env["files"] == ["src/requirements.txt"] and env["stages"] == []
    [note] = [n for n in doc["notes"] if n.startswith("src/requirements.txt changed")]
    assert "no stage declares it" in note
    assert "no stage ran under the new environment" in note
    assert "computed under the old one (restored from the cache or unchanged" in note
    assert "prepare, train" in note
    assert note.endswith(
        "; not pinned to one version: scikit-learn>=1.5 (src/requirements.txt:1), "
        "pandas (any version) (src/requirements.txt:3)"
    ), note

    # a stage that runs here runs under the new environment, and the note says which
    ci.write("params.yaml", (ci.path / "params.yaml").read_text().replace("0.5", "0.25"))
    ci.write("mlci.yaml", MLCI_YAML + "environment:\n  unpinned: warn\n")
    doc = mlci(ci, "check", "--format", "json").json()
    [note] = [n for n in doc["notes"] if n.startswith("src/requirements.txt changed")]
    assert "ran under the new environment: train" in note and "prepare" in note
    # not the gate's to warn on (a file no stage declares may be docs' or tooling's): the note
    # names the unpinned requirements with file and line whatever environment.unpinned says
    assert not [r for r in doc["reasons"] if r["section"] == "environment"], doc["reasons"]
    assert "scikit-learn>=1.5 (src/requirements.txt:1)" in note


# --- 10. words and numbers ---------------------------------------------------------------

SEEDED = """\
import json, os, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
json.dump({"acc": p["quality"], "ca_bundle": os.environ.get("AWS_CA_BUNDLE"),
           "secret": os.environ.get("AWS_SECRET_ACCESS_KEY")}, open("metrics.json", "w"))
"""

SEEDED_PIPELINE = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py]
    params: [train]
    metrics:
      - metrics.json:
          cache: false
"""


def test_words_and_numbers_a_new_user_reads(dvc_repo, mlci, monkeypatch):
    dvc_repo.write("train.py", SEEDED)
    dvc_repo.write("dvc.yaml", SEEDED_PIPELINE)
    dvc_repo.write("params.yaml", "train:\n  quality: 0.8\n  seed: 20170428\n  n: 5000\n")
    dvc_repo.dvc("repro", "-q")
    dvc_repo.commit("baseline")
    dvc_repo.git("checkout", "-q", "-b", "feature")
    # the workflow `mlci init` writes is CI's set-up, not a package change
    init = mlci(dvc_repo, "init")
    assert init.code == 0, init.err
    assert (dvc_repo.path / ".github" / "workflows" / "mlci.yml").is_file()
    dvc_repo.write(
        "mlci.yaml",
        "metrics:\n  rules:\n    - name: acc\n      direction: higher\n"
        "      max_regression_pct: 1000000\n",
    )
    dvc_repo.write("params.yaml", "train:\n  quality: 0.79\n  seed: 20170429\n  n: 6000\n")
    dvc_repo.commit("mlci init; another seed")

    monkeypatch.setenv("AWS_CA_BUNDLE", "/etc/ssl/corp-ca.pem")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-for-stages-123")
    monkeypatch.setenv("CI", "true")  # a CI log: tables are not folded at 100 columns
    run = mlci(dvc_repo, "check", "--base", "main")
    text = run.out
    assert run.code == 0, (run.out, run.err)
    # params as written
    assert "20170429" in text and "20,170,429" not in text
    assert "6000" in text and "6,000" not in text
    # a percent allowance in plain digits
    [row] = [line for line in text.splitlines() if "metrics.json:acc" in line]
    assert row.rstrip().endswith("│ higher, max regression 1000000 %"), text
    assert "e+06" not in text
    # a certificate path reaches the stage; a secret does not
    written = json.loads((dvc_repo.path / "metrics.json").read_text())
    assert written["ca_bundle"] == "/etc/ssl/corp-ca.pem" and written["secret"] is None
    # nothing pulled (no remote), and the stage that ran is named rather than "every stage"
    doc = mlci(dvc_repo, "check", "--base", "main", "--format", "json").json()
    assert "no DVC remote configured: nothing pulled, no stage needed computing" in doc["notes"]
    assert "environment" not in doc, doc["environment"]


def test_an_actions_run_does_not_log_the_expected_403_on_get_user(
    dvc_repo, mlci, github_fake, tmp_path, monkeypatch, caplog
):
    from tests.test_ci import Actions

    dvc_repo.write("train.py", PLAIN_TRAIN)
    dvc_repo.write("dvc.yaml", PLAIN_PIPELINE)
    dvc_repo.write("params.yaml", "train:\n  quality: 0.8\n")
    dvc_repo.write("mlci.yaml", RULES_ACC)
    dvc_repo.dvc("repro", "-q")
    base = dvc_repo.commit("baseline")
    dvc_repo.git("checkout", "-q", "-b", "feature")
    dvc_repo.write("README.md", "docs\n")
    head = dvc_repo.commit("docs")
    gh = Actions(dvc_repo, github_fake, tmp_path, monkeypatch, mlci)
    gh.pull_request(3, base, head)
    caplog.set_level(logging.INFO, logger="github")
    run = mlci(dvc_repo, "ci")
    assert run.code == 0, (run.out, run.err)
    assert len(github_fake.comments()) == 1  # the comment's author was asked for (GET /user)
    assert [r for r in github_fake.requests if r.path == "/user"], "GET /user was not asked"
    logged = [r.getMessage() for r in caplog.records if "failed with 403" in r.getMessage()]
    assert not logged, logged
