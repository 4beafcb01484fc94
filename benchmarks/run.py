"""Run every benchmark in this folder, one after the other (`make bench`).

Prints the machine and its load first, and at the end which benchmarks missed
their target (a benchmark's exit code says so; one that exits does not stop the rest).

    python benchmarks/run.py [NAME ...]     e.g. run.py action hook
"""

from __future__ import annotations

import os
import platform
import runpy
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main() -> int:
    wanted = sys.argv[1:]
    scripts = [
        s
        for s in sorted(HERE.glob("bench_*.py"))
        if not wanted or s.stem.removeprefix("bench_") in wanted
    ]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f} at the start"
    )
    codes: dict[str, int] = {}
    for script in scripts:
        print(f"\n== {script.name}", flush=True)
        start = time.perf_counter()
        argv = sys.argv
        sys.argv = [str(script)]
        try:
            runpy.run_path(str(script), run_name="__main__")
            code = 0
        except SystemExit as exc:
            if isinstance(exc.code, str):  # sys.exit("message"): a benchmark that could not run
                print(exc.code)
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = argv
        codes[script.name] = code
        print(
            f"-- {script.name}: {time.perf_counter() - start:.0f} s, "
            f"{'target met' if code == 0 else f'TARGET MISSED (exit {code})'}",
            flush=True,
        )
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    missed = [name for name, code in codes.items() if code]
    print("every target met" if not missed else f"missed: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
