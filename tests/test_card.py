"""The model card: written by `mlci deploy` (version description, run artifact), shown by `mlci card`.

On a real MLflow SQLite store (the builders of test_deploy.py) and real git and DVC repositories.
"""

from __future__ import annotations

from pathlib import Path

from mlci.model.card import LockedPath, ModelCard, Package
from mlci.model.result import Context, ParamDelta, Result, Revision
from mlci.report import card as card_report
from tests import test_deploy
from tests.test_deploy import MODEL, Project

# the deploy tests' fixtures: an MLflow store made once per session, a project using it
empty_db = test_deploy.empty_db
project = test_deploy.project

LOCK = """\
schema: '2.0'
stages:
  train:
    cmd: python train.py
    deps:
    - path: data/train.csv
      hash: md5
      md5: 0123456789abcdef0123456789abcdef
      size: 2048
    - path: train.py
      hash: md5
      md5: fedcba9876543210fedcba9876543210
      size: 120
    params:
      params.yaml:
        train.lr: 0.1
    outs:
    - path: model.pkl
      hash: md5
      md5: 11111111111111111111111111111111
      size: 14
    - path: features
      hash: md5
      md5: 22222222222222222222222222222222.dir
      size: 4096
      nfiles: 3
"""


def deploy_two(project: Project) -> tuple[str, str]:
    """Version 1 at acc 0.80, then version 2 at acc 0.90 with a dvc.lock and requirements."""
    first = project.repo.git("rev-parse", "HEAD")
    assert project.run("deploy", "-e", "production", "--base", "HEAD").code == 0
    project.repo.write(
        "requirements.txt", "scikit-learn==1.5.0\npandas>=2  # a range\n-r dev.txt\n"
    )
    project.repo.write("dev.txt", "pytest==8.0\n")
    # a lock file written by `uv lock`: the card lists what it locked
    lock = Path(__file__).parent / "data" / "environment" / "uv.head.lock"
    project.repo.write("uv.lock", lock.read_text(encoding="utf-8"))
    project.repo.write("dvc.lock", LOCK)
    project.commit(0.90, model="better")
    second = project.repo.git("rev-parse", "HEAD")
    run = project.run("deploy", "-e", "production", "--base", first)
    assert run.code == 0, run.err
    return first, second


def test_deploy_writes_the_card_as_description_and_run_artifact(project: Project):
    first, second = deploy_two(project)
    client = project.client()
    mv = client.get_model_version(MODEL, "2")
    card = mv.description
    lines = card.splitlines()
    assert lines[0] == f"# Model card: `{MODEL}` version 2"
    assert "Deployed to `production` with the alias `champion` at " in card
    assert "by Test (local mlci run)." in card
    assert f"| commit | `{second}` on `main` |" in card
    assert f"| replaced | version 1 (`{first[:12]}`) |" in card
    # metrics against the champion, with the rule that judged them
    assert "Against the champion it replaced, version 1" in card
    row = next(x for x in lines if "`eval/metrics.json:acc`" in x)
    assert row.split("|")[3:7] == [
        " 0.8 ",
        " 0.9 ",
        " ▲ +0.1 (+12.5 %) ",
        " higher, max regression 0.01 ",
    ]
    assert "- `acc`: higher, max regression 0.01 (fail)" in card
    # every dep and out of dvc.lock, with its hash
    assert (
        "| `train` | dep | `data/train.csv` | md5 `0123456789abcdef0123456789abcdef` | 2.0 KiB |"
        in card
    )
    assert (
        "| `train` | out | `features` | md5 `22222222222222222222222222222222.dir` | 4.0 KiB (3 files) |"
        in card
    )
    assert "| `params.yaml:train.lr` | `0.1` |" in card
    assert "| `scikit-learn` | `==1.5.0` | `requirements.txt` |" in card
    assert "| `pandas` | <code>&gt;=2</code> (not pinned) | `requirements.txt` |" in card
    assert "| `pytest` | `==8.0` | `dev.txt` |" in card  # an include of requirements.txt
    assert "No `data:` checks are configured." in card
    # the same card is the deploy run's artifact
    artifacts = {a.path for a in client.list_artifacts(mv.run_id)}
    assert "model_card.md" in artifacts
    local = client.download_artifacts(mv.run_id, "model_card.md", str(project.db.parent))
    whole = Path(local).read_text(encoding="utf-8")
    assert whole == card or (len(card) <= 5000 and card.split("## Environment")[0] in whole)
    # the packages of the lock file, as locked (the whole card is the artifact)
    assert "| `packaging` | `26.4` | `uv.lock` |" in whole
    assert "| `pysocks` | `1.7.1` | `uv.lock` |" in whole
    # the first version's card says it replaced nothing
    v1 = client.get_model_version(MODEL, "1").description
    assert "| replaced | nothing: no version held the alias `champion` |" in v1
    assert "No model holds the alias yet: this is the first deployment." in v1


def test_mlci_card_shows_a_deployed_commit_as_at_deploy_and_a_new_one_against_the_champion(
    project: Project,
):
    first, second = deploy_two(project)
    run = project.run("card", "--rev", second, "--base", first)
    assert run.code == 0, run.err
    card = run.out
    assert card.startswith(f"# Model card: `{MODEL}` version 2\n")
    assert "Preview made by `mlci card` at " in card and "this commit is version 2" in card
    assert f"| replaced | version 1 (`{first[:12]}`) |" in card  # as when it was deployed
    assert f"{second[:12]}:dvc.lock" in card and "`data/train.csv`" in card

    # a commit never deployed: compared with the version holding the alias now, its data checked
    config = (project.repo.path / "mlci.yaml").read_text(encoding="utf-8")
    project.repo.write(
        "mlci.yaml",
        config + "data:\n  - path: data/train.csv\n    expect:\n"
        "      - expect_column_values_to_not_be_null: {column: text}\n",
    )
    project.repo.write("data/train.csv", "id,text\n1,a\n2,b\n")
    project.commit(0.85)
    out = project.repo.path / "card.md"
    run = project.run("card", "--output", str(out))
    assert run.code == 0, run.err
    card = out.read_text(encoding="utf-8")
    assert card.startswith(f"# Model card: `{MODEL}`\n") and "not registered" in card
    assert f"| replaced | version 2 (`{second[:12]}`) |" in card
    row = next(x for x in card.splitlines() if "`eval/metrics.json:acc`" in x)
    assert row.startswith("| ❌ |") and "▼" in row  # 0.85 is worse than the champion's 0.90
    assert "1 file — 1 passed" in card
    assert "| ✅ | `data/train.csv` | 2 rows × 2 columns, 1 expectation passed |" in card
    assert project.versions() == ["1", "2"]  # a card registers nothing


def _without_deploy_only_fields(card: str) -> list[str]:
    """The card's lines but those only a deploy knows: when, where and by whom it was deployed."""
    lines = card.splitlines()
    assert lines[2].startswith(("Deployed to `production` with the alias", "Preview made by"))
    return [
        line.replace(", alias `champion` |", " |")
        for i, line in enumerate(lines)
        if i != 2 and not line.startswith("| deployed by |")
    ]


def test_mlci_card_of_a_deployed_commit_is_the_deploys_card(project: Project):
    first, second = deploy_two(project)
    client = project.client()
    mv = client.get_model_version(MODEL, "2")
    local = client.download_artifacts(mv.run_id, "model_card.md", str(project.db.parent))
    deployed = Path(local).read_text(encoding="utf-8")
    project.commit(0.95)  # a later commit: the card is asked for by sha, not HEAD
    run = project.run("card", "--rev", second, "--base", first)
    assert run.code == 0, run.err
    assert _without_deploy_only_fields(run.out) == _without_deploy_only_fields(deployed)
    # what they share is the substance: the branch, the model file's hash, dvc.lock at the commit
    assert f"| commit | `{second}` on `main` |" in run.out
    assert f"| model file | `model.pkl`, sha256 `{mv.tags['mlci.model.sha256']}` |" in run.out
    assert f"Every dep and out pinned in `{second[:12]}:dvc.lock`:" in run.out
    assert "Preview made by `mlci card` at " in run.out and "| deployed by |" not in run.out


def _card(**fields) -> ModelCard:
    result = Result(
        context=Context(
            base=Revision("main", "b" * 40), head=Revision("main", "a" * 40), repo="o/r"
        ),
        verdict="pass",
        params=tuple(ParamDelta(f"params.yaml:p{i}", 0, i, "changed") for i in range(300)),
    )
    base = {"model_name": "m", "alias": "champion", "result": result}
    return ModelCard(**{**base, **fields})


def test_the_card_escapes_what_the_repository_wrote():
    card = _card(
        locked=(LockedPath("train", "dep", "data/<img src=x>|@octocat.csv", "abc", "md5"),),
        packages=(Package("evil](http://x)", "requirements.txt", ">1", False),),
        package_files=("requirements.txt",),
    )
    text = card_report.markdown(card)
    assert "<img" not in text and "@octocat" not in text
    assert "| `evil](http://x)` |" in text  # a code span: no link
    assert "<code>data/&lt;img src=x&gt;&#124;&#64;octocat.csv</code>" in text


def test_a_long_card_is_cut_to_fit_a_version_description():
    card = _card(
        locked=tuple(LockedPath("s", "dep", f"data/{i}.csv", "f" * 32, "md5") for i in range(400))
    )
    full = card_report.markdown(card)
    short = card_report.markdown_within(card, 5000)
    assert len(full) > 5000 >= len(short)
    assert "more path" in short and "more param" in short
    assert short.splitlines()[0] == full.splitlines()[0]


def test_every_dvc_lock_of_the_project_is_on_the_card(dvc_repo):
    """A pipeline in a subfolder has its own dvc.lock (real `dvc repro --all-pipelines`)."""
    from mlci.engine import card as gather_card
    from tests.conftest import VENV_BIN, sh

    repo = dvc_repo
    repo.write("data.csv", "x\n1\n")
    repo.write(
        "dvc.yaml",
        "stages:\n  prepare:\n    cmd: cp data.csv prepared.csv\n    deps: [data.csv]\n"
        "    outs: [prepared.csv]\n",
    )
    repo.write(
        "train/dvc.yaml",
        "stages:\n  fit:\n    cmd: cp ../prepared.csv model.bin\n    deps: [../prepared.csv]\n"
        "    outs: [model.bin]\n",
    )
    sh([str(VENV_BIN / "dvc"), "repro", "-q", "--all-pipelines"], repo.path)
    sha = repo.commit("two pipelines")
    where, locked = gather_card.locked_paths(repo.path, sha)
    assert where == f"{sha[:12]}:dvc.lock, train/dvc.lock"
    got = [(p.stage, p.kind, p.path, p.hash_name) for p in locked]
    assert got == [
        ("prepare", "dep", "data.csv", "md5"),
        ("prepare", "out", "prepared.csv", "md5"),
        ("train/dvc.yaml:fit", "dep", "prepared.csv", "md5"),  # from the project's root
        ("train/dvc.yaml:fit", "out", "train/model.bin", "md5"),
    ]
    # the same model file hash in both lock files' view of prepared.csv
    assert locked[1].hash == locked[2].hash
    where, from_work_tree = gather_card.locked_paths(repo.path, None)
    assert where == "dvc.lock, train/dvc.lock (work tree)" and from_work_tree == locked
