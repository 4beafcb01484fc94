"""``mlci deploy`` and ``mlci rollback``: promote a model only when it passed, and go back.

``deploy`` re-checks the gate for this commit against its base (a push's
``before``, ``--base``, the config, the default branch; reproducing the
pipeline first when repro is on, as ``check`` does), compares the
candidate with the model version holding the alias (champion/challenger,
same rules), and only when both pass registers ``deploy.model_path`` as a
new version, moves the alias to it and keeps the old one as ``previous``.
Every attempt is logged as an MLflow run; a refusal changes nothing in the
registry. In GitHub Actions each decision is recorded as a Deployment with
a status. ``rollback`` moves the alias back to ``previous``.

Races: read-champion / compare / register / move-alias runs under
:func:`mlci.adapters.mlflow.alias_lock` (an flock for a store on this
machine). A tracking server allows no lock, so the candidate is registered as
a claim on the alias and only the first claim for the same champion moves it
(:meth:`mlci.adapters.mlflow.Tracker.first_claim`); the loser says which
version won. See the README for what that guarantees.

The judgement is the engine's (:mod:`mlci.engine.challenger`), and so are the
registration (:mod:`mlci.engine.promotion`) and the card's gathering
(:mod:`mlci.engine.card`): this module sets up, calls them and reports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlci.adapters import git
from mlci.adapters.mlflow import PREVIOUS_ALIAS, TAG, MlflowError, Tracker, Version
from mlci.commands import common
from mlci.configfile import load
from mlci.engine import card as gather_card
from mlci.engine import challenger, project, promotion
from mlci.engine.check import CheckOptions
from mlci.model import fmt
from mlci.model.config import Config, DeployConfig
from mlci.model.errors import EXIT_FAIL, EXIT_PASS, ConfigError, RunError
from mlci.model.result import Context, MetricDelta, Result
from mlci.model.run import Log
from mlci.report import render, terminal, view

DEFAULT_LOCK_TIMEOUT = 600.0


@dataclass(frozen=True)
class DeployOptions:
    environment: str
    check: CheckOptions = field(default_factory=CheckOptions)
    force: bool = False
    output: str | None = None
    github_token: str | None = None


@dataclass(frozen=True)
class RollbackOptions:
    environment: str
    cwd: Path = field(default_factory=Path.cwd)
    config_path: str | None = None
    github_token: str | None = None
    verbose: bool = False


@dataclass
class Outcome:
    """What a deploy decided: refusals (empty when promoted) and the versions involved."""

    refusals: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    champion: Version | None = None
    promoted: Version | None = None
    challenge: list[MetricDelta] = field(default_factory=list)
    challenge_note: str | None = None  # why there is no comparison (first deployment...)
    already: bool = False
    won_by: Version | None = None  # another deploy of this same commit claimed the alias first
    won_moved: bool = False  # ... and had already moved the alias when this one looked
    card: str | None = None  # the model card of the promoted version (Markdown)
    card_link: str | None = None  # where a reader finds it


def _lock_timeout(env: Mapping[str, str]) -> float:
    try:
        return float(env.get("MLCI_DEPLOY_LOCK_TIMEOUT") or DEFAULT_LOCK_TIMEOUT)
    except ValueError as exc:
        raise ConfigError(
            f"MLCI_DEPLOY_LOCK_TIMEOUT must be a number of seconds, "
            f"got {env.get('MLCI_DEPLOY_LOCK_TIMEOUT')!r}"
        ) from exc


# --- is this commit the tip of the branch being deployed? -------------------------------------
# --- mlci deploy ------------------------------------------------------------------------


def deploy_command(
    *,
    environment: str,
    config_path: str | None = None,
    base: str | None = None,
    repro: bool | None = None,
    verbose: bool = False,
    force: bool = False,
    output: str | None = None,
    github_token: str | None = None,
) -> int:
    """``mlci deploy`` from the command line's values."""
    check = CheckOptions(config_path=config_path, base=base, repro=repro, verbose=verbose)
    return run_deploy(
        DeployOptions(
            environment=environment,
            check=check,
            force=force,
            output=output,
            github_token=github_token,
        )
    )


def run_deploy(opts: DeployOptions, env: Mapping[str, str] | None = None) -> int:
    from mlci.adapters import mlflow

    run = common.start(env, token=opts.github_token)
    env, log, event = run.env, run.log, run.event
    ev = event.revisions
    root = git.repo_root(opts.check.cwd)
    cfg = load(opts.check.config_path, root, explicit=opts.check.config_path is not None)
    dep = challenger.deploy_config(cfg)
    head = git.resolve("HEAD", root)
    if head is None:
        raise RunError("the repository has no commits yet")

    branch = ev.head_ref if event.push else (git.current_branch(root) or ev.head_ref)
    tip = challenger.tip_problem(root, event, branch, head)

    context = Context(repo=event.repository, event=event.name or "local", run_url=event.run_url)
    revisions = dataclasses.replace(ev, head_sha=head, head_ref=branch)
    champion_sha = (
        None if (opts.check.base or event.push) else _champion_commit(cfg, root, env, dep)
    )
    if champion_sha and champion_sha != head:
        # a local deploy: the default branch is this commit (main after a merge), so the gate
        # would compare it with itself; what the champion was trained from is the base
        revisions = dataclasses.replace(revisions, base_sha=champion_sha, base_ref=dep.alias)
        log.info(f"mlci: the gate's base is {champion_sha[:7]}, the @{dep.alias}'s commit")
    result, cfg = common.check_in_ci(
        run,
        opts.check,
        cfg,
        root,
        title="mlci: gate",
        context=context,
        event=revisions,
    )
    # the gate on the default branch is a result like any push's: it joins the history
    common.record_history(run, result, cfg, root, worktree=opts.check.head is None)
    # after the gate, which reproduces the pipeline when repro is on, and before MLflow is touched
    model = root / str(dep.model_path)
    if not model.exists():
        hint = (
            "the reproduction did not produce it"
            if result.repro.status != "skipped"
            else "reproduce the pipeline (`dvc repro`, or repro.enabled) or fetch it (`dvc pull`) first"
        )
        raise RunError(
            f"the model file {dep.model_path} (deploy.model_path) does not exist: {hint}; "
            "nothing was registered"
        )

    outcome = Outcome()
    if tip and not opts.force:
        outcome.refusals.append(f"{tip} (or deploy it anyway with --force)")
    elif tip:
        outcome.notes.append(f"--force: {tip}")
    if result.verdict == "fail":
        failed = [r.message for r in result.reasons if r.severity == "fail"]
        outcome.refusals.append(
            f"the gate is closed against {result.context.base.ref} "
            f"({(result.context.base.sha or '')[:7]}): " + "; ".join(failed)
        )

    name, alias = str(dep.model_name), dep.alias
    try:
        tracker = mlflow.connect(cfg, root, env, verbose=opts.check.verbose)
        who = event.deployer or gather_card.local_deployer(root)
        result = _decide(
            tracker, result, cfg, root, model, dep, opts, outcome, env, log, head, tip, who
        )
    except MlflowError as exc:  # exit 3, and the code host hears that the deployment errored
        run.forge.record_deployment(
            run.ctx,
            env,
            log,
            environment=opts.environment,
            ref=head,
            state="error",
            description=f"mlci deploy could not finish: {exc}",
            payload={"model": name, "alias": alias, "error": str(exc)[:1000]},
        )
        raise

    result_path, report_path = common.write_ci_files(run, result, cfg, root, output=opts.output)
    summary = _summary(outcome, name, alias, opts.environment, tracker)
    run.summary("\n" + summary.replace("\n", "\n\n") + "\n")
    if outcome.card:  # the run link of the GitHub Deployment shows the card too
        run.summary("\n" + outcome.card)
    champion = outcome.champion
    payload = {
        "model": name,
        "alias": alias,
        "version": outcome.promoted.version if outcome.promoted else None,
        "previous": champion.version if champion else None,
        "mlflow_run": (result.mlflow or {}).get("run_id"),
        "model_card": outcome.card_link,
        "run_url": event.run_url,
    }
    run.forge.record_deployment(
        run.ctx,
        env,
        log,
        environment=opts.environment,
        ref=head,
        state="failure" if outcome.refusals else "success",
        description=summary.splitlines()[0],
        payload=payload,
        # what a reader clicks in GitHub: the status's log link is the run, whose job summary
        # holds the card; "View deployment" opens the version's page on a web tracking server,
        # whose description is the card
        environment_url=_version_page(outcome, tracker, name),
    )
    run.outputs(
        {
            "verdict": "fail" if outcome.refusals else "pass",
            "result-path": str(result_path),
            "report-path": str(report_path),
            "comment-url": "",
        },
    )
    import click

    if outcome.refusals:  # the refusal first: a gate that passed is no "go" for this deploy
        click.echo(fmt.terminal_text(summary))
        click.echo("\nThe gate, against its base (the champion's comparison refused above):")
        click.echo(terminal.text(result, color=False), nl=False)
    else:
        click.echo(terminal.text(result, color=False), nl=False)
        click.echo(fmt.terminal_text(summary))
    return EXIT_FAIL if outcome.refusals else EXIT_PASS


def _champion_commit(
    cfg: Config, root: Path, env: Mapping[str, str], dep: DeployConfig
) -> str | None:
    """The commit the model holding the alias was trained from (its ``mlci.git.sha``), when
    this clone has it; None without a champion or a reachable registry."""
    from mlci.adapters import mlflow

    try:
        champion = mlflow.connect(cfg, root, env).alias(str(dep.model_name), dep.alias)
    except MlflowError:
        return None  # the deploy itself says what is wrong with the registry
    sha = champion.sha if champion else None
    return git.resolve(sha, root) if sha else None


def _decide(
    tracker: Tracker,
    result: Result,
    cfg: Config,
    root: Path,
    model: Path,
    dep: DeployConfig,
    opts: DeployOptions,
    outcome: Outcome,
    env: Mapping[str, str],
    log: Log,
    head: str,
    tip: str | None,
    who: str,
) -> Result:
    """Under the lock: champion, challenge, the deploy run and (when all passed) the promotion."""
    from mlci.adapters import mlflow

    name, alias = str(dep.model_name), dep.alias

    def report(res: Result) -> str:
        return render.markdown(res, status_context=cfg.report.status_context, root=root)

    with mlflow.alias_lock(tracker.uri, name, alias, _lock_timeout(env)) as guard:
        log.info(f"mlci: deploying {name}@{alias} ({guard})")
        champion = tracker.alias(name, alias)
        outcome.champion = champion
        if champion is not None and champion.sha == head and not outcome.refusals:
            outcome.already = True
        else:
            deltas, refusals, notes = challenger.challenge(tracker, champion, result, cfg, root)
            outcome.challenge, outcome.notes = deltas, outcome.notes + notes
            outcome.challenge_note = "; ".join(notes) or None
            outcome.refusals += refusals
        promote = not outcome.refusals and not outcome.already
        run_tags = {
            TAG + "deploy.environment": opts.environment,
            TAG + "deploy.alias": f"{name}@{alias}",
            TAG + "deploy.outcome": "refused"
            if outcome.refusals
            else ("unchanged" if outcome.already else "candidate"),
        }
        result = tracker.log_result(
            result,
            report,
            experiment=mlflow.experiment_name(cfg),
            kind="deploy",
            tags=run_tags,
            model=model if promote else None,
        )
        if promote:
            run_id = str((result.mlflow or {})["run_id"])
            try:
                outcome.promoted = promotion.promote(
                    tracker,
                    result,
                    root,
                    model,
                    dep,
                    environment=opts.environment,
                    champion=champion,
                    forced=tip if opts.force else None,
                    summary=view.headline(result),
                    lease_s=_lock_timeout(env),
                    log=log,
                )
            except promotion.LostRace as lost:
                tracker.set_run_tag(run_id, TAG + "deploy.outcome", "lost")
                if lost.winner.sha != head:
                    raise
                # the same commit, deployed twice at once (a re-run job): the other one does it
                outcome.won_by, outcome.won_moved = lost.winner, lost.moved
                return result
            tracker.set_run_tag(run_id, TAG + "deploy.outcome", "promoted")
            _write_card(tracker, result, cfg, model, dep, opts, outcome, log, who)
    return result


DESCRIPTION_LIMIT = 5000  # MLflow's SQL stores keep a version's description in 5,000 characters


def _write_card(
    tracker: Tracker,
    result: Result,
    cfg: Config,
    model: Path,
    dep: DeployConfig,
    opts: DeployOptions,
    outcome: Outcome,
    log: Log,
    who: str,
) -> None:
    """The promoted version's model card: its description and the deploy run's ``model_card.md``.

    The version already holds the alias: a card that cannot be written is a
    warning, not a reason to say the deploy failed.
    """
    from mlci.report import card as card_report

    version = outcome.promoted
    if version is None:
        return
    name, run_id = str(dep.model_name), str((result.mlflow or {})["run_id"])
    found = project.find(opts.check.cwd)
    model_url = tracker.model_url(name, version.version)
    card = gather_card.gather(
        result,
        cfg,
        project_root=found.root,
        git_root=found.git_root,
        lock_from_work_tree=True,
        model=model,
        model_name=name,
        alias=dep.alias,
        version=version.version,
        environment=opts.environment,
        deployed=True,
        champion=gather_card.champion_of(outcome.champion),
        challenge=tuple(outcome.challenge),
        challenge_note=outcome.challenge_note,
        deployed_by=who,
        made_at=gather_card.now_utc(),
        mlflow_run_id=run_id,
        mlflow_run_url=(result.mlflow or {}).get("url"),
        model_url=model_url,
    )
    outcome.card = card_report.markdown(card, root=found.root)
    outcome.card_link = model_url or f"model_card.md of MLflow run {run_id}"
    try:
        tracker.log_text(run_id, outcome.card, "model_card.md")
        short = card_report.markdown_within(card, DESCRIPTION_LIMIT, root=found.root)
        tracker.describe_version(name, version.version, short)
    except MlflowError as exc:
        log.warning(f"the model card of version {version.version} was not written: {exc}")


def _version_page(outcome: Outcome, tracker: Tracker, name: str) -> str | None:
    """The web page of the version that holds the alias after this deploy (None: no web UI)."""
    if outcome.refusals:
        return None
    holder = outcome.promoted or outcome.won_by or (outcome.champion if outcome.already else None)
    return tracker.model_url(name, holder.version) if holder else None


def _summary(outcome: Outcome, name: str, alias: str, environment: str, tracker: Tracker) -> str:
    lines = []
    if outcome.refusals:
        lines.append(
            f"mlci deploy: refused to deploy {name} to {environment}; nothing changed in the "
            "registry:"
        )
        lines += [f"  - {r}" for r in outcome.refusals]
    elif outcome.won_by is not None and outcome.won_moved:
        lines.append(
            f"mlci deploy: another deploy of this commit moved @{alias} to {name} version "
            f"{outcome.won_by.version} while this one was comparing; this one registered "
            f"nothing ({environment})"
        )
    elif outcome.won_by is not None:
        lines.append(
            f"mlci deploy: another deploy of this commit registered {name} version "
            f"{outcome.won_by.version} first and moves @{alias} to it; this one changed nothing "
            f"({environment})"
        )
    elif outcome.already:
        v = outcome.champion
        lines.append(
            f"mlci deploy: {name} version {v.version if v else '?'} already holds @{alias} for "
            f"this commit; nothing to do ({environment})"
        )
    else:
        v = outcome.promoted
        prev = f" (previous: version {outcome.champion.version})" if outcome.champion else ""
        lines.append(
            f"mlci deploy: promoted {name} version {v.version if v else '?'} to @{alias}{prev} "
            f"for {environment}"
        )
        url = tracker.model_url(name, v.version) if v else None
        if url:
            lines.append(f"  {url}")
    lines += [f"  note: {n}" for n in outcome.notes]
    return "\n".join(lines)


# --- mlci rollback ----------------------------------------------------------------------

_LIVE_NOTES = ("> **Rolled back** at ", "> **Live again** on ")


def _live_note(description: str | None, note: str) -> str:
    """A version's card with ``note`` (which version is live) first, replacing an earlier one."""
    text = description or ""
    if text.startswith(_LIVE_NOTES):
        text = text.split("\n\n", 1)[1] if "\n\n" in text else ""
    return (note + "\n\n" + text)[:DESCRIPTION_LIMIT]


def run_rollback(opts: RollbackOptions, env: Mapping[str, str] | None = None) -> int:
    from mlci.adapters import mlflow

    run = common.start(env, token=opts.github_token)
    env, log = run.env, run.log
    root = git.repo_root(opts.cwd)
    cfg = load(opts.config_path, root, explicit=opts.config_path is not None)
    dep = challenger.deploy_config(cfg)
    name, alias = str(dep.model_name), dep.alias
    tracker = mlflow.connect(cfg, root, env, verbose=opts.verbose)
    with mlflow.alias_lock(tracker.uri, name, alias, _lock_timeout(env)):
        current = tracker.alias(name, alias)
        previous = tracker.alias(name, PREVIOUS_ALIAS)
        if previous is None or (current is not None and previous.version == current.version):
            holder = (
                f"version {current.version} holds @{alias}"
                if current
                else f"no version holds @{alias}"
            )
            raise RunError(
                f"nothing to roll back to: {name} has no version with the alias "
                f"'{PREVIOUS_ALIAS}' ({holder}); nothing changed"
            )
        tracker.set_alias(name, alias, previous.version)
        older = previous.tags.get(TAG + "replaced_version")
        if (
            older
            and older != (current.version if current else None)
            and tracker.version(name, older)
        ):
            tracker.set_alias(name, PREVIOUS_ALIAS, older)
        else:
            tracker.delete_alias(name, PREVIOUS_ALIAS)
        if current is not None:
            tracker.set_version_tag(name, current.version, TAG + "rolled_back_from", "true")
        # the cards in the registry say which version is live now
        at = gather_card.now_utc()
        if current is not None:
            tracker.describe_version(
                name,
                current.version,
                _live_note(
                    current.description,
                    f"> **Rolled back** at {at}: {name}@{alias} is on version "
                    f"{previous.version} now ({opts.environment}); this version is not live.",
                ),
            )
        was_live = f" (version {current.version} was rolled back)" if current else ""
        tracker.describe_version(
            name,
            previous.version,
            _live_note(
                previous.description,
                f"> **Live again** on @{alias} since the rollback at {at}{was_live}.",
            ),
        )
    was = f" (was version {current.version})" if current else ""
    message = f"mlci rollback: {name}@{alias} is back on version {previous.version}{was} for {opts.environment}"
    run.forge.record_deployment(
        run.ctx,
        env,
        log,
        environment=opts.environment,
        ref=previous.sha or git.resolve("HEAD", root),
        state="success",
        description=message,
        payload={
            "model": name,
            "alias": alias,
            "version": previous.version,
            "rolled_back_from": current.version if current else None,
            "rollback": True,
        },
        environment_url=tracker.model_url(name, previous.version),
    )
    run.summary(message + "\n")
    import click

    click.echo(fmt.terminal_text(message))
    return EXIT_PASS
