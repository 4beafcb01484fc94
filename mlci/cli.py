"""The command line: parse options, call one function per command, return its exit code.

Only click is imported at start-up; each command imports what it needs, so
``mlci --help`` and ``mlci --version`` stay as fast as click itself.
Errors are caught once, in :func:`main`.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import click

from mlci import __version__
from mlci.commands.common import CONTEXT_VARS, TOKEN_OPTION_VAR, TOKEN_VAR
from mlci.commands.helpdocs import DocumentedGroup
from mlci.model.errors import EXIT_PASS, EXIT_RUNTIME, EXIT_USAGE, MlciError


def _stack(*options: Callable[..., Any]) -> Callable[..., Any]:
    """One decorator applying ``options`` in the order listed (the order ``--help`` shows)."""

    def apply(func: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            func = option(func)
        return func

    return apply


config_option = click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="Config file [default: mlci.yaml at the repository root].",
)
verbose_option = click.option(
    "-v", "--verbose", is_flag=True, help="More detail; tracebacks on errors."
)


def format_option(**kw: Any) -> Callable[..., Any]:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "markdown", "json"]),
        default="text",
        show_default=True,
        **kw,
    )


def token_option(what: str) -> Callable[..., Any]:
    return click.option(
        "--github-token",
        metavar="TOKEN",
        envvar=TOKEN_OPTION_VAR,
        show_envvar=True,
        help=f"Token for {what} [default: ${TOKEN_VAR}].",
    )


repro_option = click.option(
    "--repro/--no-repro",
    default=None,
    help="Reproduce the DVC pipeline first [default: repro.enabled].",
)


@dataclass(frozen=True)
class Common:
    """The values of the options every computing command shares (:func:`common_options`)."""

    config_path: str | None
    base: str | None
    head: str | None
    fmt: str
    output: str | None
    html_path: str | None
    report: str | None
    verbose: bool

    def check_args(self) -> dict[str, Any]:
        """The arguments of ``commands.check``'s entry points these options give."""
        from mlci.commands.check import Outputs

        out = Outputs(fmt=self.fmt, output=self.output, html=self.html_path, report=self.report)
        return {
            "config_path": self.config_path,
            "base": self.base,
            "head": self.head,
            "verbose": self.verbose,
            "out": out,
        }


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options every computing command shares (README: "Commands"), as one :class:`Common`."""

    @functools.wraps(func)
    def command(**kw: Any) -> Any:
        shared = {name: kw.pop(name) for name in Common.__dataclass_fields__}
        return func(Common(**shared), **kw)

    return _stack(
        config_option,
        click.option("--base", metavar="REF", help="Base revision to compare with."),
        click.option(
            "--head", metavar="REF", help="Head revision [default: the work tree, as it is now]."
        ),
        format_option(help="What to print on stdout."),
        click.option("--output", metavar="FILE", help="Write the result JSON to FILE."),
        click.option(
            "--html",
            "html_path",
            metavar="FILE",
            help="Write the HTML report (self-contained, interactive plots, every row) to FILE.",
        ),
        click.option(
            "--report", metavar="FILE", help="Write the Markdown report (the PR comment) to FILE."
        ),
        verbose_option,
    )(command)


@click.group(cls=DocumentedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="mlci", message="%(prog)s %(version)s")
def cli() -> None:
    """mlci: CI/CD for ML repositories (DVC, Great Expectations, MLflow).

    Compares the metrics and params of a change with its base branch, gates
    it under per-metric rules and reports the result.
    """


@cli.command()
@common_options
@repro_option
@click.option(
    "--lock-status",
    is_flag=True,
    help="Instead of reproducing (implies --no-repro): check that dvc.lock is up to "
    "date, as `dvc status` would (severity: repro.require_committed_lock). "
    "The pre-push hook uses it.",
)
@click.option(
    "--record",
    is_flag=True,
    help="Write the result as a git note on the head commit (refs/notes/mlci), the history "
    "later checks read; refused when the compared tree is not that commit's.",
)
def check(common: Common, repro: bool | None, lock_status: bool, record: bool) -> int:
    """Compare the work tree (or --head) with the base revision, gate and report."""
    if lock_status:
        if repro:
            raise click.UsageError(
                "--lock-status checks dvc.lock instead of reproducing: "
                "drop --repro or --lock-status"
            )
        repro = False
    from mlci.commands.check import check as run

    return run(**common.check_args(), repro=repro, lock_status=lock_status, record=record)


@cli.command()
@common_options
def compare(common: Common) -> int:
    """Only compare metrics and params with the base revision (no reproduction)."""
    from mlci.commands.check import check as run

    return run(**common.check_args(), repro=False)


@cli.command()
@common_options
@click.option(
    "-S",
    "--set-param",
    "grid",
    multiple=True,
    required=True,
    metavar="PARAM=V1,V2",
    help="A param and the values to try (repeat for a grid: every combination runs).",
)
def sweep(common: Common, grid: tuple[str, ...]) -> int:
    """Run a grid of params as DVC experiments on the head and judge each against the base.

    The work tree, params.yaml and dvc.lock are left as they were; at most
    sweep.max_experiments experiments run.
    """
    if common.head:
        raise click.UsageError("a sweep runs on the work tree's head: drop --head")
    from mlci.commands.sweep import sweep as run

    args = common.check_args()
    del args["head"]
    return run(**args, grid=grid)


github_options = _stack(
    click.option(
        "--publish/--no-publish",
        default=True,
        show_default=True,
        help="Comment, set the status and the check run on GitHub.",
    ),
    token_option("the GitHub API"),
)


@cli.command(
    help="Run the check inside GitHub Actions and publish it (comment, status, summary, outputs)."
    f"\n\nReads the event from the standard Actions variables ({CONTEXT_VARS})."
)
@common_options
@repro_option
@github_options
def ci(common: Common, repro: bool | None, publish: bool, github_token: str | None) -> int:
    from mlci.commands.ci import run_ci
    from mlci.commands.common import ci_options

    return run_ci(
        ci_options(
            config_path=common.config_path,
            base=common.base,
            head=common.head,
            repro=repro,
            verbose=common.verbose,
            publish=publish,
            output=common.output,
            report=common.report,
            fmt=common.fmt,
            github_token=github_token,
            html=common.html_path,
        )
    )


@cli.command(name="publish")
@click.argument("result_file", metavar="RESULT.json")
@click.option(
    "--config", "config_path", metavar="PATH", help="Config file of the trusted checkout."
)
@format_option()
@token_option("the GitHub API")
@click.option("-v", "--verbose", is_flag=True)
def publish_cmd(
    result_file: str, config_path: str | None, fmt: str, github_token: str | None, verbose: bool
) -> int:
    """Publish a result computed elsewhere (the trusted half of the fork-safe flow)."""
    from mlci.commands.common import ci_options
    from mlci.commands.publish import run_publish

    opts = ci_options(
        config_path=config_path, repro=False, verbose=verbose, fmt=fmt, github_token=github_token
    )
    return run_publish(result_file, opts)


@cli.command()
@common_options
@click.option(
    "--commit",
    is_flag=True,
    help="After a successful reproduction, commit the changed dvc.lock and the outputs git "
    "tracks on the current branch (`dvc push` first when a remote is set; no git push).",
)
def repro(common: Common, commit: bool) -> int:
    """Only reproduce the DVC pipeline (pull, repro, push as configured) and report each stage."""
    from mlci.commands.check import check as run

    return run(**common.check_args(), repro=True, compare=False, commit=commit)


@cli.group()
def hook() -> None:
    """The git pre-push hook that runs `mlci check` before every push.

    A closed gate (exit 1) blocks the push; when mlci cannot check (exit 2
    or 3) it warns and lets the push through, unless installed with --strict.
    Skip it with `git push --no-verify` or MLCI_SKIP=1.
    """


@hook.command("install")
@click.option(
    "--strict",
    is_flag=True,
    help="Also block the push when mlci cannot check it (config error, DVC failure).",
)
def hook_install(strict: bool) -> int:
    """Install the pre-push hook (keeps and still runs an existing hook)."""
    from mlci.commands import hook as hook_mod

    return hook_mod.install_command(strict=strict)


@hook.command("uninstall")
def hook_uninstall() -> int:
    """Remove the pre-push hook and restore the hook it replaced."""
    from mlci.commands import hook as hook_mod

    return hook_mod.uninstall_command()


@hook.command("run")
@click.argument("remote", required=False)
@click.argument("url", required=False)
@click.option("--strict", is_flag=True, help="Exit 2/3 block the push too.")
@click.option(
    "--pre-commit",
    "pre_commit",
    is_flag=True,
    help="Read the push from pre-commit's PRE_COMMIT_* variables instead of stdin.",
)
def hook_run(remote: str | None, url: str | None, strict: bool, pre_commit: bool) -> int:
    """What the hook runs: check the branches on stdin (git's pre-push input)."""
    from mlci.commands import hook as hook_mod

    return hook_mod.run_command(remote, url, strict=strict, pre_commit=pre_commit)


@cli.group()
def history() -> None:
    """The results history (git notes under refs/notes/mlci) between this clone and a remote.

    `git clone` brings no notes: fetch them to see trends and `auto` rules in a local
    check; push what `mlci check --record` wrote.
    """


@history.command("fetch")
@click.option("--remote", default="origin", show_default=True, help="The git remote.")
def history_fetch(remote: str) -> int:
    """Fetch the remote's refs/notes/mlci and merge it into this clone's."""
    from mlci.commands import history as history_mod

    return history_mod.fetch_command(remote)


@history.command("push")
@click.option("--remote", default="origin", show_default=True, help="The git remote.")
def history_push(remote: str) -> int:
    """Push this clone's refs/notes/mlci (the remote's are merged first, never overwritten)."""
    from mlci.commands import history as history_mod

    return history_mod.push_command(remote)


@cli.command("init")
@click.option("--force", is_flag=True, help="Overwrite mlci.yaml and the workflow if they exist.")
@click.option(
    "--action",
    default="mlci/mlci@v0",
    show_default=True,
    metavar="OWNER/REPO@REF",
    help="The action the workflow uses.",
)
@click.option(
    "--python",
    "python_version",
    metavar="VERSION",
    help="Python version for the workflow [default: this Python's].",
)
@click.option("--no-workflow", is_flag=True, help="Write mlci.yaml only.")
def init_cmd(force: bool, action: str, python_version: str | None, no_workflow: bool) -> int:
    """Write mlci.yaml and .github/workflows/mlci.yml from the repo's dvc.yaml."""
    from mlci.commands.init import init_command

    return init_command(
        force=force, action=action, python_version=python_version, workflow=not no_workflow
    )


@cli.command()
@config_option
def doctor(config_path: str | None) -> int:
    """Say what a run would need and lacks: history, base, DVC remote, MLflow, GitHub token.

    Exit 0 when nothing required is missing, 3 otherwise. Offline-safe: no
    fetch, no GitHub API call; remote and MLflow checks time out after 2 s.
    """
    from mlci.commands import doctor as doctor_mod

    return doctor_mod.doctor_command(config_path)


@cli.command()
@common_options
def validate(common: Common) -> int:
    """Only validate the data (Great Expectations) and diff it with the base revision."""
    from mlci.commands.check import validate as run

    return run(**common.check_args())


@cli.command()
@click.option(
    "--environment",
    "-e",
    required=True,
    metavar="NAME",
    help="The environment deployed to (GitHub Deployment environment), e.g. production.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Deploy even if this commit is not the tip of its branch (the gate still applies).",
)
@config_option
@click.option(
    "--base", metavar="REF", help="Base revision of the gate [default: the push's before, ...]."
)
@click.option("--output", metavar="FILE", help="Write the gate's result JSON to FILE.")
@token_option("recording the GitHub Deployment")
@verbose_option
@repro_option
def deploy(
    environment: str,
    force: bool,
    config_path: str | None,
    base: str | None,
    output: str | None,
    github_token: str | None,
    verbose: bool,
    repro: bool | None,
) -> int:
    """Re-check the gate for this commit, compare with the champion, promote the model (MLflow)."""
    from mlci.commands.deploy import deploy_command

    return deploy_command(
        environment=environment,
        config_path=config_path,
        base=base,
        repro=repro,
        verbose=verbose,
        force=force,
        output=output,
        github_token=github_token,
    )


@cli.command()
@click.option(
    "--environment", "-e", required=True, metavar="NAME", help="The environment to roll back."
)
@config_option
@token_option("recording the GitHub Deployment")
@verbose_option
def rollback(
    environment: str, config_path: str | None, github_token: str | None, verbose: bool
) -> int:
    """Move the model's alias back to the previous version (exit 3 if there is none)."""
    from mlci.commands.deploy import RollbackOptions, run_rollback

    return run_rollback(
        RollbackOptions(
            environment=environment,
            config_path=config_path,
            github_token=github_token,
            verbose=verbose,
        )
    )


@cli.command()
@click.option(
    "--rev",
    default="HEAD",
    show_default=True,
    metavar="REV",
    help="The commit to describe (read from git; the work tree is not used).",
)
@config_option
@click.option("--base", metavar="REF", help="Base revision of the gate shown on the card.")
@click.option("--output", metavar="FILE", help="Write the card to FILE instead of stdout.")
@verbose_option
def card(
    rev: str, config_path: str | None, base: str | None, output: str | None, verbose: bool
) -> int:
    """Print the model card (Markdown) that deploy would write for a commit, without deploying."""
    from mlci.commands.card import CardOptions, run_card

    return run_card(
        CardOptions(rev=rev, config_path=config_path, base=base, output=output, verbose=verbose)
    )


def _for_log(message: str) -> str:
    """An error message quotes input (a key of a result file, a path): on a runner, text only."""
    from mlci.commands.common import for_log

    return for_log(message)


def _clean(text: str) -> str:
    from mlci.model.fmt import terminal_text

    return terminal_text(text)


def _one_line(text: str) -> str:
    """An error message quotes input (a key, a ref, a file's text): one line, nothing a terminal runs."""
    from mlci.model.fmt import one_line

    return one_line(text)


def pause_gc_at_startup(seconds: float = 2.0) -> Any:
    """Keep Python's cycle collector off for the first ``seconds`` of this process.

    Start-up imports DVC, click and mlci: about 80,000 objects that live until the
    process ends, which the collector would scan again and again while they are
    created (a tenth of the CPU of ``mlci check --no-repro``). After ``seconds`` they
    are frozen (never scanned again) and the collector runs as usual, so a long run
    (a reproduction, a large data check) keeps its memory in bounds. At exit they are
    frozen too: the interpreter's last collections would scan them only to free memory
    the process gives back anyway (~5 % of a check's instructions). Only the console
    script does this; a program that calls :func:`main` keeps its own settings.
    Returns the timer, already started.
    """
    import atexit
    import gc
    import threading

    def resume() -> None:
        gc.freeze()
        gc.enable()

    atexit.register(gc.freeze)
    gc.disable()
    timer = threading.Timer(seconds, resume)
    timer.daemon = True  # the process never waits for it to exit
    timer.start()
    return timer


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 pass/warn, 1 fail, 2 usage, 3 could not finish)."""
    if argv is None:  # the console script (or python -m mlci): this process is mlci's alone
        pause_gc_at_startup()
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in args or "--verbose" in args
    try:
        code = cli.main(args=args, prog_name="mlci", standalone_mode=False)
    except click.exceptions.Exit as exc:  # --help, --version
        return int(exc.exit_code or 0)
    except click.ClickException as exc:
        import io

        shown = io.StringIO()
        exc.show(file=shown)  # quotes what was typed: no control character reaches the terminal
        click.echo(_clean(shown.getvalue()), err=True, nl=False)
        return EXIT_USAGE if exc.exit_code == 2 else int(exc.exit_code)
    except click.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            click.echo("mlci: interrupted", err=True)
            return 130
        click.echo("Aborted.", err=True)
        return EXIT_RUNTIME
    except MlciError as exc:
        if verbose:
            import traceback

            click.echo(_for_log(_clean(traceback.format_exc())), err=True, nl=False)
        click.echo(_for_log(f"mlci: error: {_one_line(str(exc))}"), err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("mlci: interrupted", err=True)
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug: say so, with the traceback
        import traceback

        click.echo(_for_log(_clean(traceback.format_exc())), err=True, nl=False)
        message = f"mlci: internal error: {type(exc).__name__}: {_one_line(str(exc))}"
        click.echo(_for_log(message), err=True)
        return EXIT_RUNTIME
    if code is None:
        return EXIT_PASS
    return int(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
