"""``dvc repro`` in process, with what happened to each stage and its output streamed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from mlci.adapters.dvc import _compat
from mlci.adapters.dvc.repo import describe, quiet_dvc
from mlci.model.result import StageRun

# --- reproduction -----------------------------------------------------------------
#
# ``dvc repro`` in process. DVC's ``Repo.reproduce`` plans the stages, skips the
# unchanged ones and restores from the run-cache exactly as the command does;
# mlci only hooks two places to learn what happened to each stage:
#
# * ``repro_fn``, the per-stage function ``Repo.reproduce`` accepts, wraps DVC's
#   own ``_reproduce_stage`` to time each stage and see whether it returned
#   (something was done) or not (unchanged);
# * ``dvc.stage.run.cmd_run``, the one place DVC starts a stage's command, is
#   swapped while reproducing for a copy that captures the combined output
#   (streamed line by line to a watcher) — a stage that returned without its
#   command being run was restored from the run-cache.


class StageWatcher:
    """Receives reproduction events as they happen; the default does nothing."""

    def stage_started(self, name: str, cmd: str | None) -> None:
        """A stage is being looked at (it may still turn out unchanged)."""

    def output(self, line: str) -> None:
        """One line of the running command's combined stdout and stderr."""

    def stage_finished(self, outcome: StageRun, error: str | None = None) -> None:
        """The stage is done: ran, restored, unchanged or failed (then ``error`` says why)."""


@dataclass(frozen=True)
class ReproRun:
    """The outcome of :func:`reproduce`: one entry per planned stage, in order."""

    stages: tuple[StageRun, ...]
    error: str | None = None  # set when reproduction failed (a stage, or before any)


def _cmd_text(stage: Any) -> str | None:
    cmd = getattr(stage, "cmd", None)
    if not cmd:
        return None
    return cmd if isinstance(cmd, str) else " && ".join(cmd)


def stages_without_outputs(plan: Iterable[Any]) -> list[str]:
    """Planned stages whose recorded (``dvc.lock``) cached outputs are not in the local cache."""
    missing = []
    for stage in plan:
        outs = [o for o in stage.outs if o.use_cache and o.hash_info]
        try:
            if outs and not stage.outs_cached():
                missing.append(stage.addressing)
        except Exception:  # noqa: BLE001 - a question for a note, never a failure
            continue
    return missing


def stages_needing(plan: Iterable[Any], name: str) -> list[str]:
    """The planned stages with a dependency on an output of stage ``name`` (in plan order).

    A data source (``dvc add``) the remote lacks fails on its own; the report
    names the stages that needed it, which are the ones a reader knows.
    """
    import os

    plan = list(plan)
    source = next((s for s in plan if s.addressing == name), None)
    if source is None:
        return []
    outs = [str(o.fs_path) for o in source.outs]
    needing = []
    for stage in plan:
        if stage is source:
            continue
        for dep in stage.deps:
            path = str(getattr(dep, "fs_path", ""))
            # a dependency on the output, a file inside it, or a folder holding it
            if path and any(
                path == o or path.startswith(o + os.sep) or o.startswith(path + os.sep)
                for o in outs
            ):
                needing.append(stage.addressing)
                break
    return needing


def planned_stages(repo: Any, targets: Iterable[str]) -> list[Any]:
    """The stages ``dvc repro TARGETS`` would look at, in the order it would."""
    return _compat.planned_stages(repo, list(targets))


def _run_streaming(argv: list[str], popen_kwargs: dict[str, Any], watcher: StageWatcher) -> int:
    """Run one stage command, passing each output line on; returns its exit code.

    Like DVC's own runner, the parent does not die on Ctrl-C while the command
    runs (the terminal sends SIGINT to the command too): it waits for the
    command to end, then raises KeyboardInterrupt, so the repository is left as
    an interrupted ``dvc repro`` leaves it.
    """
    import signal
    import subprocess
    import threading

    interrupted: list[int] = []
    main_thread = threading.current_thread() is threading.main_thread()
    old_handler: Any = None
    # The handler goes in before the command starts: a Ctrl-C that reaches mlci between the
    # two would otherwise raise at once, with the command still running. (A Python handler
    # is not inherited across exec: the command gets the default SIGINT.)
    if main_thread:
        old_handler = signal.signal(signal.SIGINT, lambda signum, frame: interrupted.append(signum))
    proc: Any = None
    try:
        proc = subprocess.Popen(  # noqa: S603 - the stage's own command, as DVC runs it
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **popen_kwargs
        )
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            watcher.output(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
        proc.wait()
    finally:
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()
        if main_thread and old_handler is not None:
            signal.signal(signal.SIGINT, old_handler)
    if interrupted:
        raise KeyboardInterrupt
    return proc.returncode


def _restore(stage: Any, upstream: list[Any] | None) -> bool:
    """Check out a stage that is unchanged but for its missing data; True when it was.

    This is what ``Stage.reproduce`` does under ``dvc repro --pull`` (a stage
    that ``changed()`` only because its outputs are missing is pulled and
    checked out instead of run), split in two: the caller fetched from the
    remote beforehand, so here the stage is only checked out of the cache
    (``Repo.checkout``, the second half of ``Repo.pull``). It matters most for
    data sources (``dvc add``) and imports, which have no command: without it
    a fresh clone fails with "missing data 'source'". A stage whose data the
    cache lacks raises ``CheckoutError``: it is then reproduced as DVC would.
    """
    from dvc.exceptions import CheckoutError

    if all(out.exists for out in stage.outs):
        # Nothing to check out: the two questions below would give False (checking out
        # cannot make a present output less changed), and each costs a full status.
        return False
    if not stage.changed(False, upstream) or stage.changed(True, upstream):
        return False  # nothing to do, or really changed: DVC decides
    try:
        stage.repo.checkout(targets=[stage.addressing])
    except CheckoutError:
        return False
    return not stage.changed(False, upstream)


def reproduce(
    repo: Any,
    targets: Iterable[str],
    *,
    pull: bool,
    watcher: StageWatcher,
    verbose: bool = False,
    stage_env: Callable[[dict[str, str]], dict[str, str]] | None = None,
    run_cache: bool = True,
    plan: list[Any] | None = None,
) -> ReproRun:
    """``dvc repro [--pull] TARGETS`` in process, reporting each stage to ``watcher``.

    ``pull``: stages whose inputs changed may restore a matching run-cache entry
    whose outputs are only on the remote (``dvc repro --pull``). Stages that are
    unchanged except for missing outputs are not pulled one by one: the caller
    fetched first, and what the remote lacked is recomputed instead of failing.
    ``stage_env`` filters the environment each stage command runs with.
    ``run_cache=False``: ``dvc repro --no-run-cache``, a changed stage always runs.
    ``plan``: what :func:`planned_stages` gave for ``targets`` (planned again when not given).
    """
    import time

    from dvc.exceptions import DvcException, ReproductionError
    from dvc.stage.exceptions import StageCmdFailedError

    targets = list(targets)
    outcomes: dict[str, StageRun] = {}
    errors: dict[str, str] = {}  # a failed stage's name -> why
    current: dict[str, Any] = {}

    def cmd_run(stage: Any, dry: bool = False, run_env: Any = None) -> None:
        # A copy of dvc.stage.run.cmd_run that captures the output.
        commands = _compat.stage_commands(stage)
        kwargs = _compat.stage_popen_kwargs(stage, run_env)
        if stage_env is not None:  # DVC hands a stage all of mlci's environment, tokens included
            kwargs["env"] = stage_env(kwargs["env"])
        current["ran"] = True
        for cmd in commands:
            if dry:
                continue
            watcher.output(f"> {cmd}")
            code = _run_streaming(_compat.stage_argv(cmd), kwargs, watcher)
            if code != 0:
                current["exit_code"] = code
                current["failed_cmd"] = cmd
                raise StageCmdFailedError(cmd, code)

    def repro_fn(stage: Any, **kwargs: Any) -> Any:
        name = stage.addressing
        cmd = _cmd_text(stage)
        current.clear()
        watcher.stage_started(name, cmd)
        started = time.monotonic()
        try:
            # restoring reads the cache and may reach the remote: a failure there is this
            # stage's, and the report names it (not a bare "reproduction failed")
            if not kwargs.get("force") and _restore(stage, kwargs.get("upstream")):
                outcome = StageRun(name, "restored", round(time.monotonic() - started, 3), cmd)
                outcomes[name] = outcome
                watcher.stage_finished(outcome)
                return None
            # Only a changed stage pulls (a run-cache entry's outputs); an unchanged
            # one with missing outputs was restored above when the cache had them, and
            # what the remote lacks is computed rather than failing the way
            # `dvc repro --pull` does.
            kwargs["pull"] = pull and run_cache and stage.changed(True, kwargs.get("upstream"))
            ret = _compat.reproduce_stage(stage, **kwargs)
        except Exception as exc:
            outcome = StageRun(
                name,
                "failed",
                round(time.monotonic() - started, 3),
                current.get("failed_cmd", cmd),
                current.get("exit_code"),
            )
            outcomes[name] = outcome
            errors[name] = describe(exc)
            watcher.stage_finished(outcome, errors[name])
            raise
        if ret is None:
            status = "unchanged"
        elif current.get("ran") or not cmd or stage.frozen:
            status = "ran"
        else:
            status = "cached"
        outcome = StageRun(name, status, round(time.monotonic() - started, 3), cmd)
        outcomes[name] = outcome
        watcher.stage_finished(outcome)
        return ret

    error: str | None = None
    planned = plan
    plan = []
    try:
        with quiet_dvc(verbose), _compat.stage_runner(cmd_run):
            plan = planned if planned is not None else planned_stages(repo, targets)
            # pull=False here: the run-cache was fetched already (repro_fn decides per stage)
            repo.reproduce(targets or None, repro_fn=repro_fn, pull=False, run_cache=run_cache)
    except ReproductionError as exc:
        error = next(iter(errors.values()), None) or describe(exc.__cause__ or exc)
    except DvcException as exc:  # before any stage: a bad dvc.yaml, an unknown target, a cycle
        error = describe(exc)
    stages = []
    for stage in plan:
        name = stage.addressing
        stages.append(outcomes.get(name) or StageRun(name, "skipped", None, _cmd_text(stage)))
    return ReproRun(tuple(stages), error)
