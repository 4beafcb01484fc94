"""The check on the common public layout, in a clone that pulled.          target ratio <= 0.40

The repository is the get-started-like one (`_common.get_started_repo`: dvc-add'ed raw data,
metrics and a dvclive ROC plot inside a cached output folder), with a DVC remote both branches
were pushed to and 30 results recorded on main (`mlci check --record`, git notes). The clone
checks out the pull request branch, runs `dvc pull` and fetches the notes; in it
`mlci check --no-repro --base main` runs against `dvc metrics diff main && dvc params diff main`.

Then, for information: one check in a fresh interpreter, its stack sampled from the start
(importing DVC and its libraries, importing mlci, DVC's work, git, mlci's work), and what
importing the modules that check imported costs alone, as a ratio of the reference.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from _common import BIN, get_started_repo, report, run, side_by_side_cpu

HERE = Path(__file__).resolve().parent

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


def profile(clone: Path) -> list[str]:
    """One check in a fresh interpreter, sampled from the start (`_sampled_process.py`): the
    share of its time importing DVC and its libraries, importing mlci, in DVC's work, waiting
    for git and in mlci's work. Returns the modules it imported."""
    out = clone.parent / "sampled.json"
    run([sys.executable, str(HERE / "_sampled_process.py"), str(out), *CHECK[1:]], clone)
    data = json.loads(out.read_text())
    total = sum(data["parts"].values()) or 1
    parts = ", ".join(
        f"{name} {n / total:.0%}"
        for name, n in sorted(data["parts"].items(), key=lambda item: -item[1])
    )
    print(f"    one check, sampled from the interpreter's start: {data['seconds']:.2f} s; {parts}")
    return list(data["imported"])


def import_floor(clone: Path, imported: list[str], reference_s: float) -> None:
    """What importing the modules the check imported costs alone, next to the reference: the
    part of the ratio no change to mlci's own modules can remove while a check loads DVC (45
    of those modules are not DVC's: click, PyYAML and standard modules mlci imports)."""
    listing = clone.parent / "imported.txt"
    listing.write_text("\n".join(imported))
    program = (
        "import importlib, sys\n"
        f"for name in open({str(listing)!r}).read().split():\n"
        "    try:\n        importlib.import_module(name)\n"
        "    except Exception:\n        pass\n"
    )
    (floor, _), (reference, _) = side_by_side_cpu([sys.executable, "-c", program], REFERENCE, clone)
    print(
        f"    importing those {len(imported)} modules alone: {floor * 1000:.0f} ms, "
        f"{floor / reference:.2f} of the reference ({reference * 1000:.0f} ms in this pass; "
        f"{reference_s * 1000:.0f} ms above)"
    )


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
        import_floor(clone, profile(clone), wb)
    return 1 if wa / wb > 0.40 else 0


if __name__ == "__main__":
    sys.exit(main())
