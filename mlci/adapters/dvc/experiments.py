"""DVC experiments: ``dvc exp run --temp --set-param``, and params set as it sets them.

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


def set_params(root: Path, set_params: Sequence[str]) -> list[str]:
    """Write ``FILE:KEY=VALUE`` into the params files of the work tree, as ``--set-param``
    does; returns the files changed (relative to ``root``)."""
    from dvc.utils.hydra import apply_overrides

    by_file: dict[str, list[str]] = {}
    for item in set_params:
        left, _, value = item.partition("=")
        file, _, key = left.rpartition(":")
        by_file.setdefault(file or "params.yaml", []).append(f"{key}={value}")
    for file, overrides in by_file.items():
        path = (root / file).resolve()
        if not path.is_relative_to(root.resolve()) or not path.is_file():
            raise DvcError(f"{file} is not a params file of this project")
        try:
            apply_overrides(str(path), overrides)
        except Exception as exc:  # noqa: BLE001 - an unknown key, a file DVC cannot write
            raise DvcError(f"cannot set {', '.join(overrides)} in {file}: {describe(exc)}") from exc
    return list(by_file)
