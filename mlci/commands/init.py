"""``mlci init``: scaffold ``mlci.yaml`` and ``.github/workflows/mlci.yml`` from ``dvc.yaml``.

What the pipeline declares comes from DVC's own index (metrics, plots and
outputs, resolved as ``dvc`` resolves them); the metric keys and their current
values come from the metric files in the work tree. That inference is the
engine's (:mod:`mlci.engine.infer`, the rules from :mod:`mlci.engine.classify`);
this module renders and writes the files. They are rendered
from ``templates/mlci.yaml.j2`` and ``templates/workflow.yml.j2`` (a repository
may override them in ``.mlci/templates/``). Existing files are never
overwritten without ``--force``; nothing is written unless everything can be.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from mlci import configfile as config
from mlci.engine import project as project_mod
from mlci.engine.classify import DEFAULT_MAX_REGRESSION_PCT, DEFAULT_MAX_REGRESSION_SCORE
from mlci.engine.infer import Plan, default_branch, find_install, make_plan
from mlci.model.errors import ConfigError
from mlci.model.fmt import plural

WORKFLOW = Path(".github/workflows/mlci.yml")
DEFAULT_ACTION = "mlci/mlci@v0"


def _environment(root: Path):  # -> jinja2.Environment
    """The report's Jinja2 set-up (same lookup, a repo's override first), plus ``yaml_str``."""
    from mlci.report import templating

    env = templating.markdown_environment(root)
    # YAML is not escaped as a whole: each value goes through yaml_str. A JSON string is a
    # valid YAML double-quoted scalar, so any metric name or path stays one scalar.
    env.filters["yaml_str"] = lambda v: json.dumps(str(v), ensure_ascii=False)
    env.filters["yaml_num"] = yaml_number
    return env


def yaml_number(value: float) -> str:
    """A number as YAML reads it back as one: PyYAML (YAML 1.1) wants ``1.0e-05``, not ``1e-05``."""
    if isinstance(value, int):
        return str(value)
    text = repr(float(value))
    mantissa, e, exponent = text.partition("e")
    if e and "." not in mantissa:
        text = f"{mantissa}.0e{exponent}"
    return text


def render_config(plan: Plan, root: Path, project: str | None = None) -> str:
    model = plan.models[0] if plan.models else None
    return (
        _environment(root)
        .get_template("mlci.yaml.j2")
        .render(
            groups=[_plain(g) for g in plan.groups],
            data=[_plain(d) for d in plan.data],
            model={
                "name": (model.name if model and model.name else root.name),
                "path": model.path,
                "artifact": bool(model.name),
            }
            if model
            else None,
            max_regression_pct=DEFAULT_MAX_REGRESSION_PCT,
            max_regression_score=DEFAULT_MAX_REGRESSION_SCORE,
            has_metrics=bool(plan.files),
            status_context=project_mod.status_context(project),
        )
    )


def _data_words(plan: Plan) -> str:
    """``, 2 data checks (a removed column, missing values, lost rows fail; drift warns)``."""
    present = sum(1 for d in plan.data if d.present)
    absent = len(plan.data) - present
    words = ""
    if present:
        words += (
            f", {plural(present, 'data check')} (a removed column, new missing values, "
            "lost rows fail; drift warns)"
        )
    if absent:
        words += f", {plural(absent, 'data file')} not in the work tree yet (commented)"
    return words


def _plain(obj: Any) -> Any:
    """Templates get plain data only (a repository may override them)."""
    from dataclasses import asdict

    return asdict(obj)


def workflow_path(label: str | None) -> Path:
    """Where the workflow goes: one per project, so projects in subfolders each get theirs."""
    if not label:
        return WORKFLOW
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-.") or "project"
    return WORKFLOW.with_name(f"mlci-{slug}.yml")


def render_workflow(
    plan: Plan,
    root: Path,
    *,
    action: str = DEFAULT_ACTION,
    python_version: str | None = None,
    config_path: str = config.DEFAULT_CONFIG,
    project: str | None = None,
    git_root: Path | None = None,
) -> str:
    return (
        _environment(root)
        .get_template("workflow.yml.j2")
        .render(
            project=project,
            install=_plain(find_install(root, git_root)),
            action=action,
            python_version=python_version or f"{sys.version_info.major}.{sys.version_info.minor}",
            config=config_path,
            extras=plan.extras,
            credentials=plan.credentials,
            timeout_minutes=60,
            default_branch=default_branch(git_root or root),
        )
    )


def init(
    cwd: Path,
    *,
    force: bool = False,
    action: str = DEFAULT_ACTION,
    python_version: str | None = None,
    workflow: bool = True,
) -> list[str]:
    """Write the files; returns what to print. ConfigError (exit 2) when one exists."""
    found = project_mod.find(cwd)
    root = found.root
    # mlci.yaml beside the project's dvc.yaml; the workflow where GitHub reads it, at the top level
    workflow_file = workflow_path(found.label)
    targets = [root / config.DEFAULT_CONFIG] + (
        [found.git_root / workflow_file] if workflow else []
    )
    existing = [t for t in targets if t.exists()]
    if existing and not force:
        names = ", ".join(str(t.relative_to(found.git_root)) for t in existing)
        raise ConfigError(
            f"{names} already exist{'s' if len(existing) == 1 else ''}; nothing written "
            "(use --force to overwrite)"
        )
    plan = make_plan(root)
    text = render_config(plan, root, found.label)
    config.parse(text, config.DEFAULT_CONFIG)  # a template bug must not reach the user's repo
    out = []
    (root / config.DEFAULT_CONFIG).write_text(text, encoding="utf-8")
    out.append(
        f"wrote {config.DEFAULT_CONFIG}: {plural(plan.rule_count, 'metric rule')} "
        f"(a score may fall by {DEFAULT_MAX_REGRESSION_SCORE}, another metric by "
        f"{DEFAULT_MAX_REGRESSION_PCT} %; timings warn) from "
        f"{plural(len(plan.files), 'metric file')}" + _data_words(plan)
    )
    if not plan.has_pipeline:
        out.append("  no dvc.yaml pipeline found: the config holds the defaults only")
    for f in plan.files:
        if not f.keys:
            out.append(
                f"  {f.path}: {f.error or 'not in the work tree yet'}; run `dvc repro`, "
                "then `mlci init --force` to list its metrics"
            )
    if workflow:
        path = found.git_root / workflow_file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            render_workflow(
                plan,
                root,
                action=action,
                python_version=python_version,
                project=found.label,
                git_root=found.git_root,
            ),
            encoding="utf-8",
        )
        where = f" in {found.label}/ (status `mlci/{found.label}`)" if found.label else ""
        out.append(f"wrote {workflow_file}: runs `{action}`{where} on every pull request")
        sources = find_install(root, found.git_root).found
        out.append(
            f"  installs the pipeline's requirements from {', '.join(sources)}"
            if sources
            else "  no requirements file found (requirements.txt, pyproject.toml, environment.yml): "
            "add the install step the pipeline needs to the workflow"
        )
    out += [
        "",
        "Next steps:",
        f"  1. Read {config.DEFAULT_CONFIG}: check the directions and tolerances "
        "(docs/config.md has every key).",
        "  2. Try it: mlci check --no-repro",
        "  3. Check what CI will need: mlci doctor",
        "  4. Check before every push: mlci hook install",
        f"  5. Commit: git add {config.DEFAULT_CONFIG}"
        + (f" {os.path.relpath(found.git_root / workflow_file, cwd)}" if workflow else "")
        + " && git commit -m 'Add mlci'",
    ]
    if plan.credentials:
        out.append(
            f"  6. Add the DVC remote's secrets to the GitHub repository: {', '.join(plan.credentials)}"
        )
    return out


def init_command(
    *,
    force: bool = False,
    action: str = DEFAULT_ACTION,
    python_version: str | None = None,
    workflow: bool = True,
) -> int:
    """``mlci init`` in the current directory."""
    from mlci.commands.common import say

    for line in init(
        Path.cwd(), force=force, action=action, python_version=python_version, workflow=workflow
    ):
        say(line)
    from mlci.model.errors import EXIT_PASS

    return EXIT_PASS
