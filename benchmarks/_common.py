"""Helpers shared by the benchmarks: timing commands side by side, the example repo."""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ENV = dict(
    os.environ,
    PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    DVC_NO_ANALYTICS="1",
    NO_COLOR="1",
)
# bytecode is written (as in any install): a run does not compile what the warm-up compiled
ENV.pop("PYTHONDONTWRITEBYTECODE", None)


def run(
    cmd: str | Sequence[str], cwd: Path, *, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(cmd, cwd=cwd, env=ENV, shell=isinstance(cmd, str), capture_output=True)
    if check and proc.returncode not in (0, 1):
        raise SystemExit(f"benchmark command failed: {cmd}\n{proc.stderr.decode()}")
    return proc


def timed(cmd: str | Sequence[str], cwd: Path) -> float:
    return timed_cpu(cmd, cwd)[0]


def timed_cpu(cmd: str | Sequence[str], cwd: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system of the command and its children).

    On a machine shared with other jobs the wall clock also counts the wait for a core;
    the CPU time is what the command itself costs.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run(cmd, cwd)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def side_by_side(
    a: str | Sequence[str], b: str | Sequence[str], cwd: Path, repeat: int = 5
) -> tuple[float, float]:
    """Median wall time of ``a`` and ``b``, interleaved so both see the same machine load."""
    (wa, _), (wb, _) = side_by_side_cpu(a, b, cwd, repeat)
    return wa, wb


def side_by_side_cpu(
    a: str | Sequence[str], b: str | Sequence[str], cwd: Path, repeat: int = 5
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Median (wall, CPU) of ``a`` and of ``b``, interleaved so both see the same machine load."""
    run(a, cwd), run(b, cwd)  # warm the file cache for both
    ta, tb = [], []
    for _ in range(repeat):
        ta.append(timed_cpu(a, cwd))
        tb.append(timed_cpu(b, cwd))
    med = statistics.median
    return (med(t[0] for t in ta), med(t[1] for t in ta)), (
        med(t[0] for t in tb),
        med(t[1] for t in tb),
    )


def git_dvc_setup(repo: Path, what: str, *then: str) -> None:
    """In ``repo``: a git repository on main, DVC initialised and reproduced, a baseline
    commit, a branch ``pr``; then the commands ``then``. Exits naming the step that failed."""
    for cmd in (
        "git init -q -b main",
        "git config user.email bench@example.com",
        "git config user.name bench",
        "dvc init -q",
        "dvc repro -q",
        "git add -A",
        "git commit -q -m baseline",
        "git checkout -q -b pr",
        *then,
    ):
        proc = run(cmd, repo, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"setting up {what} failed at `{cmd}`:\n{proc.stderr.decode()}")


# a frame of these files on the stack is time spent in DVC (mlci's adapter calls into it)
DVC_CODE = (
    f"mlci{os.sep}adapters{os.sep}dvc{os.sep}",
    f"site-packages{os.sep}dvc",
    f"{os.sep}scmrepo{os.sep}",
)


def sampled_check(
    cwd: Path, argv: Sequence[str], where: Callable[[FrameType], str]
) -> tuple[float, dict[str, int]]:
    """Run ``mlci argv`` in this process in ``cwd`` (its output to /dev/null), sampling the
    stack every 2 ms; ``where`` names each sample from its innermost frame. Returns the
    seconds and the samples per name."""
    from _sampled_process import Sampler

    from mlci.cli import main as mlci_main

    sampler = Sampler(where)
    here = Path.cwd()
    os.chdir(cwd)
    start = time.perf_counter()
    sampler.start()
    try:
        with open(os.devnull, "w") as null:
            out, err, sys.stdout, sys.stderr = sys.stdout, sys.stderr, null, null
            try:
                mlci_main(list(argv))
            finally:
                sys.stdout, sys.stderr = out, err
    finally:
        counts = sampler.stop()
        os.chdir(here)
    return time.perf_counter() - start, counts


def example_repo(where: Path) -> Path:
    """The example project as a repo: baseline on main, a PR branch changing train.C."""
    repo = where / "example"
    shutil.copytree(ROOT / "examples" / "project", repo)
    git_dvc_setup(
        repo,
        "the example",
        "sed -i 's/C: 0.05/C: 0.5/' params.yaml",
        "dvc repro -q",
        "git add -A",
        "git commit -q -m pr",
    )
    return repo


def report(
    label: str, ours: float, theirs: float, target: str, *, cpu: tuple[float, float] | None = None
) -> None:
    line = (
        f"{label}\n    mlci {ours * 1000:8.0f} ms   reference {theirs * 1000:8.0f} ms   "
        f"ratio {ours / theirs:.2f}   (target {target})"
    )
    if cpu:
        line += f"\n    CPU  {cpu[0] * 1000:8.0f} ms   reference {cpu[1] * 1000:8.0f} ms   ratio {cpu[0] / cpu[1]:.2f}"
    print(line)


GET_STARTED_PREPARE = """\
import csv, pathlib, random, yaml
p = yaml.safe_load(open("params.yaml"))["prepare"]
rows = list(csv.reader(open("data/data.csv")))[1:]
random.Random(p["seed"]).shuffle(rows)
cut = int(len(rows) * p["split"])
out = pathlib.Path("data/prepared"); out.mkdir(parents=True, exist_ok=True)
for name, part in (("train.csv", rows[:cut]), ("test.csv", rows[cut:])):
    with open(out / name, "w", newline="") as f:
        csv.writer(f).writerows([["x1", "x2", "y"], *part])
"""

GET_STARTED_FEATURIZE = """\
import csv, pathlib, yaml
p = yaml.safe_load(open("params.yaml"))["featurize"]
out = pathlib.Path("data/features"); out.mkdir(parents=True, exist_ok=True)
for name in ("train.csv", "test.csv"):
    rows = list(csv.reader(open(f"data/prepared/{name}")))[1:]
    with open(out / name, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["f1", "f2", "y"])
        for x1, x2, y in rows:
            w.writerow([float(x1) * p["scale"], float(x2) ** p["power"], y])
"""

GET_STARTED_TRAIN = """\
import csv, json, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
rows = [[float(a), float(b), int(y)] for a, b, y in list(csv.reader(open("data/features/train.csv")))[1:]]
w = [0.0, 0.0, 0.0]
for _ in range(p["epochs"]):
    for a, b, y in rows:
        z = w[0] * a + w[1] * b + w[2]
        pred = 1 if z > 0 else 0
        for i, v in enumerate((a, b, 1.0)):
            w[i] += p["lr"] * (y - pred) * v
json.dump(w, open("model.json", "w"))
"""

GET_STARTED_EVALUATE = """\
import csv, json, math
from dvclive import Live
w = json.load(open("model.json"))
rows = [[float(a), float(b), int(y)] for a, b, y in list(csv.reader(open("data/features/test.csv")))[1:]]
scores = [1 / (1 + math.exp(-max(-30, min(30, w[0] * a + w[1] * b + w[2])))) for a, b, _ in rows]
labels = [y for _, _, y in rows]
acc = sum((s > 0.5) == bool(y) for s, y in zip(scores, labels)) / len(rows)
with Live("eval", dvcyaml=False, save_dvc_exp=False) as live:
    live.log_metric("accuracy", acc, plot=False)
    live.log_metric("n_test", len(rows), plot=False)
    live.log_sklearn_plot("roc", labels, scores, name="roc/test.json")
"""

GET_STARTED_DVC_YAML = """\
stages:
  prepare:
    cmd: python src/prepare.py
    deps: [data/data.csv, src/prepare.py]
    params: [prepare]
    outs: [data/prepared]
  featurize:
    cmd: python src/featurize.py
    deps: [data/prepared, src/featurize.py]
    params: [featurize]
    outs: [data/features]
  train:
    cmd: python src/train.py
    deps: [data/features, src/train.py]
    params: [train]
    outs: [model.json]
  evaluate:
    cmd: python src/evaluate.py
    deps: [data/features, model.json, src/evaluate.py]
    outs: [eval]
metrics:
  - eval/metrics.json
plots:
  - eval/plots/sklearn/roc/test.json:
      x: fpr
      y: tpr
      title: ROC curve (test)
"""


def get_started_repo(where: Path) -> Path:
    """A repo shaped like DVC's get-started: dvc-add'ed data, four stages, metrics as cached
    outputs, a dvclive ROC; baseline on main, a PR branch changing a param, both reproduced."""
    import random

    repo = where / "get-started"
    (repo / "src").mkdir(parents=True)
    rng = random.Random(7)
    lines = ["x1,x2,y"]
    for _ in range(2000):
        y = rng.random() < 0.5
        lines.append(
            f"{rng.gauss(1.0 if y else -1.0, 1.2):.4f},{rng.gauss(0.5 if y else -0.5, 1.5):.4f},{int(y)}"
        )
    (repo / "data").mkdir()
    (repo / "data" / "data.csv").write_text("\n".join(lines) + "\n")
    for name, text in (
        ("prepare", GET_STARTED_PREPARE),
        ("featurize", GET_STARTED_FEATURIZE),
        ("train", GET_STARTED_TRAIN),
        ("evaluate", GET_STARTED_EVALUATE),
    ):
        (repo / "src" / f"{name}.py").write_text(text)
    (repo / "dvc.yaml").write_text(GET_STARTED_DVC_YAML)
    (repo / "params.yaml").write_text(
        "prepare: {seed: 20170428, split: 0.8}\n"
        "featurize: {scale: 1.0, power: 1}\ntrain: {epochs: 3, lr: 0.05}\n"
    )
    (repo / "mlci.yaml").write_text(
        "base: main\nmetrics:\n  rules:\n    - name: accuracy\n"
        "      direction: higher\n      max_regression: 0.05\n"
    )
    for cmd in (
        "git init -q -b main",
        "git config user.email bench@example.com",
        "git config user.name bench",
        "dvc init -q",
        "dvc add -q data/data.csv",
        "git add -A",
        "git commit -q -m data",  # dvclive wants a commit
        "dvc repro -q",
        "git add -A",
        "git commit -q -m baseline",
        "git checkout -q -b pr",
        "sed -i 's/epochs: 3/epochs: 5/' params.yaml",
        "dvc repro -q",
        "git add -A",
        "git commit -q -m pr",
    ):
        proc = run(cmd, repo, check=False)
        if proc.returncode != 0:
            raise SystemExit(
                f"setting up the get-started repo failed at `{cmd}`:\n{proc.stderr.decode()}"
            )
    return repo
