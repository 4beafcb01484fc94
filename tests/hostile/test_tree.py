"""Hostile inputs from issue 23 that live in the pull request's tree: planted git hooks and
configuration, write-back paths, files outside the repository, readers without bounds.

Each row is a real repository (git, DVC, a bare origin and a folder DVC remote where a push
is involved) run through the real CLI; where something is published, the fake GitHub. A row
asserts what must not happen (a marker file a planted program would create, a file outside
the tree in the report, a commit on the branch) and the one line the user reads instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.corpus import Project
from tests.hostile.test_forge import own_output
from tests.test_ci import comments
from tests.test_writeback import PIPELINE, TRAIN, _origin_tip
from tests.test_writeback import runner as runner  # noqa: F401 - the fixture

# --- 2. a stage plants git hooks or configuration ---------------------------------------------


def _planting_project(tmp_path: Path, plant: str) -> tuple[Project, str]:
    """main: a reproduced baseline; feature: train.py also runs ``plant`` (not reproduced)."""
    p = Project.create(tmp_path)
    p.write("train.py", TRAIN)
    p.write("dvc.yaml", PIPELINE)
    p.write("params.yaml", yaml.safe_dump({"train": {"lr": 0.1}}))
    p.write("mlci.yaml", "repro:\n  commit: true\n")
    p.repro()
    p.commit("baseline")
    p.publish("main")
    p.git("checkout", "-q", "-b", "feature")
    p.write("train.py", TRAIN + plant)
    p.commit("train.py plants something in .git")
    return p, p.publish("feature", dvc_push=False)


def _hook(name: str) -> str:
    return (
        "import os\n"
        f"hook = os.path.join('.git', 'hooks', {name!r})\n"
        "open(hook, 'w').write('#!/bin/sh\\necho ran >> MARKER\\n')\n"
        "os.chmod(hook, 0o755)\n"
    )


FSMONITOR = """\
import os, subprocess
script = os.path.abspath(os.path.join('.git', 'fsm.sh'))
open(script, 'w').write('#!/bin/sh\\necho ran >> MARKER\\n')
os.chmod(script, 0o755)
subprocess.run(['git', 'config', 'core.fsmonitor', script], check=True)
"""

FILTER = """\
import subprocess
subprocess.run(['git', 'config', 'filter.evil.clean', 'echo ran >> MARKER; cat'], check=True)
open('.gitattributes', 'w').write('* filter=evil\\n')
"""

SUBMODULES = """\
open('.gitmodules', 'w').write('[submodule "x"]\\n\\tpath = x\\n\\turl = ext::sh -c touch% MARKER\\n')
"""

PLANTS = [
    pytest.param(_hook("pre-push"), ".git/hooks/pre-push", id="pre-push-hook"),
    pytest.param(
        _hook("reference-transaction"), ".git/hooks/reference-transaction", id="ref-transaction"
    ),
    pytest.param(_hook("post-index-change"), ".git/hooks/post-index-change", id="index-hook"),
    pytest.param(FSMONITOR, ".git/config", id="core-fsmonitor"),
    pytest.param(FILTER, ".git/config", id="filter-driver"),
    pytest.param(SUBMODULES, ".gitmodules", id="gitmodules"),
]


@pytest.mark.slow
@pytest.mark.parametrize("plant,named", PLANTS)
def test_a_pipeline_that_plants_git_hooks_or_config_fails_closed(
    tmp_path,
    runner,  # noqa: F811
    plant,
    named,
):
    marker = tmp_path / "pwned"
    p, head = _planting_project(tmp_path, plant.replace("MARKER", str(marker)))
    job = runner(p)
    job.pr_event(p.git("rev-parse", "main"), head)
    code, doc = job.ci()
    assert not marker.exists(), f"mlci's git ran what the stage planted: {marker.read_text()!r}"
    assert code == 1, own_output(job.last.err)
    assert "Traceback" not in job.last.err
    [reason] = [r for r in doc["reasons"] if "changed git's own files" in r["message"]]
    assert reason["severity"] == "fail" and named in reason["message"]
    assert doc["writeback"]["status"] == "refused"
    assert _origin_tip(p, "feature") == head  # nothing pushed as the bot
    git_dir = job.repo.path / ".git"
    assert not (git_dir / "hooks" / "pre-push").exists()
    assert "fsmonitor" not in (git_dir / "config").read_text()
    assert "filter.evil" not in job.repo.git("config", "--list")
    [comment] = comments(job.fake)
    assert "changed git" in comment["body"]


@pytest.mark.slow
def test_a_pipeline_that_leaves_git_alone_still_writes_back(tmp_path, runner):  # noqa: F811
    """The control row: the same project with a harmless addition commits as before."""
    p, head = _planting_project(tmp_path, "print('no planting here')\n")
    job = runner(p)
    job.pr_event(p.git("rev-parse", "main"), head)
    code, doc = job.ci()
    assert doc["writeback"]["status"] == "pushed", doc["writeback"]
    assert not any("changed git's own files" in r["message"] for r in doc["reasons"])
    assert json.loads((job.repo.path / "metrics.json").read_text())["acc"] == 0.9


# --- 3. write-back commits only dvc.lock and cache: false outputs inside the project ----------

WRITE = """\
import os, sys
path = sys.argv[1]
os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
if os.path.lexists(path):
    os.remove(path)
if len(sys.argv) > 2:
    os.symlink(sys.argv[2], path)
else:
    open(path, "w").write("on: push\\njobs: {}\\n")
"""


def _declaring_project(tmp_path: Path, stage: str, top: str = "") -> tuple[Project, str]:
    """main: the write-back baseline; feature: a params change and one more declared output."""
    p = Project.create(tmp_path)
    p.write("train.py", TRAIN)
    p.write("write.py", WRITE)
    p.write("dvc.yaml", PIPELINE)
    p.write("params.yaml", yaml.safe_dump({"train": {"lr": 0.1}}))
    p.write("mlci.yaml", "repro:\n  commit: true\n")
    p.repro()
    p.commit("baseline")
    p.publish("main")
    p.git("checkout", "-q", "-b", "feature")
    p.write("dvc.yaml", PIPELINE + stage + top)
    p.set_params(lr=0.2)
    p.commit("a larger learning rate and one more output")
    return p, p.publish("feature", dvc_push=False)


def _stage(path: str, *extra: str) -> str:
    args = " ".join([path, *extra])
    return (
        f"  extra:\n    cmd: python write.py {args}\n    deps: [write.py]\n"
        f"    outs:\n      - {json.dumps(path)}:\n          cache: false\n"
    )


git_own_files = (".gitmodules", ".gitattributes")
DECLARATIONS = [
    pytest.param(
        _stage(".github/workflows/evil.yml"),
        "",
        ".github/workflows/evil.yml",
        "a git or GitHub file",
        id="workflow-file",
    ),
    pytest.param(_stage(".gitmodules"), "", ".gitmodules", "a git or GitHub file", id="gitmodules"),
    pytest.param(
        _stage(".gitattributes"), "", ".gitattributes", "a git or GitHub file", id="gitattributes"
    ),
    pytest.param(_stage("link.txt", "/etc/passwd"), "", "link.txt", "a symlink", id="symlink-out"),
    pytest.param(
        _stage("plots/evil.yml"),
        "metrics:\n  - .github/workflows/top.yml\n",
        ".github/workflows/top.yml",
        "a git or GitHub file",
        id="top-level-metric-in-github",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("stage,top,path,why", DECLARATIONS)
def test_a_declaration_asking_for_more_refuses_the_whole_write_back(
    tmp_path,
    runner,  # noqa: F811
    stage,
    top,
    path,
    why,
):
    p, head = _declaring_project(tmp_path, stage, top)
    job = runner(p)
    if path.startswith(".github/workflows/top"):
        (job.repo.path / ".github" / "workflows").mkdir(parents=True)
        (job.repo.path / path).write_text('{"on": "push"}')  # written by the run, say
    job.pr_event(p.git("rev-parse", "main"), head)
    code, doc = job.ci()
    assert "Traceback" not in job.last.err
    wb = doc["writeback"]
    assert wb["status"] == "refused", wb
    assert _origin_tip(p, "feature") == head
    [comment] = comments(job.fake)
    if path in git_own_files:  # the pipeline changed one of git's own files: hole 2 stops it first
        assert any(
            "changed git's own files" in r["message"] and path in r["message"]
            for r in doc["reasons"]
        )
        return
    assert f"{path} ({why})" in wb["message"] and "nothing committed" in wb["message"]
    assert "never writes back" in comment["body"]
