"""`mlci check` with reproduction against the hand-written DVC commands it replaces.

On the example project, reproduced and committed, with a local DVC remote that
holds every output and the run-cache (the fully cached case every PR after the
first one meets):

    mlci check --base main        (repro enabled, pull on)
against
    dvc pull && dvc repro && dvc metrics diff main && dvc params diff main
                                                                   target ratio <= 0.8

mlci does it in one process with one DVC repo object; the reference starts
DVC four times, and each start scans the repository again.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _common import BIN, example_repo, report, run, side_by_side


def cached_example(where: Path) -> Path:
    repo = example_repo(where)
    storage = where / "dvc-storage"
    storage.mkdir()
    for cmd in (
        f"dvc remote add -d storage {storage}",
        "dvc push -q --run-cache",
        "git add -A",
        "git commit -q -m 'DVC remote'",
    ):
        proc = run(cmd, repo, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"setting up the remote failed at `{cmd}`:\n{proc.stderr.decode()}")
    return repo


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = cached_example(Path(tmp))
        check = run([str(BIN / "mlci"), "check", "--base", "main", "--format", "json"], repo)
        if (
            b'"status": "unchanged"' not in check.stdout
            or b'"status": "ran",\n      "duration' in check.stdout
        ):
            raise SystemExit(
                "the example is not fully cached: mlci reproduced something\n"
                + check.stdout.decode()
            )
        ours, ref = side_by_side(
            [str(BIN / "mlci"), "check", "--base", "main"],
            "dvc pull -q && dvc repro -q && dvc metrics diff main && dvc params diff main",
            repo,
        )
        report(
            "(c) mlci check (repro, fully cached) vs dvc pull && dvc repro && "
            "dvc metrics diff && dvc params diff",
            ours,
            ref,
            "<= 0.8",
        )


if __name__ == "__main__":
    main()
