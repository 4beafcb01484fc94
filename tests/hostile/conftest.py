"""The hostile-input suite: payloads a pull request controls, one test row each.

At the end of a run that collected any of them, the suite says how many payloads were
handled and how many were not, so a new bad input shows up as a number that moved.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import pytest

HERE = "tests/hostile/"


class _CurrentStderr:
    """Whatever ``sys.stderr`` is at the moment of writing (pytest swaps it per test)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


@pytest.fixture(autouse=True)
def _github_log_follows_stderr() -> None:
    """PyGithub gives its logger a handler on the stderr of import time, in a test a capture
    that a later test finds closed ("--- Logging error ---" with a traceback in the output
    these tests search for tracebacks). In a real run that stderr is the process's own."""
    for handler in logging.getLogger("github").handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(
            handler.stream, _CurrentStderr
        ):
            handler.stream = _CurrentStderr()  # not setStream: it flushes the closed one


def _ours(report: Any) -> bool:
    return str(getattr(report, "nodeid", "")).replace("\\", "/").startswith(HERE)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    stats = terminalreporter.stats
    handled = sum(1 for r in stats.get("passed", ()) if _ours(r) and r.when == "call")
    failed = sum(1 for key in ("failed", "error") for r in stats.get(key, ()) if _ours(r))
    skipped = sum(1 for r in stats.get("skipped", ()) if _ours(r))
    if handled or failed or skipped:
        extra = f", {skipped} skipped" if skipped else ""
        terminalreporter.write_line(f"hostile inputs: {handled} handled, {failed} failed{extra}")
