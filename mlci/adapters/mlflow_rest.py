"""A check's MLflow run logged to a tracking server through its REST API, without importing mlflow.

Importing mlflow takes seconds, more than the rest of a ``check --no-repro``. A check that logs
to an ``http(s)://`` tracking server needs only a handful of HTTP calls, so
:class:`RestTracker` makes them with the standard library: get or create the experiment
(``experiments/get-by-name``, ``experiments/create``), ``runs/create`` with the tags and the
run's name, ``runs/log-batch`` (at most 1000 metrics and 100 params a call), the result and the
report uploaded through the server's artifact proxy (``PUT /api/2.0/mlflow-artifacts/artifacts/
<path of the run's mlflow-artifacts: URI>/mlci/...``), and ``runs/update`` with the status and
the end time. The run is complete when :meth:`RestTracker.log_result` returns.

Authentication is MLflow's: ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD`` (Basic),
else ``MLFLOW_TRACKING_TOKEN`` (Bearer), else a ``user:password@`` in the URI;
``MLFLOW_TRACKING_INSECURE_TLS``, ``MLFLOW_TRACKING_SERVER_CERT_PATH``,
``MLFLOW_TRACKING_CLIENT_CERT_PATH`` and ``MLFLOW_HTTP_REQUEST_TIMEOUT`` (120 s) as MLflow reads
them. Failures are :class:`~mlci.adapters.mlflow.MlflowError` naming the step, without
credentials.

Where this client cannot do what mlflow's would, mlci uses mlflow's own client instead
(:func:`client_needed`): for the whole run when MLflow's credentials file, an auth plugin
(``MLFLOW_TRACKING_AUTH``, a request-header plugin), AWS SigV4 signing or a workspace is in
use, or a model artifact is logged (``deploy``); for the artifacts only when the run's artifact
URI is not proxied by the server (``s3://``, ``gs://``, a path: mlflow's artifact repositories
write there directly).

The run's content (tags, name, metrics, params) is :func:`run_content`, shared with the
in-process :class:`~mlci.adapters.mlflow.Tracker` and with
:class:`~mlci.adapters.mlflow_sqlite.SqliteTracker` (a local SQLite store, also without mlflow),
so every path logs the same run.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import posixpath
import re
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit, urlunsplit

from mlci.adapters.mlflow import TAG, MlflowError, metric_key, short
from mlci.model.fmt import as_float, is_number, without_credentials
from mlci.model.result import Result

API = "/api/2.0/mlflow"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
MAX_METRICS, MAX_PARAMS = 1000, 100  # per runs/log-batch call
DEFAULT_TIMEOUT = 120  # MLflow's MLFLOW_HTTP_REQUEST_TIMEOUT default, seconds
RETRY_STATUS = {429, 502, 503, 504}  # a busy server or a proxy in front of it: asked again
BACKOFF_S = (0.5, 1.0)  # the waits before the second and third attempt


# --- what one run holds -------------------------------------------------------------------


@dataclass(frozen=True)
class RunContent:
    """The tags, name, numeric head metrics and params of the run logged for one result."""

    tags: dict[str, str]
    name: str
    metrics: list[tuple[str, float]]
    params: dict[str, str]


def run_content(result: Result, kind: str, tags: Mapping[str, str] | None = None) -> RunContent:
    ctx = result.context
    all_tags = {
        TAG + "kind": kind,
        TAG + "verdict": result.verdict,
        TAG + "git.sha": ctx.head.sha or "",
        TAG + "git.branch": ctx.head.ref or "",
        TAG + "base.sha": ctx.base.sha or "",
        TAG + "base.ref": ctx.base.ref or "",
        TAG + "pr": "" if ctx.pr is None else str(ctx.pr),
        TAG + "event": ctx.event,
        "mlflow.source.git.commit": ctx.head.sha or "",
        "mlflow.source.type": "JOB" if ctx.run_url else "LOCAL",
    }
    if ctx.repo:
        all_tags[TAG + "repo"] = ctx.repo
    if ctx.run_url:
        all_tags[TAG + "run_url"] = ctx.run_url
    all_tags.update(tags or {})
    head = (ctx.head.sha or "work tree")[:7]
    return RunContent(
        tags={k: short(v, 5000) for k, v in all_tags.items() if v != ""},
        name=f"{kind} {head}",
        metrics=[
            (metric_key(m.name), as_float(m.head)) for m in result.metrics if is_number(m.head)
        ],
        params={
            metric_key(p.name): short(p.head, 6000) for p in result.params if p.head is not None
        },
    )


def run_url(uri: str, experiment_id: str, run_id: str) -> str:
    return f"{without_credentials(uri).rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


# --- when mlflow's own client is needed ------------------------------------------------------


def client_needed(env: Mapping[str, str]) -> str | None:
    """Why this run needs mlflow's client rather than the REST calls here; None: it does not."""
    if env.get("MLFLOW_TRACKING_AUTH"):
        return "MLFLOW_TRACKING_AUTH names an auth plugin"
    if _true(env.get("MLFLOW_TRACKING_AWS_SIGV4")):
        return "MLFLOW_TRACKING_AWS_SIGV4 signs requests"
    if env.get("MLFLOW_WORKSPACE"):
        return "MLFLOW_WORKSPACE selects a workspace"
    home = env.get("HOME") or os.path.expanduser("~")
    if (Path(home) / ".mlflow" / "credentials").is_file():
        return "~/.mlflow/credentials holds the credentials"
    from importlib.metadata import entry_points

    if entry_points(group="mlflow.request_header_provider"):
        return "a plugin adds request headers"
    return None


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1")


# --- HTTP --------------------------------------------------------------------------------


class _ServerSaid(Exception):
    """The server answered with an error: its HTTP status and MLflow's error code/message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Connection:
    """HTTP calls to one tracking server, with MLflow's authentication and TLS settings."""

    def __init__(self, uri: str, env: Mapping[str, str]) -> None:
        parts = urlsplit(uri)
        self.scheme, self.netloc = parts.scheme, parts.netloc.rsplit("@", 1)[-1]
        self.prefix = parts.path.rstrip("/")
        self.display = without_credentials(uri)
        self.headers = {"User-Agent": "mlci", "Accept": "application/json"}
        user, password = env.get("MLFLOW_TRACKING_USERNAME"), env.get("MLFLOW_TRACKING_PASSWORD")
        token = env.get("MLFLOW_TRACKING_TOKEN")
        if not (user and password) and not token and parts.username is not None:
            user, password = unquote(parts.username), unquote(parts.password or "")
        if user and password:
            pair = base64.standard_b64encode(f"{user}:{password}".encode()).decode()
            self.headers["Authorization"] = f"Basic {pair}"
        elif token:
            self.headers["Authorization"] = f"Bearer {token}"
        try:
            self.timeout = float(env.get("MLFLOW_HTTP_REQUEST_TIMEOUT") or DEFAULT_TIMEOUT)
        except ValueError:
            self.timeout = DEFAULT_TIMEOUT
        handlers: list[Any] = [_Redirects()]
        if self.scheme == "https":
            handlers.append(urllib.request.HTTPSHandler(context=_tls(env)))
        self._opener = urllib.request.build_opener(*handlers)  # proxies from the environment

    def url(
        self, path: str, netloc: str | None = None, query: Mapping[str, str] | None = None
    ) -> str:
        return urlunsplit((self.scheme, netloc or self.netloc, path, urlencode(query or {}), ""))

    def call(
        self,
        method: str,
        url: str,
        *,
        body: Mapping[str, Any] | None = None,
        data: bytes | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """One request (asked again after a 429/502/503/504 or a refused connection); the JSON reply."""
        if body is not None:
            data = json.dumps(body, allow_nan=False).encode()
        headers = dict(self.headers)
        if data is not None:
            headers["Content-Type"] = content_type
        for attempt in range(len(BACKOFF_S) + 1):
            request = urllib.request.Request(url, data=data, headers=headers, method=method)
            try:
                with self._opener.open(request, timeout=self.timeout) as reply:
                    raw = reply.read()
                break
            except urllib.error.HTTPError as exc:
                if exc.code in RETRY_STATUS and attempt < len(BACKOFF_S):
                    time.sleep(BACKOFF_S[attempt])
                    continue
                raise _server_said(exc) from None
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                refused = isinstance(reason, (ConnectionRefusedError, ConnectionResetError))
                if refused and attempt < len(BACKOFF_S):
                    time.sleep(BACKOFF_S[attempt])
                    continue
                raise OSError(f"cannot reach the server: {reason}") from None
        try:
            found = json.loads(raw) if raw.strip() else {}
        except ValueError:
            found = {}
        return found if isinstance(found, dict) else {}


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Redirects followed as requests (mlflow's client) follows them: no credentials elsewhere.

    urllib would send the Authorization header to any host a redirect names.
    """

    def redirect_request(  # type: ignore[no-untyped-def]
        self, req, fp, code, msg, headers, newurl
    ):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        old, to = urlsplit(req.full_url), urlsplit(newurl)
        if new is not None and (
            to.hostname != old.hostname or (old.scheme == "https" and to.scheme != "https")
        ):
            new.remove_header("Authorization")
        return new


def _tls(env: Mapping[str, str]) -> ssl.SSLContext:
    """MLflow's TLS settings: the server's CA, else requests' CA bundle variables; insecure; a client cert."""
    cafile = (
        env.get("MLFLOW_TRACKING_SERVER_CERT_PATH")
        or env.get("REQUESTS_CA_BUNDLE")
        or env.get("CURL_CA_BUNDLE")
        or None
    )
    context = ssl.create_default_context(cafile=cafile)
    if _true(env.get("MLFLOW_TRACKING_INSECURE_TLS")) and not env.get(
        "MLFLOW_TRACKING_SERVER_CERT_PATH"
    ):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if env.get("MLFLOW_TRACKING_CLIENT_CERT_PATH"):
        context.load_cert_chain(env["MLFLOW_TRACKING_CLIENT_CERT_PATH"])
    return context


def _server_said(exc: urllib.error.HTTPError) -> _ServerSaid:
    try:
        raw = exc.read()
    except OSError:
        raw = b""
    try:
        found = json.loads(raw)
    except ValueError:
        found = None
    if isinstance(found, dict):
        message = str(found.get("message") or found.get("detail") or "")
        code = str(found.get("error_code") or "")
    else:
        message, code = "", ""
    return _ServerSaid(exc.code, code, message or f"HTTP {exc.code} {exc.reason}")


def _json_number(value: float) -> float | str:
    """A metric value for MLflow's JSON (protobuf's names for the values JSON has no literal for)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


# --- the run -----------------------------------------------------------------------------


class RestTracker:
    """Logs a check's run to an ``http(s)://`` tracking server (see the module's docstring)."""

    def __init__(self, uri: str, env: Mapping[str, str]) -> None:
        self.uri = uri
        self._env = env
        try:
            self._http = Connection(uri, env)
        except (OSError, ValueError) as exc:  # a certificate file that cannot be read
            raise MlflowError(
                f"MLflow ({without_credentials(uri)}): reading the TLS certificates: {exc}"
            ) from exc

    def _call(self, what: str, method: str, endpoint: str, **kwargs: Any) -> dict[str, Any]:
        query = kwargs.pop("query", None)
        url = kwargs.pop("url", None) or self._http.url(
            f"{self._http.prefix}{API}/{endpoint}", query=query
        )
        try:
            return self._http.call(method, url, **kwargs)
        except (_ServerSaid, OSError, ValueError) as exc:
            message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            raise MlflowError(
                f"MLflow ({self._http.display}): {what}: {message.splitlines()[0]}"
            ) from exc

    def experiment_id(self, name: str) -> str:
        found = self._experiment(name)
        if found is not None:
            return found
        try:
            made = self._call(
                f"creating experiment {name}", "POST", "experiments/create", body={"name": name}
            )
        except MlflowError:
            found = self._experiment(name)  # created meanwhile by a parallel run?
            if found is None:
                raise
            return found
        return str(made["experiment_id"])

    def _experiment(self, name: str) -> str | None:
        try:
            found = self._call(
                f"reading experiment {name}",
                "GET",
                "experiments/get-by-name",
                query={"experiment_name": name},
            )
        except MlflowError as exc:
            if getattr(exc.__cause__, "code", None) == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        return str(found["experiment"]["experiment_id"])

    def log_result(
        self,
        result: Result,
        markdown: Callable[[Result], str],
        *,
        experiment: str,
        kind: str,
        tags: Mapping[str, str] | None = None,
    ) -> Result:
        """What :meth:`mlci.adapters.mlflow.Tracker.log_result` does, over REST (no model artifact)."""
        import dataclasses

        exp_id = self.experiment_id(experiment)
        content = run_content(result, kind, tags)
        made = self._call(
            "creating a run",
            "POST",
            "runs/create",
            body={
                "experiment_id": exp_id,
                "user_id": "unknown",
                "start_time": int(time.time() * 1000),
                "tags": [{"key": k, "value": v} for k, v in content.tags.items()],
                "run_name": content.name,
            },
        )
        try:
            info = made["run"]["info"]
            run_id, artifact_uri = str(info["run_id"]), str(info.get("artifact_uri") or "")
        except (KeyError, TypeError) as exc:
            raise MlflowError(
                f"MLflow ({self._http.display}): creating a run: the reply names no run"
            ) from exc
        ref = {"run_id": run_id, "experiment_id": exp_id, "url": run_url(self.uri, exp_id, run_id)}
        result = dataclasses.replace(result, mlflow=dict(ref))
        status = "FAILED"
        try:
            now = int(time.time() * 1000)
            metrics = [
                {"key": k, "value": _json_number(v), "timestamp": now, "step": 0}
                for k, v in content.metrics
            ]
            params = [{"key": k, "value": v} for k, v in content.params.items()]
            for i in range(0, len(metrics), MAX_METRICS):
                self._call(
                    "logging metrics",
                    "POST",
                    "runs/log-batch",
                    body={"run_id": run_id, "metrics": metrics[i : i + MAX_METRICS]},
                )
            for i in range(0, len(params), MAX_PARAMS):
                self._call(
                    "logging params",
                    "POST",
                    "runs/log-batch",
                    body={"run_id": run_id, "params": params[i : i + MAX_PARAMS]},
                )
            files = [
                ("logging the result", "mlci/result.json", result.to_json(), "application/json"),
                ("logging the report", "mlci/report.md", markdown(result), "text/markdown"),
            ]
            if artifact_uri.startswith("mlflow-artifacts:"):
                for what, path, text, mime in files:
                    self._upload(what, artifact_uri, path, text, mime)
            else:
                self._upload_with_mlflow(run_id, files)
            status = "FINISHED"
        finally:
            with contextlib.suppress(MlflowError):
                self._call(
                    "ending the run",
                    "POST",
                    "runs/update",
                    body={"run_id": run_id, "status": status, "end_time": int(time.time() * 1000)},
                )
        return result

    def _upload(self, what: str, artifact_uri: str, path: str, text: str, mime: str) -> None:
        """PUT a file through the artifact proxy, at the path mlflow's client uses for this URI."""
        where = urlsplit(artifact_uri)  # mlflow-artifacts:/<exp>/<run>/artifacts, or ://host/...
        full = posixpath.join(where.path or "/", path)
        endpoint = re.sub(r"//+", "/", f"{self._http.prefix}{ARTIFACTS_API}/{full}")
        url = self._http.url(quote(endpoint, safe="/"), netloc=where.netloc or None)
        self._call(what, "PUT", "", url=url, data=text.encode("utf-8"), content_type=mime)

    def _upload_with_mlflow(self, run_id: str, files: list[tuple[str, str, str, str]]) -> None:
        """The run's artifacts are not proxied: mlflow's artifact repository writes them there."""
        from mlci.adapters.mlflow import Tracker

        tracker = Tracker(self.uri)
        for _what, path, text, _mime in files:
            tracker.log_text(run_id, text, path)
