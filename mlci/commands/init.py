"""``mlci init``: scaffold ``mlci.yaml`` and ``.github/workflows/mlci.yml`` from ``dvc.yaml``.

What the pipeline declares comes from DVC's own index (metrics, plots and
outputs, resolved as ``dvc`` resolves them); the metric keys and their current
values come from the metric files in the work tree. The files are rendered
from ``templates/mlci.yaml.j2`` and ``templates/workflow.yml.j2`` (a repository
may override them in ``.mlci/templates/``). Existing files are never
overwritten without ``--force``; nothing is written unless everything can be.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sys
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from mlci import configfile as config
from mlci.adapters import dvc
from mlci.adapters.dvc.plugins import REMOTE_PLUGINS
from mlci.engine import collect
from mlci.engine import project as project_mod
from mlci.model.errors import ConfigError
from mlci.model.fmt import is_number, plural

WORKFLOW = Path(".github/workflows/mlci.yml")
DEFAULT_ACTION = "mlci/mlci@v0"

# The rules init writes fail on a regression of more than this percentage of the base value:
# the gate closes on a large drop (a 71 % fall of accuracy is not a warning), while run-to-run
# noise of a few percent passes. Timings get the same tolerance but only warn: they measure
# the runner as much as the change.
DEFAULT_MAX_REGRESSION_PCT = 10
# keys that count progress rather than measure quality (dvclive writes `step`): no rule
BOOKKEEPING = ("step", "steps", "epoch", "epochs", "iteration", "iterations", "timestamp")
TIMING = ("time", "times", "duration", "latency", "seconds", "secs", "sec", "ms")
# a metric whose name has one of these words is better when lower
LOWER_IS_BETTER = (
    "loss",
    "error",
    "err",
    "latency",
    "mae",
    "mse",
    "rmse",
    "mape",
    "time",
    "duration",
    "perplexity",
)
DATA_SUFFIXES = (".csv", ".tsv", ".parquet", ".json", ".jsonl")
MODEL_SUFFIXES = (
    ".pkl",
    ".pickle",
    ".joblib",
    ".onnx",
    ".pt",
    ".pth",
    ".h5",
    ".keras",
    ".safetensors",
    ".cbm",
    ".ubj",
)


def guess_direction(key: str) -> str:
    """``lower`` when a word of the name says smaller is better (``log_loss``, ``latency_ms``)."""
    for word in _words(key):
        if (
            word in LOWER_IS_BETTER
            or word.removesuffix("s") in LOWER_IS_BETTER
            or word.endswith(("loss", "error", "errors", "time"))
        ):
            return "lower"
    return "higher"


def _words(key: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", key.lower()) if w]


def is_bookkeeping(key: str) -> bool:
    """``step``, ``epoch``: counters, not quality; init writes no rule for them."""
    return key.rsplit(".", 1)[-1].lower() in BOOKKEEPING


def is_timing(key: str) -> bool:
    """``train_time``, ``latency_ms``: a property of the runner as much as of the change."""
    return any(w in TIMING or w.endswith("time") for w in _words(key))


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
    headerless: bool = False  # the first row is data: the check names the columns itself


@dataclass(frozen=True)
class Rule:
    """One rule init writes, with what the comment beside it says."""

    name: str
    direction: str
    severity: str
    max_regression_pct: float
    now: str | None  # the current value(s), for the comment
    bound: float | None  # the current value, offered as a commented min/max


@dataclass
class RuleGroup:
    """The rules of one metric file, one foreach/matrix stage, or keys shared by several files."""

    title: str
    rules: list[Rule] = field(default_factory=list)
    note: str | None = None  # why there are no rules (not reproduced yet, unreadable)
    pattern: str | None = None  # the file pattern, offered as a commented catch-all


@dataclass
class Plan:
    """What init found in the repository: the inputs of both templates."""

    files: list[MetricFile]
    data: list[DataFile]
    models: list[dvc.PipelineOutput]
    extras: list[str]
    credentials: list[str]
    has_pipeline: bool
    groups: list[RuleGroup] = field(default_factory=list)

    @property
    def rule_count(self) -> int:
        return sum(len(g.rules) for g in self.groups)


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
        if key and is_number(value):
            file.keys.append(MetricKey(key, value, guess_direction(key)))
    return file


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _table_head(file: Path) -> tuple[tuple[str, ...], bool]:
    """The columns of a CSV/TSV file and whether its first row is data rather than a header.

    A first row is taken as data when every column that is numeric in the rows below
    is numeric in it too (``1\t0\tgreat film``); a header names those columns
    (``id\tlabel\ttext``). Without a numeric column, Python's ``csv.Sniffer`` decides.
    """
    if file.suffix.lower() not in (".csv", ".tsv"):
        return (), False
    try:
        with file.open(encoding="utf-8", errors="replace", newline="") as fh:
            sample = [fh.readline() for _ in range(50)]
    except OSError:
        return (), False
    sample = [line for line in sample if line.strip()]
    if not sample:
        return (), False
    delimiter = "\t" if file.suffix.lower() == ".tsv" else ","
    rows = list(csv.reader(sample, delimiter=delimiter))
    first, rest = rows[0], [r for r in rows[1:] if len(r) == len(rows[0])]
    numeric = [i for i in range(len(first)) if rest and all(_is_number(r[i]) for r in rest)]
    if numeric:
        headerless = all(_is_number(first[i]) for i in numeric)
    else:
        try:
            headerless = not csv.Sniffer().has_header("".join(sample))
        except csv.Error:
            headerless = False  # cannot tell: a header is the common case
    if headerless:
        return tuple(f"col_{i + 1}" for i in range(len(first))), True
    return tuple(c.strip() for c in first if c.strip()), False


def _data_files(
    root: Path, out: dvc.PipelineOutput, reported: list[str], limit: int = 4
) -> list[DataFile]:
    """Data files of one output worth a data check: never a metric or plot file (``reported``)."""

    def is_report(rel: str) -> bool:
        return any(rel == r or rel.startswith(r.rstrip("/") + "/") for r in reported)

    source = root / out.path
    if source.is_dir():
        found = sorted(
            p
            for p in source.rglob("*")
            if p.is_file()
            and p.suffix.lower() in DATA_SUFFIXES
            and not is_report(p.relative_to(root).as_posix())
        )
        return [
            DataFile(p.relative_to(root).as_posix(), out.stage, *_table_head(p))
            for p in found[:limit]
        ]
    if Path(out.path).suffix.lower() in DATA_SUFFIXES and not is_report(out.path):
        head = _table_head(source) if source.is_file() else ((), False)
        return [DataFile(out.path, out.stage, *head)]
    return []


def make_plan(root: Path) -> Plan:
    if dvc.is_dvc_repo(root):
        with dvc.shared_repo(root):  # one Repo for the outputs and the remotes
            return _plan(
                root,
                dvc.pipeline_outputs(root) if (root / "dvc.yaml").is_file() else None,
                dvc.remotes(root),
            )
    return _plan(root, None, [])


def _plan(
    root: Path, outputs: list[dvc.PipelineOutput] | None, remotes: list[dvc.RemoteConfig]
) -> Plan:
    has_pipeline = outputs is not None
    outputs = outputs or []
    files: list[MetricFile] = []
    for out in outputs:
        if out.kind == "metric" and all(f.path != out.path for f in files):
            files.append(_metric_file(root, out))
    reported = [o.path for o in outputs if o.kind in ("metric", "plot")]
    data: list[DataFile] = []
    for out in outputs:
        if out.kind == "out":
            data += _data_files(root, out, reported)
    # a model the pipeline names as such (`artifacts:` with `type: model`) before a guess by suffix
    models = [o for o in outputs if o.kind == "model"] or [
        o for o in outputs if o.kind == "out" and Path(o.path).suffix.lower() in MODEL_SUFFIXES
    ]
    extras: list[str] = []
    credentials: list[str] = []
    for remote in remotes:
        scheme = remote.url.split("://", 1)[0] if "://" in remote.url else ""
        plugin = REMOTE_PLUGINS.get(scheme)
        if plugin is None:
            continue
        if plugin.extra not in extras:
            extras.append(plugin.extra)
        credentials += [s for s in plugin.workflow_secrets if s not in credentials]
    return Plan(
        files,
        list(dict.fromkeys(data)),
        models,
        extras,
        credentials,
        has_pipeline,
        rule_groups(files),
    )


# --- the rules ------------------------------------------------------------------


def glob_escape(text: str) -> str:
    """``text`` as an fnmatch pattern that matches only itself."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def _common_prefix(items: list[str]) -> str:
    first, last = min(items), max(items)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


def _vary(items: list[str]) -> str:
    """One pattern for strings that differ in one place: common prefix, ``*``, common suffix."""
    prefix = _common_prefix(items)
    rest = [i[len(prefix) :] for i in items]
    suffix = _common_prefix([r[::-1] for r in rest])[::-1]
    return glob_escape(prefix) + "*" + glob_escape(suffix)


def _stage_glob(paths: list[str], keys: list[str]) -> str | None:
    """A pattern for the metric files of one foreach/matrix stage, so a new item is gated too.

    Path segments that differ between items become ``*`` (keeping what they share, as in
    ``model_*.json``); with a single item, its foreach key in the path does.
    """
    if len(paths) == 1:
        (path,), (key,) = paths, keys
        if not key or key not in path:
            return None
        return "*".join(glob_escape(part) for part in path.split(key))
    split = [p.split("/") for p in paths]
    if len({len(s) for s in split}) != 1:
        return _vary(paths)
    parts = []
    for column in zip(*split, strict=False):
        parts.append(glob_escape(column[0]) if len(set(column)) == 1 else _vary(list(column)))
    return "/".join(parts)


@dataclass
class _Source:
    """Metric files judged together: one file, or the files of one foreach/matrix stage."""

    title: str
    pattern: str  # fnmatch pattern of the file part of the names
    files: list[MetricFile]


def _sources(files: list[MetricFile]) -> list[_Source]:
    stages: dict[str, list[MetricFile]] = {}
    for f in files:
        if f.stage and "@" in f.stage:
            stages.setdefault(f.stage.rsplit("@", 1)[0], []).append(f)
    sources: list[_Source] = []
    grouped: set[str] = set()
    for stage, members in stages.items():
        keys = [m.stage.rsplit("@", 1)[1] for m in members if m.stage]
        pattern = _stage_glob([m.path for m in members], keys)
        others = [f.path for f in files if f not in members]
        # the pattern must cover its own files and no other metric file
        if (
            pattern
            and all(fnmatchcase(m.path, pattern) for m in members)
            and not any(fnmatchcase(o, pattern) for o in others)
        ):
            title = f"{pattern} (stage {stage}: {plural(len(members), 'item')})"
            sources.append(_Source(title, pattern, members))
            grouped.update(m.path for m in members)
    for f in files:
        if f.path not in grouped:
            title = f.path + (f" (stage {f.stage})" if f.stage else "")
            sources.append(_Source(title, glob_escape(f.path), [f]))
    order = {f.path: i for i, f in enumerate(files)}
    return sorted(sources, key=lambda s: min(order[f.path] for f in s.files))


def _rule(name: str, key: str, values: list[Any]) -> Rule:
    direction = guess_direction(key)
    numbers = sorted(values)
    if len(numbers) == 1:
        now, bound = _number_text(numbers[0]), numbers[0]
    else:
        now = f"{_number_text(numbers[0])} to {_number_text(numbers[-1])} in {len(numbers)} files"
        bound = numbers[0] if direction == "higher" else numbers[-1]  # the loosest bound that holds
    severity = "warn" if is_timing(key) else "fail"
    return Rule(name, direction, severity, DEFAULT_MAX_REGRESSION_PCT, now, bound)


def _number_text(value: float) -> str:
    return f"{value:.6g}"


def rule_groups(files: list[MetricFile]) -> list[RuleGroup]:
    """The rules init proposes: per file (or per foreach stage, as a glob), and one rule per key
    for a key found in several of them, so no metric is gated twice or by diverging rules."""
    sources = _sources(files)
    seen_in: dict[str, list[int]] = {}
    for i, source in enumerate(sources):
        for key in dict.fromkeys(k.key for f in source.files for k in f.keys):
            seen_in.setdefault(key, []).append(i)
    shared = [
        k
        for k, where in seen_in.items()
        if len(where) > 1 and ":" not in k and not is_bookkeeping(k)
    ]

    def values(key: str, among: list[MetricFile]) -> list[Any]:
        return [k.value for f in among for k in f.keys if k.key == key]

    groups: list[RuleGroup] = []
    for source in sources:
        group = RuleGroup(source.title, pattern=source.pattern + ":*")
        keys = dict.fromkeys(k.key for f in source.files for k in f.keys)
        for key in keys:
            if key in shared or is_bookkeeping(key):
                continue
            name = f"{source.pattern}:{glob_escape(key)}"
            group.rules.append(_rule(name, key, values(key, source.files)))
        if not keys:
            problems = [f.error for f in source.files if f.error]
            group.note = (
                f"cannot read it ({problems[0]}): no rules written"
                if problems
                else "not in the work tree yet: run `dvc repro`, then `mlci init --force` "
                "to list its keys"
            )
        else:
            group.pattern = None  # its keys are known: no catch-all to offer
            if not group.rules:
                gated = [k for k in keys if k in shared]
                group.note = (
                    f"{', '.join(gated)}: gated by the rules for keys found in several files"
                    if gated
                    else "only counters (step, epoch): nothing to gate"
                )
        groups.append(group)
    if shared:
        group = RuleGroup("keys found in several metric files: one rule each, for every file")
        for key in shared:
            group.rules.append(_rule(glob_escape(key), key, values(key, files)))
        groups.append(group)
    return groups


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
            has_metrics=bool(plan.files),
            status_context=project_mod.status_context(project),
        )
    )


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


@dataclass(frozen=True)
class Install:
    """How a fresh runner installs what the pipeline's stages import."""

    commands: tuple[str, ...] = ()  # shell lines, after pip is upgraded
    conda_env: str | None = None  # an environment.yml to create with conda
    found: tuple[str, ...] = ()  # the files this was read from, for init's message


# folders never searched for requirements: environments, caches, vendored code
_SKIP_DIRS = {"node_modules", "venv", "env", "site-packages", "build", "dist", "__pycache__"}


def _is_installable(pyproject: Path) -> bool:
    """A pyproject.toml that pip can install (a [project] or a [build-system] table)."""
    import tomllib

    try:
        doc = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return "project" in doc or "build-system" in doc


def find_install(root: Path, git_root: Path | None = None) -> Install:
    """Where the project declares its requirements, looked for as a new user's CI would need.

    In the project's folder, then (for a project in a subfolder) at the top of
    the repository: ``environment.yml``/``.yaml`` (conda); every
    ``requirements.txt`` in the folder or one folder down (``src/``, ``ml/``...);
    an installable ``pyproject.toml``/``setup.py`` (``pip install FOLDER``).
    Paths are relative to the repository's top, where the workflow's steps run.
    Nothing found: the workflow keeps a conditional install of ``requirements.txt``.
    """
    git_root = git_root or root
    env_file: str | None = None
    reqs: list[str] = []
    packages: list[tuple[str, str]] = []  # (folder to pip install, file that says so)
    for folder in dict.fromkeys([root, git_root]):

        def rel(path: Path) -> str:
            return (
                path.relative_to(git_root).as_posix()
                if path.is_relative_to(git_root)
                else str(path)
            )

        env_file = env_file or next(
            (
                rel(folder / n)
                for n in ("environment.yml", "environment.yaml")
                if (folder / n).is_file()
            ),
            None,
        )
        if (folder / "requirements.txt").is_file():
            reqs.append(rel(folder / "requirements.txt"))
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            if (
                not (sub.name.startswith(".") or sub.name in _SKIP_DIRS)
                and (sub / "requirements.txt").is_file()
            ):
                reqs.append(rel(sub / "requirements.txt"))
        if (folder / "pyproject.toml").is_file() and _is_installable(folder / "pyproject.toml"):
            packages.append((rel(folder), rel(folder / "pyproject.toml")))
        elif (folder / "setup.py").is_file():
            packages.append((rel(folder), rel(folder / "setup.py")))
    reqs = list(dict.fromkeys(reqs))
    commands = [f"python -m pip install -r {r}" for r in reqs]
    commands += [f"python -m pip install {'./' + d if d != '.' else '.'}" for d, _ in packages]
    found = ([env_file] if env_file else []) + reqs + [f for _, f in packages]
    return Install(tuple(commands), env_file, tuple(found))


def default_branch(git_root: Path) -> str:
    """The branch whose pushes the workflow records: the remote's default branch when the clone
    knows it, else a local ``main`` or ``master``, else the current branch."""
    from mlci.adapters import git

    base = git.default_base(git_root)
    if base.startswith("origin/"):
        return base.removeprefix("origin/")
    for name in ("main", "master"):
        if git.resolve(f"refs/heads/{name}", git_root):
            return name
    return git.current_branch(git_root) or "main"


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
        f"(a regression over {DEFAULT_MAX_REGRESSION_PCT} % closes the gate; timings warn) from "
        f"{plural(len(plan.files), 'metric file')}, "
        f"{plural(len(plan.data), 'candidate data check')} (commented)"
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
