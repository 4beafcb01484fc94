"""Shared fixtures: a sealed environment and real git + DVC repositories."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlci.cli import main

VENV_BIN = Path(sys.executable).parent
REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def sealed_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test writes to $HOME, reads the developer's git config or leaves this machine."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "test@example.com")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("PATH", f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "RUNNER_", "MLCI_")) or name in (
            "CI",
            "MLFLOW_TRACKING_URI",
        ):
            monkeypatch.delenv(name, raising=False)

    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (
            host.startswith("127.") or host in ("localhost", "::1") or self.family == socket.AF_UNIX
        ):
            raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


def sh(args: list[str], cwd: Path, *, check: bool = True) -> str:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


class GitRepo:
    """A real git (and optionally DVC) repository in a temporary folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def git(self, *args: str, check: bool = True) -> str:
        return sh(["git", *args], self.path, check=check).strip()

    def dvc(self, *args: str) -> str:
        return sh([str(VENV_BIN / "dvc"), *args], self.path)

    def write(self, rel: str, content: Any) -> Path:
        file = self.path / rel
        file.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, (dict, list)):
            content = json.dumps(content, indent=2)
        file.write_text(content)
        return file

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def checkout(self, *args: str) -> None:
        self.git("checkout", "-q", *args)


_TEMPLATES: dict[str, Path] = {}


def _template(kind: str, factory: pytest.TempPathFactory) -> Path:
    if kind not in _TEMPLATES:
        path = factory.mktemp(f"template-{kind}")
        sh(["git", "init", "-q", "-b", "main"], path)
        if kind == "dvc":
            sh([str(VENV_BIN / "dvc"), "init", "-q"], path)
        _TEMPLATES[kind] = path
    return _TEMPLATES[kind]


@pytest.fixture
def git_repo(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    """An empty git repository on branch main (no DVC)."""
    path = tmp_path / "repo"
    shutil.copytree(_template("git", tmp_path_factory), path)
    return GitRepo(path)


@pytest.fixture
def dvc_repo(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    """A git repository with ``dvc init`` done, on branch main, nothing committed."""
    path = tmp_path / "repo"
    shutil.copytree(_template("dvc", tmp_path_factory), path)
    return GitRepo(path)


DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    params:
      - train.lr
      - train.epochs
    metrics:
      - eval/metrics.json:
          cache: false
"""


# The rule most tests gate on: accuracy must not drop by more than 0.01.
ACC_RULE = """\
    - name: acc
      direction: higher
      max_regression: 0.01
"""


def rules_config(*rules: str, before: str = "", after: str = "") -> str:
    """An ``mlci.yaml`` whose ``metrics.rules`` are ``rules`` (YAML list items, like
    :data:`ACC_RULE`), with other sections before and after."""
    return f"{before}metrics:\n  rules:\n{''.join(rules)}{after}"


def metrics_repo(
    repo: GitRepo,
    metrics: dict[str, Any],
    params: dict[str, Any] | None = None,
    config: str | None = None,
) -> str:
    """Write a one-stage DVC project with these metrics and params; commit on main."""
    repo.write("dvc.yaml", DVC_YAML)
    repo.write("params.yaml", json.dumps({"train": params or {"lr": 0.1, "epochs": 10}}))
    repo.write("eval/metrics.json", metrics)
    if config is not None:
        repo.write("mlci.yaml", config)
    return repo.commit("baseline")


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> dict[str, Any]:
        return json.loads(self.out)


@pytest.fixture
def mlci(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run the CLI in process, in a given directory: ``mlci(repo, "check", ...)``."""

    def run(repo: GitRepo | Path, *args: str) -> Run:
        monkeypatch.chdir(getattr(repo, "path", repo))
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


GOLDEN = Path(__file__).parent / "golden"


def assert_golden(name: str, got: str) -> None:
    """``got`` equals ``tests/golden/<name>``; ``UPDATE_GOLDEN=1`` rewrites it after an intended change."""
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(got)
    assert got == golden.read_text()


from tests.ghfake.fixtures import github_fake, github_spec  # noqa: E402,F401


def two_deploys_at_once(cwd: Path, timeout: float) -> list[tuple[str, str]]:
    """Start two `mlci deploy -e production --base HEAD` processes together; both must exit 0.

    Returns each one's (stdout, stderr).
    """
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    cmd = [sys.executable, "-m", "mlci", "deploy", "-e", "production", "--base", "HEAD"]
    procs = [
        subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [proc.communicate(timeout=timeout) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outs
    return outs


# --- the fast tier (`make test-fast`: pytest -m "not slow") ------------------------------
# Slow: a test that uses a DVC repository, or lives in a module whose tests run pipelines,
# Great Expectations, MLflow, Spark, a browser, act or real pushes. Everything else is the
# edit-test loop's tier.
SLOW_FIXTURES = {"dvc_repo"}
SLOW_MODULES = {
    "test_action",
    "test_browser",
    "test_deploy",
    "test_hook",
    "test_repro",
    "test_validate",
    "test_extras",
    "test_scale",
    "test_ci",
    "test_doctor",
    "test_commands",
    "test_writeback",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = item.module.__name__.rpartition(".")[2] if getattr(item, "module", None) else ""
        if (
            SLOW_FIXTURES & set(getattr(item, "fixturenames", ()))
            or module in SLOW_MODULES
            or module.startswith("test_corpus")
        ):
            item.add_marker(pytest.mark.slow)
