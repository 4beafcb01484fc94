"""The code host: its run context, publishing results, PR-comment commands. GitHub today.

Each host is a package under ``forge/`` whose module implements :class:`Forge`
and has one entry in :data:`REGISTRY`; a second host (GitLab merge requests)
is a new folder and one line there. Only this package reads the host's
environment variables (``GITHUB_*``) or writes its log commands (``::group::``).
What the forge gives the rest of mlci are plain values: the engine reads
:class:`mlci.model.run.HostRun`, commands read :class:`mlci.model.run.HostEvent`
(what started the run, what it may do) and :class:`~mlci.model.run.PublishTarget`,
and publishing receives rendered text, so nothing here imports the engine or
the report. Outside ``forge/`` nothing imports a host's package (``forge.github``).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, cast

from mlci.model.errors import MlciError

if TYPE_CHECKING:  # `mlci --help` imports this module for its variable names: keep it light
    from mlci.model.result import Result
    from mlci.model.run import HostEvent, HostRun, Log, PublishTarget

# What the CLI's help names (the default host's variables; the CLI imports no forge).
TOKEN_OPTION_VAR = "MLCI_GITHUB_TOKEN"  # what --github-token reads first
TOKEN_VAR = "GITHUB_TOKEN"  # the token Actions hands a job
CONTEXT_VARS = "GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, GITHUB_REPOSITORY, GITHUB_API_URL, ..."

# On a pull request: its runs commit the reproduced files back to its branch (``/mlci commit``).
COMMIT_LABEL = "mlci:commit"
# ``/mlci sweep`` and ``/mlci adopt``: the pull_request run sweeps, or adopts an experiment.
SWEEP_LABEL = "mlci:sweep"
ADOPT_LABEL = "mlci:adopt"


class PublishError(MlciError):
    """A request to the code host failed (after retries). Never changes the exit code."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def forbidden(self) -> bool:
        return self.status in (401, 403, 404)


class ReportText(Protocol):
    """The report as the forge publishes it, rendered by ``mlci.report`` (commands pass it in)."""

    def marker(self) -> str:
        """The first line of mlci's report comment (how mlci finds its own comment)."""

    def headline(self, result: Result) -> str:
        """One line: the verdict and what decided it (a commit status's description)."""

    def markdown(self, result: Result, limit: int) -> str:
        """The Markdown report in at most ``limit`` characters."""


class Forge(Protocol):
    """What mlci needs of a code host. Contexts and clients are the host's own types."""

    name: str
    TOKEN_VAR: str  # the variable the host's CI hands its token in
    NO_TOKEN: str  # "no token", in the words a user of this host understands

    def running_here(self, env: Mapping[str, str]) -> bool:
        """Is this process a job of this host's CI?"""

    def context(
        self, env: Mapping[str, str], *, token: str | None = None, strict: bool = True
    ) -> Any:
        """The run context, built once from the environment and the event payload."""

    def event(self, ctx: Any) -> HostEvent:
        """What started the run and what it may do, as plain values."""

    def append_summary(self, ctx: Any, markdown: str) -> None:
        """Add Markdown to the run's summary page (nothing outside the host's CI)."""

    def write_outputs(self, ctx: Any, values: Mapping[str, str | None]) -> None:
        """Set the step's outputs (nothing outside the host's CI)."""

    def log(self, ctx: Any) -> Log:
        """The run's log: annotations and folded groups on the host's runner, plain elsewhere."""

    def rules(self, ctx: Any, log: Log) -> HostRun:
        """What the engine must respect in this run (no pull-request code, no push)."""

    def client(self, ctx: Any, env: Mapping[str, str], log: Log) -> Any:
        """An API client for publishing, or None (with a warning) when the run has no token."""

    def log_safe(self, text: str) -> str:
        """``text`` (which quotes input) made unable to issue a command to the runner."""

    def publish_result(
        self,
        result: Result,
        cfg: Any,
        client: Any,
        log: Log,
        *,
        pr: int | None,
        head_sha: str | None,
        run_url: str | None,
        text: ReportText,
    ) -> Any:
        """The report comment, the commit status and the check run; problems become warnings."""

    def publish_target(self, ctx: Any, result: Result, client: Any, log: Log) -> PublishTarget:
        """Where ``result`` (a file computed elsewhere) may be published, from the trusted event."""

    def record_deployment(self, ctx: Any, env: Mapping[str, str], log: Log, **kw: Any) -> bool:
        """Record a deploy decision on the host (a deployment with its status); failures warn."""

    def handle_command(
        self, ctx: Any, cfg: Any, client: Any, log: Log, text: ReportText, waive: Any
    ) -> int:
        """Carry out a command written in a pull-request comment (``/mlci override ...``)."""

    def latest_request(self, client: Any, pr: int, name: str) -> tuple[str, str] | None:
        """``(author, text)`` of the latest ``/mlci NAME ...`` a writer commented on ``pr``."""


# host name -> the module that implements Forge (imported when first used: `mlci --help` stays fast)
REGISTRY: dict[str, str] = {
    "github": "mlci.forge.github",
}
DEFAULT = "github"  # outside any CI, a token and a repository name still publish to GitHub


def get(name: str) -> Forge:
    return cast(Forge, importlib.import_module(REGISTRY[name]))


def current(env: Mapping[str, str]) -> Forge:
    """The host whose CI runs this process, else the default one."""
    for name in REGISTRY:
        host = get(name)
        if host.running_here(env):
            return host
    return get(DEFAULT)
