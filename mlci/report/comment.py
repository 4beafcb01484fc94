"""The report as a code host publishes it: what ``mlci.forge`` is handed instead of a renderer.

The forge imports no renderer: commands give it a :class:`ReportText`, which
renders a result within a size limit (the comment, the check run's summary),
its headline (the commit status) and the marker that starts mlci's comment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlci.model.result import Result
from mlci.report import render, view


@dataclass(frozen=True)
class ReportText:
    """Markdown of any result for one status context; ``root``: a repository's templates, or
    None for mlci's own (a trusted run never renders with templates from a pull request)."""

    status_context: str = "mlci"
    root: Path | None = None

    def marker(self) -> str:
        return render.marker(self.status_context)

    def headline(self, result: Result) -> str:
        return view.headline(result)

    def markdown(self, result: Result, limit: int) -> str:
        return render.markdown_within(
            result, limit, status_context=self.status_context, root=self.root
        )
