"""Corpus: plots the way dvclive writes them, image plots, and DVC projects in subfolders.

Real repositories: git, ``dvc repro`` of real stages, dvclive's own
``log_sklearn_plot`` inside a stage, the fake GitHub for ``mlci ci``. Each case
asserts the verdict and the report's key lines; none may pass with a
"nothing to compare" that it should not have.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from mlci.model.result import validate
from tests import browser
from tests.conftest import VENV_BIN, GitRepo, sh
from tests.corpus import SUB_PIPELINE, SUB_TRAIN
from tests.test_ci import Actions

# --- a dvclive project, as DVC's get-started example lays it out ----------------------------

EVALUATE = '''\
"""Scores a fixed test set; params.yaml's `shift` moves the scores (a better or worse model)."""
import json
import struct
import zlib
from pathlib import Path

import yaml
from dvclive import Live

shift = yaml.safe_load(open("params.yaml"))["shift"]
y_true = [i % 2 for i in range(40)]
# the positives score higher as `shift` grows: a clean, deterministic change of every curve
y_score = [min(1.0, max(0.0, 0.35 + (0.3 + shift) * t + ((i * 7) % 10 - 4.5) / 12))
           for i, t in enumerate(y_true)]
y_pred = [int(s >= 0.5) for s in y_score]

with Live("eval", dvcyaml=None, save_dvc_exp=False) as live:
    live.log_metric("accuracy", sum(p == t for p, t in zip(y_pred, y_true)) / len(y_true), plot=False)
    for split in ("train", "test"):
        live.log_sklearn_plot("roc", y_true, y_score, name=f"roc/{split}.json")
        live.log_sklearn_plot("precision_recall", y_true, y_score, name=f"prc/{split}.json")
        live.log_sklearn_plot("confusion_matrix", y_true, y_pred, name=f"cm/{split}.json")
    live.log_sklearn_plot("calibration", y_true, y_score, name="calibration.json", n_bins=4)


def png(width, height, rgb):
    """A real PNG of one colour, written without an imaging library."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


Path("eval/plots/images").mkdir(parents=True, exist_ok=True)
importance = [{"feature": "tenure", "importance": round(0.5 - shift / 2, 3)},
              {"feature": "charges", "importance": round(0.3 + shift / 2, 3)},
              {"feature": "contract", "importance": 0.2}]
Path("eval/plots/importance.json").write_text(json.dumps(importance))
Path("eval/plots/images/importance.png").write_bytes(png(24, 8, (200, int(shift * 250) % 256, 40)))
'''

LIVE_DVC_YAML = """\
stages:
  evaluate:
    cmd: python evaluate.py
    deps:
      - evaluate.py
    params:
      - shift
    outs:
      - eval
metrics:
  - eval/metrics.json
plots:
  - ROC:
      template: simple
      x: fpr
      y:
        eval/plots/sklearn/roc/train.json: tpr
        eval/plots/sklearn/roc/test.json: tpr
  - Confusion-Matrix:
      template: confusion
      x: actual
      y:
        eval/plots/sklearn/cm/test.json: predicted
  - Precision-Recall:
      template: simple
      x: recall
      y:
        eval/plots/sklearn/prc/test.json: precision
  - eval/plots/sklearn/calibration.json:
      template: simple
      x: prob_pred
      y: prob_true
      title: Calibration
  - eval/plots/images/importance.png
  - eval/plots/importance.json:
      template: bar_horizontal_sorted
      x: importance
      y: feature
"""

LIVE_RULES = """\
repro:
  enabled: false
metrics:
  rules:
    - name: accuracy
      direction: higher
      max_regression: 0.05
      severity: fail
"""


def dvclive_project(repo: GitRepo) -> tuple[str, str]:
    """Base on main (shift 0.1), head on feature (shift 0.3); both reproduced for real."""
    repo.write("README.md", "a dvclive project\n")
    repo.commit("init")  # dvclive asks git about HEAD: the repository needs a commit first
    repo.write("evaluate.py", EVALUATE)
    repo.write("dvc.yaml", LIVE_DVC_YAML)
    repo.write("params.yaml", "shift: 0.1\n")
    repo.write("mlci.yaml", LIVE_RULES)
    repo.dvc("repro", "-q")
    base = repo.commit("baseline model")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("params.yaml", "shift: 0.3\n")
    repo.dvc("repro", "-q")
    head = repo.commit("better model")
    return base, head


def _sealed_build(factory: pytest.TempPathFactory, name: str, build) -> Path:
    """Build a repository once per module, in the sealed environment conftest gives each test.

    Real ``dvc repro`` runs cost seconds each on a busy machine; the tests copy the result.
    """
    path = factory.mktemp(name) / "repo"
    path.mkdir()
    sh(["git", "init", "-q", "-b", "main"], path)
    home = factory.mktemp(f"{name}-home")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
            "DVC_NO_ANALYTICS": "1",
            "GIT_AUTHOR_NAME": "Test",
            "GIT_AUTHOR_EMAIL": "test@example.com",
            "GIT_COMMITTER_NAME": "Test",
            "GIT_COMMITTER_EMAIL": "test@example.com",
            "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        }.items():
            mp.setenv(key, value)
        build(GitRepo(path))
    return path


def _copy(template: Path, tmp_path: Path) -> GitRepo:
    path = tmp_path / "repo"
    shutil.copytree(template, path, symlinks=True)
    return GitRepo(path)


@pytest.fixture(scope="module")
def live_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    def build(repo: GitRepo) -> None:
        repo.dvc("init", "-q")
        dvclive_project(repo)

    return _sealed_build(tmp_path_factory, "live", build)


@pytest.fixture
def live_repo(live_template: Path, tmp_path: Path) -> GitRepo:
    return _copy(live_template, tmp_path)


def test_dvclive_sklearn_plots_declared_at_top_level_are_drawn(live_repo, mlci):
    run = mlci(live_repo, "check", "--no-repro", "--format", "json")
    doc = run.json()
    validate(doc)
    by_id = {p["id"]: p for p in doc["plots"]}
    assert set(by_id) == {
        "ROC (train.json)",
        "ROC (test.json)",
        "Confusion-Matrix",
        "Precision-Recall",
        "eval/plots/sklearn/calibration.json",
        "eval/plots/images/importance.png",
        "eval/plots/importance.json",
    }
    assert not [p for p in doc["plots"] if p["kind"] == "none"], doc["plots"]
    roc = by_id["ROC (test.json)"]
    assert (roc["kind"], roc["status"], roc["x"], roc["y"]) == ("line", "changed", "fpr", "tpr")
    # dvclive's {"roc": [{"fpr", "tpr", "threshold"}, ...]}: a curve from (0, 0) to (1, 1)
    assert roc["head"][0] == [0.0, 0.0] and roc["head"][-1] == [1.0, 1.0]
    prc = by_id["Precision-Recall"]
    assert (prc["kind"], prc["status"], prc["x"], prc["y"]) == (
        "line",
        "changed",
        "recall",
        "precision",
    )
    cal = by_id["eval/plots/sklearn/calibration.json"]
    assert (cal["kind"], cal["x"], cal["y"]) == ("line", "prob_pred", "prob_true")
    cm = by_id["Confusion-Matrix"]
    assert cm["kind"] == "confusion" and cm["status"] == "changed"
    # dvclive writes the classes as strings; 40 samples in every matrix
    assert {c[0] for c in cm["head"]} <= {"0", "1"} and sum(c[2] for c in cm["head"]) == 40
    assert sum(c[2] for c in cm["base"]) == 40
    assert by_id["eval/plots/images/importance.png"]["status"] == "changed"
    bars = by_id["eval/plots/importance.json"]
    assert (bars["kind"], bars["status"], bars["x"], bars["y"]) == (
        "bar",
        "changed",
        "importance",
        "feature",
    )
    assert bars["base"] == [["tenure", 0.45], ["charges", 0.35], ["contract", 0.2]]
    assert bars["head"] == [["tenure", 0.35], ["charges", 0.45], ["contract", 0.2]]
    # the better model passes its rule
    assert run.code == 0 and doc["verdict"] == "pass"
    [acc] = doc["metrics"]
    assert acc["name"] == "eval/metrics.json:accuracy" and acc["head"] > acc["base"]


def test_dvclive_plots_in_the_comment(live_repo, mlci):
    md = mlci(live_repo, "check", "--no-repro", "--format", "markdown").out
    assert "not drawn" not in md
    charts = re.findall(r"```mermaid\n(.*?)```", md, re.DOTALL)
    titles = [re.search(r'title "(.*)"', c).group(1) for c in charts]
    assert titles == ["ROC (train.json)", "ROC (test.json)", "Precision-Recall", "Calibration"]
    assert 'x-axis "fpr" 0 --> 1' in charts[0]
    assert "| `0` |" in md and "| `1` |" in md  # the confusion matrix as a table
    assert "`eval/plots/images/importance.png`: changed:" in md
    assert "| `charges` | 0.35 | 0.45 | +0.1 |" in md  # the bars as a table, largest first
    assert "### ✅ mlci: gate open" in md


def test_image_plots_side_by_side_in_the_html_report(live_repo, mlci, tmp_path):
    out = tmp_path / "report.html"
    assert mlci(live_repo, "check", "--no-repro", "--html", str(out)).code == 0
    page = out.read_text()
    [section] = re.findall(
        r'<section class="plot"[^>]*>\s*<h3><code>eval/plots/images/importance.png'
        r"</code></h3>.*?</section>",
        page,
        re.DOTALL,
    )
    figures = re.findall(
        r"<figure><figcaption>(.*?)</figcaption><img src=\"(data:image/png;base64,[^\"]+)\"",
        section,
    )
    assert [caption.split(" · ")[0] for caption, _ in figures] == ["main", "feature"]
    assert figures[0][1] != figures[1][1]  # base and head, each embedded
    assert "<script src" not in page and "http://" not in section and "https://" not in section
    # the line plots and the bars are drawn by the inlined Vega libraries, offline
    assert page.count('data-plot="plot-') == 5
    dom = browser.dump_dom(out)
    assert dom.count('data-drawn="yes"') == 5 and 'data-drawn="error"' not in dom


def test_a_plot_field_dvc_cannot_find_is_named_with_dvcs_reason(live_repo, mlci):
    live_repo.write("dvc.yaml", LIVE_DVC_YAML.replace("y: prob_true", "y: prob_typo"))
    doc = mlci(live_repo, "check", "--no-repro", "--format", "json").json()
    [cal] = [p for p in doc["plots"] if p["id"] == "eval/plots/sklearn/calibration.json"]
    assert cal["kind"] == "none"
    assert "could not find provided field ('prob_typo')" in cal["reason"].lower()


# --- several DVC projects in subfolders of one git repository -------------------------------

REGIONS = """\
import csv, json, sys, yaml
region = sys.argv[1]
q = yaml.safe_load(open("params.yaml"))["regions"][region]
import os
os.makedirs(f"results/{region}", exist_ok=True)
json.dump({"auc": q}, open(f"results/{region}/metrics.json", "w"))
with open(f"results/{region}/loss.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["epoch", "loss"])
    for e in range(10):
        w.writerow([e, round(1 / (e + 1) + (1 - q), 4)])
"""

FOREACH_DVC_YAML = """\
stages:
  score:
    foreach: [us, eu]
    do:
      cmd: python regions.py ${item}
      deps:
        - regions.py
      params:
        - regions.${item}
      metrics:
        - results/${item}/metrics.json:
            cache: false
      plots:
        - results/${item}/loss.csv:
            cache: false
            x: epoch
            y: loss
"""

RULE = """\
repro:
  enabled: true
  pull: false
metrics:
  rules:
    - name: {name}
      direction: higher
      max_regression: 0.01
      severity: fail
"""


def subfolder_projects(repo: GitRepo) -> tuple[str, str]:
    """projects/a (one stage) and projects/b (a foreach stage) in one repository.

    On the feature branch, a regresses; b's "eu" item improves and "us" stays.
    """
    a, b = repo.path / "projects" / "a", repo.path / "projects" / "b"
    for folder in (a, b):
        folder.mkdir(parents=True)
        sh([str(VENV_BIN / "dvc"), "init", "-q", "--subdir"], folder)
    repo.write("projects/a/train.py", SUB_TRAIN)
    repo.write("projects/a/dvc.yaml", SUB_PIPELINE)
    repo.write("projects/a/params.yaml", "quality: 0.9\n")
    repo.write("projects/a/mlci.yaml", RULE.format(name="acc"))
    repo.write("projects/b/regions.py", REGIONS)
    repo.write("projects/b/dvc.yaml", FOREACH_DVC_YAML)
    repo.write("projects/b/params.yaml", "regions:\n  us: 0.8\n  eu: 0.7\n")
    repo.write("projects/b/mlci.yaml", RULE.format(name="auc"))
    for folder in (a, b):
        sh([str(VENV_BIN / "dvc"), "repro", "-q"], folder)
    base = repo.commit("two projects")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("projects/a/params.yaml", "quality: 0.6\n")
    repo.write("projects/b/params.yaml", "regions:\n  us: 0.8\n  eu: 0.75\n")
    for folder in (a, b):
        sh([str(VENV_BIN / "dvc"), "repro", "-q"], folder)
    head = repo.commit("a regresses, b's eu improves")
    return base, head


@pytest.fixture(scope="module")
def projects_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shas: dict[str, str] = {}

    def build(repo: GitRepo) -> None:
        shas["base"], shas["head"] = subfolder_projects(repo)

    path = _sealed_build(tmp_path_factory, "projects", build)
    (path.parent / "shas.json").write_text(json.dumps(shas))
    return path


@pytest.fixture
def two_projects(projects_template: Path, tmp_path: Path) -> tuple[GitRepo, str, str]:
    shas = json.loads((projects_template.parent / "shas.json").read_text())
    return _copy(projects_template, tmp_path), shas["base"], shas["head"]


def test_each_project_is_checked_from_its_folder(two_projects, mlci):
    repo, _, _ = two_projects
    a = mlci(repo.path / "projects" / "a", "check", "--format", "json")
    doc = a.json()
    assert a.code == 1 and doc["verdict"] == "fail"
    [acc] = doc["metrics"]
    assert (acc["name"], acc["base"], acc["head"], acc["outcome"]) == (
        "metrics.json:acc",
        0.9,
        0.6,
        "fail",
    )

    b = mlci(repo.path / "projects" / "b", "check")
    assert b.code == 0, b.out
    assert "gate open" in b.out and "nothing to compare" not in b.out
    assert "results/eu/metrics.json:auc" in b.out and "results/us/metrics.json:auc" in b.out
    doc = mlci(repo.path / "projects" / "b", "check", "--no-repro", "--format", "json").json()
    rows = {m["name"]: (m["base"], m["head"], m["status"]) for m in doc["metrics"]}
    assert rows == {
        "results/us/metrics.json:auc": (0.8, 0.8, "unchanged"),
        "results/eu/metrics.json:auc": (0.7, 0.75, "improved"),
    }
    plots = {p["id"]: (p["kind"], p["status"]) for p in doc["plots"]}
    assert plots == {
        "results/us/loss.csv": ("line", "unchanged"),
        "results/eu/loss.csv": ("line", "changed"),
    }


def test_a_subfolder_run_reads_its_own_config_and_labels_its_report(two_projects, mlci):
    repo, _, _ = two_projects
    md = mlci(repo.path / "projects" / "a", "check", "--no-repro", "--format", "markdown").out
    assert md.startswith("<!-- mlci:report:mlci/projects/a -->")
    assert "### ❌ mlci/projects/a: gate closed" in md  # the title names the project
    # an explicit status_context wins over the folder's label
    repo.write(
        "projects/a/mlci.yaml", RULE.format(name="acc") + "report:\n  status_context: model-a\n"
    )
    md = mlci(repo.path / "projects" / "a", "check", "--no-repro", "--format", "markdown").out
    assert md.startswith("<!-- mlci:report:model-a -->")


def test_from_a_folder_inside_a_project_the_project_is_found_upwards(two_projects, mlci):
    repo, _, _ = two_projects
    inner = repo.path / "projects" / "b" / "results"
    doc = mlci(inner, "check", "--no-repro", "--format", "json").json()
    assert {m["name"] for m in doc["metrics"]} == {
        "results/us/metrics.json:auc",
        "results/eu/metrics.json:auc",
    }


def test_above_the_projects_the_gate_fails_closed_and_says_where_they_are(two_projects, mlci):
    repo, _, _ = two_projects
    run = mlci(repo, "check", "--no-repro")
    assert run.code == 1
    assert "gate closed" in run.out
    assert "2 in subfolders (projects/a, projects/b)" in run.out
    assert "working-directory" in run.out


def test_doctor_and_init_in_a_subfolder_project(two_projects, mlci):
    repo, _, _ = two_projects
    a = repo.path / "projects" / "a"
    (a / "mlci.yaml").unlink()
    run = mlci(a, "init")
    assert run.code == 0, run.err
    assert (a / "mlci.yaml").is_file() and not (repo.path / "mlci.yaml").exists()
    workflow = repo.path / ".github" / "workflows" / "mlci-projects-a.yml"
    text = workflow.read_text()
    assert 'working-directory: "projects/a"' in text and 'config: "mlci.yaml"' in text
    assert "wrote .github/workflows/mlci-projects-a.yml" in run.out
    doctor = mlci(a, "doctor").out
    assert "the DVC project in projects/a/ (status and comment: mlci/projects/a)" in doctor
    assert "mlci.yaml is valid" in doctor
    top = mlci(repo, "doctor")
    assert "no DVC project here, but 2 in subfolders" in top.out and top.code != 0


def test_mlci_ci_from_two_folders_gives_two_statuses_and_two_comments(
    two_projects, github_fake, tmp_path, monkeypatch, mlci
):
    repo, base, head = two_projects
    gh = Actions(repo, github_fake, tmp_path, monkeypatch, mlci)
    gh.pull_request(9, base, head)
    a = mlci(repo.path / "projects" / "a", "ci")
    b = mlci(repo.path / "projects" / "b", "ci")
    assert (a.code, b.code) == (1, 0), (a.out, a.err, b.out, b.err)
    statuses = {s["context"]: s["state"] for s in github_fake.statuses(head)}
    assert statuses == {"mlci/projects/a": "failure", "mlci/projects/b": "success"}
    bodies = sorted(c["body"] for c in github_fake.comments())
    assert len(bodies) == 2
    assert bodies[0].startswith(
        "<!-- mlci:report:mlci/projects/a -->\n### ❌ mlci/projects/a: gate closed"
    )
    assert bodies[1].startswith(
        "<!-- mlci:report:mlci/projects/b -->\n### ✅ mlci/projects/b: gate open"
    )
    assert "nothing to compare" not in bodies[1]
    # the annotation names the rule's file from the repository's top, as GitHub does
    assert "::error file=projects/a/mlci.yaml,line=" in a.err
    # a second run of a edits its own comment, not b's
    mlci(repo.path / "projects" / "a", "ci")
    assert len(github_fake.comments()) == 2


def test_results_of_both_projects_are_found_in_their_own_result_files(
    two_projects, github_fake, tmp_path, monkeypatch, mlci
):
    repo, base, head = two_projects
    gh = Actions(repo, github_fake, tmp_path, monkeypatch, mlci)
    gh.pull_request(9, base, head)
    mlci(repo.path / "projects" / "b", "ci")
    result = Path(gh.outputs()["result-path"])
    doc = json.loads(result.read_text())
    validate(doc)
    assert {m["name"] for m in doc["metrics"]} == {
        "results/us/metrics.json:auc",
        "results/eu/metrics.json:auc",
    }
