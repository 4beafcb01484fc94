"""A no-op check on a pipeline of 200 `foreach` stages.                   target ratio <= 0.6

The repository has one `foreach` stage over 200 items; each item's stage reads a shared param
and writes a small metrics JSON (not cached). It is reproduced and committed on main; the
pull request branch changes nothing the pipeline reads (one empty commit). There

    mlci check --base main               (reproduces: DVC finds nothing to run)
    mlci check --no-repro --base main
against
    dvc repro && dvc metrics diff main && dvc params diff main

are timed side by side (interleaved, median). The first pair is the target; the second is
printed for information, as is one check profiled in process: the share of its time in DVC
(a frame of DVC's packages or of mlci's DVC adapter on the stack) and in the rest (mlci).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from types import FrameType

from _common import BIN, DVC_CODE, git_dvc_setup, report, run, sampled_check, timed_cpu

ITEMS = 200
REFERENCE = "dvc repro -q && dvc metrics diff main --json && dvc params diff main --json"
CHECK = [str(BIN / "mlci"), "check", "--base", "main", "--format", "json"]
NO_REPRO = [str(BIN / "mlci"), "check", "--no-repro", "--base", "main", "--format", "json"]

SCORE = """\
import json, pathlib, sys, yaml
item = sys.argv[1]
scale = yaml.safe_load(open("params.yaml"))["shared"]["scale"]
n = int(item.removeprefix("item"))
out = pathlib.Path("metrics"); out.mkdir(exist_ok=True)
json.dump({"score": round(scale * (0.5 + n / 1000), 4), "n": n}, open(out / f"{item}.json", "w"))
"""

DVC_YAML = """\
stages:
  score:
    foreach: ${items}
    do:
      cmd: python score.py ${item}
      deps: [score.py]
      params: [shared.scale]
      metrics:
        - metrics/${item}.json:
            cache: false
"""


def build(where: Path) -> Path:
    repo = where / "foreach"
    repo.mkdir()
    (repo / "score.py").write_text(SCORE)
    (repo / "dvc.yaml").write_text(DVC_YAML)
    items = ", ".join(f"item{i:03d}" for i in range(ITEMS))
    (repo / "params.yaml").write_text(f"shared:\n  scale: 1.0\nitems: [{items}]\n")
    (repo / "mlci.yaml").write_text(
        "base: main\nmetrics:\n  rules:\n    - name: score\n      direction: higher\n"
        "      max_regression: 0.01\n"
    )
    git_dvc_setup(
        repo, "the foreach repo", "git commit -q --allow-empty -m 'nothing the pipeline reads'"
    )
    return repo


def profile(repo: Path) -> None:
    """Sample one in-process check's stack every 2 ms: in DVC (a frame of DVC's packages or of
    mlci's DVC adapter on the stack), by the mlci function that called it, or not (mlci:
    config, git, comparing, rendering)."""
    # where in DVC, by the mlci function that called it
    parts_of_dvc = (
        ("reproduce_stage", "DVC's per-stage check (what `dvc repro` does)"),
        ("planned_stages", "DVC planning the stages"),
        ("gather_metrics", "DVC reading metrics"),
        ("gather_params", "DVC reading params"),
    )

    def where(frame: FrameType | None) -> str:
        in_dvc, names = False, set()
        while frame is not None:
            names.add(frame.f_code.co_name)
            in_dvc = in_dvc or any(p in frame.f_code.co_filename for p in DVC_CODE)
            frame = frame.f_back
        if not in_dvc:
            return "mlci and the rest"
        return next((label for name, label in parts_of_dvc if name in names), "DVC, other")

    seconds, counts = sampled_check(repo, CHECK[1:], where)
    total = sum(counts.values()) or 1
    print(f"    one check in process (mlci imported beforehand): {seconds:.2f} s")
    for name, n in sorted(counts.items(), key=lambda item: -item[1]):
        print(f"      {n / total:4.0%}  {name}")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        repo = build(Path(tmp))
        first = run(CHECK, repo).stdout
        if (
            first.count(b'"status": "unchanged"') < ITEMS
            or b'"status": "ran",\n        "duration' in first
        ):
            raise SystemExit("the no-op branch is not a no-op: mlci reproduced something")
        if first.count(b'"score"') < 1 or b'"base": null' in first:
            print("warning: the check did not read main's metrics")
        for cmd in (CHECK, NO_REPRO, REFERENCE):  # warm the file cache for each
            run(cmd, repo)
        times: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for _ in range(5):
            for name, cmd in (("check", CHECK), ("no-repro", NO_REPRO), ("reference", REFERENCE)):
                times[name].append(timed_cpu(cmd, repo))
        med = {
            name: (statistics.median(t[0] for t in ts), statistics.median(t[1] for t in ts))
            for name, ts in times.items()
        }
        ref_wall, ref_cpu = med["reference"]
        report(
            f"(a) {ITEMS} foreach stages, nothing changed: mlci check vs "
            "dvc repro && dvc metrics diff && dvc params diff",
            med["check"][0],
            ref_wall,
            "<= 0.6",
            cpu=(med["check"][1], ref_cpu),
        )
        report(
            "(b) the same, mlci check --no-repro (for information)",
            med["no-repro"][0],
            ref_wall,
            "-",
            cpu=(med["no-repro"][1], ref_cpu),
        )
        profile(repo)
    return 1 if med["check"][0] / ref_wall > 0.6 else 0


if __name__ == "__main__":
    sys.exit(main())
