"""The environment diff: real requirement files of each format, and the section of the report."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

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


# --- real files of each format: pins, ranges, extras, markers, includes ---------------------

DATA = Path(__file__).parent / "data" / "environment"


def test_uv_lock_written_by_uv_with_extras_markers_and_the_project_itself():
    """Two ``uv.lock`` files written by ``uv lock`` (uv 0.13.9; wheel lists cut to one entry).

    The project (``source = { virtual = "." }``) asks for ``packaging>=23,<26`` at the base and
    ``packaging>=23`` plus an optional ``plots = ["click>=8"]`` at the head, ``requests[socks]``
    (an extra: ``pysocks`` is locked) and ``pyyaml==6.0.3; python_version >= '3.10'`` (a marker).
    """
    base = envfiles.parse("uv.lock", (DATA / "uv.base.lock").read_text())
    head = envfiles.parse("uv.lock", (DATA / "uv.head.lock").read_text())
    assert base.error is None and head.error is None
    locked = {e.name: (e.spec, e.pinned) for e in head.entries}
    assert "churn" not in locked  # the project itself is no dependency
    assert locked["pysocks"] == ("1.7.1", True)  # brought in by the extra
    assert locked["pyyaml"] == ("6.0.3", True)  # under its marker
    assert locked["packaging"] == ("26.4", True)
    changes = [(c.key, c.status, c.base, c.head) for c in envfiles.diff(base, head)]
    assert changes == [("click", "added", None, "8.5.1"), ("packaging", "changed", "25.0", "26.4")]
    # the pyproject.toml next to it: its ranges, extras and markers as written
    project = envfiles.parse("pyproject.toml", (DATA / "pyproject.head.toml").read_text())
    got = {e.key: (e.spec, e.pinned) for e in project.entries}
    assert got == {
        "packaging": (">=23", False),
        'pyyaml; python_version >= "3.10"': ("==6.0.3", True),
        "requests": ("[socks]>=2.31", False),
        "click [extra plots]": (">=8", False),
    }
    old = envfiles.parse("pyproject.toml", (DATA / "pyproject.base.toml").read_text())
    assert [(c.key, c.status, c.base, c.head) for c in envfiles.diff(old, project)] == [
        ("packaging", "changed", "<26,>=23", ">=23"),
        ("click [extra plots]", "added", None, ">=8"),
    ]


# the wheels' hashes in the lock files below (no parser reads them)
WHEEL = "sha256:70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d061d6dcc6"

POETRY_LOCK = """\
# This file is automatically @generated by Poetry 2.1.3 and should not be changed by hand.

[[package]]
name = "colorama"
version = "0.4.6"
description = "Cross-platform colored terminal text."
optional = false
python-versions = "!=3.0.*,!=3.1.*,!=3.2.*,!=3.3.*,!=3.4.*,!=3.5.*,!=3.6.*,>=2.7"
groups = ["main"]
markers = "platform_system == \\"Windows\\""
files = [
    {file = "colorama-0.4.6-py2.py3-none-any.whl", hash = "{wheel_hash}"},
]

[[package]]
name = "PySocks"
version = "1.7.1"
description = "A Python SOCKS client module."
optional = false
python-versions = ">=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*, !=3.4.*"
groups = ["main"]
files = [
    {file = "PySocks-1.7.1-py3-none-any.whl", hash = "{wheel_hash}"},
]

[[package]]
name = "requests"
version = "{requests}"
description = "Python HTTP for Humans."
optional = false
python-versions = ">=3.8"
groups = ["main"]
files = [
    {file = "requests-{requests}-py3-none-any.whl", hash = "{wheel_hash}"},
]

[package.dependencies]
certifi = ">=2017.4.17"
PySocks = {version = ">=1.5.6,<1.5.7 || >1.5.7", optional = true, markers = "extra == \\"socks\\""}

[package.extras]
socks = ["PySocks (>=1.5.6,!=1.5.7)"]

[metadata]
lock-version = "2.1"
python-versions = ">=3.10"
content-hash = "5e8a0bb4a3cf2e8d5ed4d2b4dd6a6d0c6a7cbf1fd6c5f1f0b2e3e8c7d6a5b4c3"
"""


def test_poetry_lock_with_markers_extras_and_dependency_tables():
    base = envfiles.parse(
        "poetry.lock", POETRY_LOCK.replace("{requests}", "2.31.0").replace("{wheel_hash}", WHEEL)
    )
    head = envfiles.parse(
        "poetry.lock", POETRY_LOCK.replace("{requests}", "2.32.3").replace("{wheel_hash}", WHEEL)
    )
    assert base.error is None
    assert {e.name: e.spec for e in head.entries} == {
        "colorama": "0.4.6",  # locked under a marker: still one version
        "pysocks": "1.7.1",  # canonical name, as requirement files spell it
        "requests": "2.32.3",
    }
    assert [(c.key, c.status, c.base, c.head) for c in envfiles.diff(base, head)] == [
        ("requests", "changed", "2.31.0", "2.32.3")
    ]


PDM_LOCK = """\
# This file is @generated by PDM.
# It is not intended for manual editing.

[metadata]
groups = ["default", "dev"]
strategy = ["inherit_metadata"]
lock_version = "4.5.0"
content_hash = "sha256:0b3c5f1d2e4a6b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c"

[[metadata.targets]]
requires_python = ">=3.10"

[[package]]
name = "colorama"
version = "0.4.6"
requires_python = "!=3.0.*,!=3.1.*,!=3.2.*,!=3.3.*,!=3.4.*,!=3.5.*,!=3.6.*,>=2.7"
summary = "Cross-platform colored terminal text."
groups = ["dev"]
marker = "sys_platform == \\"win32\\""
files = [
    {file = "colorama-0.4.6-py2.py3-none-any.whl", hash = "{wheel_hash}"},
]

[[package]]
name = "requests"
version = "2.32.3"
requires_python = ">=3.8"
summary = "Python HTTP for Humans."
groups = ["default"]
dependencies = [
    "certifi>=2017.4.17",
]
files = [
    {file = "requests-2.32.3-py3-none-any.whl", hash = "{wheel_hash}"},
]

[[package]]
name = "requests"
version = "2.32.3"
extras = ["socks"]
requires_python = ">=3.8"
summary = "Python HTTP for Humans."
groups = ["default"]
dependencies = [
    "PySocks!=1.5.7,>=1.5.6",
    "requests==2.32.3",
]
files = [
    {file = "requests-2.32.3-py3-none-any.whl", hash = "{wheel_hash}"},
]
"""


def test_pdm_lock_with_an_extra_entry_and_a_marker():
    lock = PDM_LOCK.replace("{wheel_hash}", WHEEL)
    env = envfiles.parse("pdm.lock", lock)
    assert env.error is None
    # pdm writes `requests[socks]` as a second entry of the same version: one package
    assert [(e.key, e.spec, e.pinned) for e in env.entries] == [
        ("colorama", "0.4.6", True),
        ("requests", "2.32.3", True),
    ]
    head = envfiles.parse("pdm.lock", lock.replace('"0.4.6"', '"0.4.7"'))
    assert [(c.key, c.base, c.head) for c in envfiles.diff(env, head)] == [
        ("colorama", "0.4.6", "0.4.7")
    ]


def test_pipfile_lock_with_markers_extras_and_develop():
    doc = {
        "_meta": {
            "hash": {"sha256": "9f1c..."},
            "pipfile-spec": 6,
            "requires": {"python_version": "3.11"},
            "sources": [{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": True}],
        },
        "default": {
            "requests": {
                "extras": ["socks"],
                "hashes": [
                    "sha256:70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d061d6dcc6"
                ],
                "index": "pypi",
                "markers": "python_version >= '3.8'",
                "version": "==2.32.3",
            },
            "colorama": {
                "hashes": [
                    "sha256:4f1d9991f5acc0ca119f9d443620b77f9d6b33703e51011c16baf57afb225be6"
                ],
                "markers": "platform_system == 'Windows'",
                "version": "==0.4.6",
            },
            "mylib": {"editable": True, "path": "./mylib"},
        },
        "develop": {"pytest": {"hashes": [], "index": "pypi", "version": "==8.3.2"}},
    }
    env = envfiles.parse("Pipfile.lock", json.dumps(doc, indent=4))
    assert [(e.key, e.spec) for e in env.entries] == [
        ("requests", "2.32.3"),
        ("colorama", "0.4.6"),
        ("mylib", "?"),  # a local path has no version to compare
        ("pytest [develop]", "8.3.2"),
    ]
    doc["default"]["requests"]["version"] = "==2.31.0"
    del doc["develop"]["pytest"]
    changes = envfiles.diff(envfiles.parse("Pipfile.lock", json.dumps(doc)), env)
    assert [(c.key, c.status, c.base, c.head) for c in changes] == [
        ("requests", "changed", "2.31.0", "2.32.3"),
        ("pytest [develop]", "added", None, "8.3.2"),
    ]


CONDA_LOCK = """\
version: 1
metadata:
  content_hash:
    linux-64: 6a5f2f0e5c4b3a29d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5
  channels:
  - url: conda-forge
    used_env_vars: []
  platforms:
  - linux-64
  - osx-arm64
  sources:
  - environment.yml
package:
- name: numpy
  version: 1.26.4
  manager: conda
  platform: linux-64
  dependencies:
    libblas: '>=3.9.0,<4.0a0'
    python: '>=3.11,<3.12.0a0'
  url: https://conda.anaconda.org/conda-forge/linux-64/numpy-1.26.4-py311h64a7726_0.conda
  hash:
    md5: a502d7aad449a1206efb366d6a12c52d
    sha256: 3f4365e11b28e244c95ba8579942b0802761ba7bb31c026f50d1a9ea9c728149
  category: main
  optional: false
- name: numpy
  version: {osx_numpy}
  manager: conda
  platform: osx-arm64
  dependencies:
    python: '>=3.11,<3.12.0a0'
  url: https://conda.anaconda.org/conda-forge/osx-arm64/numpy-1.26.4-py311h7125741_0.conda
  hash:
    md5: 3160b93669a0def35a7a8158ebb33816
    sha256: 160a52a01fea44fe9753a2ed22cf13d7b55c8a89ea0b8738546fdbf4795d6514
  category: main
  optional: false
- name: requests
  version: 2.32.3
  manager: pip
  platform: linux-64
  dependencies:
    pysocks: '>=1.5.6,!=1.5.7'
  url: https://files.pythonhosted.org/packages/f9/9b/requests-2.32.3-py3-none-any.whl
  hash:
    sha256: 70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d061d6dcc6
  category: main
  optional: false
"""


def test_conda_lock_with_platforms_and_pip_packages():
    base = envfiles.parse("conda-lock.yml", CONDA_LOCK.replace("{osx_numpy}", "1.26.4"))
    head = envfiles.parse("conda-lock.yml", CONDA_LOCK.replace("{osx_numpy}", "2.0.1"))
    assert [(e.key, e.spec) for e in base.entries] == [
        ("numpy", "1.26.4"),
        ("requests [pip]", "2.32.3"),
    ]
    # one platform moved: the package names both versions it is locked at
    assert [(c.key, c.base, c.head) for c in envfiles.diff(base, head)] == [
        ("numpy", "1.26.4", "1.26.4, 2.0.1")
    ]


def test_conda_environment_pip_list_includes_and_markers():
    text = textwrap.dedent(
        """\
        name: churn
        channels: [conda-forge, defaults]
        dependencies:
          - python=3.11.*
          - numpy=1.26.4=py311h64a7726_0
          - scikit-learn>=1.4,<1.6
          - pip
          - pip:
              - --extra-index-url https://download.pytorch.org/whl/cpu
              - -r requirements/pip.txt
              - -c constraints.txt
              - "torch==2.3.1; sys_platform == 'linux'"
              - mlflow-skinny[databricks]==2.14.1
        """
    )
    env = envfiles.parse("envs/environment.yml", text)
    assert env.error is None
    assert env.includes == ("envs/requirements/pip.txt", "envs/constraints.txt")
    assert env.constraints == ("envs/constraints.txt",)
    got = {e.key: (e.spec, e.pinned) for e in env.entries}
    assert got == {
        "python": ("=3.11.*", False),
        "numpy": ("=1.26.4=py311h64a7726_0", True),
        "scikit-learn": (">=1.4,<1.6", False),
        "pip": ("(any version)", False),
        'torch [pip]; sys_platform == "linux"': ("==2.3.1", True),
        "mlflow-skinny [pip]": ("[databricks]==2.14.1", True),
    }


def test_a_conda_environment_its_pip_includes_and_the_workflow_python_in_the_report(dvc_repo, mlci):
    repo = dvc_repo
    repo.write(
        "dvc.yaml",
        "stages:\n  train:\n    cmd: python -c \"print('train')\"\n    deps:\n"
        "      - envs/environment.yml\n",
    )
    repo.write(
        "envs/environment.yml",
        "name: churn\ndependencies:\n  - python=3.11\n  - numpy=1.26.4\n  - pip=24.0\n"
        "  - pip:\n      - -r pip-deps.txt\n",
    )
    repo.write("envs/pip-deps.txt", "mlflow-skinny==2.14.1\n")  # no requirements*.txt name
    workflow = (
        "on: pull_request\njobs:\n  mlci:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/setup-python@v5\n        with:\n"
        '          python-version: "{version}"\n'
    )
    repo.write(".github/workflows/mlci.yml", workflow.format(version="3.11"))
    repo.write("mlci.yaml", "environment:\n  unpinned: warn\n")
    repo.commit("baseline")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("envs/pip-deps.txt", "mlflow-skinny>=2.14\n")
    repo.write(".github/workflows/mlci.yml", workflow.format(version="3.12"))
    repo.commit("a range for mlflow, Python 3.12 in CI")
    doc = mlci(repo, "check", "--no-repro", "--base", "main", "--format", "json").json()
    env = doc["environment"]
    assert env["files"] == [".github/workflows/mlci.yml", "envs/pip-deps.txt"]
    assert [(p["file"], p["name"], p["base"], p["head"]) for p in env["packages"]] == [
        (".github/workflows/mlci.yml", "python", "3.11", "3.12"),
        ("envs/pip-deps.txt", "mlflow-skinny", "==2.14.1", ">=2.14"),
    ]
    # the stage depends on environment.yml, whose pip list includes the changed file
    assert env["stages"] == [{"name": "train", "files": ["envs/pip-deps.txt"]}]
    unpinned = [r["message"] for r in doc["reasons"] if r["section"] == "environment"]
    assert unpinned == [
        "mlflow-skinny >=2.14 in envs/pip-deps.txt is not pinned to one version "
        "(stage train depends on it)"
    ]
    md = mlci(repo, "check", "--no-repro", "--base", "main", "--format", "markdown").out
    assert "| `.github/workflows/mlci.yml` | `python` | `3.11` | `3.12` |" in md
