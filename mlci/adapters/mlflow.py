"""MLflow tracking and model registry: the only module that imports ``mlflow``.

mlflow costs seconds to import, so it is imported inside :class:`Tracker`
only, and only when MLflow is needed (:func:`tracking_enabled`, deploy, rollback). Telemetry is
switched off before the import. Failures become :class:`MlflowError`
(exit 3); callers that only *track* turn them into warnings. A check that logs
to a tracking server (``http(s)://``) does so without mlflow, through the
server's REST API (:mod:`mlci.adapters.mlflow_rest`), and so does one that logs to a SQLite
store whose experiment exists, writing the rows mlflow would (:mod:`mlci.adapters.mlflow_sqlite`).

Where the data lives (:func:`tracking_uri`): ``mlflow.tracking_uri`` in the
config, else ``$MLFLOW_TRACKING_URI``, else a SQLite file under
``.git/mlci/`` (so ``git status`` stays clean, as for every mlci cache).
Run artifacts of a local SQLite store go next to the database file, never to
MLflow's default ``./mlruns`` in the current directory.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mlci.model.config import Config
from mlci.model.errors import RunError
from mlci.model.fmt import clip, without_credentials
from mlci.model.result import Result

DEFAULT_DB = "mlflow.db"
PREVIOUS_ALIAS = "previous"
TAG = "mlci."  # prefix of every tag mlci writes
_BAD_KEY_CHARS = re.compile(r"[^/\w.\- :]" if os.name != "nt" else r"[^/\w.\- ]")


class MlflowError(RunError):
    """MLflow could not do what was asked (exit 3)."""


def tracking_enabled(cfg: Config, env: Mapping[str, str]) -> bool:
    """Whether ``check``/``ci`` log a run: an ``mlflow:`` section or ``$MLFLOW_TRACKING_URI``.

    MLflow is used only when ``mlflow:``, ``deploy:`` or the variable is
    set. ``deploy:`` alone makes ``deploy``/``rollback`` use MLflow (they log
    their own runs) but does not put an MLflow import into every pre-push check.
    """
    return cfg.mlflow is not None or bool(env.get("MLFLOW_TRACKING_URI"))


def default_store(git_dir: Path) -> Path:
    return git_dir / "mlci" / DEFAULT_DB


def configured_uri(cfg: Config, root: Path, env: Mapping[str, str]) -> str | None:
    """The tracking URI the config names, else ``$MLFLOW_TRACKING_URI``; None: mlci's default store.

    A relative SQLite path in the config is relative to the repository root
    (where the config lives), not to the directory mlci happens to run in.
    """
    configured = cfg.mlflow.tracking_uri if cfg.mlflow else None
    if configured:
        if configured.startswith("sqlite:///") and not configured.startswith("sqlite:////"):
            rel = configured[len("sqlite:///") :]
            return f"sqlite:///{(root / rel).as_posix()}"
        return configured
    return env.get("MLFLOW_TRACKING_URI") or None


def tracking_uri(cfg: Config, root: Path, git_dir: Path, env: Mapping[str, str]) -> str:
    """:func:`configured_uri`, else ``sqlite:///<git dir>/mlci/mlflow.db`` (its folder made)."""
    uri = configured_uri(cfg, root, env)
    if uri:
        return uri
    db = default_store(git_dir)
    db.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{db.as_posix()}"


def local_store(uri: str) -> Path | None:
    """The database file (or folder) of a store on this machine; None for a server."""
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///") :].split("?", 1)[0] or ".").resolve()
    if uri.startswith("file://"):
        return Path(uri[len("file://") :]).resolve()
    if "://" not in uri:
        return Path(uri).resolve()
    return None


def is_web(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def metric_key(name: str) -> str:
    """An MLflow metric/param key for an mlci name (``eval/metrics.json:acc`` is fine on POSIX)."""
    key = _BAD_KEY_CHARS.sub("_", name).strip("/") or "_"
    return key.replace("..", "__")[:250]


def short(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return clip(text, limit)


@dataclass(frozen=True)
class Version:
    """One registered model version, as mlci needs it."""

    name: str
    version: str
    run_id: str | None
    tags: dict[str, str]
    source: str | None = None
    created_ms: int | None = None  # the registry's clock
    description: str | None = None  # the model card mlci deploy wrote

    @property
    def sha(self) -> str | None:
        return self.tags.get(TAG + "git.sha")


def _version(mv: Any) -> Version:
    created = getattr(mv, "creation_timestamp", None)
    return Version(
        mv.name,
        str(mv.version),
        mv.run_id,
        dict(mv.tags or {}),
        mv.source,
        int(created) if created is not None else None,
        getattr(mv, "description", None),
    )


# A claim on an alias (see :meth:`Tracker.first_claim`): tags of a version registered to take it
CLAIM_ALIAS = TAG + "claim.alias"  # the alias it was registered to take
CLAIM_CHAMPION = TAG + "claim.champion"  # the version holding the alias when it was read
CLAIM_STATE = TAG + "claim.state"  # candidate | promoted | lost
NO_CHAMPION = "none"


class Tracker:
    """An MLflow client for one tracking URI (the registry lives in the same store)."""

    def __init__(self, uri: str, *, verbose: bool = False) -> None:
        # telemetry off before mlflow is imported (mlflow/telemetry/utils.py reads both)
        os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
        os.environ["DO_NOT_TRACK"] = "true"
        if not verbose:
            for name in ("mlflow", "alembic"):
                logging.getLogger(name).setLevel(logging.WARNING)
        try:
            from mlflow import MlflowClient
        except ImportError as exc:  # pragma: no cover - mlflow is a dependency
            raise MlflowError(f"mlflow is not installed: {exc}") from exc
        self.uri = uri
        self._client = self._call("connecting", MlflowClient, tracking_uri=uri, registry_uri=uri)

    def _call(self, what: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except MlflowError:
            raise
        except Exception as exc:  # MlflowException, SQLAlchemy, requests...
            message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            raise MlflowError(
                f"MLflow ({self.display_uri}): {what}: {message.splitlines()[0]}"
            ) from exc

    @property
    def display_uri(self) -> str:
        return without_credentials(self.uri)  # no credentials in messages

    @staticmethod
    def _missing(exc: BaseException) -> bool:
        cause = exc.__cause__ or exc
        return getattr(cause, "error_code", None) == "RESOURCE_DOES_NOT_EXIST"

    # -- tracking -----------------------------------------------------------------

    def experiment_id(self, name: str) -> str:
        exp = self._call(f"reading experiment {name}", self._client.get_experiment_by_name, name)
        if exp is not None:
            return str(exp.experiment_id)
        location = None
        store = local_store(self.uri)
        if store is not None and self.uri.startswith("sqlite:"):
            # MLflow's default would be ./mlruns in the current directory: keep them together
            location = (store.parent / "mlartifacts").as_uri()
        try:
            return str(self._client.create_experiment(name, artifact_location=location))
        except Exception as exc:  # created meanwhile by a parallel run?
            exp = self._client.get_experiment_by_name(name)
            if exp is None:
                raise MlflowError(
                    f"MLflow ({self.display_uri}): creating experiment {name}: {exc}"
                ) from exc
            return str(exp.experiment_id)

    def run_url(self, experiment_id: str, run_id: str) -> str | None:
        if not is_web(self.uri):
            return None
        from mlci.adapters.mlflow_rest import run_url

        return run_url(self.uri, experiment_id, run_id)

    def model_url(self, name: str, version: str) -> str | None:
        if not is_web(self.uri):
            return None
        return f"{without_credentials(self.uri).rstrip('/')}/#/models/{quote(name, safe='')}/versions/{version}"

    def log_result(
        self,
        result: Result,
        markdown: Callable[[Result], str],
        *,
        experiment: str,
        kind: str,
        tags: Mapping[str, str] | None = None,
        model: Path | None = None,
    ) -> Result:
        """One run for one result: params, numeric head metrics, provenance tags, result + report.

        Returns the result with ``mlflow: {run_id, experiment_id, url}`` set, which is also
        what the logged ``mlci/result.json`` says.
        """
        from mlflow.entities import Metric, Param

        from mlci.adapters.mlflow_rest import run_content

        exp_id = self.experiment_id(experiment)
        content = run_content(result, kind, tags)
        run = self._call(
            "creating a run",
            self._client.create_run,
            exp_id,
            tags=content.tags,
            run_name=content.name,
        )
        run_id = run.info.run_id
        ref = {"run_id": run_id, "experiment_id": exp_id, "url": self.run_url(exp_id, run_id)}
        result = _with_mlflow(result, ref)
        status = "FAILED"
        try:
            now = int(time.time() * 1000)
            metrics = [Metric(key, value, now, 0) for key, value in content.metrics]
            batch = [Param(k, v) for k, v in content.params.items()]
            # log_batch takes at most 1000 metrics / 100 params per call
            for i in range(0, len(metrics), 1000):
                self._call(
                    "logging metrics", self._client.log_batch, run_id, metrics=metrics[i : i + 1000]
                )
            for i in range(0, len(batch), 100):
                self._call(
                    "logging params", self._client.log_batch, run_id, params=batch[i : i + 100]
                )
            self._call(
                "logging the result",
                self._client.log_text,
                run_id,
                result.to_json(),
                "mlci/result.json",
            )
            self._call(
                "logging the report",
                self._client.log_text,
                run_id,
                markdown(result),
                "mlci/report.md",
            )
            if model is not None:
                log = self._client.log_artifacts if model.is_dir() else self._client.log_artifact
                self._call(f"logging the model {model.name}", log, run_id, str(model), "model")
            status = "FINISHED"
        finally:
            with contextlib.suppress(Exception):
                self._client.set_terminated(run_id, status=status)
        return result

    def set_run_tag(self, run_id: str, key: str, value: str) -> None:
        self._call(f"tagging run {run_id}", self._client.set_tag, run_id, key, value)

    def artifact_uri(self, run_id: str) -> str:
        run = self._call(f"reading run {run_id}", self._client.get_run, run_id)
        return str(run.info.artifact_uri)

    def run_metrics(self, run_id: str) -> dict[str, float]:
        run = self._call(f"reading run {run_id}", self._client.get_run, run_id)
        return dict(run.data.metrics)

    # -- registry -------------------------------------------------------------------

    def alias(self, name: str, alias: str) -> Version | None:
        """The version holding ``alias``, or None (no such model, or no such alias)."""
        try:
            mv = self._call(
                f"reading {name}@{alias}", self._client.get_model_version_by_alias, name, alias
            )
        except MlflowError as exc:
            cause = exc.__cause__
            # a missing alias of an existing model is INVALID_PARAMETER_VALUE "... alias X not found."
            unset = getattr(
                cause, "error_code", None
            ) == "INVALID_PARAMETER_VALUE" and "not found" in str(getattr(cause, "message", ""))
            if self._missing(exc) or unset:
                return None
            raise
        return _version(mv)

    def version(self, name: str, version: str) -> Version | None:
        try:
            mv = self._call(
                f"reading {name} version {version}", self._client.get_model_version, name, version
            )
        except MlflowError as exc:
            if self._missing(exc):
                return None
            raise
        return _version(mv)

    def register(
        self, name: str, run_id: str, tags: Mapping[str, str], description: str
    ) -> Version:
        """A new version of ``name`` from the ``model`` artifact folder of ``run_id``."""
        try:
            self._call(f"reading registered model {name}", self._client.get_registered_model, name)
        except MlflowError as exc:
            if not self._missing(exc):
                raise
            try:
                self._client.create_registered_model(name, description="Registered by mlci deploy.")
            except Exception as create_exc:  # created meanwhile is fine
                if getattr(create_exc, "error_code", None) != "RESOURCE_ALREADY_EXISTS":
                    raise MlflowError(
                        f"MLflow ({self.display_uri}): creating registered model {name}: "
                        f"{create_exc}"
                    ) from create_exc
        source = f"{self.artifact_uri(run_id)}/model"
        clean = {k: short(v, 90_000) for k, v in tags.items()}
        mv = self._call(
            f"registering a version of {name}",
            self._client.create_model_version,
            name,
            source,
            run_id=run_id,
            tags=clean,
            description=description,
        )
        return _version(mv)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self._call(
            f"moving {name}@{alias} to version {version}",
            self._client.set_registered_model_alias,
            name,
            alias,
            version,
        )

    def delete_alias(self, name: str, alias: str) -> None:
        try:
            self._call(
                f"removing {name}@{alias}", self._client.delete_registered_model_alias, name, alias
            )
        except MlflowError as exc:
            if not self._missing(exc):
                raise

    def first_claim(self, name: str, mine: Version, lease_ms: int) -> Version:
        """The version that wins the alias ``mine`` claims: the first one registered for it.

        MLflow's registry has no compare-and-set on an alias, but it numbers the
        versions of a model in the order they are created, each number once. A
        deploy registers its candidate with the alias it wants and the champion it
        read (:data:`CLAIM_ALIAS`, :data:`CLAIM_CHAMPION`), then asks which live
        candidate with the same two tags has the lowest number: only that one moves
        the alias. Two deploys that read the same champion both see the earlier
        one's version (it existed before the later number was handed out), so
        exactly one wins. Claims marked lost, versions a rollback took the alias from,
        and candidates registered more than
        ``lease_ms`` before ``mine`` (a deploy that died before moving the alias),
        do not count.
        """
        alias, champion = mine.tags.get(CLAIM_ALIAS), mine.tags.get(CLAIM_CHAMPION)
        if not alias or not champion:
            return mine  # not a claim
        if "'" in name + alias + champion:
            raise MlflowError(
                f"cannot search the claims on {name}@{alias}: MLflow's search filter cannot "
                "quote a name with ' in it; rename the model or the alias"
            )
        found = self._call(
            f"reading the claims on {name}@{alias}",
            self._client.search_model_versions,
            f"name = '{name}' and tags.`{CLAIM_ALIAS}` = '{alias}' "
            f"and tags.`{CLAIM_CHAMPION}` = '{champion}'",
        )
        live = [mine]
        for mv in found:
            other = _version(mv)
            if other.version == mine.version or other.tags.get(CLAIM_STATE) == "lost":
                continue
            if other.tags.get(TAG + "rolled_back_from") == "true":
                continue  # promoted, then rolled back: its claim ended, the alias is not its own
            stale = (
                other.tags.get(CLAIM_STATE) == "candidate"
                and other.created_ms is not None
                and mine.created_ms is not None
                and mine.created_ms - other.created_ms > lease_ms
            )
            if not stale:
                live.append(other)
        return min(live, key=lambda v: int(v.version))

    def delete_version(self, name: str, version: str) -> None:
        self._call(
            f"removing {name} version {version}", self._client.delete_model_version, name, version
        )

    def versions_of_commit(self, name: str, sha: str) -> list[Version]:
        """The versions of ``name`` registered for commit ``sha``, newest first."""
        if "'" in name or not sha.isalnum():
            return []  # no way to quote it in a filter; a card then says "not registered"
        try:
            found = self._call(
                f"searching the versions of {name}",
                self._client.search_model_versions,
                f"name = '{name}' and tags.`{TAG}git.sha` = '{sha}'",
            )
        except MlflowError as exc:
            if self._missing(exc):
                return []
            raise
        versions = [_version(mv) for mv in found]
        return sorted(versions, key=lambda v: int(v.version), reverse=True)

    def describe_version(self, name: str, version: str, description: str) -> None:
        self._call(
            f"writing the description of {name} version {version}",
            self._client.update_model_version,
            name,
            version,
            description=description,
        )

    def log_text(self, run_id: str, text: str, path: str) -> None:
        self._call(f"logging {path}", self._client.log_text, run_id, text, path)

    def set_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        self._call(
            f"tagging {name} version {version}",
            self._client.set_model_version_tag,
            name,
            version,
            key,
            value,
        )


def git_dir(root: Path) -> Path:
    from mlci.adapters import git

    return git.common_dir(root)


def experiment_name(cfg: Config) -> str:
    return cfg.mlflow.experiment if cfg.mlflow else "mlci"


def connect(cfg: Config, root: Path, env: Mapping[str, str], *, verbose: bool = False) -> Tracker:
    return Tracker(tracking_uri(cfg, root, git_dir(root), env), verbose=verbose)


def track(
    result: Result,
    cfg: Config,
    root: Path,
    env: Mapping[str, str],
    *,
    kind: str,
    report: Callable[[Result], str],
    warn: Callable[[str], None] | None = None,
    verbose: bool = False,
) -> Result:
    """Log ``result`` as a run when MLflow is configured; a failure is a warning, never a crash.

    A tracking server (``http(s)://``) gets the run through its REST API and an existing SQLite
    store its rows, without importing mlflow (:mod:`mlci.adapters.mlflow_rest`,
    :mod:`mlci.adapters.mlflow_sqlite`, which say when mlflow's client is used instead).

    ``report`` renders the Markdown report logged with the run (of the result that
    carries the run's reference). Returns the result with its ``mlflow`` reference,
    or unchanged when nothing was logged.
    """
    if not tracking_enabled(cfg, env):
        return result
    try:
        uri = tracking_uri(cfg, root, git_dir(root), env)
        if is_web(uri):  # a server: its REST API, without importing mlflow, where that suffices
            from mlci.adapters import mlflow_rest

            if mlflow_rest.client_needed(env) is None:
                rest = mlflow_rest.RestTracker(uri, env)
                return rest.log_result(result, report, experiment=experiment_name(cfg), kind=kind)
        elif uri.startswith("sqlite:///"):  # a local store: its tables, where that suffices
            from mlci.adapters.mlflow_sqlite import SqliteTracker

            fast = SqliteTracker(uri, env)
            logged = fast.log_result(result, report, experiment=experiment_name(cfg), kind=kind)
            if logged is not None:
                return logged
            if verbose:  # why this check pays for importing mlflow
                print(f"mlci: MLflow: logging with mlflow's client: {fast.aside}", file=sys.stderr)
        tracker = Tracker(uri, verbose=verbose)
        return tracker.log_result(result, report, experiment=experiment_name(cfg), kind=kind)
    except MlflowError as exc:
        message = f"the run was not logged to MLflow: {exc}"
        if warn is not None:
            warn(message)
        else:
            import click

            from mlci.model.fmt import one_line

            click.echo(f"mlci: warning: {one_line(message)}", err=True)
        return result


def _with_mlflow(result: Result, ref: dict[str, Any]) -> Result:
    import dataclasses

    return dataclasses.replace(result, mlflow=dict(ref))


# --- the lock around read-compare-move of an alias ----------------------------------------


class LockTimeout(MlflowError):
    pass


@contextlib.contextmanager
def alias_lock(uri: str, name: str, alias: str, timeout: float) -> Iterator[str]:
    """Serialise deploys of one alias on this machine's store; yields how it is guarded.

    MLflow's registry has no compare-and-set, so for a local store (SQLite file
    or folder) an exclusive ``flock`` on a file next to it makes
    read-champion / compare / register / move-alias one critical section.
    A tracking *server* gets no lock here: the deploy's claim
    (:meth:`Tracker.first_claim`) lets exactly one of the deploys that read
    the same champion move the alias.
    """
    store = local_store(uri)
    try:
        import fcntl
    except ImportError:  # Windows: no flock; the claim still decides
        fcntl = None  # type: ignore[assignment]
    if store is None or fcntl is None:
        yield "no lock on a tracking server: the first claim on the alias wins"
        return
    safe = re.sub(r"[^\w.-]", "_", f"{name}@{alias}")
    if len(safe) > 100:  # a file name has at most 255 bytes: a long name keeps a digest of itself
        import hashlib

        digest = hashlib.sha256(f"{name}@{alias}".encode()).hexdigest()[:16]
        safe = f"{safe[:60]}.{digest}"
    lock_path = store.parent / f".{store.name}.{safe}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"another mlci deploy holds {lock_path} (waited {timeout:g} s); "
                        "try again when it has finished"
                    ) from None
                time.sleep(0.2)
        try:
            yield f"lock {lock_path}"
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
