"""A progress display on the terminal while ``mlci check`` works (stderr, TTY only).

Steps (reading revisions, reproducing stages, validating data) call
:meth:`Progress.step`; on a terminal the user sees a spinner with the
current step and a line per finished step, in colour. When stderr is not a
terminal, or ``NO_COLOR`` is set, nothing is drawn: stdout stays the report
and stderr stays clean for logs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO


class Progress:
    """Does nothing; the base for the live display and what tests and CI get."""

    def step(self, description: str) -> None:
        """A new step begins; the previous one (if any) is finished."""

    def done(self) -> None:
        """The last step finished."""

    def fail(self) -> None:
        """The current step did not finish (an error is on its way up)."""


class LiveProgress(Progress):
    """A rich status spinner on stderr, with a tick line per finished step."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console

        self.console = Console(file=stream, stderr=True, highlight=False)
        self.status: Any = None
        self.current: str | None = None
        self.started = 0.0

    def _finish_current(self, mark: str = "[green]✓[/green]") -> None:
        if self.current is not None:
            elapsed = time.monotonic() - self.started
            self.console.print(f"{mark} {self.current} [dim]({elapsed:.1f} s)[/dim]", markup=True)
            self.current = None

    def step(self, description: str) -> None:
        from rich.markup import escape

        self._finish_current()
        from mlci.model.fmt import terminal_text

        self.current = escape(terminal_text(description))
        self.started = time.monotonic()
        if self.status is None:
            self.status = self.console.status(self.current, spinner="dots")
            self.status.start()
        else:
            self.status.update(self.current)

    def done(self) -> None:
        self._finish_current()
        self._stop()

    def fail(self) -> None:
        self._finish_current("[red]✗[/red]")
        self._stop()

    def _stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None


def wants_live(stream: TextIO, env: Mapping[str, str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not env.get("NO_COLOR") and env.get("TERM") != "dumb"


@contextmanager
def progress_for(stream: TextIO, env: Mapping[str, str] | None = None) -> Iterator[Progress]:
    """A live display on ``stream`` when it is a terminal (and colour is allowed), else a silent one."""
    env = os.environ if env is None else env
    progress: Progress = LiveProgress(stream) if wants_live(stream, env) else Progress()
    try:
        yield progress
    except BaseException:
        progress.fail()
        raise
    progress.done()
