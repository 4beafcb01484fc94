"""What is not in the default install says which extra to add (never a bare ImportError)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

# an import hook that makes pyarrow and fastparquet absent, as in a default install
NO_PARQUET = textwrap.dedent("""\
    import sys
    class _Absent:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("pyarrow", "fastparquet"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None
    sys.meta_path.insert(0, _Absent())
""")


def test_a_missing_remote_plugin_names_the_extra(tmp_path):
    from dvc.fs import get_cloud_fs

    from mlci.adapters import dvc

    for scheme in ("s3", "gs", "azure"):
        if __import__("importlib").util.find_spec(f"dvc_{scheme}") is not None:
            pytest.skip(f"dvc-{scheme} is installed here")
        with pytest.raises(Exception) as info:
            get_cloud_fs({}, url=f"{scheme}://bucket/path")  # DVC's own error for a missing plugin
        said = dvc.describe(info.value)
        assert f"add the {scheme} extra (the action's input `extras: {scheme}`" in said, said


def test_parquet_without_pyarrow_names_the_extra(git_repo, tmp_path):
    import pandas as pd

    pd.DataFrame({"a": [1, 2]}).to_parquet(git_repo.path / "d.parquet")
    git_repo.write(
        "mlci.yaml",
        "data:\n  - path: d.parquet\n    expect:\n      - expect_column_to_exist: {column: a}\n",
    )
    git_repo.commit("data")
    hook = tmp_path / "hide"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(NO_PARQUET)
    proc = subprocess.run(
        [sys.executable, "-m", "mlci", "validate"],
        cwd=git_repo.path,
        capture_output=True,
        text=True,
        check=False,
        env={**__import__("os").environ, "PYTHONPATH": f"{hook}:{REPO_ROOT}"},
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out  # fails closed
    assert "reading parquet needs pyarrow" in out and "`extras: parquet`" in out, out
    assert Path(git_repo.path / "d.parquet").exists()
