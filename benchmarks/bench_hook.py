"""Benchmark: how long the pre-push hook adds to a `git push` when nothing in the pipeline changed.

Sets up the example project (``examples/project``, reproduced once) with a bare
remote, installs mlci's pre-push hook, and pushes a branch that changes no
pipeline input, side by side in one run:

* ``git push --no-verify``           the push alone (no hook)
* ``git push``                       the push with mlci's hook (its fast path: nothing to check)
* ``mlci hook run`` (fast path)      what the hook script runs, given git's input for that push
* ``python -c "import click"``       the yardstick for the fast path
* ``dvc status``                     DVC's own "is dvc.lock up to date?" alone
* ``mlci check --no-repro --lock-status``  the full path (a push that changes the pipeline)
* the imports alone                  the full path's floor: Python start-up plus DVC's and rich's imports

Targets: the hook's answer when nothing the gate reads changed at most 5x
``python -c "import click"`` (issue 14); the push with the hook under 2 s (issue 7).

    python benchmarks/bench_hook.py [--rounds 5] [--keep]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TARGET_S = 2.0
TARGET_CLICK = 5.0


def run(
    cmd: list[str], cwd: Path, env: dict[str, str], *, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False, input=stdin
    )
    if check and proc.returncode != 0:
        sys.exit(
            f"bench: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def timed(
    cmd: list[str] | tuple[list[str], str], cwd: Path, env: dict[str, str]
) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system, the command and its children).

    CPU time is what the command costs; on a machine shared with other jobs
    the wall clock also counts the time spent waiting for a core.
    """
    stdin = None
    if isinstance(cmd, tuple):
        cmd, stdin = cmd
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run(cmd, cwd, env, stdin=stdin)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def setup(base: Path, env: dict[str, str]) -> Path:
    repo, remote = base / "repo", base / "remote.git"
    shutil.copytree(ROOT / "examples" / "project", repo)
    for cmd in (
        ["git", "init", "-q", "-b", "main"],
        ["dvc", "init", "-q"],
        ["dvc", "repro", "-q"],
        ["git", "add", "-A"],
        ["git", "commit", "-q", "-m", "baseline"],
    ):
        run(cmd, repo, env)
    run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], base, env)
    run(["git", "remote", "add", "origin", str(remote)], repo, env)
    run(["git", "push", "-q", "origin", "main"], repo, env)
    run([sys.executable, "-m", "mlci", "hook", "install"], repo, env)
    run(["git", "checkout", "-q", "-b", "feature"], repo, env)
    (repo / "NOTES.md").write_text("a change that touches no pipeline input\n")
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-q", "-m", "notes"], repo, env)
    return repo


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the temporary repository")
    args = parser.parse_args()

    env = dict(
        os.environ,
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        PYTHONPATH=str(ROOT),
        DVC_NO_ANALYTICS="1",
        NO_COLOR="1",
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@example.com",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@example.com",
    )
    env.pop("MLCI_SKIP", None)
    base = Path(tempfile.mkdtemp(prefix="mlci-bench-hook-"))
    try:
        load_before = f"{os.getloadavg()[0]:.1f}"
        print("setting up the example project (one dvc repro) ...", flush=True)
        repo = setup(base, env)
        # warm-up: first imports fill the OS page cache and DVC's state database
        run(["git", "push", "-q", "origin", "feature:refs/heads/warm-up"], repo, env)
        sha = run(["git", "rev-parse", "feature"], repo, env).stdout.strip()
        hook_input = f"refs/heads/feature {sha} refs/heads/feature {'0' * 40}\n"
        cases = {
            "git push --no-verify (no hook)": lambda i: [
                "git",
                "push",
                "-q",
                "--no-verify",
                "origin",
                f"feature:refs/heads/plain-{i}",
            ],
            "git push (mlci hook)": lambda i: [
                "git",
                "push",
                "-q",
                "origin",
                f"feature:refs/heads/hooked-{i}",
            ],
            "mlci hook run (fast path)": lambda i: (
                [sys.executable, "-m", "mlci", "hook", "run", "origin", "unused"],
                hook_input,
            ),
            "python -c 'import click'": lambda i: [sys.executable, "-c", "import click"],
            "dvc status alone": lambda i: ["dvc", "status", "-q"],
            "imports alone (python -c 'import dvc.repo, rich')": lambda i: [
                sys.executable,
                "-c",
                "import mlci.engine.check, dvc.repo, rich.console",
            ],
            "mlci check --no-repro --lock-status": lambda i: [
                sys.executable,
                "-m",
                "mlci",
                "check",
                "--no-repro",
                "--lock-status",
                "--base",
                "origin/main",
                "--head",
                "HEAD",
            ],
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        cpu: dict[str, list[float]] = {name: [] for name in cases}
        for i in range(args.rounds):  # interleaved, so drift in machine load hits every case alike
            for name, cmd in cases.items():
                wall, used = timed(cmd(i), repo, env)
                times[name].append(wall)
                cpu[name].append(used)
        hooked = run(["git", "push", "origin", "feature:refs/heads/shown"], repo, env).stderr
        print("\nthe hook said:\n  " + "\n  ".join(hooked.strip().splitlines()[:3]))
        med = {name: statistics.median(t) for name, t in times.items()}
        med_cpu = {name: statistics.median(t) for name, t in cpu.items()}
        print(
            f"\nload average before: {load_before}, after: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)"
        )
        print(
            f"{'case':50} {'wall median':>11} {'min':>6} {'max':>6} {'CPU median':>11}   ({args.rounds} rounds)"
        )
        for name, t in times.items():
            print(
                f"{name:50} {med[name]:10.2f}s {min(t):5.2f}s {max(t):5.2f}s {med_cpu[name]:10.2f}s"
            )
        plain, hook = med["git push --no-verify (no hook)"], med["git push (mlci hook)"]
        print(
            f"\nhook overhead per push: {hook - plain:.2f}s wall, "
            f"{med_cpu['git push (mlci hook)'] - med_cpu['git push --no-verify (no hook)']:.2f}s CPU "
            f"(hook / dvc status alone: {hook / med['dvc status alone']:.1f}x wall, "
            f"{med_cpu['git push (mlci hook)'] / med_cpu['dvc status alone']:.1f}x CPU)"
        )
        verdict = "met" if hook < TARGET_S else "MISSED"
        print(
            f"target: push with the hook < {TARGET_S:.0f} s when nothing changed: {verdict} "
            f"({hook:.2f}s wall; {med_cpu['git push (mlci hook)']:.2f}s of CPU)"
        )
        fast_name, click_name = "mlci hook run (fast path)", "python -c 'import click'"
        fast, click = med[fast_name], med[click_name]
        fast_ok = fast <= TARGET_CLICK * click
        print(
            f"target: the hook's fast path <= {TARGET_CLICK:.0f}x {click_name}: "
            f"{'met' if fast_ok else 'MISSED'} ({fast / click:.1f}x wall, "
            f"{med_cpu[fast_name] / med_cpu[click_name]:.1f}x CPU)"
        )
        return 0 if hook < TARGET_S and fast_ok else 1
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
