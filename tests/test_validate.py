"""`mlci validate` and the data step of `mlci check`: real Great Expectations on real files.

GX is imported once per test session (in process); the cache test runs mlci in
a subprocess to see that a cache hit does not import GX at all.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mlci.model import result as result_mod
from tests.conftest import REPO_ROOT, GitRepo, metrics_repo

ROWS = 200


def frame(
    n: int = ROWS,
    *,
    bad_labels: tuple[int, ...] = (),
    null_text: tuple[int, ...] = (),
    shift: float = 0.0,
) -> pd.DataFrame:
    """A small, deterministic data set: id, label in {0, 1}, text, score."""
    labels = [7 if i in bad_labels else i % 2 for i in range(n)]
    text = [None if i in null_text else f"word {i % 13}" for i in range(n)]
    score = [round((i % 50) / 50 + shift, 4) for i in range(n)]
    return pd.DataFrame({"id": list(range(n)), "label": labels, "text": text, "score": score})


def write_frame(repo: GitRepo, rel: str, df: pd.DataFrame, fmt: str) -> None:
    file = repo.path / rel
    file.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        df.to_csv(file, index=False)
    elif fmt == "tsv":
        df.to_csv(file, index=False, sep="\t")
    elif fmt == "parquet":
        df.to_parquet(file, index=False)
    elif fmt == "json":
        df.to_json(file, orient="records")
    else:
        df.to_json(file, orient="records", lines=True)


SUITE = {
    "name": "train",
    "expectations": [
        {"type": "expect_column_to_exist", "kwargs": {"column": "label"}, "meta": {}},
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "label", "value_set": [0, 1]},
            "meta": {},
        },
    ],
    "meta": {"great_expectations_version": "1.24.1"},
    "id": "9a1c7a0e-0000-4000-8000-000000000000",
    "notes": None,
}

INLINE = """\
data:
  - path: data/train.csv
    suite: gx/train.json
    expect:
      - expect_column_values_to_not_be_null: {column: text}
      - expect_table_row_count_to_be_between: {min_value: 1}
"""


def entry(doc: dict, path: str) -> dict:
    return next(d for d in doc["data"] if d["path"] == path)


def expectation(d: dict, type_: str) -> dict:
    return next(e for e in d["expectations"] if e["type"] == type_)


def test_failing_then_passing_suite_and_inline(git_repo, mlci, tmp_path):
    git_repo.write("gx/train.json", SUITE)
    git_repo.write("mlci.yaml", INLINE)
    write_frame(
        git_repo, "data/train.csv", frame(bad_labels=(5, 17, 80), null_text=(12, 40)), "csv"
    )
    git_repo.commit("data")
    status_before = git_repo.git("status", "--porcelain", "--ignored")

    run = mlci(git_repo, "validate", "--format", "json", "--output", str(tmp_path / "r.json"))
    assert run.code == 1, run.err
    doc = run.json()
    result_mod.validate(doc)
    assert result_mod.Result.from_dict(doc).to_dict() == doc  # publishable later as it is
    d = entry(doc, "data/train.csv")
    assert (d["success"], d["status"], d["severity"]) == (False, "failed", "fail")
    assert d["statistics"]["rows"] == ROWS and d["statistics"]["columns"] == 4
    in_set = expectation(d, "expect_column_values_to_be_in_set")  # from the suite file
    assert in_set["unexpected_count"] == 3
    assert in_set["unexpected_percent"] == pytest.approx(1.5)
    assert [s["row"] for s in in_set["sample"]] == [5, 17, 80]
    assert {s["value"] for s in in_set["sample"]} == {"7"}
    not_null = expectation(d, "expect_column_values_to_not_be_null")  # inline
    assert (not_null["success"], not_null["unexpected_count"]) == (False, 2)
    assert expectation(d, "expect_column_to_exist")["success"] is True
    assert expectation(d, "expect_table_row_count_to_be_between")["success"] is True
    messages = [r["message"] for r in doc["reasons"] if r["section"] == "data"]
    assert (
        "data/train.csv: expect_column_values_to_not_be_null(text) failed on 2 of 200 rows (1.0 %), "
        "e.g. rows 12, 40" in messages
    )
    assert any(
        m.startswith("data/train.csv: expect_column_values_to_be_in_set(label) failed on 3 of 200")
        for m in messages
    )
    # no gx/ scaffolding, nothing written into the work tree or the home folder
    assert git_repo.git("status", "--porcelain", "--ignored") == status_before
    assert list(Path(os.environ["HOME"]).iterdir()) == []
    assert sorted(p.name for p in (git_repo.path / "gx").iterdir()) == ["train.json"]

    md = mlci(git_repo, "validate", "--format", "markdown").out
    assert (
        "**Data** — ❌ `data/train.csv`: `expect_column_values_to_not_be_null(text)` failed on 2 of "
        "200 rows (1.0 %), e.g. rows 12, 40." in md
    )
    assert "<details><summary>Data: 1 file — 1 failed</summary>" in md

    # fixed data: the same suite passes
    write_frame(git_repo, "data/train.csv", frame(), "csv")
    run = mlci(git_repo, "validate", "--format", "json")
    assert run.code == 0, run.out
    d = entry(run.json(), "data/train.csv")
    assert d["success"] is True and all(e["success"] for e in d["expectations"])
    assert run.json()["verdict"] == "pass"


@pytest.mark.parametrize("severity, code, verdict", [("warn", 0, "warn")])
def test_severity_warn(git_repo, mlci, severity, code, verdict):
    git_repo.write(
        "mlci.yaml",
        f"""\
data:
  - path: data/d.csv
    severity: {severity}
    expect:
      - expect_column_values_to_be_in_set: {{column: label, value_set: [0, 1]}}
""",
    )
    write_frame(git_repo, "data/d.csv", frame(bad_labels=(3,)), "csv")
    git_repo.commit("data")
    (git_repo.path / "sub" / "dir").mkdir(parents=True)
    # paths resolve against the repository root, whatever the current directory
    run = mlci(git_repo.path / "sub" / "dir", "validate", "--format", "json")
    assert (run.code, run.json()["verdict"]) == (code, verdict)
    assert run.json()["reasons"][0]["severity"] == "warn"
    assert entry(run.json(), "data/d.csv")["statistics"]["rows"] == ROWS


def test_every_format(git_repo, mlci):
    formats = ["csv", "tsv", "parquet", "json", "jsonl"]
    config = ["data:"]
    for i, fmt_name in enumerate(formats):
        write_frame(git_repo, f"data/d.{fmt_name}", frame(bad_labels=tuple(range(i + 1))), fmt_name)
        config += [
            f"  - path: data/d.{fmt_name}",
            "    expect:",
            "      - expect_column_values_to_be_in_set: {column: label, value_set: [0, 1]}",
            "      - expect_column_values_to_not_be_null: {column: id}",
        ]
    # read: options reach the reader: a header-less TSV with names given in the config
    (git_repo.path / "data/raw.tsv").write_text("1\tspam\n0\tham\n2\teggs\n")
    config += [
        "  - path: data/raw.tsv",
        "    read: {header: null, names: [label, text]}",
        "    expect:",
        "      - expect_column_values_to_be_in_set: {column: label, value_set: [0, 1]}",
    ]
    git_repo.write("mlci.yaml", "\n".join(config) + "\n")
    git_repo.commit("data")
    run = mlci(git_repo, "validate", "--format", "json")
    doc = run.json()
    result_mod.validate(doc)
    for i, fmt_name in enumerate(formats):
        d = entry(doc, f"data/d.{fmt_name}")
        assert d["format"] == fmt_name
        assert d["statistics"]["rows"] == ROWS, fmt_name
        assert expectation(d, "expect_column_values_to_be_in_set")["unexpected_count"] == i + 1, (
            fmt_name
        )
        assert expectation(d, "expect_column_values_to_not_be_null")["success"] is True
    raw = entry(doc, "data/raw.tsv")
    assert raw["statistics"] == {"rows": 3, "columns": 2, "evaluated": 1, "successful": 0}
    assert raw["expectations"][0]["sample"] == [{"row": 2, "value": "2"}]


def test_diff_with_schema_change_and_drift(git_repo, mlci):
    git_repo.write(
        "mlci.yaml",
        """\
data:
  - path: data/d.csv
    drift: {max_psi: 0.2}
    expect:
      - expect_column_to_exist: {column: id}
""",
    )
    base = frame(400)
    write_frame(git_repo, "data/d.csv", base, "csv")
    git_repo.commit("base")
    git_repo.git("checkout", "-q", "-b", "feature")
    head = frame(500, shift=0.6).drop(columns=["text"])
    head["label"] = head["label"].astype(float)  # int64 -> float64
    head["region"] = "eu"
    write_frame(git_repo, "data/d.csv", head, "csv")
    git_repo.commit("drifted data")

    run = mlci(git_repo, "validate", "--base", "main", "--format", "json")
    doc = run.json()
    result_mod.validate(doc)
    diff = entry(doc, "data/d.csv")["diff"]
    assert diff["status"] == "compared"
    assert diff["rows"] == {"base": 400, "head": 500, "delta": 100}
    assert diff["schema"]["added"] == [{"name": "region", "dtype": "str"}] or [
        c["name"] for c in diff["schema"]["added"]
    ] == ["region"]
    assert [c["name"] for c in diff["schema"]["removed"]] == ["text"]
    assert diff["schema"]["type_changed"] == [{"name": "label", "base": "int64", "head": "float64"}]
    score = next(c for c in diff["columns"] if c["name"] == "score")
    assert score["mean"]["head"] == pytest.approx(score["mean"]["base"] + 0.6, abs=1e-6)
    assert score["psi"] > 1.0 and score["psi_method"] == "binned"
    label = next(c for c in diff["columns"] if c["name"] == "label")
    assert label["psi"] < 0.05 and label["psi_method"] == "categorical"  # same 0/1 balance
    # worst first; id drifts too: a fifth of the head's ids lie above the base's largest
    assert diff["drifted"] == ["score", "id"]
    assert run.code == 1
    assert any(
        "column score drifted from main: PSI" in r["message"] and "> 0.2" in r["message"]
        for r in doc["reasons"]
    )

    # root causes first: the removed column before the drifted ones
    messages = [r["message"] for r in doc["reasons"]]
    assert messages[0].startswith("data/d.csv: column text removed (was ")
    assert [f["check"] for f in diff["findings"]] == [
        "removed",
        "retyped",
        "added",
        "drift",
        "drift",
    ]

    # without a drift limit (and the removed column only shown) the gate stays open
    git_repo.write("mlci.yaml", "data:\n  - path: data/d.csv\n    schema: {severity: info}\n")
    git_repo.commit("no rule")
    run = mlci(git_repo, "validate", "--base", "main", "--format", "json")
    assert run.code == 0, run.json()["reasons"]
    assert entry(run.json(), "data/d.csv")["diff"]["drifted"] == []
    md = mlci(git_repo, "validate", "--base", "main", "--format", "markdown").out
    assert "<details><summary>Data: 1 file — 1 passed</summary>" in md
    assert "+100 rows (+25.0 %)" in md and "max PSI" in md


def test_missing_base_data_is_stated(git_repo, mlci):
    git_repo.write("README.md", "base\n")
    git_repo.commit("base")
    git_repo.git("checkout", "-q", "-b", "feature")
    git_repo.write("mlci.yaml", "data:\n  - path: data/new.csv\n    drift: {max_psi: 0.1}\n")
    write_frame(git_repo, "data/new.csv", frame(), "csv")
    run = mlci(git_repo, "validate", "--base", "main", "--format", "json")
    assert run.code == 0, run.out
    diff = entry(run.json(), "data/new.csv")["diff"]
    assert diff == {"status": "no_base", "message": "data/new.csv does not exist in main"}


def test_missing_head_file_is_a_finding(git_repo, mlci):
    git_repo.write("mlci.yaml", "data:\n  - path: data/absent.csv\n    severity: warn\n")
    git_repo.commit("config")
    run = mlci(git_repo, "validate", "--format", "json")
    assert run.code == 0
    d = entry(run.json(), "data/absent.csv")
    assert (d["status"], d["success"]) == ("missing", False)
    assert run.json()["reasons"] == [
        {
            "section": "data",
            "severity": "warn",
            "message": "data/absent.csv does not exist in the work tree",
            "file": "mlci.yaml",
            "line": 2,
        }
    ]


def test_dvc_tracked_base_read_from_the_cache(dvc_repo, mlci):
    dvc_repo.write("mlci.yaml", "data:\n  - path: data/d.parquet\n    drift: {max_psi: 0.25}\n")
    write_frame(dvc_repo, "data/d.parquet", frame(300), "parquet")
    dvc_repo.dvc("add", "-q", "data/d.parquet")
    dvc_repo.commit("base data in DVC")
    dvc_repo.git("checkout", "-q", "-b", "feature")
    write_frame(dvc_repo, "data/d.parquet", frame(300, shift=2.0), "parquet")
    dvc_repo.dvc("add", "-q", "data/d.parquet")
    dvc_repo.commit("new data")
    before = dvc_repo.git("status", "--porcelain")

    run = mlci(dvc_repo, "validate", "--base", "main", "--format", "json")
    diff = entry(run.json(), "data/d.parquet")["diff"]
    assert diff["status"] == "compared", diff
    assert diff["drifted"] == ["score"]
    assert run.code == 1
    # the base file came from DVC's cache: the work tree still holds the head version
    assert pd.read_parquet(dvc_repo.path / "data/d.parquet")["score"].min() >= 2.0
    assert dvc_repo.git("status", "--porcelain") == before


def test_file_inside_a_dvc_tracked_directory_at_committed_revisions(dvc_repo, mlci):
    dvc_repo.write(
        "mlci.yaml",
        "data:\n  - path: data/prepared/train.csv\n    drift: {max_psi: 0.2}\n"
        "    expect:\n      - expect_column_values_to_be_in_set: {column: label, value_set: [0, 1]}\n",
    )
    write_frame(dvc_repo, "data/prepared/train.csv", frame(300), "csv")
    dvc_repo.dvc("add", "-q", "data/prepared")
    dvc_repo.commit("base")
    dvc_repo.git("checkout", "-q", "-b", "feature")
    write_frame(
        dvc_repo, "data/prepared/train.csv", frame(300, bad_labels=(1, 2), shift=3.0), "csv"
    )
    dvc_repo.dvc("add", "-q", "data/prepared")
    dvc_repo.commit("new data")
    (dvc_repo.path / "data/prepared/train.csv").unlink()  # head and base both come from DVC's cache

    run = mlci(dvc_repo, "validate", "--base", "main", "--head", "feature", "--format", "json")
    d = entry(run.json(), "data/prepared/train.csv")
    assert d["expectations"][0]["unexpected_count"] == 2
    assert d["diff"]["status"] == "compared" and d["diff"]["drifted"] == ["score"]
    assert not (dvc_repo.path / "data/prepared/train.csv").exists()


def test_validate_a_committed_head(git_repo, mlci):
    git_repo.write(
        "mlci.yaml",
        "data:\n  - path: d.csv\n    expect:\n"
        "      - expect_column_values_to_be_in_set: {column: label, value_set: [0, 1]}\n",
    )
    write_frame(git_repo, "d.csv", frame(bad_labels=(1,)), "csv")
    git_repo.commit("bad")
    write_frame(git_repo, "d.csv", frame(), "csv")  # the work tree is fine, the commit is not
    run = mlci(git_repo, "validate", "--head", "HEAD", "--format", "json")
    assert run.code == 1
    assert entry(run.json(), "d.csv")["expectations"][0]["unexpected_count"] == 1


# --- config errors: exit 2 with the key path, before any data is read -------------------


@pytest.mark.parametrize(
    "expect, message",
    [
        (
            "- expect_colum_to_exist: {column: a}",
            "mlci.yaml:5: data[0].expect[1]: unknown expectation 'expect_colum_to_exist'; "
            "did you mean 'expect_column_to_exist'?",
        ),
        (
            "- expect_column_values_to_be_in_set: {column: a}",
            "mlci.yaml:5: data[0].expect[1]: invalid arguments for expect_column_values_to_be_in_set: "
            "value_set: required argument is missing",
        ),
        (
            "- expect_column_to_exist: {column: a, colour: red}",
            "mlci.yaml:5: data[0].expect[1]: invalid arguments for expect_column_to_exist: "
            "colour: unknown argument",
        ),
    ],
)
def test_bad_expectations_are_config_errors(git_repo, mlci, expect, message):
    # the data is not even parquet: reading it would be a data finding, not exit 2
    git_repo.write("data/d.parquet", "not parquet at all")
    git_repo.write(
        "mlci.yaml",
        "data:\n  - path: data/d.parquet\n    expect:\n"
        f"      - expect_column_to_exist: {{column: a}}\n      {expect}\n",
    )
    git_repo.commit("config")
    run = mlci(git_repo, "validate")
    assert run.code == 2
    assert run.err.strip() == f"mlci: error: {message}"
    assert "Traceback" not in run.err


def test_bad_expectation_in_a_suite_file(git_repo, mlci):
    suite = {
        "name": "s",
        "expectations": [
            {"type": "expect_column_to_exist", "kwargs": {"column": "a"}, "meta": {}},
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "a", "min_value": "low"},
                "meta": {},
            },
        ],
    }
    git_repo.write("gx/s.json", suite)
    git_repo.write("d.csv", "a\n1\n")
    git_repo.write("mlci.yaml", "data:\n  - path: d.csv\n    suite: gx/s.json\n")
    git_repo.commit("config")
    run = mlci(git_repo, "validate")
    assert run.code == 2
    assert run.err.startswith(
        "mlci: error: gx/s.json: expectations[1]: invalid arguments for "
        "expect_column_values_to_be_between: min_value:"
    )
    git_repo.write("mlci.yaml", "data:\n  - path: d.csv\n    suite: gx/missing.json\n")
    run = mlci(git_repo, "validate")
    assert (run.code, run.err.strip()) == (
        2,
        "mlci: error: mlci.yaml:2: data[0].suite: suite file not found: gx/missing.json",
    )
    git_repo.write("mlci.yaml", "data:\n  - path: d.xlsx\n")
    run = mlci(git_repo, "validate")
    assert (run.code, run.err.strip()) == (
        2,
        "mlci: error: mlci.yaml:2: data[0].format: cannot tell the format of 'd.xlsx' from its "
        "suffix; set format: csv, tsv, parquet, json or jsonl",
    )
    # validate is the data step alone: without data: entries it says so, and passes
    git_repo.write("mlci.yaml", "metrics:\n  rules: [{name: acc, direction: higher}]\n")
    run = mlci(git_repo, "validate")
    assert run.code == 0
    assert "no data: entries in the config: nothing to validate" in run.out


# --- the cache ----------------------------------------------------------------------------

PROBE = """\
import sys
from mlci.cli import main
code = main(["validate", "--format", "json", "--output", "result.json"])
print(code, "great_expectations" in sys.modules, "pandas" in sys.modules)
# nor the check's other steps, DVC, or importlib.metadata (the GX version is a folder's name)
print(*[m for m in ("mlci.engine.metrics", "mlci.engine.repro", "dvc", "importlib.metadata")
        if m in sys.modules])
"""


def _probe(repo: GitRepo) -> tuple[int, bool, bool]:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=repo.path,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    *_, said, others = proc.stdout.splitlines()
    assert others == "", f"a warm validate imported {others}"
    code, gx, pandas = said.split()
    return int(code), gx == "True", pandas == "True"


def test_cache_hit_skips_gx_and_change_invalidates(git_repo, mlci):
    from importlib import metadata

    from mlci.adapters import gx

    assert gx.version() == metadata.version("great_expectations")  # the cache key's version
    git_repo.write(
        "mlci.yaml",
        "data:\n  - path: d.csv\n    expect:\n"
        "      - expect_column_values_to_be_in_set: {column: label, value_set: [0, 1]}\n",
    )
    write_frame(git_repo, "d.csv", frame(bad_labels=(4,)), "csv")
    git_repo.commit("data")
    git_repo.git("checkout", "-q", "-b", "feature")
    write_frame(git_repo, "d.csv", frame(bad_labels=(4, 9)), "csv")  # differs from main: a diff too

    first = mlci(git_repo, "validate", "--format", "json")  # cold: fills the cache (in process)
    assert entry(first.json(), "d.csv")["cached"] is False
    cache_dir = Path(git_repo.git("rev-parse", "--git-common-dir"))
    cache_dir = (
        git_repo.path / cache_dir if not cache_dir.is_absolute() else cache_dir
    ) / "mlci/cache/validate"
    assert any(cache_dir.glob("result-*.json"))

    code, gx_imported, pandas_imported = _probe(git_repo)
    assert (code, gx_imported, pandas_imported) == (1, False, False)
    warm = json.loads((git_repo.path / "result.json").read_text())
    d = entry(warm, "d.csv")
    assert d["cached"] is True
    cold = entry(first.json(), "d.csv")
    assert {**d, "cached": False} == cold  # the same result, diff included
    assert warm["reasons"] == first.json()["reasons"]
    (git_repo.path / "result.json").unlink()

    # new content: validated again
    write_frame(git_repo, "d.csv", frame(bad_labels=(4, 9, 11)), "csv")
    run = mlci(git_repo, "validate", "--format", "json")
    d = entry(run.json(), "d.csv")
    assert (d["cached"], d["expectations"][0]["unexpected_count"]) == (False, 3)
    # changed expectations: validated again
    git_repo.write(
        "mlci.yaml",
        "data:\n  - path: d.csv\n    expect:\n"
        "      - expect_column_values_to_be_in_set: {column: label, value_set: [0, 1, 7]}\n",
    )
    run = mlci(git_repo, "validate", "--format", "json")
    d = entry(run.json(), "d.csv")
    assert (d["cached"], d["success"]) == (False, True)


# --- check, rendering ---------------------------------------------------------------------


def test_check_runs_data_and_metrics(dvc_repo, mlci):
    config = (
        "data:\n  - path: data/d.csv\n    expect:\n"
        "      - expect_column_values_to_be_in_set: {column: label, value_set: [0, 1]}\n"
    )
    write_frame(dvc_repo, "data/d.csv", frame(), "csv")
    metrics_repo(dvc_repo, {"acc": 0.9}, config=config)
    write_frame(dvc_repo, "data/d.csv", frame(bad_labels=(2,)), "csv")
    dvc_repo.write("eval/metrics.json", {"acc": 0.95})
    run = mlci(dvc_repo, "check", "--no-repro", "--format", "json")
    assert run.code == 1
    doc = run.json()
    result_mod.validate(doc)
    assert entry(doc, "data/d.csv")["success"] is False
    acc = next(m for m in doc["metrics"] if m["name"] == "eval/metrics.json:acc")
    assert acc["head"] == 0.95  # later sections ran although data failed
    assert not any("not part of this mlci version" in n and "data" in n for n in doc["notes"])


def test_values_from_the_data_are_escaped(git_repo, mlci):
    df = pd.DataFrame({"name": ["ok", "<img src=x onerror=alert(1)>", "@octocat | `x`", "ok"]})
    write_frame(git_repo, "d.csv", df, "csv")
    git_repo.write(
        "mlci.yaml",
        "data:\n  - path: d.csv\n    expect:\n"
        "      - expect_column_values_to_be_in_set: {column: name, value_set: [ok]}\n",
    )
    git_repo.commit("data")
    md = mlci(git_repo, "validate", "--format", "markdown").out
    assert "<img" not in md and "@octocat" not in md and "| `x`" not in md
    assert "&lt;img src=x onerror=alert(1)&gt;" in md
    text = mlci(git_repo, "validate", "--format", "text").out
    assert "row 1: <img src=x" in text  # a terminal shows the value as it is


# --- Spark ----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.spark
def test_spark_engine(git_repo, mlci):
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs a Java runtime (17 or later for pyspark 4)")
    git_repo.write(
        "mlci.yaml",
        """\
spark:
  master: "local[1]"
  conf:
    spark.sql.shuffle.partitions: 1
    spark.default.parallelism: 1
    # a short-lived JVM: the quick JIT tier only, and no adaptive re-planning of tiny jobs
    spark.driver.extraJavaOptions: "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
    spark.sql.adaptive.enabled: false
data:
  - path: data/d.parquet
    engine: spark
    drift: {max_psi: 0.2}
    expect:
      - expect_column_values_to_be_in_set: {column: label, value_set: [0, 1]}
      - expect_column_values_to_not_be_null: {column: text}
""",
    )
    write_frame(git_repo, "data/d.parquet", frame(60), "parquet")
    git_repo.commit("base")
    write_frame(
        git_repo,
        "data/d.parquet",
        frame(60, bad_labels=(3, 5), null_text=(7,), shift=0.5),
        "parquet",
    )
    run = mlci(git_repo, "validate", "--format", "json")
    doc = run.json()
    result_mod.validate(doc)
    d = entry(doc, "data/d.parquet")
    assert (d["engine"], d["statistics"]["rows"], d["statistics"]["columns"]) == ("spark", 60, 4)
    assert expectation(d, "expect_column_values_to_be_in_set")["unexpected_count"] == 2
    assert expectation(d, "expect_column_values_to_not_be_null")["unexpected_count"] == 1
    assert {s["value"] for s in expectation(d, "expect_column_values_to_be_in_set")["sample"]} == {
        "7"
    }
    assert d["diff"]["status"] == "compared" and "score" in d["diff"]["drifted"]
    assert run.code == 1


@pytest.mark.slow
@pytest.mark.spark
def test_spark_profile_matches_pandas():
    """Both engines reduce data to the same profile, so a diff means the same either way."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs a Java runtime")
    from mlci.adapters import gx
    from mlci.engine import datadiff

    session = gx.spark_session("local[1]", {})  # the one the Spark test started, if it ran
    df = frame(80, null_text=(3, 4))
    expected = datadiff.profile_pandas(df)
    got = datadiff.profile_spark(session.createDataFrame(df.astype(object).where(df.notna(), None)))
    assert got["rows"] == expected["rows"] == 80
    for name in ("id", "label", "text", "score"):
        g, e = got["columns"][name], expected["columns"][name]
        assert (g["kind"], g["nulls"]) == (e["kind"], e["nulls"]), name
        assert g.get("counts") == e.get("counts"), name
        if e["kind"] == "numeric":
            assert g["mean"] == pytest.approx(e["mean"]) and g["max"] == pytest.approx(e["max"])
            assert datadiff.numeric_psi(e, g) < 0.01


def test_the_html_report_shows_the_data_findings(git_repo, mlci, tmp_path):
    git_repo.write("gx/train.json", SUITE)
    git_repo.write("mlci.yaml", INLINE)
    write_frame(git_repo, "data/train.csv", frame(bad_labels=(5,), null_text=(12,)), "csv")
    git_repo.commit("data")
    page = tmp_path / "report.html"
    run = mlci(git_repo, "validate", "--html", str(page))
    assert run.code == 1
    text = page.read_text()
    assert "<h2>Data: 1 file" in text
    assert "expect_column_values_to_not_be_null(text)" in text
