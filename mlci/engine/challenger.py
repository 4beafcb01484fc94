"""Champion and challenger: may this commit's model take the alias?

The judgement ``mlci deploy`` makes before it registers anything, beside the
gate (:mod:`mlci.engine.gate`) that judged the commit against its base: the
deploy section of the config, whether the commit is its branch's tip, and the
candidate's metrics against those logged for the champion under the same rules.
``mlci card`` shows the same comparison without deciding anything.
"""

from __future__ import annotations

from pathlib import Path

from mlci.adapters import git
from mlci.adapters.mlflow import PREVIOUS_ALIAS, Tracker, Version
from mlci.engine import compare, gate, history
from mlci.model import fmt
from mlci.model.config import Config, DeployConfig
from mlci.model.errors import ConfigError
from mlci.model.result import MetricDelta, Result
from mlci.model.run import HostEvent


def deploy_config(cfg: Config) -> DeployConfig:
    dep = cfg.deploy
    where = cfg.path or "mlci.yaml"
    if dep is None:
        raise ConfigError(
            "no deploy: section: set deploy.model_name and deploy.model_path to deploy",
            file=where,
            key="deploy",
        )
    for key in ("model_name", "model_path"):
        if not getattr(dep, key):
            raise ConfigError(
                f"deploy.{key} is required to deploy", file=where, key=f"deploy.{key}"
            )
    if not dep.alias or dep.alias == PREVIOUS_ALIAS:
        raise ConfigError(
            f"deploy.alias cannot be '{dep.alias}' (mlci keeps the old version there)",
            file=where,
            key="deploy.alias",
        )
    return dep


# --- is this commit the tip of the branch being deployed? -------------------------------------


def tip_problem(root: Path, event: HostEvent, branch: str | None, head: str) -> str | None:
    """Why ``head`` is not the tip of ``branch`` now, or None when it is.

    The tip is read live from ``origin`` (``git ls-remote``): a newer push
    makes an older deploy job stale even though its event said ``after`` =
    this commit. Without a remote, the local branch is the reference.
    """
    if event.push:
        after = event.pushed_sha
        if after and after != head:
            return (
                f"the checkout is {head[:7]} but the push was for {after[:7]}: deploy the pushed "
                "commit"
            )
    if not branch:
        return "HEAD is detached and no branch is named by the event: cannot tell whose tip this is"
    tip, where = None, ""
    if git.remote_url("origin", root):
        tip, where = git.remote_branch_tip("origin", branch, root), f"origin/{branch}"
        if tip is None:
            tip, where = (
                git.resolve(f"refs/remotes/origin/{branch}", root),
                f"origin/{branch} (last fetched)",
            )
    if tip is None:
        tip, where = git.resolve(f"refs/heads/{branch}", root), branch
    if tip is None:
        return f"cannot find the tip of branch '{branch}'"
    if tip != head:
        return (
            f"commit {head[:7]} is not the tip of {where} (that is {tip[:7]}): a newer commit "
            "exists, deploy that one"
        )
    return None


# --- champion / challenger -------------------------------------------------------------


def challenge(
    tracker: Tracker,
    champion: Version | None,
    result: Result,
    cfg: Config,
    root: Path,
) -> tuple[list[MetricDelta], list[str], list[str]]:
    """Compare the candidate's head metrics with those logged for the champion: deltas, refusals, notes.

    ``auto`` limits are the gate's: the noise recorded on its base (read in the repository
    at ``root``).
    """
    from mlci.adapters.mlflow import metric_key

    if champion is None:
        return [], [], ["no model holds the alias yet: this is the first deployment"]
    if not champion.run_id:
        return (
            [],
            [],
            [f"version {champion.version} has no MLflow run, so no metrics to compare with"],
        )
    logged = tracker.run_metrics(champion.run_id)
    head = {m.name: m.head for m in result.metrics if fmt.is_number(m.head)}
    by_key = {metric_key(name): name for name in head}
    base = {by_key.get(key, key): value for key, value in logged.items()}
    files = {name.split(":", 1)[0] for name in base}
    # auto limits: the noise recorded on the base branch, as in the gate (none: fails closed)
    ctx = result.context
    depth, needed = cfg.history.depth, cfg.history.min_points
    spreads = history.base_spreads(root, ctx.base.sha, depth, needed, ctx.base.ref)
    deltas = compare.compare_metrics(base, head, files, cfg.metrics, spreads)
    failed = [r.message for r in gate.metric_reasons(deltas) if r.severity == "fail"]
    refusals = []
    if failed:
        refusals.append(
            f"worse than the champion (version {champion.version}"
            f"{', ' + champion.sha[:7] if champion.sha else ''}): " + "; ".join(failed)
        )
    return deltas, refusals, []
