"""DVC experiments: ``dvc exp run --temp --set-param`` and ``dvc exp apply``, in process.

A sweep runs each grid point in a temporary copy of the repository
(``tmp_dir=True``): DVC stashes the work tree's state, runs the pipeline in a
folder under ``.dvc/tmp/exps`` with the same cache (so what was pulled and the
run-cache serve every experiment), commits the result to ``refs/exps/...``
and leaves the work tree, ``params.yaml`` and ``dvc.lock`` as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlci.adapters.dvc.repo import DvcError, describe, open_repo


@dataclass(frozen=True)
class ExperimentRun:
    """One experiment: its commit, or why it did not finish."""

    name: str
    sha: str | None
    error: str | None = None


def run_experiment(
    root: Path,
    name: str,
    set_params: Sequence[str],
    *,
    targets: Sequence[str] = (),
    run_cache: bool = True,
    verbose: bool = False,
) -> ExperimentRun:
    """``dvc exp run --temp --name NAME --set-param P=V ...`` (an earlier one of that name is
    replaced); a failed pipeline is an outcome, not an exception."""
    with open_repo(root, verbose) as repo:
        try:
            done = repo.experiments.run(
                targets=list(targets) or None,
                params=list(set_params),
                tmp_dir=True,
                name=name,
                force=True,
                run_cache=run_cache,
            )
        except Exception as exc:  # noqa: BLE001 - a stage failed, a param is unknown, ...
            return ExperimentRun(name, None, _why(exc))
    sha = next(iter(done), None) if done else None
    if sha is None:
        return ExperimentRun(name, None, "DVC reported no experiment commit")
    return ExperimentRun(name, str(sha))


def _why(exc: BaseException) -> str:
    """DVC's message, with the cause it wraps ("Failed to reproduce experiment" says little)."""
    parts = [describe(exc)]
    cause = exc.__cause__ or exc.__context__
    while cause is not None and len(parts) < 3:
        parts.append(describe(cause))
        cause = cause.__cause__ or cause.__context__
    return ": ".join(dict.fromkeys(p for p in parts if p))


def apply_experiment(root: Path, sha: str, *, verbose: bool = False) -> None:
    """``dvc exp apply``: the experiment's params, ``dvc.lock`` and outputs into the work tree."""
    with open_repo(root, verbose) as repo:
        try:
            repo.experiments.apply(sha)
        except Exception as exc:  # noqa: BLE001 - any failure: the adopt did not happen
            raise DvcError(f"`dvc exp apply` failed: {describe(exc)}") from exc
