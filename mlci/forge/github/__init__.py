"""GitHub: the REST client, the Actions run context and log, publishing, PR-comment commands.

This module is GitHub's entry in :data:`mlci.forge.REGISTRY`: the functions below
implement :class:`mlci.forge.Forge`. It stays light (no PyGithub at import).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlci.forge.github import actions
from mlci.forge.github.actions import ActionsContext, Log, log_safe
from mlci.model.run import HostRun

name = "github"
__all__ = [
    "client",
    "context",
    "handle_command",
    "log",
    "log_safe",
    "name",
    "publish_result",
    "rules",
    "running_here",
]


def running_here(env: Mapping[str, str]) -> bool:
    return env.get("GITHUB_ACTIONS") == "true"


def context(
    env: Mapping[str, str], *, token: str | None = None, strict: bool = True
) -> ActionsContext:
    return actions.from_env(env, token=token, strict=strict)


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


def handle_command(
    ctx: ActionsContext, cfg: Any, client: Any, log: Any, text: Any, waive: Any
) -> int:
    from mlci.forge.github import prcommands

    return prcommands.handle(ctx, cfg, client, log, text, waive)
