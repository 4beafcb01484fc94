"""`mlci --help` / `--version` import no heavy library; the wheel carries templates and schema."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

HEAVY = ("dvc", "pandas", "great_expectations", "mlflow", "github", "git", "rich", "jinja2", "yaml")

PROBE = f"""
import sys
from mlci.cli import main
code = main(sys.argv[1:])
heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))
print("HEAVY=" + ",".join(heavy))
"""


@pytest.mark.parametrize(
    "args", [["--version"], ["--help"], ["check", "--help"], ["compare", "--help"]]
)
def test_startup_imports_nothing_heavy(args):
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip().splitlines()[-1] == "HEAVY="
    if args == ["--version"]:
        assert proc.stdout.startswith("mlci 0.1.0")


def test_console_script_and_module_entry_points():
    bin_dir = Path(sys.executable).parent
    out = subprocess.run(
        [str(bin_dir / "mlci"), "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "mlci 0.1.0"
    out = subprocess.run(
        [sys.executable, "-m", "mlci", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "mlci 0.1.0"


@pytest.mark.slow  # builds a wheel
def _wheel_command(out: Path) -> list[str]:
    """Build with pip where the venv has it (`make test`'s does); a uv-made venv has only uv."""
    import importlib.util
    import shutil

    if importlib.util.find_spec("pip") is not None:
        return [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(out),
            str(REPO_ROOT),
        ]
    uv = shutil.which("uv")
    assert uv, "building the wheel needs pip or uv in this environment"
    return [uv, "build", "-q", "--wheel", "--out-dir", str(out), str(REPO_ROOT)]


@pytest.mark.slow  # builds the wheel (seconds)
def test_wheel_ships_templates_and_schema(tmp_path):
    """A plain `pip install .` must be able to render reports: templates live inside the wheel."""
    subprocess.run(_wheel_command(tmp_path), check=True, capture_output=True)
    wheel = next(tmp_path.glob("mlci-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "mlci/templates/report.md.j2" in names
    # mlci init
    assert {"mlci/templates/mlci.yaml.j2", "mlci/templates/workflow.yml.j2"} <= set(names)
    assert "mlci/templates/report.html.j2" in names
    assert {
        f"mlci/report/vendor/{js}"
        for js in ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")
    } <= set(names)
    assert "mlci/report/vendor/LICENSE.vega" in names
    assert "mlci/schema/result.schema.json" in names
    assert "mlci/cli.py" in names
    # and the installed package renders from its own copy, not from this source tree
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = (
        "import mlci, mlci.report.render as r, mlci.model.result as res;"
        "from mlci.model.result import Context, Result;"
        f"assert mlci.__file__.startswith({str(site)!r}), mlci.__file__;"
        "print(r.markdown(Result(context=Context(), verdict='pass')).splitlines()[1]);"
        "res.validate(Result(context=Context(), verdict='pass').to_dict())"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "### ✅ mlci: gate open — nothing to compare"


def test_console_script_pauses_the_cycle_collector_then_freezes_and_resumes_it():
    """The start-up heap is frozen once the pause ends; the collector then runs as usual."""
    probe = (
        "import gc\n"
        "from mlci.cli import pause_gc_at_startup\n"
        "timer = pause_gc_at_startup(0.01)\n"
        "paused = not gc.isenabled()\n"
        "timer.join()\n"
        "print(paused, gc.isenabled(), gc.get_freeze_count() > 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["True", "True", "True"]


def test_main_called_by_a_program_leaves_its_collector_alone():
    import gc

    from mlci.cli import main

    assert gc.isenabled()
    assert main(["--version"]) == 0
    assert gc.isenabled()


def test_version_imports_only_what_it_prints():
    """`mlci --version` stays within 1.5x of `import click` (benchmarks/bench_check.py, (a)):
    the result model, package resources, secrets and traceback are imported where used."""
    probe = (
        "import sys\n"
        "from mlci.cli import main\n"
        "main(['--version'])\n"
        "print(sorted({'mlci.model.result', 'importlib.resources', 'secrets', 'traceback'}"
        " & set(sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_console_script_freezes_the_heap_at_exit():
    """The interpreter's last collections need not scan what the process gives back anyway."""
    probe = (
        "import atexit, gc\n"
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
        "from mlci.cli import pause_gc_at_startup\n"
        "pause_gc_at_startup(1e9)\n"  # the pause never ends by itself here
        "print('frozen before:', gc.get_freeze_count() > 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert proc.stdout.split("\n")[:2] == ["frozen before: False", "frozen at exit: True"]
