"""``/mlci sweep`` and ``/mlci adopt`` on a pull request, against the fake GitHub.

The ``issue_comment`` run only labels and re-runs (it must not run the PR's code);
the ``pull_request`` re-run reads the writer's command, runs the grid as real DVC
experiments (or adopts one: params set, reproduced, committed and pushed to a real
origin) and reports the table in its one comment.
"""

from __future__ import annotations

import yaml

from tests.conftest import sh
from tests.test_ci import comments
from tests.test_commands import pr, replies, rerun, say  # noqa: F401 - the fixture
from tests.test_writeback import _origin_tip, _project, runner  # noqa: F401 - the fixture

CONFIG = """\
repro:
  commit: false
metrics:
  rules:
    - name: acc
      direction: higher
      max_regression: 0.05
sweep:
  objective: acc
"""


def test_a_readers_sweep_is_refused(pr):  # noqa: F811
    mlci_run = pr.fake.add_workflow_run(
        head_sha=pr.head, name="mlci", path=".github/workflows/mlci.yml"
    )
    run = say(pr, "/mlci sweep train.lr=0.1,0.2", user="reader")
    assert "mlci:sweep" not in pr.fake.labels(7)
    assert rerun(pr, mlci_run) == [False]
    assert "needs write, maintain or admin permission" in replies(pr, run.comment_id)[0]
    assert pr.repo.git("for-each-ref", "refs/exps") == ""  # nothing ran here


def test_a_writers_sweep_labels_and_reruns_without_running_pr_code(pr):  # noqa: F811
    mlci_run = pr.fake.add_workflow_run(
        head_sha=pr.head, name="mlci", path=".github/workflows/mlci.yml", run_number=4
    )
    run = say(pr, "/mlci sweep train.lr=0.1,0.2", user="writer")
    assert "mlci:sweep" in pr.fake.labels(7)
    assert rerun(pr, mlci_run) == [True]
    assert "Re-running" in replies(pr, run.comment_id)[0]
    assert pr.repo.git("for-each-ref", "refs/exps") == ""


def test_a_malformed_grid_is_answered(pr):  # noqa: F811
    run = say(pr, "/mlci sweep lr", user="writer")
    assert "mlci:sweep" not in pr.fake.labels(7)
    assert "needs a grid" in replies(pr, run.comment_id)[0]


def _pr_job(tmp_path, runner):  # noqa: F811
    p, head = _project(tmp_path, config=CONFIG)
    job = runner(p)
    job.pr_event(p.git("rev-parse", "main"), head, attempt="2")
    for user, level in (("writer", "write"), ("reader", "read")):
        job.fake.set_permission(user, level)
    return p, head, job


def test_the_rerun_sweeps_the_writers_grid_and_reports_one_table(tmp_path, runner):  # noqa: F811
    p, head, job = _pr_job(tmp_path, runner)
    job.fake.add_comment(7, "/mlci sweep train.lr=0.1,0.9", user="writer")
    job.fake.add_comment(7, "/mlci sweep train.lr=5,6,7", user="reader")  # not a writer: ignored
    job.fake.label(7, "mlci:sweep")
    code, doc = job.ci()
    exps = doc["experiments"]
    assert [e["params"] for e in exps] == [
        {"params.yaml:train.lr": 0.1},
        {"params.yaml:train.lr": 0.9},
    ]
    assert [e["verdict"] for e in exps] == ["pass", "fail"]
    assert doc["best"] == "sweep-1"
    assert "mlci: sweep 2/2: sweep-2" in job.last.err  # progress per experiment in the log
    [report] = [c for c in comments(job.fake) if c["body"].startswith("<!-- mlci:report:mlci -->")]
    assert "### mlci sweep: 2 experiments, 1 pass; best: sweep-1" in report["body"]
    assert "`sweep-1` ★ best" in report["body"]
    assert _origin_tip(p, "feature") == head  # a sweep commits nothing


def test_adopt_commits_the_experiments_params_to_the_pr_branch(tmp_path, runner):  # noqa: F811
    p, head, job = _pr_job(tmp_path, runner)
    job.fake.add_comment(7, "/mlci sweep train.lr=0.1,0.15", user="writer")
    job.fake.add_comment(7, "/mlci adopt sweep-2", user="writer")
    job.fake.label(7, "mlci:adopt")
    code, doc = job.ci()
    wb = doc["writeback"]
    assert wb["status"] == "pushed", wb
    assert "params.yaml" in wb["files"] and "dvc.lock" in wb["files"]
    tip = _origin_tip(p, "feature")
    assert tip == wb["sha"] and wb["parent"] == head
    params = yaml.safe_load(sh(["git", "show", f"{tip}:params.yaml"], p.origin))
    assert params["train"]["lr"] == 0.15
    assert "lr: 0.15" in sh(["git", "show", f"{tip}:dvc.lock"], p.origin)
    assert code == 0 and doc["verdict"] in ("pass", "warn")
