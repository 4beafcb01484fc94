"""``mlci check``, ``compare``, ``repro`` and ``validate``: compute a result here, write and print it.

The four differ only in which steps run (``compare``: no reproduction; ``repro``:
the repro section alone; ``validate``: the data section alone); set-up, output
files and printing are :mod:`mlci.commands.common`'s.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci.commands import common


@dataclass(frozen=True)
class Outputs:
    """What to print on stdout and which files to write (all optional)."""

    fmt: str = "text"
    output: str | None = None  # the result JSON
    html: str | None = None
    report: str | None = None  # the Markdown report


def check(
    *,
    config_path: str | None = None,
    base: str | None = None,
    head: str | None = None,
    repro: bool | None = None,
    verbose: bool = False,
    compare: bool = True,
    lock_status: bool = False,
    commit: bool = False,
    record: bool = False,
    out: Outputs = Outputs(),
) -> int:
    """``mlci check`` (and ``compare``, ``repro``): the gate on the work tree or ``head``.

    ``record``: then write the result as a git note on the head commit (the history).
    """
    from mlci.engine.check import CheckOptions, run_check
    from mlci.engine.progress import progress_for

    run = common.start(strict=False)
    opts = CheckOptions(
        config_path=config_path,
        base=base,
        head=head,
        repro=repro,
        verbose=verbose,
        compare=compare,
        lock_status=lock_status,
        commit=commit,
    )
    with progress_for(sys.stderr) as progress:
        result, cfg = run_check(opts, run.env, progress=progress, host=run.host)
    root = _root(opts.cwd)
    result = common.track(result, cfg, root, run.env, kind="check", verbose=verbose)
    code = _finish(result, cfg, root, out)
    if record:
        from mlci.engine import recording
        from mlci.model.errors import RunError

        try:
            sha = recording.record(result, root, worktree=head is None)
        except RunError as exc:
            if code == 0:
                raise  # asked to record and could not: the run did not finish (exit 3)
            # the gate is closed either way; exit 3 would hide that verdict behind the refusal
            common.say(f"mlci: {exc}", err=True)
            return code
        common.say(
            f"mlci: recorded the result as a git note on {sha[:7]} (refs/notes/mlci)", err=True
        )
    return code


def validate(
    *,
    config_path: str | None = None,
    base: str | None = None,
    head: str | None = None,
    verbose: bool = False,
    out: Outputs = Outputs(),
) -> int:
    """``mlci validate``: the data section alone."""
    from mlci.engine.check import CheckOptions, run_validate

    opts = CheckOptions(config_path=config_path, base=base, head=head, repro=False, verbose=verbose)
    result, cfg = run_validate(opts)
    return _finish(result, cfg, _root(opts.cwd), out)


def _root(cwd: Path) -> Path:
    from mlci.engine import project

    return project.root(cwd)


def _finish(result: Any, cfg: Any, root: Path, out: Outputs) -> int:
    common.write_reports(result, cfg, root, output=out.output, report=out.report, html=out.html)
    common.print_result(result, cfg, out.fmt, root, terminal=True)
    return common.exit_code(result)
