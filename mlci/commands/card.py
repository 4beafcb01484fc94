"""``mlci card``: the model card of any commit, without deploying it.

The same card ``mlci deploy`` writes for the version it promotes: the gate's
result for the commit (against the usual base), the data and code pinned in
its ``dvc.lock``, its params and packages, and its metrics against the
champion. The champion is the version this commit's own registered version
replaced when it was deployed, else the version holding the alias now. The
pipeline is not reproduced: the card describes what the commit holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlci.adapters import git
from mlci.commands import common
from mlci.configfile import load
from mlci.engine import card as gather_card
from mlci.engine import challenger, project
from mlci.engine.check import CheckOptions, run_check
from mlci.model.errors import EXIT_PASS, RunError
from mlci.model.result import Context
from mlci.report import card as card_report


@dataclass(frozen=True)
class CardOptions:
    rev: str = "HEAD"
    cwd: Path = field(default_factory=Path.cwd)
    config_path: str | None = None
    base: str | None = None
    output: str | None = None
    verbose: bool = False


def run_card(opts: CardOptions, env: Mapping[str, str] | None = None) -> int:
    run = common.start(env)
    env, event = run.env, run.event
    found = project.find(opts.cwd)
    cfg = load(opts.config_path, found.root, explicit=opts.config_path is not None)
    dep = challenger.deploy_config(cfg)
    sha = git.resolve(opts.rev, found.root)
    if sha is None:
        raise RunError(f"unknown revision '{opts.rev}'")
    check = CheckOptions(
        cwd=opts.cwd,
        config_path=opts.config_path,
        base=opts.base,
        head=sha,
        repro=False,
        verbose=opts.verbose,
    )
    context = Context(repo=event.repository, event=event.name or "local")
    result, cfg = run_check(check, env, context=context, cfg=cfg)
    gathered = gather_card.of_commit(
        result,
        cfg,
        dep,
        rev=opts.rev,
        sha=sha,
        project_root=found.root,
        git_root=found.git_root,
        env=env,
        verbose=opts.verbose,
    )
    import click

    if gathered.warning is not None:
        from mlci.model.fmt import one_line

        click.echo(f"mlci: warning: {one_line(gathered.warning)}", err=True)
    text = card_report.markdown(gathered.card, root=found.root)
    if opts.output:
        Path(opts.output).write_text(text, encoding="utf-8")
        click.echo(f"mlci: model card of {sha[:12]} written to {opts.output}", err=True)
    else:
        click.echo(text, nl=False)
    return EXIT_PASS
