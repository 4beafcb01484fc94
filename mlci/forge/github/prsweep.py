"""``/mlci sweep PARAM=V1,V2 ...`` and ``/mlci adopt NAME`` in a pull-request comment.

The ``issue_comment`` run that reads the comment holds a write token on the base's
code: it must not run the pull request's code. So it only checks who asked and what,
labels the pull request (``mlci:sweep``, ``mlci:adopt``) and re-runs mlci's latest
``pull_request`` run for the head, as ``/mlci commit`` does. That run (read-only
token, the PR's code) sees the label, reads the latest such command of a writer
from the PR's comments (:func:`latest_request`, the permission asked again there),
and runs the grid or adopts the experiment; its report comment holds the table.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from mlci.forge import ADOPT_LABEL, SWEEP_LABEL
from mlci.model import fmt

if TYPE_CHECKING:
    from mlci.forge.github.actions import ActionsContext
    from mlci.forge.github.prcommands import Command

GRID_ITEM = re.compile(r"^[A-Za-z0-9_./:\-\[\]]+=[^,\s]+(,[^,\s]+)*$")
EXPERIMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def grid_problem(text: str) -> str | None:
    """Why ``text`` is not a grid (``train.C=0.01,0.1 train.gamma=1,2``), or None."""
    items = text.split()
    if not items:
        return "no grid given"
    bad = [i for i in items if not GRID_ITEM.match(i)]
    if bad:
        return f"cannot read {bad[0]!r}"
    return None


def sweep(cmd: Command, ctx: ActionsContext, client: Any, audit: list[str]) -> bool:
    """Check the grid and who asked, label the pull request and re-run mlci's run."""
    from mlci.forge.github import prcommands

    why = grid_problem(cmd.text)
    if why:
        prcommands._reply(
            client,
            cmd,
            f"`/mlci sweep` needs a grid ({fmt.md_text(why, 120)}), e.g. "
            "`/mlci sweep train.C=0.01,0.1,1 train.gamma=1,2`.",
        )
        audit.append(f"refused: {why}")
        return False
    if not prcommands._may_write(client, cmd, audit):
        return False
    return _label_and_rerun(
        cmd, ctx, client, audit, SWEEP_LABEL, f"the sweep {fmt.md_code(cmd.text, 300)}"
    )


def adopt(cmd: Command, ctx: ActionsContext, client: Any, audit: list[str]) -> bool:
    """Check the name and who asked (same-repository pull requests only), label, re-run."""
    from mlci.forge.github import prcommands

    if not EXPERIMENT.match(cmd.text):
        prcommands._reply(
            client, cmd, "`/mlci adopt` needs the name of an experiment of the sweep table, "
            "e.g. `/mlci adopt sweep-2`."
        )  # fmt: skip
        audit.append("refused: no experiment name")
        return False
    if not prcommands._may_write(client, cmd, audit):
        return False
    pull = client.pull(cmd.pr)
    if pull.from_fork:
        prcommands._reply(
            client,
            cmd,
            f"`/mlci adopt` is not available for this pull request: its branch lives in "
            f"{fmt.md_code(pull.head_repo or 'a deleted fork', 100)}, and mlci never pushes "
            "to a fork.",
        )
        audit.append(f"refused: the head is in the fork {pull.head_repo}")
        return False
    return _label_and_rerun(
        cmd, ctx, client, audit, ADOPT_LABEL, f"adopting {fmt.md_code(cmd.text, 100)}"
    )


def _label_and_rerun(
    cmd: Command, ctx: ActionsContext, client: Any, audit: list[str], label: str, what: str
) -> bool:
    from mlci.forge.github import prcommands

    client.add_label(cmd.pr, label)
    audit.append(f"labelled #{cmd.pr} {label} for @{cmd.author}")
    head_sha = client.pull(cmd.pr).head_sha
    run = prcommands._latest_mlci_run(ctx, client, head_sha)
    if run is None:
        prcommands._reply(
            client,
            cmd,
            f"Labelled `{label}`: the next mlci run on this pull request does {what} "
            f"(no mlci run found for `{head_sha[:7]}` to re-run now).",
        )
        audit.append(f"no mlci run for {head_sha[:7]} to re-run")
        return True
    client.rerun(run)
    prcommands._reply(
        client,
        cmd,
        f"Re-running [{fmt.md_text(run.name, 100)} #{run.run_number}]({run.html_url}) for "
        f"`{head_sha[:7]}` with {what}; its report comment shows the result. Remove the "
        f"`{label}` label to stop it on later pushes.",
    )
    audit.append(f"re-run of workflow run {run.id} ({run.name}) for {cmd.name} on {head_sha[:7]}")
    return True


def latest_request(client: Any, pr: int, name: str) -> tuple[str, str] | None:
    """``(author, text)`` of the latest ``/mlci NAME ...`` comment on ``pr`` by a writer, or None.

    Read by the ``pull_request`` run the label started: the permission is asked again here,
    so a reader's comment never becomes a sweep, whoever applied the label.
    """
    from mlci.forge.github import prcommands

    found: list[tuple[str, str]] = []
    for comment in client.comments(pr):
        parsed = prcommands.parse(comment.body)
        if parsed is None or parsed[0] != name:
            continue
        if comment.author.endswith("[bot]"):
            continue
        found.append((comment.author, parsed[1]))
    for author, text in reversed(found):  # newest first
        if client.permission(author) in prcommands.WRITERS:
            return author, text
    return None
