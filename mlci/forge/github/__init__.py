"""GitHub: the REST client, the Actions run context and log, publishing, PR-comment commands.

This module is GitHub's entry in :data:`mlci.forge.REGISTRY`: the functions below
implement :class:`mlci.forge.Forge`. It stays light (no PyGithub at import).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlci.forge.github import actions
from mlci.forge.github.actions import NO_TOKEN, TOKEN_VAR, ActionsContext, Log, log_safe
from mlci.model.run import HostEvent, HostRun, PublishTarget

name = "github"
__all__ = [
    "NO_TOKEN",
    "TOKEN_VAR",
    "append_summary",
    "client",
    "context",
    "event",
    "handle_command",
    "log",
    "log_safe",
    "name",
    "publish_result",
    "publish_target",
    "record_deployment",
    "rules",
    "running_here",
    "write_outputs",
]


def running_here(env: Mapping[str, str]) -> bool:
    return env.get("GITHUB_ACTIONS") == "true"


def context(
    env: Mapping[str, str], *, token: str | None = None, strict: bool = True
) -> ActionsContext:
    return actions.from_env(env, token=token, strict=strict)


def event(ctx: ActionsContext) -> HostEvent:
    return actions.host_event(ctx)


def append_summary(ctx: ActionsContext, markdown: str) -> None:
    actions.append_summary(ctx.step_summary, markdown)


def write_outputs(ctx: ActionsContext, values: Mapping[str, str | None]) -> None:
    actions.write_outputs(ctx.output, values)


def log(ctx: ActionsContext) -> Log:
    return Log(ctx.in_actions)


def rules(ctx: ActionsContext, log: Any) -> HostRun:
    return actions.host_run(ctx, log)


def client(ctx: ActionsContext, env: Mapping[str, str], log: Any) -> Any:
    from mlci.forge.github.api import connect

    return connect(ctx, env, log)


def publish_result(result: Any, cfg: Any, client: Any, log: Any, **kw: Any) -> Any:
    from mlci.forge.github import publish as publishing

    return publishing.publish(result, cfg, client, log, **kw)


def publish_target(ctx: ActionsContext, result: Any, client: Any, log: Any) -> PublishTarget:
    from mlci.forge.github import publish as publishing

    return publishing.target(ctx, result, client, log)


def record_deployment(ctx: ActionsContext, env: Mapping[str, str], log: Any, **kw: Any) -> bool:
    from mlci.forge.github import deployments

    return deployments.record_deployment(ctx, env, log, **kw)


def handle_command(
    ctx: ActionsContext, cfg: Any, client: Any, log: Any, text: Any, waive: Any
) -> int:
    from mlci.forge.github import prcommands

    return prcommands.handle(ctx, cfg, client, log, text, waive)


def latest_request(client: Any, pr: int, name: str) -> tuple[str, str] | None:
    from mlci.forge.github import prsweep

    return prsweep.latest_request(client, pr, name)
