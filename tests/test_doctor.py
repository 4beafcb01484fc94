"""`mlci doctor` on real repositories: shallow clones, DVC remotes, MLflow, GitHub settings."""

from __future__ import annotations

import http.server
import importlib.util
import socket
import threading

import pytest

from tests.conftest import REPO_ROOT, metrics_repo, sh


def words(text: str) -> str:
    return " ".join(text.split())


def line(out: str, what: str) -> str:
    (found,) = [ln for ln in out.splitlines() if ln[2:].startswith(what)]
    return found


@pytest.fixture
def project(dvc_repo):
    metrics_repo(dvc_repo, {"acc": 0.9})
    return dvc_repo


def test_a_healthy_repo(project, mlci, tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    project.dvc("remote", "add", "-d", "store", str(store))
    run = mlci(project, "doctor")
    assert run.code == 0, run.out
    assert run.out.startswith("mlci doctor: what a run needs\n")
    assert line(run.out, "history").startswith("✓") and "full history" in run.out
    assert line(run.out, "base").split() == [
        "✓",
        "base",
        "main",
        f"({project.git('rev-parse', '--short=7', 'HEAD')})",
    ]
    assert line(run.out, "DVC remote 'store' (default)").endswith(f"local folder {store} exists")
    assert line(run.out, "MLflow").startswith("·")
    assert line(run.out, "GitHub token").startswith("· GitHub token")
    assert run.out.rstrip().endswith("nothing required is missing; 0 warnings (!)")


def test_shallow_clone_without_the_base(project, mlci, tmp_path):
    project.write("mlci.yaml", "base: main\n")  # such a clone thinks origin/feature is the default
    project.commit("config")
    project.git("checkout", "-q", "-b", "feature")
    project.write("eval/metrics.json", {"acc": 0.95})
    project.commit("feature")
    clone = tmp_path / "clone"
    sh(
        [
            "git",
            "clone",
            "-q",
            "--depth",
            "1",
            "--branch",
            "feature",
            "--single-branch",
            f"file://{project.path}",
            str(clone),
        ],
        tmp_path,
    )
    run = mlci(clone, "doctor")
    assert run.code == 3
    assert line(run.out, "history").startswith("! history") and "shallow clone" in run.out
    assert line(run.out, "base").startswith("✗ base")
    assert "unknown base revision 'main': `git fetch origin main`" in run.out
    assert "1 problem would stop a run (✗)" in run.out


def test_missing_local_remote_fails_or_warns_by_config(project, mlci, tmp_path):
    project.dvc("remote", "add", "-d", "store", str(tmp_path / "gone"))
    run = mlci(project, "doctor")
    assert run.code == 0
    assert line(run.out, "DVC remote").startswith("! DVC remote 'store' (default)")
    assert f"local folder {tmp_path / 'gone'} does not exist" in run.out
    project.write("mlci.yaml", "repro:\n  remote_unreachable: fail\n")
    run = mlci(project, "doctor")
    assert run.code == 3
    assert line(run.out, "DVC remote").startswith("✗ DVC remote 'store' (default)")


def test_cloud_remote_needs_its_plugin_and_credentials(project, mlci, monkeypatch):
    project.dvc("remote", "add", "-d", "store", "s3://bucket/cache")
    project.write("mlci.yaml", "repro:\n  remote_unreachable: fail\n")
    run = mlci(project, "doctor")
    assert run.code == 3
    if importlib.util.find_spec("dvc_s3") is None:
        assert (
            "s3://bucket/cache: DVC's s3 plugin is not installed: add the s3 extra (the action's "
            "input `extras: s3`; pip install 'mlci[s3]')"
        ) in run.out
    else:
        assert "s3://bucket/cache: no credentials found" in run.out
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
        run = mlci(project, "doctor")
        assert run.code == 0 and "credentials from $AWS_ACCESS_KEY_ID (not verified" in run.out


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the stdlib's name
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args):
        pass


def test_mlflow_server_and_sqlite_file(project, mlci):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        project.write("mlci.yaml", f"mlflow:\n  tracking_uri: {url}\n")
        run = mlci(project, "doctor")
        assert run.code == 0
        assert words(line(run.out, "MLflow")) == f"✓ MLflow {url}: the server answers"
    finally:
        server.shutdown()
        server.server_close()

    with socket.socket() as s:  # a port nothing listens on: refused at once, no hang
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    project.write(
        "mlci.yaml",
        f"mlflow:\n  tracking_uri: http://127.0.0.1:{port}\n"
        "deploy:\n  model_name: m\n  model_path: model.pkl\n",
    )
    run = mlci(project, "doctor")
    assert run.code == 3 and line(run.out, "MLflow").startswith("✗ MLflow")
    assert "unreachable" in line(run.out, "MLflow")

    project.write("mlci.yaml", "mlflow:\n  tracking_uri: sqlite:///nowhere/mlflow.db\n")
    run = mlci(project, "doctor")
    assert run.code == 0 and line(run.out, "MLflow").startswith("! MLflow")
    (project.path / "nowhere").mkdir()
    assert "will be created on first use" in line(mlci(project, "doctor").out, "MLflow")


def test_github_token_and_workflow_permissions(project, mlci, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    run = mlci(project, "doctor")
    assert run.code == 0  # publishing problems are warnings: the gate still works
    assert (
        line(run.out, "GitHub token").startswith("! GitHub token")
        and "GITHUB_TOKEN is not set" in run.out
    )
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_test")
    run = mlci(project, "doctor")
    assert run.code == 0 and "GITHUB_TOKEN is set (its permissions are not queried" in run.out

    project.write(
        ".github/workflows/ci.yml",
        "on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: mlci/mlci@v0\n",
    )
    assert "ci.yml: no permissions: block" in line(mlci(project, "doctor").out, "token permissions")
    project.write(
        ".github/workflows/ci.yml",
        "on: pull_request\npermissions:\n  contents: read\n"
        "  statuses: write\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: mlci/mlci@v0\n",
    )
    out = line(mlci(project, "doctor").out, "token permissions")
    assert out.startswith("! ") and "checks, pull-requests: write missing" in out
    (project.path / ".github/workflows/ci.yml").unlink()
    assert mlci(project, "init", "--force").code == 0
    out = line(mlci(project, "doctor").out, "token permissions")
    assert out.startswith("✓ ") and ".github/workflows/mlci.yml grants" in out
    # the example's jobs each grant what they write: the push job has no PR, deploy deploys
    example = (REPO_ROOT / "examples/workflows/mlci.yml").read_text()
    project.write(".github/workflows/mlci.yml", example)
    out = line(mlci(project, "doctor").out, "token permissions")
    assert out.startswith("✓ "), out
    project.write(
        ".github/workflows/mlci.yml", example.replace("deployments: write", "deployments: read")
    )
    out = line(mlci(project, "doctor").out, "token permissions")
    assert out.startswith("! ") and "deployments: write missing" in out


def test_config_error_and_not_a_repository(project, mlci, tmp_path):
    project.write("mlci.yaml", "metrics:\n  rulez: []\n")
    run = mlci(project, "doctor")
    assert run.code == 3
    assert (
        words(line(run.out, "config"))
        == "✗ config mlci.yaml:2: metrics.rulez: unknown key; did you mean 'rules'?"
    )
    elsewhere = tmp_path / "plain"
    elsewhere.mkdir()
    run = mlci(elsewhere, "doctor")
    assert run.code == 3 and "is not inside a git repository" in run.out


def test_http_dvc_remote_is_probed_with_a_tcp_connect(project, mlci):
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        project.dvc("remote", "add", "-d", "web", f"http://127.0.0.1:{port}/cache")
        run = mlci(project, "doctor")
        assert run.code == 0
        assert line(run.out, "DVC remote 'web'").endswith(
            f"http://127.0.0.1:{port}/cache: 127.0.0.1:{port} answers"
        )
    run = mlci(project, "doctor")  # nothing listens any more
    assert line(run.out, "DVC remote 'web'").startswith("! DVC remote 'web' (default)")
    assert "unreachable" in run.out


def test_a_call_that_never_answers_is_cut_off():
    from mlci.commands.doctor import _within

    never = threading.Event()
    with pytest.raises(TimeoutError, match="no answer within 0.1 s"):
        _within(0.1, lambda: never.wait(30))
    never.set()  # let the abandoned thread end
    assert _within(1, lambda: 42) == 42
    with pytest.raises(ZeroDivisionError):
        _within(1, lambda: 1 / 0)
