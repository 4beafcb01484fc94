"""The last line of every ``--help``: the address of the command's page on the documentation site.

The site is built from ``docs/`` (``mkdocs.yml``, whose ``site_url`` is ``DOCS_URL``);
``tests/test_docs.py`` checks that each page and heading named here exists.
"""

from __future__ import annotations

import click

# Every --help ends with the page of the documentation site (docs/, mkdocs.yml) on the command
DOCS_URL = "https://mlci.github.io/mlci/"
DOCS_PAGES = {
    "": "",
    "check": "usage/",
    "compare": "usage/",
    "repro": "usage/#reproduction",
    "validate": "data-validation/",
    "ci": "github/",
    "publish": "github/#pull-requests-from-forks",
    "hook": "local/#the-pre-push-hook",
    "init": "local/#mlci-init",
    "doctor": "local/#mlci-doctor",
    "deploy": "deploy/#mlci-deploy",
    "rollback": "deploy/#mlci-rollback",
    "card": "deploy/#the-model-card",
    "sweep": "usage/#sweeps",
    "history": "history/",
}


class DocsEpilog(click.Command):
    """A command whose --help ends with its page: ``Docs: URL``."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        while ctx.parent is not None and ctx.parent.parent is not None:
            ctx = ctx.parent  # a subcommand (mlci hook install) shows its group's page
        page = DOCS_PAGES.get(ctx.info_name or "" if ctx.parent else "", "")
        formatter.write_paragraph()
        formatter.write(f"Docs: {DOCS_URL}{page}\n")  # not wrapped: a URL must stay whole


class DocumentedGroup(DocsEpilog, click.Group):
    """mlci's group: its commands and subgroups end their --help the same way."""

    command_class = DocsEpilog
    group_class = type  # `mlci hook` is a group of this class too
