"""Corpus, second pass on real repositories: the last fail-open paths and a new user's first runs.

Each test builds the shape a user reported (real git, real ``dvc``, stages that
really run) and runs mlci the way that user did: a monorepo whose pipelines
live in ``dvc init --subdir`` projects below a root ``.dvc/``, a fresh clone
whose DVC remote needs a plugin that is not installed, a CI clone without a
local ``main``, DVC's run-cache restoring a foreach stage, a requirements file
no stage declares, and the recorded history outside CI.
"""

from __future__ import annotations

from tests.conftest import VENV_BIN, GitRepo, sh

# --- 1. a root .dvc/ without dvc.yaml, the pipelines in subprojects ----------------------

SUB_TRAIN = """\
import json, yaml
p = yaml.safe_load(open("params.yaml"))
json.dump({"acc": p["quality"]}, open("metrics.json", "w"))
"""

SUB_PIPELINE = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py]
    params: [quality]
    metrics:
      - metrics.json:
          cache: false
"""

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
