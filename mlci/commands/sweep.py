"""``mlci sweep -S PARAM=V1,V2 [-S ...]``: a grid of params as DVC experiments, each judged.

The engine (:mod:`mlci.engine.sweep`) runs the grid and judges every experiment
against the base by the check's rules; this module writes the result JSON and the
reports and prints the table. One line per experiment goes to stderr as it runs.
The exit code is the head's own verdict (``mlci check --no-repro``): a failing
experiment is a row of the table, not a closed gate.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlci.commands import common


def sweep(
    *,
    grid: Sequence[str],
    config_path: str | None = None,
    base: str | None = None,
    verbose: bool = False,
    out: object = None,
) -> int:
    """Run the grid on the work tree's head; write and print the result."""
    from mlci.engine import project
    from mlci.engine.step import CheckOptions
    from mlci.engine.sweep import run_sweep

    run = common.start(strict=False)
    opts = CheckOptions(config_path=config_path, base=base, repro=False, verbose=verbose)
    result, cfg = run_sweep(opts, grid, run.env, say=lambda line: common.say(line, err=True))
    root = project.root(opts.cwd)
    fmt_name = getattr(out, "fmt", "text")
    common.write_reports(
        result,
        cfg,
        root,
        output=getattr(out, "output", None),
        report=getattr(out, "report", None),
        html=getattr(out, "html", None),
    )
    common.print_result(result, cfg, fmt_name, root, terminal=True)
    return common.exit_code(result)
