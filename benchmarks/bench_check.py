"""Start-up and `mlci check --no-repro` against their hand-written equivalents.

(a) `mlci --version` against `python -c "import click"`        target ratio <= 1.5
(b) `mlci check --no-repro` on the example against
    `dvc metrics diff main --json && dvc params diff main --json` target ratio <= 0.8
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import BIN, ROOT, example_repo, report, side_by_side


def main() -> None:
    py = sys.executable
    ours, ref = side_by_side([str(BIN / "mlci"), "--version"], [py, "-c", "import click"], ROOT, repeat=10)
    report("(a) mlci --version vs python -c 'import click'", ours, ref, "<= 1.5")
    with tempfile.TemporaryDirectory() as tmp:
        repo = example_repo(Path(tmp))
        ours, ref = side_by_side(
            [str(BIN / "mlci"), "check", "--no-repro", "--base", "main"],
            "dvc metrics diff main --json && dvc params diff main --json",
            repo,
        )
        report("(b) mlci check --no-repro vs dvc metrics diff + dvc params diff", ours, ref, "<= 0.8")


if __name__ == "__main__":
    main()
