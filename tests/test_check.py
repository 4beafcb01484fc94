"""`mlci check` end to end on real git + DVC repositories."""

from __future__ import annotations

import json
import subprocess

import pytest

from mlci.model import result as result_mod
from tests.conftest import ACC_RULE, metrics_repo, rules_config

RULES = rules_config(
    ACC_RULE,
    """\
    - name: "eval/metrics.json:loss"
      direction: lower
      max_regression_pct: 10
      severity: warn
""",
)


def branch_with(repo, metrics=None, params=None):
    repo.git("checkout", "-q", "-b", "feature")
    if metrics is not None:
        repo.write("eval/metrics.json", metrics)
    if params is not None:
        repo.write("params.yaml", json.dumps({"train": params}))
    return repo.commit("feature")


def test_regression_closes_the_gate(dvc_repo, mlci, tmp_path):
    metrics_repo(dvc_repo, {"acc": 0.90, "loss": 0.30}, config=RULES)
    branch_with(dvc_repo, {"acc": 0.85, "loss": 0.30}, {"lr": 0.2, "epochs": 10})
    out = tmp_path / "result.json"
    run = mlci(
        dvc_repo, "check", "--base", "main", "--no-repro", "--format", "json", "--output", str(out)
    )
    assert run.code == 1
    doc = run.json()
    result_mod.validate(doc)
    assert json.loads(out.read_text()) == doc
    assert doc["verdict"] == "fail"
    acc = next(m for m in doc["metrics"] if m["name"] == "eval/metrics.json:acc")
    assert (acc["base"], acc["head"], acc["status"], acc["outcome"]) == (
        0.90,
        0.85,
        "regressed",
        "fail",
    )
    assert (
        doc["reasons"][0]["section"] == "metrics"
        and "eval/metrics.json:acc" in doc["reasons"][0]["message"]
    )
    lr = next(p for p in doc["params"] if p["name"] == "params.yaml:train.lr")
    assert (lr["base"], lr["head"], lr["status"]) == (0.1, 0.2, "changed")
    assert doc["context"]["base"]["ref"] == "main"
    assert doc["context"]["head"]["ref"] == "feature"


def test_warning_keeps_the_gate_open(dvc_repo, mlci):
    metrics_repo(dvc_repo, {"acc": 0.90, "loss": 0.30}, config=RULES)
    branch_with(dvc_repo, {"acc": 0.91, "loss": 0.40})
    run = mlci(dvc_repo, "check", "--no-repro", "--format", "json")
    assert run.code == 0
    assert run.json()["verdict"] == "warn"


def test_improvement_passes_and_text_report_shows_it(dvc_repo, mlci):
    metrics_repo(dvc_repo, {"acc": 0.90, "loss": 0.30}, config=RULES)
    branch_with(dvc_repo, {"acc": 0.95, "loss": 0.20})
    run = mlci(dvc_repo, "check", "--no-repro")
    assert run.code == 0
    assert run.out.startswith("✅ mlci: gate open — 2 improved")
    assert "eval/metrics.json:acc" in run.out and "+0.05" in run.out


def test_markdown_report_on_stdout(dvc_repo, mlci):
    metrics_repo(dvc_repo, {"acc": 0.90}, config=RULES)
    branch_with(dvc_repo, {"acc": 0.80})
    run = mlci(dvc_repo, "check", "--no-repro", "--format", "markdown")
    assert run.code == 1
    lines = run.out.splitlines()
    assert lines[0] == "<!-- mlci:report:mlci -->"
    assert lines[1].startswith("### ❌ mlci: gate closed — 1 metric failed its rule")
    assert "| ❌ | `eval/metrics.json:acc` | 0.9 | 0.8 | ▼ −0.1 (−11.1 %) |" in run.out


def test_workspace_is_the_default_head(dvc_repo, mlci):
    metrics_repo(dvc_repo, {"acc": 0.90}, config=RULES)
    dvc_repo.write("eval/metrics.json", {"acc": 0.70})  # not committed
    run = mlci(dvc_repo, "check", "--no-repro", "--format", "json")
    assert run.code == 1
    assert run.json()["metrics"][0]["head"] == 0.70


def test_head_revision_instead_of_the_work_tree(dvc_repo, mlci):
    metrics_repo(dvc_repo, {"acc": 0.90}, config=RULES)
    bad = branch_with(dvc_repo, {"acc": 0.50})
    dvc_repo.checkout("main")
    dvc_repo.write("eval/metrics.json", {"acc": 0.99})  # the work tree says otherwise
    run = mlci(dvc_repo, "check", "--base", "main", "--head", bad[:10], "--format", "json")
    assert run.code == 1
    doc = run.json()
    assert doc["metrics"][0]["head"] == 0.50 and doc["context"]["head"]["sha"] == bad


def test_a_commit_compared_with_itself_is_not_called_the_work_tree(dvc_repo, mlci):
    metrics_repo(dvc_repo, {"acc": 0.90}, config=RULES)
    dvc_repo.write("eval/metrics.json", {"acc": 0.70})  # the work tree differs: not compared
    run = mlci(
        dvc_repo, "check", "--no-repro", "--base", "main", "--head", "main", "--format", "markdown"
    )
    assert run.code == 0, run.out
    header = next(line for line in run.out.splitlines() if "| metric |" in line)
    assert "| main | head |" in header and "work tree" not in run.out


def test_nested_keys_are_flattened(dvc_repo, mlci):
    metrics_repo(dvc_repo, {"avg_prec": {"test": 0.97, "train": 0.99}, "acc": 0.9})
    branch_with(dvc_repo, {"avg_prec": {"test": 0.94, "train": 0.99}, "acc": 0.9})
    dvc_repo.write(
        "mlci.yaml",
        "metrics:\n  rules:\n    - name: 'eval/metrics.json:avg_prec.test'\n"
        "      direction: higher\n      max_regression: 0.01\n",
    )
    run = mlci(dvc_repo, "check", "--format", "json", "--no-repro")
    names = {m["name"]: m for m in run.json()["metrics"]}
    assert set(names) == {
        "eval/metrics.json:avg_prec.test",
        "eval/metrics.json:avg_prec.train",
        "eval/metrics.json:acc",
    }
    assert names["eval/metrics.json:avg_prec.test"]["outcome"] == "fail"
    assert run.code == 1


def test_float_noise_end_to_end(dvc_repo, mlci):
    metrics_repo(
        dvc_repo, {"acc": 0.3}, config="metrics:\n  rules: [{name: acc, direction: higher}]\n"
    )
    branch_with(dvc_repo, {"acc": 0.1 + 0.2})
    run = mlci(dvc_repo, "check", "--format", "json", "--no-repro")
    assert run.code == 0
    assert run.json()["metrics"][0]["status"] == "unchanged"


def test_base_without_metrics(dvc_repo, mlci):
    dvc_repo.write("README.md", "start\n")
    dvc_repo.commit("initial")
    dvc_repo.git("checkout", "-q", "-b", "feature")
    metrics_repo(
        dvc_repo, {"acc": 0.9}, config="metrics:\n  rules: [{name: acc, direction: higher}]\n"
    )
    run = mlci(dvc_repo, "check", "--base", "main", "--format", "json", "--no-repro")
    doc = run.json()
    assert run.code == 0 and doc["verdict"] == "warn"  # missing_baseline: warn
    assert doc["metrics"][0]["status"] == "no_baseline" and doc["metrics"][0]["base"] is None
    assert any("no metrics" in n for n in doc["notes"])
    result_mod.validate(doc)


@pytest.mark.slow  # runs DVC in several revisions
def test_base_before_dvc_init(git_repo, mlci):
    git_repo.write("README.md", "no dvc yet\n")
    git_repo.commit("initial")
    git_repo.git("checkout", "-q", "-b", "feature")
    from tests.conftest import VENV_BIN, sh

    sh([str(VENV_BIN / "dvc"), "init", "-q"], git_repo.path)
    metrics_repo(
        git_repo,
        {"acc": 0.9},
        config="metrics:\n  missing_baseline: fail\n  rules: [{name: acc, direction: higher}]\n",
    )
    run = mlci(git_repo, "check", "--base", "main", "--format", "json", "--no-repro")
    assert run.code == 1
    assert run.json()["metrics"][0]["status"] == "no_baseline"


def test_metric_files_outside_dvc(git_repo, mlci):
    """No DVC at all: metrics.files (JSON, YAML and CSV) are read from git and the work tree."""
    git_repo.write(
        "mlci.yaml",
        "metrics:\n  files: [reports/scores.json, reports/*.csv, reports/extra.yaml]\n"
        "  rules: [{name: 'reports/summary.csv:f1', direction: higher}]\n",
    )
    git_repo.write("reports/scores.json", {"auc": 0.8})
    git_repo.write("reports/summary.csv", "precision,f1\n0.7,0.6\n")
    git_repo.commit("baseline")
    git_repo.git("checkout", "-q", "-b", "feature")
    git_repo.write("reports/scores.json", {"auc": 0.85})
    git_repo.write("reports/summary.csv", "precision,f1\n0.7,0.5\n")
    git_repo.write("reports/extra.yaml", "a:\n  b: 3\n")
    run = mlci(git_repo, "check", "--format", "json")
    doc = run.json()
    got = {m["name"]: (m["base"], m["head"], m["status"]) for m in doc["metrics"]}
    assert got == {
        "reports/scores.json:auc": (0.8, 0.85, "changed"),
        "reports/summary.csv:precision": (0.7, 0.7, "unchanged"),
        "reports/summary.csv:f1": (0.6, 0.5, "regressed"),
        "reports/extra.yaml:a.b": (None, 3, "no_baseline"),
    }
    assert run.code == 1


def test_unparseable_metrics_warn_when_no_rule_gates_them(dvc_repo, mlci):
    metrics_repo(dvc_repo, {"acc": 0.9})
    dvc_repo.write("eval/metrics.json", "{not json")
    run = mlci(dvc_repo, "check", "--format", "json", "--no-repro")
    doc = run.json()
    assert run.code == 0 and doc["verdict"] == "warn"
    assert any("cannot read eval/metrics.json" in r["message"] for r in doc["reasons"])
    # unreadable is not "removed": the base's metric is marked as unreadable at the head
    assert doc["metrics"][0]["status"] == "unreadable"


def test_missing_metrics_in_work_tree_says_run_dvc_repro(dvc_repo, mlci):
    metrics_repo(dvc_repo, {"acc": 0.9})
    (dvc_repo.path / "eval" / "metrics.json").unlink()
    run = mlci(dvc_repo, "check", "--format", "json", "--no-repro")
    assert any("run `dvc repro`" in r["message"] for r in run.json()["reasons"])


def snapshot(repo) -> dict[str, str]:
    """Everything a user could notice about their repository's state."""
    files = {}
    for p in sorted(repo.path.rglob("*")):
        rel = p.relative_to(repo.path).as_posix()
        if p.is_file() and not rel.startswith((".git/", ".dvc/tmp/")):
            files[rel] = p.read_bytes()
    return {
        "status": repo.git(
            "status", "--porcelain=v2", "--branch", "--untracked-files=all", "--ignored"
        ),
        "index": repo.git("ls-files", "--stage", "--debug"),
        "stash": repo.git("stash", "list", "--format=%H %gs"),
        "head": repo.git("rev-parse", "HEAD"),
        "branch": repo.git("symbolic-ref", "HEAD"),
        "refs": repo.git("for-each-ref", "--format=%(refname) %(objectname)"),
        "files": repr(files),
    }


def test_the_users_tree_is_left_exactly_as_it_was(dvc_repo, mlci):
    metrics_repo(dvc_repo, {"acc": 0.90}, config=RULES)
    branch_with(dvc_repo, {"acc": 0.80})
    dvc_repo.write("eval/metrics.json", {"acc": 0.85})  # unstaged change
    dvc_repo.write("notes.txt", "staged\n")
    dvc_repo.git("add", "notes.txt")  # staged change
    dvc_repo.write("scratch/untracked.py", "x = 1\n")  # untracked file
    dvc_repo.write("params.yaml", json.dumps({"train": {"lr": 9, "epochs": 1}}))
    dvc_repo.git("stash", "push", "-q", "--", "params.yaml")  # a stash entry
    before = snapshot(dvc_repo)
    # SPEC: a `check --no-repro` leaves the tree as it was (reproduction writes outputs, as
    # `dvc repro` does: see tests/test_repro.py)
    for args in (
        ["check", "--base", "main", "--no-repro"],
        ["check", "--base", "main", "--head", "HEAD~1"],
        ["compare", "--base", "main"],
    ):
        mlci(dvc_repo, *args)
        assert snapshot(dvc_repo) == before


@pytest.mark.parametrize(
    "setup,args,message",
    [
        ("none", ["check"], "is not inside a git repository"),
        ("empty", ["check"], "no commits yet"),
        ("repo", ["check", "--base", "nope"], "unknown base revision 'nope'"),
        ("repo", ["check", "--head", "nope"], "unknown head revision 'nope'"),
    ],
)
def test_could_not_finish_is_exit_3(tmp_path, dvc_repo, mlci, setup, args, message):
    where = tmp_path / "plain"
    where.mkdir()
    if setup == "empty":
        where = dvc_repo.path
    elif setup == "repo":
        metrics_repo(dvc_repo, {"acc": 1})
        where = dvc_repo.path
    run = mlci(where, *args)
    assert run.code == 3
    assert message in run.err and "Traceback" not in run.err


def test_default_base_is_main_then_the_config(dvc_repo, mlci):
    metrics_repo(dvc_repo, {"acc": 0.9})
    dvc_repo.git("checkout", "-q", "-b", "develop")
    dvc_repo.write("eval/metrics.json", {"acc": 0.5})
    dvc_repo.commit("develop")
    dvc_repo.git("checkout", "-q", "-b", "feature")
    dvc_repo.write("eval/metrics.json", {"acc": 0.6})
    assert (
        mlci(dvc_repo, "check", "--no-repro", "--format", "json").json()["metrics"][0]["base"]
        == 0.9
    )
    dvc_repo.write("mlci.yaml", "base: develop\n")
    assert (
        mlci(dvc_repo, "check", "--no-repro", "--format", "json").json()["metrics"][0]["base"]
        == 0.5
    )
    assert (
        mlci(dvc_repo, "check", "--no-repro", "--base", "main", "--format", "json").json()[
            "metrics"
        ][0]["base"]
        == 0.9
    )


def test_default_base_prefers_the_upstream(dvc_repo, mlci, tmp_path):
    metrics_repo(dvc_repo, {"acc": 0.9})
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(dvc_repo.path), str(remote)], check=True)
    dvc_repo.git("remote", "add", "origin", str(remote))
    dvc_repo.git("fetch", "-q", "origin")
    dvc_repo.git("branch", "-q", "--set-upstream-to=origin/main", "main")
    dvc_repo.write("eval/metrics.json", {"acc": 0.7})
    dvc_repo.commit("local, unpushed commit on main")
    doc = mlci(dvc_repo, "check", "--no-repro", "--format", "json").json()
    assert doc["context"]["base"]["ref"] == "origin/main"
    assert doc["metrics"][0]["base"] == 0.9


def test_report_and_html_files(dvc_repo, mlci, tmp_path):
    metrics_repo(dvc_repo, {"acc": 0.90}, config=RULES)
    branch_with(dvc_repo, {"acc": 0.80})
    report, page = tmp_path / "comment.md", tmp_path / "report.html"
    run = mlci(
        dvc_repo,
        "check",
        "--no-repro",
        "--format",
        "markdown",
        "--report",
        str(report),
        "--html",
        str(page),
    )
    assert run.code == 1
    assert report.read_text() == run.out
    assert page.read_text().lstrip().lower().startswith("<!doctype html>")


def test_a_glob_finds_the_same_files_at_base_and_head(git_repo, mlci):
    git_repo.write("mlci.yaml", "metrics:\n  files: ['eval/**/*.json']\n")
    git_repo.write("eval/sub/scores.json", {"auc": 0.8})
    git_repo.commit("baseline")
    git_repo.write("eval/sub/scores.json", {"auc": 0.7})
    doc = mlci(git_repo, "check", "--format", "json").json()
    assert [(m["name"], m["base"], m["head"]) for m in doc["metrics"]] == [
        ("eval/sub/scores.json:auc", 0.8, 0.7)
    ]
