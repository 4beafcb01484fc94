"""pytest fixtures for the fake GitHub.

Use from ``tests/conftest.py``::

    from tests.ghfake.fixtures import github_fake, github_spec  # noqa: F401

``github_fake`` yields a started :class:`~tests.ghfake.server.GitHubFake` with one
repository, ``octo-org/ml-repo``; at teardown it stops the server and fails the
test if any exchange departed from GitHub's OpenAPI description (tests that
provoke violations on purpose collect them with ``fake.take_violations()``).
When the reference files are missing, the fixtures fail (they do not skip) and
say to run ``scripts/fetch-github-refs``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .openapi import GitHubSpec, ReferencesMissing, load_spec
from .server import GitHubFake


def spec_or_fail() -> GitHubSpec:
    """GitHub's description (parsed once per process), or a failed test saying how to get it."""
    try:
        return load_spec()
    except ReferencesMissing as exc:
        pytest.fail(str(exc), pytrace=False)


def check_no_violations(fake: GitHubFake) -> None:
    """Fail the current test if ``fake`` saw anything GitHub's description does not allow."""
    if fake.violations:
        pytest.fail(fake.violation_report(), pytrace=False)


@pytest.fixture(scope="session")
def github_spec() -> GitHubSpec:
    """GitHub's REST API description, loaded once per test session."""
    return spec_or_fail()


@pytest.fixture
def github_fake() -> Iterator[GitHubFake]:
    """A running fake GitHub; the test fails at teardown on any OpenAPI violation."""
    fake = GitHubFake(spec=spec_or_fail())
    with fake:
        yield fake
    check_no_violations(fake)
