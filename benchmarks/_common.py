"""Helpers shared by the benchmarks: timing commands side by side, the example repo."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ENV = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", DVC_NO_ANALYTICS="1",
           NO_COLOR="1")


def run(cmd: str | Sequence[str], cwd: Path, *, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(cmd, cwd=cwd, env=ENV, shell=isinstance(cmd, str), capture_output=True)
    if check and proc.returncode not in (0, 1):
        raise SystemExit(f"benchmark command failed: {cmd}\n{proc.stderr.decode()}")
    return proc


def timed(cmd: str | Sequence[str], cwd: Path) -> float:
    start = time.perf_counter()
    run(cmd, cwd)
    return time.perf_counter() - start


def side_by_side(a: str | Sequence[str], b: str | Sequence[str], cwd: Path, repeat: int = 5) -> tuple[float, float]:
    """Median wall time of ``a`` and ``b``, interleaved so both see the same machine load."""
    run(a, cwd), run(b, cwd)  # warm the file cache for both
    ta, tb = [], []
    for _ in range(repeat):
        ta.append(timed(a, cwd))
        tb.append(timed(b, cwd))
    return statistics.median(ta), statistics.median(tb)


def example_repo(where: Path) -> Path:
    """The example project as a repo: baseline on main, a PR branch changing train.C."""
    repo = where / "example"
    shutil.copytree(ROOT / "examples" / "project", repo)
    for cmd in (
        "git init -q -b main", "git config user.email bench@example.com", "git config user.name bench",
        "dvc init -q", "dvc repro -q", "git add -A", "git commit -q -m baseline",
        "git checkout -q -b pr", "sed -i 's/C: 0.05/C: 0.5/' params.yaml", "dvc repro -q",
        "git add -A", "git commit -q -m pr",
    ):
        proc = run(cmd, repo, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"setting up the example failed at `{cmd}`:\n{proc.stderr.decode()}")
    return repo


def report(label: str, ours: float, theirs: float, target: str) -> None:
    print(f"{label}\n    mlci {ours * 1000:8.0f} ms   reference {theirs * 1000:8.0f} ms   "
          f"ratio {ours / theirs:.2f}   (target {target})")
