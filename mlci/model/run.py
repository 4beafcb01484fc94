"""What the code host tells the engine about a run, without naming the host.

The forge (``mlci.forge``) builds these once from the environment and the event
payload; the engine only reads them. A local run uses the defaults: a plain
log, pull-request code may run, outputs may be pushed.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

if TYPE_CHECKING:  # imported when a value is made: the start-up path reads this module
    from mlci.model.result import EventRevisions


class Log(Protocol):
    """The run's log: plain lines locally; on a CI runner also annotations and folded groups."""

    @property
    def in_ci(self) -> bool:
        """On a CI runner: annotations and groups are the runner's; elsewhere plain text."""

    def info(self, message: str) -> None: ...

    def warning(self, message: str, **kw: Any) -> None: ...

    def annotate(
        self,
        level: str,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        title: str | None = None,
    ) -> None: ...

    def group(self, title: str, *, quoted: bool = False) -> None:
        """Fold what follows under ``title``; ``quoted``: it is untrusted output, no commands."""

    def endgroup(self) -> None: ...

    def quoted(self, stream: TextIO) -> AbstractContextManager[None]:
        """While open, lines written to ``stream`` are text, never commands to the runner."""


@dataclass(frozen=True)
class HostRun:
    """The host's rules for this run, as plain values (tests build it directly).

    ``no_pr_code`` says why pull-request code must not run here (an event whose
    token can write to the base repository); ``no_push`` why nothing may be
    pushed from here (a read-only token). ``log`` folds each stage on a runner;
    None writes plain lines.
    """

    log: Log | None = None
    no_pr_code: str | None = None
    no_push: str | None = None


def _no_revisions() -> EventRevisions:
    from mlci.model.result import EventRevisions

    return EventRevisions()


@dataclass(frozen=True)
class HostEvent:
    """What started this run and what the host allows it, as plain values.

    The forge reads its own variables and the event payload once and answers
    with this; commands decide from it without knowing the host's event names.
    Outside any CI every field keeps its default: a local run.
    """

    name: str = ""  # the host's name for the event, recorded in the result ("" locally)
    repository: str | None = None  # owner/name
    run_url: str | None = None  # this run's page
    in_ci: bool = False  # a job of the host's CI
    has_token: bool = False  # the run holds an API token
    # base and head the event names, the pull request and its labels when the event was sent
    revisions: EventRevisions = field(default_factory=_no_revisions)
    pull_request: bool = False  # a run on a pull request's code (its branch may take commits)
    comment: bool = False  # a comment on a pull request: carry out the command it holds
    rerun: bool = False  # a re-run of an earlier run (labels may have changed since the event)
    push: bool = False  # a run for a push to a branch (head_ref)
    pushed_sha: str | None = None  # a push: the commit it pushed
    target_branch: str | None = None  # a pull request run: the branch it merges into
    deployer: str | None = None  # who runs this deploy, in words (None: a local person)
    temp_dir: Path | None = None  # the runner's scratch folder (default place for output files)
    # why not, in words (None: it may)
    no_ci: str | None = None  # run `mlci ci` here (an event that holds a write token)
    no_history: str | None = None  # record the result in the results history
    no_writeback: str | None = None  # commit reproduced files to the pull request's branch
    result_from_untrusted_run: bool = False  # `mlci publish`: the result file comes from a
    # run of the pull request's code (the fork-safe pair); it is checked, not believed


@dataclass(frozen=True)
class PublishTarget:
    """Where a result is published, from the trusted event (never from the result file)."""

    pr: int | None
    head_sha: str | None
    base_sha: str | None = None  # the PR's base, when the event or the API names it
    run_url: str | None = None  # the run that produced the result, when the event names it
