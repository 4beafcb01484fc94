"""One DVC ``Repo`` per check: the lock status and the reading share it, and its index."""

from __future__ import annotations

import json

from mlci.adapters import dvc
from mlci.adapters.dvc import _compat
from tests.conftest import metrics_repo


def test_a_block_opens_each_repository_once_and_closes_it_at_its_end(dvc_repo):
    metrics_repo(dvc_repo, {"acc": 0.9})
    with dvc.reused_repos():
        with dvc.open_repo(dvc_repo.path) as first:
            pass
        with dvc.open_repo(dvc_repo.path) as second:
            assert second is first
    with dvc.open_repo(dvc_repo.path) as later:
        assert later is not first


def test_nothing_is_opened_for_a_block_that_never_asks(git_repo):
    with dvc.reused_repos():
        pass
    assert not dvc.repo._shared


def test_reading_the_work_tree_after_its_lock_status_reuses_the_index(dvc_repo):
    metrics_repo(dvc_repo, {"acc": 0.9})
    with dvc.reused_repos():
        dvc.pipeline_status(dvc_repo.path)
        with dvc.open_repo(dvc_repo.path) as repo:
            assert _compat.reuse_worktree_index(repo)
        read = dvc.read_revisions(dvc_repo.path, [dvc.WORKSPACE])
    assert read[dvc.WORKSPACE].metrics == {"eval/metrics.json": {"acc": 0.9}}


def test_a_dvc_yaml_changed_after_the_lock_status_is_read_anew(dvc_repo):
    metrics_repo(dvc_repo, {"acc": 0.9})
    with dvc.reused_repos():
        dvc.pipeline_status(dvc_repo.path)
        dvc_repo.write(
            "dvc.yaml",
            (dvc_repo.path / "dvc.yaml").read_text().replace("metrics.json", "other.json"),
        )
        dvc_repo.write("eval/other.json", json.dumps({"acc": 0.5}))
        read = dvc.read_revisions(dvc_repo.path, [dvc.WORKSPACE])
    assert read[dvc.WORKSPACE].metrics == {"eval/other.json": {"acc": 0.5}}
