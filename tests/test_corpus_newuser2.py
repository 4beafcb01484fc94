"""Corpus, second pass on real repositories (continued): what a new user reads and runs first.

Each test builds the shape a user reported with real git and real ``dvc``:
``mlci init`` on a fresh clone whose metrics are cached outputs in the DVC
remote, a local ``mlci deploy`` after the champion was trained, a project in a
subfolder whose pull request comment must say which project it is, and the
HTML report and model card a reviewer opens.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from mlci import configfile as config
from mlci.engine.classify import MetricFile, MetricKey, rule_groups
from tests.conftest import VENV_BIN, sh
from tests.corpus import SUB_PIPELINE, SUB_TRAIN, Project
from tests.test_deploy import empty_db  # noqa: F401 (the MLflow store the deploy fixture copies)
from tests.test_deploy import project as deploy_project  # noqa: F401
from tests.test_history import _record_main, metrics_repo

# --- 3. mlci init on a fresh clone: the metrics read as check reads them ------------------

SCORES_PY = """\
import json, os, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
os.makedirs("eval", exist_ok=True)
json.dump(
    {
        "test": {"roc_auc": p["auc"], "accuracy": 0.91, "f1": 0.88},
        "train": {"roc_auc": 0.999},
        "log_loss": 0.21,
        "predict_time": 1.5,
    },
    open("eval/metrics.json", "w"),
)
"""

SCORES_DVC = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py]
    params: [train.auc]
    metrics:
      - eval/metrics.json
"""


def scores_project(where) -> Project:
    """Main: ROC AUC 0.988, the metrics a cached output pushed to the DVC remote."""
    p = Project.create(where)
    p.write("train.py", SCORES_PY)
    p.write("dvc.yaml", SCORES_DVC)
    p.set_params(auc=0.988)
    p.repro()
    p.commit("a classifier")
    p.publish()
    return p


def test_init_on_a_fresh_clone_writes_rules_that_catch_an_auc_drop(mlci, tmp_path):
    p = scores_project(tmp_path / "corpus")
    clone = p.fresh_clone()
    assert not (clone.path / "eval" / "metrics.json").exists()  # nothing pulled

    run = mlci(clone, "init", "--no-workflow")
    assert run.code == 0, run.err
    assert "run `dvc repro`" not in run.out, run.out
    cfg = config.load(None, clone.path)
    rules = {
        r.name: (r.direction, r.severity, r.max_regression, r.max_regression_pct)
        for r in cfg.metrics.rules
    }
    assert rules == {
        # scores in [0, 1]: an absolute tolerance
        "eval/metrics.json:test.roc_auc": ("higher", "fail", 0.01, None),
        "eval/metrics.json:test.accuracy": ("higher", "fail", 0.01, None),
        "eval/metrics.json:test.f1": ("higher", "fail", 0.01, None),
        # a loss: lower is better, a percentage of the base
        "eval/metrics.json:log_loss": ("lower", "fail", None, 10),
        # a timing warns only
        "eval/metrics.json:predict_time": ("lower", "warn", None, 10),
    }  # train.roc_auc: reported, not gated
    text = (clone.path / "mlci.yaml").read_text()
    assert "# measured on the training split" in text
    assert '# - name: "eval/metrics.json:train.roc_auc"' in text
    assert "# a score in [0, 1], higher is better: it may fall by 0.01 (absolute" in text
    assert "# a loss or an error: lower is better" in text
    assert "# a timing: it depends on the runner" in text

    # the rules init wrote, committed on main; a change drops ROC AUC 0.988 -> 0.948
    p.write("mlci.yaml", text)
    p.commit("mlci.yaml from mlci init")
    p.publish()
    p.git("checkout", "-q", "-b", "feature")
    p.set_params(auc=0.948)
    p.repro()
    p.commit("a worse model")
    p.publish("feature")
    ci = p.fresh_clone(branch="feature")
    check = mlci(ci, "check", "--no-repro", "--format", "json")
    doc = check.json()
    assert check.code == 1 and doc["verdict"] == "fail", doc["reasons"]
    rows = {m["name"]: (m["base"], m["head"], m["outcome"]) for m in doc["metrics"]}
    assert rows["eval/metrics.json:test.roc_auc"] == (0.988, 0.948, "fail")
    assert rows["eval/metrics.json:train.roc_auc"][2] != "fail"  # reported, not gated


def test_init_proposes_auto_with_a_fallback_where_history_exists():
    files = [
        MetricFile(
            "eval/metrics.json",
            "train",
            [MetricKey("auc", 0.9, "higher"), MetricKey("rmse", 3.0, "lower")],
        )
    ]
    [group] = rule_groups(files, history=True)
    by_name = {r.name: r for r in group.rules}
    auc, rmse = by_name["eval/metrics.json:auc"], by_name["eval/metrics.json:rmse"]
    assert (auc.max_regression, auc.fallback, auc.max_regression_pct) == ("auto", 0.01, None)
    assert (rmse.max_regression_pct, rmse.fallback, rmse.max_regression) == ("auto", 10, None)
    assert "auto: the bound the runs recorded on the base branch allow" in auc.why
    # without history: the fixed tolerances
    [group] = rule_groups(files)
    assert [(r.max_regression, r.max_regression_pct) for r in group.rules] == [
        (0.01, None),
        (None, 10),
    ]
    # a percentage score (0-100) is not a [0, 1] score
    [group] = rule_groups([MetricFile("m.json", None, [MetricKey("accuracy", 91.0, "higher")])])
    assert (group.rules[0].max_regression, group.rules[0].max_regression_pct) == (None, 10)


# --- 4. a local deploy compares with what the champion was trained from ------------------


def test_a_local_deploy_compares_with_the_champions_commit(deploy_project, tmp_path):  # noqa: F811
    p = deploy_project
    origin = tmp_path / "origin.git"
    sh(["git", "init", "-q", "--bare", "-b", "main", str(origin)], tmp_path)
    p.repo.git("remote", "add", "origin", str(origin))
    p.repo.git("push", "-q", "-u", "origin", "main")
    trained = p.repo.git("rev-parse", "HEAD")
    assert p.run("deploy", "-e", "production", "--base", "HEAD").code == 0  # the champion: 0.80

    # merged and pushed: main == origin/main, a worse model
    head = p.commit(0.70)
    p.repo.git("push", "-q", "origin", "main")
    run = p.run("deploy", "-e", "production")
    assert run.code == 1
    assert f"the gate is closed against champion ({trained[:7]})" in run.out, run.out
    assert f"{head[:7]} -> " not in run.out and "gate open" not in run.out
    assert p.champion() == "1" and p.versions() == ["1"]

    # a better model: compared with the champion's commit, and promoted
    head = p.commit(0.90)
    p.repo.git("push", "-q", "origin", "main")
    run = p.run("deploy", "-e", "production")
    assert run.code == 0, run.out + run.err
    assert "promoted clf version 2" in run.out
    assert f"champion {trained[:7]} → main {head[:7]}" in run.out, run.out


def test_a_refused_deploy_never_says_gate_open_before_the_refusal(deploy_project):  # noqa: F811
    p = deploy_project
    low = p.repo.git("rev-parse", "HEAD")
    p.commit(0.95)
    assert p.run("deploy", "-e", "production", "--base", low).code == 0
    p.commit(0.85)
    # against its gate base (0.80) the candidate improved; against the champion (0.95) it did not
    run = p.run("deploy", "-e", "production", "--base", low)
    assert run.code == 1 and "worse than the champion (version 1" in run.out
    refused = run.out.index("refused to deploy")
    assert "gate open" not in run.out[:refused], run.out


# --- 6. which project? the title of a subfolder project's comment names it -----------------


def test_two_subfolder_projects_comments_name_their_project_in_the_title(dvc_repo, mlci):
    for name in ("a", "b"):
        folder = dvc_repo.path / "models" / name
        folder.mkdir(parents=True)
        sh([str(VENV_BIN / "dvc"), "init", "-q", "--subdir"], folder)
        dvc_repo.write(f"models/{name}/train.py", SUB_TRAIN)
        dvc_repo.write(f"models/{name}/dvc.yaml", SUB_PIPELINE)
        dvc_repo.write(f"models/{name}/params.yaml", "quality: 0.8\n")
        sh([str(VENV_BIN / "dvc"), "repro", "-q"], folder)
    dvc_repo.commit("two models")
    dvc_repo.git("checkout", "-q", "-b", "feature")
    dvc_repo.write("models/a/params.yaml", "quality: 0.9\n")
    dvc_repo.write("models/b/params.yaml", "quality: 0.9\n")
    for name in ("a", "b"):
        sh([str(VENV_BIN / "dvc"), "repro", "-q"], dvc_repo.path / "models" / name)
    dvc_repo.commit("both better")

    titles = {}
    for name in ("a", "b"):
        run = mlci(dvc_repo.path / "models" / name, "check", "--base", "main", "--no-repro",
                   "--format", "markdown")  # fmt: skip
        assert run.code == 0, run.err
        marker, title = run.out.splitlines()[:2]
        assert marker == f"<!-- mlci:report:mlci/models/{name} -->"
        titles[name] = title
        # metric names are relative to the project's folder, as the docs now say
        assert "`metrics.json:acc`" in run.out
    assert titles["a"].startswith("### ✅ mlci/models/a: gate open — "), titles
    assert titles["b"].startswith("### ✅ mlci/models/b: gate open — "), titles
    # the root project's title is unchanged
    root = mlci(dvc_repo, "check", "--base", "main", "--no-repro", "--format", "markdown")
    assert "### " + "✅ mlci/" not in root.out

    docs = Path(__file__).parents[1] / "docs" / "config.md"
    text = " ".join(docs.read_text().split())
    assert "relative to the project's folder (the one holding its `dvc.yaml`)" in text
    assert "a metric of `models/a/dvc.yaml` is `metrics.json:acc`" in text


# --- 10. the HTML report: metrics first, history charts a reviewer can read -----------------

RULES = """\
metrics:
  files: [eval/metrics.json]
  rules:
    - name: acc
      direction: higher
      max_regression: 0.01
"""


def _history_spec(html: str) -> dict:
    spec = html.split('<script type="application/json" data-plot="history-0">', 1)[1]
    return json.loads(spec.split("</script>", 1)[0])


def test_html_report_puts_metrics_first_and_draws_history_by_short_sha(git_repo, mlci, tmp_path):
    metrics_repo(git_repo, {"acc": 0.9}, RULES)
    [one] = _record_main(git_repo, mlci, [0.90])
    git_repo.git("checkout", "-q", "-b", "feature")
    git_repo.write("eval/metrics.json", {"acc": 0.85})
    git_repo.commit("worse")
    page = tmp_path / "report.html"
    run = mlci(git_repo, "check", "--base", "main", "--format", "markdown", "--html", str(page))
    assert run.code == 1
    # one recorded run is no trend: no sparkline jumping from it to the head, no line chart
    assert "→▁" not in run.out and "```mermaid" not in run.out, run.out
    html = page.read_text()
    assert html.index("<h2>Metrics:") < html.index("<h2>History:")
    row = next(line for line in html.splitlines() if "<code>eval/metrics.json:acc</code>" in line)
    assert "→" not in row

    git_repo.git("checkout", "-q", "main")
    more = _record_main(git_repo, mlci, [0.91, 0.89])
    git_repo.git("checkout", "-q", "-B", "feature", "main")
    git_repo.write("eval/metrics.json", {"acc": 0.85})
    git_repo.commit("worse, on the newer main")
    run = mlci(git_repo, "check", "--base", "main", "--html", str(page))
    assert run.code == 1
    html = page.read_text()
    assert html.index("<h2>Metrics:") < html.index("<h2>History:")
    spec = _history_spec(html)
    layer = spec["layer"][0]
    x = layer["encoding"]["x"]
    assert x["field"] == "commit" and x["type"] == "ordinal" and x["sort"] == {"field": "i"}
    assert x["scale"]["padding"] > 0  # the head's point, the last, is not cut at the edge
    commits = [p["commit"] for p in spec["data"]["values"]]
    assert commits[:3] == [s[:7] for s in [one, *more]]
    assert len(set(commits)) == len(commits)


# --- 10. the model card says which version is live after a rollback ----------------------


def test_after_a_rollback_the_cards_say_which_version_is_live(deploy_project):  # noqa: F811
    p = deploy_project
    assert p.run("deploy", "-e", "production", "--base", "HEAD").code == 0
    first = p.repo.git("rev-parse", "HEAD")
    second = p.commit(0.90)
    assert p.run("deploy", "-e", "production", "--base", first).code == 0
    assert p.run("rollback", "-e", "production").code == 0
    assert p.champion() == "1"

    client = p.client()
    v2 = client.get_model_version("clf", "2").description
    v1 = client.get_model_version("clf", "1").description
    assert v2.startswith("> **Rolled back** at ") and "clf@champion is on version 1 now" in v2
    assert "this version is not live" in v2 and "# Model card" in v2  # the card is kept
    assert v1.startswith("> **Live again** on @champion since the rollback at ")
    assert "(version 2 was rolled back)" in v1 and "# Model card" in v1

    card = p.run("card", "--rev", second, "--base", first)
    assert card.code == 0, card.err
    assert (
        "> **Not live:** the alias `champion` is on version 1 now: this version was rolled back."
        in card.out
    ), card.out


# --- 10. a remote that holds one stage's data and not another's ---------------------------

CLEAN_PY = """\
import pathlib
pathlib.Path("clean.csv").write_text(pathlib.Path("data/a.csv").read_text().upper())
"""

SCORE_PY = """\
import json, pathlib
rows = len(pathlib.Path("clean.csv").read_text().splitlines())
extra = len(pathlib.Path("data/b.csv").read_text().splitlines())
json.dump({"rows": rows, "extra": extra}, open("metrics.json", "w"))
"""

TWO_SOURCES = """\
stages:
  clean:
    cmd: python clean.py
    deps: [clean.py, data/a.csv]
    outs: [clean.csv]
  score:
    cmd: python score.py
    deps: [score.py, clean.csv, data/b.csv]
    metrics: [metrics.json]
"""


def _remote_object(p: Project, md5: str) -> Path:
    return p.storage / "files" / "md5" / md5[:2] / md5[2:]


def test_a_remote_missing_one_stages_data_names_that_stage(mlci, tmp_path):
    """Two data sources (``dvc add``), each needed by one stage; the DVC remote (a folder)
    loses what one stage needs after ``dvc push``, and a fresh clone is checked."""
    p = Project.create(tmp_path / "corpus")
    p.write("clean.py", CLEAN_PY)
    p.write("score.py", SCORE_PY)
    p.write("dvc.yaml", TWO_SOURCES)
    p.add_data("data/a.csv", "x\n1\n2\n")
    p.add_data("data/b.csv", "y\n3\n4\n5\n")
    p.repro()
    p.commit("two sources, two stages")
    p.publish()
    lock = yaml.safe_load((p.path / "dvc.lock").read_text())
    [clean_out] = lock["stages"]["clean"]["outs"]
    b_md5 = yaml.safe_load((p.path / "data" / "b.csv.dvc").read_text())["outs"][0]["md5"]

    def check(clone: str, *options: str) -> tuple[dict, str]:
        run = mlci(p.fresh_clone(p.path.parent / clone), "check", "--format", "json", *options)
        doc = run.json()
        said = " ".join([*doc["notes"], *(r["message"] for r in doc["reasons"])])
        return doc, said

    def statuses(doc: dict) -> dict[str, str]:
        return {s["name"]: s["status"] for s in doc["repro"]["stages"]}

    # 1. the remote lacks clean's output: clean is computed here and named; score is restored
    held = tmp_path / "held"
    _remote_object(p, clean_out["md5"]).rename(held)
    doc, said = check("clone-1")
    assert doc["verdict"] == "pass", doc["reasons"]
    assert statuses(doc) == {
        "data/a.csv.dvc": "restored",
        "data/b.csv.dvc": "restored",
        "clean": "ran",
        "score": "restored",
    }, statuses(doc)
    assert "outputs of clean recorded in dvc.lock are not on DVC remote 'storage'" in said, said
    assert "outputs of clean, score" not in said and "outputs of score" not in said, said
    assert "every stage computed here" not in said, said
    held.rename(_remote_object(p, clean_out["md5"]))

    # 2. the remote lacks data/b.csv, which only score needs: reproduction fails, naming
    # the data source and the stage that needed it, not clean
    _remote_object(p, b_md5).unlink()
    doc, said = check("clone-2")
    assert doc["verdict"] == "fail"
    assert statuses(doc)["data/b.csv.dvc"] == "failed", statuses(doc)
    [reason] = [r["message"] for r in doc["reasons"] if r["section"] == "repro"]
    assert reason.startswith("stage data/b.csv.dvc failed: missing data 'source': data/b.csv"), (
        reason
    )
    assert "needed by score" in reason and "clean" not in reason, reason
    note = next(n for n in doc["notes"] if n.startswith("data of data/b.csv.dvc"))
    assert note.endswith("`dvc push` it from a clone that has it; needed by score"), note
    assert "every stage computed here" not in said, said

    # 3. the remote unreachable (repro.remote_unreachable: warn): nothing pulled; the data
    # sources fail, so no stage was computed, and the warning does not say every one was
    (p.path / "mlci.yaml").write_text("repro:\n  remote_unreachable: warn\n")
    p.commit("warn when the remote is unreachable")
    p.publish(dvc_push=False)
    clone = p.fresh_clone(p.path.parent / "clone-3")
    clone.dvc("remote", "modify", "--local", "storage", "url", str(tmp_path / "gone"))
    doc = mlci(clone, "check", "--format", "json").json()
    [unreachable] = [r["message"] for r in doc["reasons"] if "is unreachable" in r["message"]]
    assert unreachable.endswith("nothing pulled, no stage computed"), unreachable
    assert "every stage computed here" not in json.dumps(doc), doc["reasons"]

    # ... and in the author's copy, whose cache holds the sources, every stage with a command
    # is computed after a change to both scripts: then, and only then, it says so
    p.dvc("remote", "modify", "--local", "storage", "url", str(tmp_path / "gone"))
    p.write("clean.py", CLEAN_PY + "# changed\n")
    p.write("score.py", SCORE_PY + "# changed\n")
    doc = mlci(p, "check", "--format", "json").json()
    assert statuses(doc)["clean"] == "ran" and statuses(doc)["score"] == "ran", statuses(doc)
    [unreachable] = [r["message"] for r in doc["reasons"] if "is unreachable" in r["message"]]
    assert unreachable.endswith("nothing pulled, every stage computed here"), unreachable
