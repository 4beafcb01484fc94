"""A check that logs its run to MLflow against the same check without it.   target ratio <= 1.5

`mlci check --no-repro --base main --format json` on the example project, three ways, interleaved
so that each sees the same machine load:

    untracked  no MLFLOW_TRACKING_URI
    sqlite     MLFLOW_TRACKING_URI=sqlite:///... : the store and its experiment made once before
               (by the first tracked check, through mlflow, as in real use), then each run
               written into it with sqlite3, no mlflow import
    server     MLFLOW_TRACKING_URI=http://127.0.0.1:PORT, a local `mlflow server` (SQLite store,
               proxied artifacts) started here: the run logged through the REST API, no mlflow import

Both tracked ratios have the target; the first tracked check to a new SQLite store (mlflow
imported, the store and experiment made) is printed for information. Every tracked run is checked
to be FINISHED, with its result and report, once mlci has exited, and a check to the SQLite store
is checked not to have imported mlflow. The server runs on the same machine, so its work competes
with the check's for the cores (on a CI runner it is elsewhere).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from _common import BIN, ENV, example_repo, report, run, timed_cpu

CHECK = f"{BIN / 'mlci'} check --no-repro --base main --format json"
STARTUP_LIMIT_S = 300


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as reply:
        return json.loads(reply.read())


def _start_server(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - the server's whole life
    proc = subprocess.Popen(
        [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{folder / 'server.db'}",
            "--artifacts-destination",
            str(folder / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=folder,
        env={
            **ENV,
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        },
        start_new_session=True,
    )
    deadline = time.monotonic() + STARTUP_LIMIT_S
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as reply:
                if reply.status == 200:
                    return proc, url
        except (urllib.error.URLError, OSError):
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc)
            raise SystemExit(f"mlflow server did not start:\n{(folder / 'server.log').read_text()}")
        time.sleep(0.5)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def finished_in_store(db: Path, out: bytes) -> bool:
    run_id = json.loads(out)["mlflow"]["run_id"]
    with sqlite3.connect(db) as con:
        row = con.execute(
            "select status, artifact_uri from runs where run_uuid = ?", (run_id,)
        ).fetchone()
    con.close()
    if row is None or row[0] != "FINISHED":
        return False
    folder = Path(row[1].removeprefix("file://")) / "mlci"
    return {p.name for p in folder.iterdir()} == {"result.json", "report.md"}


def imports_mlflow(cmd_env: str, repo: Path) -> bool:
    """Whether the check, run in a Python that reports its modules afterwards, imported mlflow."""
    probe = (
        "import sys; from mlci.cli import main; code = main(sys.argv[1:]); "
        "sys.stdout.flush(); print('\\nMLFLOW=' + str('mlflow' in sys.modules))"
    )
    args = "check --no-repro --base main --format json"
    out = run(f'{cmd_env} {BIN / "python"} -c "{probe}" {args}', repo).stdout.decode()
    return out.rstrip().endswith("MLFLOW=True")


def finished_on_server(url: str, out: bytes) -> bool:
    run_id = json.loads(out)["mlflow"]["run_id"]
    info = _get(f"{url}/api/2.0/mlflow/runs/get?run_id={run_id}")["run"]["info"]
    files = _get(f"{url}/api/2.0/mlflow/artifacts/list?run_id={run_id}&path=mlci")
    names = {f["path"] for f in files.get("files", [])}
    return info["status"] == "FINISHED" and names == {"mlci/result.json", "mlci/report.md"}


def main() -> int | str:
    with tempfile.TemporaryDirectory() as tmp:
        repo = example_repo(Path(tmp))
        folder = Path(tmp) / "server"
        folder.mkdir()
        proc, url = _start_server(folder)
        try:
            db = Path(tmp) / "mlflow.db"
            arms = {
                "untracked": CHECK,
                "sqlite": f"MLFLOW_TRACKING_URI=sqlite:///{db} {CHECK}",
                "server": f"MLFLOW_TRACKING_URI={url} {CHECK}",
            }
            checks = {"sqlite": lambda out: finished_in_store(db, out)}
            checks["server"] = lambda out: finished_on_server(url, out)
            run(arms["untracked"], repo)  # the file cache warm for the first tracked check
            # the first check to a new SQLite store: mlflow makes the store and the experiment
            first = timed_cpu(arms["sqlite"], repo)
            for name, cmd in arms.items():  # the warm-up
                out = run(cmd, repo).stdout
                if name in checks and not checks[name](out):
                    return f"a check tracked to {name} exited before its run was complete"
            if imports_mlflow(f"MLFLOW_TRACKING_URI=sqlite:///{db}", repo):
                return "a check tracked to the SQLite store imported mlflow"
            times: dict[str, list[tuple[float, float]]] = {name: [] for name in arms}
            for _ in range(5):
                for name, cmd in arms.items():
                    times[name].append(timed_cpu(cmd, repo))
            for name in checks:  # the timed runs were complete too
                if not checks[name](run(arms[name], repo).stdout):
                    return f"a check tracked to {name} exited before its run was complete"
        finally:
            _stop(proc)
    med = {
        name: (statistics.median(t[0] for t in ts), statistics.median(t[1] for t in ts))
        for name, ts in times.items()
    }
    (ws, cs), (wq, cq), (wu, cu) = med["server"], med["sqlite"], med["untracked"]
    report(
        "(a) check tracked to an mlflow server (REST, no mlflow import) vs untracked",
        ws,
        wu,
        "<= 1.5",
        cpu=(cs, cu),
    )
    report(
        "(b) check tracked to a SQLite store (its rows written with sqlite3, no mlflow import) "
        "vs untracked",
        wq,
        wu,
        "<= 1.5",
        cpu=(cq, cu),
    )
    report(
        "(c) for information: the first check tracked to a new SQLite store (mlflow imported, "
        "the store and the experiment made) vs untracked",
        first[0],
        wu,
        "none",
        cpu=(first[1], cu),
    )
    return 1 if ws / wu > 1.5 or wq / wu > 1.5 else 0


if __name__ == "__main__":
    sys.exit(main())
