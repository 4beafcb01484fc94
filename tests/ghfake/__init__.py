"""A fake GitHub REST API for mlci's tests, held honest by GitHub's OpenAPI description.

* :mod:`tests.ghfake.server` – :class:`GitHubFake`, the stateful local server;
* :mod:`tests.ghfake.openapi` – loading the description, routing, validation;
* :mod:`tests.ghfake.payloads` – real webhook payloads retargeted to a test repo;
* :mod:`tests.ghfake.fixtures` – the ``github_fake`` pytest fixture.

The reference files come from ``scripts/fetch-github-refs``.
"""

from __future__ import annotations

from .openapi import GitHubSpec, ReferencesMissing, Violation, load_spec
from .server import BOT_LOGIN, GitHubFake, RecordedRequest, TokenIdentity, fake_sha

__all__ = [
    "BOT_LOGIN",
    "GitHubFake",
    "GitHubSpec",
    "RecordedRequest",
    "ReferencesMissing",
    "TokenIdentity",
    "Violation",
    "fake_sha",
    "load_spec",
]
