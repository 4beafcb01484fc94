"""The environment diff: real requirement files of each format, and the section of the report."""

from __future__ import annotations

import json
import textwrap

from mlci.engine import envfiles
from mlci.model import result as result_mod
from tests.conftest import GitRepo

REQUIREMENTS = """\
# the pipeline's packages
-r base.txt
--constraint constraints.txt
--index-url https://pypi.org/simple
pandas==2.1.4
scikit-learn>=1.3,<1.5   # a range
requests[socks,security]==2.31.0 \\
    --hash=sha256:58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f
numpy==1.24.4; python_version < "3.9"
numpy==1.26.4; python_version >= "3.9"
torch
mylib @ https://example.com/mylib-1.0.tar.gz
-e ./vendored/tool
"""


def test_requirements_file_pins_ranges_extras_markers_includes():
    env = envfiles.parse("ml/requirements.txt", REQUIREMENTS)
    assert env.kind == "requirements" and env.error is None
    assert env.includes == ("ml/base.txt", "ml/constraints.txt")
    assert env.constraints == ("ml/constraints.txt",)
    # what the includes alone are found by, without parsing the requirements
    assert envfiles.requirement_includes("ml/requirements.txt", REQUIREMENTS) == env.includes
    by_key = {e.key: e for e in env.entries}
    assert by_key["pandas"].spec == "==2.1.4" and by_key["pandas"].pinned
    assert by_key["pandas"].line == 5
    assert by_key["scikit-learn"].spec == "<1.5,>=1.3" and by_key["scikit-learn"].pinned is False
    # extras are part of what is declared; the hash option after the continuation is not
    assert by_key["requests"].spec == "[security,socks]==2.31.0" and by_key["requests"].pinned
    assert by_key['numpy; python_version < "3.9"'].spec == "==1.24.4"
    assert by_key['numpy; python_version >= "3.9"'].spec == "==1.26.4"
    assert by_key["torch"].spec == "(any version)" and by_key["torch"].pinned is False
    assert by_key["mylib"].pinned is None and "example.com" in by_key["mylib"].spec
    assert len(env.entries) == 7  # -e and options name no package


def test_a_wildcard_is_not_a_pin_and_a_nameless_line_is_reported():
    env = envfiles.parse("requirements-dev.txt", "pytest==8.*\n./local/pkg\n")
    assert [e.pinned for e in env.entries] == [False]
    assert env.error and "requirements-dev.txt:2" in env.error


def test_diff_of_two_requirement_files():
    base = envfiles.parse("requirements.txt", "pandas==2.1.4\ntorch>=2.0\nscipy==1.11\n")
    head = envfiles.parse("requirements.txt", "pandas==2.2.0\ntorch>=2.0\nxgboost==2.0.3\n")
    changes = envfiles.diff(base, head)
    assert [(c.key, c.status, c.base, c.head) for c in changes] == [
        ("pandas", "changed", "==2.1.4", "==2.2.0"),
        ("xgboost", "added", None, "==2.0.3"),
        ("scipy", "removed", "==1.11", None),
    ]


def test_pyproject_dependencies_extras_groups_and_poetry():
    text = textwrap.dedent(
        """\
        [project]
        name = "churn"
        dependencies = ["pandas>=2,<3", "Scikit_Learn==1.4.2"]
        [project.optional-dependencies]
        gpu = ["torch==2.2.0; sys_platform == 'linux'"]
        [dependency-groups]
        dev = ["pytest>=8", {include-group = "lint"}]
        lint = ["ruff==0.4.1"]
        [tool.poetry.dependencies]
        python = "^3.10"
        numpy = "^1.26"
        mlflow = {version = "2.12.1", extras = ["skinny"]}
        """
    )
    env = envfiles.parse("pyproject.toml", text)
    got = {e.key: (e.spec, e.pinned) for e in env.entries}
    assert got == {
        "pandas": ("<3,>=2", False),
        "scikit-learn": ("==1.4.2", True),
        'torch [extra gpu]; sys_platform == "linux"': ("==2.2.0", True),
        "pytest [group dev]": (">=8", False),
        "ruff [group lint]": ("==0.4.1", True),
        "numpy": ("^1.26", False),
        "mlflow": ("2.12.1", True),
    }


def test_lock_files_uv_poetry_pdm_pipfile():
    uv = textwrap.dedent(
        """\
        version = 1
        [[package]]
        name = "churn"
        version = "0.1.0"
        source = { editable = "." }
        [[package]]
        name = "numpy"
        version = "1.26.4"
        source = { registry = "https://pypi.org/simple" }
        [[package]]
        name = "numpy"
        version = "2.0.1"
        source = { registry = "https://pypi.org/simple" }
        """
    )
    env = envfiles.parse("uv.lock", uv)
    assert [(e.key, e.spec, e.pinned) for e in env.entries] == [("numpy", "1.26.4, 2.0.1", True)]
    poetry = '[[package]]\nname = "Pandas"\nversion = "2.2.1"\n\n[metadata]\nlock-version = "2.0"\n'
    assert [(e.key, e.spec) for e in envfiles.parse("poetry.lock", poetry).entries] == [
        ("pandas", "2.2.1")
    ]
    pdm = '[[package]]\nname = "requests"\nversion = "2.31.0"\n'
    assert [(e.key, e.spec) for e in envfiles.parse("sub/pdm.lock", pdm).entries] == [
        ("requests", "2.31.0")
    ]
    pipfile = json.dumps(
        {
            "_meta": {"hash": {"sha256": "x"}},
            "default": {"numpy": {"version": "==1.26.4", "hashes": []}},
            "develop": {"pytest": {"version": "==8.0.0"}},
        }
    )
    env = envfiles.parse("Pipfile.lock", pipfile)
    assert [(e.key, e.spec) for e in env.entries] == [
        ("numpy", "1.26.4"),
        ("pytest [develop]", "8.0.0"),
    ]


def test_conda_environment_and_conda_lock():
    text = textwrap.dedent(
        """\
        name: churn
        channels: [conda-forge]
        dependencies:
          - python=3.11
          - conda-forge::numpy==1.26.4
          - scipy>=1.11
          - cudatoolkit=11.8=h37601d7_11
          - pip
          - pip:
              - mlflow-skinny==2.12.1
              - -r requirements-extra.txt
        """
    )
    env = envfiles.parse("environment.yml", text)
    got = {e.key: (e.spec, e.pinned) for e in env.entries}
    assert got == {
        "python": ("=3.11", True),
        "numpy": ("==1.26.4", True),
        "scipy": (">=1.11", False),
        "cudatoolkit": ("=11.8=h37601d7_11", True),
        "pip": ("(any version)", False),
        "mlflow-skinny [pip]": ("==2.12.1", True),
    }
    lock = textwrap.dedent(
        """\
        version: 1
        package:
          - {name: numpy, version: 1.26.4, manager: conda, platform: linux-64}
          - {name: numpy, version: 1.26.4, manager: conda, platform: osx-arm64}
          - {name: mlflow-skinny, version: 2.12.1, manager: pip, platform: linux-64}
        """
    )
    env = envfiles.parse("conda-lock.yml", lock)
    assert [(e.key, e.spec) for e in env.entries] == [
        ("numpy", "1.26.4"),
        ("mlflow-skinny [pip]", "2.12.1"),
    ]


def test_workflow_python_version_and_matrix():
    text = textwrap.dedent(
        """\
        on: pull_request
        jobs:
          test:
            strategy:
              matrix:
                python-version: ["3.10", "3.11"]
            steps:
              - uses: actions/checkout@v4
              - uses: actions/setup-python@v5
                with:
                  python-version: ${{ matrix.python-version }}
          mlci:
            steps:
              - uses: actions/setup-python@v5
                with: {python-version: "3.12"}
        """
    )
    env = envfiles.parse(".github/workflows/ci.yml", text)
    assert [(e.key, e.spec) for e in env.entries] == [("python", "3.10, 3.11, 3.12")]
    assert envfiles.kind_of(".github/workflows/ci.yml") == "workflow"
    assert envfiles.kind_of("docs/ci.yml") is None


def test_a_broken_file_is_reported_not_raised():
    env = envfiles.parse("pyproject.toml", "[project\n")
    assert env.entries == () and env.error and env.error.startswith("cannot read pyproject.toml")


# --- end to end: a DVC project whose stage depends on the requirement files ---------------

DVC_YAML = """\
stages:
  train:
    cmd: python -c "print('train')"
    deps:
      - requirements.txt
    metrics:
      - metrics.json:
          cache: false
  report:
    cmd: python -c "print('report')"
    deps:
      - src
"""


def _project(dvc_repo: GitRepo, config: str = "") -> GitRepo:
    dvc_repo.write("dvc.yaml", DVC_YAML)
    dvc_repo.write("metrics.json", {"acc": 0.9})
    dvc_repo.write("requirements.txt", "-r requirements/base.txt\npandas==2.1.4\n")
    dvc_repo.write("requirements/base.txt", "numpy==1.26.4\nscipy==1.11.0\n")
    dvc_repo.write("src/train.py", "print('hi')\n")
    dvc_repo.write("uv.lock", '[[package]]\nname = "numpy"\nversion = "1.26.4"\n')
    if config:
        dvc_repo.write("mlci.yaml", config)
    dvc_repo.commit("baseline")
    dvc_repo.git("checkout", "-q", "-b", "feature")
    return dvc_repo


def test_changed_environment_in_the_result_and_every_report(dvc_repo, mlci, tmp_path):
    repo = _project(dvc_repo)
    # an included file changes, and a lock file; the stage depends on the including file
    repo.write("requirements/base.txt", "numpy==2.0.1\nscipy==1.11.0\nxgboost>=2\n")
    repo.write("uv.lock", '[[package]]\nname = "numpy"\nversion = "2.0.1"\n')
    repo.commit("numpy 2")
    html = tmp_path / "report.html"
    run = mlci(
        repo, "check", "--no-repro", "--base", "main", "--format", "json", "--html", str(html)
    )
    assert run.code == 0, run.err
    doc = run.json()
    result_mod.validate(doc)
    env = doc["environment"]
    assert env["files"] == ["requirements/base.txt", "uv.lock"]
    assert env["packages"] == [
        {
            "file": "requirements/base.txt",
            "name": "numpy",
            "status": "changed",
            "base": "==1.26.4",
            "head": "==2.0.1",
        },
        {
            "file": "requirements/base.txt",
            "name": "xgboost",
            "status": "added",
            "base": None,
            "head": ">=2",
        },
        {
            "file": "uv.lock",
            "name": "numpy",
            "status": "changed",
            "base": "1.26.4",
            "head": "2.0.1",
        },
    ]
    # train depends on requirements.txt, whose `-r` brings the changed file in: DVC does not
    # see that change (it hashes requirements.txt only), the report does
    assert env["stages"] == [{"name": "train", "files": ["requirements/base.txt"]}]
    back = result_mod.Result.from_dict(doc)
    assert back.environment is not None and back.environment.packages[2].head == "2.0.1"

    md = mlci(repo, "check", "--no-repro", "--base", "main", "--format", "markdown").out
    assert (
        "<details><summary>Environment: 3 packages changed in 2 files; 1 stage depends on them"
        "</summary>" in md
    )
    assert "| `requirements/base.txt` | `numpy` | `==1.26.4` | `==2.0.1` |" in md
    assert "| `uv.lock` | `numpy` | `1.26.4` | `2.0.1` |" in md
    text = mlci(repo, "check", "--no-repro", "--base", "main").out
    assert "Environment: 3 packages changed in 2 files; 1 stage depends on them" in text
    assert "stage train depends on requirements/base.txt" in text
    assert "xgboost" in text and "==2.0.1" in text
    page = html.read_text()
    assert "<h2>Environment: 3 packages changed in 2 files; 1 stage depends on them</h2>" in page
    assert "<td><code>xgboost</code></td>" in page


def test_stages_whose_deps_include_a_changed_file_are_named(dvc_repo, mlci):
    repo = _project(dvc_repo)
    repo.write("requirements.txt", "-r requirements/base.txt\npandas==2.2.0\n")
    repo.write("src/requirements.txt", "flask==3.0.0\n")  # inside the folder `report` depends on
    repo.commit("pandas 2.2, a requirements file for src")
    doc = mlci(repo, "check", "--no-repro", "--base", "main", "--format", "json").json()
    env = doc["environment"]
    assert env["stages"] == [
        {"name": "train", "files": ["requirements.txt"]},
        {"name": "report", "files": ["src/requirements.txt"]},
    ]
    md = mlci(repo, "check", "--no-repro", "--base", "main", "--format", "markdown").out
    assert "2 stages depend on them" in md
    assert (
        "Stages that depend on a changed file: `train` (`requirements.txt`); "
        "`report` (`src/requirements.txt`)." in md
    )


def test_nothing_changed_means_no_section_and_no_field(dvc_repo, mlci):
    repo = _project(dvc_repo)
    repo.write("src/train.py", "print('changed code only')\n")
    repo.commit("code")
    doc = mlci(repo, "check", "--no-repro", "--base", "main", "--format", "json").json()
    assert "environment" not in doc
    md = mlci(repo, "check", "--no-repro", "--base", "main", "--format", "markdown").out
    assert "Environment" not in md


def test_unpinned_requirements_that_a_stage_depends_on_warn(dvc_repo, mlci):
    repo = _project(dvc_repo, config="environment:\n  unpinned: warn\n")
    # base.txt is reached through requirements.txt (-r), which `train` depends on
    repo.write("requirements/base.txt", "numpy==1.26.4\nscipy>=1.11\n-c ../constraints.txt\nrich\n")
    repo.write("constraints.txt", "rich==13.7.0\n")
    repo.write("requirements-docs.txt", "sphinx\n")  # no stage depends on it: not flagged
    repo.commit("a range")
    run = mlci(repo, "check", "--no-repro", "--base", "main", "--format", "json")
    doc = run.json()
    env_reasons = [r for r in doc["reasons"] if r["section"] == "environment"]
    assert env_reasons == [
        {
            "section": "environment",
            "severity": "warn",
            "message": "scipy >=1.11 in requirements/base.txt is not pinned to one version "
            "(stage train depends on it)",
            "file": "requirements/base.txt",
            "line": 2,
        }
    ]
    assert doc["verdict"] == "warn"
    md = mlci(repo, "check", "--no-repro", "--base", "main", "--format", "markdown").out
    assert "1 requirement not pinned to one version" in md.splitlines()[1]


def test_unpinned_off_by_default(dvc_repo, mlci):
    repo = _project(dvc_repo)
    repo.write("requirements.txt", "-r requirements/base.txt\npandas>=2\n")
    repo.commit("a range")
    doc = mlci(repo, "check", "--no-repro", "--base", "main", "--format", "json").json()
    assert not [r for r in doc["reasons"] if r["section"] == "environment"]
    assert doc["environment"]["packages"][0]["head"] == ">=2"
