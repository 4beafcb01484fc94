"""Corpus: fresh clones (what a CI runner has) of realistic DVC projects, checked by mlci.

Each test builds a project with :mod:`tests.corpus` (real git, real ``dvc``,
a stage that calls dvclive), publishes it to a bare origin and a local DVC
remote, and runs ``mlci check`` / ``mlci ci`` in a fresh clone: empty DVC
cache, no DVC data checked out.
"""

from __future__ import annotations

import pytest

from tests.corpus import Project, cached, dvclive_pipeline, metrics_of


def published_dvclive(p: Project) -> None:
    dvclive_pipeline(p)
    p.publish()


@pytest.fixture
def project(tmp_path, tmp_path_factory) -> Project:
    """The dvclive project, published on main: origin and DVC remote hold everything."""
    return cached("dvclive", published_dvclive, tmp_path_factory, tmp_path / "corpus")


def test_fresh_clone_of_the_dvclive_project_passes_with_data_restored(project, mlci):
    project.git("checkout", "-q", "-b", "feature")
    project.write("README.md", "a change that does not touch the pipeline\n")
    project.commit("docs")
    project.publish("feature")
    ci = project.fresh_clone(branch="feature")
    assert not (ci.path / "data" / "raw.csv").exists()
    run = mlci(ci, "check", "--format", "json")
    doc = run.json()
    assert run.code == 0, (doc["reasons"], run.err)
    stages = {s["name"]: s["status"] for s in doc["repro"]["stages"]}
    assert stages == {"data/raw.csv.dvc": "restored", "prepare": "restored", "train": "restored"}
    assert metrics_of(ci) == metrics_of(project)
    assert "mlci: stage data/raw.csv.dvc: restored from the DVC cache" in run.err
    assert doc["repro"]["lock_changed"] is False and doc["verdict"] == "pass"
    rows = {m["name"]: (m["base"], m["head"], m["outcome"]) for m in doc["metrics"]}
    assert rows.keys() == {"eval/metrics.json:acc", "eval/metrics.json:auc"}, rows
    assert all(outcome == "pass" for *_, outcome in rows.values())
    report = mlci(ci, "check", "--format", "markdown", "--no-repro").out
    assert "### ✅ mlci: gate open — 2 metrics within their rules" in report
    assert "| ✅ | `eval/metrics.json:acc` | 0.92 | 0.92 |" in report, report
