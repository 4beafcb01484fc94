"""Reproduce the DVC pipeline on the work tree, and say what happened (``mlci repro``).

The order is the one a careful user would follow by hand: fetch from the DVC
remote what the pipeline needs (run-cache included), reproduce with DVC's own
machinery (:func:`mlci.dvc.reproduce`: stage skipping and run-cache restores
are DVC's), push new outputs when asked, then compare ``dvc.lock`` before and
after: a lock that reproduction changed means the committed results are not
the ones the committed code produces.

Each stage is streamed to the log as it runs (a folded group per stage on a CI
runner, through the host's log; plain lines elsewhere), and the last lines of a
failing stage's output are kept for the report. Nothing here renders the report.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from mlci.adapters import dvc, git
from mlci.engine import redact
from mlci.engine.step import Findings, Run, StepOutcome
from mlci.model.config import ReproConfig
from mlci.model.errors import RunError
from mlci.model.fmt import terminal_text, without_credentials
from mlci.model.paths import clean_path
from mlci.model.result import Reason, Repro, StageRun
from mlci.model.run import HostRun, Log

LOG_TAIL_LINES = 40


# --- the live log ---------------------------------------------------------------------


class StageLog(dvc.StageWatcher):
    """Streams stage events to ``stream`` and keeps each stage's last output lines.

    On a CI runner (``log.in_ci``) every stage is a group of the host's log,
    whose output the host reads as text only (on GitHub Actions its workflow
    commands are stopped, so a pipeline cannot set outputs or masks). Elsewhere
    a stage that runs gets a header line, its output indented, and an end line.

    Each output line loses the values of secret-looking variables (``redact``)
    and anything a terminal would act on before it is shown or kept.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        log: Log | None = None,
        tail_lines: int = LOG_TAIL_LINES,
        redact: Callable[[str], str] | None = None,
    ) -> None:
        self._stream = stream
        self._log = log if log is not None and log.in_ci else None
        self._redact = redact or (lambda text: text)
        self.tails: dict[str, str] = {}
        self._tail: deque[str] = deque(maxlen=tail_lines)
        self._name = ""
        self._cmd: str | None = None
        self._header_shown = False

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr  # looked up late: tests swap sys.stderr

    def _write(self, text: str) -> None:
        self.stream.write(terminal_text(text) + "\n")
        self.stream.flush()

    def stage_started(self, name: str, cmd: str | None) -> None:
        self._name, self._cmd = name, cmd
        self._tail.clear()
        self._header_shown = False
        if self._log is not None:
            self._log.group(f"stage {_one_line(name)}", quoted=True)
            self._header_shown = True

    def output(self, line: str) -> None:
        line = line.rsplit("\r", 1)[-1]  # a progress bar's last state, not every redraw
        line = terminal_text(self._redact(line))
        self._tail.append(line)
        if not self._header_shown:
            self._write(f"mlci: stage {self._name}: running")
            self._header_shown = True
        self._write(line if self._log is not None else f"    {line}")

    def stage_finished(self, outcome: StageRun, error: str | None = None) -> None:
        if self._tail:
            self.tails[outcome.name] = "\n".join(self._tail)
        if self._log is not None:
            self._log.endgroup()
        self._write(f"mlci: stage {outcome.name}: {describe_outcome(outcome, error)}")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def describe_outcome(o: StageRun, error: str | None = None) -> str:
    took = f" in {o.duration_s:.1f} s" if o.duration_s is not None else ""
    if o.status == "failed":
        code = f", exit code {o.exit_code}" if o.exit_code is not None else ""
        return f"failed{took}{code}: {error}"
    words = {
        "ran": "ran",
        "cached": "restored from run-cache",
        "unchanged": "unchanged",
        "restored": "restored from the DVC cache (data pulled, not recomputed)",
    }
    return words.get(o.status, o.status) + (
        took if o.status in ("ran", "cached", "restored") else ""
    )


# --- dvc.lock before and after --------------------------------------------------------


def _stage_files(plan: Iterable[Any], root: Path) -> list[Path]:
    """The lock files (``dvc.lock``, ``.dvc`` files) that record the planned stages."""
    files = []
    for stage in plan:
        path = Path(stage.path)
        files.append(path.with_name("dvc.lock") if path.name in ("dvc.yaml", "dvc.yml") else path)
    return sorted({f if f.is_absolute() else root / f for f in files})


def read_locks(files: Iterable[Path], root: Path) -> dict[str, dict[str, Any]]:
    """Stage name -> its lock entry, for every stage recorded in ``files``."""
    from mlci.model import yamlread

    entries: dict[str, dict[str, Any]] = {}
    for file in files:
        try:
            data = yamlread.load(file.read_bytes()) or {}
        except FileNotFoundError:
            continue
        except (OSError, yamlread.YamlRefused):
            data = {}
        rel = file.relative_to(root).as_posix() if file.is_relative_to(root) else str(file)
        if file.name == "dvc.lock":
            prefix = "" if rel == "dvc.lock" else rel[: -len("dvc.lock")] + "dvc.yaml:"
            for name, entry in (data.get("stages") or {}).items():
                entries[prefix + str(name)] = entry or {}
        else:
            entries[rel] = data if isinstance(data, dict) else {}
    return entries


def _by_path(items: Any) -> dict[str, Any]:
    if not isinstance(items, list):
        return {}
    # dvc.lock keeps paths as dvc.yaml wrote them (``./src/train.py``, ``eval/``)
    return {clean_path(str(i.get("path"))): i for i in items if isinstance(i, dict)}


def _flat_params(params: Any) -> dict[str, Any]:
    out = {}
    for file, values in (params or {}).items():
        for key, value in (values or {}).items() if isinstance(values, dict) else ():
            out[key if file == "params.yaml" else f"{file}:{key}"] = value
    return out


@dataclass(frozen=True)
class LockChange:
    stage: str
    what: tuple[str, ...]  # "outs model.pkl", "params train.C", "new stage", ...

    def describe(self) -> str:
        return f"{self.stage} ({', '.join(self.what)})"


def diff_locks(
    before: Mapping[str, dict[str, Any]], after: Mapping[str, dict[str, Any]]
) -> list[LockChange]:
    """The stages whose lock entries differ, and in what (outputs first)."""
    changes = []
    for name in list(dict.fromkeys([*before, *after])):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if old is None:
            changes.append(LockChange(name, ("not in dvc.lock before",)))
            continue
        if new is None:
            changes.append(LockChange(name, ("removed from dvc.lock",)))
            continue
        what = []
        for kind in ("outs", "deps"):
            o, n = _by_path(old.get(kind)), _by_path(new.get(kind))
            what += [f"{kind} {p}" for p in dict.fromkeys([*o, *n]) if o.get(p) != n.get(p)]
        o, n = _flat_params(old.get("params")), _flat_params(new.get("params"))
        what += [f"params {k}" for k in dict.fromkeys([*o, *n]) if o.get(k) != n.get(k)]
        if old.get("cmd") != new.get("cmd"):
            what.append("cmd")
        changes.append(LockChange(name, tuple(what) or ("entry",)))
    return changes


# --- where pushing is allowed ---------------------------------------------------------


# --- the step -------------------------------------------------------------------------


def _summary(stages: Iterable[StageRun]) -> str:
    from collections import Counter

    stages = list(stages)
    counts = Counter(s.status for s in stages)
    parts = [
        f"{counts[s]} {s}"
        for s in ("ran", "cached", "restored", "unchanged", "failed", "skipped")
        if counts[s]
    ]
    return f"{len(stages)} stage{'s' if len(stages) != 1 else ''}: {', '.join(parts) or 'nothing to do'}"


def _remote_text(remote: dvc.Remote) -> str:
    return f"DVC remote '{remote.name}' ({without_credentials(remote.url)})"


def reproduce(
    root: Path,
    cfg: ReproConfig,
    *,
    env: Mapping[str, str] | None = None,
    host: HostRun | None = None,
    log: StageLog | None = None,
    verbose: bool = False,
) -> StepOutcome:
    """Pull, reproduce, push and check ``dvc.lock`` on the work tree at ``root``.

    A configured but unreachable remote is a :class:`RunError` (exit 3) when
    ``repro.remote_unreachable`` is ``fail``; with ``warn`` every stage is
    computed here. A failing stage is a ``fail`` reason, not an exception, so
    later sections still run.
    """
    env = os.environ if env is None else env
    host = host or HostRun()
    if host.no_pr_code:
        why = host.no_pr_code
        return StepOutcome(notes=(f"not reproduced: {why}",), repro=Repro("skipped", message=why))
    if not dvc.is_dvc_repo(root):
        msg = "no DVC project (.dvc/): nothing to reproduce"
        return StepOutcome(repro=Repro(status="skipped", message=msg))
    if not cfg.targets and not any((root / name).is_file() for name in ("dvc.yaml", "dvc.yml")):
        # `dvc repro` would stop at the missing dvc.yaml; a data-only DVC repo has nothing to run
        return StepOutcome(
            repro=Repro(status="skipped", message="no dvc.yaml: nothing to reproduce")
        )
    log = log or StageLog(
        log=host.log,
        redact=redact.Redactor.from_env({**os.environ, **env}),
    )
    acc = Findings()
    started = time.monotonic()
    targets = list(cfg.targets)
    guarded = git.snapshot_git_files(root)  # the stages are the pull request's code
    with dvc.open_repo(root, verbose) as repo:
        remote = pull_remote(repo, cfg, targets, acc) if (cfg.pull or cfg.push) else None
        try:
            with dvc.quiet_dvc(verbose):
                plan = dvc.planned_stages(repo, targets)
        except Exception as exc:  # noqa: BLE001 - a bad dvc.yaml or unknown target is the PR's fault
            message = f"cannot plan the pipeline: {dvc.describe(exc)}"
            acc.reasons.append(Reason("repro", "fail", message))
            return acc.outcome(
                repro=Repro(
                    status="failed",
                    message=message,
                    duration_s=round(time.monotonic() - started, 2),
                )
            )
        if cfg.pull and remote is not None and remote.reachable:
            with dvc.quiet_dvc(verbose):
                absent = dvc.stages_without_outputs(plan)
            # data sources (`dvc add`) and imports have no command: what the remote lacks
            # cannot be computed here, and their stage fails with DVC's "missing data"
            by_name = {s.addressing: s for s in plan}
            sources = [a for a in absent if not getattr(by_name.get(a), "cmd", None)]
            computed = [a for a in absent if a not in sources]
            if computed:
                acc.notes.append(
                    f"outputs of {', '.join(computed)} recorded in dvc.lock are not on "
                    f"{_remote_text(remote)}: computed here"
                )
            for source in sources:
                acc.notes.append(
                    f"data of {source} is neither in the DVC cache nor on {_remote_text(remote)}: "
                    f"`dvc push` it from a clone that has it{_needed_by(plan, source)}"
                )
        lock_files = _stage_files(plan, root)
        before = read_locks(lock_files, root)
        run = dvc.reproduce(
            repo,
            targets,
            pull=bool(cfg.pull and remote and remote.reachable),
            watcher=log,
            verbose=verbose,
            stage_env=lambda stage_vars: redact.stage_env(stage_vars, cfg.pass_env),
            run_cache=cfg.run_cache,
            plan=plan,
        )
        after = read_locks(lock_files, root)
        # a data source that could not be restored fails on its own: name who needed it
        needing = {
            o.name: dvc.stages_needing(plan, o.name)
            for o in run.stages
            if o.status == "failed" and not o.cmd
        }
        if cfg.push and run.error is None:
            _push(repo, cfg, targets, remote, host.no_push, acc)

    # the report keeps the last lines of a failing stage's output
    stages = tuple(
        dataclasses.replace(o, log_tail=log.tails.get(o.name)) if o.status == "failed" else o
        for o in run.stages
    )
    _what_ran(acc, stages)
    failed = next((o for o in run.stages if o.status == "failed"), None)
    if failed is not None:
        if failed.exit_code is not None:
            msg = f"stage {failed.name} failed: `{failed.cmd}` exited with code {failed.exit_code}"
        else:
            msg = f"stage {failed.name} failed: {run.error}"
        parts = [f"needed by {', '.join(needing[failed.name])}"] if needing.get(failed.name) else []
        skipped = [s.name for s in stages if s.status == "skipped"]
        if skipped:
            parts.append(f"{len(skipped)} later stage{'s' if len(skipped) != 1 else ''} skipped")
        if parts:
            msg += f" ({'; '.join(parts)})"
        acc.reasons.append(Reason("repro", "fail", msg))
    elif run.error is not None:
        acc.reasons.append(Reason("repro", "fail", f"reproduction failed: {run.error}"))
    held = redact.withheld(os.environ, cfg.pass_env)
    if failed is not None and held:
        # the names only: a stage that needed one of them fails without saying why
        names = ", ".join(held[:8]) + (f" and {len(held) - 8} more" if len(held) > 8 else "")
        acc.notes.append(
            f"stages ran without the secret-looking variables {names}; "
            "list the ones a stage needs in repro.pass_env"
        )

    changes = diff_locks(before, after)
    if changes:
        listed = "; ".join(c.describe() for c in changes[:10])
        more = f"; and {len(changes) - 10} more" if len(changes) > 10 else ""
        message = (
            f"reproduction changed dvc.lock — the committed results are not the reproduced ones: "
            f"{listed}{more}. Commit dvc.lock and the outputs"
        )
        if cfg.require_committed_lock != "off":
            acc.reasons.append(Reason("repro", cfg.require_committed_lock, message))
        acc.notes.append(
            "metrics and params are compared from the reproduced work tree, "
            "not from the committed files"
        )

    tampered = git.changed_git_files(guarded)
    if tampered:
        git.restore_git_files(guarded)
        shown = ", ".join(tampered[:6]) + (
            f" and {len(tampered) - 6} more" if len(tampered) > 6 else ""
        )
        acc.reasons.append(
            Reason(
                "repro",
                "fail",
                f"the pipeline changed git's own files ({shown}): a stage must not touch what "
                "tells git what to run; mlci put them back, ran none of it, and the gate stays "
                "closed",
            )
        )
    failed_run = failed is not None or run.error is not None or bool(tampered)
    status = "failed" if failed_run else "ran"
    return acc.outcome(
        repro=Repro(
            status=status,
            stages=stages,
            lock_changed=bool(changes),
            duration_s=round(time.monotonic() - started, 2),
            message=_summary(stages),
        )
    )


# said when nothing could be pulled, then made true by what ran (see _what_ran)
_COMPUTED = "every stage computed here"


def _needed_by(plan: list[Any], source: str) -> str:
    names = dvc.stages_needing(plan, source)
    return f"; needed by {', '.join(names)}" if names else ""


def _what_ran(acc: Findings, stages: tuple[StageRun, ...]) -> None:
    """ "every stage computed here" only when every stage was: else name the ones that were.

    Stages with a command count: a data source (``dvc add``) is never computed.
    """
    commanded = [s for s in stages if s.cmd]
    ran = [s.name for s in commanded if s.status == "ran"]
    if ran and len(ran) == len(commanded):
        return
    if ran:
        said = f"computed here: {', '.join(ran)}"
    elif any(s.status in ("failed", "skipped") for s in stages):
        said = "no stage computed"  # one failed before any ran (not "none needed it")
    else:
        said = "no stage needed computing"
    acc.notes[:] = [n.replace(_COMPUTED, said) for n in acc.notes]
    acc.reasons[:] = [
        dataclasses.replace(r, message=r.message.replace(_COMPUTED, said))
        if _COMPUTED in r.message
        else r
        for r in acc.reasons
    ]


def pull_remote(
    repo: Any, cfg: ReproConfig, targets: list[str], acc: Findings
) -> dvc.Remote | None:
    """Probe the default remote and fetch from it (outputs and run-cache), as a check does before
    reproducing; ``mlci sweep`` calls it once for all its experiments. The remote, or None when
    none is set."""
    remote = dvc.default_remote(repo)
    if remote is None:
        if cfg.pull:
            named = dvc.remotes_configured(repo)
            acc.notes.append(
                f"DVC remotes {', '.join(named)} are configured but none is the default "
                "(dvc remote default NAME): nothing pulled"
                if named
                else f"no DVC remote configured: nothing pulled, {_COMPUTED}"
            )
        return None
    if remote.reachable and cfg.pull:
        try:
            missing = dvc.fetch(repo, targets, run_cache=cfg.run_cache)
        except Exception as exc:  # noqa: BLE001 - reachable a moment ago: network, permissions
            remote = dvc.Remote(remote.name, remote.url, False, dvc.describe(exc))
        else:
            if missing:
                acc.notes.append(
                    f"{missing} file{'s' if missing != 1 else ''} could not be "
                    f"downloaded from {_remote_text(remote)}"
                )
            return remote
    if not remote.reachable and cfg.pull:
        message = f"{_remote_text(remote)} is unreachable: {remote.error}"
        if cfg.remote_unreachable == "fail":
            raise RunError(
                f"{message} (repro.remote_unreachable is 'fail'; set it to 'warn' "
                "to reproduce without the remote)"
            )
        acc.reasons.append(Reason("repro", "warn", f"{message}; nothing pulled, {_COMPUTED}"))
    return remote


def _push(
    repo: Any,
    cfg: ReproConfig,
    targets: list[str],
    remote: dvc.Remote | None,
    why_not: str | None,
    acc: Findings,
) -> None:
    if why_not:
        acc.notes.append(f"outputs not pushed: {why_not} has a read-only token")
        return
    if remote is None:
        acc.notes.append("outputs not pushed: no default DVC remote")
        return
    try:
        pushed = dvc.push(repo, targets)
    except Exception as exc:  # noqa: BLE001 - pushing is a convenience, never the verdict
        acc.reasons.append(
            Reason(
                "repro", "warn", f"pushing to {_remote_text(remote)} failed: {dvc.describe(exc)}"
            )
        )
        return
    acc.notes.append(f"pushed {pushed} file{'s' if pushed != 1 else ''} to {_remote_text(remote)}")


class ReproStep:
    """Reproduce the work tree first, when asked (``--repro``) or configured (``repro.enabled``)."""

    def run(self, run: Run) -> StepOutcome:
        opts, target = run.opts, run.target
        if not run.repro_wanted:
            why = "--no-repro" if opts.repro is False else "repro.enabled is false"
            return StepOutcome(repro=Repro(status="skipped", message=f"not reproduced ({why})"))
        if not target.head_is_worktree:
            return StepOutcome(
                notes=(
                    f"not reproduced: --head {target.head_ref} is a commit, and mlci "
                    "reproduces only the work tree (nothing else is checked out)",
                ),
                repro=Repro(
                    status="skipped",
                    message="--head names a commit; only the work tree is reproduced",
                ),
            )
        # no spinner while stages run: their output streams to the terminal
        outcome = reproduce(
            target.root, run.cfg.repro, env=run.env, host=run.host, verbose=opts.verbose
        )
        if opts.compare:
            return outcome
        # `mlci repro` compares nothing: it must not say what metrics are compared from
        notes = tuple(n for n in outcome.notes if not n.startswith("metrics and params"))
        return dataclasses.replace(outcome, notes=notes)
