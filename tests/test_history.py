"""Results history in git notes: record on main, read on a PR, share through a bare origin."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.conftest import GitRepo, sh
from tests.ghfake.payloads import event_payload
from tests.test_deploy import empty_db, project  # noqa: F401 - fixtures of the deploy tests

RULES = """\
metrics:
  files: [eval/metrics.json]
  rules:
    - name: acc
      direction: higher
"""


def metrics_repo(repo: GitRepo, metrics: dict, config: str) -> str:
    """A repository without DVC: metrics.files read from git, so each check is quick."""
    repo.write("eval/metrics.json", metrics)
    repo.write("mlci.yaml", config)
    return repo.commit("baseline")


def _record_main(repo: GitRepo, mlci, values: list[float]) -> list[str]:
    """One main commit per value, each checked and recorded as the CI push job would."""
    shas = []
    for value in values:
        repo.write("eval/metrics.json", {"acc": value})
        shas.append(repo.commit(f"acc {value}"))
        run = mlci(repo, "check", "--no-repro", "--record", "--base", "HEAD")
        assert run.code == 0, run.err
        assert f"recorded the result as a git note on {shas[-1][:7]}" in run.err
    return shas


def test_recorded_values_are_each_metrics_history_oldest_first(git_repo, mlci):
    metrics_repo(git_repo, {"acc": 0.9}, config=RULES)
    shas = _record_main(git_repo, mlci, [0.90, 0.91, 0.89])
    git_repo.git("checkout", "-q", "-b", "feature")
    git_repo.write("eval/metrics.json", {"acc": 0.95})
    git_repo.commit("better")
    run = mlci(git_repo, "check", "--no-repro", "--format", "json", "--base", "main")
    assert run.code == 0, run.err
    (acc,) = [m for m in run.json()["metrics"] if m["name"] == "eval/metrics.json:acc"]
    assert acc["history"] == [
        {"sha": shas[0], "value": 0.90},
        {"sha": shas[1], "value": 0.91},
        {"sha": shas[2], "value": 0.89},
    ]
    note = json.loads(git_repo.git("notes", "--ref=mlci", "show", shas[1]))
    assert note["context"]["head"]["sha"] == shas[1] and "plots" not in note


def test_a_clone_without_notes_has_no_history_field(git_repo, mlci):
    metrics_repo(git_repo, {"acc": 0.9}, config=RULES)
    git_repo.write("eval/metrics.json", {"acc": 0.8})
    run = mlci(git_repo, "check", "--no-repro", "--format", "json")
    assert run.code == 1
    assert all("history" not in m for m in run.json()["metrics"])
    assert run.json()["metrics"]


def test_record_refuses_a_dirty_work_tree(git_repo, mlci):
    metrics_repo(git_repo, {"acc": 0.9}, config=RULES)
    git_repo.write("eval/metrics.json", {"acc": 0.95})
    run = mlci(git_repo, "check", "--no-repro", "--record")
    assert run.code == 3
    assert "not recorded: the work tree has uncommitted changes" in run.err
    assert sh(["git", "notes", "--ref=mlci", "list"], git_repo.path, check=False) == ""


def test_a_refused_record_keeps_a_closed_gate_at_exit_1(git_repo, mlci):
    """The refusal is said, but the verdict is what a script acts on: a failing gate stays 1."""
    metrics_repo(git_repo, {"acc": 0.9}, config=RULES + "      max_regression: 0.01\n")
    git_repo.write("eval/metrics.json", {"acc": 0.5})
    run = mlci(git_repo, "check", "--no-repro", "--record")
    assert run.code == 1, run.err
    assert "not recorded: the work tree has uncommitted changes" in run.err
    assert sh(["git", "notes", "--ref=mlci", "list"], git_repo.path, check=False) == ""


CACHED_STAGE = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py]
    metrics:
      - eval/metrics.json
"""
WRITE_ACC = """\
import json, pathlib
pathlib.Path("eval").mkdir(exist_ok=True)
pathlib.Path("eval/metrics.json").write_text(json.dumps({"acc": %s}))
"""


def test_record_refuses_results_that_are_not_the_commits(dvc_repo, mlci):
    """A note says "this commit gives these values": refused (exit 3, the gate passed) when
    an output DVC tracks was changed outside git, or when reproducing changed dvc.lock."""
    repo = dvc_repo
    repo.write("dvc.yaml", CACHED_STAGE)  # the metrics file is a cached, git-ignored output
    repo.write("train.py", WRITE_ACC % "0.9")
    repo.write("mlci.yaml", "metrics:\n  rules:\n    - name: acc\n      direction: higher\n")
    repo.dvc("repro", "-q")
    repo.commit("baseline")
    repo.write("eval/metrics.json", {"acc": 0.97})  # by hand: git sees no change
    assert repo.git("status", "--porcelain") == ""
    run = mlci(repo, "check", "--no-repro", "--record", "--base", "HEAD")
    assert run.code == 3, run.err
    assert "not recorded: the results were not reproduced and dvc.lock is not known" in run.err
    repo.write("train.py", WRITE_ACC % "0.95")
    repo.commit("a dep changed, dvc.lock not updated")
    run = mlci(repo, "check", "--record", "--base", "HEAD~1")
    assert run.code == 3, run.err
    assert "not recorded: reproducing changed dvc.lock: the results are not what commit" in run.err
    assert sh(["git", "notes", "--ref=mlci", "list"], repo.path, check=False) == ""
    repo.commit("the reproduced dvc.lock and outputs")  # now the tree is the commit's
    run = mlci(repo, "check", "--record", "--base", "HEAD~2")
    assert run.code == 0, run.err
    assert "recorded the result as a git note on" in run.err


# --- sharing the history through origin --------------------------------------------------

REPO = "octo-org/ml-repo"


def _origin_and_clone(tmp_path, name: str = "a") -> tuple[Path, GitRepo]:
    origin = tmp_path / "origin.git"
    if not origin.exists():
        sh(["git", "init", "-q", "--bare", "-b", "main", str(origin)], tmp_path)
    clone = tmp_path / name
    sh(["git", "clone", "-q", str(origin), str(clone)], tmp_path)
    return origin, GitRepo(clone)


def _origin_notes(origin: Path) -> dict[str, list[dict]]:
    """sha -> the results noted on it at origin (one per line of the note)."""
    listed = sh(["git", "notes", "--ref=mlci", "list"], origin, check=False).split()
    out = {}
    for _note, sha in zip(listed[::2], listed[1::2], strict=True):
        text = sh(["git", "notes", "--ref=mlci", "show", sha], origin)
        out[sha] = [json.loads(line) for line in text.splitlines() if line.strip()]
    return out


def _push_env(
    monkeypatch, tmp_path, before: str, after: str, *, default_branch: str = "main", fork=False
):
    payload = event_payload("push", repo=REPO)
    payload.update({"before": before, "after": after, "ref": "refs/heads/main"})
    payload["repository"]["default_branch"] = default_branch
    payload["repository"]["fork"] = fork
    event = tmp_path / f"push-{after[:7]}.json"
    event.write_text(json.dumps(payload))
    for name, value in {
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_SHA": after,
        "GITHUB_REF": "refs/heads/main",
        "RUNNER_TEMP": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)


def _main_commit(repo: GitRepo, acc: float) -> str:
    repo.write("eval/metrics.json", {"acc": acc})
    sha = repo.commit(f"acc {acc}")
    repo.git("push", "-q", "origin", "HEAD:main")
    return sha


def test_ci_on_a_push_to_main_records_and_pushes_the_note(tmp_path, mlci, monkeypatch):
    origin, repo = _origin_and_clone(tmp_path)
    repo.write("mlci.yaml", RULES)
    before = _main_commit(repo, 0.90)
    after = _main_commit(repo, 0.91)
    _push_env(monkeypatch, tmp_path, before, after)
    run = mlci(repo, "ci", "--no-publish", "--format", "json")
    assert run.code == 0, run.err
    assert f"recorded the result on {after[:7]} and pushed refs/notes/mlci" in run.err
    (noted,) = _origin_notes(origin)[after]
    assert [m["head"] for m in noted["metrics"]] == [0.91]


def test_ci_records_nothing_off_the_default_branch_or_when_switched_off(
    tmp_path, mlci, monkeypatch
):
    origin, repo = _origin_and_clone(tmp_path)
    repo.write("mlci.yaml", RULES)
    before = _main_commit(repo, 0.90)
    after = _main_commit(repo, 0.91)
    _push_env(monkeypatch, tmp_path, before, after, default_branch="release")
    assert mlci(repo, "ci", "--no-publish").code == 0
    repo.write("mlci.yaml", RULES + "history:\n  record: false\n")
    after = _main_commit(repo, 0.92)
    _push_env(monkeypatch, tmp_path, before, after)
    assert mlci(repo, "ci", "--no-publish").code == 0
    assert _origin_notes(origin) == {}


def test_a_refused_notes_push_is_said_and_the_job_keeps_its_verdict(tmp_path, mlci, monkeypatch):
    """A token without contents: write (here: origin refuses every ref update): the note is
    kept locally and the failed push said; a passing gate stays a passing job."""
    origin, repo = _origin_and_clone(tmp_path)
    repo.write("mlci.yaml", RULES)
    before = _main_commit(repo, 0.90)
    after = _main_commit(repo, 0.91)
    hook = origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'permission denied to github-actions[bot]' >&2\nexit 1\n")
    hook.chmod(0o755)
    _push_env(monkeypatch, tmp_path, before, after)
    run = mlci(repo, "ci", "--no-publish")
    assert run.code == 0, run.err
    assert f"recorded on {after[:7]} but could not push refs/notes/mlci" in run.err
    assert _origin_notes(origin) == {}
    assert json.loads(repo.git("notes", "--ref=mlci", "show", after))["verdict"] == "pass"


def test_a_push_to_a_forks_default_branch_records_nothing(tmp_path, mlci, monkeypatch):
    origin, repo = _origin_and_clone(tmp_path)
    repo.write("mlci.yaml", RULES)
    before = _main_commit(repo, 0.90)
    after = _main_commit(repo, 0.91)
    _push_env(monkeypatch, tmp_path, before, after, fork=True)
    run = mlci(repo, "ci", "--no-publish")
    assert run.code == 0, run.err
    assert "recorded" not in run.err
    assert _origin_notes(origin) == {} and repo.git("for-each-ref", "refs/notes") == ""
    _push_env(monkeypatch, tmp_path, before, after)  # the same push in the repository itself
    assert mlci(repo, "ci", "--no-publish").code == 0
    assert set(_origin_notes(origin)) == {after}


def test_a_second_run_on_the_same_commit_adds_its_result_to_the_note(tmp_path, mlci, monkeypatch):
    """The push job, then the deploy job (or a re-run) record the same commit one after the
    other: the note keeps both results, and the history still has one value per commit."""
    origin, repo = _origin_and_clone(tmp_path)
    repo.write("mlci.yaml", RULES)
    before = _main_commit(repo, 0.90)
    after = _main_commit(repo, 0.91)
    assert mlci(repo, "check", "--record", "--base", before).code == 0
    _push_env(monkeypatch, tmp_path, before, after)
    assert mlci(repo, "ci", "--no-publish").code == 0
    assert sorted(r["context"]["event"] for r in _origin_notes(origin)[after]) == ["local", "push"]
    assert mlci(repo, "ci", "--no-publish").code == 0  # a re-run, the same result: kept once
    assert len(_origin_notes(origin)[after]) == 2
    for name in ("GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH", "GITHUB_SHA", "GITHUB_REF"):
        monkeypatch.delenv(name)
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("eval/metrics.json", {"acc": 0.92})
    repo.commit("feature")
    (acc,) = mlci(repo, "check", "--format", "json", "--base", "main").json()["metrics"]
    assert acc["history"] == [{"sha": after, "value": 0.91}] and "nondeterministic" not in acc


def test_two_recorders_interleaved_lose_nothing(tmp_path, mlci, monkeypatch):
    """B computes its result, A records and pushes, then B records: B's first push is
    rejected (its notes lack A's), so it fetches, merges and pushes again."""
    from mlci.commands.common import record_and_push
    from mlci.model.result import Result

    origin, a = _origin_and_clone(tmp_path, "a")
    a.write("mlci.yaml", RULES)
    first = _main_commit(a, 0.90)
    second = _main_commit(a, 0.91)
    _, b = _origin_and_clone(tmp_path, "b")
    b.git("checkout", "-q", first)
    out = tmp_path / "b-result.json"
    assert mlci(b, "check", "--base", first, "--output", str(out)).code == 0
    _push_env(monkeypatch, tmp_path, first, second)
    run = mlci(a, "ci", "--no-publish")
    assert run.code == 0 and f"recorded the result on {second[:7]}" in run.err
    said: list[str] = []
    assert record_and_push(
        Result.from_json(out.read_text()), b.path, worktree=True, info=said.append
    )
    assert said == [
        f"mlci: recorded the result on {first[:7]} and pushed refs/notes/mlci to origin "
        "(merged another run's notes, 2 attempts)"
    ]
    noted = _origin_notes(origin)
    assert set(noted) == {first, second}
    assert [m["head"] for m in noted[first][0]["metrics"]] == [0.90]
    assert [m["head"] for m in noted[second][0]["metrics"]] == [0.91]


def test_concurrent_pushes_of_notes_keep_every_note(tmp_path, mlci):
    """Real processes pushing at the same moment: every recorder's note reaches origin."""
    import subprocess
    import sys

    origin, seed = _origin_and_clone(tmp_path, "seed")
    seed.write("mlci.yaml", RULES)
    shas = [_main_commit(seed, 0.90 + i / 100) for i in range(4)]
    clones = []
    for i, sha in enumerate(shas):
        _, clone = _origin_and_clone(tmp_path, f"r{i}")
        clone.git("checkout", "-q", sha)
        run = mlci(clone, "check", "--record", "--base", sha)
        assert run.code == 0, run.err
        clones.append(clone)
    code = "from mlci.adapters import notes; import sys; print(notes.push(sys.argv[1]))"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(c.path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for c in clones
    ]
    attempts = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        attempts.append(int(out))
    assert set(_origin_notes(origin)) == set(shas)
    # each clone's notes began on their own: only the first push can be a fast-forward, so
    # every other recorder went through fetch, merge and retry
    assert sorted(attempts)[0] >= 1 and all(n >= 2 for n in sorted(attempts)[1:])


def test_one_commit_recorded_by_two_runs_keeps_both_results(tmp_path, mlci):
    """Two runs noted the same commit with different values: the notes merge keeps both
    lines. The commit holds one value, so the other line is left out of the history (and
    counted), not taken for a nondeterministic re-run: a note is data anyone with push
    access to refs/notes/mlci can write."""
    from mlci.adapters import notes

    origin, a = _origin_and_clone(tmp_path, "a")
    a.write("mlci.yaml", RULES)
    sha = _main_commit(a, 0.90)
    _, b = _origin_and_clone(tmp_path, "b")
    assert mlci(a, "check", "--record", "--base", sha).code == 0
    assert notes.push(a.path) == 1
    rerun = json.loads(a.git("notes", "--ref=mlci", "show", sha))
    rerun["metrics"][0]["head"] = 0.93
    notes.write(b.path, sha, json.dumps(rerun))
    assert notes.push(b.path) == 2  # rejected once: fetched, merged, pushed
    noted = sorted(r["metrics"][0]["head"] for r in _origin_notes(origin)[sha])
    assert noted == [0.9, 0.93]
    b.git("checkout", "-q", "-b", "feature")
    b.write("README.md", "docs only")
    b.commit("docs")
    doc = mlci(b, "check", "--format", "json", "--base", "main").json()
    (acc,) = doc["metrics"]
    assert "nondeterministic" not in acc
    assert acc["history"] == [{"sha": sha, "value": 0.9}]
    assert (
        "the results history: 1 recorded value disagrees with what their commits hold and was "
        "left out"
    ) in doc["notes"]


# --- which base ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["tip", "merge-base"])
def test_base_mode_and_how_far_main_moved(git_repo, mlci, mode):
    start = metrics_repo(git_repo, {"acc": 0.90}, RULES + f"base_mode: {mode}\n")
    git_repo.git("checkout", "-q", "-b", "feature")
    git_repo.write("notes.txt", "a change that does not touch the model")
    git_repo.commit("feature")
    git_repo.git("checkout", "-q", "main")
    for acc in (0.95, 0.96):
        git_repo.write("eval/metrics.json", {"acc": acc})
        tip = git_repo.commit(f"main {acc}")
    git_repo.git("checkout", "-q", "feature")
    run = mlci(git_repo, "check", "--format", "json", "--base", "main")
    doc = run.json()
    (acc,) = doc["metrics"]
    if mode == "tip":  # main's improvement counts against the branch
        assert run.code == 1 and acc["base"] == 0.96 and doc["context"]["base"]["sha"] == tip
        assert f"main moved 2 commits since this branch (merge-base {start[:7]})" in doc["notes"][0]
    else:
        assert run.code == 0 and acc["base"] == 0.90 and doc["context"]["base"]["sha"] == start
        assert doc["notes"][0].startswith(
            f"main moved 2 commits since this branch: compared with the merge-base {start[:7]}"
        )


# --- noise-aware limits ---------------------------------------------------------------------

AUTO_RULES = """\
metrics:
  files: [eval/metrics.json]
  rules:
    - name: acc
      direction: higher
      max_regression: auto
"""
# main's recorded accuracy wobbles by about +-0.002 from run to run
NOISY_MAIN = [0.903, 0.902, 0.899, 0.901, 0.898, 0.902, 0.900, 0.901]


def model_allowed(runs: list[float], base: float, alpha: float = 0.007) -> float:
    """The allowance docs/noise.md states, computed here independently of mlci (scipy's t):
    no level change in these series, so the spread is the runs' sample standard deviation
    (n - 1 degrees of freedom), the centre the mean of the last five runs."""
    from scipy import stats

    n = len(runs)
    mean = sum(runs) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in runs) / (n - 1))
    recent = runs[-5:]
    centre = sum(recent) / len(recent)
    width = stats.t.ppf(1 - alpha, n - 1) * sd * math.sqrt(1 + 1 / len(recent))
    return max(0.0, width + base - centre)


def basis(runs: int, sd: float, *more: str, branch: str = "main", pct: str = "0.7 %") -> str:
    return "; ".join([f"{pct} bound from {runs} runs on {branch} (sd {sd:.2g})", *more])


def _pr_with(repo: GitRepo, mlci, acc: float):
    repo.git("checkout", "-q", "-B", "feature", "main")
    repo.write("eval/metrics.json", {"acc": acc})
    repo.commit(f"pr {acc}")
    return mlci(repo, "check", "--format", "json", "--base", "main")


def test_auto_limit_lets_noise_through_and_stops_a_real_drop(git_repo, mlci):
    metrics_repo(git_repo, {"acc": 0.9}, AUTO_RULES)
    _record_main(git_repo, mlci, NOISY_MAIN)
    inside = _pr_with(git_repo, mlci, 0.898)  # 0.003 below main's last value: within its noise
    assert inside.code == 0, inside.out
    (acc,) = inside.json()["metrics"]
    assert acc["outcome"] == "pass" and acc["status"] == "regressed"
    assert len(acc["history"]) == len(NOISY_MAIN)
    resolved = acc["rule"]["resolved"]["max_regression"]
    assert resolved["allowed"] == pytest.approx(model_allowed(NOISY_MAIN, NOISY_MAIN[-1]))
    assert resolved["basis"].startswith(f"0.7 % bound from {len(NOISY_MAIN)} runs on main (sd ")
    assert 0.003 < resolved["allowed"] < 0.02
    outside = _pr_with(git_repo, mlci, 0.85)
    assert outside.code == 1
    (acc,) = outside.json()["metrics"]
    assert acc["outcome"] == "fail"
    assert f"(0.7 % bound from {len(NOISY_MAIN)} runs on main (sd " in acc["message"]
    text = " ".join(mlci(git_repo, "check", "--base", "main").out.replace("│", " ").split())
    assert f"(0.7 % bound from {len(NOISY_MAIN)} runs on main (sd " in text


def test_depth_first_parent_and_noise_k_are_honoured(git_repo, mlci):
    """history.depth counts main's first-parent commits (a merged branch's own recorded
    commits are not main's history), and metrics.noise_k sets the false-alarm rate (the
    normal tail beyond k sigmas: 2.3 % for 2)."""
    config = AUTO_RULES.replace("metrics:\n", "metrics:\n  noise_k: 2\n") + "history:\n"
    metrics_repo(git_repo, {"acc": 0.9}, config + "  depth: 10\n")
    shas = _record_main(git_repo, mlci, NOISY_MAIN[:4])
    git_repo.git("checkout", "-q", "-b", "side")
    side = _record_main(git_repo, mlci, [0.5])  # recorded, but reached only through a merge
    git_repo.git("checkout", "-q", "main")
    git_repo.git("merge", "-q", "--no-ff", "-m", "merge side", "side")
    git_repo.write("eval/metrics.json", {"acc": 0.9})
    git_repo.commit("main again")
    shas += _record_main(git_repo, mlci, NOISY_MAIN[4:])
    run = _pr_with(git_repo, mlci, 0.9)
    (acc,) = run.json()["metrics"]
    assert [h["sha"] for h in acc["history"]] == shas and side[0] not in str(acc["history"])
    basis = acc["rule"]["resolved"]["max_regression"]["basis"]
    assert basis.startswith(f"2.3 % bound from {len(shas)} runs on main (sd "), basis
    # six commits deep: four recorded, then the two unrecorded ones (the merge and the
    # commit after it) count towards the depth too: too few values, the rule falls back
    git_repo.write("mlci.yaml", config + "  depth: 6\n")
    (acc,) = mlci(git_repo, "check", "--format", "json", "--base", "main").json()["metrics"]
    assert [h["sha"] for h in acc["history"]] == shas[-4:]
    basis = acc["rule"]["resolved"]["max_regression"]["basis"]
    assert basis.startswith("4 runs on main, 5 needed"), basis


def test_auto_pct_limit_on_a_base_of_zero_is_not_a_blank_cheque(git_repo, mlci):
    """A percentage of a base of 0 is infinite whatever the change: the auto limit is then
    the recorded noise in the metric's unit, so a real worsening still fails."""
    rules = "metrics:\n  files: [eval/metrics.json]\n  rules:\n    - name: drift\n"
    metrics_repo(
        git_repo, {"drift": 0.0}, rules + "      direction: lower\n      max_regression_pct: auto\n"
    )
    for i, drift in enumerate([0.001, 0.0, 0.003, 0.001, 0.002, 0.0, 0.001, 0.0]):
        git_repo.write("eval/metrics.json", {"drift": drift})
        git_repo.commit(f"main {i}")
        assert mlci(git_repo, "check", "--no-repro", "--record", "--base", "HEAD").code in (0, 1)
    for value, code in ((0.002, 0), (0.5, 1)):
        git_repo.git("checkout", "-q", "-B", "feature", "main")
        git_repo.write("eval/metrics.json", {"drift": value})
        git_repo.commit(f"pr {value}")
        run = mlci(git_repo, "check", "--format", "json", "--base", "main")
        assert run.code == code, (value, run.out)
    (drift,) = run.json()["metrics"]
    assert "in the metric's unit, the base being 0" in drift["message"]


LOCK = """\
schema: '2.0'
stages:
  train:
    cmd: python train.py
    params:
      params.yaml:
        seed: {seed}
    outs:
    - path: eval/metrics.json
      hash: md5
      md5: {seed:032d}
"""


def test_values_carried_forward_by_commits_that_did_not_rerun_are_not_noise(git_repo, mlci):
    """Between main's training runs, docs-only commits record the same value from the same
    stage inputs (dvc.lock unchanged: DVC did not re-run it). They are not samples of the
    noise: counted, most changes would be 0 and auto would allow nothing."""
    metrics_repo(git_repo, {"acc": 0.9}, AUTO_RULES)
    for i, acc in enumerate(NOISY_MAIN):
        git_repo.write("dvc.lock", LOCK.format(seed=i))
        _record_main(git_repo, mlci, [acc])
        git_repo.write(f"docs/{i}.md", "prose")
        git_repo.commit(f"docs {i}")
        assert mlci(git_repo, "check", "--no-repro", "--record", "--base", "HEAD").code == 0
    run = _pr_with(git_repo, mlci, 0.899)  # 0.002 below main's last run: inside its noise
    (acc,) = run.json()["metrics"]
    assert len(acc["history"]) == 2 * len(NOISY_MAIN)
    resolved = acc["rule"]["resolved"]["max_regression"]
    assert resolved["allowed"] == pytest.approx(model_allowed(NOISY_MAIN, NOISY_MAIN[-1]))
    assert resolved["basis"].startswith(f"0.7 % bound from {len(NOISY_MAIN)} runs on main (sd ")
    assert resolved["basis"].endswith(f"; {len(NOISY_MAIN)} commits did not re-run its stage")
    assert run.code == 0 and acc["outcome"] == "pass"


def test_auto_limit_with_too_short_a_history_falls_back_and_says_so(git_repo, mlci):
    metrics_repo(
        git_repo,
        {"acc": 0.9},
        AUTO_RULES.replace("auto\n", "auto\n      max_regression_fallback: 0.005\n"),
    )
    _record_main(git_repo, mlci, NOISY_MAIN[:3])
    run = _pr_with(git_repo, mlci, 0.897)  # 0.002 worse than main: within the fallback
    assert run.code == 0, run.out
    run = _pr_with(git_repo, mlci, 0.89)
    assert run.code == 1
    (acc,) = run.json()["metrics"]
    assert "3 runs on main, 5 needed; max_regression_fallback" in acc["message"]


def test_auto_limit_without_any_history_allows_no_regression(git_repo, mlci):
    metrics_repo(git_repo, {"acc": 0.9}, AUTO_RULES)
    run = _pr_with(git_repo, mlci, 0.8999)
    assert run.code == 1
    (acc,) = run.json()["metrics"]
    assert "no recorded history; no regression allowed" in acc["message"]


# --- trends in every report -------------------------------------------------------------------


def test_reports_show_the_trend_of_each_gated_metric(git_repo, mlci, tmp_path):
    from mlci.report.trend import BARS

    metrics_repo(git_repo, {"acc": 0.9}, AUTO_RULES)
    shas = _record_main(git_repo, mlci, NOISY_MAIN)
    _pr_with(git_repo, mlci, 0.85)
    page = tmp_path / "report.html"
    run = mlci(git_repo, "check", "--base", "main", "--format", "markdown", "--html", str(page))
    assert run.code == 1
    header, rule, row = [line for line in run.out.splitlines() if line.startswith("|")][:3]
    assert header.split("|")[6].strip() == "trend"
    spark = row.split("|")[6].strip()
    # eight recorded values on their own scale, then the head's, far below them: the bottom bar
    assert len(spark) == len(NOISY_MAIN) + 2 and spark.endswith("→" + BARS[0])
    assert set(spark[:-2]) <= set(BARS) and len(set(spark[:-2])) > 2
    chart = run.out.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert chart.startswith("xychart-beta\n")
    assert f'"{shas[0][:7]}"' in chart and chart.rstrip().endswith("0.85]")
    text = mlci(git_repo, "check", "--base", "main").out
    assert spark in text and "trend: the values recorded on main" in text
    html = page.read_text()
    assert html.count('data-plot="history-') == 1 and "History: 1 metric recorded on main" in html


def test_a_warning_metric_gets_its_chart_and_a_passing_one_only_its_sparkline(git_repo, mlci):
    rules = AUTO_RULES + "      severity: warn\n    - name: f1\n      direction: higher\n"
    metrics_repo(git_repo, {"acc": 0.9, "f1": 0.8}, rules)
    for i, acc in enumerate(NOISY_MAIN[:5]):
        git_repo.write("eval/metrics.json", {"acc": acc, "f1": 0.8})
        git_repo.commit(f"main {i}")
        assert mlci(git_repo, "check", "--no-repro", "--record", "--base", "HEAD").code in (0, 1)
    git_repo.git("checkout", "-q", "-b", "feature")
    git_repo.write("eval/metrics.json", {"acc": 0.85, "f1": 0.8})
    git_repo.commit("worse acc")
    run = mlci(git_repo, "check", "--base", "main", "--format", "markdown")
    assert run.code == 0 and "gate open with warnings" in run.out
    [chart] = run.out.split("```mermaid\n")[1:]
    assert 'title "eval/metrics.json:acc: main history"' in chart
    f1 = next(line for line in run.out.splitlines() if "`eval/metrics.json:f1`" in line)
    assert "▄▄▄▄▄→▄" in f1  # a flat history, the head on it


def test_without_history_the_reports_have_no_trend_column(git_repo, mlci):
    metrics_repo(git_repo, {"acc": 0.9}, AUTO_RULES)
    run = _pr_with(git_repo, mlci, 0.85)
    md = mlci(git_repo, "check", "--base", "main", "--format", "markdown").out
    assert run.code == 1 and "trend" not in md and "mermaid" not in md


# --- nondeterminism, from the history for free ----------------------------------------------

NOISY_STAGE = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py]
    params: [train.lr]
    metrics:
      - eval/metrics.json:
          cache: false
"""
# the stage reads a file it does not declare: its result changes while dvc.lock's inputs do not
TRAIN = """\
import json, pathlib
seed = pathlib.Path("seed.txt").read_text().strip()
pathlib.Path("eval").mkdir(exist_ok=True)
pathlib.Path("eval/metrics.json").write_text(json.dumps({"acc": 0.9 + int(seed) / 100}))
"""


def test_same_inputs_different_values_is_flagged_nondeterministic(dvc_repo, mlci):
    repo = dvc_repo
    repo.write("dvc.yaml", NOISY_STAGE)
    repo.write("params.yaml", "train:\n  lr: 0.1\n")
    repo.write("train.py", TRAIN)
    repo.write("seed.txt", "0")
    repo.write("mlci.yaml", "metrics:\n  rules:\n    - name: acc\n      direction: higher\n")
    repo.dvc("repro", "-q")
    first = repo.commit("baseline")
    assert mlci(repo, "check", "--no-repro", "--record", "--base", "HEAD").code == 0
    repo.write("seed.txt", "3")  # not a dep: dvc.lock's deps and params stay the same
    repo.dvc("repro", "-q", "--force")
    second = repo.commit("rerun")
    run = mlci(repo, "check", "--no-repro", "--record", "--base", "HEAD")
    assert run.code == 0, run.err
    lock = repo.git("show", f"{first}:dvc.lock")
    assert lock.split("outs:")[0] == repo.git("show", f"{second}:dvc.lock").split("outs:")[0]

    repo.git("checkout", "-q", "-b", "feature")
    repo.write("README.md", "docs only")
    repo.commit("docs")
    run = mlci(repo, "check", "--no-repro", "--base", "main", "--format", "json")
    doc = run.json()
    (acc,) = doc["metrics"]
    assert acc["nondeterministic"] == [
        {"sha": first, "value": 0.9},
        {"sha": second, "value": 0.93},
    ]
    assert any(
        n.startswith("eval/metrics.json:acc looks nondeterministic: 0.9 at ") for n in doc["notes"]
    )
    md = mlci(repo, "check", "--no-repro", "--base", "main", "--format", "markdown").out
    assert f"0.93 at {second[:7]}, from the same inputs" in md


def test_lock_inputs_ignore_outputs_and_see_params():
    from mlci.engine.lockview import lock_inputs

    lock = """\
schema: '2.0'
stages:
  train:
    cmd: python train.py
    deps:
    - path: train.py
      hash: md5
      md5: aaa
    params:
      params.yaml:
        train.lr: 0.1
    outs:
    - path: eval/metrics.json
      hash: md5
      md5: {out}
"""
    a = lock_inputs(lock.format(out="111"))
    assert a == lock_inputs(lock.format(out="222"))  # another result, the same inputs
    assert a != lock_inputs(lock.format(out="111").replace("0.1", "0.2"))
    assert set(a) == {"eval/metrics.json"}
    assert lock_inputs("not: [yaml") == {} and lock_inputs(None) == {}


def test_check_reads_only_what_the_clone_has_and_never_fetches(tmp_path, mlci, monkeypatch):
    origin, a = _origin_and_clone(tmp_path, "a")
    a.write("mlci.yaml", RULES)
    before = _main_commit(a, 0.90)
    after = _main_commit(a, 0.91)
    _push_env(monkeypatch, tmp_path, before, after)
    assert mlci(a, "ci", "--no-publish").code == 0
    assert after in _origin_notes(origin)
    for name in ("GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH", "GITHUB_SHA", "GITHUB_REF"):
        monkeypatch.delenv(name)
    _, b = _origin_and_clone(tmp_path, "b")
    b.git("checkout", "-q", "-b", "feature")
    b.write("eval/metrics.json", {"acc": 0.95})
    b.commit("better")
    run = mlci(b, "check", "--format", "json", "--base", "origin/main")
    assert run.code == 0 and all("history" not in m for m in run.json()["metrics"])
    assert b.git("for-each-ref", "refs/notes") == ""  # nothing was fetched
    b.git("fetch", "-q", "origin", "refs/notes/mlci:refs/notes/mlci")
    run = mlci(b, "check", "--format", "json", "--base", "origin/main")
    assert run.json()["metrics"][0]["history"] == [{"sha": after, "value": 0.91}]


# --- end to end: main's CI runs record, a pull request's CI run shows the trend --------------

E2E_RULES = """\
metrics:
  files: [eval/metrics.json]
  rules:
    - name: acc
      direction: higher
      max_regression: auto
    - name: f1
      direction: higher
      max_regression_pct: auto
"""


def _ci_clone(tmp_path: Path, name: str, sha: str) -> GitRepo:
    """What actions/checkout gives a job: a fresh clone of origin at the commit (no notes)."""
    _, clone = _origin_and_clone(tmp_path, name)
    clone.git("checkout", "-q", sha)
    assert clone.git("for-each-ref", "refs/notes") == ""
    return clone


def test_a_pr_check_in_ci_shows_the_trend_that_main_runs_recorded(
    tmp_path, github_fake, monkeypatch, mlci
):
    """Only `mlci ci`, as GitHub Actions runs it: each push to main records its result at
    origin; the pull request's run fetches them and its comment shows each gated metric's
    trend and the auto rule's verdict by the recorded noise."""
    from mlci.report.trend import BARS, HEAD_MARK
    from tests.test_ci import TOKEN, Actions

    origin, dev = _origin_and_clone(tmp_path, "dev")
    dev.write("mlci.yaml", E2E_RULES)
    dev.write("eval/metrics.json", {"acc": 0.9, "f1": 0.8})
    before = dev.commit("baseline")
    dev.git("push", "-q", "origin", "HEAD:main")
    main = []
    for i, acc in enumerate(NOISY_MAIN):
        dev.write("eval/metrics.json", {"acc": acc, "f1": round(acc - 0.1, 3)})
        after = dev.commit(f"main {i}")
        dev.git("push", "-q", "origin", "HEAD:main")
        gh = Actions(
            _ci_clone(tmp_path, f"push-{i}", after), github_fake, tmp_path, monkeypatch, mlci
        )
        payload = event_payload("push", repo=REPO, head_ref="main", head_sha=after, base_sha=before)
        payload["repository"]["default_branch"] = "main"
        gh.env("push", payload)
        monkeypatch.setenv("GITHUB_SHA", after)
        monkeypatch.setenv("GITHUB_REF", "refs/heads/main")
        run = gh.run("ci")
        # main's own wobble may close its gate (too short a history to know the noise yet):
        # recorded either way, the history is the values
        assert run.code in (0, 1), run.err
        assert f"recorded the result on {after[:7]} and pushed refs/notes/mlci" in run.err
        main.append(after)
        before = after
    assert set(_origin_notes(origin)) == set(main)

    dev.git("checkout", "-q", "-b", "feature")
    # f1 a little below main's last value (inside its noise), acc far below it
    dev.write("eval/metrics.json", {"acc": 0.85, "f1": 0.799})
    head = dev.commit("a change to the model")
    dev.git("push", "-q", "origin", "feature")
    gh = Actions(_ci_clone(tmp_path, "pr", head), github_fake, tmp_path, monkeypatch, mlci)
    gh.pull_request(12, main[-1], head)
    monkeypatch.setenv("GITHUB_SHA", head)
    monkeypatch.setenv("GITHUB_REF", "refs/pull/12/merge")
    run = gh.run("ci")
    assert run.code == 1, run.err
    assert "not recorded" not in run.err and "recorded the result" not in run.err
    # the run fetched main's notes into its clone, and wrote none for the PR's head
    assert len(gh.repo.git("notes", "--ref=mlci", "list").splitlines()) == len(main)
    assert gh.repo.git("notes", "--ref=mlci", "list", head, check=False) == ""

    [comment] = github_fake.comments(12)
    body = comment["body"]
    assert comment["user"]["login"] == "github-actions[bot]" and TOKEN not in body
    rows = {
        name: [cell.strip() for cell in line.split("|")]
        for line in body.splitlines()
        for name in ("acc", "f1")
        if line.startswith("|") and f"`eval/metrics.json:{name}`" in line
    }
    header = next(line for line in body.splitlines() if line.startswith("|") and "trend" in line)
    column = [cell.strip() for cell in header.split("|")].index("trend")
    for name, cells in rows.items():
        spark = cells[column]
        # the eight values main's runs recorded, then the head's on their scale
        assert len(spark) == len(NOISY_MAIN) + 2 and spark[-2] == HEAD_MARK, (name, spark)
        assert set(spark.replace(HEAD_MARK, "")) <= set(BARS)
    assert rows["acc"][1] == "❌" and rows["acc"][column].endswith(HEAD_MARK + BARS[0])
    # each auto rule says where its number came from; f1's drop is inside main's noise
    expected = f"{model_allowed(NOISY_MAIN, NOISY_MAIN[-1]):.2g}"
    basis = f"(0.7 % bound from {len(NOISY_MAIN)} runs on main (sd 0.0017))"
    assert rows["acc"][column + 1].endswith(f"allowed: {expected} {basis}")
    assert rows["f1"][1] == "✅" and basis in rows["f1"][column + 1]
    # the failing metric's history as a chart in the details, with main's first recorded commit
    [chart] = body.split("```mermaid\n")[1:]
    assert f'"{main[0][:7]}"' in chart and chart.split("```", 1)[0].rstrip().endswith("0.85]")
    html = Path(gh.outputs()["html-path"]).read_text()
    assert html.count('data-plot="history-') == 2  # every metric's history, plotted
    # the result file: every metric's history, oldest first, in the same schema version
    from mlci.model.result import validate

    doc = json.loads(Path(gh.outputs()["result-path"]).read_text())
    validate(doc)
    assert doc["schema_version"] == 1
    acc = next(m for m in doc["metrics"] if m["name"] == "eval/metrics.json:acc")
    assert acc["history"] == [{"sha": s, "value": v} for s, v in zip(main, NOISY_MAIN, strict=True)]
    # a pull request's run records nothing: origin holds main's notes only
    assert set(_origin_notes(origin)) == set(main)


# --- mlci deploy: the champion is compared with the same auto numbers as the gate --------


def test_deploy_holds_the_candidate_to_the_champion_by_the_recorded_noise(tmp_path, project):  # noqa: F811
    """An `auto` rule in `mlci deploy`'s champion/challenger comparison is noise_k x the noise
    recorded on the base branch (the gate's number); without that history it allows no
    regression at all: the candidate is refused (fails closed)."""
    from tests.test_deploy import config

    auto = config(project.db).replace("max_regression: 0.01", "max_regression: auto")
    project.repo.write("mlci.yaml", auto.replace('"off"', "warn"))
    baseline = project.repo.commit("auto rules")
    for acc in NOISY_MAIN:  # main's history, recorded as its push runs would
        project.commit(acc)
        assert project.run("check", "--no-repro", "--record", "--base", "HEAD").code == 0
    recorded = project.repo.git("rev-parse", "HEAD")
    project.commit(0.95, model="best")
    run = project.run("deploy", "-e", "production", "--base", recorded)
    assert run.code == 0 and project.champion() == "1", run.out + run.err

    # compared with a base without history: 0.001 below the champion is one regression too many
    project.commit(0.949, model="a little worse")
    run = project.run("deploy", "-e", "production", "--base", baseline)
    assert run.code == 1 and project.champion() == "1"
    assert "worse than the champion (version 1" in run.out
    assert "no recorded history; no regression allowed" in run.out

    # with main's recorded noise: the champion (0.95) is no run of main's (about 0.90), so the
    # bound is centred on it as one run (allowed 0.0077): a drop inside it is promoted...
    project.commit(0.945, model="inside the noise")
    run = project.run("deploy", "-e", "production", "--base", recorded)
    assert run.code == 0 and project.champion() == "2", run.out + run.err
    # ... one far outside it is refused, and the reason says where the number came from
    project.commit(0.90, model="much worse")
    run = project.run("deploy", "-e", "production", "--base", recorded)
    assert run.code == 1 and project.champion() == "2"
    assert "worse than the champion (version 2" in run.out
    said = " ".join(run.out.replace("│", " ").split())
    assert (
        f"allowed: 0.0077 (0.7 % bound from {len(NOISY_MAIN)} runs on {recorded[:7]} (sd 0.0017); "
        "centred on the base, which lies outside the runs' band)"
    ) in said, said


def test_the_example_workflows_push_jobs_may_push_the_notes():
    """The jobs that run mlci on a push to main record the history: they push refs/notes/mlci
    (contents: write) and check out the whole history (its first-parent line is read)."""
    import yaml

    from tests.conftest import REPO_ROOT

    doc = yaml.safe_load((REPO_ROOT / "examples/workflows/mlci.yml").read_text())
    on_push = {
        name: job
        for name, job in doc["jobs"].items()
        if "'push'" in job.get("if", "")
        and any(str(s.get("uses", "")).startswith("mlci/mlci@") for s in job["steps"])
    }
    assert set(on_push) == {"main", "deploy"}
    for name, job in on_push.items():
        assert job["permissions"]["contents"] == "write", name
        checkout = next(
            s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/checkout@")
        )
        assert checkout["with"]["fetch-depth"] == 0, name
    pr = doc["jobs"]["mlci"]
    assert pr["if"] == "github.event_name == 'pull_request'"
    assert pr["permissions"]["contents"] == "read"  # a pull request never writes notes


def test_the_fork_safe_publish_shows_the_trend_too(
    github_fake, git_repo, tmp_path, monkeypatch, mlci
):
    """`mlci publish` recomputes the rows from the committed files: they keep the recorded
    history, so the trusted comment shows the same trends and auto verdict as a plain run."""
    from mlci.report.trend import HEAD_MARK
    from tests.test_ci import Actions, untrusted_result, workflow_run_payload

    base = metrics_repo(git_repo, {"acc": 0.9}, AUTO_RULES)
    shas = _record_main(git_repo, mlci, NOISY_MAIN)
    base = shas[-1]
    git_repo.git("checkout", "-q", "-b", "feature")
    git_repo.write("eval/metrics.json", {"acc": 0.85})
    head = git_repo.commit("worse")
    gh = Actions(git_repo, github_fake, tmp_path, monkeypatch, mlci)
    result = untrusted_result(gh, base, head)
    assert json.loads(result.read_text())["metrics"][0]["history"]
    pulls = [
        {"number": 9, "head": {"sha": head, "ref": "feature"}, "base": {"sha": base, "ref": "main"}}
    ]
    gh.env("workflow_run", workflow_run_payload(head, pulls))
    assert gh.run("publish", str(result)).code == 1
    [comment] = github_fake.comments()
    row = next(line for line in comment["body"].splitlines() if "`eval/metrics.json:acc`" in line)
    assert f"{HEAD_MARK}▁" in row
    assert f"(0.7 % bound from {len(NOISY_MAIN)} runs on main (sd 0.0017))" in row
    assert "```mermaid\n" in comment["body"]


def test_a_metric_that_flips_between_two_values_is_given_the_flip_as_its_noise():
    """Accuracy on a small test set flips between two values; the median of its changes is
    one of them, so a deviation taken from that median is 0 (no regression allowed, a gate
    that cries wolf). The noise is the flip's size."""
    from mlci.engine.history import robust_sigma

    flips = [0.958, 0.965] * 3  # five changes: +0.007, -0.007, +0.007, -0.007, +0.007
    assert robust_sigma(flips) == pytest.approx(0.007 / math.sqrt(2))
    # a real step lands once: a level change, left out; the estimate keeps to the noise
    stepped = [0.900, 0.902, 0.900, 0.902, 0.950, 0.952, 0.950, 0.952]
    assert robust_sigma(stepped) == pytest.approx(0.002 / math.sqrt(2))


PIPELINE_LOCK = """\
schema: '2.0'
stages:
  prepare:
    cmd: python prepare.py
    deps:
    - path: data/raw.csv
      hash: md5
      md5: {raw}
    - path: prepare.py
      hash: md5
      md5: p1
    outs:
    - path: data/prepared
      hash: md5
      md5: {prepared}.dir
  train:
    cmd: python train.py
    deps:
    - path: data/prepared
      hash: md5
      md5: {prepared}.dir
    params:
      params.yaml:
        train.seed: {seed}
    outs:
    - path: model.pkl
      hash: md5
      md5: {model}
  evaluate@test:
    cmd: python evaluate.py test
    deps:
    - path: model.pkl
      hash: md5
      md5: {model}
    - path: evaluate.py
      hash: md5
      md5: e1
    outs:
    - path: eval
      hash: md5
      md5: {metrics}.dir
"""


def _lock(**changes: str) -> str:
    values = {"raw": "r1", "prepared": "d1", "seed": "0", "model": "m1", "metrics": "x1"}
    return PIPELINE_LOCK.format(**{**values, **changes})


def test_identity_is_every_upstream_input_the_pipeline_does_not_produce():
    """A metrics file inside an output folder of a foreach stage: its stage is found, and its
    identity covers the code, params and data upstream (raw.csv, added with dvc add) but not
    the intermediate outputs (the prepared data, the model), which differ exactly when an
    upstream stage is nondeterministic."""
    from mlci.engine.lockview import lock_view

    view = lock_view(_lock())
    rec = view.stage_of("eval/metrics.json")
    assert rec is not None and rec.stage == "evaluate@test"
    assert view.stage_of("evaluation/metrics.json") is None
    same = lock_view(_lock(prepared="d2", model="m2", metrics="x2")).stage_of("eval/metrics.json")
    assert same is not None and same.identity == rec.identity and same.entry != rec.entry
    for change in ({"raw": "r2"}, {"seed": "1"}):
        other = lock_view(_lock(**change)).stage_of("eval/metrics.json")
        assert other is not None and other.identity != rec.identity, change
    assert lock_view("stages: [1, 2]").outs == {} and lock_view(b"\xff: [").outs == {}


# --- notes are data: hostile, malformed and non-finite entries ---------------------------------


def _forge(repo: GitRepo, sha: str, doc) -> None:
    from mlci.adapters import notes

    line = doc if isinstance(doc, str) else json.dumps(doc)
    notes.write(repo.path, sha, line + "\n")


def _note_doc(sha: str, acc) -> dict:
    return {
        "context": {"head": {"sha": sha}},
        "metrics": [{"name": "eval/metrics.json:acc", "head": acc}],
    }


def test_recorded_values_that_disagree_with_their_commits_are_left_out_and_counted(git_repo, mlci):
    """Anyone who can push refs/notes/mlci could bend auto: values alternating 0 and 1 where
    the commits hold about 0.9 would allow any drop. Each value is checked against the
    metrics file its commit holds: the forged ones are left out and counted."""
    metrics_repo(git_repo, {"acc": 0.5}, AUTO_RULES)
    shas = _record_main(git_repo, mlci, NOISY_MAIN)
    for i, sha in enumerate(shas[:4]):
        _forge(git_repo, sha, _note_doc(sha, i % 2))
    run = _pr_with(git_repo, mlci, 0.5)
    assert run.code == 1, run.out
    doc = run.json()
    (acc,) = doc["metrics"]
    assert acc["outcome"] == "fail"
    assert [h["sha"] for h in acc["history"]] == shas[4:]
    basis = acc["rule"]["resolved"]["max_regression"]["basis"]
    assert (
        basis
        == "4 runs on main, 5 needed; 4 recorded values disagree with their commits; no regression allowed"
    )
    assert (
        "the results history: 4 recorded values disagree with what their commits hold and "
        "were left out"
    ) in doc["notes"]


@pytest.mark.parametrize(
    "forged",
    [
        "metrics-not-a-list",
        "huge-integer",
        "string-context",
        "plus-minus-1e308",
        "not-json",
    ],
)
def test_malformed_and_non_finite_notes_are_skipped_with_one_line(git_repo, mlci, forged):
    metrics_repo(git_repo, {"acc": 0.5}, AUTO_RULES)
    shas = _record_main(git_repo, mlci, NOISY_MAIN)
    for i, sha in enumerate(shas[:3]):
        doc = _note_doc(sha, 0.9)
        if forged == "metrics-not-a-list":
            doc["metrics"] = 5
        elif forged == "huge-integer":
            doc["metrics"][0]["head"] = int("9" * 400)
        elif forged == "string-context":
            doc["context"] = "main"
        elif forged == "plus-minus-1e308":
            doc["metrics"][0]["head"] = 1e308 if i % 2 else -1e308
        _forge(git_repo, sha, "{not json" if forged == "not-json" else doc)
    run = _pr_with(git_repo, mlci, 0.901)
    assert run.code == 0, run.out + run.err
    assert "Traceback" not in run.err
    doc = run.json()
    (acc,) = doc["metrics"]
    assert [h["sha"] for h in acc["history"]] == shas[3:]
    lines = [n for n in doc["notes"] if n.startswith("the results history:")]
    assert len(lines) == 1, doc["notes"]
    assert lines[0] == (
        "the results history: 3 recorded values disagree with what their commits hold and "
        "were left out"
        if forged == "plus-minus-1e308"
        else "the results history: 3 note lines skipped (not a result of its commit, "
        "malformed or not finite)"
    )


def test_a_pure_noise_metric_passes_a_no_op_pr_and_says_it_cannot_be_gated():
    """Every run on identical inputs, every value a new draw: the repeats are the noise, the
    bound is the classic prediction interval of their mean, and the rule says it cannot
    tell a change smaller than it from noise."""
    from mlci.engine import compare, noise
    from mlci.model.config import AUTO, MetricRule, MetricsConfig

    draws = [0.52, 0.61, 0.47, 0.58, 0.44, 0.55, 0.49, 0.60, 0.51, 0.46]
    runs = noise.Runs(values=draws, identities=["same"] * len(draws))
    spread = noise.estimate(runs, 5, "main")
    assert spread.source == "repeats" and spread.pure_noise and spread.dof == len(draws) - 1
    mean = sum(draws) / len(draws)
    sd = math.sqrt(sum((v - mean) ** 2 for v in draws) / (len(draws) - 1))
    assert spread.sigma == pytest.approx(sd) and spread.center == pytest.approx(mean)
    rule = MetricRule(name="acc", direction="higher", max_regression=AUTO)
    config = MetricsConfig(rules=(rule,))
    # a PR that changes nothing re-runs the stage: another draw, here a low one
    m = compare.compare_metric(
        "m.json:acc",
        draws[-1],
        0.43,
        in_base=True,
        in_head=True,
        base_has_file=True,
        config=config,
        spread=spread,
    )
    assert m.outcome == "pass", m.message
    basis = m.rule["resolved"]["max_regression"]["basis"]
    assert basis.startswith(
        f"0.7 % bound from {len(draws)} repeat runs on identical inputs on main (sd {sd:.2g}); "
        "pure noise: runs on identical inputs vary as much as main's runs, the rule cannot "
        "gate changes smaller than this"
    ), basis


def test_notes_written_by_the_previous_version_are_read(git_repo, mlci):
    """Notes from before the 'runs' field (an 'inputs' digest per output, no 'runs') still
    give the history and the auto limit: the commits' own files decide the rest."""
    metrics_repo(git_repo, {"acc": 0.5}, AUTO_RULES)
    shas = _record_main(git_repo, mlci, NOISY_MAIN)
    for sha, acc in zip(shas, NOISY_MAIN, strict=True):
        old = _note_doc(sha, acc)
        old["inputs"] = {"eval/metrics.json": "0123456789abcdef"}
        _forge(git_repo, sha, old)
    run = _pr_with(git_repo, mlci, 0.899)
    assert run.code == 0, run.out
    (acc,) = run.json()["metrics"]
    assert [h["value"] for h in acc["history"]] == NOISY_MAIN
    resolved = acc["rule"]["resolved"]["max_regression"]
    assert resolved["allowed"] == pytest.approx(model_allowed(NOISY_MAIN, NOISY_MAIN[-1]))
    assert "nondeterministic" not in acc


def test_a_note_naming_a_file_outside_the_project_is_left_out_not_the_history(git_repo, mlci):
    """git cat-file stops the whole batch at a path outside the repository: a note naming
    one must not cost the other commits their checked values."""
    metrics_repo(git_repo, {"acc": 0.5}, AUTO_RULES)
    shas = _record_main(git_repo, mlci, NOISY_MAIN)
    doc = _note_doc(shas[0], 0.9)
    doc["metrics"].append({"name": "../../../etc/passwd:root", "head": 0})
    _forge(git_repo, shas[0], doc)
    run = _pr_with(git_repo, mlci, 0.9)
    (acc,) = [m for m in run.json()["metrics"] if m["name"] == "eval/metrics.json:acc"]
    assert [h["sha"] for h in acc["history"]] == shas[1:]
    assert "passwd" not in run.out.replace("../../../etc/passwd:root", "")
