"""Which DVC project mlci checks: the one found upwards from where it runs.

A git repository may hold several DVC projects in subfolders (``dvc init
--subdir``). Run from such a folder (or with the action's
``working-directory``), mlci takes that project: its ``dvc.yaml``, its
``mlci.yaml``, and every path relative to it. The project's path inside the
repository labels its status and comment (``mlci/projects/a``) so that two
projects checked on one pull request do not overwrite each other's report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlci import configfile as config
from mlci.adapters import git
from mlci.model.errors import MlciError
from mlci.model.paths import join_path


@dataclass(frozen=True)
class Project:
    """A DVC project inside a git repository."""

    root: Path  # the folder holding .dvc/ (the git top level when no project is found)
    git_root: Path
    label: str | None  # the project's path in the repository (posix), None at the top level

    def repo_path(self, path: str) -> str:
        """``path`` (relative to the project) relative to the repository, as GitHub names files."""
        return join_path(self.label or "", path)


def find(cwd: str | Path) -> Project:
    """The DVC project that holds ``cwd``: the nearest folder upwards with a ``.dvc`` directory.

    The search stops at the git top level; without any project on the way,
    the top level is the project (as before projects in subfolders existed).
    """
    top = git.repo_root(cwd).resolve()
    here = Path(cwd).resolve()
    for folder in (here, *here.parents):
        if (folder / ".dvc").is_dir():
            label = folder.relative_to(top).as_posix() if folder != top else None
            return Project(folder, top, label)
        if folder == top or not folder.is_relative_to(top):
            break
    return Project(top, top, None)


def root(cwd: str | Path) -> Path:
    """The project's folder: where mlci reads ``dvc.yaml`` and ``mlci.yaml`` and runs git."""
    return find(cwd).root


def status_context(label: str | None) -> str:
    """The default status context (and comment marker): ``mlci``, or ``mlci/<path>`` in a subfolder."""
    return f"mlci/{label}" if label else "mlci"


def load_config(cwd: str | Path, config_path: str | None) -> tuple[Project, config.Config]:
    """The project found from ``cwd`` and its config (``mlci.yaml`` in the project's folder)."""
    found = find(cwd)
    cfg = config.load(
        config_path, found.root, explicit=config_path is not None, project=found.label
    )
    return found, cfg


def nested(root: Path) -> list[str]:
    """DVC projects committed in subfolders of ``root`` (their paths), when ``root`` has no pipeline.

    ``root`` without ``.dvc/``, or with a ``.dvc/`` but no ``dvc.yaml`` outside those
    subprojects (a monorepo whose pipelines live in ``dvc init --subdir`` projects):
    either way a check here has nothing of its own to compare, while the
    subprojects do. Read from git's index (each ``dvc init`` commits
    ``.dvc/config``), so a large work tree is not walked.
    """
    try:
        listed = git.output(["ls-files", "-z", "--", ":(glob)**/.dvc/config"], root)
    except MlciError:
        return []
    folders = {Path(p).parent.parent.as_posix() for p in listed.split("\0") if p}
    below = sorted(f for f in folders if f not in ("", "."))
    if not below or not (root / ".dvc").is_dir():
        return below
    if (root / "dvc.yaml").exists():
        return []
    try:
        pipelines = git.output(["ls-files", "-z", "--", ":(glob)**/dvc.yaml"], root)
    except MlciError:
        return []
    for path in (p for p in pipelines.split("\0") if p):
        if not any(path.startswith(f"{folder}/") for folder in below):
            return []  # the project here has a pipeline of its own
    return below


def nested_hint(folders: list[str], *, here: bool = False) -> str:
    """What to say when mlci runs above projects in subfolders.

    ``here``: there is a DVC project here too, but without a pipeline.
    """
    shown = ", ".join(folders[:5]) + (f" and {len(folders) - 5} more" if len(folders) > 5 else "")
    lead = "a DVC project here without a dvc.yaml" if here else "no DVC project here"
    return (
        f"{lead}, but {len(folders)} in subfolders ({shown}): nothing here to compare, so the "
        "gate stays closed; run mlci from each project's folder (the action's "
        "`working-directory`), once per project"
    )
