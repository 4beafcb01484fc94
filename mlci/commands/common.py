"""What every command starts from, and the output files it writes, written once.

:func:`start` reads the environment once: the code host's run context (built by
the forge, :mod:`mlci.forge`), the log, and the host's rules for the engine
(:class:`mlci.model.run.HostRun`). :func:`load_project` finds the project and its
config. :func:`write_file` and :func:`write_reports` write the result JSON, the
Markdown report and the HTML report with one error behaviour: a path that
cannot be written is a usage error naming the file (exit 2), never a traceback.

Imported when a command runs, not by ``mlci --help``: heavy modules stay inside
the functions.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci.forge.github import actions as github_actions
from mlci.model.errors import EXIT_FAIL, EXIT_PASS, ConfigError
from mlci.model.run import HostRun

# The CLI's --github-token option and help name the forge's variables (the CLI imports no forge).
TOKEN_OPTION_VAR = github_actions.TOKEN_OPTION_VAR
TOKEN_VAR = github_actions.TOKEN_VAR
CONTEXT_VARS = github_actions.CONTEXT_VARS


@dataclass(frozen=True)
class Start:
    """The environment of one command run, read once and passed down as values."""

    env: Mapping[str, str]
    forge: Any  # the code host (mlci.forge.Forge), GitHub today
    ctx: Any  # the host's run context (forge.github.actions.ActionsContext)
    log: Any  # the host's log (mlci.model.run.Log)
    host: HostRun  # the host's rules for the engine


def start(
    env: Mapping[str, str] | None = None, *, token: str | None = None, strict: bool = True
) -> Start:
    """Environment, run context, log and the host's rules.

    ``strict``: an unreadable event payload is an error (commands that act on the
    event); a local command only needs to know it cannot tell (see forge).
    """
    from mlci import forge

    env = os.environ if env is None else env
    host = forge.current(env)
    ctx = host.context(env, token=token, strict=strict)
    log = host.log(ctx)
    return Start(env=env, forge=host, ctx=ctx, log=log, host=host.rules(ctx, log))


def load_project(cwd: Path, config_path: str | None) -> tuple[Any, Any]:
    """The project around ``cwd`` and its config: (``engine.project.Project``, ``Config``)."""
    from mlci.engine import project

    return project.load_config(cwd, config_path)


def exit_code(result: Any) -> int:
    """A closed gate is exit 1; pass and warn are 0."""
    return EXIT_FAIL if result.verdict == "fail" else EXIT_PASS


# --- output files -----------------------------------------------------------------------


def write_file(path: str | Path, text: str) -> Path:
    """Write an output file; a path that cannot be written is a usage error naming it."""
    file = Path(path)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write: {exc.strerror or exc}", file=str(path)) from exc
    return file


def markdown(result: Any, cfg: Any, root: Path | None) -> str:
    """The Markdown report (the PR comment's text); ``root``: where repository templates are."""
    from mlci.report import render

    return render.markdown(result, status_context=cfg.report.status_context, root=root)


def write_reports(
    result: Any,
    cfg: Any,
    root: Path | None,
    *,
    output: str | Path | None = None,
    report: str | Path | None = None,
    html: str | Path | None = None,
) -> str | None:
    """The result JSON, the Markdown report and the HTML report, each where asked.

    Returns the Markdown when it was rendered (the job summary reuses it).
    """
    text = None
    if output:
        write_file(output, result.to_json())
    if report:
        text = markdown(result, cfg, root)
        write_file(report, text)
    if html:
        from mlci.report.html import html as render_html

        write_file(html, render_html(result, root=root))
    return text


# --- stdout -----------------------------------------------------------------------------


def say(text: str, *, err: bool = False, nl: bool = True) -> None:
    """A line for the user; nothing a terminal would act on gets through."""
    import click

    from mlci.model.fmt import terminal_text

    click.echo(terminal_text(text), err=err, nl=nl)


def _terminal_width() -> int | None:
    """The terminal's width when stdout is one (else None: the report's fixed width of 100)."""
    import shutil
    import sys

    if not sys.stdout.isatty():
        return None
    return max(60, shutil.get_terminal_size((100, 24)).columns)


def print_result(
    result: Any,
    cfg: Any,
    fmt_name: str,
    root: Path | None,
    *,
    terminal: bool = False,
    log: Any = None,
) -> None:
    """The report on stdout in ``fmt_name``.

    ``terminal``: coloured and as wide as the terminal when stdout is one (local
    commands). ``log``: on a CI runner the report holds PR text, so the host's
    log reads it as text only (JSON never starts a line with a command and stays pure).
    """
    import sys
    from contextlib import nullcontext

    import click

    from mlci.report import render

    color = terminal and fmt_name == "text" and sys.stdout.isatty()
    text = render.for_stdout(
        result,
        fmt_name,
        status_context=cfg.report.status_context,
        root=root,
        color=color,
        width=_terminal_width() if terminal else None,
    )
    quoted = log.quoted(sys.stdout) if log is not None and fmt_name != "json" else nullcontext()
    with quoted:
        click.echo(text, nl=False, color=color if terminal else None)


def for_log(message: str, env: Mapping[str, str] | None = None) -> str:
    """An error message quotes input (a key of a result file, a path): on a runner it is text only."""
    from mlci import forge

    env = os.environ if env is None else env
    host = forge.current(env)
    return host.log_safe(message) if host.running_here(env) else message


def report_text(cfg: Any, root: Path | None) -> Any:
    """What the forge publishes with: the report rendered for ``cfg``'s status context."""
    from mlci.report.comment import ReportText

    return ReportText(cfg.report.status_context, root)


def track(result: Any, cfg: Any, root: Path, env: Mapping[str, str], **kw: Any) -> Any:
    """Log the result to MLflow when configured, with its Markdown report (see adapters.mlflow)."""
    from mlci.adapters import mlflow

    return mlflow.track(result, cfg, root, env, report=lambda res: markdown(res, cfg, root), **kw)
