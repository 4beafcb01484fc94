"""Reading a ``data:`` entry at a revision: its content hash without reading it where DVC or git
already know it, the file itself (the work tree's, or a copy from git or DVC), and the frame (pandas,
or Spark for ``engine: spark``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from mlci.adapters import dvc, git, tabular
from mlci.engine.datacache import Cache
from mlci.engine.expectations import Plan
from mlci.model.config import Config
from mlci.model.errors import ConfigError


class Reader:
    """Reads a data file for one engine; the Spark session is started on first use."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self._session: Any = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def session(self) -> Any:
        if self._session is None:
            from mlci.adapters import gx

            self._session = gx.spark_session(self.cfg.spark.master, dict(self.cfg.spark.conf))
        return self._session

    def fetch(self, root: Path, rev: str, path: str) -> Path | None:
        """The file at ``rev`` on disk: the work tree's, or a temporary copy from git or DVC."""
        if rev == dvc.WORKSPACE:
            file = root / path
            return file if file.is_file() else None
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="mlci-data-")
        dest = Path(self._tmp.name) / rev / path
        if dest.is_file():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        blob = git.blob_id(rev, path, root)
        if blob:
            git.copy_blob(blob, dest, root)  # streamed: large files stay out of memory
            return dest
        if dvc.is_dvc_repo(root) and dvc.copy_file_at(root, rev, path, dest):
            return dest
        return None

    def read(self, p: Plan, file: Path, cfg_path: str | None) -> Any:
        try:
            if p.check.engine == "spark":
                # cached: GX's metrics and the profile each scan the data
                return tabular.read_spark(self.session(), file, p.format, p.check.read).cache()
            return tabular.read_pandas(file, p.format, p.check.read)
        except TypeError as exc:  # an option the reader does not take
            raise ConfigError(
                f"reader option not accepted: {exc}",
                file=cfg_path,
                line=p.check.line,
                key=f"{p.where}.read",
            ) from exc

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


def md5_at(root: Path, rev: str, path: str, cache: Cache, reader: Reader) -> str | None:
    """Content hash of ``path`` at ``rev`` without reading it where DVC or git already know it."""
    if rev == dvc.WORKSPACE:
        file = root / path
        return cache.file_md5(file) if file.is_file() else None
    recorded = dvc.recorded_md5(root, rev, path) if dvc.is_dvc_repo(root) else None
    if recorded:
        return recorded
    blob = git.blob_id(rev, path, root)
    if blob:
        # the copy is kept: if the data is needed, it is read from there
        return cache.blob_md5(blob, lambda: reader.fetch(root, rev, path))
    if dvc.is_dvc_repo(root):  # e.g. a file inside a DVC-tracked directory
        # its directory's manifest in the local cache first: opening DVC at a revision costs more
        return dvc.recorded_dir_member_md5(root, rev, path) or dvc.tracked_md5(root, rev, path)
    return None


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
