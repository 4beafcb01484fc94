"""What reading the results history (git notes) adds to a check.        target <= 50 ms

(a) `mlci check --no-repro` on the example project (examples/project) whose main branch has
    30 recorded results (one note per first-parent commit), against the same check on an
    identical copy without notes: the difference is what history costs a check.
(b) The history read itself, in process (one `git log` over 30 notes, parsing, checking
    every recorded value against its commit's metrics file, the noise estimate of every
    metric), median of 20 runs: the same cost without the noise of two whole checks on a
    shared machine.
(c) What checking the 30 recorded values against their commits adds to (b) (one
    `git cat-file` for every commit's dvc.lock and metrics files, DVC objects read from
    the local cache), against the same read without the check.   target <= 500 ms

Wall-clock medians of interleaved runs.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import BIN, ROOT, example_repo, run

sys.path.insert(0, str(ROOT))

DEPTH = 30
TARGET_MS = 50.0
CHECK_TARGET_MS = 500.0


def _with_history(repo: Path) -> None:
    """30 commits on main, each with the note a push job would have recorded on it."""
    from mlci.adapters import notes

    run("git checkout -q main", repo)
    out = repo / ".git" / "bench-result.json"
    run([str(BIN / "mlci"), "check", "--no-repro", "--base", "main", "--output", str(out)], repo)
    doc = json.loads(out.read_text())
    doc.pop("plots", None)
    for i in range(DEPTH):
        run(["git", "commit", "-q", "--allow-empty", "-m", f"main {i}"], repo)
        sha = run(["git", "rev-parse", "HEAD"], repo).stdout.decode().strip()
        doc["context"]["head"]["sha"] = sha
        # the values the commit holds: each recorded value is checked against them
        notes.write(repo, sha, json.dumps(doc, separators=(",", ":")))
    run("git checkout -q pr", repo)
    run("git rebase -q main", repo)  # the PR is on top of the recorded main


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        noted = example_repo(Path(tmp))
        _with_history(noted)
        bare = Path(tmp) / "without-notes"
        shutil.copytree(noted, bare)
        run(["git", "update-ref", "-d", "refs/notes/mlci"], bare)
        cmd = [str(BIN / "mlci"), "check", "--no-repro", "--base", "main", "--format", "json"]
        check = run(cmd, noted).stdout.decode()
        recorded = [m for m in json.loads(check)["metrics"] if m.get("history")]
        if not recorded or len(recorded[0]["history"]) != DEPTH:
            raise SystemExit("the benchmark repository's check did not read 30 recorded values")
        with_notes, without = _interleaved(cmd, noted, bare)
        added = (with_notes - without) * 1000
        print(
            f"(a) mlci check --no-repro with {DEPTH} recorded results vs without notes\n"
            f"    with {with_notes * 1000:8.0f} ms   without {without * 1000:8.0f} ms   "
            f"added {added:6.0f} ms   (target <= {TARGET_MS:.0f} ms; whole checks: +-noise)"
        )
        read_ms = _read_in_process(noted)
        print(
            f"(b) reading the history of {DEPTH} commits in process (git log, parse, check, "
            f"noise of {len(recorded)} metrics)\n    median {read_ms:6.1f} ms   "
            f"(target <= {TARGET_MS:.0f} ms)"
        )
        unchecked_ms = _read_in_process(noted, verify=False)
        added_ms = read_ms - unchecked_ms
        print(
            f"(c) checking {DEPTH} recorded values against their commits adds "
            f"{added_ms:6.1f} ms   (read without the check {unchecked_ms:6.1f} ms; "
            f"target <= {CHECK_TARGET_MS:.0f} ms)"
        )
    return 1 if read_ms > TARGET_MS or added_ms > CHECK_TARGET_MS else 0


def _interleaved(cmd: list[str], a: Path, b: Path, repeat: int = 7) -> tuple[float, float]:
    """Median wall time of ``cmd`` in ``a`` and in ``b``, alternated (same machine load)."""
    run(cmd, a), run(cmd, b)  # warm both file caches
    times_a, times_b = [], []
    for _ in range(repeat):
        for where, times in ((a, times_a), (b, times_b)):
            start = time.perf_counter()
            run(cmd, where)
            times.append(time.perf_counter() - start)
    return statistics.median(times_a), statistics.median(times_b)


def _read_in_process(repo: Path, repeat: int = 20, *, verify: bool = True) -> float:
    from mlci.adapters import git
    from mlci.engine import history

    base = git.resolve("main", repo)
    assert base is not None
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        found = history.read(repo, base, DEPTH, verify=verify)
        history.spreads(found, 5, "main")
        times.append(time.perf_counter() - start)
    assert len(found.commits) == DEPTH
    if verify and (found.disagree or found.unchecked):
        raise SystemExit(f"recorded values left out: {found.disagree} {found.unchecked}")
    return statistics.median(times) * 1000


if __name__ == "__main__":
    sys.exit(main())
