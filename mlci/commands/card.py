"""``mlci card``: the model card of any commit, without deploying it.

The same card ``mlci deploy`` writes for the version it promotes: the gate's
result for the commit (against the usual base), the data and code pinned in
its ``dvc.lock``, its params and packages, and its metrics against the
champion. The champion is the version this commit's own registered version
replaced when it was deployed, else the version holding the alias now. The
pipeline is not reproduced: the card describes what the commit holds.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlci.adapters import git
from mlci.adapters.mlflow import TAG, MlflowError, Tracker, Version
from mlci.commands import common
from mlci.configfile import load
from mlci.engine import card as gather_card
from mlci.engine import project
from mlci.engine.check import CheckOptions, run_check
from mlci.model.card import Champion, ModelCard
from mlci.model.config import Config
from mlci.model.errors import EXIT_PASS, RunError
from mlci.model.result import Context, MetricDelta, Result
from mlci.report import card as card_report


@dataclass(frozen=True)
class CardOptions:
    rev: str = "HEAD"
    cwd: Path = field(default_factory=Path.cwd)
    config_path: str | None = None
    base: str | None = None
    output: str | None = None
    verbose: bool = False


def now_utc() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def local_deployer(root: Path) -> str:
    """Who runs mlci outside GitHub Actions: the name git would write as a commit's author."""
    name = git.author_name(root)
    return f"{name} (local mlci run)" if name else "a local mlci run (no git identity set)"


def champion_of(version: Version | None) -> Champion | None:
    return Champion(version.version, version.sha, version.run_id) if version else None


def _challenge(
    tracker: Tracker, against: Version | None, result: Result, cfg: Config, root: Path
) -> tuple[tuple[MetricDelta, ...], str | None]:
    from mlci.commands.deploy import challenge

    # the same history (auto limits) as the deploy reads: the repository's, whatever the cwd
    deltas, refusals, notes = challenge(tracker, against, result, cfg, root)
    del refusals  # a card shows the comparison; deciding is deploy's job
    return tuple(deltas), "; ".join(notes) or None


def _branch_of(rev: str, sha: str, root: Path) -> str | None:
    """The branch ``rev`` names: the current one for HEAD, a branch name as given, or the
    local branch whose tip is ``sha``; None when no branch can be told (a bare sha, a tag)."""
    if rev == "HEAD":
        return git.current_branch(root)
    for ref in (f"refs/heads/{rev}", f"refs/remotes/origin/{rev}"):
        if git.resolve(ref, root) == sha:
            return rev
    if git.resolve("HEAD", root) == sha:
        return git.current_branch(root)
    return None


def _as_deployed(result: Result, version: Version) -> Result:
    """A deployed commit's card names the branch and CI run its version recorded."""
    tags = version.tags
    ctx = result.context
    head = dataclasses.replace(ctx.head, ref=tags.get(TAG + "git.branch") or ctx.head.ref)
    context = dataclasses.replace(ctx, head=head, run_url=tags.get(TAG + "run_url") or ctx.run_url)
    return dataclasses.replace(result, context=context)


def run_card(opts: CardOptions, env: Mapping[str, str] | None = None) -> int:
    from mlci.adapters import mlflow
    from mlci.commands.deploy import deploy_config

    run = common.start(env)
    env, event = run.env, run.event
    found = project.find(opts.cwd)
    cfg = load(opts.config_path, found.root, explicit=opts.config_path is not None)
    dep = deploy_config(cfg)
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
    head = dataclasses.replace(result.context.head, ref=_branch_of(opts.rev, sha, found.root))
    result = dataclasses.replace(result, context=dataclasses.replace(result.context, head=head))

    name, alias = str(dep.model_name), dep.alias
    fields: dict[str, object] = {}
    try:
        tracker = mlflow.connect(cfg, found.git_root, env, verbose=opts.verbose)
        mine = tracker.versions_of_commit(name, sha)
        if mine:
            # a deployed commit: its card compares it with the version it replaced back then
            replaced = mine[0].tags.get(TAG + "replaced_version")
            against = tracker.version(name, replaced) if replaced else None
            note = None if against else f"version {mine[0].version} replaced no version"
            fields["version"] = mine[0].version
            fields["mlflow_run_id"] = mine[0].run_id
            result = _as_deployed(result, mine[0])
            fields["model_sha256"] = mine[0].tags.get(TAG + "model.sha256")
        else:
            against = tracker.alias(name, alias)
            note = None
        deltas, challenge_note = _challenge(tracker, against, result, cfg, found.git_root)
        fields.update(
            champion=champion_of(against), challenge=deltas, challenge_note=note or challenge_note
        )
    except MlflowError as exc:  # a preview without the registry is still worth showing
        import click

        from mlci.model.fmt import one_line

        click.echo(f"mlci: warning: {one_line(str(exc))}", err=True)
        fields["challenge_note"] = f"the registry could not be read, so no champion is shown: {exc}"
    model_sha256 = fields.pop("model_sha256", None)
    card: ModelCard = gather_card.gather(
        result,
        cfg,
        project_root=found.root,
        git_root=found.git_root,
        lock_from_work_tree=False,
        model_name=name,
        alias=alias,
        made_at=now_utc(),
        **fields,  # type: ignore[arg-type]
    )
    if model_sha256:  # what was deployed, as the version recorded it
        card = dataclasses.replace(card, model_sha256=str(model_sha256))
    text = card_report.markdown(card, root=found.root)
    import click

    if opts.output:
        Path(opts.output).write_text(text, encoding="utf-8")
        click.echo(f"mlci: model card of {sha[:12]} written to {opts.output}", err=True)
    else:
        click.echo(text, nl=False)
    return EXIT_PASS
