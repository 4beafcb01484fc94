"""A GitHub Deployment with a status for each ``mlci deploy`` and ``rollback`` decision."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlci.forge.github.actions import ActionsContext, Log


def record_deployment(
    ctx: ActionsContext,
    env: Mapping[str, str],
    log: Log,
    *,
    environment: str,
    ref: str | None,
    state: str,
    description: str,
    payload: dict[str, Any],
    environment_url: str | None = None,
) -> bool:
    """A GitHub Deployment with one status; only with a token and GITHUB_REPOSITORY. Failures warn.

    The status's log link is the workflow run (its summary shows the model card);
    ``environment_url`` is what GitHub's "View deployment" button opens (the deployed
    model version's page).
    """
    if not (ctx.token and ctx.repository and ref):
        return False
    from mlci.forge.github.api import GitHub, PublishError, client_options

    try:
        client = GitHub(ctx.token, ctx.repository, ctx.api_url, client_options(env))
        deployment = client.create_deployment(ref, environment, description, payload)
        client.deployment_status(
            deployment,
            state,
            description,
            ctx.run_url,
            environment,
            environment_url=environment_url,
        )
    except PublishError as exc:
        log.warning(f"could not record the deployment to {environment} on GitHub: {exc}")
        return False
    return True
