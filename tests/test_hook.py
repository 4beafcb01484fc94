"""The pre-push hook, with real `git push` to a real bare remote in a temporary folder.

The hook runs `python -m mlci` in a subprocess of git: PYTHONPATH points it at
this source tree, and the recorded interpreter is the test's own Python.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from mlci import hook as hook_mod
from tests.conftest import REPO_ROOT, VENV_BIN, GitRepo, sh

MAKE_METRICS = """\
import json, pathlib, yaml
p = yaml.safe_load(open("params.yaml"))
pathlib.Path("eval").mkdir(exist_ok=True)
json.dump({"acc": p["acc"]}, open("eval/metrics.json", "w"))
pathlib.Path("model.txt").write_text(f"a model for acc={p['acc']}")
"""

DVC_YAML = """\
stages:
  evaluate:
    cmd: python make_metrics.py
    deps: [make_metrics.py]
    params: [acc]
    outs: [model.txt]
    metrics:
      - eval/metrics.json:
          cache: false
"""

CONFIG = """\
metrics:
  rules:
    - name: acc
      direction: higher
      max_regression: 0.01
"""

_TEMPLATE: dict[str, Path] = {}


def _template(factory: pytest.TempPathFactory) -> Path:
    """A committed DVC project whose dvc.lock is up to date (one real `dvc repro`, made once)."""
    if "repo" not in _TEMPLATE:
        path = factory.mktemp("hook-template")
        sh(["git", "init", "-q", "-b", "main"], path)
        sh([str(VENV_BIN / "dvc"), "init", "-q"], path)
        (path / "make_metrics.py").write_text(MAKE_METRICS)
        (path / "params.yaml").write_text("acc: 0.9\n")
        (path / "dvc.yaml").write_text(DVC_YAML)
        (path / "mlci.yaml").write_text(CONFIG)
        sh([str(VENV_BIN / "dvc"), "repro", "-q"], path)
        sh(["git", "add", "-A"], path)
        sh(["git", "commit", "-q", "-m", "baseline"], path)
        _TEMPLATE["repo"] = path
    return _TEMPLATE["repo"]


class Pushing(GitRepo):
    def __init__(self, path: Path, remote: Path) -> None:
        super().__init__(path)
        self.remote = remote

    def push(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        import os

        return subprocess.run(["git", "push", *args], cwd=self.path, capture_output=True, text=True,
                              env={**os.environ, **(env or {})}, check=False)

    def on_remote(self, ref: str) -> str | None:
        proc = subprocess.run(["git", "--git-dir", str(self.remote), "rev-parse", "--verify", "--quiet", ref],
                              capture_output=True, text=True, check=False)
        return proc.stdout.strip() or None

    def branch(self, name: str, *, acc: float | None = None, metrics_too: bool = True) -> str:
        """A branch that sets acc in params.yaml (and the metric, as a repro would)."""
        self.checkout("-b", name, "main")
        if acc is None:
            self.write("NOTES.md", "a change that does not touch the pipeline\n")
        else:
            self.write("params.yaml", f"acc: {acc}\n")
            if metrics_too:
                self.write("eval/metrics.json", json.dumps({"acc": acc}))
        return self.commit(name)

    def hook_dir(self) -> Path:
        return Path(self.git("rev-parse", "--path-format=absolute", "--git-path", "hooks"))


@pytest.fixture
def repo(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Pushing:
    # the hook's `python -m mlci` must import this source tree, not another install
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    path = tmp_path / "repo"
    shutil.copytree(_template(tmp_path_factory), path)
    remote = tmp_path / "remote.git"
    sh(["git", "init", "-q", "--bare", "-b", "main", str(remote)], tmp_path)
    r = Pushing(path, remote)
    r.git("remote", "add", "origin", str(remote))
    r.git("push", "-q", "origin", "main")
    r.git("fetch", "-q", "origin")
    return r


def test_install_is_idempotent(repo, mlci):
    run = mlci(repo.path, "hook", "install")
    assert run.code == 0, run.err
    hook = repo.hook_dir() / "pre-push"
    assert f"installed the mlci pre-push hook in {hook}" in run.out
    first = hook.read_text()
    assert first.startswith("#!/bin/sh\n") and hook_mod.MARKER in first
    assert hook.stat().st_mode & stat.S_IXUSR
    run = mlci(repo.path, "hook", "install")
    assert "already installed" in run.out
    assert hook.read_text() == first
    assert not (repo.hook_dir() / hook_mod.LEGACY).exists()  # our own hook is never kept as legacy


def test_install_honours_core_hooks_path(repo, mlci):
    repo.git("config", "core.hooksPath", ".githooks")
    assert mlci(repo.path, "hook", "install").code == 0
    assert hook_mod.MARKER in (repo.path / ".githooks" / "pre-push").read_text()
    assert not (repo.path / ".git" / "hooks" / "pre-push").exists()


def test_push_blocked_on_a_regressing_branch(repo, mlci):
    mlci(repo.path, "hook", "install")
    repo.branch("worse", acc=0.80)
    proc = repo.push("origin", "worse")
    assert proc.returncode != 0
    assert "mlci: checking worse" in proc.stderr and "against origin/main" in proc.stderr
    assert "gate closed" in proc.stderr
    assert "push blocked" in proc.stderr
    assert repo.on_remote("refs/heads/worse") is None


def test_push_allowed_on_a_good_branch(repo, mlci):
    mlci(repo.path, "hook", "install")
    sha = repo.branch("better", acc=0.95)
    proc = repo.push("origin", "better")
    assert proc.returncode == 0, proc.stderr
    assert "gate open" in proc.stderr
    assert repo.on_remote("refs/heads/better") == sha


def test_no_verify_and_mlci_skip_bypass_the_check(repo, mlci):
    mlci(repo.path, "hook", "install")
    sha = repo.branch("worse", acc=0.80)
    proc = repo.push("--no-verify", "origin", "worse")
    assert proc.returncode == 0 and "mlci:" not in proc.stderr
    proc = repo.push("origin", "worse:refs/heads/worse-3", env={"MLCI_SKIP": "False"})
    assert proc.returncode != 0 and "gate closed" in proc.stderr  # "false" does not skip
    proc = repo.push("origin", "worse:refs/heads/worse-2", env={"MLCI_SKIP": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "MLCI_SKIP is set: push not checked" in proc.stderr
    assert repo.on_remote("refs/heads/worse") == repo.on_remote("refs/heads/worse-2") == sha


def test_tag_push_and_branch_deletion_are_not_checked(repo, mlci):
    mlci(repo.path, "hook", "install")
    repo.branch("worse", acc=0.80)
    repo.git("tag", "v-bad")
    proc = repo.push("origin", "v-bad")
    assert proc.returncode == 0, proc.stderr
    assert "refs/tags/v-bad is not a branch: not checked" in proc.stderr
    assert "gate" not in proc.stderr
    repo.push("--no-verify", "origin", "worse")
    proc = repo.push("origin", "--delete", "worse")
    assert proc.returncode == 0, proc.stderr
    assert "deleting refs/heads/worse: not checked" in proc.stderr
    assert repo.on_remote("refs/heads/worse") is None


def test_existing_hook_is_kept_run_first_and_restored(repo, mlci, tmp_path):
    log = tmp_path / "legacy.log"
    original = f'#!/bin/sh\necho "args: $*" >> {log}\ncat >> {log}\nexit "${{LEGACY_EXIT:-0}}"\n'
    hook = repo.hook_dir() / "pre-push"
    hook.write_text(original)
    hook.chmod(0o755)
    run = mlci(repo.path, "hook", "install")
    assert "kept the existing pre-push hook" in run.out
    assert (repo.hook_dir() / hook_mod.LEGACY).read_text() == original

    sha = repo.branch("better", acc=0.95)
    proc = repo.push("origin", "better")
    assert proc.returncode == 0, proc.stderr
    logged = log.read_text().splitlines()
    assert logged[0] == f"args: origin {repo.remote}"
    assert logged[1] == f"refs/heads/better {sha} refs/heads/better {'0' * 40}"
    assert "gate open" in proc.stderr  # and mlci ran after it

    # the previous hook's failure still blocks, even when mlci would pass
    proc = repo.push("origin", "better:refs/heads/better-2", env={"LEGACY_EXIT": "1"})
    assert proc.returncode != 0
    assert "mlci: checking" not in proc.stderr
    assert repo.on_remote("refs/heads/better-2") is None

    run = mlci(repo.path, "hook", "uninstall")
    assert "restored the previous hook" in run.out
    assert hook.read_text() == original
    assert not (repo.hook_dir() / hook_mod.LEGACY).exists()


def test_uninstall_leaves_a_foreign_hook_alone(repo, mlci):
    assert "nothing to uninstall" in mlci(repo.path, "hook", "uninstall").out
    hook = repo.hook_dir() / "pre-push"
    hook.write_text("#!/bin/sh\nexit 0\n")
    run = mlci(repo.path, "hook", "uninstall")
    assert run.code == 0 and "is not mlci's hook: left as it is" in run.out
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"
    mlci(repo.path, "hook", "install")
    assert mlci(repo.path, "hook", "uninstall").code == 0
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"
    mlci(repo.path, "hook", "install")
    hook.unlink()  # ours removed by hand: uninstall still puts the previous one back
    assert "restored the previous hook" in mlci(repo.path, "hook", "uninstall").out
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"


def test_stale_dvc_lock_warns_and_pushes_by_default(repo, mlci):
    mlci(repo.path, "hook", "install")
    # params changed, pipeline not reproduced: metrics equal, dvc.lock out of date
    repo.branch("stale", acc=0.95, metrics_too=False)
    proc = repo.push("origin", "stale")
    assert proc.returncode == 0, proc.stderr
    assert "gate open with warnings" in proc.stderr
    assert "run `dvc repro`" in " ".join(proc.stderr.split())


def test_stale_dvc_lock_blocks_when_the_config_says_fail(repo, mlci):
    repo.write("mlci.yaml", CONFIG + "repro:\n  require_committed_lock: fail\n")
    repo.commit("strict lock")
    repo.git("push", "-q", "--no-verify", "origin", "main")
    repo.git("fetch", "-q", "origin")
    mlci(repo.path, "hook", "install")
    repo.branch("stale", acc=0.95, metrics_too=False)
    proc = repo.push("origin", "stale")
    assert proc.returncode != 0
    assert "gate closed" in proc.stderr and "dvc.lock is not up to date" in proc.stderr


def test_lock_status_in_the_result(repo, mlci):
    repo.branch("stale", acc=0.95, metrics_too=False)
    run = mlci(repo.path, "check", "--no-repro", "--lock-status", "--format", "json")
    doc = run.json()
    from mlci import result as result_mod

    result_mod.validate(doc)
    assert doc["verdict"] == "warn"
    (reason,) = doc["reasons"]
    assert reason["section"] == "repro" and reason["severity"] == "warn"
    assert reason["message"].startswith("dvc.lock is not up to date: evaluate (changed deps: params.yaml acc")
    assert doc["repro"]["message"] == "not reproduced; dvc.lock is not up to date"
    repo.checkout("main")
    doc = mlci(repo.path, "check", "--lock-status", "--format", "json").json()  # implies --no-repro
    assert doc["verdict"] == "pass" and doc["repro"]["message"].endswith("dvc.lock is up to date (dvc status)")
    assert not any("not reproduced" in n for n in doc["notes"])
    run = mlci(repo.path, "check", "--repro", "--lock-status")
    assert run.code == 2 and "--lock-status checks dvc.lock instead of reproducing" in run.err


def test_lock_status_sets_aside_outputs_missing_from_the_work_tree(repo, mlci):
    (repo.path / "model.txt").unlink()  # a fresh clone before `dvc pull`: not a stale lock
    doc = mlci(repo.path, "check", "--no-repro", "--lock-status", "--format", "json").json()
    assert doc["verdict"] == "pass"
    assert any(n.startswith("pipeline outputs not in the work tree (model.txt) were not counted")
               for n in doc["notes"])
    (repo.path / "model.txt").write_text("edited by hand")  # an output that differs from the lock
    doc = mlci(repo.path, "check", "--no-repro", "--lock-status", "--format", "json").json()
    assert doc["verdict"] == "warn"
    assert doc["reasons"][0]["message"].startswith(
        "dvc.lock is not up to date: evaluate (changed outs: model.txt modified)")


def test_could_not_check_lets_the_push_through_unless_strict(repo, mlci):
    mlci(repo.path, "hook", "install")
    repo.checkout("-b", "broken", "main")
    repo.write("mlci.yaml", "metrics:\n  rules:\n    - name: acc\n      direction: up\n")
    repo.commit("broken config")
    proc = repo.push("origin", "broken")
    assert proc.returncode == 0, proc.stderr
    assert "mlci.yaml:4: metrics.rules[0].direction: expected 'higher' or 'lower'" in proc.stderr
    assert "could not check this push (exit 2); pushing anyway" in proc.stderr
    assert mlci(repo.path, "hook", "install", "--strict").out.startswith("updated the mlci pre-push hook")
    proc = repo.push("origin", "broken:refs/heads/broken-2")
    assert proc.returncode != 0
    assert "push blocked (strict mode)" in proc.stderr
    assert repo.on_remote("refs/heads/broken-2") is None


def test_unknown_base_lets_the_push_through(repo, mlci):
    mlci(repo.path, "hook", "install")
    repo.git("remote", "add", "other", str(repo.remote))  # never fetched: no other/main here
    repo.branch("worse", acc=0.80)
    proc = repo.push("other", "worse")
    assert proc.returncode == 0, proc.stderr
    assert "other has no base branch this clone knows" in proc.stderr


def test_pre_commit_hooks_yaml_and_its_entry(repo, mlci, monkeypatch):
    (entry,) = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    assert entry["id"] == "mlci" and entry["language"] == "python"
    assert entry["stages"] == ["pre-push"]
    assert entry["pass_filenames"] is False and entry["always_run"] is True
    command = entry["entry"].split()
    assert command[:4] == ["mlci", "hook", "run", "--pre-commit"]

    sha = repo.branch("worse", acc=0.80)
    monkeypatch.setenv("PRE_COMMIT_REMOTE_NAME", "origin")
    monkeypatch.setenv("PRE_COMMIT_REMOTE_BRANCH", "refs/heads/worse")
    monkeypatch.setenv("PRE_COMMIT_LOCAL_BRANCH", "refs/heads/worse")
    monkeypatch.setenv("PRE_COMMIT_FROM_REF", "0" * 40)
    monkeypatch.setenv("PRE_COMMIT_TO_REF", sha)
    run = mlci(repo.path, *command[1:])
    assert run.code == 1
    assert "mlci: checking worse" in run.err and "gate closed" in run.err
    assert run.out == ""
    monkeypatch.setenv("PRE_COMMIT_REMOTE_BRANCH", "refs/tags/v1")
    assert mlci(repo.path, *command[1:]).code == 0


def test_manifest_is_valid_for_pre_commit():
    from pre_commit.clientlib import load_manifest

    (hook,) = load_manifest(str(REPO_ROOT / ".pre-commit-hooks.yaml"))
    assert hook["id"] == "mlci" and hook["stages"] == ["pre-push"]


def test_through_pre_commit_on_a_real_push(repo):
    """pre-commit's own pre-push hook runs our entry with its PRE_COMMIT_* variables."""
    (manifest,) = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    local = {**manifest, "language": "system"}  # `repo: local`: no environment to build, no network
    repo.write(".pre-commit-config.yaml", yaml.safe_dump({"repos": [{"repo": "local", "hooks": [local]}]}))
    repo.commit("pre-commit config")
    repo.git("push", "-q", "origin", "main")
    repo.git("fetch", "-q", "origin")
    sh([str(VENV_BIN / "pre-commit"), "install", "--hook-type", "pre-push"], repo.path)
    repo.branch("worse", acc=0.80)
    proc = repo.push("origin", "worse")
    assert proc.returncode != 0
    assert "mlci: checking worse" in proc.stdout + proc.stderr and "gate closed" in proc.stdout + proc.stderr
    assert repo.on_remote("refs/heads/worse") is None
    repo.branch("better", acc=0.95)
    proc = repo.push("origin", "better")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mlci gate (metrics vs. base branch, dvc.lock up to date)....." in proc.stdout
    assert proc.stdout.splitlines()[0].endswith("Passed")  # pre-commit shows a hook's output on failure only


def test_parse_and_select_refs():
    zero = "0" * 40
    refs = hook_mod.parse_refs(
        f"refs/heads/a {'a' * 40} refs/heads/a {zero}\n"
        f"refs/heads/b {'a' * 40} refs/heads/b {'b' * 40}\n"
        f"(delete) {zero} refs/heads/old {'c' * 40}\n"
        f"refs/tags/v1 {'d' * 40} refs/tags/v1 {zero}\n\n"
    )
    checked, skipped = hook_mod.to_check(refs)
    assert [r.branch for r in checked] == ["a"]  # b pushes the same commit: checked once
    assert skipped == ["deleting refs/heads/old: not checked", "refs/tags/v1 is not a branch: not checked"]


PROBE = """
import sys
from mlci.cli import main
code = main(sys.argv[1:])
heavy = sorted({m.split('.')[0] for m in sys.modules} & {"dvc", "pandas", "great_expectations", "mlflow", "rich"})
print("EXIT=%d HEAVY=%s" % (code, ",".join(heavy)))
"""


@pytest.mark.parametrize("args", [["hook", "--help"], ["init", "--help"], ["doctor", "--help"]])
def test_help_imports_nothing_heavy(args):
    import sys

    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "EXIT=0 HEAVY="


def test_a_tag_push_imports_nothing_heavy(repo):
    import sys

    sha = repo.git("rev-parse", "HEAD")
    proc = subprocess.run([sys.executable, "-c", PROBE, "hook", "run", "origin", str(repo.remote)],
                          input=f"refs/tags/v1 {sha} refs/tags/v1 {'0' * 40}\n", cwd=repo.path,
                          capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "EXIT=0 HEAVY="
    assert "refs/tags/v1 is not a branch: not checked" in proc.stderr
