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

from tests.conftest import metrics_repo
from tests.corpus import Project
from tests.hostile.test_forge import own_output
from tests.test_ci import comments
from tests.test_ci import gh as gh  # noqa: F401 - the fixture
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


# --- 5. files outside the repository: includes and plots ---------------------------------------

OUTSIDE = "root:x:0:0:OUTSIDE-THE-TREE:/root:/bin/bash\n"
AUTH = "c2VjcmV0LWF1dGgtaGVhZGVy"  # what actions/checkout keeps in .git/config


def _outside_file(gh) -> Path:
    secret = gh.tmp / "outside" / "passwd"
    secret.parent.mkdir(exist_ok=True)
    secret.write_text(OUTSIDE)
    return secret


def _include(line: str, *, conda: bool = False):
    def change(gh) -> str:
        text = line.replace("OUTSIDE", str(_outside_file(gh)))
        if conda:
            gh.repo.write(
                "environment.yml",
                "name: x\ndependencies:\n  - python=3.11\n  - pip:\n    - " + text + "\n",
            )
        else:
            gh.repo.write("requirements.txt", f"pandas==2.1.4\n{text}\n")
        return "outside/passwd"

    return change


def _symlinked_include(gh) -> str:
    (gh.repo.path / "extra.txt").symlink_to(_outside_file(gh))
    gh.repo.write("requirements.txt", "pandas==2.1.4\n-r extra.txt\n")
    return "extra.txt"


def _git_config_include(gh) -> str:
    gh.repo.git("config", "http.https://github.com/.extraheader", f"AUTHORIZATION: basic {AUTH}")
    gh.repo.write("requirements.txt", "pandas==2.1.4\n-r .git/config\n")
    return ".git/config"


def _environ_include(gh) -> str:
    gh.mp.setenv("ROW_SECRET_VALUE", "OUTSIDE-THE-TREE-ENVIRON")
    gh.repo.write("requirements.txt", "pandas==2.1.4\n-r /proc/self/environ\n")
    return "/proc/self/environ"


INCLUDES = [
    pytest.param(_include("-r OUTSIDE"), id="absolute-r"),
    pytest.param(_include("-c ../../../../../../../../../..OUTSIDE"), id="dotdot-c"),
    pytest.param(_include("--requirement=OUTSIDE"), id="long-option"),
    pytest.param(_include("-r OUTSIDE", conda=True), id="conda-pip-r"),
    pytest.param(_symlinked_include, id="symlink-out"),
    pytest.param(_git_config_include, id="git-config"),
    pytest.param(_environ_include, id="proc-environ"),
]


@pytest.mark.parametrize("include", INCLUDES)
def test_an_include_outside_the_repository_is_named_never_echoed(gh, include):  # noqa: F811
    from tests.test_ci import RULES

    metrics_repo(gh.repo, {"acc": 0.9}, config=RULES)
    gh.repo.write("requirements.txt", "pandas==2.1.4\n")
    gh.repo.write("environment.yml", "name: x\ndependencies:\n  - python=3.11\n")
    base = gh.repo.commit("requirements")
    gh.repo.git("checkout", "-q", "-b", "feature")
    named = include(gh)
    head = gh.repo.commit("an include")
    gh.pull_request(7, base, head)
    out = gh.tmp / "r.json"
    run = gh.run("ci", "--output", str(out))
    assert run.code in (0, 1), own_output(run.err)
    assert "Traceback" not in run.err
    [comment] = comments(gh.fake)
    html = Path(gh.outputs()["html-path"]).read_text()
    everything = "\n".join([out.read_text(), comment["body"], html, run.out, run.err])
    assert "OUTSIDE-THE-TREE" not in everything and AUTH not in everything
    doc = json.loads(out.read_text())
    assert any("not read" in note and named in note for note in doc["notes"]), doc["notes"]


PNG = b"\x89PNG\r\n\x1a\n" + b"OUTSIDE-THE-TREE-IMAGE" * 4


def _image_link(gh) -> None:
    secret = gh.tmp / "outside" / "secret.png"
    secret.parent.mkdir(exist_ok=True)
    secret.write_bytes(PNG)
    (gh.repo.path / "plot.png").unlink()
    (gh.repo.path / "plot.png").symlink_to(secret)


def _folder_link(gh) -> None:
    import shutil

    shutil.rmtree(gh.repo.path / "curves")
    (gh.repo.path / "curves").symlink_to("/etc")


PLOT_LINKS = [
    pytest.param(_image_link, "plot.png", id="image-linked-outside"),
    pytest.param(_folder_link, "curves", id="plots-folder-linked-to-etc"),
]


@pytest.mark.parametrize("link,plot", PLOT_LINKS)
def test_a_plot_never_follows_a_link_out_of_the_tree(gh, link, plot):  # noqa: F811
    import base64

    from tests.conftest import DVC_YAML

    metrics_repo(gh.repo, {"acc": 0.9})
    gh.repo.write("dvc.yaml", DVC_YAML + "plots:\n  - plot.png\n  - curves\n")
    gh.repo.path.joinpath("plot.png").write_bytes(b"\x89PNG\r\n\x1a\nbase")
    gh.repo.write("curves/a.json", [{"step": 0, "loss": 1.0}])
    base = gh.repo.commit("plots")
    gh.repo.git("checkout", "-q", "-b", "feature")
    link(gh)
    head = gh.repo.commit("a link")
    gh.pull_request(7, base, head)
    out = gh.tmp / "r.json"
    run = gh.run("ci", "--output", str(out))
    assert run.code in (0, 1), own_output(run.err)
    assert "Traceback" not in run.err and "internal error" not in run.err
    html = Path(gh.outputs()["html-path"]).read_text()
    [comment] = comments(gh.fake)
    secret = base64.b64encode(PNG).decode()
    everything = "\n".join([out.read_text(), html, comment["body"]])
    assert secret[:40] not in everything and "root:x:0:0" not in everything
    doc = json.loads(out.read_text())
    reasons = [p.get("reason") or "" for p in doc["plots"] if p["id"].startswith(plot)]
    assert any("link out of the repository" in r for r in reasons), doc["plots"]


# --- 6. bounds: every YAML through one bounded loader, every reader bounded -------------------


def _bomb_yaml(key: str) -> str:
    from tests.hostile.test_inputs import alias_bomb

    return f"{key}:\n{alias_bomb()}\n"


def _write(rel: str, text: str):
    def change(repo) -> None:
        repo.write(rel, text)

    return change


def _many_keys(count: int, files: tuple[str, ...] = ("big.json",)):
    def change(repo) -> None:
        body = ",".join(f'"k{i}": {i % 7}' for i in range(count))
        for name in files:
            (repo.path / name).write_text("{" + body + "}")

    return change


def _many_requirements(repo) -> None:
    lines = "".join(f"package-{i}=={i % 9}.0\n" for i in range(400_000))
    repo.write("requirements.txt", lines)


BIG_INPUTS = [
    pytest.param(
        _write("environment.yml", "name: x\n" + _bomb_yaml("dependencies")),
        "environment.yml",
        "alias",
        id="alias-bomb-environment-yml",
    ),
    pytest.param(
        _write(".github/workflows/ci.yml", "on: push\n" + _bomb_yaml("jobs")),
        ".github/workflows/ci.yml",
        "alias",
        id="alias-bomb-workflow",
    ),
    pytest.param(
        _write("conda-lock.yml", _bomb_yaml("package")),
        "conda-lock.yml",
        "alias",
        id="alias-bomb-conda-lock",
    ),
    pytest.param(
        _write("extra.yaml", _bomb_yaml("acc")), "extra.yaml", "alias", id="alias-bomb-metrics-file"
    ),
    pytest.param(_many_requirements, "requirements.txt", "bytes", id="400k-line-requirements"),
    pytest.param(_many_keys(1_000_000), "big.json", "10,000", id="1M-key-metrics"),
    pytest.param(
        _many_keys(9_000, ("big.json", "big2.json", "big3.json")),
        "this report leaves out",
        "metric rows",
        id="27000-metrics-in-three-files",
    ),
]


@pytest.mark.parametrize("change,named,why", BIG_INPUTS)
def test_a_huge_or_bombed_input_is_bounded_and_named(git_repo, change, named, why):
    import subprocess

    from tests.conftest import VENV_BIN

    metrics_repo(
        git_repo,
        {"acc": 0.9},
        config="repro: {enabled: false}\nmetrics:\n  files: [extra.yaml, big.json, big2.json, big3.json]\n",
    )
    git_repo.write("requirements.txt", "pandas==2.1.4\n")
    git_repo.write("environment.yml", "name: x\ndependencies: [python=3.11]\n")
    git_repo.write("conda-lock.yml", "package: []\n")
    git_repo.write(".github/workflows/ci.yml", "on: push\njobs: {}\n")
    git_repo.write("extra.yaml", "acc: 1\n")
    git_repo.write("big.json", {"x": 1})
    git_repo.commit("small inputs")
    change(git_repo)
    # a subprocess: before the fix some of these ran for minutes and printed 100 MB
    proc = subprocess.run(
        [str(VENV_BIN / "mlci"), "check", "--no-repro", "--base", "HEAD", "--format", "markdown"],
        cwd=git_repo.path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert len(proc.stdout) < 400_000, f"{len(proc.stdout):,} characters of report"
    lines = [ln for ln in proc.stdout.splitlines() if named in ln and why in ln]
    assert lines, proc.stdout[-3000:]
