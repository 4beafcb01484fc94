"""``mlci sweep``: a grid of params as real DVC experiments, each judged against the base."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from tests.conftest import GitRepo

ROOT = Path(__file__).resolve().parents[1]

TRAIN = """\
import json, pathlib, yaml
C = yaml.safe_load(open("params.yaml"))["train"]["C"]
if C < 0:
    raise SystemExit("C must be positive")
acc = 0.9 if C >= 1 else 0.5
pathlib.Path("eval").mkdir(exist_ok=True)
json.dump({"acc": acc, "C": C}, open("eval/metrics.json", "w"))
"""

DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py]
    params: [train.C]
    metrics:
      - eval/metrics.json:
          cache: false
"""

CONFIG = """\
metrics:
  rules:
    - name: acc
      direction: higher
      max_regression: 0.01
sweep:
  objective: acc
"""


def _project(repo: GitRepo, config: str = CONFIG) -> None:
    repo.write("train.py", TRAIN)
    repo.write("dvc.yaml", DVC_YAML)
    repo.write("params.yaml", "train:\n  C: 1\n")
    repo.write("mlci.yaml", config)
    repo.dvc("repro", "-q")
    repo.commit("baseline")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("README.md", "a feature\n")
    repo.commit("feature")


def _state(repo: GitRepo) -> dict[str, bytes | str]:
    files = {
        p: (repo.path / p).read_bytes()
        for p in ("params.yaml", "dvc.lock", "eval/metrics.json", "train.py")
    }
    return {**files, "status": repo.git("status", "--porcelain", "--untracked-files=all")}


def test_a_two_value_grid_judges_each_experiment_and_leaves_the_work_tree(dvc_repo, mlci, tmp_path):
    _project(dvc_repo)
    before = _state(dvc_repo)
    out = tmp_path / "result.json"
    html = tmp_path / "report.html"
    md = tmp_path / "report.md"
    run = mlci(
        dvc_repo, "sweep", "-S", "train.C=0.01,1", "--base", "main",
        "--output", str(out), "--html", str(html), "--report", str(md),
    )  # fmt: skip
    assert run.code == 0, run.err
    assert _state(dvc_repo) == before  # byte for byte, and git status
    doc = json.loads(out.read_text())
    schema = json.loads((ROOT / "mlci/schema/result.schema.json").read_text())
    jsonschema.validate(doc, schema)
    exps = {e["name"]: e for e in doc["experiments"]}
    assert list(exps) == ["sweep-1", "sweep-2"]
    assert exps["sweep-1"]["params"] == {"params.yaml:train.C": 0.01}
    assert exps["sweep-2"]["params"] == {"params.yaml:train.C": 1}
    assert exps["sweep-1"]["verdict"] == "fail"
    assert exps["sweep-2"]["verdict"] == "pass"
    acc1 = next(m for m in exps["sweep-1"]["metrics"] if m["name"].endswith(":acc"))
    assert (acc1["base"], acc1["head"], acc1["outcome"]) == (0.9, 0.5, "fail")
    assert any("acc" in r["message"] for r in exps["sweep-1"]["reasons"])
    assert doc["best"] == "sweep-2"
    # the experiments are real DVC experiments on the head, with their own params
    sha = exps["sweep-1"]["sha"]
    params_at = dvc_repo.git("show", f"{sha}:params.yaml")
    assert "0.01" in params_at
    assert dvc_repo.git("rev-parse", f"{sha}^") == dvc_repo.git("rev-parse", "HEAD")
    # one table in every rendering, the best marked
    assert "sweep-1" in run.out and "sweep-2" in run.out and "★" in run.out
    text = md.read_text()
    row1 = next(line for line in text.splitlines() if "`sweep-1`" in line and line.startswith("|"))
    row2 = next(line for line in text.splitlines() if "`sweep-2`" in line and line.startswith("|"))
    assert "❌" in row1 and "0.01" in row1 and "0.5" in row1
    assert "✅" in row2 and "★ best" in row2
    page = html.read_text()
    assert "sweep-2</code> <strong>★ best" in page
    assert "mlci: sweep 1/2: sweep-1" in run.err


def test_a_failing_stage_in_one_experiment_is_a_row(dvc_repo, mlci, tmp_path):
    _project(dvc_repo)
    before = _state(dvc_repo)
    out = tmp_path / "result.json"
    run = mlci(dvc_repo, "sweep", "-S", "train.C=-1,2", "--base", "main", "--output", str(out))
    assert run.code == 0, run.err
    assert _state(dvc_repo) == before
    exps = json.loads(out.read_text())["experiments"]
    assert [e["verdict"] for e in exps] == ["fail", "pass"]
    assert exps[0]["sha"] is None
    assert "did not finish" in exps[0]["reasons"][0]["message"]


def test_a_grid_over_the_limit_is_refused(dvc_repo, mlci):
    _project(dvc_repo, CONFIG + "  max_experiments: 3\n")
    run = mlci(dvc_repo, "sweep", "-S", "train.C=1,2", "-S", "train.D=1,2", "--base", "main")
    assert run.code == 2
    assert "4 experiments, more than sweep.max_experiments (3)" in run.err
    assert dvc_repo.git("for-each-ref", "refs/exps") == ""  # nothing ran


def test_a_malformed_grid_is_a_usage_error(dvc_repo, mlci):
    _project(dvc_repo)
    assert mlci(dvc_repo, "sweep", "-S", "train.C", "--base", "main").code == 2


FOREACH_TRAIN = """\
import json, pathlib, sys, yaml
C = yaml.safe_load(open("params.yaml"))["train"]["C"]
split = sys.argv[1]
pathlib.Path("eval").mkdir(exist_ok=True)
json.dump({"acc": 0.9 if C >= 1 else 0.5}, open(f"eval/{split}.json", "w"))
"""

FOREACH_DVC_YAML = """\
stages:
  train:
    foreach: [a, b]
    do:
      cmd: python train.py ${item}
      deps: [train.py]
      params: [train.C]
      metrics:
        - eval/${item}.json:
            cache: false
"""


def test_a_subfolder_project_with_foreach_stages(git_repo, mlci, tmp_path):
    from tests.conftest import VENV_BIN, sh

    proj = git_repo.path / "ml"
    proj.mkdir()
    sh([str(VENV_BIN / "dvc"), "init", "-q", "--subdir"], proj)
    git_repo.write("ml/train.py", FOREACH_TRAIN)
    git_repo.write("ml/dvc.yaml", FOREACH_DVC_YAML)
    git_repo.write("ml/params.yaml", "train:\n  C: 1\n")
    git_repo.write("ml/mlci.yaml", CONFIG.replace("name: acc", 'name: "eval/a.json:acc"'))
    sh([str(VENV_BIN / "dvc"), "repro", "-q"], proj)
    git_repo.commit("baseline")
    git_repo.git("checkout", "-q", "-b", "feature")
    before = {p: (proj / p).read_bytes() for p in ("params.yaml", "dvc.lock")}
    status = git_repo.git("status", "--porcelain", "--untracked-files=all")
    out = tmp_path / "result.json"
    run = mlci(proj, "sweep", "-S", "train.C=0.5,2", "--base", "main", "--output", str(out))
    assert run.code == 0, run.err
    assert {p: (proj / p).read_bytes() for p in before} == before
    assert git_repo.git("status", "--porcelain", "--untracked-files=all") == status
    doc = json.loads(out.read_text())
    assert [e["verdict"] for e in doc["experiments"]] == ["fail", "pass"]
    names = {m["name"] for m in doc["experiments"][1]["metrics"]}
    assert {"eval/a.json:acc", "eval/b.json:acc"} <= names  # both foreach stages ran
    assert doc["best"] == "sweep-2"
