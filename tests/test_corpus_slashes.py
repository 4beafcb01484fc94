"""Corpus, issue 24 item 10: paths join with one slash.

A ``dvc.yaml`` written by hand says ``./src/train.py`` and ``eval/``; DVC keeps
them so in ``dvc.lock``. Built with real git and a real ``dvc repro``, the
project is checked where the lock is stale: the report names the paths as the
repository does (``src/train.py``, ``eval``), never with ``./``, a doubled or a
trailing slash, and the history's reading of the lock finds the metrics file
inside the ``./eval/`` output.
"""

from __future__ import annotations

import json
import re

from mlci.engine.lockview import dvc_content, lock_view
from mlci.model.paths import clean_path, join_path

TRAIN = """\
import json, os, yaml
q = yaml.safe_load(open("params.yaml"))["quality"]
os.makedirs("eval/plots", exist_ok=True)
json.dump({"acc": q}, open("eval/metrics.json", "w"))
json.dump([{"x": i, "y": q * i} for i in range(3)], open("eval/plots/curve.json", "w"))
"""

# paths as people write them: a leading ./, a folder with a trailing slash
PIPELINE = """\
stages:
  train:
    cmd: python src/train.py
    deps: [./src/train.py]
    params: [quality]
    outs: [./eval/]
metrics:
  - eval/metrics.json
plots:
  - eval/plots/:
      x: x
      y: y
"""

RULES = """\
metrics:
  rules:
    - name: acc
      direction: higher
      max_regression: 0.5
"""

# a path with "./" at its start or after a space/quote/slash, "//" not in a URL, or "name/"
# before a separator: what must not be shown
BAD = re.compile(r"(^|[\s`'\"(/])\./|(?<!:)//|[\w.-]/(?=[\s,;)`'\"]|$)", re.MULTILINE)


def test_paths_written_with_dot_slash_and_trailing_slash_are_shown_once_each(dvc_repo, mlci):
    dvc_repo.write("src/train.py", TRAIN)
    dvc_repo.write("dvc.yaml", PIPELINE)
    dvc_repo.write("params.yaml", "quality: 0.8\n")
    dvc_repo.write("mlci.yaml", RULES)
    dvc_repo.dvc("repro", "-q")
    lock = (dvc_repo.path / "dvc.lock").read_text()
    assert "path: ./src/train.py" in lock and "path: ./eval/" in lock, lock  # DVC keeps them
    dvc_repo.commit("baseline")

    # the history reads the lock: the metrics file is inside the output ./eval/
    view = lock_view(lock)
    record = view.stage_of("eval/metrics.json")
    assert record is not None and record.stage == "train", view.outs
    assert json.loads(dvc_content(dvc_repo.path, view, "eval/metrics.json") or b"{}") == {
        "acc": 0.8
    }

    # a change committed without `dvc repro`: the check reproduces and dvc.lock changes
    dvc_repo.git("checkout", "-q", "-b", "feature")
    dvc_repo.write("params.yaml", "quality: 0.7\n")
    dvc_repo.write("src/train.py", TRAIN + "# tuned\n")
    dvc_repo.commit("lower quality, lock not reproduced")

    shown = {}
    for fmt in ("json", "markdown", "text"):
        dvc_repo.git("checkout", "-q", "--", "dvc.lock")  # stale again: each run reproduces
        run = mlci(dvc_repo, "check", "--base", "main", "--format", fmt)
        assert run.code == 0, (run.out, run.err)
        shown[fmt] = run.out
    doc = json.loads(shown["json"])
    [changed] = [r["message"] for r in doc["reasons"] if "reproduction changed" in r["message"]]
    assert "train (outs eval, deps src/train.py, params quality)" in changed, changed
    assert "train (outs eval, deps src/train.py, params quality)" in " ".join(
        shown["markdown"].split()
    )
    assert "src/train.py" in " ".join(shown["text"].split())
    for fmt, text in shown.items():
        bad = [text[max(m.start() - 60, 0) : m.end() + 20] for m in BAD.finditer(text)]
        assert not bad, (fmt, bad)


def test_one_helper_cleans_and_joins_paths():
    assert [
        clean_path(p) for p in ("./eval/", "eval//plots/", "eval", "/abs/", "./", "../up/")
    ] == [
        "eval",
        "eval/plots",
        "eval",
        "/abs",
        ".",
        "../up",
    ]
    assert join_path("models/a/", "./mlci.yaml") == "models/a/mlci.yaml"
    assert join_path(".", "src/requirements.txt") == "src/requirements.txt"
    assert join_path("", "dvc.yaml") == "dvc.yaml"
