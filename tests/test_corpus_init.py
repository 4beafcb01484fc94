"""What `mlci init` writes for repositories shaped like public DVC projects, run for real.

Each case builds the project with real git, a real `dvc repro` (stages that call dvclive
where the project would), runs `mlci init`, loads the written config with mlci's own
loader, and runs the first `mlci check` to show that the written rules gate.
"""

from __future__ import annotations

import json

import yaml

from mlci import configfile as config

FOREACH = """\
stages:
  evaluate:
    foreach: [small, large]
    do:
      cmd: python evaluate.py ${item}
      deps: [evaluate.py, scores.json]
      metrics:
        - eval/${item}/metrics.json:
            cache: false
  summary:
    cmd: python summary.py
    deps: [summary.py, scores.json]
    metrics:
      - eval/summary.json:
          cache: false
"""

EVALUATE = """\
import json, os, sys
item = sys.argv[1]
scores = json.load(open("scores.json"))[item]
os.makedirs(f"eval/{item}", exist_ok=True)
json.dump(scores, open(f"eval/{item}/metrics.json", "w"))
"""

SUMMARY = """\
import json
scores = json.load(open("scores.json"))
json.dump({"models": len(scores), "best_accuracy": max(s["accuracy"] for s in scores.values())},
          open("eval/summary.json", "w"))
"""


def rules_of(repo) -> dict[str, tuple[str | None, str, object, object]]:
    cfg = config.load(None, repo.path)  # mlci's own loader: the file is valid config
    return {
        r.name: (r.direction, r.severity, r.max_regression, r.max_regression_pct)
        for r in cfg.metrics.rules
    }


def foreach_project(repo, scores):
    repo.write("dvc.yaml", FOREACH)
    repo.write("evaluate.py", EVALUATE)
    repo.write("summary.py", SUMMARY)
    repo.write("scores.json", scores)
    repo.dvc("repro", "-q")
    return repo.commit("pipeline")


def test_foreach_stage_metrics_get_one_glob_so_a_new_item_is_gated(dvc_repo, mlci):
    foreach_project(
        dvc_repo,
        {"small": {"accuracy": 0.80, "loss": 0.40}, "large": {"accuracy": 0.90, "loss": 0.30}},
    )
    run = mlci(dvc_repo, "init", "--no-workflow")
    assert run.code == 0, run.err
    assert rules_of(dvc_repo) == {
        "eval/*/metrics.json:accuracy": ("higher", "fail", 0.01, None),
        "eval/*/metrics.json:loss": ("lower", "fail", None, 10),
        "eval/summary.json:models": ("higher", "fail", None, 10),
        "eval/summary.json:best_accuracy": ("higher", "fail", 0.01, None),
    }
    text = (dvc_repo.path / "mlci.yaml").read_text()
    assert "# eval/*/metrics.json (stage evaluate: 2 items)\n" in text
    assert '- name: "eval/*/metrics.json:accuracy"  # now 0.8 to 0.9 in 2 files\n' in text
    dvc_repo.commit("mlci.yaml")

    # a change adds an item and breaks an existing one: both are judged by the glob's rules
    dvc_repo.git("checkout", "-q", "-b", "change")
    dvc_repo.write("dvc.yaml", FOREACH.replace("[small, large]", "[small, large, medium]"))
    dvc_repo.write(
        "scores.json",
        {
            "small": {"accuracy": 0.80, "loss": 0.40},
            "large": {"accuracy": 0.26, "loss": 0.30},  # 71 % worse
            "medium": {"accuracy": 0.85, "loss": 0.35},
        },
    )
    dvc_repo.dvc("repro", "-q")
    dvc_repo.commit("medium model; large broken")
    check = mlci(dvc_repo, "check", "--no-repro", "--base", "main", "--format", "json")
    assert check.code == 1, check.out + check.err
    rows = {m["name"]: m for m in check.json()["metrics"]}
    assert rows["eval/large/metrics.json:accuracy"]["outcome"] == "fail"
    medium = rows["eval/medium/metrics.json:accuracy"]
    assert medium["rule"]["name"] == "eval/*/metrics.json:accuracy"
    assert medium["status"] in ("new", "no_baseline")


def test_matrix_stage_metrics_get_one_glob(dvc_repo, mlci):
    dvc_repo.write(
        "dvc.yaml",
        """\
stages:
  train:
    matrix:
      model: [rf, gb]
      seed: [1, 2]
    cmd: python train.py ${item.model} ${item.seed}
    deps: [train.py]
    metrics:
      - results/${item.model}/seed${item.seed}/metrics.json:
          cache: false
""",
    )
    dvc_repo.write(
        "train.py",
        """\
import json, os, sys
model, seed = sys.argv[1], int(sys.argv[2])
os.makedirs(f"results/{model}/seed{seed}", exist_ok=True)
json.dump({"f1": 0.7 + seed / 100, "mae": 3.0 - seed / 10},
          open(f"results/{model}/seed{seed}/metrics.json", "w"))
""",
    )
    dvc_repo.dvc("repro", "-q")
    dvc_repo.commit("matrix")
    assert mlci(dvc_repo, "init", "--no-workflow").code == 0
    assert rules_of(dvc_repo) == {
        "results/*/seed*/metrics.json:f1": ("higher", "fail", 0.01, None),
        "results/*/seed*/metrics.json:mae": ("lower", "fail", None, 10),
    }
    text = (dvc_repo.path / "mlci.yaml").read_text()
    assert "# results/*/seed*/metrics.json (stage train: 4 items)\n" in text


def test_a_key_in_several_files_gets_one_rule(dvc_repo, mlci):
    dvc_repo.write(
        "dvc.yaml",
        """\
stages:
  evaluate:
    cmd: python -c "print('metrics are committed')"
    metrics:
      - reports/train.json:
          cache: false
      - reports/test.json:
          cache: false
""",
    )
    dvc_repo.write("reports/train.json", {"accuracy": 0.95, "loss": 0.1, "epoch": 20})
    dvc_repo.write("reports/test.json", {"accuracy": 0.90, "loss": 0.2, "auc": 0.93})
    dvc_repo.commit("project")
    assert mlci(dvc_repo, "init", "--no-workflow").code == 0
    assert rules_of(dvc_repo) == {
        "reports/test.json:auc": ("higher", "fail", 0.01, None),
        "accuracy": ("higher", "fail", 0.01, None),
        "loss": ("lower", "fail", None, 10),
    }  # no rule for the counter `epoch`
    text = (dvc_repo.path / "mlci.yaml").read_text()
    assert "# keys found in several metric files: one rule each, for every file\n" in text
    assert '- name: "accuracy"  # now 0.9 to 0.95 in 2 files\n' in text


DVCLIVE_YAML = """\
stages:
  prepare:
    cmd: python prepare.py
    deps: [prepare.py]
    outs:
      - data/prepared
  train:
    cmd: python train.py
    deps: [train.py, data/prepared]
    outs:
      - models/scaler.pkl
      - models/clf.joblib
      - eval
metrics:
  - eval/metrics.json
plots:
  - eval/plots/sklearn/roc.json:
      x: fpr
      y: tpr
  - eval/plots/metrics:
      x: step
artifacts:
  churn-classifier:
    path: models/clf.joblib
    type: model
"""

PREPARE = """\
import os
os.makedirs("data/prepared", exist_ok=True)
with open("data/prepared/train.tsv", "w") as f:          # no header row, as many public projects
    for i in range(40):
        f.write(f"{i}\\t{i % 2}\\treview number {i}\\n")
with open("data/prepared/customers.csv", "w") as f:
    f.write("customer_id,tenure,churned\\n")
    for i in range(40):
        f.write(f"c{i},{i * 3},{i % 2}\\n")
"""

TRAIN = """\
import os
from dvclive import Live
os.makedirs("models", exist_ok=True)
open("models/scaler.pkl", "wb").write(b"scaler")
open("models/clf.joblib", "wb").write(b"model")
labels = [0, 1, 0, 1, 1, 0, 1, 0]
scores = [0.1, 0.9, 0.3, 0.7, 0.6, 0.4, 0.8, 0.2]
with Live("eval", dvcyaml=False, save_dvc_exp=False) as live:
    for step in range(2):
        live.log_metric("train/loss", 0.5 - step / 10)
        live.next_step()
    live.summary["test"] = {"roc_auc": 0.91, "accuracy": 0.86}
    live.log_sklearn_plot("roc", labels, scores)
"""


def test_dvclive_project_with_artifacts_and_a_headerless_tsv(dvc_repo, mlci):
    dvc_repo.write("dvc.yaml", DVCLIVE_YAML)
    dvc_repo.write("prepare.py", PREPARE)
    dvc_repo.write("train.py", TRAIN)
    dvc_repo.commit("code")  # dvclive reads the commit it runs on
    dvc_repo.dvc("repro", "-q")
    assert (dvc_repo.path / "eval/plots/sklearn/roc.json").is_file()  # dvclive ran for real
    dvc_repo.commit("pipeline")

    run = mlci(dvc_repo, "init", "--no-workflow")
    assert run.code == 0, run.err
    rules = rules_of(dvc_repo)
    assert rules["eval/metrics.json:test.roc_auc"] == ("higher", "fail", 0.01, None)
    assert "eval/metrics.json:train.loss" not in rules  # the training split: reported only
    assert not any(name.endswith(":step") for name in rules)  # dvclive's counter

    text = (dvc_repo.path / "mlci.yaml").read_text()
    # the data outputs are checked, actively; dvclive's metric and plot files never are
    checks = {d.path: d for d in config.load(None, dvc_repo.path).data}
    assert set(checks) == {"data/prepared/train.tsv", "data/prepared/customers.csv"}

    # the model is the artifact dvc.yaml declares, not the first *.pkl
    deploy_block = text.split("# deploy:\n", 1)[1].split("\n\n", 1)[0]
    deploy_text = "deploy:\n" + "\n".join(ln[2:] for ln in deploy_block.splitlines())
    deploy = config.parse(deploy_text).deploy
    assert (deploy.model_name, deploy.model_path) == ("churn-classifier", "models/clf.joblib")

    # the headerless TSV gets reader options that name its columns; the CSV keeps its header
    assert checks["data/prepared/train.tsv"].read == {
        "header": None,
        "names": ["col_1", "col_2", "col_3"],
    }
    assert checks["data/prepared/customers.csv"].read == {}
    assert '    #   - expect_column_values_to_not_be_null: {column: "customer_id"}\n' in text

    # and the written checks validate the real files (Great Expectations, for real)
    validated = mlci(dvc_repo, "validate", "--format", "json")
    assert validated.code == 0, validated.out + validated.err
    result = validated.json()
    files = {d["path"]: d for d in result["data"]}
    tsv = files["data/prepared/train.tsv"]
    assert tsv["statistics"]["rows"] == 40 and tsv["statistics"]["columns"] == 3  # row 1 is data
    assert tsv["status"] == "passed" and files["data/prepared/customers.csv"]["status"] == "passed"


def test_the_first_check_after_init_closes_the_gate_on_a_large_regression(dvc_repo, mlci):
    dvc_repo.write("dvc.yaml", "metrics:\n  - eval/metrics.json\n  - eval/timing.json\n")
    dvc_repo.write("eval/metrics.json", {"accuracy": 0.9, "rmse": 1.0})
    dvc_repo.write("eval/timing.json", {"train_time": 100.0})
    dvc_repo.commit("baseline")
    assert mlci(dvc_repo, "init", "--no-workflow").code == 0
    assert rules_of(dvc_repo)["eval/timing.json:train_time"] == ("lower", "warn", None, 10)
    dvc_repo.commit("mlci.yaml")

    def check_with(metrics, timing=None):
        dvc_repo.write("eval/metrics.json", metrics)
        dvc_repo.write("eval/timing.json", timing or {"train_time": 100.0})
        dvc_repo.commit("change")
        run = mlci(dvc_repo, "check", "--no-repro", "--base", "main", "--format", "json")
        return run.code, {m["name"]: m["outcome"] for m in run.json()["metrics"]}

    dvc_repo.git("checkout", "-q", "-b", "change")
    # within the tolerance, and a slower run: reported, the merge goes ahead
    assert check_with({"accuracy": 0.895, "rmse": 1.05}, {"train_time": 150.0}) == (
        0,
        {
            "eval/metrics.json:accuracy": "pass",
            "eval/metrics.json:rmse": "pass",
            "eval/timing.json:train_time": "warn",
        },
    )
    # a 71 % drop is not a warning: the gate closes
    code, outcomes = check_with({"accuracy": 0.26, "rmse": 1.0})
    assert code == 1 and outcomes["eval/metrics.json:accuracy"] == "fail"
    code, outcomes = check_with({"accuracy": 0.9, "rmse": 1.5})
    assert code == 1 and outcomes["eval/metrics.json:rmse"] == "fail"


def test_written_config_round_trips_through_the_loader_for_every_case(dvc_repo, mlci):
    """Odd keys and paths: glob characters in a key are escaped so the rule matches only it."""
    dvc_repo.write("dvc.yaml", "metrics:\n  - m.json\n")
    dvc_repo.write("m.json", json.dumps({"f1[macro]": 0.7, "recall*": 0.6}))
    dvc_repo.commit("odd keys")
    assert mlci(dvc_repo, "init", "--no-workflow").code == 0
    assert set(rules_of(dvc_repo)) == {"m.json:f1[[]macro]", "m.json:recall[*]"}
    check = mlci(dvc_repo, "check", "--no-repro", "--base", "main", "--format", "json")
    assert {m["name"]: m["rule"]["name"] for m in check.json()["metrics"]} == {
        "m.json:f1[macro]": "m.json:f1[[]macro]",
        "m.json:recall*": "m.json:recall[*]",
    }
    assert yaml.safe_load((dvc_repo.path / "mlci.yaml").read_text())["metrics"]["rules"]
