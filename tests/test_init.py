"""`mlci init`: the written config loads, the workflow is a valid GitHub workflow, nothing is overwritten."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from mlci import configfile as config
from mlci.engine.classify import guess_direction
from tests.conftest import VENV_BIN, sh

DVC_YAML = """\
stages:
  prepare:
    cmd: python prepare.py
    outs:
      - data/clean.csv
  train:
    cmd: python train.py
    deps: [data/clean.csv]
    outs:
      - model.pkl
    metrics:
      - eval/metrics.json:
          cache: false
      - eval/timing.yaml:
          cache: false
"""


def project(repo, *, metrics=True):
    repo.write("dvc.yaml", DVC_YAML)
    repo.write("data/clean.csv", "id,label,text\n1,0,a\n")
    if metrics:
        repo.write(
            "eval/metrics.json",
            {"acc": 0.9, "log_loss": 0.3, "per_class": {"a": {"f1": 0.8}}, "name": "not a number"},
        )
        repo.write("eval/timing.yaml", "train_time: 12.5\nlatency_ms: 3\n")
    repo.commit("project")
    return repo


def validate_workflow(path):
    proc = subprocess.run(
        [
            str(VENV_BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_init_writes_a_config_that_loads_and_a_valid_workflow(dvc_repo, mlci):
    project(dvc_repo)
    run = mlci(dvc_repo, "init")
    assert run.code == 0, run.err
    assert run.out.startswith(
        "wrote mlci.yaml: 5 metric rules (a score may fall by 0.01, another metric by "
        "10 %; timings warn) from 2 metric files, 1 data check (a removed column, new missing "
        "values, lost rows fail; drift warns)\n"
    )
    assert "wrote .github/workflows/mlci.yml" in run.out and "Next steps:" in run.out

    cfg = config.load(None, dvc_repo.path)
    rules = {
        r.name: (r.direction, r.severity, r.max_regression, r.max_regression_pct)
        for r in cfg.metrics.rules
    }
    assert rules == {  # quality gates the merge; timings depend on the runner, so they warn
        "eval/metrics.json:acc": ("higher", "fail", 0.01, None),
        "eval/metrics.json:log_loss": ("lower", "fail", None, 10),
        "eval/metrics.json:per_class.a.f1": ("higher", "fail", 0.01, None),
        "eval/timing.yaml:train_time": ("lower", "warn", None, 10),
        "eval/timing.yaml:latency_ms": ("lower", "warn", None, 10),
    }
    # the pipeline's data output is checked against the base out of the box
    (check,) = cfg.data
    assert check.path == "data/clean.csv" and check.expect == ()
    rules = check.diff_rules
    assert (rules.schema, rules.missing, rules.rows, rules.drift) == ("fail",) * 3 + ("warn",)
    assert (rules.new_columns, rules.max_psi, rules.alpha) == ("info", 0.2, 0.001)
    assert cfg.metrics.unreadable == "fail"
    assert (
        "  unreadable: fail " in (dvc_repo.path / "mlci.yaml").read_text()
    )  # said, not only defaulted

    workflow = dvc_repo.path / ".github/workflows/mlci.yml"
    validate_workflow(workflow)
    doc = yaml.safe_load(workflow.read_text())
    assert doc["permissions"] == {"contents": "read"}
    # YAML 1.1 reads the key `on` as True
    assert doc[True] == {
        "pull_request": None,
        "push": {"branches": ["main"]},
        "issue_comment": {"types": ["created"]},
    }
    pr, publish, record = doc["jobs"]["mlci"], doc["jobs"]["publish"], doc["jobs"]["record"]
    # the job that runs the PR's code writes nothing; publishing is a job of its own
    assert pr["if"] == "github.event_name == 'pull_request'"
    assert pr["permissions"] == {"contents": "read", "pull-requests": "read"}
    assert publish["needs"] == "mlci" and "pull_request" in publish["if"]
    assert publish["permissions"] == {
        "contents": "read",
        "pull-requests": "write",
        "statuses": "write",
        "checks": "write",
    }
    # a push to main records its result in the history (refs/notes/mlci), which needs to push
    assert record["if"] == "github.event_name == 'push'"
    assert record["permissions"] == {"contents": "write", "statuses": "write", "checks": "write"}
    assert "pull_request" in doc["concurrency"]["cancel-in-progress"]
    steps = pr["steps"]
    assert steps[0] == {
        "uses": "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683",
        "with": {"fetch-depth": 0, "persist-credentials": False},
    }
    assert steps[2]["uses"].startswith("actions/setup-python@")
    assert "requirements.txt" in steps[3]["run"]
    [run_mlci] = [s for s in steps if s.get("uses") == "mlci/mlci@v0"]
    assert run_mlci["with"] == {"publish": "false", "config": "mlci.yaml"}
    assert [s for s in publish["steps"] if s.get("uses") == "mlci/mlci@v0"][0]["with"] == {
        "command": "publish",
        "result": "${{ runner.temp }}/mlci-artifact/mlci-result.json",
        "config": "mlci.yaml",
    }
    assert record["steps"][-1]["with"] == {
        "github-token": "${{ secrets.GITHUB_TOKEN }}",
        "config": "mlci.yaml",
    }

    # and mlci runs with it
    check = mlci(dvc_repo, "check", "--no-repro", "--base", "main", "--format", "json")
    assert check.code == 0
    assert {m["name"]: m["rule"]["direction"] for m in check.json()["metrics"] if m["rule"]}[
        "eval/timing.yaml:latency_ms"
    ] == "lower"


def test_commented_suggestions_are_valid_config_once_uncommented(dvc_repo, mlci):
    project(dvc_repo)
    mlci(dvc_repo, "init", "--no-workflow")
    text = (dvc_repo.path / "mlci.yaml").read_text()
    assert not (dvc_repo.path / ".github").exists()
    block = text.split("# deploy:\n", 1)[1].split("\n\n", 1)[0]
    uncommented = "deploy:\n" + "\n".join(line[2:] for line in block.splitlines())
    assert config.parse(uncommented, "uncommented").deploy.model_path == "model.pkl"
    # the data check's commented expectations, uncommented, are expectations of that entry
    data_block = text.split("\ndata:\n", 1)[1].split("\n\n", 1)[0]
    with_expect = "data:\n" + data_block.replace("    # expect:", "    expect:").replace(
        "    #   - ", "      - "
    )
    (check,) = config.parse(with_expect, "uncommented").data
    assert check.expect[1] == {
        "type": "expect_column_values_to_not_be_null",
        "kwargs": {"column": "id"},
        "line": check.expect[1]["line"],
    }
    # each check says why it is there, in the file
    assert "# a column removed, renamed, or read as text: the code that reads it breaks\n" in text
    assert "not always a mistake, hence warn" in text
    # the commented bounds use the current values
    assert '- name: "eval/metrics.json:acc"  # now 0.9\n' in text
    assert "      # min: 0.9 " in text and "      # max: 0.3 " in text


def test_never_overwrites_without_force(dvc_repo, mlci):
    project(dvc_repo)
    dvc_repo.write("mlci.yaml", "base: main\n")
    run = mlci(dvc_repo, "init")
    assert run.code == 2
    assert "mlci.yaml already exists; nothing written (use --force to overwrite)" in run.err
    assert (dvc_repo.path / "mlci.yaml").read_text() == "base: main\n"
    assert not (dvc_repo.path / ".github/workflows/mlci.yml").exists()  # all or nothing

    run = mlci(dvc_repo, "init", "--force", "--action", "acme/mlci@v2", "--python", "3.12")
    assert run.code == 0, run.err
    assert "eval/metrics.json:acc" in (dvc_repo.path / "mlci.yaml").read_text()
    workflow = yaml.safe_load((dvc_repo.path / ".github/workflows/mlci.yml").read_text())
    steps = workflow["jobs"]["mlci"]["steps"]
    [setup] = [s for s in steps if s.get("uses", "").startswith("actions/setup-python@")]
    assert "acme/mlci@v2" in [s.get("uses") for s in steps]
    assert setup["with"]["python-version"] == "3.12"

    run = mlci(dvc_repo, "init")
    assert run.code == 2 and "mlci.yaml, .github/workflows/mlci.yml already exist" in run.err


def test_before_the_first_repro(dvc_repo, mlci):
    project(dvc_repo, metrics=False)
    run = mlci(dvc_repo, "init", "--no-workflow")
    assert run.code == 0, run.err
    assert "eval/metrics.json: not in the work tree yet; run `dvc repro`" in run.out
    cfg = config.load(None, dvc_repo.path)
    assert cfg.metrics.rules == ()
    assert '# - name: "eval/metrics.json:*"' in (dvc_repo.path / "mlci.yaml").read_text()


def test_without_a_pipeline(git_repo, mlci):
    git_repo.write("README.md", "no pipeline here\n")
    git_repo.commit("readme")
    run = mlci(git_repo, "init")
    assert run.code == 0, run.err
    assert "no dvc.yaml pipeline found" in run.out
    assert config.load(None, git_repo.path).metrics.rules == ()
    validate_workflow(git_repo.path / ".github/workflows/mlci.yml")


def test_dvc_remote_needs_reach_the_workflow(dvc_repo, mlci):
    project(dvc_repo)
    dvc_repo.dvc("remote", "add", "-d", "store", "s3://bucket/cache")
    assert mlci(dvc_repo, "init").code == 0
    path = dvc_repo.path / ".github/workflows/mlci.yml"
    validate_workflow(path)
    jobs = yaml.safe_load(path.read_text())["jobs"]
    [step] = [s for s in jobs["mlci"]["steps"] if s.get("id") == "mlci"]
    assert step["with"]["extras"] == "s3"
    assert step["env"] == {
        "AWS_ACCESS_KEY_ID": "${{ secrets.AWS_ACCESS_KEY_ID }}",
        "AWS_SECRET_ACCESS_KEY": "${{ secrets.AWS_SECRET_ACCESS_KEY }}",
    }
    # the publishing job runs nothing of the pipeline: it gets no secret
    assert "secrets." not in yaml.safe_dump(jobs["publish"])


@pytest.mark.parametrize(
    "name, direction",
    [
        ("accuracy", "higher"),
        ("log_loss", "lower"),
        ("val_loss", "lower"),
        ("latency_ms", "lower"),
        ("mean_absolute_error", "lower"),
        ("rmse", "lower"),
        ("train_time", "lower"),
        ("runtime", "lower"),
        ("avg_prec.test", "higher"),
        ("f1", "higher"),
        ("timestamp", "higher"),
        ("errors.count", "lower"),
        ("n_samples", "higher"),
    ],
)
def test_direction_guess(name, direction):
    assert guess_direction(name) == direction


def test_names_that_need_quoting_stay_valid_yaml(dvc_repo, mlci):
    dvc_repo.write("dvc.yaml", "metrics:\n  - 'odd: name.json'\n")
    dvc_repo.write("odd: name.json", json.dumps({'a "quoted" #key': 1.0}))
    dvc_repo.commit("odd")
    assert mlci(dvc_repo, "init", "--no-workflow").code == 0
    (rule,) = config.load(None, dvc_repo.path).metrics.rules
    assert rule.name == 'odd: name.json:a "quoted" #key'


def test_commented_bounds_read_back_as_numbers(dvc_repo, mlci):
    values = {"throughput": 12345.5, "tiny": 1e-05, "huge_loss": 3e20, "count": 7}
    dvc_repo.write("dvc.yaml", "metrics:\n  - m.json\n")
    dvc_repo.write("m.json", json.dumps(values))
    dvc_repo.commit("numbers")
    assert mlci(dvc_repo, "init", "--no-workflow").code == 0
    text = (dvc_repo.path / "mlci.yaml").read_text()
    bounds = [
        ln.strip()[2:].split("#")[0]
        for ln in text.splitlines()
        if ln.strip().startswith(("# min:", "# max:"))
    ]
    read = [next(iter(yaml.safe_load(b).values())) for b in bounds]
    assert read == [12345.5, 1e-05, 3e20, 7]


@pytest.mark.parametrize(
    "text, columns, headerless",
    [
        ("id,label,text\n1,0,a\n2,1,b\n", ("id", "label", "text"), False),
        ("1\t0\tgreat film\n2\t1\tdull\n", ("col_1", "col_2", "col_3"), True),
        ("0.5,0.25\n0.75,1e-3\n", ("col_1", "col_2"), True),
        (
            "name,city\nann,paris\nbob,rome\n",
            ("name", "city"),
            False,
        ),  # no numeric column: csv.Sniffer
        ("customer,tenure\nc1,3\nc2,\n", ("customer", "tenure"), False),  # a gap is not a number
    ],
)
def test_header_row_detection(tmp_path, text, columns, headerless):
    from mlci.engine.infer import _table_head

    file = tmp_path / ("t.tsv" if "\t" in text else "t.csv")
    file.write_text(text)
    assert _table_head(file) == (columns, headerless)


@pytest.mark.parametrize(
    "paths, keys, pattern",
    [
        (
            ["eval/small/metrics.json", "eval/large/metrics.json"],
            ["small", "large"],
            "eval/*/metrics.json",
        ),
        (["res/model_a.json", "res/model_b.json"], ["a", "b"], "res/model_*.json"),
        (["m/lr-0.1/rf/s.json", "m/lr-0.2/gb/s.json"], ["0.1-rf", "0.2-gb"], "m/lr-0.*/*/s.json"),
        (["out/only/metrics.json"], ["only"], "out/*/metrics.json"),
        (["out/m.json"], ["only"], None),  # the key is not in the path: no pattern to make
        (["a[1]/x.json", "a[2]/x.json"], ["1", "2"], "a[[]*]/x.json"),
    ],
)
def test_stage_glob(paths, keys, pattern):
    from fnmatch import fnmatchcase

    from mlci.engine.classify import _stage_glob

    assert _stage_glob(paths, keys) == pattern
    if pattern:
        assert all(fnmatchcase(p, pattern) for p in paths)


def test_the_recording_job_follows_the_default_branch(git_repo, mlci, tmp_path):
    """A clone whose origin's default branch is `trunk` records pushes to trunk, not to main."""
    git_repo.write("README.md", "x\n")
    git_repo.commit("readme")
    git_repo.git("branch", "-m", "trunk")
    origin = tmp_path / "origin.git"
    sh(["git", "clone", "-q", "--bare", str(git_repo.path), str(origin)], tmp_path)
    clone = tmp_path / "clone"
    sh(["git", "clone", "-q", str(origin), str(clone)], tmp_path)
    clone_repo = type(git_repo)(clone)
    clone_repo.git("checkout", "-q", "-b", "feature")  # init runs on a feature branch
    assert mlci(clone_repo, "init").code == 0
    doc = yaml.safe_load((clone / ".github/workflows/mlci.yml").read_text())
    assert doc[True]["push"] == {"branches": ["trunk"]}


def test_the_plan_from_declared_outputs_without_dvc(tmp_path):
    """The inference is the engine's, callable without DVC or a template: declared outputs and
    remotes in, metric files with their keys, rules, data checks, the model and CI's needs out."""
    from mlci.adapters.dvc import PipelineOutput, RemoteConfig
    from mlci.adapters.dvc.plugins import REMOTE_PLUGINS
    from mlci.engine import infer

    (tmp_path / "metrics.json").write_text(
        '{"accuracy": 0.91, "log_loss": 0.3, "step": 10, "train_time": 5.2, "name": "rf"}'
    )
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("age,label\n31,1\n45,0\n")
    outputs = [
        PipelineOutput("metrics.json", "metric", "train", cached=False),
        PipelineOutput("data", "out", "prepare", cached=True),
        PipelineOutput("model.pkl", "out", "train", cached=True),
        PipelineOutput("missing.json", "metric", "eval", cached=False),
    ]
    remotes = [RemoteConfig("store", "s3://bucket/cache", True, {})]
    plan = infer.plan_from(tmp_path, outputs, remotes)

    assert plan.has_pipeline and [f.path for f in plan.files] == ["metrics.json", "missing.json"]
    assert [(k.key, k.direction) for k in plan.files[0].keys] == [
        ("accuracy", "higher"),
        ("log_loss", "lower"),
        ("step", "higher"),
        ("train_time", "lower"),
    ]  # a string is no metric
    rules = {r.name: (r.direction, r.severity) for g in plan.groups for r in g.rules}
    assert rules == {
        "metrics.json:accuracy": ("higher", "fail"),
        "metrics.json:log_loss": ("lower", "fail"),
        "metrics.json:train_time": ("lower", "warn"),  # a timing warns; the counter has no rule
    }
    assert plan.rule_count == 3
    (missing,) = [g for g in plan.groups if g.title.startswith("missing.json")]
    assert not missing.rules and "not in the work tree yet" in (missing.note or "")
    assert [(d.path, d.columns, d.headerless) for d in plan.data] == [
        ("data/train.csv", ("age", "label"), False)
    ]
    assert [m.path for m in plan.models] == ["model.pkl"]
    s3 = REMOTE_PLUGINS["s3"]
    assert plan.extras == [s3.extra] and plan.credentials == list(s3.workflow_secrets)
