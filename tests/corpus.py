"""A corpus of realistic DVC repositories for tests, built with the real tools.

Every project here is made the way a user makes one: ``git init``, ``dvc init``,
raw data added with ``dvc add``, a pipeline whose stages really run (one calls
dvclive to log metrics and an sklearn ROC curve), ``dvc repro`` and ``dvc push``
with the ``dvc`` CLI of the venv, and ``git push`` to a bare origin. A test
then works where CI works: :meth:`Project.fresh_clone` is a ``git clone`` of
the origin, with an empty DVC cache and no DVC data checked out.

The API is small on purpose, so that other shapes can be added on top of it::

    p = Project.create(tmp_path)            # git + dvc + origin + local DVC remote
    dvclive_pipeline(p)                      # the base shape, reproduced and committed
    p.publish()                              # dvc push + git push origin main
    p.git("checkout", "-q", "-b", "feature")
    p.set_params(C=0.01)                     # change something, reproduce, publish
    p.repro(); p.commit("smaller C"); p.publish("feature")
    ci = p.fresh_clone(branch="feature")     # what a runner has

A shape is a function that writes files into a :class:`Project` and commits
them (see :func:`dvclive_pipeline`); :data:`TRAIN_PY` and :data:`PREPARE_PY`
are the stage scripts, which read ``params.yaml`` and write their outputs
deterministically, so that reproducing a commit gives back its ``dvc.lock``.
All tools run inside the ``sealed_env`` fixture of ``conftest.py`` (no
network, no user config, the venv's ``python`` and ``dvc`` first on PATH).
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import VENV_BIN, GitRepo, sh

# --- the stage scripts --------------------------------------------------------------

PREPARE_PY = """\
\"\"\"Scale the raw features to [0, 1] and keep the label (a prepare stage).\"\"\"
import csv
import os

rows = list(csv.DictReader(open("data/raw.csv")))
cols = [c for c in rows[0] if c != "label"]
lo = {c: min(float(r[c]) for r in rows) for c in cols}
hi = {c: max(float(r[c]) for r in rows) for c in cols}
os.makedirs("data", exist_ok=True)
with open("data/prepared.csv", "w", newline="") as f:
    out = csv.writer(f)
    out.writerow(cols + ["label"])
    for r in rows:
        out.writerow([round((float(r[c]) - lo[c]) / ((hi[c] - lo[c]) or 1), 6) for c in cols]
                     + [r["label"]])
"""

TRAIN_PY = """\
\"\"\"Fit a logistic regression and log it with dvclive, as real projects do.\"\"\"
import csv
import pickle

import yaml
from dvclive import Live
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

params = yaml.safe_load(open("params.yaml"))["train"]
rows = list(csv.DictReader(open("data/prepared.csv")))
cols = [c for c in rows[0] if c != "label"]
X = [[float(r[c]) for c in cols] for r in rows]
y = [int(r["label"]) for r in rows]
model = LogisticRegression(C=params["C"], max_iter=params.get("max_iter", 100),
                           random_state=params.get("seed", 0)).fit(X, y)
with open("model.pkl", "wb") as f:
    pickle.dump(model, f)
score = model.predict_proba(X)[:, 1]
with Live("eval", dvcyaml=None, save_dvc_exp=False) as live:
    live.log_metric("acc", round(float(model.score(X, y)), 4), plot=False)
    live.log_metric("auc", round(float(roc_auc_score(y, score)), 4), plot=False)
    live.log_sklearn_plot("roc", y, [round(float(s), 6) for s in score], name="roc.json")
"""

DVC_YAML = """\
stages:
  prepare:
    cmd: python src/prepare.py
    deps:
      - src/prepare.py
      - data/raw.csv
    outs:
      - data/prepared.csv
  train:
    cmd: python src/train.py
    deps:
      - src/train.py
      - data/prepared.csv
    params:
      - train
    outs:
      - model.pkl
    metrics:
      - eval/metrics.json
    plots:
      - eval/plots/sklearn/roc.json:
          template: simple
          x: fpr
          y: tpr
"""

MLCI_YAML = """\
metrics:
  rules:
    - name: acc
      direction: higher
      max_regression: 0.02
    - name: auc
      direction: higher
      max_regression: 0.02
"""

DEFAULT_PARAMS: dict[str, Any] = {"C": 1.0, "max_iter": 200, "seed": 0}


def raw_csv(rows: int = 200, seed: int = 7, noise: float = 0.8) -> str:
    """A small, separable-with-noise classification table (deterministic for a seed)."""
    rng = random.Random(seed)
    lines = ["x1,x2,label"]
    for _ in range(rows):
        label = rng.random() < 0.5
        x1 = rng.gauss(1.0 if label else -1.0, noise)
        x2 = rng.gauss(0.5 if label else -0.5, noise * 1.5)
        lines.append(f"{x1:.4f},{x2:.4f},{int(label)}")
    return "\n".join(lines) + "\n"


# --- a project: work tree, bare origin, DVC remote ---------------------------------


class Project(GitRepo):
    """An author's working copy of a DVC project, with a bare git origin and a folder DVC remote.

    ``path`` is the working copy, ``origin`` the bare repository that
    :meth:`fresh_clone` clones, ``storage`` the DVC remote (named ``storage``,
    the default remote). All three live under the folder given to :meth:`create`.
    """

    def __init__(self, path: Path, origin: Path, storage: Path | None) -> None:
        super().__init__(path)
        self.origin = origin
        self.storage = storage

    @classmethod
    def create(
        cls, where: Path, name: str = "project", *, remote: bool = True, subdir: str | None = None
    ) -> Project:
        """``git init`` (branch main), ``dvc init``, a default DVC remote folder, a bare origin.

        ``subdir``: the DVC project lives in this folder of the git repository
        (``dvc init --subdir``); the returned project's methods still run at the
        git root, so pass paths relative to it, and use :meth:`dvc_in` there.
        ``remote=False`` leaves the project without a DVC remote.
        """
        work, origin = where / name, where / f"{name}-origin.git"
        storage = where / f"{name}-storage" if remote else None
        work.mkdir(parents=True)
        sh(["git", "init", "-q", "-b", "main"], work)
        sh(["git", "init", "-q", "--bare", "-b", "main", str(origin)], where)
        sh(["git", "remote", "add", "origin", str(origin)], work)
        project = cls(work, origin, storage)
        dvc_dir = work / subdir if subdir else work
        dvc_dir.mkdir(parents=True, exist_ok=True)
        project.dvc_in(dvc_dir, "init", "-q", *(["--subdir"] if subdir else []))
        if storage is not None:
            storage.mkdir()
            # relative (DVC resolves it from .dvc/), so that a copy of ``where`` and every
            # clone made next to the project use the copy's storage
            rel = Path("..", *[".."] * len(Path(subdir or ".").parts), storage.name).as_posix()
            project.dvc_in(dvc_dir, "remote", "add", "-d", "storage", rel)
        project.commit("Initialize DVC")  # dvclive, like users, expects a repository with a commit
        return project

    @classmethod
    def copy_of(cls, built: Project, where: Path) -> Project:
        """A copy of a built project (work tree, origin, storage) in the new folder ``where``.

        Building a shape costs several ``dvc`` runs; :func:`cached` builds each
        shape once per session and hands every test its own copy.
        """
        shutil.copytree(built.path.parent, where, symlinks=True)
        path, origin = where / built.path.name, where / built.origin.name
        sh(["git", "remote", "set-url", "origin", str(origin)], path)
        storage = where / built.storage.name if built.storage is not None else None
        return cls(path, origin, storage)

    def dvc_in(self, folder: Path | str, *args: str) -> str:
        """Run the ``dvc`` CLI in ``folder`` (absolute, or relative to the git root)."""
        return sh([str(VENV_BIN / "dvc"), *args], self.path / folder)

    def add_data(self, rel: str, content: str | bytes) -> None:
        """Write ``rel`` and track it with ``dvc add`` (a ``rel.dvc`` file: a data source)."""
        file = self.path / rel
        file.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            file.write_bytes(content)
        else:
            file.write_text(content)
        self.dvc("add", "-q", rel)

    def repro(self, *targets: str, cwd: str = ".") -> str:
        """``dvc repro`` with the real CLI (stages really run)."""
        return self.dvc_in(cwd, "repro", "-q", *targets)

    def set_params(self, file: str = "params.yaml", section: str = "train", **values: Any) -> None:
        """Update ``section`` of a YAML params file with ``values`` (nothing is reproduced)."""
        path = self.path / file
        doc = yaml.safe_load(path.read_text()) if path.exists() else {}
        doc = doc or {}
        doc.setdefault(section, {}).update(values)
        path.write_text(yaml.safe_dump(doc, sort_keys=False))

    def publish(self, branch: str | None = None, *, dvc_push: bool = True, cwd: str = ".") -> str:
        """``dvc push`` (unless ``dvc_push=False``) and ``git push origin BRANCH``; the pushed sha."""
        branch = branch or self.git("rev-parse", "--abbrev-ref", "HEAD")
        if dvc_push:
            self.dvc_in(cwd, "push", "-q")
        self.git("push", "-q", "origin", f"HEAD:refs/heads/{branch}")
        return self.git("rev-parse", "HEAD")

    def fresh_clone(self, dest: Path | None = None, branch: str = "main") -> GitRepo:
        """What a CI runner has: ``git clone`` of the origin at ``branch``.

        The clone has the origin's branches as ``origin/*`` (the base is
        ``origin/main``, as after ``actions/checkout`` with ``fetch-depth: 0``),
        an empty DVC cache, and no DVC-tracked file in its work tree.
        """
        dest = dest or self.path.parent / f"clone-{branch.replace('/', '-')}"
        sh(
            ["git", "clone", "-q", "--branch", branch, str(self.origin), str(dest)],
            self.path.parent,
        )
        return GitRepo(dest)


# --- shapes -------------------------------------------------------------------------


def dvclive_pipeline(
    p: Project,
    *,
    params: dict[str, Any] | None = None,
    config: str | None = MLCI_YAML,
    rows: int = 200,
    message: str = "baseline: dvclive pipeline",
) -> str:
    """The base shape, committed on the current branch (not published); returns the sha.

    ``data/raw.csv`` added with ``dvc add``; stage ``prepare`` (cached output
    ``data/prepared.csv``) and stage ``train`` calling dvclive: cached
    ``model.pkl``, cached metrics ``eval/metrics.json`` (acc, auc) and the
    cached sklearn plot ``eval/plots/sklearn/roc.json``; ``params.yaml``
    section ``train``; ``mlci.yaml`` with rules on acc and auc (``config=None``
    writes none). Reproduced with ``dvc repro``.
    """
    p.write("src/prepare.py", PREPARE_PY)
    p.write("src/train.py", TRAIN_PY)
    p.write("dvc.yaml", DVC_YAML)
    p.write(
        "params.yaml",
        yaml.safe_dump({"train": {**DEFAULT_PARAMS, **(params or {})}}, sort_keys=False),
    )
    if config is not None:
        p.write("mlci.yaml", config)
    p.add_data("data/raw.csv", raw_csv(rows))
    p.repro()
    return p.commit(message)


_BUILT: dict[str, Project] = {}


def cached(name: str, build: Callable[[Project], Any], factory: Any, where: Path) -> Project:
    """A fresh copy (in ``where``, which must not exist) of the shape ``build`` makes.

    ``build`` receives a new :meth:`Project.create` project and is run once per
    session for each ``name``; ``factory`` is pytest's ``tmp_path_factory``.
    Use it for the base state that many tests share, then change the copy.
    """
    if name not in _BUILT:
        project = Project.create(factory.mktemp(f"corpus-{name}"))
        build(project)
        _BUILT[name] = project
    return Project.copy_of(_BUILT[name], where)


def metrics_of(repo: GitRepo, path: str = "eval/metrics.json") -> dict[str, Any]:
    """The metric file in a work tree (after ``dvc repro`` or ``dvc pull``)."""
    return json.loads((repo.path / path).read_text())


EVALUATE_PY = """\
\"\"\"Score a made-up model from two params files; write metrics as YAML, TOML and CSV.\"\"\"
import os

import yaml

C = yaml.safe_load(open("params.yaml"))["train"]["C"]
depth = yaml.safe_load(open("config/model.yaml"))["model"]["depth"]
acc = round(0.7 + 0.05 * depth - 0.1 * abs(C - 1.0), 4)
os.makedirs("eval", exist_ok=True)
with open("eval/summary.yaml", "w") as f:
    yaml.safe_dump({"acc": acc, "rows": 200}, f)
with open("eval/scores.toml", "w") as f:
    f.write(f"[f1]\\nmacro = {round(acc - 0.03, 4)}\\n")
with open("eval/per_class.csv", "w") as f:
    f.write(f"class,precision,recall\\ncat,{round(acc + 0.01, 4)},{round(acc - 0.01, 4)}\\n"
            f"dog,{round(acc - 0.02, 4)},{round(acc, 4)}\\n")
"""

FORMATS_DVC_YAML = """\
stages:
  evaluate:
    cmd: python src/evaluate.py
    deps:
      - src/evaluate.py
    params:
      - train.C
      - config/model.yaml:
          - model.depth
    metrics:
      - eval/summary.yaml
      - eval/scores.toml:
          cache: false
    outs:
      - eval/per_class.csv:
          cache: false
"""

FORMATS_MLCI_YAML = """\
metrics:
  files:
    - eval/per_class.csv
  rules:
    - name: eval/summary.yaml:acc
      direction: higher
      max_regression: 0.01
    - name: eval/scores.toml:f1.macro
      direction: higher
      max_regression: 0.01
    - name: eval/per_class.csv:*.precision
      direction: higher
      max_regression: 0.05
"""


def formats_pipeline(
    p: Project, *, depth: int = 3, message: str = "baseline: metrics in YAML, TOML, CSV"
) -> str:
    """Params in two files, metrics in three formats; committed on the current branch.

    ``params.yaml`` (``train.C``) and ``config/model.yaml`` (``model.depth``)
    feed stage ``evaluate``, which writes ``eval/summary.yaml`` (a cached DVC
    metric), ``eval/scores.toml`` (a DVC metric kept in git) and
    ``eval/per_class.csv`` (an output that ``mlci.yaml`` names in
    ``metrics.files``, since DVC does not read CSV metrics). Reproduced.
    """
    p.write("src/evaluate.py", EVALUATE_PY)
    p.write("dvc.yaml", FORMATS_DVC_YAML)
    p.write("params.yaml", yaml.safe_dump({"train": {"C": 1.0}}))
    p.write("config/model.yaml", yaml.safe_dump({"model": {"depth": depth}}))
    p.write("mlci.yaml", FORMATS_MLCI_YAML)
    p.repro()
    return p.commit(message)


# --- a two-stage pipeline whose metric history the tests write run by run -----------------

NOISY_TRAIN_PY = """\
\"\"\"'Train' a model: params.yaml's train.value, plus noise from noise.txt, a file the stage
does not declare (an unseeded random source: same inputs, another result).\"\"\"
import pathlib

import yaml

value = yaml.safe_load(open("params.yaml"))["train"]["value"]
noise = int(pathlib.Path("noise.txt").read_text())
pathlib.Path("model.txt").write_text(str(round(value + noise / 1000, 6)))
"""

NOISY_EVALUATE_PY = """\
\"\"\"Score the model: its accuracy is the number in model.txt, written where argv[1] says.\"\"\"
import json
import pathlib
import sys

acc = float(pathlib.Path("model.txt").read_text())
out = pathlib.Path(sys.argv[1])
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(json.dumps({"acc": acc}))
"""

_TRAIN_STAGE = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py]
    params: [train.value]
    outs: [model.txt]
"""

# layout -> (the evaluate stage and any top-level entries, the metric a rule gates)
LAYOUTS: dict[str, tuple[str, str]] = {
    # a metrics file that is a stage's own (cached) output
    "file": (
        """\
  evaluate:
    cmd: python evaluate.py metrics.json
    deps: [evaluate.py, model.txt]
    metrics: [metrics.json]
""",
        "metrics.json:acc",
    ),
    # dvclive's layout: the stage outputs a folder, the metrics file inside it is declared at
    # the top level
    "folder": (
        """\
  evaluate:
    cmd: python evaluate.py eval/metrics.json
    deps: [evaluate.py, model.txt]
    outs: [eval]
metrics:
  - eval/metrics.json
""",
        "eval/metrics.json:acc",
    ),
    # a plain output of the stage, declared a metric by a top-level entry
    "toplevel": (
        """\
  evaluate:
    cmd: python evaluate.py scores.json
    deps: [evaluate.py, model.txt]
    outs: [scores.json]
metrics:
  - scores.json
""",
        "scores.json:acc",
    ),
    # one stage per item: dvc.lock names them evaluate@a and evaluate@b
    "foreach": (
        """\
  evaluate:
    foreach: [a, b]
    do:
      cmd: python evaluate.py eval/${item}.json
      deps: [evaluate.py, model.txt]
      metrics:
        - eval/${item}.json
""",
        "eval/a.json:acc",
    ),
    # a stage run in another folder: dvc.lock records its paths relative to that folder
    # (``metrics.json``, ``../model.txt``) and only dvc.yaml says which folder it is
    "wdir": (
        """\
  evaluate:
    wdir: report
    cmd: cd .. && python evaluate.py report/metrics.json
    deps: [../evaluate.py, ../model.txt]
    metrics: [metrics.json]
""",
        "report/metrics.json:acc",
    ),
    # one stage per item, each run in its own folder: dvc.yaml's wdir is a template
    # (``report/${item}``) and dvc.lock's paths are relative to the folder it names
    "foreach_wdir": (
        """\
  evaluate:
    foreach: [a, b]
    do:
      wdir: report/${item}
      cmd: cd ../.. && python evaluate.py report/${item}/metrics.json
      deps: [../../evaluate.py, ../../model.txt]
      metrics: [metrics.json]
""",
        "report/a/metrics.json:acc",
    ),
}

NOISY_MLCI_YAML = """\
metrics:
  rules:
    - name: acc
      direction: higher
      max_regression: auto
"""


def noisy_pipeline(p: Project, layout: str, folder: str = "") -> str:
    """Stage ``train`` (params ``train.value``, the undeclared ``noise.txt``) writes
    ``model.txt``; stage ``evaluate`` turns it into the metric, laid out as ``LAYOUTS``
    says. ``folder``: the DVC project's folder in the repository ("" for the root).
    Written, not reproduced or committed; returns the gated metric's name."""
    stage, metric = LAYOUTS[layout]
    at = f"{folder}/" if folder else ""
    p.write(f"{at}train.py", NOISY_TRAIN_PY)
    p.write(f"{at}evaluate.py", NOISY_EVALUATE_PY)
    p.write(f"{at}noise.txt", "0")
    p.write(f"{at}dvc.yaml", _TRAIN_STAGE + stage)
    if layout == "wdir":  # DVC runs the stage in its wdir, which must exist
        p.write(f"{at}report/README.md", "evaluation results")
    if layout == "foreach_wdir":
        for item in ("a", "b"):
            p.write(f"{at}report/{item}/README.md", "evaluation results")
    p.write(f"{at}mlci.yaml", NOISY_MLCI_YAML)
    p.set_params(file=f"{at}params.yaml", value=0.8)
    return metric


# a small pipeline for a subproject (``dvc init --subdir``): param ``quality`` is its metric
SUB_TRAIN = """\
import json, yaml
p = yaml.safe_load(open("params.yaml"))
json.dump({"acc": p["quality"]}, open("metrics.json", "w"))
"""

SUB_PIPELINE = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py]
    params: [quality]
    metrics:
      - metrics.json:
          cache: false
"""
