"""The results history on every repository layout, with real DVC and real git notes.

Each layout (a metrics file that is a stage's output, a file inside an output folder as
dvclive writes it, a top-level metrics entry, foreach stages, a stage with a wdir, foreach
stages each run in the folder a templated wdir names, a project in a subfolder) gets the
same main history: five runs on new params, two docs-only commits, and a re-run of the
pipeline on the same inputs whose unseeded upstream stage gives another value. A pull
request's check must count the six runs (not the carried-forward values), give the
allowance the documented model computes from them, and flag the metric.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from tests.conftest import GitRepo
from tests.corpus import LAYOUTS, Project, noisy_pipeline
from tests.test_history import model_allowed

RUN_VALUES = [0.81, 0.83, 0.80, 0.84, 0.79]  # the baseline has 0.8


def _record(repo: GitRepo, mlci, *args: str) -> None:
    run = mlci(repo, "check", "--record", "--base", "HEAD", *args)
    assert run.code in (0, 1), run.err
    assert "recorded the result as a git note on" in run.err, run.err


def _main_history(p: Project, work: GitRepo, mlci, folder: str) -> dict[str, str]:
    """The history every layout gets; the shas of the runs that matter."""
    at = f"{folder}/" if folder else ""
    shas = {}
    for i, value in enumerate(RUN_VALUES):
        p.set_params(file=f"{at}params.yaml", value=value)
        p.repro(cwd=folder or ".")
        shas[f"run{i}"] = p.commit(f"train with value {value}")
        _record(work, mlci, "--no-repro")
    for i in range(2):  # DVC would run nothing: the value is carried forward
        p.write(f"docs/{i}.md", "prose")
        p.commit(f"docs {i}")
        _record(work, mlci, "--no-repro")
    # the same inputs again, but train reads an undeclared file: another model, another value
    p.write(f"{at}noise.txt", "3")
    p.dvc_in(folder or ".", "repro", "-q", "--force")
    shas["rerun"] = p.commit("re-run on the same inputs")
    _record(work, mlci, "--no-repro")
    return shas


@pytest.mark.parametrize("layout", [*LAYOUTS, "subfolder"])
def test_runs_allowance_and_flag_on_every_layout(tmp_path, mlci, layout):
    folder = "ml" if layout == "subfolder" else ""
    p = Project.create(tmp_path, remote=False, subdir=folder or None)
    metric = noisy_pipeline(p, "file" if layout == "subfolder" else layout, folder)
    p.repro(cwd=folder or ".")
    p.commit("baseline")
    work = GitRepo(p.path / folder) if folder else p
    shas = _main_history(p, work, mlci, folder)

    p.git("checkout", "-q", "-b", "feature")
    p.write("README.md", "a docs-only pull request")
    p.commit("docs")
    run = mlci(work, "check", "--no-repro", "--base", "main", "--format", "json")
    assert run.code == 0, run.out
    doc = run.json()
    m = next(x for x in doc["metrics"] if x["name"] == metric)
    # every recorded value is in the history (the trend), each checked against its commit
    assert len(m["history"]) == len(RUN_VALUES) + 3
    runs = [*RUN_VALUES, 0.793]
    resolved = m["rule"]["resolved"]["max_regression"]
    mean = sum(runs) / len(runs)
    sd = math.sqrt(sum((v - mean) ** 2 for v in runs) / (len(runs) - 1))
    assert resolved["basis"] == (
        f"0.7 % bound from 6 runs on main (sd {sd:.2g}); 2 commits did not re-run its stage"
    )
    assert resolved["allowed"] == pytest.approx(model_allowed(runs, 0.793))
    # the flag: the last two runs had the same pipeline inputs (the randomness is upstream,
    # in train; evaluate's own deps changed with the model)
    assert m["nondeterministic"] == [
        {"sha": shas["run4"], "value": 0.79},
        {"sha": shas["rerun"], "value": 0.793},
    ]
    assert any(n.startswith(f"{metric} looks nondeterministic") for n in doc["notes"])
    # what the notes recorded for later: the stage and the identity of its pipeline inputs
    note = json.loads(p.git("notes", "--ref=mlci", "show", shas["rerun"]))
    path = metric.split(":", 1)[0]
    assert note["runs"][path]["stage"] == (
        "evaluate@a" if layout.startswith("foreach") else "evaluate"
    )
    before = json.loads(p.git("notes", "--ref=mlci", "show", shas["run4"]))
    assert note["runs"][path]["identity"] == before["runs"][path]["identity"]
    assert note["runs"][path]["entry"] != before["runs"][path]["entry"]


def test_a_run_the_recording_job_executed_is_a_sample_though_dvc_lock_did_not_change(
    tmp_path, mlci
):
    """CI without the DVC cache runs the stages again; a deterministic pipeline writes the
    same dvc.lock. That commit's value is a sample of zero noise, not a carried-forward one:
    the note says which stages its run executed."""
    p = Project.create(tmp_path, remote=False)
    metric = noisy_pipeline(p, "file")
    p.repro()
    p.commit("baseline")
    for value in RUN_VALUES:
        p.set_params(value=value)
        p.repro()
        p.commit(f"train with value {value}")
        _record(p, mlci, "--no-repro")
    p.write("docs/x.md", "prose")
    forced = p.commit("docs")
    cache, kept = p.path / ".dvc" / "cache", tmp_path / "kept-cache"
    shutil.move(cache, kept)  # as in a CI job without the cache
    (p.path / "model.txt").unlink()
    (p.path / "metrics.json").unlink()
    _record(p, mlci)  # reproduces: train and evaluate run, dvc.lock stays the same
    shutil.copytree(kept, cache, dirs_exist_ok=True)  # the earlier runs' objects, to check them
    assert p.git("status", "--porcelain") == ""
    note = json.loads(p.git("notes", "--ref=mlci", "show", forced))
    assert {s["name"]: s["status"] for s in note["repro"]["stages"]} == {
        "train": "ran",
        "evaluate": "ran",
    }
    p.git("checkout", "-q", "-b", "feature")
    p.commit("nothing")
    doc = mlci(p, "check", "--no-repro", "--base", "main", "--format", "json").json()
    m = next(x for x in doc["metrics"] if x["name"] == metric)
    assert m["rule"]["resolved"]["max_regression"]["basis"].startswith(
        "0.7 % bound from 6 runs on main"
    )
    assert "nondeterministic" not in m


def test_recorded_values_whose_commits_cannot_be_read_are_left_out_with_one_line(tmp_path, mlci):
    """A cached metric whose object is neither in the DVC cache nor in a remote cannot be
    checked against its commit: its recorded value is not used, and the report says so."""
    p = Project.create(tmp_path, remote=False)
    metric = noisy_pipeline(p, "folder")
    p.repro()
    p.commit("baseline")
    for value in RUN_VALUES[:2]:
        p.set_params(value=value)
        p.repro()
        p.commit(f"train with value {value}")
        _record(p, mlci, "--no-repro")
    shutil.rmtree(p.path / ".dvc" / "cache")
    p.git("checkout", "-q", "-b", "feature")
    p.commit("nothing")
    doc = mlci(p, "check", "--no-repro", "--base", "main", "--format", "json").json()
    assert (
        "the results history: 2 recorded values left out: the metrics file of their commits "
        "could not be read (not in git, the DVC cache or the DVC remote)"
    ) in doc["notes"]
    assert all("history" not in m for m in doc["metrics"] if m["name"] == metric)


def test_templated_wdirs_are_the_folders_dvc_runs_the_generated_stages_in(tmp_path):
    """``foreach`` over scalars, over mappings in a list and over a mapping, and a ``matrix``
    with a composite axis: each folder mlci fills in is the ``wdir`` real DVC gives that
    generated stage, values read as DVC reads them (``on`` a word, ``1e-3`` a number); a
    template of ``vars``, including ``${key}`` over a list, is left unresolved."""
    from dvc.repo import Repo

    from mlci.engine.lockview import stage_wdirs

    p = Project.create(tmp_path, remote=False)
    pipeline = """\
vars:
  - where: out
stages:
  scalars:
    foreach: [a, 1, true, on]
    do: {wdir: "s/${item}", cmd: "true"}
  rows:
    foreach: [{n: x}, {n: y}]
    do: {wdir: "r/${item.n}", cmd: "true"}
  named:
    foreach: {first: {dir: one, lr: 1e-3}, second: {dir: two, lr: 0.5}}
    do: {wdir: "n/${key}/${item.dir}/${item.lr}", cmd: "true"}
  grid:
    matrix: {model: [cnn, rnn], opt: [{lr: 1}, {lr: 2}]}
    wdir: "g/${item.model}"
    cmd: "true"
  from_vars:
    foreach: [a]
    do: {wdir: "${where}/${item}", cmd: "true"}
"""
    # over a list DVC sets no ${key}: it comes from vars (a project of its own: vars with a
    # `key` would make DVC warn about the mapping and matrix stages above)
    keyed = """\
vars:
  - key: shared
stages:
  key_from_vars:
    foreach: [a, b]
    do: {wdir: "k/${key}/${item}", cmd: "true"}
"""
    p.write("dvc.yaml", pipeline)
    q = Project.create(tmp_path, "keyed", remote=False)
    q.write("dvc.yaml", keyed)
    assert stage_wdirs(keyed) == {}
    wdirs = stage_wdirs(pipeline)
    assert wdirs == {
        "scalars@a": "s/a",
        "scalars@1": "s/1",
        "scalars@true": "s/true",
        "scalars@on": "s/on",
        "rows@0": "r/x",
        "rows@1": "r/y",
        "named@first": "n/first/one/0.001",
        "named@second": "n/second/two/0.5",
        "grid@cnn-opt0": "g/cnn",
        "grid@cnn-opt1": "g/cnn",
        "grid@rnn-opt0": "g/rnn",
        "grid@rnn-opt1": "g/rnn",
    }
    with Repo(str(p.path)) as repo:
        dvc_wdirs = {
            stage.name: Path(stage.wdir).relative_to(p.path).as_posix()
            for stage in repo.index.stages
        }
    assert {name: dvc_wdirs[name] for name in wdirs} == wdirs
    assert dvc_wdirs["from_vars@a"] == "out/a"
    with Repo(str(q.path)) as repo:
        [stage, _] = sorted(repo.index.stages, key=lambda stage: stage.name)
        assert stage.name == "key_from_vars@a"
        assert Path(stage.wdir).relative_to(q.path).as_posix() == "k/shared/a"
