"""The progress display: live on a terminal's stderr, silent otherwise (pipes, CI logs, NO_COLOR)."""

from __future__ import annotations

import io

from mlci.engine.progress import LiveProgress, Progress, progress_for


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def steps(stream: io.StringIO, env: dict[str, str]) -> str:
    with progress_for(stream, env) as progress:
        progress.step("Reading metrics at main and the work tree")
        progress.step("Reproducing stage train")
    return stream.getvalue()


def test_a_terminal_sees_each_step_finish():
    out = steps(Terminal(), {"TERM": "xterm"})
    assert "✓ Reading metrics at main and the work tree" in out
    assert "✓ Reproducing stage train" in out
    assert "\x1b[" in out  # in colour


def test_a_step_that_fails_is_not_ticked():
    stream = Terminal()
    try:
        with progress_for(stream, {"TERM": "xterm"}) as progress:
            progress.step("Reading metrics")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert "✗" in stream.getvalue() and "✓" not in stream.getvalue()


def test_a_pipe_or_no_color_sees_nothing():
    assert steps(io.StringIO(), {"TERM": "xterm"}) == ""
    assert steps(Terminal(), {"TERM": "xterm", "NO_COLOR": "1"}) == ""
    assert steps(Terminal(), {"TERM": "dumb"}) == ""


def test_the_kind_of_display_follows_the_stream():
    with progress_for(Terminal(), {}) as live, progress_for(io.StringIO(), {}) as silent:
        assert isinstance(live, LiveProgress)
        assert type(silent) is Progress


def test_check_writes_no_progress_to_a_pipe(dvc_repo, mlci):
    from tests.conftest import metrics_repo

    metrics_repo(dvc_repo, {"accuracy": 0.9})
    run = mlci(dvc_repo, "check", "--base", "main", "--no-repro")
    assert run.code == 0 and run.err == ""
    assert run.out.startswith("✅ mlci: gate open")
