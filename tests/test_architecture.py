"""The folder layout is the architecture: each package of ``mlci/`` imports only the layers below it.

``model`` imports nothing else of mlci; ``configfile`` only the model; ``adapters`` (DVC, git,
Great Expectations, MLflow) and ``forge`` (the code host) only the model; ``report`` only the
model; ``engine`` the model, the config loader and the adapters; ``commands`` and ``cli`` anything.
Only ``adapters`` and ``forge`` import an outside system or read ``GITHUB_*``. Outside ``forge``
nothing imports a host's package (``mlci.forge.github``) or reads the host's run context (the event
payload, the runner's variables): commands get host-neutral values from the ``mlci.forge``
protocol (``HostEvent``). A command module imports no other command module (``commands.common``
is the shared helper), and no module is longer than ``MAX_LINES``. The test reads the source
(imports inside functions too) rather than importing it.
"""

from __future__ import annotations

import ast
import functools
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "mlci"

MAY_IMPORT = {
    "model": {"model"},
    "configfile": {"model", "configfile"},
    "adapters": {"model", "adapters"},
    "forge": {"model", "forge"},
    "report": {"model", "report"},
    "engine": {"model", "configfile", "adapters", "engine"},
    "commands": {"model", "configfile", "adapters", "forge", "report", "engine", "commands"},
    "cli": {"model", "commands"},
    "__main__": {"cli"},
}

# outside system -> the one package that may import it. dvc-render only turns plot data into
# Vega-Lite specs (no I/O, no repository), which is the report's business.
OUTSIDE = {
    "dvc": "adapters",
    "dvc_data": "adapters",
    "scmrepo": "adapters",
    "great_expectations": "adapters",
    "pyspark": "adapters",
    "mlflow": "adapters",
    "git": "adapters",
    "github": "forge",
    "dvc_render": "report",
}

# Crossings the restructure has not removed yet. Each entry is (importer, imported): the test
# fails when one disappears, so the list only shrinks.
KNOWN: set[tuple[str, str]] = set()
# modules that still import an outside system or read GITHUB_* outside adapters/forge
KNOWN_OUTSIDE: set[str] = set()


# the longest a module may grow: past it, it holds more than one thing and is split
MAX_LINES = 600
# the one command module every command may import: the set-up and output they share
SHARED_COMMAND_MODULE = "mlci.commands.common"


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


@functools.cache
def _modules(package: Path | None = None) -> dict[str, Path]:
    package = package or PACKAGE
    found = {}
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text("utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from mlci.engine import check` imports the module mlci.engine.check
            modules = _modules(PACKAGE)
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                out.append((full if full in modules else node.module, node.lineno))
    return out


def _context_reads(path: Path) -> list[tuple[str, int]]:
    """``x.ctx.attr``: a read of the host's own run context (``Start.ctx``), e.g. its event."""
    tree = ast.parse(path.read_text("utf-8"))
    return [
        (f"ctx.{node.attr}", node.lineno)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "ctx"
    ]


def crossings() -> tuple[set[tuple[str, str]], list[str]]:
    """(importer, imported) pairs that break the layer rules, and outside-system breaches."""
    bad: set[tuple[str, str]] = set()
    outside: list[str] = []
    for module, path in _modules(PACKAGE).items():
        layer = _layer(module)
        allowed = MAY_IMPORT.get(layer)
        for name, line in _imports(path):
            root = name.split(".")[0]
            if root == "mlci":
                target = _layer(name)
                if target in ("__init__",) or name == "mlci.__version__":
                    continue
                if allowed is not None and target not in allowed:
                    bad.add((module, name))
            elif root in OUTSIDE and OUTSIDE[root] != layer:
                outside.append(f"{module}:{line} imports {name}")
            if layer != "forge" and name.startswith("mlci.forge."):
                outside.append(f"{module}:{line} imports {name} (only the mlci.forge protocol)")
        if layer != "forge" and "GITHUB_" in path.read_text("utf-8"):
            outside.append(f"{module} reads GITHUB_*")
        if layer != "forge":
            outside += [
                f"{module}:{line} reads the host's {what} (ask the forge: HostEvent)"
                for what, line in _context_reads(path)
            ]
    return bad, outside


def command_crossings() -> list[str]:
    """Imports of one command module by another (``commands.common`` excepted)."""
    out = []
    for module, path in _modules(PACKAGE).items():
        if _layer(module) != "commands" or module == "mlci.commands":
            continue
        for name, line in _imports(path):
            if name.startswith("mlci.commands") and name not in (module, SHARED_COMMAND_MODULE):
                out.append(f"{module}:{line} imports {name}")
    return out


def long_modules() -> list[str]:
    """Modules over ``MAX_LINES`` lines, with their length."""
    out = []
    for module, path in _modules(PACKAGE).items():
        lines = len(path.read_text("utf-8").splitlines())
        if lines > MAX_LINES:
            out.append(f"{module}: {lines} lines")
    return out


def test_every_module_belongs_to_a_layer():
    layers = {_layer(m) for m in _modules()}
    assert layers - {"__init__"} <= set(MAY_IMPORT), "a new top-level package needs its rules here"
    assert {"model", "engine", "adapters", "forge", "report", "commands"} <= layers


def test_layers_import_only_the_layers_below():
    bad, _ = crossings()
    new = sorted(bad - KNOWN)
    assert not new, "imports that break the layering:\n" + "\n".join(f"{a} -> {b}" for a, b in new)
    gone = sorted(KNOWN - bad)
    assert not gone, "fixed, remove from KNOWN:\n" + "\n".join(f"{a} -> {b}" for a, b in gone)


def test_only_adapters_and_forge_touch_outside_systems():
    _, outside = crossings()
    left = {o.split(":")[0].split(" ")[0] for o in outside}
    new = sorted(o for o in outside if o.split(":")[0].split(" ")[0] not in KNOWN_OUTSIDE)
    assert not new, "\n".join(new)
    gone = sorted(KNOWN_OUTSIDE - left)
    assert not gone, "fixed, remove from KNOWN_OUTSIDE: " + ", ".join(gone)


@pytest.mark.parametrize("rule", ["model", "report"])
def test_the_checker_sees_a_crossing(tmp_path, rule, monkeypatch):
    """The rules are not vacuous: a planted import from a pure layer is reported."""
    fake = tmp_path / "mlci"
    (fake / rule).mkdir(parents=True)
    (fake / rule / "x.py").write_text(
        "from mlci.engine import check\nimport dvc.repo\nfrom mlci.forge.github import actions\n"
        "def f(run):\n    return run.ctx.event\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    bad, outside = crossings()
    assert (f"mlci.{rule}.x", "mlci.engine") in bad or (
        f"mlci.{rule}.x",
        "mlci.engine.check",
    ) in bad
    assert any("imports dvc.repo" in o for o in outside)
    assert any("imports mlci.forge.github (only the mlci.forge" in o for o in outside)
    assert any("reads the host's ctx.event" in o for o in outside)


def test_command_modules_do_not_import_each_other():
    found = command_crossings()
    assert not found, "move what both need to the engine or commands/common.py:\n" + "\n".join(
        found
    )


def test_no_module_is_longer_than_the_limit():
    found = long_modules()
    assert not found, f"split these by what they do (at most {MAX_LINES} lines):\n" + "\n".join(
        found
    )


def test_the_checker_sees_a_command_importing_a_command_and_a_long_module(tmp_path, monkeypatch):
    """Both rules are not vacuous: a planted crossing and a planted long module are reported."""
    fake = tmp_path / "mlci"
    (fake / "commands").mkdir(parents=True)
    (fake / "commands" / "__init__.py").write_text("")
    (fake / "commands" / "common.py").write_text("X = 1\n")
    (fake / "commands" / "card.py").write_text(
        "from mlci.commands import common\n"
        "def f():\n    from mlci.commands.deploy import challenge\n    return challenge\n"
    )
    (fake / "commands" / "deploy.py").write_text("from mlci.commands import card\n")
    (fake / "engine.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (fake / "model.py").write_text("x = 1\n" * MAX_LINES)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert sorted(command_crossings()) == [
        "mlci.commands.card:3 imports mlci.commands.deploy",
        "mlci.commands.deploy:1 imports mlci.commands.card",
    ]
    assert long_modules() == [f"mlci.engine: {MAX_LINES + 1} lines"]
