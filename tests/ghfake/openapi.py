"""GitHub's official OpenAPI description: loading, routing and validation.

The description comes from the npm package ``@octokit/openapi`` (installed by
``scripts/fetch-github-refs`` into ``.cache/github-refs``).  The package ships
only the OpenAPI 3.0.3 flavour: ``generated/api.github.com.json`` (13 MB, with
``$ref``) and a ``.deref`` variant (73 MB, references inlined).  openapi-core
resolves ``$ref`` itself, so the smaller file is used.

:class:`GitHubSpec` does three things for the fake GitHub server:

* **routing** – :meth:`GitHubSpec.match` maps a request (method, path) to the
  operation of the description (``operationId`` and path parameters), honouring
  GitHub's ``x-multi-segment`` parameters (a ``ref`` such as ``feature/x``); the
  same index serves as openapi-core's path finder (its own one costs ~5 ms a call);
* **request validation** and **response validation** with openapi-core (validation
  only, no unmarshalling), so that neither the code under test nor the fake itself
  can drift from GitHub's API;
* error responses whose status the description does not list for an operation
  (GitHub may answer 401/403/5xx anywhere) are checked against GitHub's generic
  ``basic-error`` (or ``validation-error`` for 422) schema instead.

Two adjustments keep the check faithful to GitHub rather than to a letter of the
format, both documented where they are made: :func:`apply_nullable_intent`
(``nullable`` as GitHub uses it) and :data:`BODY_TOLERANCES` (request forms
documented in prose only).

Loading takes ~0.4 s (the JSON parse dominates; openapi-core resolves lazily and
the ~27 s whole-description check of openapi-spec-validator is skipped) and is
done once per process by :func:`load_spec`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from jsonschema.exceptions import best_match
from jsonschema_path import SchemaPath
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.datatypes import TemplateResult
from openapi_core.templating.paths.datatypes import PathOperationServer
from openapi_core.templating.paths.exceptions import PathNotFound
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_schema_validator import OAS30Validator
from werkzeug.datastructures import Headers, ImmutableMultiDict

REFS_ENV = "MLCI_GITHUB_REFS"
"""Environment variable overriding the folder filled by ``scripts/fetch-github-refs``."""

SPEC_RELPATH = "node_modules/@octokit/openapi/generated/api.github.com.json"
WEBHOOK_EXAMPLES_RELPATH = "node_modules/@octokit/webhooks-examples/api.github.com/index.json"

SPEC_SERVER = "https://api.github.com"
"""The server URL of the description; validated requests are rebased onto it."""

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class ReferencesMissing(RuntimeError):
    """GitHub's reference files (OpenAPI description, webhook examples) are not installed."""


def repo_root() -> Path:
    """The root of the mlci repository (``tests/ghfake/`` is two levels below)."""
    return Path(__file__).resolve().parents[2]


def refs_dir() -> Path:
    """Folder where ``scripts/fetch-github-refs`` installs the reference packages."""
    override = os.environ.get(REFS_ENV)
    return Path(override) if override else repo_root() / ".cache" / "github-refs"


def reference_file(relpath: str) -> Path:
    """Absolute path of a reference file, or :class:`ReferencesMissing` telling how to get it."""
    path = refs_dir() / relpath
    if not path.is_file():
        raise ReferencesMissing(
            f"GitHub reference file missing: {path}\n"
            "Run `scripts/fetch-github-refs` (installs the pinned @octokit/openapi and "
            "@octokit/webhooks-examples npm packages into .cache/github-refs)."
        )
    return path


@dataclass(frozen=True)
class Violation:
    """A way in which a request or a response departs from GitHub's description."""

    kind: str
    """``unknown-operation`` (not in the description), ``request``, ``response``,
    ``not-implemented`` (in the description, not in the fake) or ``fake-error``
    (the fake crashed)."""
    method: str
    path: str
    message: str
    status: int | None = None
    operation_id: str | None = None

    def __str__(self) -> str:
        where = f"{self.method} {self.path}"
        if self.operation_id:
            where += f" [{self.operation_id}]"
        if self.status is not None:
            where += f" -> {self.status}"
        return f"{self.kind}: {where}: {self.message}"


@dataclass(frozen=True)
class Operation:
    """One operation of the description, with a compiled matcher for its path template."""

    method: str
    template: str
    operation_id: str
    multi_segment: frozenset[str]
    docs_url: str | None = field(compare=False)
    pattern: re.Pattern[str] = field(compare=False, repr=False)

    @property
    def variables(self) -> int:
        return self.template.count("{")


@dataclass(frozen=True)
class Match:
    """A request routed to an operation of the description."""

    operation: Operation
    params: dict[str, str]
    """Path parameters, percent-decoded; a multi-segment ``ref`` may contain ``/``."""

    def spec_path(self) -> str:
        """The request path rebuilt from the template, slashes of parameters encoded.

        openapi-core matches one segment per parameter, so ``feature/x`` for a
        ``x-multi-segment`` parameter is passed to it as ``feature%2Fx``.
        """
        path = self.operation.template
        for name, value in self.params.items():
            path = path.replace("{" + name + "}", quote(value, safe=""))
        return path


_NULL_ONLY: dict[str, Any] = {"type": "object", "nullable": True, "enum": [None]}


def apply_nullable_intent(document: Any) -> int:
    """Make ``nullable: true`` admit ``null`` wherever GitHub's description uses it.

    Under the strict OAS 3.0.3 reading that openapi-schema-validator follows,
    ``nullable`` is void without a ``type`` in the same schema object and an
    ``enum`` lacking ``null`` still rejects it.  GitHub's description relies on
    the looser reading (the real API answers ``"conclusion": null`` for a check
    run in progress, ``"author": null`` for a commit by an unknown e-mail), so
    such schemas are rewritten in place: ``null`` is added to the ``enum``, and a
    type-less ``oneOf``/``anyOf``/``allOf`` gets a null-only alternative.
    Returns the number of schemas rewritten.
    """
    rewritten = 0
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if node.get("nullable") is True:
            if "enum" in node and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
                rewritten += 1
            if "type" not in node:
                for key in ("oneOf", "anyOf"):
                    if key in node and _NULL_ONLY not in node[key]:
                        node[key] = [*node[key], dict(_NULL_ONLY)]
                        rewritten += 1
                if "allOf" in node:
                    node["anyOf"] = [{"allOf": node.pop("allOf")}, dict(_NULL_ONLY)]
                    rewritten += 1
        stack.extend(node.values())
    return rewritten


def _wrap_label_array(body: Any) -> Any:
    return {"labels": body} if isinstance(body, list) else body


BODY_TOLERANCES: dict[str, Callable[[Any], Any]] = {
    # The description says, in prose only, "You can also pass an `array` of labels
    # directly" (its schema lists the object form alone); PyGithub's
    # add_to_labels/set_labels send the bare array.
    "issues/add-labels": _wrap_label_array,
    "issues/set-labels": _wrap_label_array,
}
"""Request bodies GitHub documents in prose but not in the schema: operationId ->
normalisation applied before validation.  Keep this list short and justified."""


@dataclass
class Exchange:
    """The raw material of one request/response pair, as validated."""

    method: str
    path: str
    """Raw request path, without the query string."""
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    body: bytes | None
    status: int | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: bytes | None = None


@dataclass
class _Request:
    """openapi-core ``Request`` protocol implementation."""

    method: str
    path: str
    parameters: RequestParameters
    body: bytes | None
    content_type: str
    host_url: str = SPEC_SERVER


@dataclass
class _Response:
    """openapi-core ``Response`` protocol implementation."""

    status_code: int
    data: bytes | None
    headers: Headers
    content_type: str


def _format_error(error: BaseException) -> str:
    """Human-readable text of an openapi-core error, with the schema errors behind it."""
    text = str(error)
    cause = error.__cause__
    schema_errors = list(getattr(cause, "schema_errors", None) or [])
    if not schema_errors:
        return text if cause is None else f"{type(error).__name__}: {cause}"
    details = []
    for err in schema_errors:
        if getattr(err, "context", None):
            err = best_match(err.context) or err
        location = "/".join(str(p) for p in getattr(err, "absolute_path", [])) or "<root>"
        message = getattr(err, "message", str(err))
        if len(message) > 300:
            message = message[:300] + "..."
        details.append(f"at {location}: {message}")
    return f"{type(error).__name__}: " + "; ".join(details)


def _template_regex(template: str, multi_segment: frozenset[str]) -> str:
    """A regex for a path template; ``x-multi-segment`` parameters may span ``/``."""

    def group(found: re.Match[str]) -> str:
        name = found.group(1)
        return f"(?P<{name}>{'.+' if name in multi_segment else '[^/]+'})"

    return re.sub(r"\\\{(\w+)\\\}", group, re.escape(template)) + r"\Z"


class _IndexedPathFinder:
    """openapi-core path finder backed by :meth:`GitHubSpec.match`.

    openapi-core's own finder tries every one of the ~800 path templates with a
    fresh walk of the description on each call (about 5 ms); this one reuses
    the compiled index.  Subclassed per :class:`GitHubSpec` to bind it.
    """

    index: GitHubSpec

    def __init__(self, spec: SchemaPath, base_url: str | None = None) -> None:
        self.spec = spec

    def find(self, method: str, full_url: str) -> PathOperationServer:
        if not full_url.startswith(SPEC_SERVER + "/"):
            raise PathNotFound(full_url)
        path = full_url[len(SPEC_SERVER) :]
        match = self.index.match(method, path, decode=False)
        if match is None:
            raise PathNotFound(full_url)
        template = match.operation.template
        path_spec = self.index.path_item(template)
        return PathOperationServer(
            path_spec,
            path_spec / method,
            self.index.server(),
            TemplateResult(template, match.params),
            TemplateResult(SPEC_SERVER, {}),
        )


class GitHubSpec:
    """GitHub's REST API description, ready to route and validate requests."""

    def __init__(self, path: Path) -> None:
        started = time.perf_counter()
        with path.open("rb") as handle:
            self.document: dict[str, Any] = json.load(handle)
        self.nullable_rewrites = apply_nullable_intent(self.document)
        self.version: str = self.document["info"]["version"]
        self.openapi_version: str = self.document["openapi"]
        # The whole-description check of openapi-spec-validator takes ~27 s on this
        # 13 MB document; the description is GitHub's own, so it is skipped.
        finder = type("PathFinder", (_IndexedPathFinder,), {"index": self})
        self._api = OpenAPI.from_dict(
            self.document, config=Config(spec_validator_cls=None, path_finder_cls=finder)
        )
        self._path_items: dict[str, SchemaPath] | None = None
        self._operations = self._index_operations()
        self._by_id = {op.operation_id: op for ops in self._operations.values() for op in ops}
        self._components = {"components": self.document["components"]}
        self._error_validators: dict[str, OAS30Validator] = {}
        # openapi-core resolves references lazily and caches; keep it single-threaded.
        self._lock = threading.Lock()
        self.load_seconds = time.perf_counter() - started
        self.validations = 0
        """Number of validations (a request or a response) done so far."""
        self.validation_seconds = 0.0
        """Time spent in them, in total."""

    # -- routing -------------------------------------------------------------------

    def _index_operations(self) -> dict[str, list[Operation]]:
        parameters = self.document["components"].get("parameters", {})

        def resolve(param: Mapping[str, Any]) -> Mapping[str, Any]:
            ref = param.get("$ref")
            return parameters[ref.rsplit("/", 1)[1]] if ref else param

        by_method: dict[str, list[Operation]] = {}
        for template, item in self.document["paths"].items():
            shared = [resolve(p) for p in item.get("parameters", [])]
            for method in HTTP_METHODS:
                op = item.get(method)
                if op is None:
                    continue
                params = shared + [resolve(p) for p in op.get("parameters", [])]
                multi = frozenset(
                    p["name"] for p in params if p.get("in") == "path" and p.get("x-multi-segment")
                )
                regex = _template_regex(template, multi)
                docs = op.get("externalDocs", {}).get("url")
                by_method.setdefault(method, []).append(
                    Operation(method, template, op["operationId"], multi, docs, re.compile(regex))
                )
        for ops in by_method.values():
            # Literal segments win over parameters, as in openapi-core's own finder.
            ops.sort(key=lambda op: (op.variables, -len(op.template)))
        return by_method

    def operation(self, operation_id: str) -> Operation | None:
        """The operation with this ``operationId``, if the description has it."""
        return self._by_id.get(operation_id)

    def match(self, method: str, path: str, *, decode: bool = True) -> Match | None:
        """Route a request path (not percent-decoded) to an operation of the description."""
        for op in self._operations.get(method.lower(), ()):
            found = op.pattern.match(path)
            if found:
                params = found.groupdict()
                return Match(op, {k: unquote(v) for k, v in params.items()} if decode else params)
        return None

    def path_item(self, template: str) -> SchemaPath:
        """The openapi-core view of a path item of the description."""
        if self._path_items is None:
            self._path_items = dict((self._api.spec / "paths").str_items())
        return self._path_items[template]

    def server(self) -> SchemaPath:
        return next(iter(self._api.spec / "servers"))

    # -- validation ----------------------------------------------------------------

    @staticmethod
    def _request(match: Match, exchange: Exchange) -> _Request:
        headers = Headers(list(exchange.headers))
        body = exchange.body or None
        tolerance = BODY_TOLERANCES.get(match.operation.operation_id)
        if tolerance is not None and body is not None:
            try:
                body = json.dumps(tolerance(json.loads(body))).encode()
            except ValueError:
                pass  # not JSON: reported as such by the validation
        return _Request(
            method=match.operation.method,
            path=match.spec_path(),
            parameters=RequestParameters(
                query=ImmutableMultiDict(list(exchange.query)), header=headers
            ),
            body=body,
            content_type=headers.get("Content-Type", "application/json") if body else "",
        )

    def validate_request(self, match: Match, exchange: Exchange) -> list[Violation]:
        """Check the request of ``exchange`` against the operation it was routed to."""
        request = self._request(match, exchange)
        with self._timed():
            errors = list(self._api.iter_request_errors(request))
        return [self._violation("request", match, exchange, _format_error(e)) for e in errors]

    def validate_response(self, match: Match, exchange: Exchange) -> list[Violation]:
        """Check the response of ``exchange`` (status, headers, body) against the operation."""
        assert exchange.status is not None, "response not set"
        headers = Headers(list(exchange.response_headers))
        response = _Response(
            status_code=exchange.status,
            data=exchange.response_body or None,
            headers=headers,
            content_type=headers.get("Content-Type", "") if exchange.response_body else "",
        )
        request = self._request(match, exchange)
        violations = []
        with self._timed():
            for error in self._api.iter_response_errors(request, response):
                if isinstance(error, ResponseNotFound) and exchange.status >= 400:
                    message = self._check_undocumented_error(
                        exchange.status, exchange.response_body
                    )
                    if message is None:
                        continue
                else:
                    message = _format_error(error)
                violations.append(self._violation("response", match, exchange, message))
        return violations

    @staticmethod
    def _violation(kind: str, match: Match, exchange: Exchange, message: str) -> Violation:
        return Violation(
            kind,
            exchange.method,
            exchange.path,
            message,
            exchange.status,
            match.operation.operation_id,
        )

    @contextlib.contextmanager
    def _timed(self) -> Iterator[None]:
        with self._lock:
            started = time.perf_counter()
            try:
                yield
            finally:
                self.validations += 1
                self.validation_seconds += time.perf_counter() - started

    def _check_undocumented_error(self, status: int, body: bytes | None) -> str | None:
        """Check an error response whose status the operation does not document.

        GitHub answers 401, 403 (permissions, rate limits), 404 and 5xx on any
        endpoint, with its generic error body; the description lists them only
        where they are common.  Such a response must still be a GitHub error body.
        """
        schema = "validation-error" if status == 422 else "basic-error"
        if not body:
            return f"undocumented status {status} without a {schema} body"
        try:
            data = json.loads(body)
        except ValueError as exc:
            return f"undocumented status {status} with a non-JSON body: {exc}"
        validator = self._error_validators.get(schema)
        if validator is None:
            validator = OAS30Validator(
                {"$ref": f"#/components/schemas/{schema}", **self._components}
            )
            self._error_validators[schema] = validator
        error = best_match(validator.iter_errors(data))
        if error is None:
            return None
        return f"undocumented status {status}, body is not a {schema}: {error.message}"

    def schema(self, name: str) -> dict[str, Any]:
        """A component schema of the description (raw, ``$ref`` unresolved)."""
        return self.document["components"]["schemas"][name]


@functools.cache
def load_spec() -> GitHubSpec:
    """The description, parsed once per process (raises :class:`ReferencesMissing`)."""
    return GitHubSpec(reference_file(SPEC_RELPATH))
