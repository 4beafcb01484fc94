"""What ``mlci init`` infers from a repository: metric files, data checks, the model, what CI needs.

:func:`make_plan` reads the pipeline as DVC resolves it (metrics, plots and
outputs), the metric files' keys and current values in the work tree, the
candidate data files and their columns, and the DVC remotes' plugins and
secrets; the rules come from :mod:`mlci.engine.classify`. :func:`find_install`
and :func:`default_branch` say how a fresh runner installs the project and
which branch's pushes are recorded. Nothing here writes a file.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mlci.adapters import dvc
from mlci.adapters.dvc.plugins import REMOTE_PLUGINS
from mlci.engine import collect
from mlci.engine.classify import MetricFile, MetricKey, RuleGroup, guess_direction, rule_groups
from mlci.model.fmt import is_number

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


@dataclass(frozen=True)
class DataFile:
    path: str
    stage: str | None
    columns: tuple[str, ...] = ()
    headerless: bool = False  # the first row is data: the check names the columns itself
    present: bool = True  # in the work tree now (else not reproduced or pulled yet)


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
        return sum(1 for g in self.groups for r in g.rules if r.gated)


def _metric_file(
    root: Path, out: dvc.PipelineOutput, recorded: dict[str, object] | None = None
) -> MetricFile:
    """The keys of one metric file: from the work tree, else as DVC reads it (``recorded``:
    the work tree's metrics as ``check`` reads them, streamed from the DVC remote)."""
    file = MetricFile(out.path, out.stage)
    source = root / out.path
    if not source.is_file():
        if recorded is None or out.path not in recorded:
            return file
        data = recorded[out.path]
    else:
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
        if not source.is_file():
            return [DataFile(out.path, out.stage, present=False)]
        return [DataFile(out.path, out.stage, *_table_head(source))]
    return []


def _recorded_metrics(root: Path, outputs: list[dvc.PipelineOutput]) -> dict[str, object] | None:
    """The metrics DVC reads in the work tree when a metric file is not there (a fresh clone
    whose metrics are cached outputs in the DVC remote): read as ``mlci check`` reads them."""
    if all((root / o.path).is_file() for o in outputs if o.kind == "metric"):
        return None
    try:
        found = dvc.read_revisions(root, [dvc.WORKSPACE])[dvc.WORKSPACE]
    except Exception:  # noqa: BLE001 - unreadable here: init says to run `dvc repro`
        return None
    return dict(found.metrics)


def _has_history(root: Path) -> bool:
    from mlci.adapters import notes

    try:
        return notes.has_notes(root)
    except Exception:  # noqa: BLE001 - no git, no notes: no history
        return False


def make_plan(root: Path) -> Plan:
    """What ``mlci init`` proposes for the project at ``root``, from DVC's view of its pipeline."""
    if dvc.is_dvc_repo(root):
        with dvc.shared_repo(root):  # one Repo for the outputs and the remotes
            outputs = dvc.pipeline_outputs(root) if (root / "dvc.yaml").is_file() else None
            return plan_from(
                root,
                outputs,
                dvc.remotes(root),
                recorded=_recorded_metrics(root, outputs or []),
                history=_has_history(root),
            )
    return plan_from(root, None, [])


def plan_from(
    root: Path,
    outputs: list[dvc.PipelineOutput] | None,
    remotes: list[dvc.RemoteConfig],
    *,
    recorded: dict[str, object] | None = None,
    history: bool = False,
) -> Plan:
    """The plan from what the pipeline declares (``outputs``; None: no ``dvc.yaml``) and the DVC
    ``remotes``, with the metric and data files read in the work tree at ``root`` (a metric file
    not there from ``recorded``, DVC's reading). ``history``: the clone holds recorded runs, so
    rules may be ``auto``."""
    has_pipeline = outputs is not None
    outputs = outputs or []
    files: list[MetricFile] = []
    for out in outputs:
        if out.kind == "metric" and all(f.path != out.path for f in files):
            files.append(_metric_file(root, out, recorded))
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
        rule_groups(files, history),
    )


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
