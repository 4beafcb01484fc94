"""Corpus: fresh clones (what a CI runner has) of realistic DVC projects, checked by mlci.

Each test builds a project with :mod:`tests.corpus` (real git, real ``dvc``,
a stage that calls dvclive), publishes it to a bare origin and a local DVC
remote, and runs ``mlci check`` / ``mlci ci`` in a fresh clone: empty DVC
cache, no DVC data checked out.
"""

from __future__ import annotations

import pytest

from tests.corpus import (
    MLCI_YAML,
    Project,
    cached,
    dvclive_pipeline,
    formats_pipeline,
    metrics_of,
    raw_csv,
)
from tests.test_hook import repo  # noqa: F401 (the pre-push fixture)


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


# --- stale results: a change committed without `dvc repro` -----------------------------

STALE_HEADLINE = "dvc.lock is not up to date: metrics are from before this change"


def stale_params_branch(project: Project) -> str:
    """A feature branch that changes a param of train and commits without reproducing."""
    project.git("checkout", "-q", "-b", "feature")
    project.set_params(C=0.01)
    project.commit("smaller C, not reproduced")
    return project.publish("feature", dvc_push=False)


def test_stale_lock_under_no_repro_is_not_a_clean_pass(project, mlci):
    stale_params_branch(project)
    ci = project.fresh_clone(branch="feature")
    run = mlci(ci, "check", "--no-repro", "--format", "json")
    doc = run.json()
    # the metrics are the committed ones, equal to main's: only the lock check can tell
    assert {m["status"] for m in doc["metrics"]} == {"unchanged"}, doc["metrics"]
    assert run.code == 0 and doc["verdict"] == "warn", doc["reasons"]
    [reason] = [r for r in doc["reasons"] if r["section"] == "repro"]
    assert reason["severity"] == "warn"
    assert reason["message"].startswith(
        "dvc.lock is not up to date: train (changed deps: params.yaml train modified)"
    ), reason
    assert doc["repro"]["message"] == "not reproduced (--no-repro); dvc.lock is not up to date"
    report = mlci(ci, "check", "--no-repro", "--format", "markdown").out
    assert f"### ⚠️ mlci: gate open with warnings — {STALE_HEADLINE}" in report, report


def test_stale_lock_closes_the_gate_when_the_config_says_fail(project, mlci):
    project.git("checkout", "-q", "-b", "feature")
    project.write("mlci.yaml", MLCI_YAML + "repro:\n  require_committed_lock: fail\n")
    project.set_params(C=0.01)
    project.commit("smaller C, not reproduced; strict lock")
    project.publish("feature", dvc_push=False)
    ci = project.fresh_clone(branch="feature")
    run = mlci(ci, "check", "--no-repro")
    assert run.code == 1
    assert run.out.startswith(f"❌ mlci: gate closed — {STALE_HEADLINE}"), run.out


def test_new_data_committed_without_reproducing_is_stale_on_a_fresh_clone(project, mlci):
    # the data is not in the clone: DVC's status alone says "deleted"; the hash that
    # data/raw.csv.dvc records differs from the one prepare's lock entry records
    project.git("checkout", "-q", "-b", "feature")
    project.add_data("data/raw.csv", raw_csv(rows=240))
    project.commit("more data, not reproduced")
    project.publish("feature")
    ci = project.fresh_clone(branch="feature")
    doc = mlci(ci, "check", "--no-repro", "--format", "json").json()
    assert doc["verdict"] == "warn", doc["reasons"]
    [reason] = [r for r in doc["reasons"] if r["section"] == "repro"]
    assert reason["message"].startswith(
        "dvc.lock is not up to date: prepare (changed deps: data/raw.csv modified)"
    ), reason


def test_up_to_date_lock_under_no_repro_passes_with_the_base_read_from_the_remote(project, mlci):
    project.git("checkout", "-q", "-b", "feature")
    project.write("README.md", "docs only\n")
    project.commit("docs")
    project.publish("feature", dvc_push=False)
    ci = project.fresh_clone(branch="feature")
    doc = mlci(ci, "check", "--no-repro", "--format", "json").json()
    assert doc["verdict"] == "pass", doc["reasons"]
    assert (
        doc["repro"]["message"]
        == "not reproduced (--no-repro); dvc.lock is up to date (dvc status)"
    )
    # main's metrics are cached outputs that the empty cache lacks: fetched, not "no baseline"
    rows = {m["name"]: (m["base"], m["head"], m["status"]) for m in doc["metrics"]}
    assert rows == {
        "eval/metrics.json:acc": (0.92, 0.92, "unchanged"),
        "eval/metrics.json:auc": (0.9752, 0.9752, "unchanged"),
    }, rows


def test_head_commit_not_checked_out_is_checked_as_committed(project, mlci):
    head = stale_params_branch(project)
    ci = project.fresh_clone(branch="main")  # the work tree is main, up to date
    ci.git("fetch", "-q", "origin", "feature")
    doc = mlci(ci, "check", "--head", head, "--format", "json").json()
    assert doc["verdict"] == "warn", doc["reasons"]
    [reason] = [r for r in doc["reasons"] if r["section"] == "repro"]
    assert "(changed deps: params.yaml train" in reason["message"], reason
    assert any(
        n.startswith(
            f"dvc.lock was checked at {head[:7]} as committed (not the commit checked out)"
        )
        for n in doc["notes"]
    ), doc["notes"]


# --- the workflow `mlci init` writes installs what the stages import ---------------------


def workflow_steps(repo) -> list[dict]:  # noqa: F811 (a GitRepo, not the fixture)
    import yaml

    from tests.test_init import validate_workflow

    path = repo.path / ".github/workflows/mlci.yml"
    validate_workflow(path)
    return yaml.safe_load(path.read_text())["jobs"]["mlci"]["steps"]


def test_init_workflow_installs_requirements_from_src_and_pyproject(project, mlci):
    project.write("src/requirements.txt", "scikit-learn\ndvclive\n")
    project.write("pyproject.toml", '[project]\nname = "churn"\nversion = "0.1"\n')
    project.commit("requirements live in src/")
    project.publish(dvc_push=False)
    ci = project.fresh_clone(branch="main")
    (ci.path / "mlci.yaml").unlink()
    run = mlci(ci, "init")
    assert run.code == 0, run.err
    assert (
        "  installs the pipeline's requirements from src/requirements.txt, pyproject.toml"
        in run.out
    ), run.out
    [install] = [
        s for s in workflow_steps(ci) if s.get("name", "").startswith("Install the project")
    ]
    lines = install["run"].splitlines()
    assert lines == [
        "python -m pip install --upgrade pip",
        "python -m pip install -r src/requirements.txt",
        "python -m pip install .",
    ], lines


def test_init_workflow_sets_up_a_conda_environment(project, mlci):
    project.write(
        "environment.yml", "name: churn\ndependencies:\n  - python=3.11\n  - scikit-learn\n"
    )
    project.commit("conda")
    (project.path / "mlci.yaml").unlink()
    run = mlci(project, "init")
    assert run.code == 0, run.err
    steps = workflow_steps(project)
    [conda] = [s for s in steps if s.get("uses", "").startswith("conda-incubator/setup-miniconda@")]
    assert conda["with"]["environment-file"] == "environment.yml"
    path_step = steps[steps.index(conda) + 1]
    assert path_step["shell"] == "bash -el {0}" and "GITHUB_PATH" in path_step["run"]
    [run_mlci] = [s for s in steps if s.get("id") == "mlci"]
    assert steps.index(conda) < steps.index(run_mlci) and run_mlci["uses"] == "mlci/mlci@v0"


# --- params in several files, metrics in YAML / TOML / CSV ------------------------------


def published_formats(p: Project) -> None:
    formats_pipeline(p)
    p.publish()


def test_params_in_two_files_and_metrics_in_three_formats_on_a_fresh_clone(
    tmp_path, tmp_path_factory, mlci
):
    p = cached("formats", published_formats, tmp_path_factory, tmp_path / "corpus")
    p.git("checkout", "-q", "-b", "feature")
    p.set_params("config/model.yaml", "model", depth=2)  # worse: acc 0.85 -> 0.80
    p.repro()
    p.commit("shallower model")
    p.publish("feature")
    ci = p.fresh_clone(branch="feature")
    run = mlci(ci, "check", "--format", "json")
    doc = run.json()
    assert run.code == 1 and doc["verdict"] == "fail", doc["reasons"]
    stages = {s["name"]: s["status"] for s in doc["repro"]["stages"]}
    assert stages == {"evaluate": "restored"}, stages
    rows = {m["name"]: (m["base"], m["head"], m["outcome"]) for m in doc["metrics"]}
    assert rows["eval/summary.yaml:acc"] == (0.85, 0.8, "fail"), rows
    assert rows["eval/scores.toml:f1.macro"] == (0.82, 0.77, "fail"), rows
    assert rows["eval/per_class.csv:cat.precision"] == (0.86, 0.81, "pass"), rows
    assert rows["eval/per_class.csv:dog.precision"] == (0.83, 0.78, "pass"), rows
    params = {x["name"]: (x["base"], x["head"], x["status"]) for x in doc["params"]}
    assert params["config/model.yaml:model.depth"] == (3, 2, "changed"), params
    assert params["params.yaml:train.C"][2] == "unchanged", params
    report = mlci(ci, "check", "--no-repro", "--format", "markdown").out
    assert "### ❌ mlci: gate closed — 2 metrics failed their rules" in report, report
    assert "| ❌ | `eval/summary.yaml:acc` | 0.85 | 0.8 |" in report, report


# --- mlci ci with the fake GitHub, from a fresh clone -------------------------------------


def test_ci_on_a_fresh_clone_comments_the_regression_with_the_base_from_the_remote(
    project, github_fake, tmp_path, monkeypatch, mlci
):
    from tests.test_ci import Actions, comments

    project.git("checkout", "-q", "-b", "feature")
    project.set_params(C=0.001)
    project.repro()
    head = project.commit("tiny C")
    project.publish("feature")
    base = project.git("rev-parse", "main")
    ci = project.fresh_clone(branch="feature")
    gh = Actions(ci, github_fake, tmp_path, monkeypatch, mlci)
    gh.pull_request(12, base, head)
    run = gh.run("ci")
    assert run.code == 1, run.err
    [comment] = comments(gh.fake)
    body = comment["body"]
    assert "### ❌ mlci: gate closed" in body, body
    assert "| ❌ | `eval/metrics.json:acc` | 0.92 |" in body, body
    assert "no baseline" not in body and "nothing to compare" not in body
    assert "`data/raw.csv.dvc` | restored from the DVC cache" in body, body
    [status] = gh.fake.statuses(head)
    assert status["state"] == "failure"


def test_data_source_missing_from_the_remote_fails_closed_and_says_why(project, mlci):
    project.git("checkout", "-q", "-b", "feature")
    project.add_data("data/raw.csv", raw_csv(rows=240))
    project.repro()
    project.commit("more data; dvc push forgotten")
    project.publish("feature", dvc_push=False)
    ci = project.fresh_clone(branch="feature")
    run = mlci(ci, "check", "--format", "json")
    doc = run.json()
    assert run.code == 1 and doc["verdict"] == "fail", doc["reasons"]
    stages = {s["name"]: s["status"] for s in doc["repro"]["stages"]}
    assert stages == {"data/raw.csv.dvc": "failed", "prepare": "skipped", "train": "skipped"}, (
        stages
    )
    assert (
        "data of data/raw.csv.dvc is neither in the DVC cache nor on DVC remote 'storage'"
        in " ".join(doc["notes"])
    ), doc["notes"]
    [reason] = [r for r in doc["reasons"] if r["section"] == "repro"]
    assert reason["severity"] == "fail" and "data/raw.csv" in reason["message"]


# --- the pre-push hook checks the pushed commit, not the work tree ------------------------


def test_hook_checks_a_pushed_branch_that_is_not_checked_out_as_committed(repo, mlci):  # noqa: F811 (the fixture)
    mlci(repo.path, "hook", "install")
    repo.branch("stale", acc=0.95, metrics_too=False)  # params changed, dvc.lock not reproduced
    repo.checkout("main")  # the work tree is main: up to date, and not what is pushed
    proc = repo.push("origin", "stale")
    err = " ".join(proc.stderr.split())
    assert proc.returncode == 0, proc.stderr
    assert (
        "it is not the commit checked out, so it is checked as committed, not against the work "
        "tree" in err
    ), err
    assert (
        "gate open with warnings — dvc.lock is not up to date: metrics are from before this "
        "change" in err
    ), err
    assert "evaluate (changed deps: params.yaml acc modified)" in err, err
