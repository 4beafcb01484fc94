"""Corpus: six mistakes a pull request makes to a pipeline's data, judged with only the data
checks ``mlci init`` writes.

The project is real: the Palmer penguins table (344 rows, missing values, three text columns;
the CSV the ``palmerpenguins`` package ships) added with ``dvc add``, a ``prepare`` stage that
writes ``data/prepared.csv``, a ``train`` stage (scikit-learn) that writes metrics, reproduced
with ``dvc repro``; ``mlci init`` writes the config on main. Each test then makes one pull
request commit (the stage's code or its input changed, ``dvc repro``, commit, as a developer
does) and runs ``mlci check`` against main: the verdict must be the right one, and a failing
verdict must show its numbers in the comment.
"""

from __future__ import annotations

import importlib.resources
from typing import Any

import pytest

from mlci import configfile as config
from tests.corpus import Project, cached

PREPARE_PY = """\
\"\"\"Keep the measured penguins (a prepare stage).\"\"\"
import pandas as pd

df = pd.read_csv("data/penguins.csv")
measures = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
df = df.dropna(subset=measures, how="all")  # two birds were never measured
# CHANGE
df.to_csv("data/prepared.csv", index=False)
"""

TRAIN_PY = """\
\"\"\"Predict the species from whatever numeric columns the prepared data has.\"\"\"
import json
import os

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

df = pd.read_csv("data/prepared.csv")
X = df.select_dtypes("number").drop(columns=["year"], errors="ignore")
keep = X.notna().all(axis=1)
X, y = X[keep], df.loc[keep, "species"]
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
os.makedirs("eval", exist_ok=True)
json.dump({"accuracy": round(float(model.score(X, y)), 4)}, open("eval/metrics.json", "w"))
"""

DVC_YAML = """\
stages:
  prepare:
    cmd: python src/prepare.py
    deps: [src/prepare.py, data/penguins.csv]
    outs: [data/prepared.csv]
  train:
    cmd: python src/train.py
    deps: [src/train.py, data/prepared.csv]
    metrics:
      - eval/metrics.json:
          cache: false
"""


def penguins_csv() -> str:
    source = importlib.resources.files("palmerpenguins") / "data" / "penguins.csv"
    return source.read_text(encoding="utf-8")


def build(p: Project) -> None:
    """The penguins pipeline on main, reproduced, with the config ``mlci init`` writes."""
    from mlci.cli import main

    p.write("src/prepare.py", PREPARE_PY)
    p.write("src/train.py", TRAIN_PY)
    p.write("dvc.yaml", DVC_YAML)
    p.add_data("data/penguins.csv", penguins_csv())
    p.repro()
    p.commit("penguins pipeline")
    import os

    here = os.getcwd()
    os.chdir(p.path)
    try:
        assert main(["init", "--no-workflow"]) == 0
    finally:
        os.chdir(here)
    p.commit("mlci init")


@pytest.fixture
def project(tmp_path, tmp_path_factory) -> Project:
    p = cached("penguins", build, tmp_path_factory, tmp_path / "corpus")
    p.git("checkout", "-q", "-b", "pr")
    return p


def pull_request(p: Project, change: str, mlci: Any) -> tuple[dict[str, Any], str]:
    """Commit ``change`` to the prepare stage, reproduced; the check's result and comment."""
    p.write("src/prepare.py", PREPARE_PY.replace("# CHANGE", change))
    p.repro()
    p.commit("prepare: " + change.splitlines()[0])
    run = mlci(p, "check", "--no-repro", "--base", "main", "--format", "json")
    doc = run.json()
    assert run.code == (1 if doc["verdict"] == "fail" else 0)
    comment = mlci(p, "check", "--no-repro", "--base", "main", "--format", "markdown").out
    return doc, comment


def prepared(doc: dict[str, Any]) -> dict[str, Any]:
    return next(d for d in doc["data"] if d["path"] == "data/prepared.csv")


def findings(doc: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    entry = prepared(doc)
    return [
        (f["check"], f["severity"], f["column"])
        for f in entry["diff"]["findings"]
        if f["severity"] != "info"
    ]


def test_init_wrote_active_checks_for_the_prepared_data(project):
    checks = {c.path: c for c in config.load(None, project.path).data}
    # the stage's output, and the raw table that `dvc add` tracks
    assert set(checks) == {"data/prepared.csv", "data/penguins.csv"}
    rules = checks["data/prepared.csv"].diff_rules
    assert (rules.schema, rules.missing, rules.rows, rules.drift) == (
        "fail",
        "fail",
        "fail",
        "warn",
    )


def test_missing_values_fail_and_the_comment_shows_the_shares(project, mlci):
    # meant to clip outliers, `where` empties them: 22 % of the bill lengths
    doc, comment = pull_request(
        project,
        'df["bill_length_mm"] = df["bill_length_mm"].where(df["bill_length_mm"] < 48)',
        mlci,
    )
    assert doc["verdict"] == "fail"
    assert findings(doc)[0] == ("missing", "fail", "bill_length_mm")
    assert (
        "**Data** — ❌ `data/prepared.csv`: column bill&#95;length&#95;mm: 94 missing values "
        "(27.5 % of rows), none in the base (missing.keep&#95;complete); p &lt; 1e-6 at 342 vs "
        "342 rows." in comment
    ), comment
    # the column's row: base → head for the missing share and the summaries of what is left
    row = next(line for line in comment.splitlines() if line.startswith("| ❌ | `bill_length_mm`"))
    assert "| 0 % → 27.5 % | 43.92 → 41.37 |" in row and "| 59.6 → 47.8 |" in row


def test_numbers_read_as_text_fail(project, mlci):
    doc, comment = pull_request(
        project, 'df["body_mass_g"] = df["body_mass_g"].map("{:.0f} g".format)', mlci
    )
    assert doc["verdict"] == "fail"
    assert ("retyped", "fail", "body_mass_g") in findings(doc)
    assert "column body&#95;mass&#95;g changed type float64 → " in comment
    assert ": numbers became text." in comment


def test_a_new_category_warns_with_the_new_value_named(project, mlci):
    # a data refresh adds a colony from a new island: 40 birds
    doc, comment = pull_request(
        project,
        "extra = df.sample(40, random_state=1).assign(island='Anvers')\n"
        "df = pd.concat([df, extra])",
        mlci,
    )
    assert doc["verdict"] == "warn", doc["reasons"]
    assert ("drift", "warn", "island") in findings(doc)
    assert "column island drifted: PSI " in comment
    assert "; new values Anvers." in comment
    row = next(line for line in comment.splitlines() if "| `island` |" in line)
    assert "+Anvers (40)" in row


def test_a_unit_change_warns_with_the_means(project, mlci):
    doc, comment = pull_request(
        project, 'df["bill_length_mm"] = df["bill_length_mm"] / 10  # mm to cm', mlci
    )
    assert doc["verdict"] == "warn", doc["reasons"]
    assert findings(doc) == [("drift", "warn", "bill_length_mm")]
    assert "; mean 43.92 → 4.392." in comment
    row = next(line for line in comment.splitlines() if "| `bill_length_mm` |" in line)
    assert "| 43.92 → 4.392 | 5.452 → 0.5452 | 32.1 → 3.21 | 59.6 → 5.96 |" in row
    # the model scales its inputs: the metric did not move, the data check says why to look
    (metric,) = doc["metrics"]
    assert metric["outcome"] == "pass"


def test_a_dropped_and_a_renamed_column_fail_and_the_rename_is_named(project, mlci):
    doc, comment = pull_request(
        project,
        'df = df.drop(columns=["year"]).rename(columns={"flipper_length_mm": "flipper_mm"})',
        mlci,
    )
    assert doc["verdict"] == "fail"
    assert findings(doc) == [
        ("removed", "fail", "year"),
        ("renamed", "fail", "flipper_length_mm"),
    ]
    assert "column year removed (was int64)." in comment
    assert "column flipper&#95;length&#95;mm renamed to flipper&#95;mm (same values)." in comment


def test_row_loss_fails_with_the_counts(project, mlci):
    doc, comment = pull_request(project, 'df = df[df["year"] >= 2008]  # recent birds', mlci)
    assert doc["verdict"] == "fail"
    assert findings(doc)[0] == ("rows", "fail", None)
    assert (
        "**Data** — ❌ `data/prepared.csv`: rows 342 → 233 (−31.9 %; at most −10 %, "
        "rows.max&#95;decrease&#95;pct)." in comment
    ), comment


def test_a_benign_reorder_passes(project, mlci):
    doc, comment = pull_request(
        project,
        "df = df.sample(frac=1, random_state=0)[sorted(df.columns)]  # shuffled, columns sorted",
        mlci,
    )
    assert doc["verdict"] == "pass", doc["reasons"]
    entry = prepared(doc)
    assert entry["diff"]["status"] == "compared" and entry["diff"]["findings"] == []
    assert "no column moved" in comment
