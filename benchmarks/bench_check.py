"""Start-up and `mlci check --no-repro` against their hand-written equivalents.

(a) `mlci --version` against `python -c "import click"`        target ratio <= 1.5
(b) `mlci check --no-repro` on the example (examples/project: data checks, a DVC-tracked
    data folder) against `dvc metrics diff main --json && dvc params diff main --json`
                                                                target ratio <= 0.5
(c) the same on a repository shaped like DVC's get-started, built here: dvc-add'ed data,
    four stages, metrics as cached outputs, a dvclive ROC plot  target ratio <= 0.5

Wall-clock medians of interleaved runs (the verdict) and CPU medians (what each command
costs, apart from the wait for a core on a shared machine).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import (
    BIN,
    ROOT,
    example_repo,
    get_started_repo,
    report,
    side_by_side,
    side_by_side_cpu,
)

REFERENCE = "dvc metrics diff main --json && dvc params diff main --json"


def main() -> int:
    py = sys.executable
    ours, ref = side_by_side(
        [str(BIN / "mlci"), "--version"], [py, "-c", "import click"], ROOT, repeat=10
    )
    report("(a) mlci --version vs python -c 'import click'", ours, ref, "<= 1.5")
    missed = ours / ref > 1.5
    with tempfile.TemporaryDirectory() as tmp:
        for label, build in (
            ("(b) example project", example_repo),
            ("(c) get-started-like repo", get_started_repo),
        ):
            repo = build(Path(tmp))
            (wa, ca), (wb, cb) = side_by_side_cpu(
                [str(BIN / "mlci"), "check", "--no-repro", "--base", "main"], REFERENCE, repo
            )
            report(
                f"{label}: mlci check --no-repro vs dvc metrics diff + dvc params diff",
                wa,
                wb,
                "<= 0.5",
                cpu=(ca, cb),
            )
            missed = missed or wa / wb > 0.5
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
