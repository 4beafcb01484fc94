"""A check's run written straight into a SQLite store is the run mlflow's client writes.

The store and its experiment are made by real mlflow (as the first tracked check makes them);
then the same result is logged once through :class:`mlci.adapters.mlflow.Tracker` (mlflow's
client) and once through :class:`mlci.adapters.mlflow_sqlite.SqliteTracker` into two copies of
that store, every table of both is dumped, and the rows must be equal but for the run id and the
clock. The fast path's run is also read back with mlflow's own client. Where the fast path must
stand aside it writes nothing and mlflow's client logs the run. Whether a check's process
imported mlflow is asked of that process (``sys.modules`` after ``main`` returned).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mlci.adapters import mlflow as mlflow_adapter
from mlci.adapters.mlflow import Tracker
from mlci.adapters.mlflow_sqlite import KNOWN_SCHEMAS, SqliteTracker, installed_mlflow
from mlci.model.config import Config
from mlci.model.result import Context, MetricDelta, ParamDelta, Result, Revision
from tests import test_deploy
from tests.conftest import ACC_RULE, GitRepo, metrics_repo, rules_config
from tests.test_mlflow_rest import PROBE

empty_db = test_deploy.empty_db

EXPERIMENT = "mlci"  # what a config without ``mlflow.experiment`` logs to
CLOCK = {("runs", "start_time"), ("runs", "end_time")}
CLOCK |= {("metrics", "timestamp"), ("latest_metrics", "timestamp")}


def _client(uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _report(result: Result) -> str:
    return f"<!-- mlci:report -->\n# {result.verdict} ✓\nrun {result.mlflow}\n"


def _result() -> Result:
    """A check's result with what a run can hold at its edges."""
    head, base = "a" * 40, "b" * 40
    ctx = Context(
        repo="acme/widgets",
        event="pull_request",
        pr=7,
        base=Revision("main", base),
        head=Revision("feature/é", head),
        run_url="https://ci.example/runs/1",
    )

    def metric(name: str, value: Any) -> MetricDelta:
        return MetricDelta(name, 0.5, value, None, None, "changed", "info")

    def param(name: str, value: Any) -> ParamDelta:
        return ParamDelta(name, None, value, "added")

    metrics = [metric(f"eval/metrics.json:m{i}", i / 7) for i in range(1100)]  # > 1000 a batch
    metrics += [
        metric("eval/metrics.json:test acc", 0.85),
        metric("eval/metrics.json:nan", math.nan),
        metric("eval/metrics.json:huge", 10**400),  # beyond a float: +inf
        metric("eval/metrics.json:-inf", -math.inf),
        metric("eval/metrics.json:int", 3),
        metric("eval/metrics.json:" + "x" * 300, 1.5),  # a key cut to 250 characters
        metric("dup:x*", 1.0),  # both become dup:x_, the greater one is the latest
        metric("dup:x_", 2.0),
        metric("tie:a*", math.nan),  # NaN and 0 under one key: stored alike, the first stays
        metric("tie:a_", 0.0),
        metric("same:k", 3.0),  # twice the same: one row
        metric("same:k", 3.0),
        metric("bool", True),  # not a number: no metric
        metric("text", "n/a"),
        metric("gone", None),
    ]
    params = [param(f"params.yaml:p{i}", "v" * (i * 60)) for i in range(120)]  # > 100 a batch
    params += [
        param("params.yaml:long", "w" * 7000),  # clipped to mlflow's 6000
        param("params.yaml:unicode", "é—ü 中文"),
        param("params.yaml:lines", "a\nb\r\nc"),
        param("params.yaml:nested", {"b": [1, 2], "a": None}),
        param("params.yaml:int", 10),
        param("params.yaml:none", None),
    ]
    return Result(
        context=ctx, verdict="pass", metrics=tuple(metrics), params=tuple(params), duration_s=1.25
    )


@pytest.fixture
def store(empty_db: Path, tmp_path: Path) -> Path:
    """A store and its experiment as mlci's first tracked check leaves them (made by mlflow)."""
    db = tmp_path / "made" / "mlflow.db"
    db.parent.mkdir()
    shutil.copy(empty_db, db)
    Tracker(f"sqlite:///{db}").experiment_id(EXPERIMENT)
    return db


def _copy(db: Path, folder: Path) -> Path:
    folder.mkdir()
    shutil.copy(db, folder / db.name)
    return folder / db.name


def _dump(db: Path, run_id: str | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table; the run id and the clock's readings replaced by placeholders."""
    with sqlite3.connect(db) as con:
        tables = [
            row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        out = {}
        for table in tables:
            cursor = con.execute(f'SELECT * FROM "{table}"')
            columns = [d[0] for d in cursor.description]
            rows = []
            for row in cursor:
                values: list[Any] = []
                for column, value in zip(columns, row, strict=True):
                    if (table, column) in CLOCK and value is not None:
                        value = "<clock>"
                    elif run_id and isinstance(value, str):
                        value = value.replace(run_id, "<run>")
                    values.append((type(value).__name__, value))  # 0 (integer) is not 0.0 (real)
                rows.append(tuple(values))
            out[table] = sorted(rows, key=repr)
    con.close()
    return out


def _clock(db: Path, run_id: str) -> tuple[int, set[int], int]:
    with sqlite3.connect(db) as con:
        start, end = con.execute(
            "SELECT start_time, end_time FROM runs WHERE run_uuid = ?", (run_id,)
        ).fetchone()
        stamps = {
            row[0]
            for table in ("metrics", "latest_metrics")
            for row in con.execute(f"SELECT timestamp FROM {table} WHERE run_uuid = ?", (run_id,))
        }
    con.close()
    return start, stamps, end


def _plain(values: dict[str, Any]) -> dict[str, str]:
    return {k: repr(v) for k, v in values.items()}  # NaN equals NaN as text


def _read_back(uri: str, run_id: str, where: Path) -> dict[str, Any]:
    """The run as mlflow's client reads it, the run id replaced."""
    client = _client(uri)
    run = client.get_run(run_id)
    history = {
        key: [(repr(m.value), m.step, m.timestamp) for m in client.get_metric_history(run_id, key)]
        for key in run.data.metrics
    }
    listed = {(a.path, a.is_dir, a.file_size) for a in client.list_artifacts(run_id, "mlci")}
    local = where / run_id
    local.mkdir(parents=True)
    texts = {
        path: Path(client.download_artifacts(run_id, path, str(local))).read_text("utf-8")
        for path, _, _ in listed
    }
    folder = Path(run.info.artifact_uri.removeprefix("file://")) / "mlci"
    modes = {p.name: p.stat().st_mode for p in folder.iterdir()}  # no staging file left behind
    info = run.info
    assert info.end_time >= info.start_time
    return {
        "info": (
            info.status,
            info.run_name,
            info.user_id,
            info.lifecycle_stage,
            info.experiment_id,
            info.artifact_uri.replace(run_id, "<run>"),
        ),
        "tags": run.data.tags,
        "params": run.data.params,
        "metrics": _plain(run.data.metrics),
        "history": {k: [(v, s) for v, s, _ in h] for k, h in history.items()},
        "listed": listed,
        "texts": {k: v.replace(run_id, "<run>") for k, v in texts.items()},
        "modes": modes,
    }


# --- equivalence ---------------------------------------------------------------------------


def _both_ways(store: Path, where: Path, result: Result) -> tuple[dict, dict[str, Any]]:
    """``result`` logged by mlflow's client and by the fast path into two copies of ``store``;
    asserts every table equal, returns the fast path's table dump and its run as mlflow reads it."""
    by_mlflow, by_sqlite = _copy(store, where / "a"), _copy(store, where / "b")
    logged = Tracker(f"sqlite:///{by_mlflow}").log_result(
        result, _report, experiment=EXPERIMENT, kind="check"
    )
    before = int(time.time() * 1000)
    fast = SqliteTracker(f"sqlite:///{by_sqlite}", os.environ)
    written = fast.log_result(result, _report, experiment=EXPERIMENT, kind="check")
    after = int(time.time() * 1000)
    assert written is not None, fast.aside
    assert fast.aside is None
    mlflow_id, sqlite_id = logged.mlflow["run_id"], written.mlflow["run_id"]
    assert mlflow_id != sqlite_id
    assert written.mlflow == {**logged.mlflow, "run_id": sqlite_id}

    # every table of both stores, row for row
    expected, got = _dump(by_mlflow, mlflow_id), _dump(by_sqlite, sqlite_id)
    assert set(got) == set(expected)
    for table in expected:
        assert got[table] == expected[table], table
    start, stamps, end = _clock(by_sqlite, sqlite_id)
    assert before <= start <= end <= after and all(start <= s <= end for s in stamps)

    # read back with mlflow's client: the same run
    from_mlflow = _read_back(f"sqlite:///{by_mlflow}", mlflow_id, where / "dl")
    from_sqlite = _read_back(f"sqlite:///{by_sqlite}", sqlite_id, where / "dl")
    assert from_sqlite == from_mlflow
    assert from_sqlite["info"][0] == "FINISHED"
    assert json.loads(from_sqlite["texts"]["mlci/result.json"])["mlflow"]["run_id"] == "<run>"
    assert set(from_sqlite["modes"]) == {"result.json", "report.md"}  # no staging file left
    return got, from_sqlite


def test_the_fast_path_writes_the_rows_and_files_mlflow_writes(store: Path, tmp_path: Path):
    rows, run = _both_ways(store, tmp_path, _result())
    counts = {t: len(rows[t]) for t in ("runs", "tags", "params", "metrics", "latest_metrics")}
    # 1100 + 6 metrics, dup:x_ twice, tie:a_ twice, same:k once; 120 + 5 params
    assert counts == {"runs": 1, "tags": 13, "params": 125, "metrics": 1111, "latest_metrics": 1109}
    metrics = run["metrics"]
    assert metrics["eval/metrics.json:nan"] == "nan" and metrics["tie:a_"] == "nan"
    # mlflow's SQL store keeps +-inf as the greatest finite float, and reads that back
    assert metrics["eval/metrics.json:huge"] == "1.7976931348623157e+308"
    assert metrics["eval/metrics.json:-inf"] == "-1.7976931348623157e+308"
    assert metrics["dup:x_"] == "2.0"
    assert len(run["params"]["params.yaml:long"]) == 6000
    assert run["history"]["dup:x_"] == [("1.0", 0), ("2.0", 0)]
    assert run["tags"]["mlflow.source.type"] == "JOB" and run["tags"]["mlci.pr"] == "7"


LONG = "m" * 300


@pytest.mark.parametrize(
    "metrics,params",
    [
        pytest.param({LONG + "a": 1.0, LONG + "b": 2.0}, {}, id="metric-keys-equal-in-250-chars"),
        pytest.param({"a/b": 1.0, "a_b": 2.0, "a..b": 3.0, "a__b": 4.0}, {}, id="colliding-keys"),
        pytest.param({"acc": 0.9}, {"x" * 300: "v", "p": "y" * 10_000}, id="long-param-key-value"),
        pytest.param({"\u2028line": 1.0, "tab\there": 2.0, " ": 3.0}, {}, id="odd-characters"),
        pytest.param({"a": -0.0, "b": 0.0, "c": 5e-324}, {"e": ""}, id="signed-zero-tiny-empty"),
    ],
)
def test_names_from_a_pull_request_are_stored_as_mlflow_stores_them(
    store: Path, tmp_path: Path, metrics: dict[str, float], params: dict[str, str]
):
    result = Result(
        context=Context(),
        verdict="pass",
        metrics=tuple(
            MetricDelta(f"eval/metrics.json:{k}", None, v, None, None, "new", "info")
            for k, v in metrics.items()
        ),
        params=tuple(ParamDelta(f"params.yaml:{k}", None, v, "added") for k, v in params.items()),
    )
    _both_ways(store, tmp_path, result)


def test_a_second_run_in_the_same_store_is_its_own(store: Path, tmp_path: Path):
    uri = f"sqlite:///{store}"
    first = SqliteTracker(uri, os.environ).log_result(
        _result(), _report, experiment=EXPERIMENT, kind="check"
    )
    second = SqliteTracker(uri, os.environ).log_result(
        _result(), _report, experiment=EXPERIMENT, kind="ci"
    )
    assert first is not None and second is not None
    runs = _client(uri).search_runs([first.mlflow["experiment_id"]])
    assert {r.info.run_id for r in runs} == {first.mlflow["run_id"], second.mlflow["run_id"]}
    assert {r.data.tags["mlci.kind"] for r in runs} == {"check", "ci"}


def test_others_see_the_whole_run_or_nothing(store: Path):
    """The report is rendered inside the transaction, after the rows: nobody sees them yet."""
    uri = f"sqlite:///{store}"
    exp_id = _client(uri).get_experiment_by_name(EXPERIMENT).experiment_id
    seen: list[int] = []

    def report(result: Result) -> str:
        run_id = result.mlflow["run_id"]
        with sqlite3.connect(store) as other:
            for table in ("runs", "tags", "params", "metrics", "latest_metrics"):
                query = f"SELECT count(*) FROM {table} WHERE run_uuid = ?"
                seen.append(other.execute(query, (run_id,)).fetchone()[0])
        other.close()
        seen.append(len(_client(uri).search_runs([exp_id])))  # mlflow's client, meanwhile
        return _report(result)

    written = SqliteTracker(uri, os.environ).log_result(
        _result(), report, experiment=EXPERIMENT, kind="check"
    )
    assert written is not None
    assert seen == [0, 0, 0, 0, 0, 0]
    run = _client(uri).get_run(written.mlflow["run_id"])
    assert run.info.status == "FINISHED" and len(run.data.params) == 125


def test_an_error_inside_the_transaction_leaves_nothing(store: Path):
    uri = f"sqlite:///{store}"
    before = _dump(store)
    folders = set((store.parent / "mlartifacts").glob("*"))

    def report(result: Result) -> str:  # after the rows and mlci/result.json
        raise RuntimeError("the report could not be rendered")

    with pytest.raises(RuntimeError, match="could not be rendered"):  # as with mlflow's client
        SqliteTracker(uri, os.environ).log_result(
            _result(), report, experiment=EXPERIMENT, kind="check"
        )
    assert _dump(store) == before
    assert set((store.parent / "mlartifacts").glob("*")) == folders


# --- where mlflow's client logs the run instead ----------------------------------------------


def _track(uri: str, root: Path, result: Result | None = None) -> tuple[Result, list[str]]:
    warnings: list[str] = []
    tracked = mlflow_adapter.track(
        result or _result(),
        Config(),
        root,
        {**os.environ, "MLFLOW_TRACKING_URI": uri},
        kind="check",
        report=_report,
        warn=warnings.append,
    )
    return tracked, warnings


def _stands_aside(uri: str, db: Path | None, result: Result | None = None) -> str:
    """The fast path writes nothing and says why."""
    before = _dump(db) if db is not None and db.exists() else None
    fast = SqliteTracker(uri, os.environ)
    assert (
        fast.log_result(result or _result(), _report, experiment=EXPERIMENT, kind="check") is None
    )
    if db is not None:
        assert (_dump(db) if db.exists() else None) == before
    assert fast.aside
    return fast.aside


def _statuses(db: Path) -> list[str]:
    with sqlite3.connect(db) as con:
        found = [row[0] for row in con.execute("SELECT status FROM runs")]
    con.close()
    return found


def _logged_by_mlflow(uri: str, tracked: Result, warnings: list[str], status: str) -> None:
    assert tracked.mlflow is not None, warnings
    run = _client(uri).get_run(tracked.mlflow["run_id"])
    assert run.info.status == status
    assert run.data.tags["mlci.kind"] == "check"


def test_no_database_file_mlflow_makes_the_store(git_repo: GitRepo, tmp_path: Path):
    db = tmp_path / "new" / "mlflow.db"
    uri = f"sqlite:///{db}"
    assert "existing SQLite file" in _stands_aside(uri, db)
    assert not db.exists()
    tracked, warnings = _track(uri, git_repo.path)
    assert not warnings
    _logged_by_mlflow(uri, tracked, warnings, "FINISHED")
    # the store and experiment mlflow made: the next run takes the fast path
    again = SqliteTracker(uri, os.environ)
    assert again.log_result(_result(), _report, experiment=EXPERIMENT, kind="check") is not None


def test_a_missing_experiment_is_made_by_mlflow(empty_db: Path, git_repo: GitRepo, tmp_path: Path):
    db = _copy(empty_db, tmp_path / "s")
    uri = f"sqlite:///{db}"
    assert "does not exist yet" in _stands_aside(uri, db)
    tracked, warnings = _track(uri, git_repo.path)
    _logged_by_mlflow(uri, tracked, warnings, "FINISHED")
    exp = _client(uri).get_experiment_by_name(EXPERIMENT)
    assert exp.artifact_location == (tmp_path / "s" / "mlartifacts").as_uri()


def test_an_unknown_schema_is_left_to_mlflow(store: Path, git_repo: GitRepo, tmp_path: Path):
    db = _copy(store, tmp_path / "s")  # a path this process's mlflow has not opened
    with sqlite3.connect(db) as con:
        con.execute("UPDATE alembic_version SET version_num = '0123456789ab'")
    con.close()
    uri = f"sqlite:///{db}"
    assert "schema" in _stands_aside(uri, db)
    tracked, warnings = _track(uri, git_repo.path)
    # mlflow refuses a schema it does not know either: its own words, and no run
    assert tracked.mlflow is None
    assert len(warnings) == 1 and "0123456789ab" in warnings[0], warnings
    assert _statuses(db) == []


def test_a_schema_this_release_does_not_know_is_logged_by_mlflow(
    store: Path, git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
):
    """After an mlflow upgrade mlci has not been compared with: mlflow's client logs the run."""
    from mlci.adapters import mlflow_sqlite

    monkeypatch.setattr(mlflow_sqlite, "KNOWN_SCHEMAS", {"0123456789ab": "3.17"})
    uri = f"sqlite:///{store}"
    assert "schema" in _stands_aside(uri, store)
    tracked, warnings = _track(uri, git_repo.path)
    assert not warnings
    _logged_by_mlflow(uri, tracked, warnings, "FINISHED")


def test_artifacts_outside_a_file_uri_are_left_to_mlflow(
    empty_db: Path, git_repo: GitRepo, tmp_path: Path
):
    db = _copy(empty_db, tmp_path / "s")
    uri = f"sqlite:///{db}"
    _client(uri).create_experiment(EXPERIMENT, artifact_location=str(tmp_path / "plain"))
    assert "keeps its artifacts at" in _stands_aside(uri, db)
    tracked, warnings = _track(uri, git_repo.path)
    _logged_by_mlflow(uri, tracked, warnings, "FINISHED")
    assert (tmp_path / "plain" / tracked.mlflow["run_id"] / "artifacts" / "mlci").is_dir()


def test_a_deleted_experiment_is_left_to_mlflow(store: Path, git_repo: GitRepo):
    uri = f"sqlite:///{store}"
    client = _client(uri)
    client.delete_experiment(client.get_experiment_by_name(EXPERIMENT).experiment_id)
    assert "deleted" in _stands_aside(uri, store)
    tracked, warnings = _track(uri, git_repo.path)
    assert tracked.mlflow is None and len(warnings) == 1  # mlflow: not in the active state


def test_a_key_mlflow_refuses_is_left_to_mlflow(store: Path, git_repo: GitRepo):
    uri = f"sqlite:///{store}"
    bad = MetricDelta("eval//acc", 0.5, 0.6, None, None, "changed", "info")
    result = Result(context=Context(), verdict="pass", metrics=(bad,))
    assert "metric key" in _stands_aside(uri, store, result)
    tracked, warnings = _track(uri, git_repo.path, result)
    # mlflow creates the run, refuses the metric, ends the run FAILED and mlci warns
    assert tracked.mlflow is None
    assert len(warnings) == 1 and "eval//acc" in warnings[0], warnings
    assert _statuses(store) == ["FAILED"]


def test_a_failure_before_commit_leaves_nothing_behind(store: Path, git_repo: GitRepo):
    uri = f"sqlite:///{store}"
    artifacts = store.parent / "mlartifacts"
    shutil.rmtree(artifacts, ignore_errors=True)
    artifacts.write_text("a file where the artifact folder goes")
    assert "mlartifacts" in _stands_aside(uri, store)
    assert artifacts.read_text() == "a file where the artifact folder goes"
    # mlflow's client then fails the same way, after it created the run: FAILED, and a warning
    tracked, warnings = _track(uri, git_repo.path)
    assert tracked.mlflow is None
    assert len(warnings) == 1 and "mlartifacts" in warnings[0], warnings
    assert _statuses(store) == ["FAILED"]


def test_workspaces_and_an_active_model_are_left_to_mlflow(store: Path):
    uri = f"sqlite:///{store}"
    for env in ({"MLFLOW_ENABLE_WORKSPACES": "true"}, {"MLFLOW_ACTIVE_MODEL_ID": "m-1"}):
        fast = SqliteTracker(uri, env)
        assert fast.log_result(_result(), _report, experiment=EXPERIMENT, kind="check") is None
        assert fast.aside


# --- what the fast path depends on -----------------------------------------------------------


def test_the_installed_mlflow_schema_is_known():
    """An mlflow upgrade fails here rather than leaving every run to mlflow's client unnoticed."""
    import mlflow
    from mlflow.store.db.utils import _get_latest_schema_revision

    head = _get_latest_schema_revision()
    assert head in KNOWN_SCHEMAS, f"compare mlflow {mlflow.__version__}'s writes, then add {head}"
    assert installed_mlflow() == mlflow.__version__
    assert mlflow.__version__.split(".")[:2] == KNOWN_SCHEMAS[head].split(".")


def test_the_module_imports_neither_mlflow_nor_sqlalchemy():
    code = (
        "import sys, mlci.adapters.mlflow_sqlite\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'mlflow', 'sqlalchemy', 'alembic'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


# --- end to end: mlci check with the default store ---------------------------------------------


def _check(repo: GitRepo) -> tuple[dict, bool]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, "check", "--no-repro", "--base", "main", "--format", "json"],
        cwd=repo.path,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=600,
    )
    out, _, last = proc.stdout.rstrip().rpartition("\n")
    assert proc.returncode == 0 and last.startswith("MLFLOW_IMPORTED="), proc.stdout + proc.stderr
    assert "warning" not in proc.stderr, proc.stderr
    return json.loads(out), last.endswith("True")


def test_the_second_tracked_check_logs_without_importing_mlflow(dvc_repo: GitRepo, tmp_path: Path):
    config = rules_config(
        ACC_RULE,
        before='repro:\n  enabled: false\n  require_committed_lock: "off"\n',
        after="mlflow:\n  experiment: e2e\n",
    )
    metrics_repo(dvc_repo, {"acc": 0.80, "loss": 0.2}, config=config)
    dvc_repo.git("checkout", "-q", "-b", "feature")
    dvc_repo.write("eval/metrics.json", {"acc": 0.85, "loss": 0.15})
    dvc_repo.commit("better")

    first, imported = _check(dvc_repo)
    assert imported  # the store and the experiment are mlflow's to make
    second, imported = _check(dvc_repo)
    assert not imported, "the second check imported mlflow"

    uri = f"sqlite:///{dvc_repo.path / '.git' / 'mlci' / 'mlflow.db'}"
    client = _client(uri)
    runs = {r: client.get_run(doc["mlflow"]["run_id"]) for r, doc in (("1", first), ("2", second))}
    assert runs["2"].info.status == "FINISHED"
    assert runs["2"].info.experiment_id == runs["1"].info.experiment_id
    assert second["mlflow"]["experiment_id"] == first["mlflow"]["experiment_id"]
    for part in ("tags", "params", "metrics"):
        assert getattr(runs["2"].data, part) == getattr(runs["1"].data, part), part
    assert runs["2"].data.metrics == {"eval/metrics.json:acc": 0.85, "eval/metrics.json:loss": 0.15}
    local = tmp_path / "dl"
    local.mkdir()
    logged = client.download_artifacts(second["mlflow"]["run_id"], "mlci/result.json", str(local))
    assert json.loads(Path(logged).read_text("utf-8")) == second  # the result printed
    assert dvc_repo.git("status", "--porcelain") == ""


def test_verbose_says_why_a_check_logged_with_mlflows_client(
    empty_db: Path, git_repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """The first check to a store (no experiment yet) imports mlflow; --verbose says why."""
    db = _copy(empty_db, tmp_path / "s")
    capsys.readouterr()
    tracked = mlflow_adapter.track(
        _result(),
        Config(),
        git_repo.path,
        {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{db}"},
        kind="check",
        report=_report,
        verbose=True,
    )
    assert tracked.mlflow is not None
    err = capsys.readouterr().err
    assert "mlci: MLflow: logging with mlflow's client: experiment " in err
    assert "does not exist yet" in err
