"""Corpus: a tracked check logs the whole run on every repository shape.

The run a check logs to MLflow must hold what the check found, whatever the layout: a fresh
CI clone of the dvclive project (metrics and plots inside a cached output folder, restored
from the DVC remote), foreach stages (one metrics file per item), and a DVC project in a
subfolder of the repository with a relative SQLite store in its config. Each is logged once
to a real `mlflow server` (REST, no mlflow import in mlci) and once to a SQLite store, and
read back with mlflow's own client.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import test_deploy, test_mlflow_rest, test_mlflow_server
from tests.conftest import GitRepo
from tests.corpus import (
    LAYOUTS,
    MLCI_YAML,
    SUB_PIPELINE,
    SUB_TRAIN,
    Project,
    cached,
    noisy_pipeline,
)
from tests.test_corpus_fresh import published_dvclive

empty_db = test_deploy.empty_db
mlflow_server = test_mlflow_server.mlflow_server


def _logged_matches(uri: str, doc: dict, head: str, where: Path) -> dict:
    """The run ``doc`` names, read back: finished, tagged with ``head``, holding every numeric
    head metric and every param of the result, and the result itself as an artifact."""
    run = test_mlflow_rest._logged(uri, doc["mlflow"]["run_id"], where)
    assert run["status"] == "FINISHED" and run["end_time"], run
    assert run["tags"]["mlci.git.sha"] == head and run["tags"]["mlci.verdict"] == doc["verdict"]
    numeric = {m["name"]: m["head"] for m in doc["metrics"] if isinstance(m["head"], (int, float))}
    assert numeric and run["metrics"] == pytest.approx(numeric)
    assert set(run["params"]) == {p["name"] for p in doc["params"] if p["head"] is not None}
    logged = json.loads(run["texts"]["mlci/result.json"])
    assert logged["metrics"] == doc["metrics"] and logged["verdict"] == doc["verdict"]
    return run


@pytest.fixture
def clone(tmp_path, tmp_path_factory) -> tuple[Project, GitRepo]:
    """The dvclive project with a feature branch (C changed, reproduced, pushed to git and the
    DVC remote) and a fresh clone of that branch: empty DVC cache, no data in the tree."""
    p = cached("dvclive", published_dvclive, tmp_path_factory, tmp_path / "corpus")
    p.git("checkout", "-q", "-b", "feature")
    p.set_params(C=0.3)
    p.write("mlci.yaml", MLCI_YAML + "mlflow:\n  experiment: corpus-tracking\n")
    p.repro()
    p.commit("smaller C")
    p.publish("feature")
    return p, p.fresh_clone(branch="feature")


def test_a_fresh_clone_of_the_dvclive_layout_logs_its_run_to_a_server(
    clone, mlflow_server: str, mlci, monkeypatch, tmp_path: Path
):
    _, ci = clone
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    run = mlci(ci, "check", "--format", "json")  # restores the data, then compares
    doc = run.json()
    assert run.code in (0, 1) and "warning" not in run.err, run.err
    assert {m["name"] for m in doc["metrics"]} >= {"eval/metrics.json:acc"}
    logged = _logged_matches(mlflow_server, doc, ci.git("rev-parse", "HEAD"), tmp_path)
    assert logged["params"]["params.yaml:train.C"] == "0.3"


def test_a_fresh_clone_logs_every_check_to_the_default_store(clone, mlci, tmp_path: Path):
    """No tracking URI: ``.git/mlci/mlflow.db`` of the clone, artifacts next to it; a second
    check on the same store logs a second, equally complete run."""
    _, ci = clone
    head = ci.git("rev-parse", "HEAD")
    first = mlci(ci, "check", "--format", "json")
    second = mlci(ci, "check", "--no-repro", "--format", "json")
    db = ci.path / ".git" / "mlci" / "mlflow.db"
    assert db.is_file(), first.err
    uri = f"sqlite:///{db}"
    runs = []
    for run in (first, second):
        assert run.code in (0, 1) and "warning" not in run.err, run.err
        runs.append(_logged_matches(uri, run.json(), head, tmp_path))
    assert first.json()["mlflow"]["run_id"] != second.json()["mlflow"]["run_id"]
    assert runs[0]["metrics"] == runs[1]["metrics"] and runs[0]["params"] == runs[1]["params"]
    assert (ci.path / ".git" / "mlci" / "mlartifacts").is_dir()


def test_foreach_stages_log_each_items_metrics(tmp_path, mlflow_server: str, mlci, monkeypatch):
    p = Project.create(tmp_path, remote=False)
    noisy_pipeline(p, "foreach")
    p.repro()
    p.commit("baseline")
    p.git("checkout", "-q", "-b", "feature")
    p.set_params(value=0.9)
    p.repro()
    p.commit("a better value")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    run = mlci(p, "check", "--no-repro", "--base", "main", "--format", "json")
    doc = run.json()
    assert run.code in (0, 1) and "warning" not in run.err, run.err
    logged = _logged_matches(mlflow_server, doc, p.git("rev-parse", "HEAD"), tmp_path)
    assert {"eval/a.json:acc", "eval/b.json:acc"} <= set(logged["metrics"])


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_every_layout_logs_the_same_run_through_mlflow_and_then_sqlite3(
    tmp_path, mlci, monkeypatch, layout
):
    """On each metrics layout, at a docs-only commit: the first check makes the SQLite store
    through mlflow's client, the second writes its run with sqlite3; both hold the metric."""
    p = Project.create(tmp_path, remote=False)
    metric = noisy_pipeline(p, layout)
    p.repro()
    p.commit("baseline")
    p.git("checkout", "-q", "-b", "feature")
    p.set_params(value=0.9)
    p.repro()
    p.commit("a better value")
    p.write("docs/README.md", "prose\n")
    head = p.commit("docs only")
    db = tmp_path / "store.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{db}")
    logged = []
    for i in range(2):
        run = mlci(p, "check", "--no-repro", "--base", "main", "--format", "json")
        assert run.code in (0, 1) and "warning" not in run.err, run.err
        downloads = tmp_path / f"downloads-{i}"
        downloads.mkdir()
        logged.append(_logged_matches(f"sqlite:///{db}", run.json(), head, downloads))
    assert logged[0]["metrics"][metric] == pytest.approx(0.9)
    for part in ("metrics", "params", "tags", "name"):
        assert logged[1][part] == logged[0][part], part


def test_a_subfolder_project_logs_to_the_store_its_config_names(tmp_path, mlci):
    """``tracking_uri: sqlite:///runs.db`` in ``ml/mlci.yaml`` is ``ml/runs.db``, whether the
    check runs in ``ml`` or in a folder below it."""
    p = Project.create(tmp_path, remote=False, subdir="ml")
    p.write("ml/train.py", SUB_TRAIN)
    p.write("ml/dvc.yaml", SUB_PIPELINE)
    p.write("ml/params.yaml", "quality: 0.7\n")
    p.write(
        "ml/mlci.yaml",
        "mlflow:\n  experiment: sub\n  tracking_uri: sqlite:///runs.db\n",
    )
    p.write("ml/notes/README.md", "notes\n")
    p.repro(cwd="ml")
    p.commit("baseline")
    p.git("checkout", "-q", "-b", "feature")
    p.write("ml/params.yaml", "quality: 0.75\n")
    p.repro(cwd="ml")
    head = p.commit("better")
    db = p.path / "ml" / "runs.db"
    for where in (p.path / "ml", p.path / "ml" / "notes"):
        run = mlci(where, "check", "--no-repro", "--base", "main", "--format", "json")
        doc = run.json()
        assert run.code in (0, 1) and "warning" not in run.err, run.err
        assert db.is_file() and not (p.path / "runs.db").exists()
        downloads = tmp_path / f"downloads-{where.name}"
        downloads.mkdir()
        logged = _logged_matches(f"sqlite:///{db}", doc, head, downloads)
        assert logged["metrics"] == {"metrics.json:acc": 0.75}
