"""One DVC ``Repo`` per check: the lock status and the reading share it, and its index."""

from __future__ import annotations

import json

import pytest

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


def test_dvc_parses_each_yaml_text_once_and_hands_out_copies(monkeypatch):
    import dvc.utils.serialize._yaml as dvc_yaml
    import dvc.utils.strictyaml as strict

    from mlci.adapters.dvc import _compat

    parsed = []
    real = dvc_yaml.parse_yaml

    def counted(text, path, typ="safe"):
        parsed.append(text)
        return real(text, path, typ)

    for module in (dvc_yaml, strict):
        monkeypatch.setattr(module, "parse_yaml", counted)
    before = dvc_yaml.parse_yaml
    with _compat.yaml_parsed_once():
        first = dvc_yaml.parse_yaml("a: {b: 1}\n", "one.yaml")
        first["a"]["b"] = 2  # a caller's change is its own
        second = strict.parse_yaml("a: {b: 1}\n", "two.yaml")
        assert second == {"a": {"b": 1}} and second is not first
        for _ in range(2):  # what DVC cannot parse fails every time
            with pytest.raises(dvc_yaml.YAMLFileCorruptedError):
                dvc_yaml.parse_yaml("a: [\n", "bad.yaml")
    assert parsed == ["a: {b: 1}\n", "a: [\n", "a: [\n"]
    assert dvc_yaml.parse_yaml is before and strict.parse_yaml is before


def test_git_keeps_what_a_commit_holds_not_what_a_branch_names(git_repo):
    from mlci.adapters import git

    git_repo.write("a.txt", "one")
    first = git_repo.commit("one")
    assert git.show_file("main", "a.txt", git_repo.path) == b"one"
    assert git.show_file(first, "a.txt", git_repo.path) == b"one"
    git_repo.write("a.txt", "two")
    git_repo.commit("two")
    assert git.show_file("main", "a.txt", git_repo.path) == b"two"
    assert git.show_file(first, "a.txt", git_repo.path) == b"one"
