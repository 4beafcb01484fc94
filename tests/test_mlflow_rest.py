"""A check logging to a real `mlflow server` goes through its REST API, without importing mlflow.

The server is the installed mlflow's (SQLite store, proxied artifacts), started once per session
by :func:`tests.test_mlflow_server.mlflow_server`. What the check logged is read back with
mlflow's own client and compared with the run the in-process client logs to a SQLite store for
the same check. Whether mlflow was imported is asked of the check's own process: the check runs
in a subprocess that reports ``sys.modules`` after ``main`` returned.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import test_deploy, test_mlflow_server
from tests.conftest import ACC_RULE, GitRepo, metrics_repo, rules_config

empty_db = test_deploy.empty_db
mlflow_server = test_mlflow_server.mlflow_server

PROBE = """
import sys
from mlci.cli import main
code = main(sys.argv[1:])
sys.stdout.flush()
print("\\nMLFLOW_IMPORTED=" + str("mlflow" in sys.modules))
sys.exit(code)
"""


def _config(experiment: str) -> str:
    return rules_config(
        ACC_RULE,
        before='repro:\n  enabled: false\n  require_committed_lock: "off"\n',
        after=f"mlflow:\n  experiment: {experiment}\n",
    )


@pytest.fixture
def project(dvc_repo: GitRepo) -> tuple[GitRepo, str]:
    """A one-stage project on main, a feature branch that improved acc; its own experiment."""
    experiment = f"rest-{uuid.uuid4().hex[:8]}"
    metrics_repo(dvc_repo, {"acc": 0.80, "loss": 0.2}, config=_config(experiment))
    dvc_repo.git("checkout", "-q", "-b", "feature")
    dvc_repo.write("eval/metrics.json", {"acc": 0.85, "loss": 0.15})
    dvc_repo.commit("better")
    return dvc_repo, experiment


def _client(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _run_in_subprocess(repo: GitRepo, uri: str, *args: str) -> tuple[int, dict, bool, str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=repo.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out, _, last = proc.stdout.rstrip().rpartition("\n")
    assert last.startswith("MLFLOW_IMPORTED="), proc.stdout + proc.stderr
    return proc.returncode, json.loads(out), last.endswith("True"), proc.stderr


def _logged(uri: str, run_id: str, where: Path) -> dict:
    client = _client(uri)
    run = client.get_run(run_id)
    files = {a.path for a in client.list_artifacts(run_id, "mlci")}
    local = where / run_id
    local.mkdir()
    texts = {
        name: Path(client.download_artifacts(run_id, name, str(local))).read_text("utf-8")
        for name in sorted(files)
    }
    return {
        "status": run.info.status,
        "end_time": run.info.end_time,
        "name": run.info.run_name,
        "tags": run.data.tags,
        "metrics": run.data.metrics,
        "params": run.data.params,
        "texts": texts,
    }


def test_a_check_logs_its_run_over_rest_without_importing_mlflow(
    project: tuple[GitRepo, str], mlflow_server: str, empty_db: Path, tmp_path: Path
):
    repo, experiment = project
    args = ("check", "--no-repro", "--base", "main", "--format", "json")
    code, doc, imported, err = _run_in_subprocess(repo, mlflow_server, *args)
    assert code == 0, err
    assert not imported, "the check's process imported mlflow"
    assert "warning" not in err
    ref = doc["mlflow"]
    exp = _client(mlflow_server).get_experiment_by_name(experiment)
    assert ref["experiment_id"] == exp.experiment_id
    assert ref["url"] == f"{mlflow_server}/#/experiments/{exp.experiment_id}/runs/{ref['run_id']}"

    served = _logged(mlflow_server, ref["run_id"], tmp_path)
    assert served["status"] == "FINISHED" and served["end_time"]
    head = repo.git("rev-parse", "HEAD")
    assert served["name"] == f"check {head[:7]}"
    tags = served["tags"]
    assert tags["mlci.git.sha"] == head and tags["mlci.git.branch"] == "feature"
    assert tags["mlci.kind"] == "check" and tags["mlci.verdict"] == "pass"
    assert tags["mlflow.source.git.commit"] == head and tags["mlflow.source.type"] == "LOCAL"
    assert served["metrics"] == {"eval/metrics.json:acc": 0.85, "eval/metrics.json:loss": 0.15}
    assert served["params"] == {"params.yaml:train.lr": "0.1", "params.yaml:train.epochs": "10"}
    assert set(served["texts"]) == {"mlci/result.json", "mlci/report.md"}
    assert json.loads(served["texts"]["mlci/result.json"]) == doc  # the result printed
    assert served["texts"]["mlci/report.md"].startswith("<!-- mlci:report")

    # the same check logged in process to a SQLite store: the same run, but for its reference
    db = tmp_path / "local.db"
    shutil.copy(empty_db, db)
    local_uri = f"sqlite:///{db}"
    code, local_doc, imported, err = _run_in_subprocess(repo, local_uri, *args)
    assert code == 0 and imported, err
    local = _logged(local_uri, local_doc["mlflow"]["run_id"], tmp_path)
    for key in ("status", "name", "tags", "metrics", "params"):
        assert served[key] == local[key], key
    assert set(local["texts"]) == set(served["texts"])
    unlike = {"mlflow": None, "duration_s": None}  # the run's reference, the check's time
    logged_here = json.loads(local["texts"]["mlci/result.json"])
    assert {**logged_here, **unlike} == {**doc, **unlike}


def test_an_unreachable_server_is_a_warning_and_the_exit_code_stays(
    project: tuple[GitRepo, str], mlci, monkeypatch: pytest.MonkeyPatch
):
    repo, _ = project
    port = test_mlflow_server._free_port()  # nothing listens there
    untracked = mlci(repo, "check", "--no-repro", "--base", "main")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://bot:s3cr3t@127.0.0.1:{port}")
    run = mlci(repo, "check", "--no-repro", "--base", "main")
    assert run.code == untracked.code == 0
    [line] = [x for x in run.err.splitlines() if "warning" in x]
    assert line.startswith(
        f"mlci: warning: the run was not logged to MLflow: MLflow (http://127.0.0.1:{port}): "
        "reading experiment "
    )
    assert "cannot reach the server" in line and "s3cr3t" not in run.err


def test_a_server_error_is_a_warning_naming_the_step(
    project: tuple[GitRepo, str], mlflow_server: str, mlci, monkeypatch: pytest.MonkeyPatch
):
    repo, experiment = project
    client = _client(mlflow_server)
    client.delete_experiment(client.create_experiment(experiment))  # a run cannot go there
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "t0ken-value")
    run = mlci(repo, "check", "--no-repro", "--base", "main")
    assert run.code == 0, run.err
    [line] = [x for x in run.err.splitlines() if "warning" in x]
    assert line.startswith(
        f"mlci: warning: the run was not logged to MLflow: MLflow ({mlflow_server}): "
        "creating a run: "
    )
    assert "active" in line and "t0ken-value" not in run.err


def test_artifacts_the_server_does_not_proxy_are_written_by_mlflows_client(
    project: tuple[GitRepo, str], mlflow_server: str, mlci, monkeypatch, tmp_path: Path
):
    """An experiment whose artifacts live elsewhere (here a folder): mlflow's repository writes them."""
    repo, experiment = project
    store = tmp_path / "elsewhere"
    _client(mlflow_server).create_experiment(experiment, artifact_location=store.as_uri())
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    run = mlci(repo, "check", "--no-repro", "--base", "main", "--format", "json")
    assert run.code == 0, run.err
    run_id = run.json()["mlflow"]["run_id"]
    assert _client(mlflow_server).get_run(run_id).info.status == "FINISHED"
    folder = next(store.rglob(run_id)) / "artifacts" / "mlci"
    assert sorted(p.name for p in folder.iterdir()) == ["report.md", "result.json"]
    assert json.loads((folder / "result.json").read_text()) == run.json()


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A server that refuses everyone, as an MLflow server with auth on does, noting the header."""

    seen: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).seen.append(self.headers.get("Authorization"))
        body = b"You are not authenticated."
        self.send_response(401)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def refusing_server() -> Iterator[tuple[str, list[str | None]]]:
    seen: list[str | None] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        thread.join()


@pytest.mark.parametrize(
    ("env", "sent"),
    [
        ({"MLFLOW_TRACKING_TOKEN": "tok-1"}, "Bearer tok-1"),
        (
            {"MLFLOW_TRACKING_USERNAME": "ann", "MLFLOW_TRACKING_PASSWORD": "pw-2"},
            "Basic " + base64.b64encode(b"ann:pw-2").decode(),
        ),
        (  # MLflow's order: the username and password win over a token
            {
                "MLFLOW_TRACKING_USERNAME": "ann",
                "MLFLOW_TRACKING_PASSWORD": "pw-2",
                "MLFLOW_TRACKING_TOKEN": "tok-1",
            },
            "Basic " + base64.b64encode(b"ann:pw-2").decode(),
        ),
        ({"URL_USER": "bob:pw-3"}, "Basic " + base64.b64encode(b"bob:pw-3").decode()),
        ({}, None),
    ],
    ids=["token", "basic", "basic-over-token", "in-the-uri", "none"],
)
def test_the_credentials_are_sent_as_mlflow_sends_them_and_never_shown(
    project, refusing_server, mlci, monkeypatch, env, sent
):
    repo, _ = project
    url, seen = refusing_server
    user = env.pop("URL_USER", None)
    uri = url.replace("//", f"//{user}@") if user else url
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    run = mlci(repo, "check", "--no-repro", "--base", "main")
    assert run.code == 0, run.err
    assert seen == [sent]  # one request: a refusal is not asked again
    [line] = [x for x in run.err.splitlines() if "warning" in x]
    assert line.endswith("reading experiment " + project[1] + ": HTTP 401 Unauthorized")
    for secret in ("tok-1", "pw-2", "pw-3"):
        assert secret not in run.err


def test_mlflows_client_is_used_where_this_one_cannot_sign_in(tmp_path: Path):
    from mlci.adapters.mlflow_rest import client_needed

    home = tmp_path / "home"
    home.mkdir()
    assert client_needed({"HOME": str(home)}) is None
    assert "MLFLOW_TRACKING_AUTH" in str(
        client_needed({"HOME": str(home), "MLFLOW_TRACKING_AUTH": "my_plugin"})
    )
    assert "SIGV4" in str(client_needed({"HOME": str(home), "MLFLOW_TRACKING_AWS_SIGV4": "true"}))
    assert client_needed({"HOME": str(home), "MLFLOW_TRACKING_AWS_SIGV4": "false"}) is None
    assert "MLFLOW_WORKSPACE" in str(client_needed({"HOME": str(home), "MLFLOW_WORKSPACE": "w"}))
    (home / ".mlflow").mkdir()
    (home / ".mlflow" / "credentials").write_text("[mlflow]\nmlflow_tracking_username = a\n")
    assert "credentials" in str(client_needed({"HOME": str(home)}))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"], ids=["same-host", "other-host"])
def test_a_redirect_takes_the_credentials_to_the_same_host_only(
    project, refusing_server, mlci, monkeypatch, host
):
    repo, _ = project
    target, seen = refusing_server
    port = target.rsplit(":", 1)[1]

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(302)
            self.send_header("Location", f"http://{host}:{port}{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-1")
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{server.server_address[1]}")
        run = mlci(repo, "check", "--no-repro", "--base", "main")
    finally:
        server.shutdown()
        thread.join()
    assert run.code == 0 and "HTTP 401 Unauthorized" in run.err
    assert seen == (["Bearer tok-1"] if host == "127.0.0.1" else [None])


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path, list[str | None]]]:
    """The refusing server over https, its certificate self-signed for 127.0.0.1."""
    import ssl

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    seen: list[str | None] = []
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), type("Handler", (_Recorder,), {"seen": seen})
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.handle_error = lambda *args: None  # type: ignore[method-assign]  # refused handshakes
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", cert, seen
    finally:
        server.shutdown()
        thread.join()


@pytest.mark.parametrize("trust", ["none", "server-cert", "insecure"])
def test_tls_is_checked_as_mlflow_checks_it(project, tls_server, mlci, monkeypatch, trust):
    repo, _ = project
    url, cert, seen = tls_server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-1")
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    if trust == "server-cert":
        monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(cert))
    elif trust == "insecure":
        monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
    run = mlci(repo, "check", "--no-repro", "--base", "main")
    assert run.code == 0, run.err
    [line] = [x for x in run.err.splitlines() if "warning" in x]
    if trust == "none":  # a certificate nobody vouches for: nothing is sent
        assert "CERTIFICATE_VERIFY_FAILED" in line and seen == []
    else:
        assert line.endswith("HTTP 401 Unauthorized") and seen == ["Bearer tok-1"]
