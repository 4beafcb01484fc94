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

from mlci.commands import hook as hook_mod
from tests.conftest import ACC_RULE, REPO_ROOT, VENV_BIN, GitRepo, rules_config, sh

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

CONFIG = rules_config(ACC_RULE)

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

    def push(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        import os

        return subprocess.run(
            ["git", "push", *args],
            cwd=self.path,
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            check=False,
        )

    def on_remote(self, ref: str) -> str | None:
        proc = subprocess.run(
            ["git", "--git-dir", str(self.remote), "rev-parse", "--verify", "--quiet", ref],
            capture_output=True,
            text=True,
            check=False,
        )
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
def repo(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Pushing:
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


def test_the_hook_never_fetches_the_results_history(repo, mlci):
    """origin holds main's recorded results (refs/notes/mlci); the hook checks with what the
    clone has (none) and leaves the clone's refs as they were: only CI fetches notes."""
    main = repo.git("rev-parse", "main")
    repo.git("notes", "--ref=mlci", "add", "-m", json.dumps({"context": {"head": {"sha": main}}}))
    assert repo.push("origin", "refs/notes/mlci").returncode == 0
    repo.git("update-ref", "-d", "refs/notes/mlci")
    assert repo.on_remote("refs/notes/mlci") and repo.git("for-each-ref", "refs/notes") == ""
    mlci(repo.path, "hook", "install")
    repo.branch("better", acc=0.95)
    proc = repo.push("origin", "better")
    assert proc.returncode == 0 and "gate open" in proc.stderr, proc.stderr
    assert repo.git("for-each-ref", "refs/notes") == ""


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
    from mlci.model import result as result_mod

    result_mod.validate(doc)
    assert doc["verdict"] == "warn"
    (reason,) = doc["reasons"]
    assert reason["section"] == "repro" and reason["severity"] == "warn"
    assert reason["message"].startswith(
        "dvc.lock is not up to date: evaluate (changed deps: params.yaml acc"
    )
    assert doc["repro"]["message"] == "not reproduced; dvc.lock is not up to date"
    repo.checkout("main")
    doc = mlci(repo.path, "check", "--lock-status", "--format", "json").json()  # implies --no-repro
    assert doc["verdict"] == "pass" and doc["repro"]["message"].endswith(
        "dvc.lock is up to date (dvc status)"
    )
    assert not any("not reproduced" in n for n in doc["notes"])
    run = mlci(repo.path, "check", "--repro", "--lock-status")
    assert run.code == 2 and "--lock-status checks dvc.lock instead of reproducing" in run.err


def test_lock_status_sets_aside_outputs_missing_from_the_work_tree(repo, mlci):
    (repo.path / "model.txt").unlink()  # a fresh clone before `dvc pull`: not a stale lock
    doc = mlci(repo.path, "check", "--no-repro", "--lock-status", "--format", "json").json()
    assert doc["verdict"] == "pass"
    assert any(
        n.startswith("pipeline outputs not in the work tree (model.txt) were not counted")
        for n in doc["notes"]
    )
    (repo.path / "model.txt").write_text("edited by hand")  # an output that differs from the lock
    doc = mlci(repo.path, "check", "--no-repro", "--lock-status", "--format", "json").json()
    assert doc["verdict"] == "warn"
    assert doc["reasons"][0]["message"].startswith(
        "dvc.lock is not up to date: evaluate (changed outs: model.txt modified)"
    )


def test_could_not_check_lets_the_push_through_unless_strict(repo, mlci):
    mlci(repo.path, "hook", "install")
    repo.checkout("-b", "broken", "main")
    repo.write("mlci.yaml", "metrics:\n  rules:\n    - name: acc\n      direction: up\n")
    repo.commit("broken config")
    proc = repo.push("origin", "broken")
    assert proc.returncode == 0, proc.stderr
    assert "mlci.yaml:4: metrics.rules[0].direction: expected 'higher' or 'lower'" in proc.stderr
    assert "could not check this push (exit 2); pushing anyway" in proc.stderr
    assert mlci(repo.path, "hook", "install", "--strict").out.startswith(
        "updated the mlci pre-push hook"
    )
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
    repo.write(
        ".pre-commit-config.yaml", yaml.safe_dump({"repos": [{"repo": "local", "hooks": [local]}]})
    )
    repo.commit("pre-commit config")
    repo.git("push", "-q", "origin", "main")
    repo.git("fetch", "-q", "origin")
    sh([str(VENV_BIN / "pre-commit"), "install", "--hook-type", "pre-push"], repo.path)
    repo.branch("worse", acc=0.80)
    proc = repo.push("origin", "worse")
    assert proc.returncode != 0
    assert (
        "mlci: checking worse" in proc.stdout + proc.stderr
        and "gate closed" in proc.stdout + proc.stderr
    )
    assert repo.on_remote("refs/heads/worse") is None
    repo.branch("better", acc=0.95)
    proc = repo.push("origin", "better")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mlci gate (metrics vs. base branch, dvc.lock up to date)....." in proc.stdout
    assert proc.stdout.splitlines()[0].endswith(
        "Passed"
    )  # pre-commit shows a hook's output on failure only


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
    assert skipped == [
        "deleting refs/heads/old: not checked",
        "refs/tags/v1 is not a branch: not checked",
    ]


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

    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip().splitlines()[-1] == "EXIT=0 HEAVY="


def test_a_tag_push_imports_nothing_heavy(repo):
    import sys

    sha = repo.git("rev-parse", "HEAD")
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, "hook", "run", "origin", str(repo.remote)],
        input=f"refs/tags/v1 {sha} refs/tags/v1 {'0' * 40}\n",
        cwd=repo.path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.strip() == "EXIT=0 HEAVY="
    assert "refs/tags/v1 is not a branch: not checked" in proc.stderr


# --- the fast path: a push that changes nothing the gate reads is answered without DVC -------


def probe_push(repo: Pushing, local: str, remote_ref: str, remote_sha: str = "0" * 40):
    """`mlci hook run` as git calls it for one ref, reporting which heavy modules it imported."""
    import sys

    sha = repo.git("rev-parse", local)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, "hook", "run", "origin", str(repo.remote)],
        input=f"refs/heads/{local} {sha} {remote_ref} {remote_sha}\n",
        cwd=repo.path,
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip().splitlines()[-1], proc.stderr


NOTHING = "the push changes no file the gate depends on: nothing to check"


def test_a_push_touching_no_pipeline_file_imports_no_dvc(repo):
    repo.branch("docs")  # NOTES.md only
    last, err = probe_push(repo, "docs", "refs/heads/docs")
    assert last == "EXIT=0 HEAVY=", err
    assert f"mlci: docs: {NOTHING}" in err


def test_an_update_of_a_pushed_branch_compares_with_what_the_remote_has(repo, mlci):
    mlci(repo.path, "hook", "install")
    old = repo.branch("worse", acc=0.80)
    assert repo.push("--no-verify", "origin", "worse").returncode == 0
    repo.write("NOTES.md", "more notes\n")
    repo.commit("notes")
    # the pushed range (old..new) changes prose only: the push adds nothing to check
    last, err = probe_push(repo, "worse", "refs/heads/worse", old)
    assert last == "EXIT=0 HEAVY=" and NOTHING in err, err
    # a real push, and a force push of the same tree onto the remote's commit: same answer
    proc = repo.push("origin", "worse")
    assert proc.returncode == 0 and NOTHING in proc.stderr, proc.stderr


@pytest.mark.parametrize(
    "change",
    [
        ("eval/metrics.json", '{"acc": 0.5}'),  # a metric, changed by hand: the gate must close
        ("make_metrics.py", MAKE_METRICS + "\n"),  # a dep (dvc.lock is then stale)
        ("params.yaml", "acc: 0.5\n"),  # a params file
    ],
)
def test_a_push_touching_what_the_pipeline_declares_takes_the_full_path(repo, change):
    repo.checkout("-b", "touch", "main")
    repo.write(*change)
    repo.commit("touch")
    last, err = probe_push(repo, "touch", "refs/heads/touch")
    assert NOTHING not in err
    assert "mlci: checking touch" in err and "dvc" in last, (last, err)
    if change[0] == "eval/metrics.json":
        assert "gate closed" in err


def test_a_file_named_only_in_mlci_yaml_takes_the_full_path(repo):
    repo.write(
        "mlci.yaml",
        CONFIG + "data:\n  - path: data/table.csv\n    expect:\n"
        "      - expect_column_values_to_not_be_null: {column: a}\n",
    )
    repo.write("data/table.csv", "a\n1\n")
    repo.commit("a data check")
    repo.git("push", "-q", "origin", "main")
    repo.git("fetch", "-q", "origin")
    repo.checkout("-b", "data", "main")
    repo.write("data/table.csv", "a\n\n")
    repo.commit("a null")
    last, err = probe_push(repo, "data", "refs/heads/data")
    assert NOTHING not in err and "mlci: checking data" in err, err


@pytest.mark.parametrize(
    "dvc_yaml",
    [
        # templated paths: DVC resolves them, the fast path does not try
        DVC_YAML.replace("make_metrics.py]", "${script}]") + "vars:\n  - script: make_metrics.py\n",
        DVC_YAML + "  each:\n    foreach: [a, b]\n    do:\n      cmd: echo ${item}\n",
    ],
    ids=["templated", "foreach"],
)
def test_a_pipeline_the_fast_path_cannot_read_takes_the_full_path(repo, dvc_yaml):
    repo.write("dvc.yaml", dvc_yaml)
    repo.commit("templated pipeline")
    repo.git("push", "-q", "origin", "main")
    repo.git("fetch", "-q", "origin")
    repo.branch("docs")
    last, err = probe_push(repo, "docs", "refs/heads/docs")
    assert NOTHING not in err and "mlci: checking docs" in err, err


def test_untouched_unit_decisions(repo):
    from mlci.engine import pushscope

    main = repo.git("rev-parse", "main")
    repo.checkout("-b", "x", "main")
    repo.write("sub/dir/file.txt", "x\n")
    notes = repo.commit("notes")
    assert pushscope.untouched(main, notes, repo.path) is True
    repo.write("eval/other.txt", "not declared, but under no declared path either\n")
    other = repo.commit("other")
    assert pushscope.untouched(notes, other, repo.path) is True
    repo.write("eval/metrics.json", '{"acc": 0.1}')  # a metric
    assert pushscope.untouched(other, repo.commit("model"), repo.path) is False
    repo.write("sub/params-extra.yaml", "k: 1\n")  # any params*.yaml counts
    assert pushscope.untouched(main, repo.commit("params"), repo.path) is False
