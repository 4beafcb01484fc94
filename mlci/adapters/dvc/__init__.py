"""DVC, in process: the only package that imports ``dvc``.

One module per concern, re-exported here so callers write ``from mlci.adapters import dvc``:

- :mod:`.repo`: opening a repository, DVC's log kept quiet, DVC's failures in words;
- :mod:`.read`: metrics, params and plots of several revisions in one pass;
- :mod:`.status`: ``dvc status`` in the work tree or at a commit, the declared outputs;
- :mod:`.repro`: ``dvc repro`` in process, stage by stage;
- :mod:`.remote`: remotes, fetch and push, why a recorded file cannot be read;
- :mod:`.files`: data files and their recorded hashes at a revision;
- :mod:`.deps`: what each stage depends on, as DVC resolves it;
- :mod:`.experiments`: ``dvc exp run --temp`` and ``--set-param`` (``mlci sweep``);
- :mod:`._compat`: every DVC name that is not DVC's public API, checked when a repository
  is opened.

None of these imports DVC at module level: ``mlci --help`` stays fast.
"""

from __future__ import annotations

from mlci.adapters.dvc._compat import SUPPORTED, IncompatibleDvcError
from mlci.adapters.dvc.experiments import (
    ExperimentRun,
    run_experiment,
    set_params,
)
from mlci.adapters.dvc.files import copy_file_at, recorded_dir_member_md5, recorded_md5, tracked_md5
from mlci.adapters.dvc.read import (
    PlotDataError,
    PlotSource,
    RevisionData,
    fetch_for_reading,
    plot_datapoints,
    read_revisions,
)
from mlci.adapters.dvc.remote import (
    Remote,
    RemoteConfig,
    connection_text,
    default_remote,
    fetch,
    probe_remote,
    push,
    remotes,
    remotes_configured,
    unreadable_reason,
)
from mlci.adapters.dvc.repo import (
    PIPELINE,
    WORKSPACE,
    DvcError,
    describe,
    is_dvc_repo,
    open_repo,
    quiet_dvc,
    reused_repos,
    shared_repo,
)
from mlci.adapters.dvc.repro import (
    ReproRun,
    StageWatcher,
    planned_stages,
    reproduce,
    stages_needing,
    stages_without_outputs,
)
from mlci.adapters.dvc.status import (
    PipelineOutput,
    PipelineStatus,
    pipeline_outputs,
    pipeline_status,
)

__all__ = [
    "ExperimentRun",
    "run_experiment",
    "set_params",
    "PIPELINE",
    "SUPPORTED",
    "WORKSPACE",
    "DvcError",
    "IncompatibleDvcError",
    "PipelineOutput",
    "PipelineStatus",
    "PlotDataError",
    "PlotSource",
    "Remote",
    "RemoteConfig",
    "ReproRun",
    "RevisionData",
    "StageWatcher",
    "connection_text",
    "copy_file_at",
    "default_remote",
    "describe",
    "fetch",
    "fetch_for_reading",
    "is_dvc_repo",
    "open_repo",
    "pipeline_outputs",
    "pipeline_status",
    "planned_stages",
    "plot_datapoints",
    "probe_remote",
    "push",
    "quiet_dvc",
    "read_revisions",
    "recorded_dir_member_md5",
    "recorded_md5",
    "remotes",
    "remotes_configured",
    "reproduce",
    "reused_repos",
    "shared_repo",
    "stages_needing",
    "stages_without_outputs",
    "tracked_md5",
    "unreadable_reason",
]
