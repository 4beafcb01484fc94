"""A model card: what one model version is made of, as plain data for the card renderer.

``mlci deploy`` gathers one for the version it promotes and ``mlci card`` for
any commit; :mod:`mlci.report.card` turns it into Markdown. Everything here is
a value read or computed elsewhere (git, ``dvc.lock``, requirement files,
MLflow): the card itself reads nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlci.model.result import MetricDelta, Result


@dataclass(frozen=True)
class LockedPath:
    """One dep or out of a stage as ``dvc.lock`` pins it."""

    stage: str
    kind: str  # dep|out
    path: str
    hash: str | None  # the value DVC records (md5, etag, checksum...)
    hash_name: str | None  # which one it is
    size: int | None = None
    nfiles: int | None = None  # a folder's file count


@dataclass(frozen=True)
class LockedParam:
    """One param value a stage ran with, as ``dvc.lock`` pins it."""

    stage: str
    file: str
    key: str
    value: object


@dataclass(frozen=True)
class Package:
    """One package as an environment file declares it (a requirement, a lock entry...)."""

    name: str
    file: str  # repository-relative
    spec: str  # what the file says about the version: ``==2.1.0``, ``>=1.4,<2``, a locked ``2.1.0``
    pinned: bool | None  # one exact version; None: the file cannot say (a URL, a path)


@dataclass(frozen=True)
class Champion:
    """The version that held the alias when the card was made (the one a deploy replaces)."""

    version: str
    sha: str | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class ModelCard:
    model_name: str
    alias: str
    result: Result  # the gate's result for this commit: context, params, data, verdict
    version: str | None = None  # None: not registered (``mlci card`` of a commit never deployed)
    environment: str | None = None  # what it was deployed to; None for ``mlci card``
    deployed: bool = False  # False: a preview by ``mlci card``
    champion: Champion | None = None
    # the candidate's metrics against the champion's, judged by the rules; empty without one
    challenge: tuple[MetricDelta, ...] = ()
    challenge_note: str | None = None  # why there is no comparison, when there is none
    rules: tuple[dict[str, object], ...] = ()  # metrics.rules of the config, as written
    lock_file: str | None = None  # where dvc.lock was read: "<commit>:<path>" or the work tree's
    locked: tuple[LockedPath, ...] = ()
    locked_params: tuple[LockedParam, ...] = ()
    package_files: tuple[str, ...] = ()
    packages: tuple[Package, ...] = ()
    model_path: str | None = None
    model_sha256: str | None = None
    deployed_by: str | None = None
    made_at: str | None = None  # ISO 8601, UTC
    mlflow_run_id: str | None = None  # the deploy run that holds model_card.md
    mlflow_run_url: str | None = None
    model_url: str | None = None  # the version's page on a web tracking server
    tool_version: str | None = None
    # the version holding the alias now, when it is not this one (a rollback, a newer deploy)
    live: str | None = None
    rolled_back: bool = False  # this version was taken off the alias by `mlci rollback`
