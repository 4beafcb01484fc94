"""Corpus: the gate fails closed when DVC cannot read what a revision declares.

Realistic repositories (real git, real ``dvc repro``, a DVC remote, a fresh
clone) where a metrics file exists at a revision but DVC cannot load it: the
remote lacks the base's objects, the remote does not answer, its plugin is not
installed, the file does not parse. Each is run through ``mlci check`` (and one
through ``mlci ci`` with the fake GitHub) and must not pass as "no baseline".
No test reaches the network: the unreachable remote is a closed port on
127.0.0.1.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket

import pytest

from mlci.model.result import Result, validate
from mlci.report import render, terminal
from tests.conftest import GitRepo, sh

TRAIN = """\
import json, os
os.makedirs("eval", exist_ok=True)
acc = float(open("acc.txt").read())
json.dump({"acc": acc, "loss": round(1 - acc, 4)}, open("eval/metrics.json", "w"))
"""

# the metrics file is a cached output (the default): its content lives in DVC's cache and remote
PIPELINE = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py, acc.txt]
    metrics:
      - eval/metrics.json
"""

RULES = """\
metrics:
  rules:
    - name: acc
      direction: higher
      max_regression: 0.05
"""


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cached_metrics_project(
    repo: GitRepo, remote_url: str, *, config: str = RULES, push: str = "none"
) -> tuple[str, str]:
    """main: acc 0.90; feature: acc 0.89 (within the rule). ``push``: none|head|both."""
    repo.write("train.py", TRAIN)
    repo.write("acc.txt", "0.90\n")
    repo.write("dvc.yaml", PIPELINE)
    repo.write("mlci.yaml", config)
    repo.dvc("remote", "add", "-q", "-d", "storage", remote_url)
    repo.dvc("repro", "-q")
    if push == "both":
        repo.dvc("push", "-q")
    base = repo.commit("baseline")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("acc.txt", "0.89\n")
    repo.dvc("repro", "-q")
    if push in ("head", "both"):
        repo.dvc("push", "-q")
    head = repo.commit("feature: smaller model")
    return base, head


def drop_cache(repo: GitRepo) -> None:
    """What a CI runner starts with: no DVC cache (the work tree's files are still there)."""
    shutil.rmtree(repo.path / ".dvc" / "cache", ignore_errors=True)


def reason_lines(doc: dict, kind: str = "unreadable") -> list[str]:
    return [r["message"] for r in doc["reasons"] if r.get("kind") == kind]


def renderings(doc: dict) -> dict[str, str]:
    """Markdown, text and HTML of one result: every finding must be in each."""
    from mlci.report import html

    result = Result.from_dict(doc)
    return {
        "markdown": render.markdown(result),
        "text": terminal.text(result),
        "html": html.html(result),
    }


def test_remote_lacking_the_base_objects_fails_in_a_fresh_clone(dvc_repo, mlci, tmp_path):
    remote = tmp_path / "remote"
    remote.mkdir()
    # only the head's outputs were pushed: the base's metrics are on no machine but the author's
    cached_metrics_project(dvc_repo, str(remote), push="head")
    clone = GitRepo(tmp_path / "clone")
    sh(["git", "clone", "-q", str(dvc_repo.path), str(clone.path)], tmp_path)
    assert not (clone.path / "eval" / "metrics.json").exists()

    run = mlci(clone, "check", "--base", "origin/main", "--format", "json")
    doc = run.json()
    validate(doc)
    assert run.code == 1 and doc["verdict"] == "fail", doc["reasons"]
    [line] = reason_lines(doc)
    assert line.startswith(
        "cannot read eval/metrics.json at origin/main: dvc.lock records it (md5 "
    )
    assert f"not in the local DVC cache nor on DVC remote 'storage' ({remote})" in line
    # the head's value was pulled and reproduced; the row says it could not be compared
    rows = {m["name"]: m for m in doc["metrics"]}
    assert rows["eval/metrics.json:acc"]["status"] == "unreadable"
    assert rows["eval/metrics.json:acc"]["head"] == 0.89
    assert rows["eval/metrics.json:acc"]["outcome"] == "fail"
    for name, text in renderings(doc).items():
        assert "could not be read at origin/main" in text, name
        assert "eval/metrics.json" in text and "DVC remote" in text, name
        assert "No metrics found" not in text, name


def test_unreachable_remote_names_the_connection_failure(dvc_repo, mlci, tmp_path):
    port = closed_port()
    cached_metrics_project(dvc_repo, f"http://127.0.0.1:{port}/dvc-store")
    drop_cache(dvc_repo)
    run = mlci(dvc_repo, "check", "--no-repro", "--format", "json")
    doc = run.json()
    assert run.code == 1 and doc["verdict"] == "fail"
    [line] = reason_lines(doc)
    assert line.startswith("cannot read eval/metrics.json at main: dvc.lock records it")
    assert (
        f"DVC remote 'storage' (http://127.0.0.1:{port}/dvc-store) cannot be read: "
        f"connection to 127.0.0.1:{port} refused" in line
    )
    assert "does not exist" not in line
    text = run_text = mlci(dvc_repo, "check", "--no-repro").out
    assert text.startswith("❌ mlci: gate closed — 1 metrics file could not be read at main")
    assert f"connection to 127.0.0.1:{port} refused" in run_text


def test_unreachable_remote_under_mlci_ci_fails_the_pr(
    dvc_repo, github_fake, tmp_path, monkeypatch, mlci
):
    from tests.test_ci import Actions, comments

    port = closed_port()
    base, head = cached_metrics_project(
        dvc_repo, f"http://127.0.0.1:{port}/dvc-store", config="repro:\n  enabled: false\n" + RULES
    )
    drop_cache(dvc_repo)
    gh = Actions(dvc_repo, github_fake, tmp_path, monkeypatch, mlci)
    gh.pull_request(7, base, head)
    run = gh.run("ci")
    assert run.code == 1
    [comment] = comments(gh.fake)
    assert "### ❌ mlci: gate closed — 1 metrics file could not be read at main" in comment["body"]
    assert f"connection to 127.0.0.1:{port} refused" in comment["body"]
    [status] = gh.fake.statuses(head)
    assert status["state"] == "failure"
    summary = gh.summary.read_text()
    assert (
        f"connection to 127.0.0.1:{port} refused" in summary and "No metrics found" not in summary
    )


def test_s3_remote_without_its_plugin_is_unreadable_not_absent(dvc_repo, mlci):
    if importlib.util.find_spec("dvc_s3") is not None:
        pytest.skip("dvc-s3 is installed here; this case is about a runner without it")
    cached_metrics_project(dvc_repo, "s3://mlci-corpus-bucket/dvc-store")
    # the cache still holds the base's metrics: DVC refuses anyway, because it cannot build the remote
    run = mlci(dvc_repo, "check", "--no-repro", "--format", "json")
    doc = run.json()
    assert run.code == 1 and doc["verdict"] == "fail"
    [line] = reason_lines(doc)
    assert line == (
        "cannot read eval/metrics.json at main: DVC's s3 plugin is not installed, so DVC "
        "cannot open the s3 remote (add the s3 extra: the action's input `extras: s3`, or "
        "pip install 'mlci[s3]')"
    )
    md = mlci(dvc_repo, "check", "--no-repro", "--format", "markdown").out
    assert "### ❌ mlci: gate closed — 1 metrics file could not be read at main" in md
    assert "extras: s3" in md, md  # (backticks and brackets are escaped in Markdown)


def test_unreadable_follows_metrics_unreadable_warn(dvc_repo, mlci):
    if importlib.util.find_spec("dvc_s3") is not None:
        pytest.skip("dvc-s3 is installed here")
    cached_metrics_project(
        dvc_repo, "s3://mlci-corpus-bucket/dvc-store", config=RULES + "  unreadable: warn\n"
    )
    run = mlci(dvc_repo, "check", "--no-repro", "--format", "json")
    doc = run.json()
    assert run.code == 0 and doc["verdict"] == "warn"
    assert [r["severity"] for r in doc["reasons"] if r.get("kind") == "unreadable"] == ["warn"]


PLAIN_PIPELINE = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py, acc.txt]
    metrics:
      - eval/metrics.json:
          cache: false
"""


def committed_metrics_project(
    repo: GitRepo, base_text: str, head_text: str, config: str = RULES
) -> None:
    """Metrics committed to git (``cache: false``); the head is the work tree."""
    repo.write("train.py", TRAIN)
    repo.write("acc.txt", "0.90\n")
    repo.write("dvc.yaml", PLAIN_PIPELINE)
    repo.write("mlci.yaml", config)
    repo.write("eval/metrics.json", base_text)
    repo.commit("baseline")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("eval/metrics.json", head_text)


def test_parse_error_at_the_head_fails_a_gated_metric(dvc_repo, mlci):
    committed_metrics_project(dvc_repo, json.dumps({"acc": 0.9}), '{"acc": 0.91,')
    run = mlci(dvc_repo, "check", "--no-repro", "--format", "json")
    doc = run.json()
    assert run.code == 1 and doc["verdict"] == "fail"
    [line] = reason_lines(doc)
    assert line.startswith("cannot read eval/metrics.json in the work tree: ")
    assert "JSON" in line or "json" in line
    [row] = doc["metrics"]
    assert row["status"] == "unreadable" and row["base"] == 0.9 and row["outcome"] == "fail"
    text = mlci(dvc_repo, "check", "--no-repro").out
    assert text.startswith(
        "❌ mlci: gate closed — 1 metrics file could not be read in the work tree"
    )


def test_nothing_readable_is_never_a_green_no_metrics_found(dvc_repo, mlci):
    committed_metrics_project(dvc_repo, "{broken", "{still broken", config="")
    run = mlci(dvc_repo, "check", "--no-repro", "--format", "json")
    doc = run.json()
    assert doc["metrics"] == [] and doc["verdict"] == "warn"
    assert len(reason_lines(doc)) == 2  # one per revision, each with DVC's reason
    for name, text in renderings(doc).items():
        assert "No metrics found" not in text, name
        assert "could not be read at both revisions" in text, name
        assert "cannot read eval/metrics.json at main" in text, name
    assert "No metrics could be read" in renderings(doc)["markdown"]


def test_corrupt_dvc_lock_is_reported_in_every_rendering(dvc_repo, mlci):
    committed_metrics_project(dvc_repo, json.dumps({"acc": 0.9}), json.dumps({"acc": 0.9}))
    dvc_repo.write("dvc.lock", "schema: '2.0'\nstages: [broken\n")
    run = mlci(dvc_repo, "check", "--no-repro", "--format", "json")
    doc = run.json()
    assert run.code == 1 and doc["verdict"] == "fail"
    [line] = reason_lines(doc)
    assert line.startswith("DVC cannot read the pipeline in the work tree: ") and "dvc.lock" in line
    for name, text in renderings(doc).items():
        assert "DVC could not read the pipeline in the work tree" in text, name
        assert "dvc.lock" in text, name


# --- rules that gate nothing -------------------------------------------------------------

TYPO_RULES = """\
metrics:
  rules:
    - name: acc
      direction: higher
    - name: "eval/metrics.json:los"
      direction: lower
      max_regression: 0.01
"""


def test_a_rule_with_a_typo_is_a_warning_with_did_you_mean(dvc_repo, mlci):
    committed_metrics_project(
        dvc_repo,
        json.dumps({"acc": 0.9, "loss": 0.1}),
        json.dumps({"acc": 0.9, "loss": 0.5}),
        config=TYPO_RULES,
    )
    run = mlci(dvc_repo, "check", "--no-repro", "--format", "json")
    doc = run.json()
    validate(doc)
    # the loss got much worse, but the only rule about it has a typo: the gate must say so
    assert run.code == 0 and doc["verdict"] == "warn"
    [reason] = [r for r in doc["reasons"] if r.get("kind") == "unmatched"]
    assert reason["message"] == (
        "rule 'eval/metrics.json:los' matches no metric at main or in the work "
        "tree; did you mean 'eval/metrics.json:loss'?"
    )
    assert reason["file"] == "mlci.yaml" and reason["line"] == 5
    text = " ".join(mlci(dvc_repo, "check", "--no-repro").out.split())  # the terminal wraps lines
    assert text.startswith("⚠️ mlci: gate open with warnings — 1 rule matches no metric")
    assert "did you mean 'eval/metrics.json:loss'?" in text
    md = mlci(dvc_repo, "check", "--no-repro", "--format", "markdown").out
    assert (
        "did you mean &#39;eval/metrics.json:loss&#39;?" in md
        or "did you mean 'eval/metrics.json:loss'?" in md
    )

    doctor = mlci(dvc_repo, "doctor")
    assert (
        "! metric rules " in doctor.out
        and "line 5: rule 'eval/metrics.json:los' matches no metric at "
        "main or in the work tree; did you mean 'eval/metrics.json:loss'?"
        in doctor.out
    ), doctor.out


def test_doctor_is_quiet_about_rules_that_match(dvc_repo, mlci):
    committed_metrics_project(dvc_repo, json.dumps({"acc": 0.9}), json.dumps({"acc": 0.9}))
    doctor = mlci(dvc_repo, "doctor")
    assert "✓ metric rules" in doctor.out and "the rule matches a metric" in doctor.out


def test_first_check_after_init_says_why_there_is_nothing_to_compare(dvc_repo, mlci):
    dvc_repo.write("train.py", TRAIN)
    dvc_repo.write("acc.txt", "0.90\n")
    dvc_repo.write("dvc.yaml", PLAIN_PIPELINE)
    dvc_repo.commit("a pipeline, never reproduced")
    assert mlci(dvc_repo, "init", "--no-workflow").code == 0
    run = mlci(dvc_repo, "check", "--no-repro")
    first = run.out.splitlines()[0]
    assert first == (
        "⚠️ mlci: nothing to compare yet — 1 declared metrics file not produced: run dvc repro first"
    )
    assert (
        "eval/metrics.json is declared in dvc.yaml but was not produced in the work tree" in run.out
    )
    md = mlci(dvc_repo, "check", "--no-repro", "--format", "markdown").out
    assert "### ⚠️ mlci: nothing to compare yet" in md


# --- the small fixes of the trial -----------------------------------------------------------


def test_repro_alone_claims_no_comparison(dvc_repo, mlci):
    committed_metrics_project(
        dvc_repo, json.dumps({"acc": 0.9, "loss": 0.1}), json.dumps({"acc": 0.9, "loss": 0.1})
    )
    md = mlci(dvc_repo, "repro", "--format", "markdown").out
    assert "No metrics found" not in md and "compared from" not in md
    assert "(reproduced; nothing compared)" in md and "→" not in md.splitlines()[-1]
    assert "Pipeline: 1 stage —" in md
    footer = mlci(dvc_repo, "repro").out.splitlines()[-1]
    assert footer.startswith("work tree ") and "(reproduced; nothing compared)" in footer
    assert "→" not in footer


def test_a_dirty_work_tree_is_labelled_as_the_work_tree(dvc_repo, mlci):
    committed_metrics_project(dvc_repo, json.dumps({"acc": 0.9}), json.dumps({"acc": 0.95}))
    md = mlci(dvc_repo, "check", "--no-repro", "--format", "markdown").out
    assert "| | metric | main | work tree | change | rule |" in md
    footer = md.splitlines()[-1]
    assert "→ work tree · ran in" in footer  # no commit named for uncommitted values
    doc = mlci(dvc_repo, "check", "--no-repro", "--format", "json").json()
    assert doc["context"]["head_uncommitted"] is True
    # committed, the same tree is that commit, named by its branch
    dvc_repo.commit("better")
    md = mlci(dvc_repo, "check", "--no-repro", "--format", "markdown").out
    assert "| | metric | main | feature | change | rule |" in md


def test_legend_warn_only_label_and_html_counts(dvc_repo, mlci, tmp_path):
    rules = (
        "metrics:\n  rules:\n    - name: acc\n      direction: higher\n      severity: warn\n"
        "    - name: loss\n      direction: lower\n"
    )
    committed_metrics_project(
        dvc_repo,
        json.dumps({"acc": 0.9, "loss": 0.2, "n": 3}),
        json.dumps({"acc": 0.8, "loss": 0.1, "n": 3}),
        config=rules,
    )
    page = tmp_path / "report.html"
    md = mlci(dvc_repo, "check", "--no-repro", "--format", "markdown", "--html", str(page)).out
    assert (
        "| ⚠️ | `eval/metrics.json:acc` | 0.9 | 0.8 | ▼ −0.1 (−11.1 %) | higher, no regression (warn only): "
        in md
    )
    assert (
        "<sub>▲ better, ▼ worse (by the rule's direction; the sign is the value's change)</sub>"
        in md
    )
    text = mlci(dvc_repo, "check", "--no-repro").out
    assert "warn only: worse by 0.1" in text and "▲ better, ▼ worse" in text
    html = page.read_text()
    assert "<h2>Metrics: 3 metrics — 1 warned, 1 improved, 1 unchanged</h2>" in html
    assert html.count('<tr class="') - html.count('<tr class="confusion') >= 3
    assert "▲ better, ▼ worse" in html


def test_text_width_follows_the_terminal_it_is_given():
    from mlci.model.result import Context, MetricDelta, Revision

    result = Result(
        context=Context(base=Revision("main", None), head=Revision("feature", None)),
        verdict="pass",
        metrics=(
            MetricDelta("eval/metrics.json:" + "x" * 70, 1.0, 2.0, 1.0, 100.0, "changed", "info"),
        ),
    )
    narrow = render.for_stdout(result, "text", width=60)
    wide = render.for_stdout(result, "text", width=160)
    assert max(len(line) for line in narrow.splitlines()) <= 60
    assert max(len(line) for line in wide.splitlines()) > 100


def test_a_command_name_never_puts_entities_inside_a_code_span():
    from mlci.forge.github import prcommands as commands
    from mlci.model import fmt

    heading = f"### mlci: {fmt.md_code('/mlci ' + 'over_ride`x', 50)}"
    assert "&#96;" not in heading.split("<code>")[0]
    assert "`/mlci over" not in heading  # not a backtick span holding escaped text
    assert commands is not None


def test_network_failures_are_said_in_words():
    """What was tried and why it failed; a DNS failure cannot be produced offline, so it is built."""
    from mlci.adapters import dvc

    dns = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert dvc.connection_text(dns, "storage.example.com", 443) == (
        "DNS lookup failed for host 'storage.example.com' (Name or service not known)"
    )
    wrapped = RuntimeError("Cannot connect to host")
    wrapped.__cause__ = ConnectionRefusedError(111, "Connection refused")
    assert dvc.connection_text(wrapped, "127.0.0.1", 9) == "connection to 127.0.0.1:9 refused"
    assert dvc.connection_text(ValueError("not a network error")) is None


PLOT_TRAIN = """\
import json, os
os.makedirs("eval", exist_ok=True)
acc = float(open("acc.txt").read())
json.dump({"acc": acc}, open("eval/metrics.json", "w"))
json.dump([{"step": i, "loss": acc / (i + 1)} for i in range(5)], open("eval/loss.json", "w"))
"""

PLOT_PIPELINE = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py, acc.txt]
    metrics:
      - eval/metrics.json:
          cache: false
    plots:
      - eval/loss.json:
          x: step
          y: loss
"""


def test_an_unreadable_base_plot_is_a_warning_not_a_new_plot(dvc_repo, mlci):
    dvc_repo.write("train.py", PLOT_TRAIN)
    dvc_repo.write("acc.txt", "0.90\n")
    dvc_repo.write("dvc.yaml", PLOT_PIPELINE)
    dvc_repo.dvc("repro", "-q")
    dvc_repo.commit("baseline")
    dvc_repo.git("checkout", "-q", "-b", "feature")
    dvc_repo.write("acc.txt", "0.80\n")
    dvc_repo.dvc("repro", "-q")
    dvc_repo.commit("feature")
    drop_cache(dvc_repo)  # the work tree keeps the head's plot; the base's is in no cache
    doc = mlci(dvc_repo, "check", "--no-repro", "--format", "json").json()
    assert doc["verdict"] == "warn"
    [line] = [r["message"] for r in doc["reasons"] if r["section"] == "plots"]
    assert line.startswith("cannot read plot eval/loss.json at main: dvc.lock records it (md5 ")
    assert "no DVC remote is configured to fetch it from" in line
    for name, text in renderings(doc).items():
        flat = " ".join(text.split())
        assert "1 plot file could not be read at main" in flat, name
        assert "cannot read plot eval/loss.json at main" in flat, name
