"""``mlci history fetch`` and ``mlci history push``: the results history (``refs/notes/mlci``)
between a clone and its remote.

``git clone`` does not bring git notes, so a developer's clone has no history
until it fetches them; ``mlci ci`` fetches them itself. ``push`` sends what
``mlci check --record`` wrote locally. Both go through the notes adapter
(:mod:`mlci.adapters.notes`): a fetch merges the remote's notes into the local
ones, a rejected push is fetched, merged and retried, never forced.
"""

from __future__ import annotations

from pathlib import Path

from mlci.model.errors import EXIT_PASS, RunError


def _root() -> Path:
    from mlci.adapters import git

    return git.repo_root(Path.cwd())


def _remote_known(root: Path, remote: str) -> None:
    from mlci.adapters import git

    if remote not in git.output(["remote"], root).split():
        raise RunError(f"no git remote '{remote}' in this clone (git remote -v lists them)")


def fetch_command(remote: str = "origin") -> int:
    """Fetch the remote's ``refs/notes/mlci`` and merge it into the local notes."""
    from mlci.adapters import notes
    from mlci.commands import common
    from mlci.commands.common import say

    root = _root()
    _remote_known(root, remote)
    before = common.notes_count(root)
    if not notes.fetch(root, remote):
        say(f"mlci: {remote} has no results history ({notes.REF}) yet; nothing fetched")
        return EXIT_PASS
    after = common.notes_count(root)
    say(
        f"mlci: fetched {notes.REF} from {remote}: {_commits(after)} with a recorded result "
        f"({after - before} new here)"
    )
    return EXIT_PASS


def push_command(remote: str = "origin") -> int:
    """Push the local ``refs/notes/mlci`` (merging the remote's first when it moved)."""
    from mlci.adapters import notes
    from mlci.commands import common
    from mlci.commands.common import say

    root = _root()
    _remote_known(root, remote)
    if not notes.has_notes(root):
        raise RunError(
            f"no results history here ({notes.REF}): `mlci check --record` records one "
            "(or `mlci history fetch` brings the remote's)"
        )
    attempts = notes.push(root, remote)
    merged = f" after merging {remote}'s notes" if attempts > 1 else ""
    say(
        f"mlci: pushed {notes.REF} to {remote}{merged}: {_commits(common.notes_count(root))} recorded"
    )
    return EXIT_PASS


def _commits(n: int) -> str:
    return f"{n} commit{'s' if n != 1 else ''}"
