"""A check's MLflow run written straight into a local SQLite store, without importing mlflow.

Importing mlflow and opening its SQLAlchemy store takes seconds, several times a
``check --no-repro``. mlci's default store is a SQLite file (``sqlite:///<git dir>/mlci/mlflow.db``),
so :class:`SqliteTracker` writes the rows mlflow 3.17 writes for
:meth:`mlci.adapters.mlflow.Tracker.log_result` (without a model) with the standard library's
``sqlite3``: the ``runs`` row (``FINISHED``, start and end time, ``artifact_uri`` =
``<experiment's artifact_location>/<run id>/artifacts``, user ``unknown``, source ``UNKNOWN``),
its ``tags`` (with ``mlflow.runName``), ``params``, ``metrics`` and ``latest_metrics`` (step 0, one
timestamp; NaN stored as 0 with ``is_nan``, +-inf as +-1.7976931348623157e308, as mlflow's
SQLAlchemy store does), and the text artifacts ``mlci/result.json`` and ``mlci/report.md`` as
files under the run's ``file://`` artifact URI, where mlflow's local artifact repository puts
them (written to a hidden file in the folder, then renamed). The run's content is
:func:`~mlci.adapters.mlflow_rest.run_content`, shared with the other two paths.

Everything happens in one transaction (``BEGIN IMMEDIATE``, mlflow's 20 s busy timeout, the
artifact files written before ``COMMIT``): a parallel check or an mlflow process sees the whole
run or nothing. mlflow writes the run in steps; this path never leaves a run ``RUNNING``.

:meth:`SqliteTracker.log_result` returns None, having written nothing, wherever it cannot be sure
to store exactly what mlflow would, and mlci then logs the run with mlflow's client
(:func:`mlci.adapters.mlflow.track`): a URI other than ``sqlite:///<existing file>``, an
installed mlflow or a database schema (``alembic_version``) not in :data:`KNOWN_SCHEMAS`, an
experiment that does not exist yet (mlflow creates it and chooses its artifact location), is
deleted, or keeps its artifacts anywhere but a local ``file:`` URI, a store without mlflow's
``Default`` experiment or with experiments in workspaces, ``MLFLOW_ENABLE_WORKSPACES``, an active
model (``MLFLOW_ACTIVE_MODEL_ID``), a plugin for the ``sqlite`` store or ``file`` artifacts, a
key or value mlflow's validation would refuse or truncate, and any error before ``COMMIT``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import posixpath
import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from mlci.adapters.mlflow_rest import RunContent, run_content
from mlci.model.result import Result

# alembic head revision -> the mlflow release (major.minor) whose writes this module reproduces
# and whose schema it is. A newer mlflow migrates the store to a newer head, and this path stands
# aside until its writes have been compared again (tests/test_mlflow_sqlite.py).
KNOWN_SCHEMAS: dict[str, str] = {"dc11669786a5": "3.17"}
BUSY_TIMEOUT_S = 20.0  # mlflow's PRAGMA busy_timeout = 20000
# mlflow/utils/validation.py
MAX_KEY_LENGTH, MAX_PARAM_VALUE_LENGTH = 250, 6000
_NAME = re.compile(r"^[/\w.\- :]*$" if os.name != "nt" else r"^[/\w.\- ]*$")
MAX_FLOAT = 1.7976931348623157e308  # how mlflow's SQL store keeps +-inf
TEMP_PREFIX = ".artifact.uploading."  # mlflow's local artifact repository's staging files
DEFAULT_WORKSPACE = "default"


class _Aside(Exception):
    """This run is mlflow's to log: the reason, nothing written."""


def _valid_name(name: str) -> bool:
    """mlflow's rule for a metric, param or tag key (``_validate_param_name`` and friends)."""
    if not _NAME.match(name):
        return False
    norm = posixpath.normpath(name)
    return not (norm != name or norm == "." or norm.startswith(("..", "/")))


def database(uri: str) -> Path | None:
    """The existing database file of a ``sqlite:///<file>`` URI; None for anything else."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :]
    if not path or any(c in path for c in "?#%"):  # options or escapes: SQLAlchemy's to read
        return None
    found = Path(path).resolve()
    return found if found.is_file() else None


def installed_mlflow() -> str | None:
    """The installed mlflow's version, read from its ``version.py`` without importing it."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("mlflow")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    try:
        text = Path(spec.origin).with_name("version.py").read_text("utf-8")
    except OSError:
        return None
    found = re.search(r'^VERSION = "([^"]+)"', text, re.MULTILINE)
    return found.group(1) if found else None


def _environment_aside(env: Mapping[str, str]) -> str | None:
    """Why mlflow's client would store this run differently than this module would, if it would."""
    if (env.get("MLFLOW_ENABLE_WORKSPACES") or "false").strip().lower() not in ("false", "0", ""):
        return "MLFLOW_ENABLE_WORKSPACES is set"
    if env.get("MLFLOW_WORKSPACE"):
        return "MLFLOW_WORKSPACE selects a workspace"
    if env.get("MLFLOW_ACTIVE_MODEL_ID") or env.get("_MLFLOW_ACTIVE_MODEL_ID"):
        return "an active model gets the metrics too"
    from importlib.metadata import entry_points

    found = entry_points()
    if any(ep.name == "sqlite" for ep in found.select(group="mlflow.tracking_store")):
        return "a plugin provides the sqlite tracking store"
    if any(ep.name == "file" for ep in found.select(group="mlflow.artifact_repository")):
        return "a plugin provides the file artifact repository"
    return None


def _content_aside(content: RunContent) -> str | None:
    """Why mlflow would refuse, truncate or rename part of this run, if it would."""
    if "mlflow.runName" in content.tags:
        return "the tags name the run"
    for key, _ in content.metrics:
        if not _valid_name(key) or len(key) > MAX_KEY_LENGTH:
            return f"metric key {key!r}"
    for key, value in content.params.items():
        if not _valid_name(key) or len(key) > MAX_KEY_LENGTH:
            return f"param key {key!r}"
        if len(value) > MAX_PARAM_VALUE_LENGTH:
            return f"param {key!r}: a value longer than {MAX_PARAM_VALUE_LENGTH} characters"
    return None


def _local_artifacts(location: str | None) -> bool:
    """Whether mlflow keeps the experiment's run artifacts in a local folder it names by URI."""
    if not location:
        return False
    parts = urlparse(location)
    return (
        parts.scheme == "file"
        and parts.netloc == ""
        and parts.path.startswith("/")
        and not (parts.params or parts.query or parts.fragment)
    )


def run_artifact_uri(location: str, run_id: str) -> str:
    """mlflow's ``append_to_uri_path(artifact_location, run_id, "artifacts")`` for a file: URI."""
    parts = urlparse(location)
    return urlunparse(parts._replace(path=posixpath.join(parts.path, f"{run_id}/artifacts")))


def artifact_folder(artifact_uri: str) -> Path:
    """mlflow's ``local_file_uri_to_path`` of a ``file:///`` URI (on POSIX: unquoted)."""
    from urllib.request import url2pathname

    return Path(url2pathname(urlparse(artifact_uri).path))


def _sanitized(value: float) -> tuple[float, bool]:
    """mlflow's ``sanitize_metric_value``: (the value stored, is_nan)."""
    if math.isnan(value):
        return 0.0, True
    if math.isinf(value):
        return (MAX_FLOAT if value > 0 else -MAX_FLOAT), False
    return value, False


def metric_rows(
    metrics: list[tuple[str, float]],
) -> tuple[list[tuple[str, float, bool]], dict[str, tuple[float, bool]]]:
    """The ``metrics`` rows (key, value, is_nan) and ``latest_metrics`` (key -> value, is_nan).

    As mlflow's store: a metric identical to one before it in (key, stored value, is_nan) is one
    row; the latest value of a key is the first of the greatest (step and timestamp are the
    same for all of them here), a NaN counting as 0.
    """
    rows: dict[tuple[str, float, bool], None] = {}
    for key, value in metrics:
        stored, is_nan = _sanitized(value)
        rows.setdefault((key, stored, is_nan), None)
    latest: dict[str, tuple[float, bool]] = {}
    for key, stored, is_nan in rows:
        if key not in latest or stored > latest[key][0]:
            latest[key] = (stored, is_nan)
    return list(rows), latest


def _write_text(folder: Path, name: str, text: str) -> None:
    """A file as mlflow's ``log_text`` leaves it: UTF-8 text mode, staged, then renamed into place."""
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
    try:
        with open(staged, "x", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(staged, folder / name)
    finally:
        staged.unlink(missing_ok=True)


def _now_ms() -> int:
    return int(time.time() * 1000)


class SqliteTracker:
    """Writes a check's run into a local SQLite MLflow store (see the module's docstring)."""

    def __init__(self, uri: str, env: Mapping[str, str]) -> None:
        self.uri = uri
        self._env = env
        self.aside: str | None = None  # why the last run was left to mlflow

    def log_result(
        self,
        result: Result,
        markdown: Callable[[Result], str],
        *,
        experiment: str,
        kind: str,
        tags: Mapping[str, str] | None = None,
    ) -> Result | None:
        """The result with its run's reference once the run is stored; None: left to mlflow."""
        try:
            return self._log(result, markdown, experiment, run_content(result, kind, tags))
        except _Aside as exc:
            self.aside = str(exc)
            return None

    def _log(
        self,
        result: Result,
        markdown: Callable[[Result], str],
        experiment: str,
        content: RunContent,
    ) -> Result:
        db = database(self.uri)
        if db is None:
            raise _Aside("not the URI of an existing SQLite file")
        why = _content_aside(content) or _environment_aside(self._env)
        if why:
            raise _Aside(why)
        try:
            con = sqlite3.connect(
                f"{db.as_uri()}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise _Aside(f"opening the database: {exc}") from exc
        try:
            return self._transaction(con, result, markdown, experiment, content)
        finally:
            con.close()

    def _transaction(
        self,
        con: sqlite3.Connection,
        result: Result,
        markdown: Callable[[Result], str],
        experiment: str,
        content: RunContent,
    ) -> Result:
        run_id = uuid.uuid4().hex
        folder: Path | None = None
        try:
            con.execute("PRAGMA foreign_keys = ON")
            con.execute("BEGIN IMMEDIATE")
            exp_id, location = self._experiment(con, experiment)
            artifact_uri = run_artifact_uri(location, run_id)
            folder = artifact_folder(artifact_uri)
            ref = {"run_id": run_id, "experiment_id": str(exp_id), "url": None}
            result = dataclasses.replace(result, mlflow=dict(ref))
            self._insert(con, run_id, exp_id, artifact_uri, content)
            _write_text(folder / "mlci", "result.json", result.to_json())
            _write_text(folder / "mlci", "report.md", markdown(result))
            con.execute(
                "UPDATE runs SET status = 'FINISHED', end_time = ? WHERE run_uuid = ?",
                (_now_ms(), run_id),
            )
            con.execute("COMMIT")
            return result
        except BaseException as exc:
            kept = _rollback(con)
            if folder is not None and not kept:
                _remove_run_folder(folder)
            if isinstance(exc, _Aside):
                raise
            if isinstance(exc, (sqlite3.Error, OSError, ValueError)):
                raise _Aside(
                    f"{exc}" + (f"; the files in {folder} are kept" if kept else "")
                ) from exc
            raise

    def _experiment(self, con: sqlite3.Connection, name: str) -> tuple[int, str]:
        """The experiment's id and artifact location, once the store is one this module knows."""
        revisions = [row[0] for row in con.execute("SELECT version_num FROM alembic_version")]
        release = KNOWN_SCHEMAS.get(revisions[0]) if len(revisions) == 1 else None
        if release is None:
            raise _Aside(f"database schema {revisions} is not one this version of mlci knows")
        version = installed_mlflow() or ""
        if version.split(".")[:2] != release.split("."):
            raise _Aside(f"mlflow {version or '(not found)'} is not mlflow {release}")
        if con.execute("SELECT 1 FROM experiments WHERE experiment_id = 0").fetchone() is None:
            raise _Aside("no Default experiment: mlflow makes it")
        other = con.execute(
            "SELECT 1 FROM experiments WHERE workspace IS NOT NULL AND workspace != ? LIMIT 1",
            (DEFAULT_WORKSPACE,),
        ).fetchone()
        if other is not None:
            raise _Aside("experiments in other workspaces")
        found = con.execute(
            "SELECT experiment_id, artifact_location, lifecycle_stage FROM experiments "
            "WHERE name = ?",
            (name,),
        ).fetchall()
        if len(found) != 1:
            raise _Aside(f"experiment {name!r} does not exist yet: mlflow makes it")
        exp_id, location, stage = found[0]
        if stage != "active":
            raise _Aside(f"experiment {name!r} is {stage}")
        if not _local_artifacts(location):
            raise _Aside(f"experiment {name!r} keeps its artifacts at {location!r}")
        return int(exp_id), str(location)

    def _insert(
        self,
        con: sqlite3.Connection,
        run_id: str,
        exp_id: int,
        artifact_uri: str,
        content: RunContent,
    ) -> None:
        """The rows of ``create_run``, ``log_batch`` (metrics, then params) before ``set_terminated``."""
        con.execute(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
            "user_id, status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, "
            "experiment_id, deleted_time) "
            "VALUES (?, ?, 'UNKNOWN', '', '', ?, 'RUNNING', ?, NULL, '', 'active', ?, ?, NULL)",
            (
                run_id,
                content.name,
                content.tags.get("mlflow.user", "unknown"),
                _now_ms(),
                artifact_uri,
                exp_id,
            ),
        )
        tags = [*content.tags.items(), ("mlflow.runName", content.name)]
        con.executemany(
            "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
            [(key, value, run_id) for key, value in tags],
        )
        now = _now_ms()
        rows, latest = metric_rows(content.metrics)
        con.executemany(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
            "VALUES (?, ?, ?, ?, 0, ?)",
            [(key, value, now, run_id, is_nan) for key, value, is_nan in rows],
        )
        con.executemany(
            "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
            "VALUES (?, ?, ?, 0, ?, ?)",
            [(key, value, now, is_nan, run_id) for key, (value, is_nan) in latest.items()],
        )
        con.executemany(
            "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
            [(key, value, run_id) for key, value in content.params.items()],
        )


def _rollback(con: sqlite3.Connection) -> bool:
    """Undo the open transaction; True when that failed (and the run may be stored after all)."""
    if not con.in_transaction:
        return False
    try:
        con.execute("ROLLBACK")
    except sqlite3.Error:
        return True
    return False


def _remove_run_folder(folder: Path) -> None:
    """The files of a run that was not stored (``<location>/<run id>/artifacts``: made here)."""
    import shutil

    shutil.rmtree(folder.parent, ignore_errors=True)
