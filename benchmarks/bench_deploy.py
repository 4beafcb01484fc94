"""What MLflow costs a check, and what a deploy costs next to a check.

(c) `mlci check --no-repro` with MLflow tracking (a run logged to a SQLite
    store) against the same check without tracking            no target: informative
(d) `mlci deploy` (the gate, champion/challenger, a logged run; the alias
    already on this commit, so nothing is registered) against the tracked check
                                                               no target: informative

The SQLite store is created by the warm-up run (its migrations take seconds
once), so the numbers are for an existing store.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _common import BIN, example_repo, report, run, side_by_side


def main() -> None:
    mlci = str(BIN / "mlci")
    with tempfile.TemporaryDirectory() as tmp:
        repo = example_repo(Path(tmp))
        store = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        tracked = f"MLFLOW_TRACKING_URI={store} {mlci} check --no-repro --base main"
        untracked = f"{mlci} check --no-repro --base main"
        ours, ref = side_by_side(tracked, untracked, repo)
        report(
            "(c) mlci check --no-repro, tracked in MLflow vs not tracked", ours, ref, "informative"
        )
        deploy = f"MLFLOW_TRACKING_URI={store} {mlci} deploy -e bench --base main --no-repro"
        first = run(deploy, repo)
        if first.returncode != 0:
            raise SystemExit(
                f"the first deploy failed:\n{first.stdout.decode()}\n{first.stderr.decode()}"
            )
        ours, ref = side_by_side(deploy, tracked, repo)
        report(
            "(d) mlci deploy (alias already on this commit) vs tracked mlci check",
            ours,
            ref,
            "informative",
        )


if __name__ == "__main__":
    main()
