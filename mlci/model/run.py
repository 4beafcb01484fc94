"""What the code host tells the engine about a run, without naming the host.

The forge (``mlci.forge``) builds these once from the environment and the event
payload; the engine only reads them. A local run uses the defaults: a plain
log, pull-request code may run, outputs may be pushed.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TextIO


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
