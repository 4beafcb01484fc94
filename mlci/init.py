"""``mlci init``: scaffold ``mlci.yaml`` and ``.github/workflows/mlci.yml`` from ``dvc.yaml``.

What the pipeline declares comes from DVC's own index (metrics, plots and
outputs, resolved as ``dvc`` resolves them); the metric keys and their current
values come from the metric files in the work tree. The files are rendered
from ``templates/mlci.yaml.j2`` and ``templates/workflow.yml.j2`` (a repository
may override them in ``.mlci/templates/``). Existing files are never
overwritten without ``--force``; nothing is written unless everything can be.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlci import collect, config, dvc, git
from mlci.errors import ConfigError
from mlci.fmt import plural

WORKFLOW = Path(".github/workflows/mlci.yml")
DEFAULT_ACTION = "mlci/mlci@v0"

# a metric whose name has one of these words is better when lower
LOWER_IS_BETTER = ("loss", "error", "err", "latency", "mae", "mse", "rmse", "mape", "time",
                   "duration", "perplexity")
DATA_SUFFIXES = (".csv", ".tsv", ".parquet", ".json", ".jsonl")
MODEL_SUFFIXES = (".pkl", ".pickle", ".joblib", ".onnx", ".pt", ".pth", ".h5", ".keras",
                  ".safetensors", ".cbm", ".ubj")
# DVC remote URL scheme -> (mlci extra, secrets the workflow passes on)
REMOTE_NEEDS = {
    "s3": ("s3", ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")),
    "gs": ("gs", ("GOOGLE_APPLICATION_CREDENTIALS",)),
    "gcs": ("gs", ("GOOGLE_APPLICATION_CREDENTIALS",)),
    "azure": ("azure", ("AZURE_STORAGE_CONNECTION_STRING",)),
}


def guess_direction(key: str) -> str:
    """``lower`` when a word of the name says smaller is better (``log_loss``, ``latency_ms``)."""
    words = [w for w in re.split(r"[^a-z0-9]+", key.lower()) if w]
    for word in words:
        if (word in LOWER_IS_BETTER or word.removesuffix("s") in LOWER_IS_BETTER
                or word.endswith(("loss", "error", "errors", "time"))):
            return "lower"
    return "higher"


@dataclass(frozen=True)
class MetricKey:
    key: str
    value: Any
    direction: str


@dataclass
class MetricFile:
    path: str
    stage: str | None
    keys: list[MetricKey] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class DataFile:
    path: str
    stage: str | None
    columns: tuple[str, ...] = ()


@dataclass
class Plan:
    """What init found in the repository: the inputs of both templates."""

    files: list[MetricFile]
    data: list[DataFile]
    models: list[dvc.PipelineOutput]
    extras: list[str]
    credentials: list[str]
    has_pipeline: bool


def _metric_file(root: Path, out: dvc.PipelineOutput) -> MetricFile:
    file = MetricFile(out.path, out.stage)
    source = root / out.path
    if not source.is_file():
        return file
    try:
        data = collect.parse_metric_file(out.path, source.read_bytes())
    except (ValueError, UnicodeDecodeError, yaml.YAMLError) as exc:
        file.error = f"cannot parse: {(str(exc) or type(exc).__name__).splitlines()[0]}"
        return file
    for key, value in collect.flatten(data).items():
        if key and isinstance(value, (int, float)) and not isinstance(value, bool):
            file.keys.append(MetricKey(key, value, guess_direction(key)))
    return file


def _columns(file: Path) -> tuple[str, ...]:
    """The header of a CSV/TSV file, to suggest column expectations."""
    if file.suffix.lower() not in (".csv", ".tsv"):
        return ()
    try:
        with file.open(encoding="utf-8", errors="replace") as fh:
            header = fh.readline().strip()
    except OSError:
        return ()
    return tuple(c.strip() for c in header.split("\t" if file.suffix.lower() == ".tsv" else ",") if c.strip())


def _data_files(root: Path, out: dvc.PipelineOutput, limit: int = 4) -> list[DataFile]:
    source = root / out.path
    if source.is_dir():
        found = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in DATA_SUFFIXES)
        return [DataFile(p.relative_to(root).as_posix(), out.stage, _columns(p)) for p in found[:limit]]
    if Path(out.path).suffix.lower() in DATA_SUFFIXES:
        return [DataFile(out.path, out.stage, _columns(source) if source.is_file() else ())]
    return []


def make_plan(root: Path) -> Plan:
    if dvc.is_dvc_repo(root):
        with dvc.shared_repo(root):  # one Repo for the outputs and the remotes
            return _plan(root, dvc.pipeline_outputs(root) if (root / "dvc.yaml").is_file() else None,
                         dvc.remotes(root))
    return _plan(root, None, [])


def _plan(root: Path, outputs: list[dvc.PipelineOutput] | None, remotes: list[dvc.RemoteConfig]) -> Plan:
    has_pipeline = outputs is not None
    files: list[MetricFile] = []
    data: list[DataFile] = []
    models = []
    for out in outputs or []:
        if out.kind == "metric":
            if all(f.path != out.path for f in files):
                files.append(_metric_file(root, out))
        elif out.kind == "out":
            data += _data_files(root, out)
            if Path(out.path).suffix.lower() in MODEL_SUFFIXES:
                models.append(out)
    extras: list[str] = []
    credentials: list[str] = []
    for remote in remotes:
        scheme = remote.url.split("://", 1)[0] if "://" in remote.url else ""
        extra, secrets = REMOTE_NEEDS.get(scheme, (None, ()))
        if extra and extra not in extras:
            extras.append(extra)
        credentials += [s for s in secrets if s not in credentials]
    return Plan(files, list(dict.fromkeys(data)), models, extras, credentials, has_pipeline)


def _environment(root: Path):  # -> jinja2.Environment
    """The report's Jinja2 set-up (same lookup, a repo's override first), plus ``yaml_str``."""
    from mlci import render

    env = render._environment(root)
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


def render_config(plan: Plan, root: Path) -> str:
    return _environment(root).get_template("mlci.yaml.j2").render(
        files=plan.files, data=plan.data, models=plan.models, model_name=root.name,
    )


def render_workflow(plan: Plan, root: Path, *, action: str = DEFAULT_ACTION,
                    python_version: str | None = None, config_path: str = config.DEFAULT_CONFIG) -> str:
    return _environment(root).get_template("workflow.yml.j2").render(
        action=action,
        python_version=python_version or f"{sys.version_info.major}.{sys.version_info.minor}",
        config=config_path,
        extras=plan.extras,
        credentials=plan.credentials,
        timeout_minutes=60,
    )


def init(cwd: Path, *, force: bool = False, action: str = DEFAULT_ACTION,
         python_version: str | None = None, workflow: bool = True) -> list[str]:
    """Write the files; returns what to print. ConfigError (exit 2) when one exists."""
    root = git.repo_root(cwd)
    targets = [root / config.DEFAULT_CONFIG] + ([root / WORKFLOW] if workflow else [])
    existing = [t for t in targets if t.exists()]
    if existing and not force:
        names = ", ".join(str(t.relative_to(root)) for t in existing)
        raise ConfigError(f"{names} already exist{'s' if len(existing) == 1 else ''}; nothing written "
                          "(use --force to overwrite)")
    plan = make_plan(root)
    text = render_config(plan, root)
    config.parse(text, config.DEFAULT_CONFIG)  # a template bug must not reach the user's repo
    out = []
    (root / config.DEFAULT_CONFIG).write_text(text, encoding="utf-8")
    rules = sum(len(f.keys) for f in plan.files)
    out.append(f"wrote {config.DEFAULT_CONFIG}: {plural(rules, 'metric rule')} (warnings until you "
               f"tighten them) from {plural(len(plan.files), 'metric file')}, "
               f"{plural(len(plan.data), 'candidate data check')} (commented)")
    if not plan.has_pipeline:
        out.append("  no dvc.yaml pipeline found: the config holds the defaults only")
    for f in plan.files:
        if not f.keys:
            out.append(f"  {f.path}: {f.error or 'not in the work tree yet'}; run `dvc repro`, "
                       "then `mlci init --force` to list its metrics")
    if workflow:
        path = root / WORKFLOW
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_workflow(plan, root, action=action, python_version=python_version),
                        encoding="utf-8")
        out.append(f"wrote {WORKFLOW}: runs `{action}` on every pull request")
    out += [
        "",
        "Next steps:",
        f"  1. Read {config.DEFAULT_CONFIG}: check the directions, set `severity: fail` where a "
        "regression must block.",
        "  2. Try it: mlci check --no-repro",
        "  3. Check what CI will need: mlci doctor",
        "  4. Check before every push: mlci hook install",
        f"  5. Commit: git add {config.DEFAULT_CONFIG}" + (f" {WORKFLOW}" if workflow else "")
        + " && git commit -m 'Add mlci'",
    ]
    if plan.credentials:
        out.append(f"  6. Add the DVC remote's secrets to the GitHub repository: {', '.join(plan.credentials)}")
    return out
