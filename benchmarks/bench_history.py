"""What reading the results history (git notes) adds to a check.        target <= 50 ms

(a) `mlci check --no-repro` on the example project (examples/project) whose main branch has
    30 recorded results (one note per first-parent commit), against the same check on an
    identical copy without notes: the difference is what history costs a check.
(b) The history read itself, in process (one `git log` over 30 notes, parsing, the noise
    estimate of every metric), median of 20 runs: the same cost without the noise of two
    whole checks on a shared machine.

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


def _with_history(repo: Path) -> None:
    """30 commits on main, each with the note a push job would have recorded on it."""
    from mlci.adapters import notes

    run("git checkout -q main", repo)
    out = repo / ".git" / "bench-result.json"
    run([str(BIN / "mlci"), "check", "--no-repro", "--base", "main", "--output", str(out)], repo)
    doc = json.loads(out.read_text())
    doc.pop("plots", None)
    metrics = [m for m in doc["metrics"] if isinstance(m.get("head"), (int, float))]
    for i in range(DEPTH):
        run(["git", "commit", "-q", "--allow-empty", "-m", f"main {i}"], repo)
        sha = run(["git", "rev-parse", "HEAD"], repo).stdout.decode().strip()
        doc["context"]["head"]["sha"] = sha
        for m in metrics:  # a little run-to-run noise, as real history has
            m["head"] = round(float(m["head"]) * (1 + ((i * 7919) % 11 - 5) / 1000), 6)
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
            f"(b) reading the history of {DEPTH} commits in process (git log, parse, noise "
            f"of {len(recorded)} metrics)\n    median {read_ms:6.1f} ms   (target <= {TARGET_MS:.0f} ms)"
        )
    return 1 if read_ms > TARGET_MS else 0


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


def _read_in_process(repo: Path, repeat: int = 20) -> float:
    from mlci.adapters import git
    from mlci.engine import history

    base = git.resolve("main", repo)
    assert base is not None
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        found = history.read(repo, base, DEPTH)
        history.spreads(found, 5, "main")
        times.append(time.perf_counter() - start)
    assert len(found.commits) == DEPTH
    return statistics.median(times) * 1000


if __name__ == "__main__":
    sys.exit(main())
