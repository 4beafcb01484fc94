"""What every command starts from, and the output files it writes, written once.

:func:`start` reads the environment once: the code host's run context (built by
the forge, :mod:`mlci.forge`), the log, and the host's rules for the engine
(:class:`mlci.model.run.HostRun`). :func:`load_project` finds the project and its
config. :func:`write_file` and :func:`write_reports` write the result JSON, the
Markdown report and the HTML report with one error behaviour: a path that
cannot be written is a usage error naming the file (exit 2), never a traceback.
:class:`CiOptions` are the options ``mlci ci`` and ``mlci publish`` share, and
:func:`record_and_push` notes a result in the history and pushes it. Commands
import no other command module: what two of them need lives here or in the engine.

Imported when a command runs, not by ``mlci --help``: heavy modules stay inside
the functions.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci import forge as forges
from mlci.model.errors import EXIT_FAIL, EXIT_PASS, ConfigError

if TYPE_CHECKING:  # the CLI imports this module for --help: the model's types stay unloaded
    from mlci.engine.check import CheckOptions
    from mlci.model.config import Config
    from mlci.model.result import Context, EventRevisions, Result
    from mlci.model.run import HostEvent, HostRun

# The CLI's --github-token option and help name the forge's variables (the CLI imports no forge).
TOKEN_OPTION_VAR = forges.TOKEN_OPTION_VAR
TOKEN_VAR = forges.TOKEN_VAR
CONTEXT_VARS = forges.CONTEXT_VARS


@dataclass(frozen=True)
class CiOptions:
    check: CheckOptions
    publish: bool = True
    output: str | None = None
    report: str | None = None
    fmt: str = "text"
    github_token: str | None = None
    html: str | None = None  # the HTML report; in CI it is written by default, for upload


def ci_options(
    *,
    config_path: str | None = None,
    base: str | None = None,
    head: str | None = None,
    repro: bool | None = None,
    verbose: bool = False,
    **kw: Any,
) -> CiOptions:
    """The options of ``mlci ci`` and ``mlci publish`` from the command line's values."""
    from mlci.engine.check import CheckOptions

    check = CheckOptions(
        config_path=config_path, base=base, head=head, repro=repro, verbose=verbose
    )
    return CiOptions(check=check, **kw)


@dataclass(frozen=True)
class Start:
    """The environment of one command run, read once and passed down as values.

    Commands decide from :attr:`event` (host-neutral values); ``ctx`` is the host's
    own context, only ever handed back to the forge.
    """

    env: Mapping[str, str]
    forge: Any  # the code host (mlci.forge.Forge), GitHub today
    ctx: Any  # the host's run context, opaque here
    log: Any  # the host's log (mlci.model.run.Log)
    host: HostRun  # the host's rules for the engine

    @functools.cached_property
    def event(self) -> HostEvent:
        """What started the run (read when a command asks: a local check never needs it)."""
        return self.forge.event(self.ctx)  # type: ignore[no-any-return]

    def summary(self, markdown: str) -> None:
        """Add to the run's summary page (nothing outside the host's CI)."""
        self.forge.append_summary(self.ctx, markdown)

    def outputs(self, values: Mapping[str, str | None]) -> None:
        """Set the step's outputs (nothing outside the host's CI)."""
        self.forge.write_outputs(self.ctx, values)


def start(
    env: Mapping[str, str] | None = None, *, token: str | None = None, strict: bool = True
) -> Start:
    """Environment, run context, log and the host's rules.

    ``strict``: an unreadable event payload is an error (commands that act on the
    event); a local command only needs to know it cannot tell (see forge).
    """
    env = os.environ if env is None else env
    host = forges.current(env)
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


# A CI log (GitHub Actions, GitLab, ...) does not wrap lines and is read in a wide window: a
# table there is as wide as its content up to this, not folded at the fixed 100 columns.
CI_LOG_WIDTH = 240


def _terminal_width(terminal: bool = True) -> int | None:
    """The terminal's width when stdout is one and ``terminal``; :data:`CI_LOG_WIDTH` in a CI
    log (``$CI`` set, as every CI service does); else None (the report's fixed width of 100)."""
    import shutil
    import sys

    if terminal and sys.stdout.isatty():
        return max(60, shutil.get_terminal_size((100, 24)).columns)
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        return CI_LOG_WIDTH
    return None


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
        width=_terminal_width(terminal),
    )
    quoted = log.quoted(sys.stdout) if log is not None and fmt_name != "json" else nullcontext()
    with quoted:
        click.echo(text, nl=False, color=color if terminal else None)


def for_log(message: str, env: Mapping[str, str] | None = None) -> str:
    """An error message quotes input (a key of a result file, a path): on a runner it is text only."""
    env = os.environ if env is None else env
    host = forges.current(env)
    return host.log_safe(message) if host.running_here(env) else message


def report_text(cfg: Any, root: Path | None) -> Any:
    """What the forge publishes with: the report rendered for ``cfg``'s status context."""
    from mlci.report.comment import ReportText

    return ReportText(cfg.report.status_context, root)


def track(result: Any, cfg: Any, root: Path, env: Mapping[str, str], **kw: Any) -> Any:
    """Log the result to MLflow when configured, with its Markdown report (see adapters.mlflow)."""
    from mlci.adapters import mlflow

    return mlflow.track(result, cfg, root, env, report=lambda res: markdown(res, cfg, root), **kw)


# --- a run in the host's CI: what ci, publish and deploy share ---------------------------


def ensure_commit(sha: str, root: Path, log: Any) -> None:
    """The base commit is often missing from a shallow PR checkout: fetch it, don't fail."""
    from mlci.adapters import git
    from mlci.model.errors import RunError

    if git.resolve(sha, root):
        return
    shallow = git.output(["rev-parse", "--is-shallow-repository"], root) == "true"
    log.info(
        f"mlci: fetching base commit {sha[:7]} (not in this {'shallow ' if shallow else ''}checkout)"
    )
    if not git.fetch("origin", sha, root, depth=1 if shallow else None):
        raise RunError(
            f"the base commit {sha[:7]} is not in the checkout and `git fetch origin {sha[:7]}` failed; "
            "use actions/checkout with fetch-depth: 0"
        )


def check_in_ci(
    run: Start,
    check: CheckOptions,
    cfg: Config,
    root: Path,
    *,
    title: str,
    context: Context,
    event: EventRevisions,
) -> tuple[Result, Config]:
    """The check as a CI job runs it (``mlci ci`` and ``mlci deploy``): the event's base
    fetched when the checkout lacks it, the history earlier runs recorded fetched from
    origin, then :func:`run_check` inside one folded group of the log."""
    from mlci.engine.check import run_check

    base_sha = run.event.revisions.base_sha
    if base_sha and not check.base:
        ensure_commit(base_sha, root, run.log)
    fetch_history(root, run.log)  # the history that trends and noise-aware rules read
    run.log.group(title)
    try:
        return run_check(check, run.env, context=context, cfg=cfg, event=event, host=run.host)
    finally:
        run.log.endgroup()


def fetch_history(root: Path, log: Any) -> None:
    """The notes earlier runs recorded on origin: the base's history (the hook never fetches)."""
    from mlci.adapters import git, notes
    from mlci.model.errors import RunError

    if git.remote_url("origin", root) is None:
        return
    try:
        notes.fetch(root)
    except RunError as exc:
        log.warning(f"cannot fetch the results history ({notes.REF}) from origin: {exc}")


def record_history(run: Start, result: Any, cfg: Any, root: Path, *, worktree: bool) -> None:
    """On a push to the default branch (``history.record``), note the result and push the notes."""
    if not cfg.history.record or run.event.no_history:
        return
    record_and_push(result, root, worktree=worktree, info=run.log.info)


def label_may_act(
    client: Any, pr: int | None, label: str, log: Any
) -> tuple[bool, str | None, str]:
    """Whether ``label`` on PR ``pr`` may act: its most recent applier has write access.

    Asked of the code host now, not taken from the event; anything that cannot be asked
    (no token, an outage) counts as no. Returns (may act, who applied it, why not).
    """
    from mlci.forge import PublishError

    if client is None or pr is None:
        return (
            False,
            None,
            f"the '{label}' label is ignored: without a token mlci cannot ask who applied it",
        )
    try:
        trust = client.label_trust(pr, label)
    except PublishError as exc:
        why = f"the '{label}' label is ignored: cannot ask who applied it ({exc})"
        log.warning(why)
        return False, None, why
    if trust.honoured:
        return True, trust.actor, ""
    return False, trust.actor, trust.why_ignored()


def record_and_push(
    result: Result,
    root: Path,
    *,
    worktree: bool,
    info: Callable[[str], None],
    remote: str = "origin",
) -> bool:
    """Record and push the notes; a refusal or a failed push is said, never raised.

    History is a by-product of a run on the default branch: losing one note must
    not turn a passing job red.
    """
    from mlci.adapters import notes
    from mlci.engine import recording
    from mlci.model.errors import RunError

    try:
        sha = recording.record(result, root, worktree=worktree)
    except RunError as exc:
        info(f"mlci: the result is {exc}")
        return False
    try:
        attempts = notes.push(root, remote)
    except RunError as exc:
        info(f"mlci: recorded on {sha[:7]} but could not push {notes.REF}: {exc}")
        return False
    merged = f" (merged another run's notes, {attempts} attempts)" if attempts > 1 else ""
    info(f"mlci: recorded the result on {sha[:7]} and pushed {notes.REF} to {remote}{merged}")
    return True


def apply_label_override(
    result: Any,
    cfg: Any,
    labels: tuple[str, ...],
    client: Any,
    pr: int | None,
    log: Any,
) -> Any:
    """With ``gate.override_label`` on the PR, failures become warnings; the report says who.

    Only a label whose last applier has write, maintain or admin counts; another one is
    named in the report's notes and changes nothing.
    """
    label = cfg.gate.override_label
    if not label or label not in labels or result.verdict != "fail":
        return result
    from mlci.engine import gate

    honoured, by, why = label_may_act(client, pr, label, log)
    if not honoured:
        log.annotate("warning", why)
        return dataclasses.replace(result, notes=(*result.notes, why))
    log.annotate(
        "warning",
        f"the '{label}' label is on the PR{' (applied by ' + by + ')' if by else ''}: "
        "failures are reported as warnings",
    )
    return gate.apply_override(result, {"label": label, "by": by, "reason": None, "at": None})


def write_ci_files(
    run: Start,
    result: Any,
    cfg: Any,
    root: Path,
    *,
    output: str | None = None,
    report: str | None = None,
) -> tuple[Path, Path]:
    """Result file, report file, job summary and annotations: written before any network call.

    Without a path, the files go to the runner's scratch folder, else to ``.git/mlci``.
    """
    from mlci.adapters import git

    out_dir = (run.event.temp_dir or git.common_dir(root)) / "mlci"
    out_dir.mkdir(parents=True, exist_ok=True)
    result_path = Path(output) if output else out_dir / "mlci-result.json"
    report_path = Path(report) if report else out_dir / "mlci-report.md"
    text = write_reports(result, cfg, root, output=result_path, report=report_path)
    assert text is not None  # a report path was given
    run.summary(text)
    for reason in result.reasons:
        level = "error" if reason.severity == "fail" else "warning"
        run.log.annotate(
            level,
            reason.message,
            file=reason.file,
            line=reason.line,
            title=f"mlci: {reason.section}",
        )
    return result_path, report_path


def publish(
    run: Start,
    result: Any,
    cfg: Any,
    client: Any,
    *,
    pr: int | None,
    head_sha: str | None,
    run_url: str | None,
    root: Path | None,
    files: Mapping[str, str],
    artifacts: Mapping[str, str] | None = None,
    without_token: str,
    not_publishing: str | None = None,
) -> None:
    """Comment, status and check run, then the step's outputs whatever happened.

    Publishing problems are warnings (and a note in the job summary): the verdict
    stands. ``root``: where the report's repository templates are (None: mlci's own).
    ``not_publishing``: the line logged instead, when publishing is off.
    """
    comment_url = None
    try:
        if not_publishing:
            run.log.info(not_publishing)
        elif client is None:
            run.log.warning(f"{run.forge.NO_TOKEN}: {without_token}")
        else:
            published = run.forge.publish_result(
                result,
                cfg,
                client,
                run.log,
                pr=pr,
                head_sha=head_sha,
                run_url=run_url,
                text=report_text(cfg, root),
            )
            comment_url = published.comment_url
            if published.problems:
                lines = "\n".join(f"- {p}" for p in published.problems)
                run.summary(f"\n> [!WARNING]\n> mlci could not publish everything:\n\n{lines}\n")
    finally:
        run.outputs(
            {
                "verdict": result.verdict,
                **files,
                "comment-url": comment_url or "",
                **(artifacts or {}),
            }
        )


def notes_count(root: str | Path) -> int:
    """How many commits carry an mlci note in this clone (0 without ``refs/notes/mlci``)."""
    from mlci.adapters import git, notes

    if not notes.has_notes(root):
        return 0
    listed = git.output(["notes", f"--ref={notes.REF}", "list"], root)
    return sum(1 for line in listed.splitlines() if line.strip())
