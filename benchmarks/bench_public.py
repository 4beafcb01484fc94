"""The check on the common public layout, in a clone that pulled.          target ratio <= 0.40

The repository is the get-started-like one (`_common.get_started_repo`: dvc-add'ed raw data,
metrics and a dvclive ROC plot inside a cached output folder), with a DVC remote both branches
were pushed to and 30 results recorded on main (`mlci check --record`, git notes). The clone
checks out the pull request branch, runs `dvc pull` and fetches the notes; in it
`mlci check --no-repro --base main` runs against `dvc metrics diff main && dvc params diff main`.

Then one check in process, its stack sampled: the share of the time in DVC (its packages and
mlci's DVC adapter) and in the rest (mlci), printed for information.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from types import FrameType

from _common import (
    BIN,
    DVC_CODE,
    get_started_repo,
    report,
    run,
    sampled_check,
    side_by_side_cpu,
)

REFERENCE = "dvc metrics diff main --json && dvc params diff main --json"
CHECK = [str(BIN / "mlci"), "check", "--no-repro", "--base", "main", "--format", "json"]
NOTES = 30


def build(where: Path) -> Path:
    repo = get_started_repo(where)
    remote = where / "remote"
    for cmd in (
        "git checkout -q main",
        "dvc checkout -q",
        f"dvc remote add -d store {remote}",
        "git commit -qam 'a DVC remote'",
    ):
        run(cmd, repo)
    for i in range(NOTES):  # a result recorded on each of 30 commits, as CI's push job does
        run(f"git commit -q --allow-empty -m 'commit {i}'", repo)
        run([str(BIN / "mlci"), "check", "--no-repro", "--record", "--format", "json"], repo)
    run("git checkout -q pr && git merge -q main -m 'up to date' && dvc push -q -a", repo)
    if run("git notes --ref=mlci list", repo).stdout.count(b"\n") != NOTES:
        raise SystemExit("the 30 results were not recorded")
    clone = where / "clone"
    run(f"git clone -q {repo} {clone}", where)
    for cmd in (
        "git fetch -q origin refs/notes/mlci:refs/notes/mlci",
        "git branch -q main origin/main || true",
        "git checkout -q pr",
        "dvc pull -q",
    ):
        run(cmd, clone)
    return clone


def profile(clone: Path) -> None:
    """Sample one in-process check's stack every 2 ms: in DVC (a frame of DVC's packages or of
    mlci's DVC adapter on the stack: importing DVC, its Repo, the lock status, the fetch check,
    the reading) or not (mlci: config, git, notes, comparing, rendering; and the rest)."""

    def where(frame: FrameType | None) -> str:
        while frame is not None:
            if any(part in frame.f_code.co_filename for part in DVC_CODE):
                return "DVC"
            frame = frame.f_back
        return "mlci and the rest"

    seconds, counts = sampled_check(clone, CHECK[1:], where)
    total = sum(counts.values()) or 1
    parts = ", ".join(f"{name} {n / total:.0%}" for name, n in sorted(counts.items()))
    print(f"    one check in process (mlci imported beforehand): {seconds:.2f} s; {parts}")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        clone = build(Path(tmp))
        base = run(CHECK, clone).stdout
        if b'"base": null' in base or b'"accuracy"' not in base:
            print("warning: the check did not read main's metrics")
        (wa, ca), (wb, cb) = side_by_side_cpu(CHECK, REFERENCE, clone)
        report(
            f"(a) pulled clone, {NOTES} notes: mlci check --no-repro vs dvc metrics diff + params diff",
            wa,
            wb,
            "<= 0.40",
            cpu=(ca, cb),
        )
        profile(clone)
    return 1 if wa / wb > 0.40 else 0


if __name__ == "__main__":
    sys.exit(main())
