"""DVC's private names live in one module, are checked when a repository is opened, and the
range mlci declares is the one that module names.

`make test-dvc-compat` runs this file (and the other DVC-facing ones) against the oldest DVC
the range allows; `make test` runs it against the newest.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlci.adapters.dvc import _compat
from tests.conftest import REPO_ROOT, metrics_repo

DVC_PACKAGE = REPO_ROOT / "mlci" / "adapters" / "dvc"


@pytest.fixture
def fresh_check() -> Iterator[None]:
    """The check runs once per process; these tests need it to run again, and to leave it so."""
    _compat._reset_for_tests()
    yield
    _compat._reset_for_tests()


def test_pyproject_pins_the_range_the_compat_module_names() -> None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - the CI's Python is 3.11
        import tomli as tomllib
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    pins = [d for d in project["dependencies"] if re.match(r"dvc\s*[<>=!~]", d)]
    assert pins == [f"dvc{_compat.SUPPORTED}"]


def test_the_installed_dvc_is_inside_the_range_and_has_every_name() -> None:
    from packaging.specifiers import SpecifierSet

    assert _compat.installed_version() in SpecifierSet(_compat.SUPPORTED)
    assert _compat.missing_names() == []


def test_a_dvc_without_one_of_the_names_stops_at_open_with_version_and_range(
    dvc_repo, mlci, monkeypatch: pytest.MonkeyPatch, fresh_check: None
) -> None:
    # what a DVC release that renamed `_reproduce_stage` looks like to mlci
    import dvc.repo.reproduce

    metrics_repo(dvc_repo, {"acc": 0.9})
    monkeypatch.delattr(dvc.repo.reproduce, "_reproduce_stage")
    run = mlci(dvc_repo, "check", "--base", "main", "--no-repro")
    assert run.code == 3
    said = run.out + run.err
    assert f"DVC {_compat.installed_version()} is installed" in said
    assert f"mlci supports dvc{_compat.SUPPORTED}" in said
    assert "lacks dvc.repo.reproduce._reproduce_stage" in said
    assert "Traceback" not in said


def test_the_check_passes_once_and_is_not_repeated(monkeypatch: pytest.MonkeyPatch, fresh_check):
    _compat.check()
    import dvc.repo.metrics.show

    # after a passing check, a name going away is not looked for again in this process
    monkeypatch.delattr(dvc.repo.metrics.show, "_gather_metrics")
    _compat.check()
    _compat._reset_for_tests()
    with pytest.raises(_compat.IncompatibleDvcError, match="_gather_metrics"):
        _compat.check()


def _private_names() -> set[str]:
    return {
        part
        for _, path, _ in _compat.NAMES
        for part in path.split(".")
        if part.startswith("_") and not part.startswith("__")
    } | {_compat.SKIP_GRAPH_CHECKS, "__wrapped__"}


def _dvc_internals_used(path: Path) -> list[str]:
    """DVC internals ``path`` uses: a name of :data:`_compat.NAMES` or any underscore name
    imported from DVC, a module whose internals those are, or a private attribute read."""
    tree = ast.parse(path.read_text(), str(path))
    private = _private_names()
    modules = {module for module, _, _ in _compat.NAMES}
    listed = {(module, attr.split(".")[0]) for module, attr, _ in _compat.NAMES}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "dvc":
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if alias.name.startswith("_") or (node.module, alias.name) in listed:
                    found.append(full)
                elif full in modules:
                    found.append(full)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name in modules]
        elif isinstance(node, ast.Attribute) and node.attr in private:
            found.append(node.attr)
        elif isinstance(node, ast.Constant) and node.value in private | {"cmd_run"}:
            found.append(str(node.value))
    return found


def test_no_module_but_compat_uses_a_private_dvc_name(tmp_path: Path) -> None:
    used = {
        str(path.relative_to(REPO_ROOT)): _dvc_internals_used(path)
        for path in sorted((REPO_ROOT / "mlci").rglob("*.py"))
        if path != DVC_PACKAGE / "_compat.py"
    }
    assert {name: found for name, found in used.items() if found} == {}
    # and the scan sees each way of using one
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from dvc.repo.metrics.show import _gather_metrics\n"
        "from dvc.stage import run\n"
        "repo._skip_graph_checks = True\n"
        "setattr(run, 'cmd_run', None)\n"
        "repo.plots._collect_data_sources(repo)\n"
    )
    assert _dvc_internals_used(sample) == [
        "dvc.repo.metrics.show._gather_metrics",
        "dvc.stage.run",
        "_skip_graph_checks",
        "cmd_run",
        "_collect_data_sources",
    ]
