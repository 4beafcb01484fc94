"""Real GitHub webhook payloads (``@octokit/webhooks-examples``), retargeted for tests.

``api.github.com/index.json`` of the package is a list of event definitions
``{"name", "description", "actions", "properties", "examples"}``; ``examples`` are
payloads captured from GitHub (``action`` inside each one, when the event has
actions).  A workflow's ``GITHUB_EVENT_PATH`` file holds the same payload.

:func:`event_payload` picks an example of an event/action and :func:`retarget`
rewrites it, on a deep copy, to point at a given repository, pull request
number, head/base SHA and ref.  The package has no ``issue_comment`` example on
a pull request; :func:`event_payload` makes one by adding the ``issue.pull_request``
links GitHub sets for pull requests.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .openapi import WEBHOOK_EXAMPLES_RELPATH, reference_file

Payload = dict[str, Any]

_PREFERRED: dict[str, Callable[[Payload], bool]] = {
    # Most push examples are tag pushes without commits; prefer a branch push.
    "push": lambda p: p["ref"].startswith("refs/heads/") and bool(p.get("commits")),
    # Prefer a finished run linked to a pull request.
    "workflow_run": lambda p: (
        p["workflow_run"].get("conclusion") is not None
        and bool(p["workflow_run"].get("pull_requests"))
    ),
}


@functools.cache
def _definitions() -> dict[str, dict[str, Any]]:
    with reference_file(WEBHOOK_EXAMPLES_RELPATH).open(encoding="utf-8") as handle:
        return {item["name"]: item for item in json.load(handle)}


def event_names() -> list[str]:
    """Names of the events with examples (``push``, ``pull_request``, ...)."""
    return sorted(_definitions())


def examples(event: str, action: str | None = None) -> list[Payload]:
    """Deep copies of the example payloads of an event, optionally of one action."""
    try:
        definition = _definitions()[event]
    except KeyError:
        raise KeyError(f"no webhook examples for event {event!r}") from None
    found = [p for p in definition["examples"] if action is None or p.get("action") == action]
    if not found:
        raise KeyError(
            f"no {event!r} example with action {action!r}; actions: {definition['actions']}"
        )
    return copy.deepcopy(found)


def example(event: str, action: str | None = None) -> Payload:
    """One representative example (deep copy) of an event/action."""
    candidates = examples(event, action)
    preferred = _PREFERRED.get(event)
    if preferred is not None:
        candidates = [p for p in candidates if preferred(p)] or candidates
    return candidates[0]


def _walk_strings(node: Any, change: Callable[[str], str]) -> Any:
    if isinstance(node, dict):
        return {key: _walk_strings(value, change) for key, value in node.items()}
    if isinstance(node, list):
        return [_walk_strings(value, change) for value in node]
    if isinstance(node, str):
        return change(node)
    return node


def _replace_all(node: Any, mapping: dict[str, str]) -> Any:
    mapping = {old: new for old, new in mapping.items() if old and new and old != new}
    if not mapping:
        return node
    pattern = re.compile("|".join(re.escape(old) for old in sorted(mapping, key=len, reverse=True)))
    return _walk_strings(node, lambda text: pattern.sub(lambda m: mapping[m.group(0)], text))


def _repo_from_url(url: str | None) -> str | None:
    found = re.search(r"/repos/([^/]+/[^/]+)", url or "")
    return found.group(1) if found else None


def _set_repository(data: Payload | None, full_name: str) -> None:
    """Set the naming fields of a repository object (URLs are rewritten separately)."""
    if not isinstance(data, dict):
        return
    owner, name = full_name.split("/", 1)
    if "full_name" in data:
        data["full_name"] = full_name
    data["name"] = name
    if isinstance(data.get("owner"), dict):
        data["owner"]["login"] = owner


def retarget(
    payload: Payload,
    *,
    repo: str | None = None,
    pr_number: int | None = None,
    head_sha: str | None = None,
    head_ref: str | None = None,
    base_sha: str | None = None,
    base_ref: str | None = None,
    head_repo: str | None = None,
) -> Payload:
    """A deep copy of ``payload`` pointing at another repository, pull request and commits.

    Works on ``pull_request``, ``push``, ``workflow_run`` and ``issue_comment``
    payloads (and on any other for the repository alone).  ``head_repo`` is the
    fork the head branch lives in (default: ``repo``).  For ``push``, ``head_ref``
    is the branch pushed, ``head_sha`` the new commit (``after``) and
    ``base_sha`` the previous one (``before``).
    """
    data = copy.deepcopy(payload)
    pull = data.get("pull_request")
    run = data.get("workflow_run")
    issue = data.get("issue")
    run_pulls = run.get("pull_requests", []) if isinstance(run, dict) else []

    # -- repositories: head side first (it may be a fork), then the base side.
    if repo is not None:
        head_target = head_repo or repo
        head_names: dict[str, str] = {}
        head_nodes: list[Any] = []
        if isinstance(pull, dict):
            head_nodes.append(pull["head"])
            if isinstance(pull["head"].get("repo"), dict):
                head_names[pull["head"]["repo"]["full_name"]] = head_target
                _set_repository(pull["head"]["repo"], head_target)
        if isinstance(run, dict) and isinstance(run.get("head_repository"), dict):
            head_names[run["head_repository"]["full_name"]] = head_target
            _set_repository(run["head_repository"], head_target)
            head_nodes.append(run["head_repository"])
        for item in run_pulls:
            old = _repo_from_url(item["head"]["repo"].get("url"))
            if old:
                head_names[old] = head_target
            item["head"]["repo"]["name"] = head_target.split("/", 1)[1]
            head_nodes.append(item["head"])
        for node in head_nodes:
            node.update(_replace_all(node, head_names))

        base_names: dict[str, str] = {}
        for node in (
            data.get("repository"),
            pull["base"].get("repo") if isinstance(pull, dict) else None,
            run.get("repository") if isinstance(run, dict) else None,
        ):
            if isinstance(node, dict) and "full_name" in node:
                base_names[node["full_name"]] = repo
                _set_repository(node, repo)
        for item in run_pulls:
            for url in (item.get("url"), item["base"]["repo"].get("url")):
                old = _repo_from_url(url)
                if old:
                    base_names[old] = repo
            item["base"]["repo"]["name"] = repo.split("/", 1)[1]
        data = _replace_all(data, base_names)
        pull = data.get("pull_request")
        run = data.get("workflow_run")
        issue = data.get("issue")
        run_pulls = run.get("pull_requests", []) if isinstance(run, dict) else []

    # -- commits and refs, replaced wherever the old values appear (URLs included).
    shas: dict[str, str] = {}
    if isinstance(pull, dict):
        shas[pull["head"]["sha"]] = head_sha or ""
        shas[pull["base"]["sha"]] = base_sha or ""
    if isinstance(run, dict):
        shas[run["head_sha"]] = head_sha or ""
        for item in run_pulls:
            shas[item["head"]["sha"]] = head_sha or ""
            shas[item["base"]["sha"]] = base_sha or ""
    is_push = "pusher" in data
    if "after" in data:  # push, and pull_request "synchronize" (after = new head)
        shas[data["after"]] = head_sha or ""
    if is_push:
        if set(data["before"]) != {"0"}:
            shas[data["before"]] = base_sha or ""
        elif base_sha:
            data["before"] = base_sha
    data = _replace_all(data, shas)
    pull = data.get("pull_request")
    run = data.get("workflow_run")
    issue = data.get("issue")
    run_pulls = run.get("pull_requests", []) if isinstance(run, dict) else []

    if isinstance(pull, dict):
        for side, ref, owner_repo in (
            ("head", head_ref, head_repo or repo),
            ("base", base_ref, repo),
        ):
            if ref is not None:
                pull[side]["ref"] = ref
            if owner_repo is not None or ref is not None:
                owner = (owner_repo or pull[side]["label"].split(":", 1)[0]).split("/")[0]
                pull[side]["label"] = f"{owner}:{pull[side]['ref']}"
    if isinstance(run, dict):
        if head_ref is not None:
            run["head_branch"] = head_ref
        for item in run_pulls:
            if head_ref is not None:
                item["head"]["ref"] = head_ref
            if base_ref is not None:
                item["base"]["ref"] = base_ref
    if is_push and head_ref is not None:
        data["ref"] = head_ref if head_ref.startswith("refs/") else f"refs/heads/{head_ref}"

    # -- pull request number.
    if pr_number is not None:
        old_numbers = set()
        if isinstance(pull, dict):
            old_numbers.add(pull["number"])
            pull["number"] = pr_number
        if "number" in data:
            old_numbers.add(data["number"])
            data["number"] = pr_number
        if isinstance(issue, dict):
            old_numbers.add(issue["number"])
            issue["number"] = pr_number
        if run_pulls:
            old_numbers.add(run_pulls[0]["number"])
            run_pulls[0]["number"] = pr_number
        for old in old_numbers:
            data = _renumber(data, old, pr_number)
    return data


def _renumber(data: Any, old: int, new: int) -> Any:
    """Rewrite ``/pulls/OLD``, ``/pull/OLD`` and ``/issues/OLD`` in every URL."""
    pattern = re.compile(rf"(/(?:pulls|pull|issues)/){old}(?![0-9])")
    return _walk_strings(data, lambda text: pattern.sub(rf"\g<1>{new}", text))


def on_pull_request(payload: Payload) -> Payload:
    """An ``issue_comment`` payload made to be about a pull request (deep copy)."""
    data = copy.deepcopy(payload)
    issue = data["issue"]
    api = issue["url"].replace(f"/issues/{issue['number']}", f"/pulls/{issue['number']}")
    html = issue["html_url"].replace(f"/issues/{issue['number']}", f"/pull/{issue['number']}")
    issue["html_url"] = html
    issue["pull_request"] = {
        "url": api,
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "merged_at": None,
    }
    comment = data.get("comment")
    if isinstance(comment, dict) and "html_url" in comment:
        comment["html_url"] = comment["html_url"].replace(
            f"/issues/{issue['number']}", f"/pull/{issue['number']}"
        )
    return data


def event_payload(event: str, action: str | None = None, **target: Any) -> Payload:
    """An example of ``event``/``action`` retargeted with :func:`retarget` arguments.

    ``issue_comment`` payloads are made about a pull request (see
    :func:`on_pull_request`); pass ``body=`` to set the comment text.
    """
    body = target.pop("body", None)
    data = example(event, action)
    if event == "issue_comment":
        data = on_pull_request(data)
        if body is not None:
            data["comment"]["body"] = body
    return retarget(data, **target)


def write_event(path: Path, payload: Payload) -> Path:
    """Write ``payload`` as a ``GITHUB_EVENT_PATH`` file."""
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return path
