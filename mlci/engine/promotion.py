"""Promotion: register a candidate the judgement let through and move the alias to it.

A version carries its provenance as tags. Stores without a lock (a tracking
server) let several deploys race: each registers its candidate as a claim on
the alias and only the first claim for the same champion moves it
(:meth:`mlci.adapters.mlflow.Tracker.first_claim`); a loser raises
:class:`LostRace`, which names the winner.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from mlci.adapters import git
from mlci.adapters.mlflow import PREVIOUS_ALIAS, TAG, MlflowError, Tracker, Version
from mlci.engine import card as gather_card
from mlci.engine import project
from mlci.model.config import DeployConfig
from mlci.model.result import Result
from mlci.model.run import Log


def provenance(
    result: Result,
    root: Path,
    model: Path,
    dep: DeployConfig,
    environment: str,
    champion: Version | None,
    forced: str | None,
    summary: str,
) -> dict[str, str]:
    """The tags a registered version carries: where it came from (commit, base, data, params,
    model file, CI run) and what the gate said (``summary``: its headline)."""
    ctx = result.context
    params = {p.name: p.head for p in result.params if p.head is not None}
    tags = {
        TAG + "git.sha": ctx.head.sha or "",
        TAG + "git.branch": ctx.head.ref or "",
        TAG + "base.sha": ctx.base.sha or "",
        TAG + "base.ref": ctx.base.ref or "",
        TAG + "verdict": result.verdict,
        TAG + "summary": summary,
        TAG + "environment": environment,
        TAG + "model.path": dep.model_path or "",
        TAG + "model.sha256": gather_card.model_sha256(model),
        TAG + "params.sha256": hashlib.sha256(
            json.dumps(params, sort_keys=True, default=str).encode()
        ).hexdigest(),
        TAG + "repo": ctx.repo or "",
        TAG + "run_url": ctx.run_url or "",
        TAG + "replaced_version": champion.version if champion else "",
        TAG + "forced": forced or "",
    }
    if ctx.head.sha and (blob := git.blob_id(ctx.head.sha, "dvc.lock", root)):
        tags[TAG + "dvc_lock"] = blob
    _, locked = gather_card.locked_paths(project.root(root), None)
    hashes = {p.path: p.hash for p in locked if p.hash_name == "md5" and p.hash}
    if hashes:
        tags[TAG + "data"] = json.dumps(hashes, sort_keys=True)
    if result.mlflow:
        tags[TAG + "mlflow_run"] = str(result.mlflow.get("run_id"))
    return {k: v for k, v in tags.items() if v}


class LostRace(MlflowError):
    """Another deploy claimed the alias first (see :meth:`Tracker.first_claim`)."""

    def __init__(self, message: str, winner: Version, *, moved: bool = False) -> None:
        super().__init__(message)
        self.winner = winner
        self.moved = moved  # the winner already holds the alias (not only a claim on it)


def promote(
    tracker: Tracker,
    result: Result,
    root: Path,
    model: Path,
    dep: DeployConfig,
    *,
    environment: str,
    champion: Version | None,
    forced: str | None,
    summary: str,
    lease_s: float,
    log: Log,
) -> Version:
    """Register the candidate as a claim on the alias; move the alias if the claim wins.

    ``forced``: why the deploy went ahead anyway (``--force``), recorded on the
    version; ``summary``: the gate's headline, its description and a tag.
    """
    from mlci.adapters.mlflow import CLAIM_ALIAS, CLAIM_CHAMPION, CLAIM_STATE, NO_CHAMPION

    name, alias = str(dep.model_name), dep.alias
    # optimistic check, for stores the lock does not cover: the alias must not have moved meanwhile
    now = tracker.alias(name, alias)
    if (now.version if now else None) != (champion.version if champion else None):
        if now is not None and now.sha and now.sha == result.context.head.sha:
            # a deploy of this same commit (a re-run job) got there first: it did this one's work
            raise LostRace(
                f"{name}@{alias} moved to version {now.version} of this commit", now, moved=True
            )
        message = (
            f"{name}@{alias} moved to version {now.version if now else '(none)'} while this "
            "deploy was comparing: nothing was registered; run the deploy again"
        )
        if now is None:  # the alias was removed (a manual change): nobody won
            raise MlflowError(message)
        raise LostRace(message, now, moved=True)  # exit 3: another commit's version won
    tags = provenance(result, root, model, dep, environment, champion, forced, summary)
    tags[CLAIM_ALIAS] = alias
    tags[CLAIM_CHAMPION] = champion.version if champion else NO_CHAMPION
    tags[CLAIM_STATE] = "candidate"
    head = (result.context.head.sha or "")[:7]
    version = tracker.register(
        name,
        str((result.mlflow or {})["run_id"]),
        tags,
        f"mlci deploy of {head} to {environment}: {summary}",
    )
    winner = tracker.first_claim(name, version, int(lease_s * 1000))
    if winner.version != version.version:
        tracker.set_version_tag(name, version.version, CLAIM_STATE, "lost")
        try:
            tracker.delete_version(name, version.version)
            left = f"version {version.version} was removed again"
        except MlflowError as exc:
            log.warning(f"could not remove {name} version {version.version}: {exc}")
            left = f"version {version.version} stays registered, tagged {CLAIM_STATE}=lost"
        was = f"version {champion.version}" if champion else "no version"
        of = f" of commit {winner.sha[:7]}" if winner.sha else ""
        raise LostRace(
            f"another deploy registered {name} version {winner.version}{of} first to replace "
            f"{was} at @{alias}: that one moves the alias, this one promoted nothing "
            f"({left}); run the deploy again to compare with the new champion",
            winner,
        )
    if champion is not None:
        tracker.set_alias(name, PREVIOUS_ALIAS, champion.version)
    tracker.set_alias(name, alias, version.version)
    after = tracker.alias(name, alias)
    if after is None or after.version != version.version:
        raise MlflowError(
            f"another deploy moved {name}@{alias} to version "
            f"{after.version if after else '(none)'} at the same time; version "
            f"{version.version} is registered but does not hold the alias"
        )
    tracker.set_version_tag(name, version.version, CLAIM_STATE, "promoted")
    return version
