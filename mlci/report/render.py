"""Renderings of a :class:`~mlci.result.Result` for a reader: Markdown, and the format asked for on
the command line (JSON, Markdown or terminal text).

All are pure functions of the result, made from its view (:mod:`mlci.report.view`).
The Markdown comes from the Jinja2 template ``report.md.j2`` (shipped in the wheel; a
repository may override it by putting its own copy in ``.mlci/templates/``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlci.model import fmt
from mlci.model.result import Result
from mlci.report import terminal
from mlci.report.templating import markdown_environment, render_template, template_values
from mlci.report.view import titled, view

MARKER = "<!-- mlci:report:{context} -->"


def marker(status_context: str) -> str:
    """The hidden first line that identifies mlci's comment for this status context."""
    return MARKER.format(context=fmt.md_text(status_context, 100))


def markdown(
    result: Result,
    *,
    status_context: str = "mlci",
    root: Path | None = None,
    template: str = "report.md.j2",
    max_rows: int | None = None,
) -> str:
    env = markdown_environment(root)
    values = template_values(view(result, max_rows))
    values["headline"] = titled(values["headline"], status_context)  # which project, said
    body = render_template(env, template, marker=marker(status_context), **values)
    from mlci.report import sweep  # `mlci sweep`'s table, after the report ('' otherwise)

    return body.rstrip() + "\n" + ("\n" + sweep.markdown(result) if result.experiments else "")


def markdown_within(result: Result, limit: int, **kwargs: Any) -> str:
    """The Markdown report in at most ``limit`` characters: rows are cut, failures kept first."""
    body = markdown(result, **kwargs)
    if len(body) <= limit:
        return body
    rows = len(result.metrics)
    while rows > 0:
        rows //= 2
        body = markdown(result, max_rows=rows, **kwargs)
        if len(body) <= limit:
            return body
    return body[: limit - 80].rsplit("\n", 1)[0] + "\n\n… (report cut to fit the size limit)\n"


def for_stdout(
    result: Result,
    fmt_name: str,
    *,
    status_context: str = "mlci",
    root: Path | None = None,
    color: bool = False,
    width: int | None = None,
) -> str:
    """The report in the format asked for on the command line: json, markdown or text.

    ``width``: the terminal's, for text on a terminal; None keeps the fixed width of 100.
    """
    if fmt_name == "json":
        return json_text(result)  # control characters are escaped in JSON strings
    if fmt_name == "markdown":
        return fmt.terminal_text(markdown(result, status_context=status_context, root=root))
    return terminal.text(result, color=color, width=width)


def json_text(result: Result) -> str:
    return result.to_json()
