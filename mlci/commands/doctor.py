"""``mlci doctor``: what a run would need, and what this clone lacks.

A checklist, computed first (:func:`diagnose`) and printed after
(:func:`render`): ✓ fine, ✗ a run would fail (exit 3), ! a run would go on
with less (a warning), · not applicable here. Offline-safe and quick: it
never fetches and never calls GitHub; the only network it touches is a TCP
connect or an HTTP health check, with a short timeout, to a DVC remote or an
MLflow server that the config names.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from mlci import configfile as config
from mlci.adapters import dvc, git
from mlci.adapters.dvc.plugins import DEFAULT_PORTS, REMOTE_PLUGINS
from mlci.engine import project
from mlci.model.errors import EXIT_PASS, EXIT_RUNTIME, MlciError
from mlci.model.fmt import mask_credentials, plural
from mlci.model.run import HostEvent

T = TypeVar("T")
OK, FAIL, WARN, SKIP = "ok", "fail", "warn", "skip"
ICONS = {OK: "✓", FAIL: "✗", WARN: "!", SKIP: "·"}
TIMEOUT_S = 2.0

# what the PR comment, the status and the check run need from the workflow's token
_WRITE_SCOPES = ("pull-requests", "statuses", "checks")


def _within(timeout: float, call: Callable[[], T]) -> T:
    """``call()`` with a hard time limit: a socket timeout does not bound the name lookup."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)  # the call's own timeout, when it has one, speaks first
    if thread.is_alive():
        raise TimeoutError(f"no answer within {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


@dataclass(frozen=True)
class Item:
    status: str  # ok | fail | warn | skip
    what: str
    detail: str


def diagnose(
    cwd: Path, env: Mapping[str, str], *, config_path: str | None = None, timeout: float = TIMEOUT_S
) -> list[Item]:
    items: list[Item] = []
    try:
        found = project.find(cwd)
    except MlciError as exc:
        return [Item(FAIL, "git", str(exc))]
    root = found.root
    if not git.has_commits(root):
        return [Item(FAIL, "git", "the repository has no commits yet: commit a baseline first")]
    shallow = git.is_shallow(root)
    items.append(
        Item(
            WARN,
            "history",
            "shallow clone: the base may be missing; use `fetch-depth: 0` "
            "(actions/checkout) or `git fetch --unshallow`",
        )
        if shallow
        else Item(OK, "history", "full history")
    )
    items.append(_notes(root))
    try:
        cfg = config.load(config_path, root, explicit=config_path is not None, project=found.label)
    except MlciError as exc:
        items.append(Item(FAIL, "config", str(exc)))
        cfg = config.Config()
    else:
        items.append(Item(OK, "config", _describe_config(cfg)))
    if found.label:
        items.append(
            Item(
                OK,
                "project",
                f"the DVC project in {found.label}/ (status and comment: "
                f"{cfg.report.status_context})",
            )
        )
    elif not cfg.metrics.files and (folders := project.nested(root)):
        hint = project.nested_hint(folders, here=(root / ".dvc").is_dir())
        items.append(Item(FAIL, "project", hint))
    from mlci.commands import common

    run = common.start(env, strict=False)
    items.append(_base(root, cfg, run.event.target_branch))
    items += _dvc(root, cfg, env, timeout)
    items += _rules(root, cfg)
    items.append(_mlflow(root, cfg, env, timeout))
    items += _github(root, run.event, run.forge.TOKEN_VAR)
    return items


def _notes(root: Path) -> Item:
    """How many results the clone's history holds (git notes under refs/notes/mlci)."""
    from mlci.commands import common

    try:
        n = common.notes_count(root)
    except MlciError as exc:
        return Item(WARN, "results history", f"refs/notes/mlci cannot be read: {exc}")
    if n == 0:
        return Item(
            OK,
            "results history",
            "no recorded results in this clone (refs/notes/mlci): `mlci history fetch` "
            "brings the remote's; without them no trends and `auto` rules use their fallback",
        )
    return Item(
        OK,
        "results history",
        f"{n} commit{'s' if n != 1 else ''} with a recorded result (refs/notes/mlci)",
    )


def _describe_config(cfg: config.Config) -> str:
    if cfg.path is None:
        return "no mlci.yaml: the defaults apply (`mlci init` writes one)"
    rules, data = len(cfg.metrics.rules), len(cfg.data)
    return f"{cfg.path} is valid: {plural(rules, 'metric rule')}, {plural(data, 'data check')}"


def _base(root: Path, cfg: config.Config, pr_base: str | None) -> Item:
    if pr_base:  # a pull_request run: the base is the PR's target branch
        candidates = [f"origin/{pr_base}", pr_base]
    else:
        candidates = [cfg.base or git.default_base(root)]
    for ref in candidates:
        sha = git.resolve(ref, root)
        if sha is None:
            continue
        if git.merge_base(sha, "HEAD", root) is None:
            return Item(
                WARN,
                "base",
                f"{ref} ({sha[:7]}) shares no history with HEAD in this clone "
                "(shallow?): `git fetch --unshallow`",
            )
        return Item(OK, "base", f"{ref} ({sha[:7]})")
    name = candidates[0]
    try:
        on_remote = git.resolve_on_remotes(name, root)
    except MlciError as exc:
        return Item(FAIL, "base", str(exc))
    if on_remote:
        return Item(
            OK,
            "base",
            f"{on_remote[0]} ({on_remote[1][:7]}): no local branch '{name}', taken from the "
            "remote as DVC does",
        )
    remote, _, branch = name.partition("/")
    hint = f"`git fetch {remote} {branch}`" if branch else f"`git fetch origin {name}`"
    return Item(FAIL, "base", f"unknown base revision '{name}': {hint}, or set base: in mlci.yaml")


def _dvc(root: Path, cfg: config.Config, env: Mapping[str, str], timeout: float) -> list[Item]:
    if not dvc.is_dvc_repo(root):
        detail = "no DVC project (.dvc/): metrics only from metrics.files"
        return [Item(WARN if not cfg.metrics.files else SKIP, "DVC", detail)]
    items = [
        Item(
            OK,
            "DVC",
            "project found"
            + ("" if (root / "dvc.yaml").is_file() else ", but no dvc.yaml pipeline"),
        )
    ]
    try:
        remotes = dvc.remotes(root)
    except MlciError as exc:
        return [*items, Item(FAIL, "DVC remote", str(exc))]
    severity = FAIL if cfg.repro.remote_unreachable == "fail" else WARN
    if not remotes:
        detail = "none configured: `dvc repro` computes every stage (nothing to pull from)"
        return [
            *items,
            Item(severity if cfg.repro.pull and cfg.repro.enabled else SKIP, "DVC remote", detail),
        ]
    if not any(r.default for r in remotes):
        items.append(
            Item(
                severity,
                "DVC remote",
                "no default remote: `dvc pull` has none to use; `dvc remote default NAME`",
            )
        )
    for remote in remotes:
        item = _remote(root, remote, env, timeout)
        if item.status == FAIL:
            # only the default remote is what a run pulls from; its policy decides
            item = Item(severity if remote.default else WARN, item.what, item.detail)
        items.append(item)
    return items


def _remote(root: Path, remote: dvc.RemoteConfig, env: Mapping[str, str], timeout: float) -> Item:
    what = f"DVC remote '{remote.name}'" + (" (default)" if remote.default else "")
    url = remote.url
    shown = mask_credentials(url)  # doctor's output is pasted into issues and CI logs
    scheme = urlsplit(url).scheme if "://" in url else ""
    if scheme in ("", "file"):
        path = Path(urlsplit(url).path if scheme else url).expanduser()
        if not path.is_absolute():  # DVC resolves it against the config file's folder
            path = (root / ".dvc" / path).resolve()
        if path.is_dir():
            return Item(OK, what, f"local folder {path} exists")
        return Item(FAIL, what, f"local folder {path} does not exist")
    if scheme in REMOTE_PLUGINS:
        plugin = REMOTE_PLUGINS[scheme]
        extra, module, env_names = plugin.extra, plugin.module, plugin.credential_env
        options, files = plugin.credential_options, plugin.credential_files
        if importlib.util.find_spec(module) is None:
            return Item(
                FAIL,
                what,
                f"{shown}: DVC's {scheme} plugin is not installed: "
                f"add the {extra} extra (the action's input `extras: {extra}`; "
                f"pip install 'mlci[{extra}]')",
            )
        home = Path(env.get("HOME", "~")).expanduser()
        found = (
            [f"${n}" for n in env_names if env.get(n)]
            + [f"remote option {o}" for o in options if remote.options.get(o)]
            + [f"~/{f}" for f in files if (home / f).is_file()]
        )
        if not found:
            return Item(
                FAIL,
                what,
                f"{shown}: no credentials found (looked for "
                f"{', '.join('$' + n for n in env_names[:2])}, remote options, "
                f"{', '.join('~/' + f for f in files) or 'config files'})",
            )
        return Item(
            OK, what, f"{shown}: credentials from {found[0]} (not verified: doctor stays offline)"
        )
    if scheme in DEFAULT_PORTS:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORTS[scheme]
        if not parts.hostname:
            return Item(FAIL, what, f"{shown}: no host in the URL")
        try:
            _within(
                timeout,
                lambda: socket.create_connection((parts.hostname, port), timeout=timeout).close(),
            )
        except OSError as exc:
            return Item(
                FAIL, what, f"{shown}: {parts.hostname}:{port} unreachable ({exc.strerror or exc})"
            )
        return Item(OK, what, f"{shown}: {parts.hostname}:{port} answers")
    return Item(SKIP, what, f"{shown}: {scheme} remotes are not checked")


def _rules(root: Path, cfg: config.Config) -> list[Item]:
    """Each metric rule against the metrics of the base and the work tree: a typo gates nothing.

    Reads metrics the way a check does (DVC's cache, no fetch); a rule that may
    match a file not produced or not readable yet is not reported.
    """
    from mlci.engine import collect, compare

    if not cfg.metrics.rules:
        return []
    base_ref = cfg.base or git.default_base(root)
    base = git.resolve(base_ref, root)
    revs = [r for r in (base, dvc.WORKSPACE) if r]
    try:
        snaps = collect.collect(root, revs, cfg.metrics.files)
    except MlciError as exc:
        return [Item(WARN, "metric rules", f"cannot read the metrics to check the rules: {exc}")]
    names: list[str] = []
    unknown: set[str] = set()
    known: set[str] = set()
    for snap in snaps.values():
        names += [n for n in snap.metrics if n not in names]
        unknown |= {*snap.errors, *snap.missing}
        known |= snap.metric_files
    unknown -= known
    if dvc.PIPELINE in unknown:
        unknown = {"*"}
    where = (f"at {base_ref} or " if base else "") + "in the work tree"
    found = compare.unmatched_rules(cfg.metrics.rules, names, unknown)
    if not found:
        return [
            Item(
                OK,
                "metric rules",
                f"each of the {plural(len(cfg.metrics.rules), 'rule')} matches a metric"
                if len(cfg.metrics.rules) > 1
                else "the rule matches a metric",
            )
        ]
    return [
        Item(
            WARN, "metric rules", f"line {rule.line}: " + compare.unmatched_text(rule, hint, where)
        )
        for rule, hint in found
    ]


def _mlflow(root: Path, cfg: config.Config, env: Mapping[str, str], timeout: float) -> Item:
    if cfg.mlflow is None and cfg.deploy is None and not env.get("MLFLOW_TRACKING_URI"):
        return Item(
            SKIP, "MLflow", "not used (no mlflow: or deploy: section, no $MLFLOW_TRACKING_URI)"
        )
    from mlci.adapters.mlflow import configured_uri, default_store, git_dir, local_store

    uri = configured_uri(cfg, root, env)
    if not uri:  # mlci's default store (see adapters/mlflow.py): made on first use, inside .git
        store = default_store(git_dir(root))
        state = "the database file exists" if store.is_file() else "will be created on first use"
        return Item(
            OK, "MLflow", f"sqlite:///{store.as_posix()} (the default local store): {state}"
        )
    severity = FAIL if cfg.deploy is not None else WARN  # deploy cannot work without it
    shown = mask_credentials(uri)
    scheme = urlsplit(uri).scheme
    found = local_store(uri)  # the file deploy and tracking open, resolved as they resolve it
    if found is not None and scheme == "sqlite":
        if found.is_file():
            return Item(OK, "MLflow", f"{shown}: the database file exists")
        if found.parent.is_dir():
            return Item(OK, "MLflow", f"{shown}: will be created on first use")
        return Item(severity, "MLflow", f"{shown}: folder {found.parent} does not exist")
    if scheme in ("http", "https"):
        from mlci.model.fmt import without_credentials

        # /health needs no login; a user:password@ in the URL would only end up in an error message
        url = without_credentials(uri).rstrip("/") + "/health"

        def health() -> int:
            with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http(s) only
                return int(response.status)

        try:
            code = _within(timeout, health)
        except urllib.error.HTTPError as exc:
            code = exc.code
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            return Item(severity, "MLflow", f"{shown}: unreachable ({reason})")
        if code == 200:
            return Item(OK, "MLflow", f"{shown}: the server answers")
        return Item(severity, "MLflow", f"{shown}: /health answered HTTP {code}")
    if found is not None:  # a file:// or plain path store
        if found.is_dir() or found.parent.is_dir():
            return Item(OK, "MLflow", f"{shown}: local store")
        return Item(severity, "MLflow", f"{shown}: folder {found.parent} does not exist")
    return Item(SKIP, "MLflow", f"{shown}: {scheme} tracking URIs are not checked")


def _github(root: Path, event: HostEvent, token_var: str) -> list[Item]:
    items = []
    if event.in_ci:
        if event.has_token:
            items.append(
                Item(
                    OK,
                    "GitHub token",
                    f"{token_var} is set (its permissions are not "
                    "queried: doctor makes no GitHub API calls)",
                )
            )
        else:
            # publishing problems are warnings: the run still computes its verdict
            items.append(
                Item(
                    WARN,
                    "GitHub token",
                    f"{token_var} is not set: pass the action's "
                    "github-token input; without it nothing is published",
                )
            )
    else:
        items.append(Item(SKIP, "GitHub token", "not on GitHub Actions: a local run needs none"))
    items += [_workflow_permissions(path, root) for path in _mlci_workflows(root)]
    return items


def _mlci_workflows(root: Path) -> list[Path]:
    folder = root / ".github" / "workflows"
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.y*ml")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "mlci" in text:
            found.append(path)
    return found


def _workflow_permissions(path: Path, root: Path) -> Item:
    """Read the token permissions a workflow grants (what GitHub will give the run)."""
    what = "token permissions"
    name = path.relative_to(root).as_posix()
    from mlci.model import yamlread

    try:
        doc = yamlread.load(path.read_bytes()) or {}
    except (OSError, yamlread.YamlRefused) as exc:
        return Item(WARN, what, f"{name}: cannot parse: {str(exc).splitlines()[0]}")
    if not isinstance(doc, dict):
        return Item(WARN, what, f"{name}: not a workflow")
    top = doc.get("permissions")
    missing: set[str] = set()
    unset = top is None
    for job in (doc.get("jobs") or {}).values():
        if not isinstance(job, dict) or "mlci" not in json.dumps(job.get("steps") or []):
            continue  # a job that does not run mlci needs nothing of it
        perms = job.get("permissions", top)
        if perms is None:
            continue
        unset = False
        if perms == "write-all":
            continue
        needs = _job_needs(job)
        if not isinstance(perms, dict):
            missing.update(needs)
            continue
        missing.update(s for s in needs if perms.get(s) != "write")
    if unset:
        return Item(
            WARN,
            what,
            f"{name}: no permissions: block: the repository's default token permissions "
            "apply (read-only in new repositories); grant pull-requests, statuses and checks: write",
        )
    if missing:
        return Item(
            WARN,
            what,
            f"{name}: {', '.join(sorted(missing))}: write missing: the PR comment, the "
            "status or the deployment cannot be posted (a warning, not a failure)",
        )
    return Item(OK, what, f"{name} grants what each mlci job writes")


def _job_needs(job: dict) -> tuple[str, ...]:
    """The write scopes a job's mlci step uses, read from its step and its ``if:``.

    A job that does not publish (``publish: "false"``, ``--no-publish``) writes nothing; a
    deploy writes a deployment; a job that runs only on pushes posts a status and a check
    run but has no pull request to comment on; anything else may.
    """
    steps = json.dumps(job.get("steps") or [])
    if re.search(r'"publish": "?false"?|--no-publish', steps):
        return ()  # the untrusted half (`mlci ci --no-publish`): it writes nothing
    if re.search(r'"command": "(deploy|rollback)"|mlci (deploy|rollback)', steps):
        return ("deployments",)
    when = str(job.get("if") or "")
    if "'push'" in when and "pull_request" not in when and "issue_comment" not in when:
        return ("statuses", "checks")
    return _WRITE_SCOPES


def render(items: list[Item]) -> str:
    width = max(len(i.what) for i in items)
    lines = ["mlci doctor: what a run needs"]
    lines += [f"{ICONS[i.status]} {i.what.ljust(width)}  {i.detail}" for i in items]
    fails = sum(i.status == FAIL for i in items)
    warns = sum(i.status == WARN for i in items)
    if fails:
        lines.append(
            f"{plural(fails, 'problem')} would stop a run (✗), {plural(warns, 'warning')} (!)"
        )
    else:
        lines.append(f"nothing required is missing; {plural(warns, 'warning')} (!)")
    return "\n".join(lines) + "\n"


def exit_code(items: list[Item]) -> int:
    return EXIT_RUNTIME if any(i.status == FAIL for i in items) else EXIT_PASS


def run(
    cwd: Path, config_path: str | None = None, env: Mapping[str, str] | None = None
) -> tuple[str, int]:
    items = diagnose(cwd, os.environ if env is None else env, config_path=config_path)
    return render(items), exit_code(items)


def doctor_command(config_path: str | None) -> int:
    """``mlci doctor`` in the current directory."""
    from mlci.commands.common import say

    text, code = run(Path.cwd(), config_path)
    say(text, nl=False)
    return code
